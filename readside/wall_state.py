"""The wall's hydration from ClickHouse: open and recent cases and alerts, as wall updates.

:func:`hydrate` is synchronous (call it in a thread) and total (see
:func:`readside.connection.rows`): with ClickHouse down it returns ``[]`` and the wall runs
on the hub's deltas alone. Free text (``description``, ``actor``, ``assignee``) is masked as
the worker's live updates mask it (phones, ID numbers, e-mails). The SQL runs on ClickHouse
18.16 and current servers (FINAL reads of ReplacingMergeTree tables).

A hydrated case carries what the worker's live case update carries of its holder: ``tier``,
``unit`` (the unit or tier queue holding it), ``assignee`` and ``dispatched_unit`` (None when
none, as live), and ``accepted_ms`` (when the holding unit accepted it; None when it has not
or a later dispatch, reassign, decline or reopen took the acceptance back), which the
``cases`` table does not hold and :func:`accepted_at` derives from ``case_transitions``;
and ``supervision``, the open supervision order (None without one; its note is not stored).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.settings import Settings
from domain.contracts.tables import ALERTS, CASES
from domain.privacy import mask_text
from domain.schemas import WallUpdate
from domain.vocab import OPEN_STEPS
from readside.connection import rows

FREE_TEXT = frozenset({"description", "actor", "assignee"})
HOLDER = ("unit", "assignee", "dispatched_unit")  # "" in ClickHouse, None live
# the actions after which a case is no longer accepted (domain.case_machine)
UNACCEPTING = ("dispatch", "reassign", "decline", "reopen")
LIMIT = 50_000
OPEN_IN = ", ".join(f"'{s}'" for s in OPEN_STEPS)

CASE_COLUMNS = CASES.pick("case_id", "grid_id", "category", "priority", "step", "tier",
                          "opened_ms", "step_entered_ms", "updated_ms", "deadline_ms",
                          "on_spot", "reopen_count", "escalations", "breaches", "rating",
                          "source", "description", "actor", "unit", "assignee",
                          "dispatched_unit", "supervision_unit", "supervision_deadline_ms",
                          "supervision_by", "supervision_since_ms",
                          "supervision_breached_ms")
# the supervision columns become the live update's ``supervision`` (None without an order;
# its note is not stored, so it comes back empty)
ORDER = {"supervision_unit": "unit", "supervision_deadline_ms": "deadline_ms",
         "supervision_by": "by", "supervision_since_ms": "since_ms",
         "supervision_breached_ms": "breached_ms"}
ALERT_COLUMNS = ALERTS.pick("alert_id", "fingerprint", "grid_id", "kind", "category",
                            "severity", "status", "title", "detail", "case_id", "sensor_id",
                            "tier", "assignee", "acked_by", "silenced_until_ms",
                            "silenced_by", "silence_comment", "opened_ms", "updated_ms",
                            "occurrences")


def updates_of(channel: str, columns: Sequence[str], found: list[tuple[Any, ...]],
               ts_column: str, extra: dict[str, dict[str, Any]] | None = None
               ) -> list[WallUpdate]:
    """One update per row (keyed by its first column), free text masked, the holder's empty
    columns as None, and ``extra[key]`` merged in."""
    out = []
    for row in found:
        data = dict(zip(columns, row, strict=True))
        for name in FREE_TEXT & data.keys():  # as the worker's case_wall sends them
            data[name] = mask_text(data[name]) or ""
        for name in HOLDER:
            if name in data:
                data[name] = data[name] or None
        if "supervision_unit" in data:
            order = {field: data.pop(column) for column, field in ORDER.items()}
            data["supervision"] = ({**order, "by": mask_text(order["by"]) or "", "note": ""}
                                   if order["unit"] else None)
        key = str(data[columns[0]])
        data.update((extra or {}).get(key, {}))
        out.append(WallUpdate(channel=channel, key=key, ts=int(data[ts_column]), data=data))
    return out


def accepted_at(settings: Settings) -> dict[str, dict[str, Any]]:
    """case id -> {"accepted_ms": ms or None} for every open case that saw an accept."""
    unaccepting = ", ".join(f"'{a}'" for a in UNACCEPTING)
    found = rows(settings, "SELECT case_id, maxIf(ts_ms, action = 'accept') AS accepted, "
                           f"maxIf(ts_ms, action IN ({unaccepting})) AS taken_back "
                           "FROM {db}.case_transitions FINAL "
                           f"WHERE case_id IN (SELECT case_id FROM {{db}}.cases FINAL "
                           f"WHERE step IN ({OPEN_IN})) AND action IN ('accept', {unaccepting}) "
                           "GROUP BY case_id HAVING accepted > 0")
    return {str(case_id): {"accepted_ms": int(accepted) if accepted > taken_back else None}
            for case_id, accepted, taken_back in found}


def hydrate(settings: Settings, since_ms: int) -> list[WallUpdate]:
    """Open cases and cases updated since ``since_ms``, unresolved alerts and alerts updated
    since then, as updates, oldest first within each channel."""
    cases = rows(settings, f"SELECT {', '.join(CASE_COLUMNS)} FROM {{db}}.cases FINAL "
                           f"WHERE step IN ({OPEN_IN}) OR updated_ms >= %(start)s "
                           f"ORDER BY updated_ms DESC LIMIT {LIMIT}", {"start": since_ms})
    alerts = rows(settings, f"SELECT {', '.join(ALERT_COLUMNS)} FROM {{db}}.alerts FINAL "
                            f"WHERE status != 'resolved' OR updated_ms >= %(start)s "
                            f"ORDER BY updated_ms DESC LIMIT {LIMIT}", {"start": since_ms})
    # Oldest first, so the newest items end up most recently used in the bounded store.
    return (updates_of("cases", CASE_COLUMNS, cases[::-1], "updated_ms",
                       accepted_at(settings) if cases else {})
            + updates_of("alerts", ALERT_COLUMNS, alerts[::-1], "updated_ms"))
