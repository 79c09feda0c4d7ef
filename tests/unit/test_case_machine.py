"""The six-step state machine: every legal transition allowed, every illegal one rejected."""

from __future__ import annotations

import itertools

import pytest

from domain.case_machine import (
    DEFAULT_QUEUES,
    HOLDERS_LIMIT,
    TRANSITIONS,
    Rejection,
    Transition,
    apply,
    initial_tier,
)
from domain.schemas import CaseEvent, CaseSnapshot
from domain.vocab import CASE_ACTIONS, MAX_TIER, STEPS

_ids = itertools.count()


def event(action: str, ts: int = 1000, **extra: object) -> CaseEvent:
    """A valid event of ``action`` for case c-1."""
    fields: dict[str, object] = {"event_id": f"e{next(_ids)}", "case_id": "c-1",
                                 "action": action, "ts": ts, "source": "grid_worker_app",
                                 "grid_id": "PL01-01"}
    if action in ("report", "resolve_on_spot"):
        fields["category"] = "environment"
    if action == "evaluate":
        fields["rating"] = 4
    if action == "reassign":
        fields["target_unit"] = "SO-safety"
    if action == "decline":
        fields["reason"] = "not ours: a water main"
    if action == "supervise":
        fields.update(target_unit="SO-safety", deadline_ms=ts + 3_600_000)
    fields.update(extra)
    return CaseEvent(**fields)  # type: ignore[arg-type]


def at_step(step: str | None, tier: int = 1) -> CaseSnapshot | None:
    """A case in ``step`` (None: no case)."""
    if step is None:
        return None
    return CaseSnapshot(case_id="c-1", grid_id="PL01-01", category="environment",
                        priority="normal", step=step, tier=tier,  # type: ignore[arg-type]
                        opened_ms=0, step_entered_ms=0, updated_ms=0)


@pytest.mark.parametrize(("action", "step"),
                         list(itertools.product(CASE_ACTIONS, (None, *STEPS))))
def test_every_action_from_every_step(action: str, step: str | None) -> None:
    sources, target = TRANSITIONS[action]
    result = apply(at_step(step), event(action))
    if step in sources:
        assert isinstance(result, Transition)
        assert result.to_step == (target or step)
        assert result.from_step == step
    else:
        assert isinstance(result, Rejection)
        assert action in result.reason


def test_full_loop_with_reopen() -> None:
    state = None
    for action in ("report", "verify", "dispatch", "handle", "reopen", "handle", "close",
                   "evaluate"):
        result = apply(state, event(action))
        assert isinstance(result, Transition), result
        state = result.after
    assert state is not None
    assert (state.step, state.reopen_count, state.rating) == ("evaluated", 1, 4)


def test_on_the_spot_closes_at_tier_one() -> None:
    result = apply(None, event("resolve_on_spot"))
    assert isinstance(result, Transition)
    assert (result.after.step, result.after.on_spot, result.after.tier) == ("closed", True, 1)


def test_escalation_climbs_tiers_and_stops_at_the_top() -> None:
    state = at_step("dispatched")
    for expected in range(2, MAX_TIER + 1):
        result = apply(state, event("escalate"))
        assert isinstance(result, Transition)
        state = result.after
        assert state.tier == expected and state.step == "dispatched"
    assert isinstance(apply(state, event("escalate")), Rejection)


def test_emergency_starts_at_the_street_centre() -> None:
    result = apply(None, event("report", priority="emergency"))
    assert isinstance(result, Transition) and result.after.tier == initial_tier("emergency") == 3


def test_step_entered_and_inputs_untouched() -> None:
    before = at_step("reported")
    result = apply(before, event("verify", ts=5000))
    assert isinstance(result, Transition)
    assert result.after.step_entered_ms == 5000 and result.after.updated_ms == 5000
    assert before is not None and before.step == "reported"


def test_new_case_needs_a_grid() -> None:
    orphan = CaseEvent(event_id="x", case_id="c-9", action="report", ts=1,
                       source="resident_app", category="noise", lon=117.9, lat=37.3)
    assert isinstance(apply(None, orphan), Rejection)
    assert isinstance(apply(None, orphan, grid_id="PL01-01"), Transition)


def test_event_for_another_case_is_rejected() -> None:
    result = apply(at_step("reported"), event("verify", case_id="c-2"))
    assert isinstance(result, Rejection) and "c-2" in result.reason


def run(*events: CaseEvent) -> CaseSnapshot:
    """The snapshot after ``events`` from no case, each of them legal."""
    state: CaseSnapshot | None = None
    for e in events:
        result = apply(state, e)
        assert isinstance(result, Transition), result
        state = result.after
    assert state is not None
    return state


def test_dispatch_decline_reassign_accept_hold_the_case_in_turn() -> None:
    state = run(event("report", ts=1), event("verify", ts=2),
                event("dispatch", ts=3, target_unit="SO-urban", target_person="H-SO-urban-2"),
                event("decline", ts=4, reason="a water main, not street furniture"),
                event("dispatch", ts=5, target_unit="SO-urban"),
                event("reassign", ts=6, target_unit="DD-water"),
                event("accept", ts=7, actor="H-DD-water-1"),
                event("handle", ts=8, actor="H-DD-water-1"),
                event("close", ts=9, actor="CC-duty"))
    held = [(h.unit, h.person, h.action, h.since_ms) for h in state.holders]
    assert held == [("grid.PL01-01", None, "report", 1),
                    ("SO-urban", "H-SO-urban-2", "dispatch", 3),
                    ("grid.PL01-01", None, "decline", 4),
                    ("SO-urban", None, "dispatch", 5),
                    ("DD-water", None, "reassign", 6),
                    ("DD-water", "H-DD-water-1", "accept", 7),
                    ("grid.PL01-01", None, "handle", 8)]
    assert state.holders[2].reason == "a water main, not street furniture"
    assert (state.step, state.unit, state.dispatched_unit, state.handler) == (
        "closed", "grid.PL01-01", "DD-water", "H-DD-water-1")


def test_decline_returns_the_case_verified_to_the_dispatchers_queue() -> None:
    state = run(event("report", ts=1), event("verify", ts=2),
                event("dispatch", ts=3, target_unit="SO-urban"), event("decline", ts=40))
    assert (state.step, state.unit, state.assignee, state.accepted_ms) == (
        "verified", "grid.PL01-01", None, None)
    assert state.sla_start_ms == 40 and state.step_entered_ms == 40


def test_reassign_restarts_the_step_sla_for_the_new_unit_but_not_the_step() -> None:
    state = run(event("report", ts=1), event("verify", ts=2),
                event("dispatch", ts=3, target_unit="SO-urban"),
                event("reassign", ts=50, target_unit="SO-env"))
    assert (state.step, state.unit, state.step_entered_ms, state.sla_start_ms) == (
        "dispatched", "SO-env", 3, 50)


def test_accept_names_the_person_and_is_taken_once() -> None:
    state = run(event("report"), event("verify"), event("dispatch", target_unit="SO-fire"),
                event("accept", ts=2000, actor="H-SO-fire-1"))
    assert (state.unit, state.assignee, state.accepted_ms) == ("SO-fire", "H-SO-fire-1", 2000)
    again = apply(state, event("accept", actor="H-SO-fire-2"))
    assert isinstance(again, Rejection) and "already accepted" in again.reason
    late = apply(state, event("decline"))
    assert isinstance(late, Rejection) and "reassign" in late.reason


def test_reassign_to_the_same_holder_is_refused() -> None:
    state = run(event("report"), event("verify"), event("dispatch", target_unit="SO-fire"))
    same = apply(state, event("reassign", target_unit="SO-fire"))
    assert isinstance(same, Rejection) and "already held by SO-fire" in same.reason
    other = apply(state, event("reassign", target_unit="SO-fire", target_person="H-SO-fire-2"))
    assert isinstance(other, Transition) and other.after.assignee == "H-SO-fire-2"


def test_after_a_decline_the_dispatcher_reassigns_to_another_unit() -> None:
    state = run(event("report", ts=1), event("verify", ts=2),
                event("dispatch", ts=3, target_unit="SO-urban"),
                event("decline", ts=4, reason="not ours"),
                event("reassign", ts=5, target_unit="DD-water", target_person="H-DD-water-2"))
    assert (state.step, state.unit, state.assignee, state.dispatched_unit) == (
        "dispatched", "DD-water", "H-DD-water-2", "DD-water")
    assert state.step_entered_ms == state.sla_start_ms == 5


def test_untargeted_dispatch_stays_with_the_tier_queue() -> None:
    state = run(event("report"), event("verify"), event("dispatch"))
    assert (state.step, state.unit) == ("dispatched", "grid.PL01-01")


def test_escalation_moves_the_case_through_the_tier_queues_keeping_history() -> None:
    state = run(event("report", ts=1), event("verify", ts=2),
                event("dispatch", ts=3, target_unit="SO-urban"))
    units = []
    for ts in (10, 20, 30):
        state = run_from(state, event("escalate", ts=ts))
        units.append(state.unit)
    assert units == ["CS-PL01", "CC", "district"]
    assert [h.action for h in state.holders] == ["report", "dispatch", "escalate", "escalate",
                                                 "escalate"]
    assert state.sla_start_ms == 3  # an escalation does not move the step's deadline


def test_reopen_returns_the_case_to_the_unit_it_was_dispatched_to() -> None:
    state = run(event("report"), event("verify"), event("dispatch", target_unit="SO-env"),
                event("accept"), event("handle"), event("reopen"))
    assert (state.step, state.unit, state.accepted_ms) == ("dispatched", "SO-env", None)


def test_holders_are_bounded_and_the_inputs_untouched() -> None:
    state = run(event("report"), event("verify"), event("dispatch", target_unit="U-0"))
    before = state
    for n in range(1, 2 * HOLDERS_LIMIT):
        state = run_from(state, event("reassign", target_unit=f"U-{n}"))
    assert len(state.holders) == HOLDERS_LIMIT
    assert state.holders[-1].unit == f"U-{2 * HOLDERS_LIMIT - 1}"
    assert len(before.holders) == 2 and before.unit == "U-0"


def test_attachments_gather_from_every_event() -> None:
    state = run(event("report", attachments=["https://img.example/a.jpg"]), event("verify"),
                event("dispatch", target_unit="SO-env"),
                event("handle", attachments=["https://img.example/b.jpg"]))
    assert state.attachments == ["https://img.example/a.jpg", "https://img.example/b.jpg"]


def test_the_default_queues_follow_the_tiers() -> None:
    assert [DEFAULT_QUEUES.queue(t, "PL07-03") for t in (1, 2, 3, 4)] == [
        "grid.PL07-03", "CS-PL07", "CC", "district"]


def run_from(state: CaseSnapshot, e: CaseEvent) -> CaseSnapshot:
    """``state`` after the legal ``e``."""
    result = apply(state, e)
    assert isinstance(result, Transition), result
    return result.after
