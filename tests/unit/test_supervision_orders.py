"""Supervision orders (督办): the machine keeps and clears the order, the worker's logic
breaches a missed order once, the gateway refuses unfit orders naming the field (with a
dead-letter copy) and orders from anybody but leaders and the centre naming the rule."""

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
from domain.case_machine import Rejection, Transition, apply
from domain.schemas import CaseEvent, CaseSnapshot, DeadLetter
from ingest.gateway.app import create_app
from ingest.gateway.case_view import MemoryCaseView
from streams.case_logic import (
    SLA_ACTOR,
    CaseRecord,
    process,
    supervision_breach_event,
    supervision_due_ms,
    supervision_event_id,
)
from streams.rows import case_row
from tests.unit.test_gateway_case_rules import GRID, TOKENS_WITH_PEOPLE
from tests.unit.test_gateway_support import MemoryWriter, bearer

HOUR = 3_600_000
T0 = 1_700_000_000_000


def snap(step: str = "dispatched") -> CaseSnapshot:
    return CaseSnapshot(case_id="c-1", grid_id="PL01-01", category="environment",
                        priority="normal", step=step,  # type: ignore[arg-type]
                        tier=1, opened_ms=T0, step_entered_ms=T0, updated_ms=T0,
                        unit="SO-fire", dispatched_unit="SO-fire")


def ev(action: str, ts: int = T0 + 1000, event_id: str = "e1", **extra: Any) -> CaseEvent:
    if action == "supervise":
        extra = {"target_unit": "SO-fire", "deadline_ms": ts + HOUR, **extra}
    return CaseEvent(event_id=event_id, case_id="c-1", action=action,  # type: ignore[arg-type]
                     ts=ts, source="command_centre", actor="L-secretary", grid_id="PL01-01",
                     **extra)


def supervised() -> CaseSnapshot:
    result = apply(snap(), ev("supervise", note="by Friday"))
    assert isinstance(result, Transition)
    return result.after


def test_an_order_is_kept_without_moving_the_case() -> None:
    after = supervised()
    order = after.supervision
    assert order is not None
    assert (order.unit, order.deadline_ms, order.by, order.since_ms, order.note) == (
        "SO-fire", T0 + 1000 + HOUR, "L-secretary", T0 + 1000, "by Friday")
    assert (after.step, after.unit, after.tier, after.holders) == (
        "dispatched", "SO-fire", 1, snap().holders)


@pytest.mark.parametrize("action", ["handle", "reject", "resolve_on_spot"])
def test_leaving_the_supervised_steps_clears_the_order(action: str) -> None:
    state = supervised()
    if action != "handle":
        state = msgspec.structs.replace(state, step="reported")
    extra = {"category": "environment"} if action == "resolve_on_spot" else {}
    result = apply(state, ev(action, ts=T0 + 2000, event_id="e2", **extra))
    assert isinstance(result, Transition)
    assert result.after.supervision is None


def test_other_steps_keep_the_order_and_a_new_order_replaces_it() -> None:
    state = supervised()
    kept = apply(state, ev("accept", ts=T0 + 2000, event_id="e2"))
    assert isinstance(kept, Transition) and kept.after.supervision == state.supervision
    again = apply(state, ev("supervise", ts=T0 + 3000, event_id="e3", target_unit="SO-urban"))
    assert isinstance(again, Transition) and again.after.supervision is not None
    assert (again.after.supervision.unit, again.after.supervision.since_ms) == (
        "SO-urban", T0 + 3000)


def test_an_order_needs_a_future_deadline_and_an_open_supervised_step() -> None:
    past = apply(snap(), ev("supervise", deadline_ms=T0))
    assert isinstance(past, Rejection) and "deadline" in past.reason
    handled = apply(snap("handled"), ev("supervise"))
    assert isinstance(handled, Rejection) and "supervise" in handled.reason
    with pytest.raises(ValueError, match="deadline_ms"):
        CaseEvent(event_id="x", case_id="c-1", action="supervise", ts=T0,
                  source="command_centre", target_unit="SO-fire")


def record_of(state: CaseSnapshot) -> CaseRecord:
    return CaseRecord(snapshot=state, clock_start_ms=T0)


def test_a_missed_order_breaches_once_and_clears_when_handled() -> None:
    rec = record_of(supervised())
    deadline = supervision_due_ms(rec)
    assert deadline == T0 + 1000 + HOUR
    breach = supervision_breach_event(rec, deadline)
    assert breach.actor == SLA_ACTOR and breach.event_id == supervision_event_id("c-1",
                                                                                 T0 + 1000)
    first = process(rec, breach, offset=10)
    assert first.record is not None and first.breach
    order = first.record.snapshot.supervision
    assert order is not None and order.breached_ms == deadline
    assert [s.raised for s in first.signals] == [True]
    assert supervision_due_ms(first.record) is None  # no second fire
    assert process(first.record, breach, offset=11).skip  # a repeat applies nothing
    assert first.record.snapshot.step == "dispatched" and first.record.breaches == 0
    row = case_row(first.record, None)
    assert (row["supervision_unit"], row["supervision_deadline_ms"],
            row["supervision_breached_ms"]) == ("SO-fire", deadline, deadline)
    handled = process(first.record, ev("handle", ts=deadline + 5, event_id="e9"), offset=12)
    assert handled.record is not None and handled.record.snapshot.supervision is None
    assert [s.raised for s in handled.signals] == [False]
    assert case_row(handled.record, None)["supervision_unit"] == ""


def test_a_breach_of_a_replaced_order_is_stale() -> None:
    rec = record_of(supervised())
    stale = supervision_breach_event(rec, T0 + HOUR)
    replaced = process(rec, ev("supervise", ts=T0 + 5000, event_id="e5"), offset=3)
    assert replaced.record is not None
    assert process(replaced.record, stale, offset=4).skip


def test_a_case_without_an_order_has_empty_supervision_columns() -> None:
    row = case_row(record_of(snap()), None)
    assert {k: v for k, v in row.items() if k.startswith("supervision_")} == {
        "supervision_unit": "", "supervision_deadline_ms": 0, "supervision_by": "",
        "supervision_since_ms": 0, "supervision_breached_ms": 0}


# -- the gateway --------------------------------------------------------------------------

TOKENS: dict[str, dict[str, Any]] = {
    **TOKENS_WITH_PEOPLE,
    "tok-leader-0000000": {"name": "leader", "role": "feed", "sources": ["*"],
                           "person": "L-secretary"},
}


@pytest.fixture()
async def gw() -> AsyncIterator[tuple[httpx.AsyncClient, MemoryWriter]]:
    writer = MemoryWriter()
    app = create_app(settings_from({}), tokens=TokenBook.from_mapping(TOKENS), writer=writer,
                     view=MemoryCaseView())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://gateway") as client:
        yield client, writer
    app.state.gateway.producer.close()


def order(**fields: Any) -> dict[str, Any]:
    now = int(time.time() * 1000)
    return {"event_id": f"o{now}{len(fields)}", "case_id": "c9", "action": "supervise",
            "ts": now, "source": "command_centre", "grid_id": GRID, "target_unit": "SO-fire",
            "deadline_ms": now + HOUR, "note": "settle it", **fields}


async def post(client: httpx.AsyncClient, token: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/v1/cases/events", content=json.dumps(body).encode(),
                             headers=bearer(token))


def dead_letters(writer: MemoryWriter) -> list[DeadLetter]:
    return [msgspec.json.decode(r.value, type=DeadLetter)
            for r in writer.on("gridwall.deadletter")]


async def test_leaders_and_the_centre_issue_orders_others_are_refused_by_rule(
        gw: tuple[httpx.AsyncClient, MemoryWriter]) -> None:
    client, writer = gw
    assert (await post(client, "tok-leader-0000000", order())).status_code == 202
    assert (await post(client, "tok-centre-0000000", order(event_id="o-c"))).status_code == 202
    refused = await post(client, "tok-fire-0000000", order(event_id="o-f"))
    assert refused.status_code == 403
    body = refused.json()
    assert body["field"] == "action"
    assert body["reason"].startswith("unit_handler.may-not-supervise")
    produced = [msgspec.json.decode(r.value, type=CaseEvent)
                for r in writer.on("gridwall.cases.events")]
    assert [(e.actor, e.target_unit) for e in produced] == [("L-secretary", "SO-fire"),
                                                            ("CC-duty", "SO-fire")]


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"target_unit": "SO-nowhere"}, "target_unit", "unknown unit"),
    ({"deadline_ms": 1_000}, "deadline_ms", "has passed"),
    ({"deadline_ms": int(time.time() * 1000) + 40 * 86_400_000}, "deadline_ms", "30 days"),
])
async def test_an_unfit_order_is_a_422_naming_the_field_with_a_dead_letter(
        gw: tuple[httpx.AsyncClient, MemoryWriter], fields: dict[str, Any], field: str,
        words: str) -> None:
    client, writer = gw
    answer = await post(client, "tok-leader-0000000", order(**fields))
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field and words in answer.json()["reason"]
    assert writer.on("gridwall.cases.events") == []
    [letter] = dead_letters(writer)
    assert words in letter.reason and '"supervise"' in letter.raw


def test_a_missed_order_replaced_by_a_new_one_clears_its_alert_and_the_wall_shows_it() -> None:
    from streams.jobs.cases import case_wall

    rec = record_of(supervised())
    missed = process(rec, supervision_breach_event(rec, T0 + 1000 + HOUR), offset=1).record
    assert missed is not None
    replaced = process(missed, ev("supervise", ts=T0 + 2 * HOUR, event_id="e7",
                                  target_unit="DD-water"), offset=2)
    assert replaced.record is not None
    assert [s.raised for s in replaced.signals] == [False]
    shown = case_wall(replaced.record, None, None)["supervision"]
    assert (shown["unit"], shown["deadline_ms"], shown["breached_ms"], shown["by"]) == (
        "DD-water", T0 + 3 * HOUR, 0, "L-secretary")
    assert case_wall(record_of(snap()), None, None)["supervision"] is None


async def test_an_order_without_a_deadline_is_a_422(
        gw: tuple[httpx.AsyncClient, MemoryWriter]) -> None:
    client, writer = gw
    body = order()
    del body["deadline_ms"]
    answer = await post(client, "tok-leader-0000000", body)
    assert answer.status_code == 422 and "deadline_ms" in answer.json()["reason"]
    assert len(dead_letters(writer)) == 1
