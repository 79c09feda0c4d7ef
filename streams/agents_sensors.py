"""The sensors job: whole SensorBatch messages in, alert signals and rollups out.

It runs as a plain consumer loop inside the worker (:class:`~streams.batchloop.BatchLoop`,
not a Faust stream: the readings are the volume, and Faust's cost is per message). Per
fetched batch of Kafka records: decode each message as one
:class:`~domain.schemas.SensorBatch` with msgspec, run the detector and the rollup over its
readings in plain structures, send the condition changes as alert signals (alert-ops topic,
deterministic op ids, so a replay is deduplicated by the alerts agent), flush, and only then
return (the loop commits the input after that). A heartbeat timer raises dead-sensor alerts;
a rollup timer writes changed 1-minute rollups through the sink. Raw readings reach
ClickHouse through the sink reading the readings topic itself (:mod:`streams.rows_metrics`).
The thresholds policy is live: control-topic key ``thresholds``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from domain.geo import street
from domain.schemas import SensorBatch
from domain.wire import encode
from infra.topics import SENSOR_READINGS
from streams.alert_logic import AlertOp
from streams.ext import Ext, wall_ms
from streams.rows_metrics import sensor_readings_decoder
from streams.sensors.detector import SensorDetector
from streams.sensors.policy import SensorPolicy, load_sensor_policy
from streams.sensors.rollup import SensorRollup
from streams.topics import ALERT_OPS

TAKE_MAX = 2_000  # records per fetched batch (~100k readings)
HEARTBEAT_TICK_S = 0.5
ROLLUP_TICK_S = 1.0
_decoder = msgspec.json.Decoder(SensorBatch)


def install(ext: Ext) -> None:
    """Add the sensors agent and its timers; hand the sink the readings decoder."""
    rt = ext.runtime
    policy = load_sensor_policy(Path(rt.settings.config_dir) / "thresholds.yaml")
    registry = {sid: (poi.grid_id, poi.sensor_kind or "") for sid, poi in
                street().sensors.items()}
    detector = SensorDetector(policy, registry)
    rollup = SensorRollup()
    ext.handles["sensors"] = detector
    ext.handles["rollup"] = rollup
    _live_policy(rt.config, policy, detector)
    if rt.sink is not None:
        rt.sink.decoders[ext.topic(SENSOR_READINGS.base)] = sensor_readings_decoder(
            lambda kind, value: detector.policy.kinds[kind].level(value))
    app = ext.app
    alert_ops = ext.topic(ALERT_OPS.base)

    async def sensors_batch(records: Sequence[Any]) -> None:
        out = ext.outbox()
        readings = 0
        oldest: dict[str, int] = {}
        for rec in records:
            try:
                batch = _decoder.decode(rec.value)
            except msgspec.MsgspecError as exc:
                out.dead("sensors.decode", "sensor", str(exc), rec.timestamp, rec.value,
                         rec.key.decode() if rec.key else None)
                continue
            for i, signal in enumerate(detector.update(batch)):
                op = AlertOp(op_id=f"sen.{batch.batch_id}.{i}", kind="signal",
                             grid_id=signal.grid_id, ts=signal.ts, signal=signal)
                out.send(alert_ops, signal.grid_id, encode(op))
            rollup.add(batch)
            readings += len(batch.readings)
            grid = batch.grid_id
            oldest[grid] = min(oldest.get(grid, batch.received_ms), batch.received_ms)
        await out.flush()
        now = wall_ms()
        ext.health.count("sensors", readings, len(records), now)
        if oldest:
            ext.health.latency("sensors", now - min(oldest.values()))
        publisher = ext.handles.get("wall")
        if publisher is not None:
            publisher.touch_grids(oldest)

    ext.add_loop("sensors", [ext.topic(SENSOR_READINGS.base)], sensors_batch, TAKE_MAX)

    @app.timer(interval=HEARTBEAT_TICK_S)
    async def sensor_heartbeats() -> None:
        await fire_heartbeats()

    async def fire_heartbeats() -> int:
        now = ext.now_ms()
        signals = detector.due(now)
        if not signals:
            return 0
        out = ext.outbox()
        for signal in signals:
            op = AlertOp(op_id=f"dead.{signal.sensor_id}.{now}", kind="signal",
                         grid_id=signal.grid_id, ts=now, signal=signal)
            out.send(alert_ops, signal.grid_id, encode(op))
        await out.flush()
        publisher = ext.handles.get("wall")
        if publisher is not None:
            publisher.touch_grids({s.grid_id: wall_ms() for s in signals})
        return len(signals)

    @app.timer(interval=ROLLUP_TICK_S)
    async def sensor_rollups() -> None:
        await flush_rollups()

    async def flush_rollups() -> int:
        rows = rollup.rows(version=wall_ms())
        if not rows:
            return 0
        out = ext.outbox()
        for row in rows:
            out.row("sensor_rollup_1m", row, (row["grid_id"], row["kind"], row["minute_ms"]))
        await out.flush()
        return len(rows)

    ext.handles.update(sensors_batch=sensors_batch, fire_heartbeats=fire_heartbeats,
                       flush_rollups=flush_rollups)


def _live_policy(config: Any, policy: SensorPolicy, detector: SensorDetector) -> None:
    """Make ``thresholds`` a live config key (validated, audited by the control follower)."""
    from streams.config import register_key

    register_key("thresholds", SensorPolicy.from_mapping)
    if getattr(config, "thresholds", None) is None:
        config.thresholds = policy
    config.on_change("thresholds", lambda: detector.set_policy(config.thresholds))
