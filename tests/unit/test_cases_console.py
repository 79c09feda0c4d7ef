"""The case console's pure parts: offered actions, the queue, the event, outcomes, holders."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from domain.organisation import ORGANISATION_FILE, Person, load_directory, resident
from readside.cases import CaseState
from wall.app.cases_logic import (
    Move,
    People,
    actions_for,
    event_body,
    holders,
    missing_input,
    outcome_of,
    queue,
)
from wall.app.cases_view import detail_html, photos_html

DIRECTORY = load_directory(Path(__file__).resolve().parents[2] / "config" / ORGANISATION_FILE)
CASE = CaseState(case_id="c1", category="road_facility", step="reported", grid_id="PL02-02",
                 opened_ms=1_000, updated_ms=1_000, description="", note="", lon=None,
                 lat=None, tier=1, priority="normal", deadline_ms=9_000, breaches=0,
                 escalations=0, on_spot=False, rating=0, unit="grid.PL02-02")


def person(pid: str) -> Person:
    found = DIRECTORY.person(pid)
    assert found is not None
    return found


def test_the_community_officer_verifies_in_their_community_only() -> None:
    assert actions_for(person("C-PL02"), CASE, People()) == ["verify", "reject"]
    assert actions_for(person("C-PL03"), CASE, People()) == []


def test_a_unit_handler_acts_only_on_what_its_unit_holds() -> None:
    held = replace(CASE, step="dispatched", unit="SO-urban")
    assert actions_for(person("H-SO-urban-2"), held, People()) == ["accept", "decline",
                                                                    "handle"]
    assert actions_for(person("H-DD-water-1"), held, People()) == []


def test_the_handler_may_not_close_and_the_reporter_evaluates() -> None:
    handled = replace(CASE, step="handled")
    assert "close" not in actions_for(person("CC-duty"), handled, People(handler="CC-duty"))
    assert "close" in actions_for(person("CC-chief"), handled, People(handler="CC-duty"))
    closed = replace(CASE, step="closed")
    assert actions_for(resident("R-1"), closed, People(reporter="R-1")) == ["evaluate"]
    assert actions_for(resident("R-2"), closed, People(reporter="R-1")) == []


def test_the_queue_is_sorted_by_deadline_with_no_deadline_last() -> None:
    cases = [replace(CASE, case_id="late", deadline_ms=0),
             replace(CASE, case_id="b", deadline_ms=5_000),
             replace(CASE, case_id="a", deadline_ms=2_000),
             replace(CASE, case_id="away", grid_id="PL05-01", deadline_ms=1)]
    assert [c.case_id for c, _ in queue(person("C-PL02"), cases, {})] == ["a", "b", "late"]


def test_the_event_carries_the_form_and_the_person() -> None:
    form = {"reason": " no ", "note": "", "photo": "https://x/p.jpg", "unit": "SO-urban"}
    body = event_body(person("CC-duty"), CASE, "dispatch", "e1", 7, form)
    assert body == {"event_id": "e1", "case_id": "c1", "action": "dispatch", "ts": 7,
                    "source": "command_centre", "grid_id": "PL02-02", "actor": "CC-duty",
                    "reason": "no", "attachments": ["https://x/p.jpg"],
                    "target_unit": "SO-urban"}
    rated = event_body(resident("R-1"), CASE, "evaluate", "e2", 7, {"rating": "4"})
    assert (rated["source"], rated["rating"]) == ("resident_app", 4)
    assert missing_input("decline", {"reason": "  "}) == "reason"
    assert missing_input("reassign", {}) == "unit"
    assert missing_input("verify", {}) is None


def test_outcomes_name_the_refusal() -> None:
    refused = outcome_of(403, {"error": "forbidden", "reason": "unit_handler.may-not-close: x"},
                         None)
    assert (refused.ok, refused.status) == (False, "403")
    assert "unit_handler.may-not-close" in refused.reason
    assert outcome_of(202, None, {"status": "applied"}).ok
    worker = outcome_of(202, None, {"status": "refused", "reason": "already accepted"})
    assert (worker.ok, worker.reason) == (False, "already accepted")
    assert outcome_of(202, None, "oops").status == "pending"


def test_holders_span_every_moment() -> None:
    moves = [Move(1, "report", "", "reported", "R", "", "grid.G", "", ""),
             Move(2, "verify", "reported", "verified", "C", "grid.G", "grid.G", "", ""),
             Move(3, "dispatch", "verified", "dispatched", "CC", "grid.G", "SO-urban", "", ""),
             Move(4, "accept", "dispatched", "dispatched", "H", "SO-urban", "SO-urban", "H",
                  "")]
    assert holders(moves) == [(1, 3, "grid.G", ""), (3, 4, "SO-urban", ""),
                              (4, None, "SO-urban", "H")]


def test_photos_are_images_and_detail_escapes() -> None:
    html = photos_html(["https://img/a.jpg", "javascript:alert(1)"], "en")
    assert html.count("<img") == 1 and "javascript" not in html
    evil = replace(CASE, case_id="<b>x</b>")
    assert "<b>x</b>" not in detail_html(evil, [], DIRECTORY, [], "en")
