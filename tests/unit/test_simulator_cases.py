"""Case lifecycles of the simulator against the state machine and the SLA policy (pure)."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from domain.case_machine import Transition, apply
from domain.schemas import CaseEvent, CaseSnapshot
from domain.sla import SlaPolicy, load_policy
from ingest.simulator import generate
from ingest.simulator.cases import CasePlan, CasePlanner, CaseShares

REPO = Path(__file__).resolve().parents[2]
START = 1_767_225_600_000
SPEEDUP = 3000.0


@pytest.fixture(scope="module")
def policy() -> SlaPolicy:
    return load_policy(REPO / "config" / "sla.yaml")


@pytest.fixture(scope="module")
def plans(policy: SlaPolicy) -> list[CasePlan]:
    planner = CasePlanner(policy)
    rng = random.Random(42)
    origins = ("resident", "patrol", "property")
    return [planner.plan(rng, case_id=f"c{i}", grid_id="PL01-01", community_id="PL01",
                         origin=origins[i % 3], hour=(i * 0.37) % 24)
            for i in range(3000)]


def _replay(events: list[CaseEvent]) -> list[Transition]:
    """Apply the events in order; fail on the first illegal one."""
    state: CaseSnapshot | None = None
    transitions = []
    for event in events:
        outcome = apply(state, event)
        assert isinstance(outcome, Transition), (event, outcome)
        transitions.append(outcome)
        state = outcome.after
    return transitions


def test_every_plan_is_a_legal_lifecycle(plans: list[CasePlan]) -> None:
    for plan in plans:
        _replay([plan.event(i, START + i) for i in range(len(plan.steps))])


def test_plans_cover_the_whole_workflow(plans: list[CasePlan]) -> None:
    actions = Counter(step.action for plan in plans for step in plan.steps)
    for action in ("report", "verify", "reject", "dispatch", "handle", "close", "reopen",
                   "evaluate", "escalate", "resolve_on_spot"):
        assert actions[action] > 0, action
    patrols = [p for p in plans if p.origin == "patrol"]
    on_spot = sum(p.steps[0].action == "resolve_on_spot" for p in patrols) / len(patrols)
    assert on_spot == pytest.approx(CaseShares().on_spot, abs=0.06)


def test_waits_breach_exactly_when_flagged(plans: list[CasePlan], policy: SlaPolicy) -> None:
    for plan in plans:
        waited = 0.0
        for step in plan.steps[1:]:
            waited += step.delay_s
            if step.action == "escalate":
                continue  # the step's clock keeps running
            deadline = policy.deadline_s(plan.category, plan.priority, step.left_step or "")
            assert deadline is not None
            if step.breached:
                assert waited > deadline
            else:
                assert waited <= 0.92 * deadline + 1e-6
            waited = 0.0
    share = sum(plan.breaches > 0 for plan in plans) / len(plans)
    assert share == pytest.approx(CaseShares().breach, abs=0.04)


def test_reporters_only_on_resident_reports(plans: list[CasePlan]) -> None:
    for plan in plans:
        opening = plan.event(0, START)
        assert (opening.reporter_phone is not None) == (plan.origin == "resident")
        assert all(plan.event(i, START).reporter_name is None
                   for i in range(1, len(plan.steps)))


def test_ratings_are_worse_after_trouble(plans: list[CasePlan]) -> None:
    good, poor = [], []
    for plan in plans:
        ratings = [s.rating for s in plan.steps if s.rating is not None]
        trouble = plan.breaches or any(s.action == "reopen" for s in plan.steps)
        (poor if trouble else good).extend(r for r in ratings)
    assert sum(good) / len(good) > sum(poor) / len(poor) + 0.5


def test_the_stream_replays_legally_and_some_cases_breach(policy: SlaPolicy) -> None:
    by_case: dict[str, list[CaseEvent]] = defaultdict(list)
    for event in generate(9, 60_000, START, rate=200, speedup=SPEEDUP):
        if isinstance(event, CaseEvent):
            by_case[event.case_id].append(event)
    breached = 0
    for events in by_case.values():
        for t in _replay(events)[1:]:
            before = t.before
            assert before is not None
            if before.step == t.after.step:  # escalate
                continue
            deadline = policy.deadline_ms(before.category, before.priority, before.step, 0)
            assert deadline is not None
            # Simulated wait = wire wait x speedup.
            if (t.after.step_entered_ms - before.step_entered_ms) * SPEEDUP > deadline:
                breached += 1
                break
    assert len(by_case) > 300
    assert 0.05 < breached / len(by_case) < 0.3
