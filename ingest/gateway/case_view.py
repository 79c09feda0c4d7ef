"""The read side of cases, as Open311 reads need it, behind a small interface.

:class:`CaseView` is what the Open311 read endpoints use; :class:`MemoryCaseView` answers from
the case events this gateway process accepted (until the streams write cases to ClickHouse;
then a ClickHouse-backed view replaces it without touching the endpoints). It keeps at most
``max_cases`` cases, forgetting the least recently updated first, and is not shared between
worker processes.

The six steps map onto Open311's two statuses: ``reported``, ``verified``, ``dispatched`` and
``handled`` are *open*; ``closed``, ``evaluated`` and ``rejected`` are *closed*; the step
itself is told in ``status_notes``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from domain.case_machine import TRANSITIONS
from domain.schemas import CaseEvent
from domain.vocab import OPEN_STEPS

STEP_NOTES = {
    "reported": "reported, waiting for verification",
    "verified": "verified and registered",
    "dispatched": "dispatched for handling",
    "handled": "handled, waiting for the check",
    "closed": "checked and closed",
    "evaluated": "closed and evaluated",
    "rejected": "rejected at verification",
}


@dataclass(frozen=True)
class CaseRecord:
    """A case as the read side knows it (no personal data)."""

    case_id: str
    category: str
    step: str
    grid_id: str
    opened_ms: int
    updated_ms: int
    description: str = ""
    note: str = ""
    lon: float | None = None
    lat: float | None = None
    tier: int = 1

    @property
    def status(self) -> str:
        """Open311 status: ``open`` while someone must act, else ``closed``."""
        return "open" if self.step in OPEN_STEPS else "closed"

    @property
    def status_notes(self) -> str:
        """The step in words, then the latest note."""
        words = STEP_NOTES.get(self.step, self.step)
        return f"{words}: {self.note}" if self.note else words


@dataclass(frozen=True)
class CaseQuery:
    """A search: opened within [start_ms, end_ms], optional id/category/status filters."""

    start_ms: int
    end_ms: int
    case_ids: frozenset[str] | None = None
    categories: frozenset[str] | None = None
    statuses: frozenset[str] | None = None
    limit: int = 1000


class CaseView(Protocol):
    """Cases for reading: fed with accepted events, queried by id or by window."""

    def apply(self, events: Sequence[CaseEvent]) -> None:
        """Take accepted events (with their grid filled in) into account."""

    def get(self, case_id: str) -> CaseRecord | None:
        """The case with ``case_id``, or None."""

    def search(self, query: CaseQuery) -> list[CaseRecord]:
        """Matching cases, newest opened first, at most ``query.limit``."""


def advanced(case: CaseRecord, event: CaseEvent) -> CaseRecord:
    """``case`` after ``event`` (the streams judge legality; this view follows the events)."""
    target = TRANSITIONS[event.action][1]
    tier = case.tier + 1 if event.action == "escalate" else case.tier
    return replace(case, step=target or case.step, tier=tier, note=event.note or case.note,
                   updated_ms=max(case.updated_ms, event.ts))


def opened(event: CaseEvent) -> CaseRecord:
    """A new case from a report (or an on-the-spot resolution)."""
    return CaseRecord(case_id=event.case_id, category=event.category or "other",
                      step=TRANSITIONS[event.action][1] or "reported",
                      grid_id=event.grid_id or "", opened_ms=event.ts, updated_ms=event.ts,
                      description=event.description, note=event.note, lon=event.lon,
                      lat=event.lat)


class MemoryCaseView:
    """A bounded in-memory :class:`CaseView`."""

    def __init__(self, max_cases: int = 10_000) -> None:
        self.max_cases = max_cases
        self._cases: OrderedDict[str, CaseRecord] = OrderedDict()

    def apply(self, events: Sequence[CaseEvent]) -> None:
        """Open cases on reports, advance known ones, ignore actions on unknown cases."""
        for event in events:
            known = self._cases.get(event.case_id)
            if known is None and event.action in ("report", "resolve_on_spot"):
                self._cases[event.case_id] = opened(event)
            elif known is not None:
                self._cases[event.case_id] = advanced(known, event)
                self._cases.move_to_end(event.case_id)
        while len(self._cases) > self.max_cases:
            self._cases.popitem(last=False)

    def get(self, case_id: str) -> CaseRecord | None:
        """The case with ``case_id``, or None."""
        return self._cases.get(case_id)

    def search(self, query: CaseQuery) -> list[CaseRecord]:
        """Matching cases, newest opened first, at most ``query.limit``."""
        found = [c for c in self._cases.values()
                 if query.start_ms <= c.opened_ms <= query.end_ms
                 and (query.case_ids is None or c.case_id in query.case_ids)
                 and (query.categories is None or c.category in query.categories)
                 and (query.statuses is None or c.status in query.statuses)]
        found.sort(key=lambda c: c.opened_ms, reverse=True)
        return found[:query.limit]
