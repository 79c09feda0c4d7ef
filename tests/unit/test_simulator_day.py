"""The simulator's day model and event stream (pure: no services)."""

from __future__ import annotations

import itertools
from collections import Counter

import msgspec
import pytest

from domain.geo import street
from domain.schemas import CaseEvent, DepartmentRecord, SensorReading
from domain.wire import decode, encode
from ingest.simulator import SimConfig, Simulation, generate
from ingest.simulator.daymodel import (
    PATROL,
    RESIDENT,
    DayClock,
    local_hour,
    relative_weight,
    weight,
)
from ingest.simulator.engine import run_tag_for

START = 1_767_225_600_000  # 2026-01-01 08:00 in the street (UTC+8)


def test_resident_reports_peak_in_the_morning_and_evening() -> None:
    night, morning, midday, evening = (weight(RESIDENT, h) for h in (3.0, 8.5, 13.0, 19.0))
    assert morning > 3 * night and evening > 3 * night
    assert morning > midday and evening > midday
    assert evening > morning  # people are home in the evening


def test_patrols_happen_in_working_hours() -> None:
    assert weight(PATROL, 3.0) < 0.05 < 1.5 < weight(PATROL, 9.5)
    assert weight(PATROL, 12.5) < weight(PATROL, 15.0)


@pytest.mark.parametrize("profile", [RESIDENT, PATROL])
def test_relative_weight_averages_to_one_over_a_day(profile: tuple[float, ...]) -> None:
    samples = [relative_weight(profile, i / 60) for i in range(24 * 60)]
    assert sum(samples) / len(samples) == pytest.approx(1.0, rel=1e-3)
    assert weight(profile, 25.5) == weight(profile, 1.5)  # periodic


def test_day_clock_runs_speedup_times_faster() -> None:
    assert DayClock(8.0, speedup=60).hour_at(60) == pytest.approx(9.0)
    assert DayClock(23.0, speedup=1).hour_at(7200) == pytest.approx(1.0)
    assert local_hour(START) == pytest.approx(8.0)
    with pytest.raises(ValueError):
        DayClock(8.0, speedup=0)


def test_same_seed_same_stream_other_seed_other_stream() -> None:
    first = list(generate(7, 3000, START, rate=500, speedup=300))
    assert first == list(generate(7, 3000, START, rate=500, speedup=300))
    assert first != list(generate(8, 3000, START, rate=500, speedup=300))


def test_another_start_moves_only_the_timestamps() -> None:
    pinned = {"rate": 500.0, "speedup": 300.0, "day_start_h": 9.0, "run_tag": "t1"}
    later = START + 86_400_000 + 1234
    a = list(generate(3, 2000, START, **pinned))
    b = list(generate(3, 2000, later, **pinned))
    assert [msgspec.structs.replace(e, ts=e.ts + later - START) for e in a] == b


def test_a_rebased_run_moves_only_the_timestamps_and_only_before_it_began() -> None:
    from ingest.simulator.engine import SimConfig, Simulation

    config = SimConfig(seed=3, rate=500.0, speedup=300.0)
    later = START + 1_654  # what loading a city and connecting took
    rebased = Simulation(config, START)
    rebased.rebase(later)
    a = Simulation(config, START).take(2000)
    b = rebased.take(2000)
    assert b[0].ts == later
    assert [msgspec.structs.replace(e, ts=e.ts + later - START) for e in a] == b
    with pytest.raises(RuntimeError):
        rebased.rebase(START)


def test_slots_are_stamped_at_the_rate_in_order() -> None:
    events = list(generate(1, 1000, START, rate=400))
    assert [e.ts for e in events] == [START + int(k * 1000 / 400) for k in range(1000)]


def test_every_event_validates_and_is_placed_in_a_grid() -> None:
    the_street = street()
    for event in generate(11, 20_000, START, rate=200, speedup=600):
        assert decode(encode(event), type(event)) == event
        assert event.grid_id is not None and the_street.has_grid(event.grid_id)
        if event.lon is not None and event.lat is not None:
            assert the_street.grid_at(event.lon, event.lat) == event.grid_id


def test_the_mix_is_mostly_readings_with_cases_and_records() -> None:
    kinds = Counter(type(e) for e in generate(5, 20_000, START, rate=100, speedup=600))
    assert kinds[SensorReading] > 0.8 * 20_000
    assert kinds[CaseEvent] > 0.03 * 20_000
    assert kinds[DepartmentRecord] > 0.005 * 20_000


def _reports(day_start_h: float, seed: int) -> int:
    events = generate(seed, 40_000, START, rate=100, day_start_h=day_start_h)
    return sum(isinstance(e, CaseEvent) and e.action in ("report", "resolve_on_spot")
               for e in events)


def test_reports_follow_the_time_of_day() -> None:
    night = sum(_reports(3.0, seed) for seed in (1, 2))
    evening = sum(_reports(19.0, seed) for seed in (1, 2))
    morning = sum(_reports(9.0, seed) for seed in (1, 2))
    assert evening > 2.5 * night
    assert morning > 2.5 * night


def test_run_tag_is_id_safe_and_follows_the_start() -> None:
    assert run_tag_for(START) != run_tag_for(START + 1)
    assert run_tag_for(START).isalnum()
    sim = Simulation(SimConfig(seed=1), START)
    case = next(e for e in itertools.islice(sim, 5000) if isinstance(e, CaseEvent))
    assert case.case_id.startswith(run_tag_for(START) + "-c")


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        SimConfig(rate=0)
    with pytest.raises(ValueError):
        SimConfig(speedup=-1)
