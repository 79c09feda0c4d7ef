"""SLA policy: the file loads, deadlines follow category × priority × step, bad ones fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.sla import TIMED_STEPS, PolicyError, SlaPolicy, load_policy

CONFIG = Path(__file__).resolve().parents[2] / "config" / "sla.yaml"


@pytest.fixture(scope="module")
def policy() -> SlaPolicy:
    return load_policy(CONFIG)


def test_defaults_and_priority_factor(policy: SlaPolicy) -> None:
    base = policy.defaults["dispatched"]
    assert policy.deadline_s("noise", "normal", "dispatched") == base
    assert policy.deadline_s("noise", "high", "dispatched") == round(base * 0.5)
    assert policy.deadline_s("noise", "low", "dispatched") == base * 2


def test_category_override(policy: SlaPolicy) -> None:
    assert policy.deadline_s("fire_hazard", "normal", "reported") == 300
    assert policy.deadline_ms("fire_hazard", "normal", "reported", 1_000) == 301_000


def test_terminal_steps_have_no_clock(policy: SlaPolicy) -> None:
    assert policy.deadline_s("noise", "normal", "evaluated") is None
    assert policy.deadline_s("noise", "normal", "rejected") is None


def test_round_trip(policy: SlaPolicy) -> None:
    assert SlaPolicy.from_mapping(policy.to_mapping()) == policy


@pytest.mark.parametrize(("data", "path"), [
    ([], "policy"),
    ({"defaults": {"reported": 10}}, "defaults.verified"),
    ({"defaults": dict.fromkeys(TIMED_STEPS, 10), "extra": 1}, "policy.extra"),
    ({"defaults": {**dict.fromkeys(TIMED_STEPS, 10), "handled": 0}}, "defaults.handled"),
    ({"defaults": {**dict.fromkeys(TIMED_STEPS, 10), "handled": "1h"}}, "defaults.handled"),
    ({"defaults": dict.fromkeys(TIMED_STEPS, 10), "priority_factor": {"urgent": 1}},
     "priority_factor.urgent"),
    ({"defaults": dict.fromkeys(TIMED_STEPS, 10), "categories": {"ufo": {}}}, "categories.ufo"),
    ({"defaults": dict.fromkeys(TIMED_STEPS, 10), "categories": {"noise": {"x": 1}}},
     "categories.noise.x"),
])
def test_bad_policies_name_the_path(data: object, path: str) -> None:
    with pytest.raises(PolicyError) as info:
        SlaPolicy.from_mapping(data)
    assert str(info.value).startswith(path)
