"""The read side of cases: memory view, layered view, ClickHouse adapter's backoff."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from core.settings import settings_from
from domain.schemas import CaseEvent
from domain.vocab import MAX_TIER
from ingest.gateway.case_view import CaseQuery, CaseRecord, LayeredCaseView, MemoryCaseView
from ingest.gateway.case_view_clickhouse import ClickHouseCaseView, ClickHouseUnavailable
from ingest.gateway.open311.format import service_request
from tests.unit.test_gateway_support import report

NOW = int(datetime(2024, 6, 1, tzinfo=UTC).timestamp() * 1000)
DAY = 24 * 3600 * 1000


def _event(action: str, case: str, ts: int, **extra: object) -> CaseEvent:
    if action == "report":  # placed, as the gateway feeds the view (grid filled in)
        return CaseEvent(**report(f"{case}-{action}", case_id=case, ts=ts, grid_id="PL01-01",
                                  **extra))
    return CaseEvent(event_id=f"{case}-{action}-{ts}", case_id=case, action=action,  # type: ignore[arg-type]
                     ts=ts, source="grid_worker_app", grid_id="PL01-01", **extra)  # type: ignore[arg-type]


async def test_the_six_steps_map_onto_open_and_closed_with_notes() -> None:
    view = MemoryCaseView()
    view.apply([_event("report", "c1", NOW)])
    assert (await view.get("c1")).status == "open"  # type: ignore[union-attr]
    for i, action in enumerate(("verify", "dispatch", "handle")):
        view.apply([_event(action, "c1", NOW + i + 1)])
        assert (await view.get("c1")).status == "open"  # type: ignore[union-attr]
    view.apply([_event("close", "c1", NOW + 10, note="fixed the pipe")])
    closed = service_request(await view.get("c1"))  # type: ignore[arg-type]
    assert closed["status"] == "closed"
    assert closed["status_notes"] == "checked and closed: fixed the pipe"
    view.apply([_event("reopen", "c1", NOW + 11)])
    assert (await view.get("c1")).status == "open"  # type: ignore[union-attr]
    view.apply([_event("verify", "unknown-case", NOW)])
    assert await view.get("unknown-case") is None


async def test_the_memory_view_follows_the_case_machine_and_ignores_what_it_refuses() -> None:
    view = MemoryCaseView()
    view.apply([_event("report", "c1", NOW), _event("close", "c1", NOW + 1)])  # not handled
    assert (await view.get("c1")).step == "reported"  # type: ignore[union-attr]
    view.apply([_event("verify", "c1", NOW + 2), _event("report", "c1", NOW + 3)])
    assert (await view.get("c1")).step == "verified"  # a repeated report does not reset it
    for i in range(5):  # from tier 1 up to the top tier (MAX_TIER), then refused
        view.apply([_event("escalate", "c1", NOW + 10 + i)])
    case = await view.get("c1")
    assert case is not None and case.tier == MAX_TIER and case.updated_ms < NOW + 10 + 4


async def test_search_filters_by_window_status_code_and_bounds_memory() -> None:
    view = MemoryCaseView(max_cases=3)
    for i in range(5):
        view.apply([_event("report", f"c{i}", NOW + i * DAY)])
    assert await view.get("c0") is None and await view.get("c4") is not None
    everything = CaseQuery(start_ms=0, end_ms=NOW + 10 * DAY)
    assert [c.case_id for c in await view.search(everything)] == ["c4", "c3", "c2"]
    window = CaseQuery(start_ms=NOW + 3 * DAY, end_ms=NOW + 10 * DAY)
    assert [c.case_id for c in await view.search(window)] == ["c4", "c3"]
    closed = CaseQuery(start_ms=0, end_ms=NOW + 10 * DAY, statuses=frozenset({"closed"}))
    assert await view.search(closed) == []


class Authority(MemoryCaseView):
    """A stand-in for ClickHouse: a memory view that can be made to fail."""

    failing = False

    async def get(self, case_id: str) -> CaseRecord | None:
        if self.failing:
            raise ConnectionError("down")
        return await super().get(case_id)

    async def search(self, query: CaseQuery) -> list[CaseRecord]:
        if self.failing:
            raise ConnectionError("down")
        return await super().search(query)


async def test_the_layered_view_prefers_the_authority_and_fills_in_recent_cases() -> None:
    authority, recent = Authority(), MemoryCaseView()
    view = LayeredCaseView(authority, recent)
    authority.apply([_event("report", "old", NOW), _event("verify", "old", NOW + 1)])
    view.apply([_event("report", "old", NOW), _event("report", "new", NOW + DAY)])
    assert view.recent is recent and await authority.get("new") is None  # apply feeds recent
    assert (await view.get("old")).step == "verified"  # type: ignore[union-attr]
    assert (await view.get("new")).step == "reported"  # type: ignore[union-attr]
    found = await view.search(CaseQuery(start_ms=0, end_ms=NOW + 2 * DAY))
    assert [(c.case_id, c.step) for c in found] == [("new", "reported"), ("old", "verified")]
    authority.failing = True
    assert (await view.get("old")).step == "reported"  # type: ignore[union-attr]
    assert len(await view.search(CaseQuery(start_ms=0, end_ms=NOW + 2 * DAY))) == 2


class BrokenClient:
    def execute(self, *_: Any) -> Any:
        raise ConnectionError("refused")

    def disconnect(self) -> None:
        pass


async def test_clickhouse_view_stays_away_after_a_failure() -> None:
    connects: list[int] = []

    def connect() -> BrokenClient:
        connects.append(1)
        return BrokenClient()

    view = ClickHouseCaseView(settings_from({}), retry_s=3600, connect=connect)
    try:
        with pytest.raises(ConnectionError):
            await view.get("c1")
        with pytest.raises(ClickHouseUnavailable):
            await view.search(CaseQuery(start_ms=0, end_ms=NOW))
        assert len(connects) == 1
    finally:
        view.close()
