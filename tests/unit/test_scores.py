"""Scores from outcomes: components, weights, breakdown, attribution, ranking with trend."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.scoring_policy import ScoringPolicy, load_scoring
from domain.sla import PolicyError
from streams.metrics.facts import StepFact
from streams.scores.book import (
    GridOutcomes,
    Outcomes,
    PeriodOutcomes,
    ScoreBook,
    ScoreMemo,
    score,
)
from streams.scores.ranking import rank, standings

CONFIG = Path(__file__).resolve().parents[2] / "config" / "scoring.yaml"
T0 = 1_800_000_000_000
EVEN = ScoringPolicy(weights=dict.fromkeys(("on_time", "on_spot", "reopen", "evaluation",
                                            "activity"), 1.0),
                     activity_target={"grid": 10, "worker": 4}, min_cases=2)


def fact(case: str, action: str, from_step: str, to_step: str, ts: int = T0, grid: str = "G1",
         actor: str = "", source: str = "grid_worker_app", **kw: object) -> StepFact:
    base: dict[str, object] = dict(case_id=case, grid_id=grid, ts=ts, action=action,
                                   from_step=from_step, to_step=to_step, entered_ms=T0 - 1000,
                                   left_deadline_ms=0, deadline_ms=0, category="noise",
                                   priority="normal", tier=1, on_spot=False, actor=actor,
                                   source=source)
    base.update(kw)
    return StepFact(**base)  # type: ignore[arg-type]


def test_policy_file_and_validation() -> None:
    policy = load_scoring(CONFIG)
    assert sum(policy.weights.values()) == pytest.approx(1.0)
    assert ScoringPolicy.from_mapping(policy.to_mapping()) == policy
    bad = policy.to_mapping()
    bad["weights"]["luck"] = 1
    with pytest.raises(PolicyError, match=r"weights\.luck"):
        ScoringPolicy.from_mapping(bad)
    zero = policy.to_mapping()
    zero["weights"] = dict.fromkeys(zero["weights"], 0)
    with pytest.raises(PolicyError, match="at least one"):
        ScoringPolicy.from_mapping(zero)


def test_score_hand_computed_with_breakdown() -> None:
    o = Outcomes(reported=5, closed=4, on_spot=1, reopens=1, completed=10, on_time=8,
                 rating_sum=17, ratings=4)
    s = score("grid", "G1", o, EVEN)
    parts = {b["component"]: b for b in s.breakdown}
    # on_time 0.8, on_spot 0.25, reopen 0.75, evaluation (4.25-1)/4 = 0.8125, activity 0.5
    assert parts["on_time"]["share"] == 0.8 and parts["on_spot"]["share"] == 0.25
    assert parts["reopen"]["share"] == 0.75 and parts["evaluation"]["share"] == 0.8125
    assert parts["activity"]["share"] == 0.5
    assert s.score == pytest.approx(100 * (0.8 + 0.25 + 0.75 + 0.8125 + 0.5) / 5, abs=0.01)
    assert sum(b["points"] for b in s.breakdown) == pytest.approx(s.score, abs=0.02)
    assert parts["on_time"]["figures"] == "8/10 steps on time"


def test_components_without_data_are_left_out_and_weights_renormalised() -> None:
    s = score("worker", "w1", Outcomes(reported=2), EVEN)  # only activity: 2/4
    assert s.score == 50.0
    parts = {b["component"]: b for b in s.breakdown}
    assert parts["activity"]["weight"] == 1.0
    assert parts["on_time"]["share"] is None and parts["on_time"]["figures"] == "no data"


def test_attribution_to_grid_and_handling_worker() -> None:
    book = ScoreBook(EVEN)
    facts = [
        fact("a", "report", "", "reported", actor="w1"),                 # w1 reports a
        fact("a", "verify", "reported", "verified", actor="centre",
             source="command_centre", left_deadline_ms=T0 + 1),        # on time (grid only)
        fact("a", "dispatch", "verified", "dispatched", actor="centre",
             source="command_centre"),
        fact("a", "handle", "dispatched", "handled", actor="w2", left_deadline_ms=T0 - 1),
        fact("a", "close", "handled", "closed", actor="centre", source="command_centre"),
        fact("a", "reopen", "closed", "dispatched", actor="centre", source="command_centre"),
        fact("a", "handle", "dispatched", "handled", actor="w2", left_deadline_ms=T0 + 1),
        fact("a", "close", "handled", "closed", actor="centre", source="command_centre"),
        fact("a", "evaluate", "closed", "evaluated", actor="resident",
             source="resident_app", rating=4),
        fact("b", "resolve_on_spot", "", "closed", actor="w1"),
    ]
    changed = book.update(facts)
    assert changed == {"G1"}
    g = book.subjects("grid")["G1"]
    assert (g.reported, g.closed, g.on_spot, g.reopens, g.completed, g.on_time) == (
        2, 3, 1, 1, 3, 2)
    w1, w2 = book.subjects("worker")["w1"], book.subjects("worker")["w2"]
    assert (w1.reported, w1.closed, w1.on_spot) == (2, 1, 1)
    assert (w2.reported, w2.closed, w2.reopens, w2.completed, w2.on_time,
            w2.rating_sum, w2.ratings) == (0, 2, 1, 2, 1, 4, 1)
    assert "a" not in book.grids["G1"].handlers  # forgotten once evaluated


def test_ranking_order_ties_unranked_and_trend_against_the_previous_period() -> None:
    book = ScoreBook(EVEN)
    for grid, reported in (("G1", 10), ("G2", 5), ("G3", 10), ("G4", 1)):
        book.put_grid(grid, GridOutcomes(
            periods={"day:0": PeriodOutcomes(grid=Outcomes(reported=reported))}))
    first = rank(book.scores("grid", "day:0"), min_cases=2)
    assert [(r["subject"], r["rank"]) for r in first] == [("G1", 1), ("G3", 2), ("G2", 3),
                                                          ("G4", None)]
    assert first[0]["rank_change"] is None and first[0]["score_change"] is None
    for grid, reported in (("G1", 4), ("G2", 20), ("G3", 10), ("G4", 1)):  # the next day
        book.grids[grid].periods["day:1"] = PeriodOutcomes(grid=Outcomes(reported=reported))
    second = {r["subject"]: r for r in rank(book.scores("grid", "day:1"), min_cases=2,
                                            previous=standings(first))}
    assert second["G2"]["rank"] == 1 and second["G2"]["rank_change"] == 2
    assert second["G1"]["rank"] == 3 and second["G1"]["rank_change"] == -2
    assert second["G1"]["score_change"] == -60.0
    assert second["G4"]["rank_change"] is None
    again = rank(book.scores("grid", "day:1"), min_cases=2, previous=standings(first))
    assert again == list(second.values())  # pure: no memory of earlier calls

def test_worker_outcomes_are_the_sum_over_the_grids_of_their_cases() -> None:
    """Two owners, each with some grids, feed one street-wide book: the worker's outcomes
    equal those of a single book that saw every fact."""
    facts = [fact("a", "report", "", "reported", actor="w1"),
             fact("b", "report", "", "reported", actor="w1"),
             fact("b", "resolve_on_spot", "reported", "closed", actor="w1")]
    facts[1] = msgspec.structs.replace(facts[1], grid_id="G2")
    facts[2] = msgspec.structs.replace(facts[2], grid_id="G2")
    single, first, second, street = (ScoreBook(EVEN) for _ in range(4))
    single.update(facts)
    first.update([f for f in facts if f.grid_id == "G1"])
    second.update([f for f in facts if f.grid_id == "G2"])
    for owner in (first, second):
        for grid, outcomes in owner.grids.items():
            street.put_grid(grid, outcomes)
    assert street.subjects("worker") == single.subjects("worker")
    assert street.scores("worker") == single.scores("worker")
    assert street.subjects("worker")["w1"].reported == 2


def test_rebuild_from_the_facts_equals_counting_them_as_they_came() -> None:
    facts = [fact("a", "report", "", "reported", actor="w1"),
             fact("a", "handle", "reported", "handled", actor="w2", left_deadline_ms=T0 + 1),
             fact("a", "close", "handled", "closed", actor="centre", source="command_centre")]
    live, rebuilt = ScoreBook(EVEN), ScoreBook(EVEN)
    live.update(facts)
    rebuilt.update([fact("x", "report", "", "reported", actor="w9")])  # dropped by rebuild
    assert rebuilt.rebuild(facts) == {"G1"}
    assert rebuilt.grids == live.grids


def test_a_fact_counts_in_its_day_week_and_month_and_two_periods_are_kept() -> None:
    from streams.scores.periods import period_key, period_start

    book = ScoreBook(EVEN)
    day = 86_400_000
    for n in range(3):  # three consecutive days
        book.update([fact(f"c{n}", "report", "", "reported", ts=T0 + n * day, actor="w1")])
    keys = set(book.grids["G1"].periods)
    days = [period_key("day", period_start("day", T0 + n * day, 8)) for n in (1, 2)]
    assert set(days) <= keys and len([k for k in keys if k.startswith("day:")]) == 2
    assert book.subjects("grid", days[1])["G1"].reported == 1
    week = period_key("week", period_start("week", T0 + 2 * day, 8))
    assert book.latest("week") == week


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["grid", "worker"]), st.sampled_from(["a", "b", "c"]),
                          st.builds(Outcomes, reported=st.integers(0, 3),
                                    closed=st.integers(0, 3), on_spot=st.integers(0, 3),
                                    reopens=st.integers(0, 2), completed=st.integers(0, 3),
                                    on_time=st.integers(0, 3), rating_sum=st.integers(0, 10),
                                    ratings=st.integers(0, 2))), max_size=30))
def test_the_score_memo_scores_as_score_does(calls: list[tuple[str, str, Outcomes]]) -> None:
    """Repeated and shared outcomes, several subjects and a policy change: the memo's
    answer is always ``score``'s."""
    memo = ScoreMemo(limit=7)
    shipped = load_scoring(CONFIG)
    for n, (kind, subject, outcomes) in enumerate(calls):
        used = shipped if n % 3 else EVEN
        assert memo.score(kind, subject, outcomes, used) == score(kind, subject, outcomes, used)


def test_merge_adds_every_field() -> None:
    """``Outcomes.merge`` is spelled out field by field: none may be left out."""
    a = Outcomes(**{f: i + 1 for i, f in enumerate(Outcomes.__struct_fields__)})
    b = Outcomes(**{f: 10 * (i + 1) for i, f in enumerate(Outcomes.__struct_fields__)})
    a.merge(b)
    assert msgspec.structs.asdict(a) == {f: 11 * (i + 1)
                                         for i, f in enumerate(Outcomes.__struct_fields__)}
