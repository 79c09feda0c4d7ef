"""What the wall forgets, so its memory follows the street's day rather than its history.

:func:`prune` (pure; time passed in) drops items no view needs any more: finished cases
(closed, evaluated, rejected) and resolved alerts last updated before today's local start.
Open cases and unresolved alerts are never
dropped, whatever their age; the per-channel key bound of the store still applies.
"""

from __future__ import annotations

from wall.app.fields import day_start_ms, integer, text
from wall.app.store import Item, WallStore

FINISHED_STEPS = frozenset({"closed", "evaluated", "rejected"})


def prune(store: WallStore, now_ms: int) -> dict[str, int]:
    """Drop what no view needs at ``now_ms``; return how many items per channel."""
    start = day_start_ms(now_ms)

    def old(item: Item) -> bool:
        return integer(item.data, "updated_ms", item.ts) < start

    return {
        "cases": store.drop_where("cases", lambda i: text(i.data, "step") in FINISHED_STEPS
                                  and old(i)),
        "alerts": store.drop_where("alerts", lambda i: text(i.data, "status") == "resolved"
                                   and old(i)),
    }
