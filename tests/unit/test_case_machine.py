"""The six-step state machine: every legal transition allowed, every illegal one rejected."""

from __future__ import annotations

import itertools

import pytest

from domain.case_machine import TRANSITIONS, Rejection, Transition, apply, initial_tier
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
