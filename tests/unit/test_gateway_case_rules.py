"""Case steps at the gateway (in-process, memory writer): actors stamped from the credential,
authority refusals (403 naming the rule), illegal steps (409 with the reason)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest

from core.auth import TokenBook
from core.settings import settings_from
from domain.geo import street
from domain.schemas import CaseEvent
from ingest.gateway.app import create_app
from ingest.gateway.case_view import MemoryCaseView
from tests.unit.test_gateway_support import TOKENS, MemoryWriter, bearer, inside

EVENTS = "/v1/cases/events"
LEGACY = "feed-all-token-0001"
_, _, GRID = inside(0)
COMMUNITY = street().community_of(GRID)
OTHER_GRID = next(g for g in street().grids if street().community_of(g) != COMMUNITY)
PEOPLE = {"officer": f"C-{COMMUNITY}", "worker": f"W-{GRID}-1", "far": f"W-{OTHER_GRID}-1",
          "centre": "CC-duty", "chief": "CC-chief", "fire": "H-SO-fire-1",
          "urban": "H-SO-urban-2"}
TOKENS_WITH_PEOPLE: dict[str, dict[str, Any]] = {
    **TOKENS,
    **{f"tok-{who}-0000000": {"name": who, "role": "feed", "sources": ["*"], "person": pid}
       for who, pid in PEOPLE.items()},
    "tok-resident-app-000": {"name": "resident app", "role": "feed",
                             "sources": ["resident_app"], "acts_for": ["resident"]},
}
RESIDENTS = "tok-resident-app-000"


def tok(who: str) -> str:
    return f"tok-{who}-0000000"


class Gw:
    def __init__(self, client: httpx.AsyncClient, writer: MemoryWriter) -> None:
        self.client = client
        self.writer = writer
        self.n = 0

    async def step(self, token: str, action: str, case: str = "c1", **fields: Any
                   ) -> httpx.Response:
        return await self.batch(token, [self.event(action, case, **fields)])

    def event(self, action: str, case: str = "c1", **fields: Any) -> dict[str, Any]:
        self.n += 1
        event = {"event_id": f"{case}.{self.n}", "case_id": case, "action": action,
                 "ts": int(time.time() * 1000), "source": "grid_worker_app", "grid_id": GRID,
                 **fields}
        if action == "report":
            event.update(category="noise", source="resident_app")
        if action == "evaluate":
            event.update(rating=5, source="resident_app")
        return event

    async def batch(self, token: str, events: list[dict[str, Any]]) -> httpx.Response:
        body = events[0] if len(events) == 1 else events
        return await self.client.post(EVENTS, content=json.dumps(body).encode(),
                                      headers=bearer(token))

    def produced(self) -> list[CaseEvent]:
        return [msgspec.json.decode(r.value, type=CaseEvent)
                for r in self.writer.on("gridwall.cases.events")]


@pytest.fixture()
async def gw() -> AsyncIterator[Gw]:
    writer = MemoryWriter()
    app = create_app(settings_from({}), tokens=TokenBook.from_mapping(TOKENS_WITH_PEOPLE),
                     writer=writer, view=MemoryCaseView())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://gateway") as client:
        yield Gw(client, writer)
    app.state.gateway.producer.close()


def refused(response: httpx.Response, status: int, rule: str, field: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["field"] == field and body["reason"].startswith(rule), body


async def test_a_person_token_stamps_its_person_and_refuses_another_actor(gw: Gw) -> None:
    response = await gw.step(tok("worker"), "report", actor=PEOPLE["far"])
    refused(response, 403, "actor.is-token-person", "actor")
    assert await gw.step(tok("worker"), "report") is not None
    [event] = gw.produced()
    assert event.actor == PEOPLE["worker"]


async def test_an_app_token_acts_only_for_its_roles(gw: Gw) -> None:
    refused(await gw.step(RESIDENTS, "report"), 403, "actor.required", "actor")
    refused(await gw.step(RESIDENTS, "report", actor=PEOPLE["officer"]), 403,
            "token.acts-for", "actor")
    assert (await gw.step(RESIDENTS, "report", actor="r-1")).status_code == 202
    assert [e.actor for e in gw.produced()] == ["r-1"]


async def test_the_six_steps_each_by_who_may(gw: Gw) -> None:
    assert (await gw.step(RESIDENTS, "report", actor="r-1")).status_code == 202
    refused(await gw.step(RESIDENTS, "verify", actor="r-1", source="resident_app"), 403,
            "resident.may-not-verify", "action")
    refused(await gw.step(tok("far"), "verify"), 403, "grid_worker.may-not-verify", "action")
    assert (await gw.step(tok("officer"), "verify")).status_code == 202
    assert (await gw.step(tok("officer"), "dispatch")).status_code == 202
    refused(await gw.step(tok("far"), "handle"), 403, "grid-worker.in-grids", "action")
    assert (await gw.step(tok("centre"), "handle")).status_code == 202
    refused(await gw.step(tok("centre"), "close"), 403, "close.checker-not-handler", "action")
    assert (await gw.step(tok("chief"), "close")).status_code == 202
    refused(await gw.step(RESIDENTS, "evaluate", actor="r-2"), 403, "resident.evaluate-own",
            "action")
    assert (await gw.step(RESIDENTS, "evaluate", actor="r-1")).status_code == 202
    assert [e.actor for e in gw.produced()] == ["r-1", "C-" + COMMUNITY, "C-" + COMMUNITY,
                                                "CC-duty", "CC-chief", "r-1"]


async def test_only_the_unit_dispatched_to_accepts_and_handles(gw: Gw) -> None:
    assert (await gw.step(RESIDENTS, "report", actor="r-1")).status_code == 202
    assert (await gw.step(tok("officer"), "verify")).status_code == 202
    assert (await gw.step(tok("centre"), "dispatch", target_unit="SO-fire")).status_code == 202
    refused(await gw.step(tok("urban"), "accept"), 403, "unit-handler.dispatched-to-unit",
            "action")
    assert (await gw.step(tok("fire"), "accept")).status_code == 202
    assert (await gw.step(tok("fire"), "handle")).status_code == 202
    refused(await gw.step(tok("fire"), "close"), 403, "close.checker-not-handler", "action")


async def test_an_illegal_step_is_a_409_with_the_reason_for_every_token(gw: Gw) -> None:
    assert (await gw.step(RESIDENTS, "report", actor="r-1")).status_code == 202
    assert (await gw.step(tok("officer"), "verify")).status_code == 202
    response = await gw.step(tok("chief"), "close")
    refused(response, 409, "'close' is not allowed from step 'verified'", "action")
    refused(await gw.step(LEGACY, "close", actor="anyone"), 409, "'close' is not allowed",
            "action")
    assert len(gw.produced()) == 2


async def test_a_batch_is_judged_step_after_step(gw: Gw) -> None:
    events = [gw.event("report", actor="r-1"), gw.event("verify"), gw.event("dispatch"),
              gw.event("handle")]
    assert (await gw.batch(LEGACY, events)).status_code == 202
    bad = [gw.event("report", "c2"), gw.event("close", "c2")]
    response = await gw.batch(LEGACY, bad)
    refused(response, 409, "'close' is not allowed", "events[1].action")


async def test_a_repeat_is_a_duplicate_not_a_conflict(gw: Gw) -> None:
    report = gw.event("report", actor="r-1")
    verify = gw.event("verify")
    assert (await gw.batch(LEGACY, [report])).status_code == 202
    assert (await gw.batch(LEGACY, [verify])).status_code == 202
    again = await gw.batch(LEGACY, [verify])
    assert again.status_code == 200 and again.json()["duplicate"] is True


async def test_a_case_unknown_here_is_left_to_the_worker(gw: Gw) -> None:
    assert (await gw.step(LEGACY, "close", "elsewhere")).status_code == 202


async def test_a_legacy_token_keeps_its_actor(gw: Gw) -> None:
    assert (await gw.step(LEGACY, "report", actor="someone")).status_code == 202
    assert (await gw.step(LEGACY, "verify", actor="someone")).status_code == 202
    assert [e.actor for e in gw.produced()] == ["someone", "someone"]


def test_a_step_after_one_still_in_flight_is_not_refused() -> None:
    from core.auth import Principal
    from domain.organisation import Directory
    from ingest.gateway.case_rules import CaseJudge

    view = MemoryCaseView()
    judge = CaseJudge(Directory([], []), view, lambda grid: COMMUNITY)
    legacy = Principal("legacy", "feed", frozenset({"*"}))
    gw = Gw(None, MemoryWriter())  # type: ignore[arg-type]
    report, verify, dispatch = (msgspec.convert(gw.event(a, actor="x"), CaseEvent)
                                for a in ("report", "verify", "dispatch"))
    view.apply(judge.check(legacy, [report], [""]))
    judge.sent(judge.check(legacy, [verify], [""]))  # produced, not yet acknowledged
    assert judge.check(legacy, [dispatch], [""]) == [dispatch]
    judge.landed([verify])  # acknowledged without the view following it: no longer hoped
    with pytest.raises(Exception, match="only from: verified"):
        judge.check(legacy, [dispatch], [""])
