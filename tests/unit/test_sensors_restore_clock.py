"""The heartbeat clock across a restore: no sensor is judged dead on records not yet read.

After a worker is SIGKILLed, its successor replays each sensors partition up to the dead
worker's last commit, so the heartbeats :meth:`SensorsJob.restored` arms date from readings
older than the timeout; the readings behind the commit are still unread. The restore awaits
(the replay, the flush of its clears) and the heartbeat timer runs in those awaits: judged at
the wall clock there, every sensor of the partition was raised dead although all kept
reporting (the equality test's sigkill way, 600 sensors). The timer must see the loop's
read-until time as 0 from the assignment until the backlog is handled, and then judge
silences by it (a sensor that really went silent before the crash is still raised).

The loop runs against a fake consumer (offsets, highwater) and a fake replay; the timer tick
is called at the await points of the restore, where it runs in the worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import TopicPartition

import streams.batchloop as batchloop
from domain.schemas import SensorBatch, SensorReading, decode_sensor_batches
from domain.sensor_policy import SensorPolicy
from domain.wire import encode
from streams.batchloop import BatchLoop
from streams.jobs.sensors import SensorsJob
from streams.sensors.detector import SensorDetector
from streams.sensors.rollup import SensorRollup
from tests.unit.test_sensors import policy

__all__ = ["policy"]

TOPIC = "sensors.readings"
TP = TopicPartition(TOPIC, 0)
REGISTRY = {"s1": ("G1", "smoke"), "s2": ("G1", "smoke"), "s3": ("G2", "smoke")}


@dataclass
class Rec:
    """The fields of an aiokafka ConsumerRecord the loop and the job read."""

    offset: int
    value: bytes
    topic: str = TOPIC
    partition: int = 0
    timestamp: int = 0
    key: bytes | None = None


def readings(offset: int, grid: str, sensors: Sequence[str], ts: int) -> Rec:
    return Rec(offset, encode(SensorBatch(
        batch_id=f"{grid}.{offset}", grid_id=grid, received_ms=ts, source="sensor",
        readings=[SensorReading(sensor_id=s, kind="smoke", value=0.5, ts=ts)  # type: ignore[arg-type]
                  for s in sensors])), timestamp=ts)


class FakeConsumer:
    """One partition: committed at ``committed``, ``highwater`` once fetched."""

    def __init__(self, committed: int) -> None:
        self._committed = committed
        self.fetched_highwater: int | None = None
        self.polled_ms: int | None = None

    async def beginning_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(tps, 0)

    async def committed(self, tp: TopicPartition) -> int:
        return self._committed

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.fetched_highwater

    def last_poll_timestamp(self, tp: TopicPartition) -> int | None:
        return self.polled_ms

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self._committed = max(offsets.values())

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {0}


class TickingOutbox:
    """An outbox whose flush yields to the heartbeat timer (as a broker round trip does)."""

    def __init__(self, tick: Callable[[], None]) -> None:
        self.tick = tick
        self.sent: list[tuple[str, str, bytes]] = []

    def send(self, topic: str, key: str, value: bytes) -> None:
        self.sent.append((topic, key, value))

    async def flush(self) -> None:
        self.tick()


class FakeExt:
    def __init__(self, tick: Callable[[], None]) -> None:
        self.tick = tick

    def outbox(self) -> TickingOutbox:
        return TickingOutbox(self.tick)

    def topic(self, name: str) -> str:
        return name


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def world(policy: SensorPolicy, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A sensors job on a loop; the dead worker committed readings 10 minutes old (smoke
    heartbeat: 5 minutes), and every sensor but s2 kept reporting until a second ago."""
    timeout = policy.heartbeat_ms("smoke")
    stale = now_ms() - 2 * timeout
    fresh = now_ms() - 1_000
    committed = [readings(0, "G1", ["s1", "s2"], stale), readings(1, "G2", ["s3"], stale)]
    backlog = [readings(2, "G1", ["s1"], fresh), readings(3, "G2", ["s3"], fresh)]
    dead: list[tuple[str, str]] = []  # (when, sensor) of every dead-sensor signal
    moment = ["before"]
    detector = SensorDetector(policy, dict(REGISTRY))

    def tick() -> None:  # the heartbeat timer (fire_heartbeats), at the moment it runs
        dead.extend((moment[0], s.sensor_id) for s in detector.due(job.clock_ms(now_ms())))

    job = SensorsJob(FakeExt(tick), detector, SensorRollup())  # type: ignore[arg-type]

    async def handle(records: Sequence[Any]) -> None:  # sensors_batch, without outputs
        for rec in records:
            for sensor_batch in decode_sensor_batches(rec.value):
                job.partition_grids(rec).add(sensor_batch.grid_id)
                detector.update(sensor_batch)

    loop = BatchLoop("unused:9092", "sensors", [TOPIC], handle)
    loop.own(job)
    job.loop = loop
    consumer = FakeConsumer(committed=len(committed))
    loop.consumer = consumer  # type: ignore[assignment]

    async def replay(bootstrap: str, ends: dict[TopicPartition, int], since_ms: int | None,
                     apply: Callable[[Sequence[Any]], None],
                     client_options: dict[str, Any] | None = None) -> int:
        moment[0] = "replay"
        tick()
        apply(committed)
        tick()
        moment[0] = "restored"
        return len(committed)

    monkeypatch.setattr(batchloop, "replay_partitions", replay)
    return {"loop": loop, "job": job, "consumer": consumer, "backlog": backlog,
            "dead": dead, "moment": moment, "tick": tick}


async def test_no_sensor_is_dead_while_its_partition_restores(world: dict[str, Any]
                                                              ) -> None:
    loop, consumer, dead, moment, tick = (world[k] for k in
                                          ("loop", "consumer", "dead", "moment", "tick"))
    await loop._assigned(consumer, {TP})
    assert loop.owned() == {TP} and loop.read_until_ms() == 0
    moment[0] = "assigned"
    tick()
    assert dead == [], "sensors judged dead on readings not yet read"

    # the backlog behind the commit is fetched, handled, and the partition is at its end
    moment[0] = "caught up"
    consumer.fetched_highwater, consumer.polled_ms = 4, now_ms()
    await loop._handle(consumer, {TP: world["backlog"]})
    assert loop.read_until_ms() == consumer.polled_ms
    tick()
    # only s2, silent since before the crash, is dead (the detection still works)
    assert dead == [("caught up", "s2")]


async def test_read_until_is_zero_through_a_restore_and_none_once_revoked(
        world: dict[str, Any]) -> None:
    loop, consumer, job = world["loop"], world["consumer"], world["job"]
    seen: list[int | None] = []
    restored = job.restored

    async def watching(partitions: dict[TopicPartition, int], now: int) -> None:
        seen.append(loop.read_until_ms())
        await restored(partitions, now)
        seen.append(loop.read_until_ms())

    job.restored = watching
    assert loop.read_until_ms() is None
    await loop._assigned(consumer, {TP})
    assert seen == [0, 0]
    await loop._revoked({TP})
    assert loop.read_until_ms() is None and loop.owned() == set()
    assert world["job"].detector.heartbeats.due(now_ms() + 10**9) == []
