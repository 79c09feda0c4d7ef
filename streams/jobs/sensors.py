"""The sensors job: whole SensorBatch messages in, alert signals and rollups out.

It runs as a plain consumer loop inside the worker (:func:`streams.runner.on_loop`, not a
Faust stream: the readings are the volume, and Faust's cost is per message). Per fetched
batch of Kafka records the runner decodes each message as one
:class:`~domain.schemas.SensorBatch` or an array of them (the topic is packed per
partition: a message may carry the batches of many grids of its partition) with msgspec;
:meth:`SensorsJob.handle` runs the
detector and the rollup over its readings in plain structures and sends the condition
changes as alert signals (alert-ops topic, deterministic op ids, so a replay is
deduplicated by the alerts agent); the runner flushes them and only then does the loop
commit the input. A heartbeat timer raises dead-sensor alerts;
a rollup timer writes changed 1-minute rollups through the sink. Raw readings reach
ClickHouse through the sink reading the readings topic itself (:mod:`streams.rows_metrics`).
The thresholds policy is live: control-topic key ``thresholds``.

Sensor state belongs to the partition of its grid (:class:`SensorsJob` is the loop's
:class:`~streams.batchloop.PartitionState`). On revocation the partition's grids are
dropped from the detector (state, rolling windows, heartbeats: their timers stop) and the
rollup. On assignment the partition is replayed silently from :func:`replay_horizon_ms`
back (every heartbeat timeout and the rollup retention, plus a minute) up to the committed
offset; then the heartbeats of its grids are armed (see
:meth:`~streams.sensors.detector.SensorDetector.restored`) and clears of the conditions
not active are sent (op ids ``restore.<partition>.<offset>.<fingerprint>``: every owner
restoring at that offset sends the same ops). The heartbeat timer judges silence at the
time up to which the loop has read every owned partition to its end
(:meth:`~streams.batchloop.BatchLoop.read_until_ms`), never at a time whose readings are
still unread: from an assignment on, through the restore (whose heartbeats date from the
last replayed reading, older than the timeout after an owner crashed) until the backlog past
the committed offset is handled, that time is 0 and no sensor is due. A dead-sensor op id
names the silence's deadline (``dead.<sensor>.<deadline>``), so two owners raising it raise
it once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
from aiokafka import TopicPartition

from core.kafka_records import partition_for
from domain.alerts import Signal
from domain.contracts.topics import ALERT_OPS, GRID_PARTIALS, SENSOR_READINGS
from domain.geo import street
from domain.schemas import SensorBatch, decode_sensor_batches
from domain.sensor_policy import SensorPolicy, load_sensor_policy
from domain.wire import encode
from streams.alert_logic import SignalEntry, packed
from streams.batchloop import BatchLoop
from streams.ext import Ext, wall_ms
from streams.metrics.coalesce import Coalescer
from streams.metrics.windows import MINUTE_MS
from streams.outbox import Outbox
from streams.partials import (
    SENSORS_SOURCE,
    SensorPartial,
    encode_sensor_partial,
    partial_key,
)
from streams.rows_metrics import sensor_readings_decoder
from streams.runner import Item, Tally, Timer
from streams.sensors.detector import GridHealth, SensorDetector
from streams.sensors.rollup import SensorRollup

TAKE_MAX = 2_000  # records per fetched batch
# bytes per fetched batch: ~25,000 readings, so one batch (handled whole before its commit,
# a rebalance waiting meanwhile) stays a fraction of a second of work
FETCH_MAX_BYTES = 4 * 1024 * 1024
# readings handled between two yields to the event loop: ~5-10 ms of work, so a case event
# never waits long behind a large batch (the worker's jobs share one event loop)
SLICE_READINGS = 2_000
SLICE_GRIDS = 500  # grids' health computed between two yields (publish_health)
SLICE_ROWS = 5_000  # rollup rows queued between two yields (flush_rollups)
HEARTBEAT_TICK_S = 0.5
HEALTH_TICK_S = 0.1
HEALTH_INTERVAL_MS = 500  # a grid's health looked at twice a second at most, sent if changed
ROLLUP_TICK_S = 1.0
# open minutes' rollup rows rewritten per tick at most (a street's ~500 all at every tick; a
# city's ~50,000 each about every 25 s: nothing live reads them, and at city scale each row
# costs the sensors process and the sink ~20 µs); a closed minute's row is written at the
# next tick
ROLLUP_OPEN_PER_TICK = 2_000


def replay_horizon_ms(policy: SensorPolicy, rollup: SensorRollup) -> int:
    """How far back a restore replays: the longest heartbeat timeout and the rollup
    retention, plus a minute (so every held rollup minute is replayed whole)."""
    longest = max(policy.heartbeat_ms(kind) for kind in policy.kinds)
    return max(longest, rollup.retention_ms) + MINUTE_MS


class SensorsJob:
    """Detector and rollup state per input partition (the loop's PartitionState), the batch
    handler and the timers."""

    name = "sensors"
    source = "sensor"
    keyed_dead_letters = True
    topic = SENSOR_READINGS.base
    max_records = TAKE_MAX
    fetch_max_bytes = FETCH_MAX_BYTES

    def __init__(self, ext: Ext, detector: SensorDetector, rollup: SensorRollup) -> None:
        self.ext = ext
        self.detector = detector
        self.rollup = rollup
        self.loop: BatchLoop | None = None
        self.grids: dict[TopicPartition, set[str]] = {}  # owned grids per partition
        self._replay_from = 0
        self.health_due: Coalescer[str] = Coalescer(HEALTH_INTERVAL_MS)
        self.source_ms: dict[str, int] = {}
        self.sent_health: dict[str, GridHealth] = {}  # the last health sent per owned grid
        self._changed: dict[str, int] = {}  # grids whose health may have changed, oldest input

    def touch(self, oldest: dict[str, int]) -> None:
        """Grids whose sensor health may have changed, with the oldest input time behind."""
        for grid_id, ms in oldest.items():
            self.source_ms[grid_id] = min(self.source_ms.get(grid_id, ms), ms)
        self.health_due.touch(oldest)

    async def publish_health(self) -> int:
        """Send the sensor health of the due grids this worker owns to the street stage
        (:class:`~streams.partials.SensorPartial` on the grid-partials topic), only where it
        differs from the last one this worker sent for the grid (a partial is a full state,
        and the street stage holds the latest; nothing in it depends on time passing).
        Return how many partials were sent."""
        due = self.health_due.due(wall_ms())
        if not due:
            return 0
        wanted = [g for g in due if any(g in grids for grids in self.grids.values())]
        out = self.ext.outbox()
        topic = self.ext.topic(GRID_PARTIALS.base)
        sent = 0
        for start in range(0, len(wanted), SLICE_GRIDS):
            if start:  # a city's start makes every grid due at once: let the others run
                await asyncio.sleep(0)
            for grid_id, health in self.detector.health(
                    wanted[start:start + SLICE_GRIDS]).items():
                if self.sent_health.get(grid_id) == health:
                    continue
                self.sent_health[grid_id] = health
                partial = SensorPartial(grid_id=grid_id,
                                        source_ms=self.source_ms.pop(grid_id, None),
                                        health=health)
                out.latest(topic, partial_key(grid_id, SENSORS_SOURCE),
                           encode_sensor_partial(partial))
                sent += 1
        for grid_id in due:
            self.source_ms.pop(grid_id, None)
        await out.flush()
        return sent

    @classmethod
    def from_config(cls, ext: Ext) -> SensorsJob:
        """The job with the thresholds of the config dir (a live config key) and the street's
        sensors."""
        policy = load_sensor_policy(Path(ext.runtime.settings.config_dir) / "thresholds.yaml")
        registry = {sid: (poi.grid_id, poi.sensor_kind or "") for sid, poi in
                    street().sensors.items()}
        job = cls(ext, SensorDetector(policy, registry), SensorRollup())
        _live_policy(ext.runtime.config, policy, job.detector)
        return job

    def sink_decoder(self) -> Any:
        """The sink's decoder of the readings topic (levels by the live thresholds)."""
        return sensor_readings_decoder(
            lambda kind, value: self.detector.policy.kinds[kind].level(value))

    # -- the batch (streams.runner) --------------------------------------------------------

    def decode(self, record: Any) -> list[SensorBatch]:
        """The SensorBatches of one message."""
        return decode_sensor_batches(record.value)

    async def handle(self, batch: list[Item], out: Outbox) -> Tally:
        """Run the detector and the rollup over the readings; the signals as one packed
        alert op per grid and batch. Yields to the event loop every :data:`SLICE_READINGS`
        readings (the batch loop's lock keeps a rebalance out meanwhile).

        Only grids whose sensor health may have changed become due for a health partial:
        a grid's :class:`~streams.sensors.detector.GridHealth` changes only with a signal
        (a level, an anomaly or a dead sensor coming back) or a sensor seen for the first
        time; the heartbeat timer and a restore make their own grids due.
        """
        alert_ops = self.ext.topic(ALERT_OPS.base)
        detector = self.detector
        readings = sliced = 0
        oldest_input: int | None = None
        changed: dict[str, int] = {}
        for rec, sensor_batches in batch:
            grids = self.partition_grids(rec)
            for sensor_batch in sensor_batches:
                if readings - sliced >= SLICE_READINGS:
                    sliced = readings
                    await asyncio.sleep(0)
                grid, received = sensor_batch.grid_id, sensor_batch.received_ms
                grids.add(grid)
                known = len(detector.sensors)
                signals = detector.update(sensor_batch)
                if signals:
                    send_per_grid(out, alert_ops, f"sen.{sensor_batch.batch_id}", received,
                                  [(f"sen.{sensor_batch.batch_id}.{i}", signal)
                                   for i, signal in enumerate(signals)])
                self.rollup.add(sensor_batch)
                readings += len(sensor_batch.readings)
                if signals or len(detector.sensors) != known:
                    changed[grid] = min(changed.get(grid, received), received)
                if oldest_input is None or received < oldest_input:
                    oldest_input = received
        self._changed = changed
        return Tally(readings, oldest_input, oldest_input is not None)

    async def write_state(self) -> None:
        """The batch's grids whose health may have changed are due for a health partial
        (after its outputs are acked)."""
        changed, self._changed = self._changed, {}
        self.touch(changed)

    def timers(self) -> list[Timer]:
        """Heartbeats (dead sensors), health partials, rollup rows."""
        return [Timer("sensor_heartbeats", HEARTBEAT_TICK_S, self.fire_heartbeats),
                Timer("sensor_health", HEALTH_TICK_S, self.publish_health),
                Timer("sensor_rollups", ROLLUP_TICK_S, self.flush_rollups)]

    async def fire_heartbeats(self) -> int:
        """Raise the sensors silent past their heartbeat (judged at :meth:`clock_ms`)."""
        signals = self.detector.due(self.clock_ms(self.ext.now_ms()))
        if not signals:
            return 0
        out = self.ext.outbox()
        send_per_grid(out, self.ext.topic(ALERT_OPS.base), f"dead.{signals[0].ts}",
                      signals[0].ts,
                      [(f"dead.{signal.sensor_id}.{signal.ts}", signal) for signal in signals])
        await out.flush()
        self.touch({s.grid_id: wall_ms() for s in signals})
        return len(signals)

    async def flush_rollups(self) -> int:
        """Write the changed 1-minute rollups through the sink (closed minutes at once, at
        most :data:`ROLLUP_OPEN_PER_TICK` open ones, first changed first); return how many
        rows."""
        rows = self.rollup.rows(version=wall_ms(), max_open=ROLLUP_OPEN_PER_TICK)
        if not rows:
            return 0
        out = self.ext.outbox()
        for i, row in enumerate(rows):
            if i and not i % SLICE_ROWS:  # a minute's end closes every grid's minute at once
                await asyncio.sleep(0)
            out.row("sensor_rollup_1m", row, (row["grid_id"], row["kind"], row["minute_ms"]))
        await out.flush()
        return len(rows)

    def partition_grids(self, rec: Any) -> set[str]:
        """The owned grids of the partition of ``rec`` (add the grids of its batches)."""
        return self.grids.setdefault(TopicPartition(rec.topic, rec.partition), set())

    def replay_from_ms(self) -> int:
        """Replay from the horizon back (see :func:`replay_horizon_ms`)."""
        self._replay_from = wall_ms() - replay_horizon_ms(self.detector.policy, self.rollup)
        return self._replay_from

    def replay(self, records: Sequence[Any]) -> None:
        """Readings already handled: into the detector and rollup, without signals."""
        for rec in records:
            try:
                batches = decode_sensor_batches(rec.value)
            except msgspec.MsgspecError:
                continue  # dead-lettered when it was handled
            grids = self.partition_grids(rec)
            for batch in batches:
                grids.add(batch.grid_id)
                self.detector.update(batch, silent=True)
                self.rollup.add(batch, replay=True)

    async def restored(self, partitions: dict[TopicPartition, int], now_ms: int) -> None:
        """Arm heartbeats of the partitions' grids, rewrite their rollups, send clears."""
        out = self.ext.outbox()
        alert_ops = self.ext.topic(ALERT_OPS.base)
        touched: dict[str, int] = {}
        for tp, end in sorted(partitions.items()):
            grids = self.grids[tp] = self.grids.get(tp, set()) | self._installed_grids(tp)
            send_per_grid(out, alert_ops, f"restore.{tp.partition}.{end}", now_ms,
                          [(f"restore.{tp.partition}.{end}.{signal.fingerprint}", signal)
                           for signal in self.detector.restored(grids, now_ms)])
            self.rollup.rewrite(grids, self._replay_from)
            touched.update(dict.fromkeys(grids, now_ms))
        for grid_id in touched:  # another owner may have sent since: send them afresh
            self.sent_health.pop(grid_id, None)
        await out.flush()
        self.touch(touched)

    def revoke(self, partitions: set[TopicPartition]) -> None:
        """Drop the partitions' grids: detector state, heartbeats, rollup cells."""
        grids: set[str] = set()
        for tp in partitions:
            grids |= self.grids.pop(tp, set()) | self._installed_grids(tp)
        self.detector.drop_grids(grids)
        self.rollup.drop_grids(grids)
        for grid_id in grids:
            self.sent_health.pop(grid_id, None)

    def clock_ms(self, now_ms: int) -> int:
        """The time silences are judged at: ``now_ms``, but not past what has been read."""
        read = self.loop.read_until_ms() if self.loop is not None else None
        return now_ms if read is None else min(now_ms, read)

    def _installed_grids(self, tp: TopicPartition) -> set[str]:
        consumer = self.loop.consumer if self.loop is not None else None
        count = len(consumer.partitions_for_topic(tp.topic) or ()) if consumer else 0
        if not count:
            return set()
        return {g for g in self.detector.installed if partition_for(g, count) == tp.partition}


def send_per_grid(out: Outbox, topic: str, op_id: str, ts: int,
                  signals: list[tuple[str, Signal]]) -> int:
    """Send ``signals`` (each with its own op id) as one packed alert op per grid, in
    order; return how many ops were sent. Faust pays its cost per message, so a restore or
    a heartbeat tick of many sensors costs one message per grid, not one per signal."""
    by_grid: dict[str, list[SignalEntry]] = {}
    for signal_id, signal in signals:
        by_grid.setdefault(signal.grid_id, []).append(SignalEntry(op_id=signal_id,
                                                                  signal=signal))
    for grid_id, entries in by_grid.items():
        out.send(topic, grid_id, encode(packed(grid_id, f"{op_id}.{grid_id}", ts, entries)))
    return len(by_grid)


def _live_policy(config: Any, policy: SensorPolicy, detector: SensorDetector) -> None:
    """Make ``thresholds`` a live config key (validated, audited by the control follower)."""
    from streams.config import register_key

    register_key("thresholds")
    if getattr(config, "thresholds", None) is None:
        config.thresholds = policy
    config.on_change("thresholds", lambda: detector.set_policy(config.thresholds))
