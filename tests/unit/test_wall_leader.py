"""The leaders' view as data: who may open it, the rankings of a period, the overdue and the
escalated cases, and their HTML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.auth import Principal
from domain.organisation import ORGANISATION_FILE, load_directory
from wall.app import leader, leader_html

NOW = 1_780_000_000_000
DIRECTORY = load_directory(Path(__file__).resolve().parents[2] / "config" / ORGANISATION_FILE)


def who(role: str = "feed", person: str | None = None) -> Principal:
    return Principal(name="x", role=role, sources=frozenset(), person=person)


def test_leaders_centre_and_officers_may_lead_others_not() -> None:
    assert leader.may_lead(who(person="L-secretary"), DIRECTORY)
    assert leader.may_lead(who(person="CC-duty"), DIRECTORY)
    assert leader.may_lead(who("officer"), DIRECTORY)
    assert not leader.may_lead(who(person="C-PL01"), DIRECTORY)  # a community officer
    assert not leader.may_lead(who(person="nobody"), DIRECTORY)
    assert not leader.may_lead(who("viewer"), DIRECTORY)
    assert not leader.may_lead(None, DIRECTORY)


def item(subject: str, kind: str, **periods: tuple[int | None, float]) -> tuple[str, Any]:
    return subject, {"kind": kind, "subject": subject, "period": "day",
                     "periods": {p: {"rank": r, "score": s, "cases": 3, "rank_change": 1}
                                 for p, (r, s) in periods.items()}}


def test_standings_of_a_period_ranked_first_then_unranked_by_score() -> None:
    items = [item("G02", "grid", day=(2, 80.0), week=(1, 90.0)),
             item("G01", "grid", day=(1, 85.0)),
             item("G03", "grid", day=(None, 99.0)),
             item("W-1", "worker", day=(1, 70.0)),
             ("street", {"kind": "grid", "ranking": []})]
    assert [r.subject for r in leader.standings(items, "grid", "day")] == ["G01", "G02", "G03"]
    assert [r.subject for r in leader.standings(items, "grid", "week")] == ["G02"]
    assert [r.subject for r in leader.standings(items, "worker", "day")] == ["W-1"]
    assert leader.periods(items, "grid") == ["day", "week"]
    html = leader_html.standings(leader.standings(items, "grid", "day"), {"G01": "一号"},
                                 "zh", "grid-rank")
    assert html.count('data-testid="grid-rank"') == 3 and "一号" in html


def case(case_id: str, **more: Any) -> tuple[str, dict[str, Any]]:
    return case_id, {"case_id": case_id, "grid_id": "G01", "step": "dispatched", "tier": 1,
                     "priority": "normal", **more}


def test_overdue_most_overdue_first_and_escalated_highest_tier_first() -> None:
    cases = [case("a", deadline_ms=NOW - 1_000), case("b", deadline_ms=NOW - 9_000),
             case("c", deadline_ms=NOW + 9_000, escalations=1, tier=2),
             case("d", deadline_ms=NOW - 5_000, step="closed"),
             case("e", escalations=2, tier=3, priority="emergency", unit="CC"),
             case("f", escalations=1, tier=3, step="evaluated")]
    assert [r.case_id for r in leader.overdue(cases, NOW)] == ["b", "a"]
    rows = leader.escalated(cases, NOW)
    assert [(r.case_id, r.tier) for r in rows] == [("e", 3), ("c", 2)]
    html = leader_html.cases(leader.overdue(cases, NOW), {}, "en", "overdue-row")
    assert "0:00:09" in html and 'data-case="b"' in html
    assert "No data" in leader_html.cases([], {}, "en", "overdue-row")
