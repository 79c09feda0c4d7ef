"""The read side of cases, as Open311 reads need it, behind a small interface.

:class:`CaseView` is what the Open311 read endpoints use. Three implementations:

* :class:`MemoryCaseView` answers from the case events this gateway process accepted, each
  judged by :mod:`domain.case_machine` as the streams judge it (an event the machine refuses
  changes nothing). It keeps at most ``max_cases`` cases, forgetting the least recently
  updated first, and is not shared between worker processes.
* :class:`~ingest.gateway.case_view_clickhouse.ClickHouseCaseView` answers from the ``cases``
  table that the streams keep.
* :class:`LayeredCaseView` (the gateway's default) combines the two. ClickHouse is the
  authority: it survives restarts, sees every worker, and holds the state the streams judged
  legal, so its version of a case wins. The memory view answers for cases ClickHouse does not
  know yet (the streams write within a second or two), and stands in while ClickHouse cannot
  answer.

The six steps map onto Open311's two statuses: ``reported``, ``verified``, ``dispatched`` and
``handled`` are *open*; ``closed``, ``evaluated`` and ``rejected`` are *closed*; the step
itself is told in ``status_notes``.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from domain import case_machine
from domain.case_machine import Rejection
from domain.schemas import CaseEvent, CaseSnapshot
from domain.vocab import OPEN_STEPS

log = logging.getLogger(__name__)
T = TypeVar("T")
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
    unit: str | None = None  # the unit holding the case
    dispatched_unit: str | None = None  # the unit it was last dispatched to
    deadline_ms: int | None = None  # the current step's SLA deadline (None: unknown/untimed)
    attachments: tuple[str, ...] = ()  # http(s) URLs (Open311 media_url, photos)

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

    async def get(self, case_id: str) -> CaseRecord | None:
        """The case with ``case_id``, or None."""

    async def search(self, query: CaseQuery) -> list[CaseRecord]:
        """Matching cases, newest opened first, at most ``query.limit``."""

    def close(self) -> None:
        """Release connections (the view is not used afterwards)."""


@dataclass(frozen=True)
class Held:
    """A case in the memory view: its state machine snapshot, what Open311 adds, and what
    the authority rules read (:class:`domain.authority.CaseFacts`: ``reporter``, ``handler``,
    ``unit``; ``grid_id`` and ``community_id`` come from the event's place). ``seen`` holds
    the ids of the events followed, so a repeat is recognised."""

    snapshot: CaseSnapshot
    record: CaseRecord
    reporter: str | None = None
    handler: str | None = None
    seen: frozenset[str] = frozenset()

    @property
    def unit(self) -> str | None:
        """The unit that holds the case now (a unit id or a tier queue)."""
        return self.snapshot.unit


def judged(held: Held | None, event: CaseEvent) -> Held | Rejection:
    """``held`` after ``event``, judged by :func:`domain.case_machine.apply` as the streams
    judge it, or the machine's :class:`Rejection`."""
    result = case_machine.apply(held.snapshot if held else None, event, event.grid_id)
    if isinstance(result, Rejection):
        return result
    after = result.after
    before = held.record if held else None
    record = CaseRecord(
        case_id=after.case_id, category=after.category, step=after.step,
        grid_id=after.grid_id, opened_ms=after.opened_ms, updated_ms=after.updated_ms,
        description=after.description, note=event.note or (before.note if before else ""),
        lon=before.lon if before else event.lon, lat=before.lat if before else event.lat,
        tier=after.tier, unit=after.unit, dispatched_unit=after.dispatched_unit,
        attachments=tuple(after.attachments))
    if held is None:
        return Held(after, record, reporter=event.actor or None,
                    seen=frozenset({event.event_id}))
    return Held(after, record, reporter=held.reporter,
                handler=(event.actor or None) if event.action == "handle" else held.handler,
                seen=held.seen | {event.event_id})


def followed(held: Held | None, event: CaseEvent) -> Held | None:
    """``held`` after ``event``; None if the machine refuses the event (the case stays as
    it was)."""
    result = judged(held, event)
    return None if isinstance(result, Rejection) else result


class MemoryCaseView:
    """A bounded in-memory :class:`CaseView`."""

    def __init__(self, max_cases: int = 10_000) -> None:
        self.max_cases = max_cases
        self._cases: OrderedDict[str, Held] = OrderedDict()

    def apply(self, events: Sequence[CaseEvent]) -> None:
        """Follow each event through the case machine; an event it refuses (an action on
        an unknown case, an illegal step) changes nothing."""
        for event in events:
            held = followed(self._cases.get(event.case_id), event)
            if held is not None:
                self._cases[event.case_id] = held
                self._cases.move_to_end(event.case_id)
        while len(self._cases) > self.max_cases:
            self._cases.popitem(last=False)

    def held(self, case_id: str) -> Held | None:
        """The case as this process followed it, or None (never seen, or forgotten)."""
        return self._cases.get(case_id)

    async def get(self, case_id: str) -> CaseRecord | None:
        """The case with ``case_id``, or None."""
        held = self._cases.get(case_id)
        return held.record if held is not None else None

    async def search(self, query: CaseQuery) -> list[CaseRecord]:
        """Matching cases, newest opened first, at most ``query.limit``."""
        found = [c for c in (h.record for h in self._cases.values())
                 if query.start_ms <= c.opened_ms <= query.end_ms
                 and (query.case_ids is None or c.case_id in query.case_ids)
                 and (query.categories is None or c.category in query.categories)
                 and (query.statuses is None or c.status in query.statuses)]
        return newest_first(found, query.limit)

    def close(self) -> None:
        """Nothing to release."""


def newest_first(cases: Iterable[CaseRecord], limit: int) -> list[CaseRecord]:
    """``cases`` by opening time, newest first (ties by id), at most ``limit``."""
    return sorted(cases, key=lambda c: (-c.opened_ms, c.case_id))[:limit]


class LayeredCaseView:
    """An authoritative view (ClickHouse) with a recent one (memory) beside it.

    ``apply`` feeds the recent view. The authority's version of a case wins; the recent view
    answers for cases the authority does not know (yet), and for everything while the
    authority fails (the failure is logged).
    """

    def __init__(self, authority: CaseView, recent: CaseView) -> None:
        self.authority = authority
        self.recent = recent

    def apply(self, events: Sequence[CaseEvent]) -> None:
        """Feed the recent view (the streams feed the authority)."""
        self.recent.apply(events)

    async def _ask(self, call: Awaitable[T], empty: T) -> T:
        try:
            return await call
        except Exception as exc:  # noqa: BLE001 - any failure of the authority: degrade
            log.warning("case view: the authority did not answer (%s); using recent cases",
                        exc)
            return empty

    async def get(self, case_id: str) -> CaseRecord | None:
        """The authority's version of ``case_id``, else the recent one."""
        known = await self._ask(self.authority.get(case_id), None)
        return known if known is not None else await self.recent.get(case_id)

    async def search(self, query: CaseQuery) -> list[CaseRecord]:
        """The authority's matches plus recent cases it did not return, newest first."""
        merged = {c.case_id: c for c in await self.recent.search(query)}
        merged.update((c.case_id, c) for c in await self._ask(self.authority.search(query), []))
        return newest_first(merged.values(), query.limit)

    def close(self) -> None:
        """Close both views."""
        self.authority.close()
        self.recent.close()


def memory_of(view: CaseView) -> MemoryCaseView | None:
    """The in-process memory view of ``view`` (itself, or a layered view's recent one)."""
    if isinstance(view, MemoryCaseView):
        return view
    if isinstance(view, LayeredCaseView) and isinstance(view.recent, MemoryCaseView):
        return view.recent
    return None
