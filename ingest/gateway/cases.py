"""``POST /v1/cases/events``: reports and workflow actions, one event or a batch.

Every event needs a place (``grid_id`` or ``lon``/``lat``), whatever its action: the gateway
keys by grid and cannot look a case's grid up. Each event is produced to the case events
topic keyed by its grid, with ``grid_id`` filled in; the client's ``event_id`` deduplicates
per source.
"""

from __future__ import annotations

import msgspec
from starlette.requests import Request

from domain.schemas import CaseEvent
from domain.wire import encode
from gridwall.auth import Principal
from infra.topics import CASE_EVENTS
from ingest.gateway.auth import check_source
from ingest.gateway.case_view import CaseView
from ingest.gateway.payloads import decode_items
from ingest.gateway.pipeline import Feed, Item, Submission
from ingest.gateway.placement import Placer, field_name
from ingest.kafka_out import OutRecord


def placed_event(placer: Placer, principal: Principal, event: CaseEvent,
                 prefix: str = "") -> CaseEvent:
    """``event`` checked against the principal's sources, with its grid filled in."""
    check_source(principal, event.source, field_name(prefix, "source"))
    grid = placer.grid_of(event, prefix)
    return event if event.grid_id == grid else msgspec.structs.replace(event, grid_id=grid)


def event_item(event: CaseEvent) -> Item:
    """The item producing a placed ``event``, deduplicated by (source, event_id)."""
    record = OutRecord(CASE_EVENTS, event.grid_id or "", encode(event))
    return Item(f"cases|{event.source}|{event.event_id}", event.event_id, (record,))


def events_submission(events: list[CaseEvent], view: CaseView) -> Submission:
    """Produce placed ``events``; the fresh ones feed the read side once acknowledged."""
    return Submission([event_item(e) for e in events],
                      on_accepted=lambda fresh: view.apply([events[i] for i in fresh]))


class CaseEventsFeed(Feed):
    """Case events from the apps and departments."""

    name = "cases"

    def __init__(self, placer: Placer, view: CaseView) -> None:
        self._placer = placer
        self._view = view

    def parse(self, request: Request, raw: bytes, principal: Principal) -> Submission:
        """Decode, check sources, geocode: the whole batch or a refusal."""
        batch = decode_items(raw, CaseEvent, "events")
        events = [placed_event(self._placer, principal, event, batch.prefix(i))
                  for i, event in enumerate(batch.items)]
        return events_submission(events, self._view)
