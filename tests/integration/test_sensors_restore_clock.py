"""A restarted sensors loop raises no dead sensor before it has read what it replays behind
(real broker: the real BatchLoop, replay, commit and SensorsJob; the heartbeat timer runs as
its own task every 20 ms, as the worker's timer does every 0.5 s).

The equality test's sigkill way raised ``sensor_dead`` for all 600 sensors in one run of
three: the new worker replayed the sensors partitions up to the killed worker's commit
(readings ~10 s old, heartbeat 6 s), ``restored()`` armed the heartbeats from them and then
flushed ~1,200 clear ops (~0.5 s, one timer interval); the heartbeat timer ran inside that
flush while the loop's read-until time was still None (the wall clock), and found every
sensor past its deadline. Here the restore's flush takes 0.3 s and the timer ticks all
through it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from domain.schemas import decode_sensor_batches
from domain.sensor_policy import SensorPolicy
from streams.batchloop import BatchLoop
from streams.jobs.sensors import SensorsJob
from streams.sensors.detector import SensorDetector
from streams.sensors.rollup import SensorRollup
from tests.unit.test_sensors_restore_clock import REGISTRY, readings

pytestmark = pytest.mark.integration
HEARTBEAT_S = 10  # the test runs well within it after the fresh readings
REPO = Path(__file__).resolve().parents[2]


def short_policy() -> SensorPolicy:
    mapping = yaml.safe_load((REPO / "config" / "thresholds.yaml").read_text())
    for kind in mapping["kinds"].values():
        kind["heartbeat_s"] = HEARTBEAT_S
    return SensorPolicy.from_mapping(mapping)


class SlowOutbox:
    """Sends nowhere; its flush takes a broker round trip's time (and more)."""

    def send(self, topic: str, key: str, value: bytes) -> None:
        pass

    async def flush(self) -> None:
        await asyncio.sleep(0.3)


class SlowExt:
    def outbox(self) -> SlowOutbox:
        return SlowOutbox()

    def topic(self, name: str) -> str:
        return name


def now_ms() -> int:
    return int(time.time() * 1000)


def test_a_restarted_loop_raises_no_dead_sensor_behind_its_backlog(infra: Any) -> None:
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    topic, group = f"t{uuid.uuid4().hex[:8]}.readings", f"g{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    admin.create_topics([NewTopic(topic, 1, 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=infra.kafka_bootstrap)

    def produce(grid: str, sensors: list[str], ts: int) -> None:
        rec = readings(0, grid, sensors, ts)
        producer.send(topic, key=grid.encode(), value=rec.value, partition=0)
        producer.flush()

    # the killed worker handled and committed readings older than the heartbeat ...
    stale = now_ms() - 2 * HEARTBEAT_S * 1000
    produce("G1", ["s1", "s2"], stale)
    produce("G2", ["s3"], stale)

    async def first() -> None:
        handled: list[Any] = []

        async def handle(records: Any) -> None:
            handled.extend(records)

        loop = BatchLoop(infra.kafka_bootstrap, group, [topic], handle)
        stopping = asyncio.Event()
        task = asyncio.ensure_future(loop.run(stopping))
        for _ in range(400):
            if len(handled) >= 2 or task.done():
                break
            await asyncio.sleep(0.05)
        stopping.set()
        await task
        assert len(handled) == 2

    asyncio.run(first())
    # ... and the sensors kept reporting (s2 had gone silent before the crash)
    fresh = now_ms()
    produce("G1", ["s1"], fresh)
    produce("G2", ["s3"], fresh)
    producer.close()

    dead: list[tuple[str, bool]] = []  # (sensor, whether the backlog was handled by then)

    async def restarted() -> None:
        detector = SensorDetector(short_policy(), dict(REGISTRY))
        job = SensorsJob(SlowExt(), detector, SensorRollup())  # type: ignore[arg-type]
        handled: list[Any] = []

        async def handle(records: Any) -> None:  # sensors_batch, without outputs
            for rec in records:
                for batch in decode_sensor_batches(rec.value):
                    job.partition_grids(rec).add(batch.grid_id)
                    detector.update(batch)
            handled.extend(records)

        loop = BatchLoop(infra.kafka_bootstrap, group, [topic], handle)
        loop.own(job)
        job.loop = loop
        stopping = asyncio.Event()

        async def heartbeat_timer() -> None:
            while not stopping.is_set():
                caught_up = len(handled) >= 2
                dead.extend((s.sensor_id, caught_up)
                            for s in detector.due(job.clock_ms(now_ms())))
                await asyncio.sleep(0.02)

        timer = asyncio.ensure_future(heartbeat_timer())
        task = asyncio.ensure_future(loop.run(stopping))
        for _ in range(400):
            if ("s2", True) in dead or task.done():
                break
            await asyncio.sleep(0.05)
        stopping.set()
        await task
        await timer
        assert loop.restores and loop.restores[-1]["replayed"] == 2

    asyncio.run(restarted())
    # s1 and s3 reported all along: never dead; s2 is, once the backlog is read
    assert dead == [("s2", True)]
