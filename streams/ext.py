"""What the stream jobs of one worker share: app, runtime, topics, outbox, health, handles.

:class:`Ext` is the context every job gets; it is built by :func:`streams.worker.build_worker`,
which also runs the jobs (:mod:`streams.runner`). It imports no job, so jobs import it
freely.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import faust

from domain.contracts.topics import ALERT_OPS, DEAD_LETTER, ROWS, WALL_UPDATES
from streams.faust_adapter import topic_partition_count
from streams.health.job import JobHealth
from streams.outbox import Outbox, Send


@dataclass
class Ext:
    """The shared pieces; ``topics`` maps a topic's base name to its full name.

    ``handles`` holds the parts jobs read of each other (``registers``, ``registers_job``,
    ``wall``) and each plain loop (``<name>_loop``, read by job health). ``send`` replaces
    the producer for every output (unit tests).
    """

    app: faust.App
    runtime: Any  # streams.app.Runtime (not imported: app -> runner -> ext would cycle)
    worker_id: str
    topics: dict[str, str]
    health: JobHealth
    handles: dict[str, Any] = field(default_factory=dict)
    send: Send | None = None
    partition_counts: dict[str, int] = field(default_factory=dict)

    def topic(self, base: str) -> str:
        """The full name of a topic."""
        return self.topics[base]

    def now_ms(self) -> int:
        """The worker's clock (the runtime's, so tests can control it)."""
        return int(self.runtime.clock())

    async def produce(self, topic: str, key: bytes, value: bytes | None,
                      partition: int | None = None) -> Any:
        """Send one record with the app's producer; the awaitable of its acknowledgement."""
        return await self.app.producer.send(topic, key, value, partition, None, None)

    async def partition_count(self, topic: str) -> int:
        """The partition count of ``topic`` (full name), asked of the broker once per topic
        (partitions are added with the workers stopped, see docs/streams.md)."""
        count = self.partition_counts.get(topic)
        if count is None:
            count = self.partition_counts[topic] = await topic_partition_count(self.app, topic)
        return count

    def outbox(self) -> Outbox:
        """A fresh outbox on the app's producer (flush waits for every acknowledgement);
        alert ops are packed per partition (with ``send`` replaced: not packed)."""
        real = self.send is None
        return Outbox(self.send or self.produce, self.topic(ROWS.base),
                      self.topic(WALL_UPDATES.base), self.topic(DEAD_LETTER.base),
                      packed={self.topic(ALERT_OPS.base): ALERT_OPS} if real else None,
                      partitions=self.partition_count if real else None)


def wall_ms() -> int:
    """Real time in epoch ms (latency figures are real time even under a test clock)."""
    return int(time.time() * 1000)
