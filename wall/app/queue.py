"""The duty officer's alert queue: filter and sort alerts (pure).

Guarantees: :func:`alert_queue` returns each matching alert once; ``sort="severity"``
orders critical before warning before info, then oldest first; ``sort="age"`` orders
oldest first; ties are broken by alert id, so the order is stable across refreshes.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal

from wall.app.boards import SEVERITY_ORDER, AlertRow, alert_rows
from wall.app.store import WallStore

Sort = Literal["severity", "age"]
# Statuses a duty officer filters on; "silenced" is the overlay, judged at ``now_ms``.
QUEUE_STATUSES: tuple[str, ...] = ("open", "acknowledged", "silenced", "resolved")


def display_status(row: AlertRow, now_ms: int) -> str:
    """``silenced`` while a silence is in force on an unresolved alert, else the status."""
    if row.status != "resolved" and row.silenced(now_ms):
        return "silenced"
    return row.status


def alert_queue(store: WallStore, now_ms: int, severities: Collection[str] = (),
                statuses: Collection[str] = ("open", "acknowledged", "silenced"),
                sort: Sort = "severity", text_filter: str = "", limit: int = 200
                ) -> list[AlertRow]:
    """Alerts matching every filter given (empty collection: no filter on that field)."""
    needle = text_filter.strip().lower()
    rows = []
    for row in alert_rows(store):
        if severities and row.severity not in severities:
            continue
        if statuses and display_status(row, now_ms) not in statuses:
            continue
        if needle and needle not in f"{row.alert_id} {row.grid_id} {row.title}".lower():
            continue
        rows.append(row)
    if sort == "severity":
        rows.sort(key=lambda r: (SEVERITY_ORDER.get(r.severity, 9), r.opened_ms, r.alert_id))
    else:
        rows.sort(key=lambda r: (r.opened_ms, r.alert_id))
    return rows[:limit]


def age_text(ms: int) -> str:
    """A short human age: ``45s``, ``12m``, ``3h05m``, ``2d04h``."""
    s = max(0, ms // 1000)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86_400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86_400}d{s % 86_400 // 3600:02d}h"
