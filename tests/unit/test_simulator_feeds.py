"""Sensors, department records and fake personal data of the simulator (pure)."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
import yaml

from domain.geo import street
from domain.schemas import DepartmentRecord, SensorReading
from ingest.simulator import fakes, generate
from ingest.simulator.places import Places
from ingest.simulator.records import RecordMaker, credit_code
from ingest.simulator.sensors import PROFILES, FleetShares, SensorFleet

REPO = Path(__file__).resolve().parents[2]
START = 1_767_225_600_000


def test_profiles_agree_with_the_thresholds_policy() -> None:
    kinds = yaml.safe_load((REPO / "config" / "thresholds.yaml").read_text())["kinds"]
    assert set(kinds) == set(PROFILES)
    for kind, profile in PROFILES.items():
        assert profile.unit == kinds[kind]["unit"], kind
        assert profile.sim.normal_max < kinds[kind]["warning_above"] <= profile.sim.anomaly_low


def _fleet(seed: int = 1, **shares: float) -> SensorFleet:
    return SensorFleet(street().sensors.values(), random.Random(seed), FleetShares(**shares))


def test_every_live_sensor_reports_once_per_cycle() -> None:
    fleet = _fleet(dead=0.0)
    n = fleet.live_count
    assert n == len(street().sensors)
    for _ in range(2):
        assert len({fleet.next_reading(START, 12.0).sensor_id for _ in range(n)}) == n


def test_dead_sensors_fall_silent_for_good() -> None:
    fleet = _fleet(dead=0.05)
    readings = [fleet.next_reading(START + i, 12.0) for i in range(len(street().sensors) * 6)]
    assert len(fleet.dead) == round(len(street().sensors) * 0.05)
    last_seen = {r.sensor_id: i for i, r in enumerate(readings)}
    for sensor in fleet.dead:
        assert sensor in last_seen  # it reported before it died ...
        assert last_seen[sensor] < len(street().sensors) * 4  # ... and never after
    assert fleet.live_count == len(street().sensors) - len(fleet.dead)


def test_anomalies_cross_the_threshold_and_normal_values_do_not() -> None:
    fleet = _fleet(anomaly=0.02, dead=0.0)
    over = under = 0
    kinds = yaml.safe_load((REPO / "config" / "thresholds.yaml").read_text())["kinds"]
    for i in range(20_000):
        reading = fleet.next_reading(START + i, 2.0 if i % 2 else 14.0)
        threshold = kinds[reading.kind]["warning_above"]
        if reading.value > threshold:
            over += 1
            assert reading.value >= PROFILES[reading.kind].sim.anomaly_low
        else:
            assert reading.value <= PROFILES[reading.kind].sim.normal_max
            under += 1
    assert over > 0.02 * 20_000  # episodes last several readings
    assert under > 0.8 * 20_000


def test_night_is_quieter_for_noise_sensors() -> None:
    profile = PROFILES["noise"]
    rng = random.Random(3)
    night = sum(profile.normal(rng, 2.0) for _ in range(500)) / 500
    day = sum(profile.normal(rng, 14.0) for _ in range(500)) / 500
    assert night < day - 8


def test_id_numbers_names_and_phones_look_real() -> None:
    assert fakes.id_check_char("11010519491231002") == "X"  # the standard's example
    rng = random.Random(5)
    for _ in range(200):
        male = rng.random() < 0.5
        number = fakes.id_number(rng, 1980, male)
        assert re.fullmatch(r"\d{17}[\dX]", number)
        assert number[-1] == fakes.id_check_char(number[:17])
        assert number[6:10] == "1980"
        assert (int(number[16]) % 2 == 1) == male
        assert re.fullmatch(r"1[3-9]\d{9}", fakes.mobile_phone(rng))
        assert 2 <= len(fakes.person_name(rng)) <= 3
    code = credit_code(rng)
    assert len(code) == 18 and code.startswith("91371602")


def _records(seed: int, n: int) -> list[DepartmentRecord]:
    maker = RecordMaker(Places(street()), seed, "tag", random.Random(seed))
    return [maker.next_record(START + i) for i in range(n)]


def test_records_cover_every_type_with_personal_data_where_it_belongs() -> None:
    records = _records(1, 3000)
    assert {r.record_type for r in records} == {"resident", "special_group", "building",
                                                 "compound", "enterprise", "party_org",
                                                 "incident"}
    for record in records:
        assert record.department is not None and record.grid_id is not None
        if record.record_type in ("resident", "special_group"):
            assert record.person_name and record.person_id_number and record.person_phone
            assert record.attributes["household_id"]
        if record.record_type == "special_group":
            assert record.attributes["group"]


def test_standing_entities_keep_their_content_across_syncs() -> None:
    first = {r.record_id: r for r in _records(4, 4000) if r.record_type == "resident"}
    again = {r.record_id: r for r in _records(4, 8000)[4000:] if r.record_type == "resident"}
    common = set(first) & set(again)
    assert common
    for record_id in common:
        assert first[record_id].person_id_number == again[record_id].person_id_number
        assert first[record_id].attributes == again[record_id].attributes


@pytest.mark.parametrize("seed", [1, 2])
def test_stream_readings_carry_the_sensor_grid(seed: int) -> None:
    sensors = street().sensors
    for event in generate(seed, 5000, START, rate=1000):
        if isinstance(event, SensorReading):
            assert event.grid_id == sensors[event.sensor_id].grid_id
            assert event.kind == sensors[event.sensor_id].sensor_kind
