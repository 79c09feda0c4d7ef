"""State that moves with its partition: record-level registers, sensor detector drop/restore."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from domain.schemas import DepartmentRecord
from domain.sensor_policy import SensorPolicy
from streams.registers.book import RegisterBook, contribution
from streams.sensors.detector import SensorDetector
from streams.sensors.heartbeat import HeartbeatIndex
from streams.sensors.rollup import SensorRollup
from tests.unit.test_sensors import T0, batch, policy

__all__ = ["policy"]


def rec(record_id: str, kind: str = "resident", grid: str = "G1", ts: int = 1,
        department: str | None = "civil_affairs", **attributes: Any) -> DepartmentRecord:
    return DepartmentRecord(record_id=record_id, record_type=kind,  # type: ignore[arg-type]
                            ts=ts, grid_id=grid, department=department,  # type: ignore[arg-type]
                            attributes=attributes)


# -- registers: record-level, latest version wins, rebuilt by replay --

def test_same_record_id_in_two_departments_is_two_records() -> None:
    book = RegisterBook()
    book.update([rec("r1", household_id="H1"), rec("r1", household_id="H2",
                                                    department="police")])
    assert book.snapshot("G1")["population"] == 2


def test_a_correction_replaces_and_an_older_version_is_ignored() -> None:
    book = RegisterBook()
    book.update([rec("b1", "building", ts=10, households=20)])
    book.update([rec("b1", "building", ts=20, households=24)])  # correction
    assert book.snapshot("G1") == {"buildings": 1, "building_households": 24, "households": 0}
    book.update([rec("b1", "building", ts=15, households=99)])  # late, older version
    assert book.snapshot("G1")["building_households"] == 24


def test_counts_equal_the_latest_versions_whatever_the_order() -> None:
    rng = random.Random(7)
    records = [rec(f"r{rng.randrange(40)}", "resident", f"G{rng.randrange(3)}", ts=i,
                   household_id=f"H{rng.randrange(15)}") for i in range(300)]
    latest: dict[str, DepartmentRecord] = {}
    for r in records:
        latest[r.record_id] = r
    expected: dict[str, Counter[str]] = {}
    for r in latest.values():
        expected.setdefault(r.grid_id or "", Counter()).update(contribution(r)[0])
    shuffled = records[:]
    rng.shuffle(shuffled)
    for order in (records, shuffled):
        book = RegisterBook()
        book.update(order)
        for grid, counts in expected.items():
            figures = book.snapshot(grid)
            assert figures["population"] == counts["population"]
            assert figures["households"] == len({r.attributes["household_id"] for r in
                                                 latest.values() if r.grid_id == grid})
        assert len(book) == len(latest)


def test_dropped_grids_are_rebuilt_equal_by_a_replay() -> None:
    records = [rec("r1", household_id="H1"), rec("r2", household_id="H1"),
               rec("c1", "compound", households=300), rec("r9", grid="G2", household_id="X"),
               rec("r1", ts=2, household_id="H1")]
    book = RegisterBook()
    book.update(records)
    before = (book.snapshot("G1"), book.snapshot("G2"))
    book.drop_grids(["G1"])
    assert book.snapshot("G1") == {} and book.snapshot("G2") == before[1]
    book.update([r for r in records if r.grid_id == "G1"])  # the partition replayed
    assert (book.snapshot("G1"), book.snapshot("G2")) == before
    assert len(book) == 4  # r1 once (its latest version), r2, c1, r9


# -- sensors: drop, silent replay, restore --

def test_heartbeat_index_never_reports_a_forgotten_sensor() -> None:
    index = HeartbeatIndex()
    index.seen("s1", "G1", "smoke", T0, 1_000)
    index.seen("s2", "G2", "smoke", T0, 1_000)
    index.forget(["s1"])
    assert [b.sensor_id for b in index.due(T0 + 5_000)] == ["s2"]


def test_detector_drop_forgets_state_and_stops_heartbeats(policy: SensorPolicy) -> None:
    d = SensorDetector(policy, registry={"s1": ("G1", "smoke"), "s2": ("G2", "smoke")})
    d.update(batch([("s1", "smoke", 0.5, T0)], "G1"))
    d.update(batch([("s2", "smoke", 0.5, T0)], "G2"))
    d.drop_grids(["G1"])
    assert "s1" not in d.sensors and "s1" not in d.heartbeats.sensors
    assert [s.sensor_id for s in d.due(T0 + 3_600_000)] == ["s2"]


def test_silent_replay_then_restore_arms_heartbeats_and_clears(policy: SensorPolicy
                                                               ) -> None:
    registry = {"s1": ("G1", "smoke"), "s2": ("G1", "smoke"), "s3": ("G1", "smoke")}
    d = SensorDetector(policy, registry=registry)
    # replayed: s1 fine, s2 critical; s3 installed but not in the replay
    assert d.update(batch([("s1", "smoke", 0.5, T0), ("s2", "smoke", 9.0, T0)]),
                    silent=True) == []
    assert d.due(T0 + 3_600_000) == []  # nothing armed before the restore
    now = T0 + 1_000
    clears = d.restored(["G1"], now)
    assert sorted((s.sensor_id, s.kind) for s in clears) == [
        ("s1", "sensor_anomaly"), ("s1", "sensor_dead"), ("s1", "sensor_threshold"),
        ("s2", "sensor_anomaly"), ("s2", "sensor_dead")]
    assert not any(s.raised for s in clears)
    # s1 and s2 die at their last reading + 300 s, s3 at the restore time + 300 s
    assert [(s.sensor_id, s.ts) for s in d.due(T0 + 300_000)] == [
        ("s1", T0 + 300_000), ("s2", T0 + 300_000)]
    assert d.due(now + 299_999) == []
    assert [(s.sensor_id, s.ts) for s in d.due(now + 300_000)] == [("s3", now + 300_000)]


def test_an_unconfirmed_sensor_clears_a_dead_alert_on_its_first_reading(
        policy: SensorPolicy) -> None:
    d = SensorDetector(policy, registry={"s3": ("G1", "smoke")})
    d.restored(["G1"], T0)  # not in the replay: maybe left dead by the previous owner
    first = d.update(batch([("s3", "smoke", 0.5, T0 + 10)]))
    assert [(s.kind, s.raised) for s in first] == [("sensor_dead", False)]
    assert d.update(batch([("s3", "smoke", 0.5, T0 + 20)])) == []


def test_restore_rebuilds_what_the_old_owner_had(policy: SensorPolicy) -> None:
    readings = [("n1", "noise", 50.0 + (i % 3), T0 + i * 2_000) for i in range(40)]
    live = SensorDetector(policy)
    for r in readings:
        live.update(batch([r]))
    moved = SensorDetector(policy)
    moved.update(batch(readings[:1]))  # some earlier state, dropped on revocation
    moved.drop_grids(["G1"])
    for r in readings:
        moved.update(batch([r]), silent=True)
    moved.restored(["G1"], T0 + 80_000)
    a, b = live.sensors["n1"], moved.sensors["n1"]
    assert (list(a.window.values), a.level, a.anomalous, a.last_ts) == (
        list(b.window.values), b.level, b.anomalous, b.last_ts)
    assert (live.heartbeats.sensors["n1"].deadline_ms
            == moved.heartbeats.sensors["n1"].deadline_ms)


def test_rollup_drop_replay_rewrite_gives_the_same_rows() -> None:
    readings = [("a", "gas", float(i), T0 + i * 10_000) for i in range(30)]
    whole = SensorRollup()
    for r in readings:
        whole.add(batch([r]))
    expected = [{k: v for k, v in row.items() if k != "version"} for row in whole.rows(1)]
    moved = SensorRollup()
    moved.add(batch(readings[:3]))
    moved.drop_grids({"G1"})
    assert moved.rows(1) == []
    for r in readings:
        moved.add(batch([r]), replay=True)
    assert moved.rows(2) == []  # replayed minutes are not rewritten by themselves
    moved.rewrite({"G1"}, T0)
    assert [{k: v for k, v in row.items() if k != "version"} for row in moved.rows(3)
            ] == expected
