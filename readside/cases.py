"""Current case state from ClickHouse, for the gateway's Open311 reads.

The ``cases`` table is a ReplacingMergeTree written by the cases agent; every read here uses
``FINAL``, so it sees exactly one row per case, the latest version the sink wrote (the sink
writes within about ``sink.flush_interval_s`` of the event being applied). Nothing here
holds a connection: the caller passes a clickhouse-driver ``Client`` (not thread-safe: one
per thread) and the database name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from domain.contracts.tables import CASES
from domain.vocab import OPEN_STEPS


@dataclass(frozen=True)
class CaseState:
    """One case as ClickHouse holds it now (no personal data is stored there).

    The first eleven fields match the gateway's ``ingest.gateway.case_view.CaseRecord``.
    ``deadline_ms`` is 0 when no SLA clock runs; ``rating`` 0 when not evaluated; ``unit``
    (holding the case) and ``dispatched_unit`` are "" when none; ``supervision_unit`` is
    the unit an open supervision order (督办) is addressed to ("" when none), due at
    ``supervision_deadline_ms`` and missed at ``supervision_breached_ms`` (0: not missed).
    """

    case_id: str
    category: str
    step: str
    grid_id: str
    opened_ms: int
    updated_ms: int
    description: str
    note: str
    lon: float | None
    lat: float | None
    tier: int
    priority: str
    deadline_ms: int
    breaches: int
    escalations: int
    on_spot: bool
    rating: int
    unit: str = ""
    dispatched_unit: str = ""
    attachments: tuple[str, ...] = ()
    supervision_unit: str = ""
    supervision_deadline_ms: int = 0
    supervision_breached_ms: int = 0

    @property
    def status(self) -> str:
        """Open311 status: ``open`` while someone must act, else ``closed``."""
        return "open" if self.step in OPEN_STEPS else "closed"


# CaseState's fields, in order, checked against the cases table's contract
_COLUMNS = CASES.pick(*(f.name for f in fields(CaseState)))


def _select(database: str) -> str:
    return f"SELECT {', '.join(_COLUMNS)} FROM {database}.cases FINAL"


def _state(row: tuple[Any, ...]) -> CaseState:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["on_spot"] = bool(values["on_spot"])
    values["attachments"] = tuple(values["attachments"])
    return CaseState(**values)


def case_by_id(client: Any, database: str, case_id: str) -> CaseState | None:
    """The current state of ``case_id``, or None if ClickHouse has no such case."""
    rows = client.execute(f"{_select(database)} WHERE case_id = %(id)s", {"id": case_id})
    return _state(rows[0]) if rows else None


def cases_opened_between(client: Any, database: str, start_ms: int, end_ms: int, *,
                         case_ids: Iterable[str] | None = None,
                         categories: Iterable[str] | None = None,
                         statuses: Iterable[str] | None = None, grid_id: str | None = None,
                         limit: int = 1000) -> list[CaseState]:
    """Cases opened within [start_ms, end_ms], newest first, at most ``limit``.

    ``statuses`` takes Open311's ``open``/``closed``; the other filters are exact matches.
    """
    where = ["opened_ms >= %(start)s", "opened_ms <= %(end)s",
             "opened_date >= toDate(toDateTime(intDiv(%(start)s, 1000)))",
             "opened_date <= toDate(toDateTime(intDiv(%(end)s, 1000)))"]
    params: dict[str, Any] = {"start": int(start_ms), "end": int(end_ms),
                              "limit": max(0, int(limit))}
    if case_ids is not None:
        where.append("case_id IN %(ids)s")
        params["ids"] = tuple(case_ids) or ("",)
    if categories is not None:
        where.append("category IN %(categories)s")
        params["categories"] = tuple(categories) or ("",)
    if statuses is not None:
        wanted = set(statuses)
        if wanted == {"open"}:
            where.append("step IN %(open)s")
            params["open"] = OPEN_STEPS
        elif wanted == {"closed"}:
            where.append("step NOT IN %(open)s")
            params["open"] = OPEN_STEPS
        elif not wanted & {"open", "closed"}:
            return []
    if grid_id is not None:
        where.append("grid_id = %(grid)s")
        params["grid"] = grid_id
    query = (f"{_select(database)} WHERE {' AND '.join(where)} "
             "ORDER BY opened_ms DESC, case_id LIMIT %(limit)s")
    return [_state(row) for row in client.execute(query, params)]
