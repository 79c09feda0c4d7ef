"""Supervision orders (督办) end to end: real ``gridwall worker`` and ``gateway`` processes,
real Kafka and ClickHouse.

A leader orders a unit to settle a dispatched case by a deadline (``supervise`` through
``POST /v1/cases/events`` with the leader's own token, first through the /leader page's form,
then a shorter order that replaces it; a unit handler's order is a 403 naming the rule).
The order lands in ClickHouse's ``cases`` row and on the ordered unit's /cases queue (read
as the console reads it) with its deadline; the deadline passes unmet and the worker's SLA
timer records the miss exactly once (one breach transition, even
after the timer's retry interval has passed several times); handling the case clears it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings
from domain.organisation import ORGANISATION_FILE, load_directory
from streams.deadlines import DeadlineIndex
from tests.integration.helpers_live import clickhouse
from tests.integration.test_case_refusals import GRID, Client, accepted, worker_and_gateway
from tests.integration.test_streams_support import wait_for
from wall.app.cases_data import listed_cases
from wall.app.cases_logic import due_ms, queue
from wall.app.leader_form import SupervisionForm

pytestmark = pytest.mark.integration
TOKENS: dict[str, dict[str, Any]] = {
    "so-residents-app-0001": {"name": "resident app", "role": "feed",
                              "sources": ["resident_app"], "acts_for": ["resident"]},
    "so-leader-token-00001": {"name": "leader", "role": "feed", "sources": ["*"],
                              "person": "L-secretary"},
    "so-centre-token-00001": {"name": "centre", "role": "feed", "sources": ["*"],
                              "person": "CC-duty"},
    "so-fire-handler-00001": {"name": "fire", "role": "feed", "sources": ["*"],
                              "person": "H-SO-fire-1"},
}
RESIDENTS, LEADER, CENTRE, FIRE = TOKENS
ORDER_S = 6  # the order's deadline, from its issue
RETRY_S = DeadlineIndex().retry_ms / 1000  # the timer re-fires an unapplied breach this late


@dataclass
class Stack:
    settings: Settings
    gateway: str


@pytest.fixture(scope="module")
def stack(infra: Settings, run_id: str, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Stack]:
    """Worker and gateway of their own prefix, database and tokens."""
    with worker_and_gateway(infra, run_id, tmp_path_factory.mktemp("supervision"), "so",
                            TOKENS) as s:
        yield Stack(s, f"http://127.0.0.1:{s.gateway_port}")


def order_row(s: Settings, case_id: str) -> dict[str, Any]:
    """The case's supervision columns and step (FINAL)."""
    names = ("step", "supervision_unit", "supervision_deadline_ms", "supervision_by",
             "supervision_breached_ms")
    ch = clickhouse(s)
    try:
        rows = ch.execute(f"SELECT {', '.join(names)} FROM {s.clickhouse_database}.cases "
                          "FINAL WHERE case_id = %(id)s", {"id": case_id})
    finally:
        ch.disconnect()
    return dict(zip(names, rows[0], strict=True)) if rows else {}


def breach_rows(s: Settings, case_id: str) -> list[tuple[Any, ...]]:
    """The case's breach transitions (event id, action, actor)."""
    ch = clickhouse(s)
    try:
        return [tuple(r) for r in ch.execute(
            f"SELECT event_id, action, actor FROM {s.clickhouse_database}.case_transitions "
            "FINAL WHERE case_id = %(id)s AND breach = 1", {"id": case_id})]
    finally:
        ch.disconnect()


def form_order(stack: Stack, case: str) -> None:
    """Issue an order to DD-water through the /leader page's form with the leader's token;
    the worker applies it."""
    directory = load_directory(Path(stack.settings.config_dir) / ORGANISATION_FILE)
    live = {case: {"case_id": case, "grid_id": GRID, "step": "dispatched"}}
    form = SupervisionForm(directory, stack.gateway, lambda: live,
                           lambda: int(time.time() * 1000))
    form.sign_in(LEADER, "L-secretary")
    form.case.value, form.unit.value, form.minutes.value = case, "DD-water", 30
    asyncio.run(form.issue())
    assert 'data-ok="True"' in form.message.object and "applied" in form.message.object
    row = wait_for("the form's order in ClickHouse", lambda: (
        r if (r := order_row(stack.settings, case)).get("supervision_unit") else None), 60)
    assert (row["supervision_unit"], row["supervision_by"]) == ("DD-water", "L-secretary")


def test_an_order_lands_on_the_units_queue_and_a_missed_deadline_breaches_once(
        stack: Stack, run_id: str) -> None:
    gw, case = Client(stack.gateway), f"so-{run_id}-1"
    report = accepted(gw.step(RESIDENTS, "report", case, actor="resident-9"))
    assert gw.status(RESIDENTS, report)["status"] == "applied"
    for action, fields in (("verify", {}), ("dispatch", {"target_unit": "SO-urban"})):
        event_id = accepted(gw.step(CENTRE, action, case, source="command_centre", **fields))
        assert gw.status(CENTRE, event_id)["status"] == "applied"
    form_order(stack, case)  # the /leader form's order, replaced by the one below
    deadline = int(time.time() * 1000) + ORDER_S * 1000
    order = {"source": "command_centre", "target_unit": "SO-fire", "deadline_ms": deadline,
             "note": "settle it"}
    refused = gw.step(FIRE, "supervise", case, **order)
    assert refused.status_code == 403
    assert refused.json()["reason"].startswith("unit_handler.may-not-supervise")
    issued = accepted(gw.step(LEADER, "supervise", case, **order))
    assert gw.status(LEADER, issued)["status"] == "applied"
    landed = wait_for("the order in ClickHouse", lambda: (
        row if (row := order_row(stack.settings, case)).get("supervision_unit") == "SO-fire"
        else None), 60)
    landed.pop("supervision_breached_ms")  # 0, unless the sink wrote only after the miss
    assert landed == {"step": "dispatched", "supervision_unit": "SO-fire",
                      "supervision_deadline_ms": deadline, "supervision_by": "L-secretary"}
    handler = load_directory(Path(stack.settings.config_dir) / ORGANISATION_FILE).person(
        "H-SO-fire-1")
    assert handler is not None
    listed = listed_cases(stack.settings, int(time.time() * 1000))
    [(on_queue, _)] = [(c, a) for c, a in queue(handler, listed, {}) if c.case_id == case]
    assert (on_queue.supervision_unit, due_ms(on_queue)) == ("SO-fire", deadline)

    missed = wait_for("the missed order in ClickHouse", lambda: (
        row if (row := order_row(stack.settings, case))["supervision_breached_ms"] else None),
        60)
    assert missed["supervision_breached_ms"] >= deadline and missed["step"] == "dispatched"
    time.sleep(2 * RETRY_S)  # long enough for the timer to have re-fired a live entry
    [(event_id, action, actor)] = breach_rows(stack.settings, case)
    assert (event_id.startswith("sup."), action, actor) == (True, "escalate", "sla-timer")

    handled = accepted(gw.step(CENTRE, "handle", case, source="command_centre"))
    assert gw.status(CENTRE, handled)["status"] == "applied"
    cleared = wait_for("the order cleared in ClickHouse", lambda: (
        row if (row := order_row(stack.settings, case))["step"] == "handled" else None), 60)
    assert (cleared["supervision_unit"], cleared["supervision_deadline_ms"]) == ("", 0)
    assert len(breach_rows(stack.settings, case)) == 1
