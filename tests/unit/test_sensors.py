"""Sensor policy, rolling z-score, heartbeat deadlines, detection, health and rollup."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from domain.schemas import SensorBatch, SensorReading
from domain.sensor_policy import KindPolicy, SensorPolicy, load_sensor_policy
from domain.sla import PolicyError
from streams.sensors.detector import SensorDetector
from streams.sensors.heartbeat import HeartbeatIndex
from streams.sensors.rolling import RollingWindow
from streams.sensors.rollup import SensorRollup, reading_rows

CONFIG = Path(__file__).resolve().parents[2] / "config" / "thresholds.yaml"
T0 = 1_800_000_000_000 - 1_800_000_000_000 % 60_000


@pytest.fixture(scope="module")
def policy() -> SensorPolicy:
    return load_sensor_policy(CONFIG)


def batch(readings: list[tuple[str, str, float, int]], grid: str = "G1") -> SensorBatch:
    return SensorBatch(batch_id=f"b{readings[0][3]}", grid_id=grid, received_ms=T0,
                       source="sensor", readings=[
                           SensorReading(sensor_id=s, kind=k, value=v, ts=t)  # type: ignore[arg-type]
                           for s, k, v, t in readings])


def test_policy_loads_round_trips_and_classifies(policy: SensorPolicy) -> None:
    assert SensorPolicy.from_mapping(policy.to_mapping()) == policy
    gas = policy.kinds["gas"]
    assert [gas.level(v) for v in (9.99, 10.0, 24.9, 25.0)] == ["ok", "warning", "warning",
                                                                "critical"]
    low = KindPolicy(heartbeat_s=60, warning_below=10, critical_below=5)
    assert [low.level(v) for v in (11, 10, 6, 5)] == ["ok", "warning", "warning", "critical"]
    assert policy.heartbeat_ms("smoke") == 300_000


@pytest.mark.parametrize(("change", "path"), [
    (lambda d: d["kinds"].pop("gas"), "kinds.gas"),
    (lambda d: d["kinds"]["gas"].update(warning_above=30), "kinds.gas.critical_above"),
    (lambda d: d["kinds"]["gas"].update(heartbeat_s=0), "kinds.gas.heartbeat_s"),
    (lambda d: d["kinds"]["gas"].update(colour="red"), "kinds.gas.colour"),
    (lambda d: d["anomaly"].update(window=1), "anomaly.window"),
    (lambda d: d["anomaly"].update(z_clear=9), "anomaly.z_clear"),
    (lambda d: d.update(extra=1), "thresholds.extra"),
])
def test_bad_policies_name_the_path(policy: SensorPolicy, change: Any, path: str) -> None:
    data = policy.to_mapping()
    change(data)
    with pytest.raises(PolicyError, match=path.replace(".", r"\.")):
        SensorPolicy.from_mapping(data)


def test_rolling_window_mean_std_zscore() -> None:
    w = RollingWindow(4)
    for v in (2.0, 4.0, 4.0, 4.0):
        w.add(v)
    assert w.mean() == 3.5
    assert w.std() == pytest.approx(math.sqrt(0.75))
    assert w.zscore(5.0) == pytest.approx(1.5 / math.sqrt(0.75))
    w.add(5.0)  # 2.0 leaves: 4, 4, 4, 5
    assert len(w) == 4 and w.mean() == 4.25
    flat = RollingWindow(3)
    for _ in range(3):
        flat.add(1.0)
    assert flat.zscore(100.0) is None  # no spread, no z


def test_rolling_window_stays_exact_over_many_values() -> None:
    w = RollingWindow(10)
    for i in range(10_000):
        w.add(1e6 + (i % 10))
    assert w.mean() == pytest.approx(1e6 + 4.5)
    assert w.std() == pytest.approx(math.sqrt(8.25))


def test_heartbeat_index_fires_once_per_silence() -> None:
    hb = HeartbeatIndex()
    hb.seen("s1", "G1", "gas", T0, 1_000)
    hb.seen("s2", "G1", "gas", T0, 5_000)
    hb.seen("s1", "G1", "gas", T0 + 800, 1_000)  # s1 moves its deadline to T0 + 1800
    assert hb.due(T0 + 1_000) == []
    assert [b.sensor_id for b in hb.due(T0 + 1_800)] == ["s1"]
    assert hb.due(T0 + 3_000) == []  # dead once, not again
    assert hb.seen("s1", "G1", "gas", T0 + 3_500, 1_000) is True  # back
    assert hb.due(T0 + 4_499) == []  # s1 back until T0 + 4500, s2 until T0 + 5000
    assert sorted(b.sensor_id for b in hb.due(T0 + 5_000)) == ["s1", "s2"]
    assert hb.due(T0 + 10_000) == []


def test_heartbeat_timeout_change_applies_to_the_kind() -> None:
    hb = HeartbeatIndex()
    hb.seen("s1", "G1", "gas", T0, 10_000)
    hb.seen("n1", "G1", "noise", T0, 10_000)
    hb.set_timeout("gas", 2_000)
    assert [b.sensor_id for b in hb.due(T0 + 2_000)] == ["s1"]


def test_detector_thresholds_raise_and_clear_on_change_only(policy: SensorPolicy) -> None:
    d = SensorDetector(policy)
    out = d.update(batch([("s1", "gas", 5.0, T0), ("s1", "gas", 12.0, T0 + 1),
                          ("s1", "gas", 13.0, T0 + 2), ("s1", "gas", 30.0, T0 + 3),
                          ("s1", "gas", 1.0, T0 + 4)]))
    assert [(s.kind, s.severity, s.raised) for s in out] == [
        ("sensor_threshold", "warning", True), ("sensor_threshold", "critical", True),
        ("sensor_threshold", "info", False)]
    assert out[0].fingerprint == "sensor_threshold:s1"
    assert out[0].category == "fire_hazard" and out[0].grid_id == "G1"
    assert d.readings == 5


def test_detector_anomaly_with_hysteresis(policy: SensorPolicy) -> None:
    d = SensorDetector(policy)  # window 60, min_samples 20, raise 4, clear 2
    values = [50.0 + (i % 2) for i in range(20)]  # mean 50.5, std 0.5
    d.update(batch([("n1", "noise", v, T0 + i) for i, v in enumerate(values)]))
    spike = d.update(batch([("n1", "noise", 52.6, T0 + 100)]))  # z = 4.2
    assert [(s.kind, s.raised) for s in spike] == [("sensor_anomaly", True)]
    # window now 20 values + 52.6: mean 50.6, std sqrt(9.2/21) = 0.662; 52.0 -> z = 2.11,
    # between z_clear and z_raise: the anomaly holds (hysteresis), no signal
    assert d.update(batch([("n1", "noise", 52.0, T0 + 101)])) == []
    assert d.sensors["n1"].anomalous is True
    # mean 50.664, std 0.709: 50.5 -> z = -0.23 < z_clear: cleared
    cleared = d.update(batch([("n1", "noise", 50.5, T0 + 102)]))
    assert [(s.kind, s.raised) for s in cleared] == [("sensor_anomaly", False)]


def test_detector_dead_sensor_timer_and_recovery(policy: SensorPolicy) -> None:
    d = SensorDetector(policy, registry={"s1": ("G1", "smoke"), "s9": ("G1", "smoke")})
    d.update(batch([("s1", "smoke", 0.5, T0)]))
    assert d.due(T0 + 299_999) == []
    dead = d.due(T0 + 300_000)
    assert [(s.kind, s.sensor_id, s.raised, s.ts) for s in dead] == [
        ("sensor_dead", "s1", True, T0 + 300_000)]
    health = d.health()["G1"]
    assert (health.known, health.reporting, health.dead) == (2, 0, 1)
    back = d.update(batch([("s1", "smoke", 0.5, T0 + 400_000)]))
    assert [(s.kind, s.raised) for s in back] == [("sensor_dead", False)]


def test_grid_health_counts(policy: SensorPolicy) -> None:
    d = SensorDetector(policy, registry={"a": ("G1", "gas"), "b": ("G1", "gas"),
                                         "c": ("G1", "gas"), "z": ("G2", "noise")})
    d.update(batch([("a", "gas", 1.0, T0), ("b", "gas", 12.0, T0)]))
    g1 = d.health()["G1"]
    assert g1.as_dict() == {"known": 3, "reporting": 2, "dead": 0, "warning": 1,
                            "critical": 0, "anomalous": 0, "health": pytest.approx(1 / 3)}
    assert d.health(["G2"])["G2"].score == 0.0
    assert set(d.health(["G2"])) == {"G2"}


def test_rollup_per_grid_kind_minute_and_rows() -> None:
    r = SensorRollup()
    r.add(batch([("a", "gas", 1.0, T0), ("b", "gas", 3.0, T0 + 59_999),
                 ("n", "noise", 60.0, T0 + 60_000)]))
    r.add(batch([("a", "gas", 8.0, T0 + 10)]))
    rows = r.rows(version=7)
    assert [(x["kind"], x["minute_ms"] - T0, x["readings"], x["value_min"], x["value_max"],
             x["value_mean"]) for x in rows] == [("gas", 0, 3, 1.0, 8.0, 4.0),
                                                 ("noise", 60_000, 1, 60.0, 60.0, 60.0)]
    assert r.rows(version=8) == []
    r.add(batch([("a", "gas", 0.0, T0 + 20 * 60_000)]))
    r.add(batch([("a", "gas", 0.0, T0)]))  # beyond 10 minutes of retention: late
    assert r.late == 1 and all(k[2] >= T0 + 10 * 60_000 for k in r.cells)


def test_rollup_writes_closed_minutes_at_once_and_open_ones_in_turn() -> None:
    r = SensorRollup()
    grids = [f"G{i:02d}" for i in range(10)]
    for g in grids:  # minute 0 (closed once minute 1 has a reading) and minute 1 (open)
        r.add(batch([("a", "gas", 1.0, T0), ("b", "gas", 2.0, T0 + 60_000)], grid=g))
    first = r.rows(version=1, max_open=4)
    assert [x["grid_id"] for x in first if x["minute_ms"] == T0] == grids  # closed: all
    assert [x["grid_id"] for x in first if x["minute_ms"] > T0] == grids[:4]  # first changed
    r.add(batch([("c", "gas", 5.0, T0 + 61_000)], grid="G00"))  # written, changed again
    second = r.rows(version=2, max_open=4)
    assert [x["grid_id"] for x in second] == grids[4:8]  # the waiting ones come first
    third = r.rows(version=3, max_open=4)
    assert [(x["grid_id"], x["readings"]) for x in third] == [("G00", 2), ("G08", 1),
                                                               ("G09", 1)]
    assert r.rows(version=4, max_open=4) == []
    r.add(batch([("c", "gas", 5.0, T0 + 62_000)], grid="G05"))
    assert [x["grid_id"] for x in r.rows(version=5)] == ["G05"]  # no limit: all


def test_reading_rows_keep_order_and_levels() -> None:
    rows = reading_rows(batch([("a", "gas", 1.0, T0), ("b", "gas", 12.0, T0 + 1)]),
                        ["ok", "warning"])
    assert [(r["sensor_id"], r["level"], r["grid_id"]) for r in rows] == [
        ("a", "ok", "G1"), ("b", "warning", "G1")]
