"""``POST /v1/cases/events``: reports and workflow actions, one event or a batch.

Every event needs a place (``grid_id`` or ``lon``/``lat``), whatever its action: the gateway
keys by grid and cannot look a case's grid up. Each event is produced to the case events
topic keyed by its grid, with ``grid_id`` filled in; the client's ``event_id`` deduplicates
per source (the same id with another payload is a 409 conflict). An event time outside the
receipt's window (``GRIDWALL_EVENT_MAX_AGE_S`` before, ``GRIDWALL_EVENT_MAX_AHEAD_S`` after the
receive time) is a 422 naming ``ts``. With a judge (:class:`~ingest.gateway.case_rules.
CaseJudge`), the actor is stamped from the credential, an unauthorised step is a 403 naming
the rule and a step illegal from the case's known state a 409 with the reason; a
supervision order (``supervise``) to an unknown unit or with an unfit deadline is a 422 naming
the field (:mod:`ingest.gateway.supervision`).
"""

from __future__ import annotations

import msgspec
from starlette.requests import Request

from core.auth import Principal
from core.kafka_records import OutRecord
from domain.contracts.topics import CASE_EVENTS
from domain.schemas import CaseEvent
from domain.wire import encode
from ingest.gateway.auth import check_source
from ingest.gateway.case_rules import CaseJudge
from ingest.gateway.case_view import CaseView
from ingest.gateway.payloads import decode_items, implausible
from ingest.gateway.pipeline import Feed, Item, Receipt, Submission, payload_digest, receipt
from ingest.gateway.placement import Placer, field_name
from ingest.gateway.supervision import check_orders


def placed_event(placer: Placer, principal: Principal, event: CaseEvent,
                 prefix: str = "") -> CaseEvent:
    """``event`` checked against the principal's sources, with its grid filled in."""
    check_source(principal, event.source, field_name(prefix, "source"))
    grid = placer.grid_of(event, prefix)
    return event if event.grid_id == grid else msgspec.structs.replace(event, grid_id=grid)


def event_item(event: CaseEvent, prefix: str | None = None) -> Item:
    """The item producing a placed ``event``, deduplicated by (source, event_id).

    With ``prefix`` (the event's path in the body, ``""`` for a lone event) the event is
    the client's own, so its payload is compared with an earlier one of the same id (409 on
    a difference); without it (a server-stamped event) it is not.
    """
    value = encode(event)
    record = OutRecord(CASE_EVENTS, event.grid_id or "", value)
    digest = None if prefix is None else payload_digest(value)
    return Item(f"cases|{event.source}|{event.event_id}", event.event_id, (record,), digest,
                None if prefix is None else field_name(prefix, "event_id"))


def events_submission(events: list[CaseEvent], view: CaseView,
                      prefixes: list[str] | None = None,
                      judge: CaseJudge | None = None) -> Submission:
    """Produce placed ``events``; the fresh ones feed the read side once acknowledged.
    ``prefixes`` (the events' paths in the body) make their payloads compared on repeats;
    ``judge`` is told they are in flight, then that they landed."""
    items = [event_item(e, prefixes[i] if prefixes is not None else None)
             for i, e in enumerate(events)]

    def accepted(fresh: list[int]) -> None:
        view.apply([events[i] for i in fresh])
        if judge is not None:
            judge.landed(events)

    if judge is not None:
        judge.sent(events)
    return Submission(items, on_accepted=accepted)


def check_times(events: list[CaseEvent], prefixes: list[str], stamp: Receipt) -> None:
    """Raise 422 naming ``events[i].ts`` for the first event time outside the window."""
    for event, prefix in zip(events, prefixes, strict=True):
        problem = stamp.window.problem(event.ts, stamp.received_ms)
        if problem is not None:
            raise implausible(problem, prefix)


class CaseEventsFeed(Feed):
    """Case events from the apps and departments."""

    name = "cases"

    def __init__(self, placer: Placer, view: CaseView, judge: CaseJudge | None = None
                 ) -> None:
        self._placer = placer
        self._view = view
        self._judge = judge

    def parse(self, request: Request, raw: bytes, principal: Principal) -> Submission:
        """Decode, check sources, geocode: the whole batch or a refusal."""
        batch = decode_items(raw, CaseEvent, "events")
        prefixes = [batch.prefix(i) for i in range(len(batch.items))]
        events = [placed_event(self._placer, principal, event, prefix)
                  for event, prefix in zip(batch.items, prefixes, strict=True)]
        stamp = receipt(request)
        check_times(events, prefixes, stamp)
        if self._judge is not None:
            events = self._judge.check(principal, events, prefixes)
            check_orders(events, prefixes, self._judge.directory, stamp.received_ms)
        return events_submission(events, self._view, prefixes, self._judge)
