"""The load generator's cheaper paths produce what the straightforward code produced (pure).

Each test holds a reference written the plain way (the code the fast path replaced) and
checks the fast path gives the same output: partitions, batches, Kafka records, readings.
"""

from __future__ import annotations

import random

import pytest
from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from core.kafka_records import OutRecord, partition_for
from domain.contracts.topics import CASE_EVENTS, DEPARTMENT_RECORDS, SENSOR_READINGS
from domain.geo import street
from domain.schemas import SensorReading
from domain.wire import encode
from ingest.batching import grid_batches, group_readings
from ingest.simulator import generate
from ingest.simulator.batch_producer import group_by_partition
from ingest.simulator.daymodel import is_night
from ingest.simulator.engine import Event, Mix, SimConfig, Simulation
from ingest.simulator.kafka_sink import out_records
from ingest.simulator.runner import hold_readings
from ingest.simulator.sensors import PROFILES, SensorFleet
from ingest.simulator.sink import split

START = 1_767_225_600_000


def _aiokafka_partition(key: str, partitions: int) -> int:
    """aiokafka's DefaultPartitioner for a keyed record (aiokafka/partitioner.py)."""
    return (aiokafka_murmur2(key.encode()) & 0x7FFFFFFF) % partitions


@pytest.mark.parametrize("partitions", [1, 3, 8, 12])
def test_partition_for_is_aiokafkas_partition_too(partitions: int) -> None:
    """The gateway (kafka-python) and the load generator (aiokafka) place a key alike."""
    keys = list(street().grids) + [f"CT{c:03d}-{g:03d}" for c in range(1, 40)
                                   for g in range(1, 40)]
    assert {partition_for(k, partitions) for k in keys} <= set(range(partitions))
    for key in keys:
        assert partition_for(key, partitions) == _aiokafka_partition(key, partitions)


def _records(n: int) -> list[OutRecord]:
    rng = random.Random(5)
    topics = (SENSOR_READINGS, CASE_EVENTS, DEPARTMENT_RECORDS)
    return [OutRecord(rng.choice(topics), f"G{rng.randint(1, 40):02d}", f"{i}".encode())
            for i in range(n)]


def test_group_by_partition_places_every_record_once_in_order() -> None:
    records = _records(2000)
    partitions = {t.name("p."): 8 for t in (SENSOR_READINGS, CASE_EVENTS, DEPARTMENT_RECORDS)}
    groups = group_by_partition(records, "p.", partitions)
    assert sorted(r.value for g in groups.values() for r in g) == sorted(
        r.value for r in records)
    for (topic, partition), group in groups.items():
        assert all(r.topic.name("p.") == topic for r in group)
        assert all(partition_for(r.key, 8) == partition for r in group)
        # order within a partition is the input order
        assert group == [r for r in records if r.topic.name("p.") == topic
                         and partition_for(r.key, 8) == partition]
    cache: dict[tuple[str, str], tuple[str, int]] = {}
    assert group_by_partition(records, "p.", partitions, cache) == groups
    assert group_by_partition(records, "p.", partitions, cache) == groups  # cache reused


def _reading(i: int, grid: str) -> SensorReading:
    return SensorReading(sensor_id=f"S{i}", kind="smoke", value=0.5, ts=START + i, grid_id=grid)


def test_grid_batches_is_group_readings_of_grouped_readings() -> None:
    readings = [_reading(i, f"G{i % 7}") for i in range(100)]
    by_grid: dict[str, list[SensorReading]] = {}
    for r in readings:
        by_grid.setdefault(r.grid_id or "", []).append(r)
    for limit in (1, 5, 14, 15, 2000):
        pairs = ((r.grid_id or "", r) for r in readings)
        assert grid_batches(by_grid, "req", 9, "sensor", limit) == group_readings(
            pairs, "req", 9, "sensor", limit)


def _reference_out_records(events: list[Event], request_id: str, received_ms: int
                           ) -> list[OutRecord]:
    """out_records as it was written before the one-pass grouping."""
    parts = split(events)
    records = [OutRecord(SENSOR_READINGS, batch.grid_id, encode(batch))
               for batch in group_readings(((r.grid_id or "", r) for r in parts.readings),
                                           request_id, received_ms, source="sensor")]
    records += [OutRecord(CASE_EVENTS, e.grid_id or "", encode(e)) for e in parts.cases]
    records += [OutRecord(DEPARTMENT_RECORDS, r.grid_id or "", encode(r))
                for department in parts.records.values() for r in department]
    return records


def test_out_records_are_the_reference_records() -> None:
    events = list(generate(3, 6000, START, rate=500, speedup=600))
    assert {type(e).__name__ for e in events} == {"SensorReading", "CaseEvent",
                                                 "DepartmentRecord"}
    assert out_records(events, "tag-d1", START) == _reference_out_records(
        events, "tag-d1", START)


@pytest.mark.parametrize("kind", sorted(PROFILES))
def test_normal_values_are_the_reference_formula(kind: str) -> None:
    profile = PROFILES[kind]
    sim = profile.sim
    ours, theirs = random.Random(11), random.Random(11)
    for i in range(3000):
        hour = (i * 0.37) % 24 - (24 if i % 97 == 0 else 0)  # also hours outside [0, 24)
        mean = sim.night_mean if sim.night_mean is not None and is_night(hour) else sim.mean
        want = round(min(sim.normal_max, max(0.0, theirs.gauss(mean, sim.spread))),
                     sim.decimals)
        assert profile.normal(ours, hour) == want


def test_a_dying_sensors_last_reading_removes_it_and_the_cycle_goes_on() -> None:
    fleet = SensorFleet(street().sensors.values(), random.Random(4))
    n = fleet.live_count
    seen = [fleet.next_reading(START + i, 12.0).sensor_id for i in range(n * 5)]
    assert fleet.dead and fleet.live_count == n - len(fleet.dead)
    for sensor in fleet.dead:
        last = max(i for i, s in enumerate(seen) if s == sensor)
        assert last < n * 4  # died within its first four readings
    # after the deaths every live sensor reports exactly once per cycle
    tail = [fleet.next_reading(START, 12.0).sensor_id for _ in range(fleet.live_count)]
    assert len(set(tail)) == fleet.live_count and not set(tail) & set(fleet.dead)


class Walking(Simulation):
    """The reference: every slot takes the share-by-share walk (no reading shortcut)."""

    def _report_shares(self, hour: float) -> list[tuple[str, float]]:
        shares = super()._report_shares(hour)
        self._reading_above = 2.0  # no draw is above: always walk
        return shares


@pytest.mark.parametrize("chunks", [(1,), (7, 1, 300), (5000,)])
def test_take_gives_the_walks_stream_whatever_the_chunk_sizes(chunks: tuple[int, ...]
                                                              ) -> None:
    mix = Mix(report=0.2, record=0.15)  # many slots are not readings
    one_by_one = Walking(SimConfig(seed=9, rate=200, speedup=900, mix=mix), START)
    want = [encode(next(one_by_one)) for _ in range(5000)]
    chunked = Simulation(SimConfig(seed=9, rate=200, speedup=900, mix=mix), START)
    got: list[bytes] = []
    while len(got) < 5000:
        for size in chunks:
            got += [encode(e) for e in chunked.take(min(size, 5000 - len(got)))]
    assert got == want
    assert chunked.counts == one_by_one.counts and chunked.slot == one_by_one.slot == 5000
    kinds = {type(e).__name__ for e in generate(9, 5000, START, rate=200, speedup=900, mix=mix)}
    assert kinds == {"SensorReading", "CaseEvent", "DepartmentRecord"}


def test_hold_readings_splits_a_chunk_in_order() -> None:
    events = list(generate(4, 3000, START, rate=300, speedup=600))
    for chunk in (events, events[:1], [], [e for e in events if type(e) is SensorReading],
                  [e for e in events if type(e) is not SensorReading]):
        held: list[Event] = [events[0]]
        others = hold_readings(list(chunk), held)
        assert held == [events[0]] + [e for e in chunk if type(e) is SensorReading]
        assert others == [e for e in chunk if type(e) is not SensorReading]
    assert any(type(e) is not SensorReading for e in events)
