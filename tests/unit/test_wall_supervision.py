"""Supervision orders on the pages: the unit's /cases queue flags a supervised case and sorts
it by the order's deadline; /leader lists the open orders and builds the issue event."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from domain.organisation import ORGANISATION_FILE, Person, load_directory
from domain.schemas import CaseEvent
from readside.cases import CaseState
from wall.app import leader, leader_html
from wall.app.cases_logic import People, queue
from wall.app.cases_view import detail_html, queue_html

DIRECTORY = load_directory(Path(__file__).resolve().parents[2] / "config" / ORGANISATION_FILE)
CASE = CaseState(case_id="c1", category="road_facility", step="dispatched", grid_id="PL02-02",
                 opened_ms=1_000, updated_ms=1_000, description="", note="", lon=None,
                 lat=None, tier=1, priority="normal", deadline_ms=90_000, breaches=0,
                 escalations=0, on_spot=False, rating=0, unit="SO-urban")


def person(pid: str) -> Person:
    found = DIRECTORY.person(pid)
    assert found is not None
    return found


def test_a_supervised_case_is_on_the_ordered_units_queue_by_the_orders_deadline() -> None:
    fire = person("H-SO-fire-1")
    ordered = replace(CASE, case_id="ordered", supervision_unit="SO-fire",
                      supervision_deadline_ms=50_000)
    held = replace(CASE, case_id="held", unit="SO-fire", deadline_ms=60_000)
    other = replace(CASE, case_id="other", supervision_unit="SO-urban",
                    supervision_deadline_ms=10_000)
    rows = queue(fire, [held, other, ordered], {})
    assert [c.case_id for c, _ in rows] == ["ordered", "held"]
    assert rows[0][1] == []  # the order puts it on the queue; the rules still judge steps
    earlier = replace(held, supervision_unit="SO-fire", supervision_deadline_ms=40_000)
    assert [c.case_id for c, _ in queue(fire, [ordered, earlier], {})] == ["held", "ordered"]
    shown = queue_html(rows, DIRECTORY, 20_000, "en")
    assert "Supervised SO-fire · 0m left" in shown
    assert "Supervised" not in queue_html(rows[1:], DIRECTORY, 20_000, "en")
    assert "Supervision orders" in detail_html(ordered, [], DIRECTORY, [], "en")
    holder = queue(person("H-SO-urban-2"), [ordered], {"ordered": People()})
    assert [c.case_id for c, _ in holder] == ["ordered"]  # the holder keeps it too


LIVE = {
    "a": {"case_id": "a", "grid_id": "PL01-01", "step": "dispatched",
          "supervision": {"unit": "SO-fire", "deadline_ms": 200_000, "by": "L-secretary",
                          "breached_ms": 0}},
    "b": {"case_id": "b", "grid_id": "PL01-02", "step": "verified",
          "supervision": {"unit": "DD-water", "deadline_ms": 100_000, "by": "CC-duty",
                          "breached_ms": 100_000}},
    "closed": {"case_id": "closed", "step": "closed",
               "supervision": {"unit": "SO-fire", "deadline_ms": 1}},
    "plain": {"case_id": "plain", "step": "dispatched", "supervision": None},
}


def test_the_leaders_card_lists_open_orders_nearest_deadline_first() -> None:
    rows = leader.orders(LIVE.items(), now_ms=150_000)
    assert [(r.case_id, r.unit, r.left_s, r.breached) for r in rows] == [
        ("b", "DD-water", -50.0, True), ("a", "SO-fire", 50.0, False)]
    html = leader_html.supervision(rows, {"SO-fire": "Fire station"}, "en")
    assert html.count('data-testid="supervision-row"') == 2
    assert 'data-case="b" data-unit="DD-water" data-overdue="True"' in html
    assert "Fire station" in html and "-0:00:50" in html and "0:00:50" in html
    assert "No data yet" in leader_html.supervision([], {}, "en")


def test_the_issue_form_builds_a_valid_supervise_event() -> None:
    body = leader.order_event(LIVE["a"], "a", "SO-fire", 90, " by noon ", "L-secretary",
                              "a-supervise-1", 1_000_000)
    event = CaseEvent(**body)
    assert (event.action, event.target_unit, event.deadline_ms, event.grid_id, event.note) == (
        "supervise", "SO-fire", 1_000_000 + 90 * 60_000, "PL01-01", "by noon")


def test_the_form_refuses_before_sending_without_a_person_or_an_open_case() -> None:
    import asyncio

    from wall.app.leader_form import SupervisionForm

    form = SupervisionForm(DIRECTORY, "http://127.0.0.1:9", lambda: LIVE, lambda: 150_000)
    form.case.value = "a"
    form.label("en")
    asyncio.run(form.issue())  # signed in with a token naming nobody
    assert 'data-ok="False"' in form.message.object and "names no person" in form.message.object
    form.sign_in("tok", "L-secretary")
    form.case.value = "closed"
    asyncio.run(form.issue())
    assert "No open case with this id on the wall: closed" in form.message.object
