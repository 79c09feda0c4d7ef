"""The wall's hydration from ClickHouse: open and recent cases and alerts, as wall updates.

:func:`hydrate` is synchronous (call it in a thread) and total (see
:func:`readside.connection.rows`): with ClickHouse down it returns ``[]`` and the wall runs
on the hub's deltas alone. Free text (``description``, ``actor``) is masked as the worker's
live updates mask it (phones, ID numbers, e-mails). The SQL runs on ClickHouse 18.16 and
current servers (FINAL reads of ReplacingMergeTree tables).
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

FREE_TEXT = frozenset({"description", "actor"})
LIMIT = 50_000
OPEN_IN = ", ".join(f"'{s}'" for s in OPEN_STEPS)

CASE_COLUMNS = CASES.pick("case_id", "grid_id", "category", "priority", "step", "tier",
                          "opened_ms", "step_entered_ms", "updated_ms", "deadline_ms",
                          "on_spot", "reopen_count", "escalations", "breaches", "rating",
                          "source", "description", "actor")
ALERT_COLUMNS = ALERTS.pick("alert_id", "fingerprint", "grid_id", "kind", "category",
                            "severity", "status", "title", "detail", "case_id", "sensor_id",
                            "tier", "assignee", "acked_by", "silenced_until_ms",
                            "silenced_by", "silence_comment", "opened_ms", "updated_ms",
                            "occurrences")


def updates_of(channel: str, columns: Sequence[str], found: list[tuple[Any, ...]],
               ts_column: str) -> list[WallUpdate]:
    """One update per row (keyed by its first column), free text masked."""
    out = []
    for row in found:
        data = dict(zip(columns, row, strict=True))
        for name in FREE_TEXT & data.keys():  # as the worker's case_wall sends them
            data[name] = mask_text(data[name]) or ""
        out.append(WallUpdate(channel=channel, key=str(data[columns[0]]),
                              ts=int(data[ts_column]), data=data))
    return out


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
    return (updates_of("cases", CASE_COLUMNS, cases[::-1], "updated_ms")
            + updates_of("alerts", ALERT_COLUMNS, alerts[::-1], "updated_ms"))
