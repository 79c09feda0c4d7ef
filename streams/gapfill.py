"""Input records Faust skipped, fetched again so that the cases agent sees every offset.

Faust's consumer can drop records: its fetcher thread remembers a read offset per
partition and drops records below it, and a seek to the committed offsets racing with a
fetch in flight (a worker taking over after a crash) has been seen to drop a record that was
never processed while later ones were (CI: one packed message of a grid's events lost,
its cases stuck half way). The input topics are written without transactions, so their
offsets are contiguous: a jump between two records of a partition is a loss.

:class:`GapFiller` keeps the last offset handed to the agent per partition. For each
record it returns the records to process in its place: the missing ones first, fetched
with a plain aiokafka consumer (no group, nothing committed), then the record itself. The
caller tells Faust afterwards (:meth:`GapFiller.mark_done`) that the filled offsets are
done, through Faust's own gap bookkeeping, so its commits move past them. Guarantees:
records of a partition reach the agent in offset order without holes; a fetch that cannot
complete raises (the worker crashes and its successor replays from the committed offset).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

log = logging.getLogger(__name__)
FETCH_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Refetched:
    """A record fetched again, shaped like the Faust message fields the agent reads."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp: float  # seconds, as Faust's


class GapFiller:
    """See the module docstring. Call :meth:`reset` after every rebalance."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.filled = 0
        self._last: dict[tuple[str, int], int] = {}
        self._gaps: list[tuple[str, int, int, int]] = []  # topic, partition, first, last
        self._consumer: AIOKafkaConsumer | None = None

    def reset(self) -> None:
        """Forget the last offsets (partitions may have moved)."""
        self._last.clear()

    async def complete(self, msg: Any) -> list[Any]:
        """The records to process for ``msg``: any skipped before it, then ``msg``."""
        key = (msg.topic, msg.partition)
        last = self._last.get(key)
        self._last[key] = max(msg.offset, last if last is not None else msg.offset)
        if last is None or msg.offset <= last + 1:
            return [msg]
        log.warning("%s[%d]: offsets %d-%d were skipped by the consumer; fetching them",
                    msg.topic, msg.partition, last + 1, msg.offset - 1)
        missing = await self._fetch(msg.topic, msg.partition, last + 1, msg.offset)
        self._gaps.append((msg.topic, msg.partition, last + 1, msg.offset - 1))
        self.filled += len(missing)
        return [*missing, msg]

    async def mark_done(self, consumer: Any) -> None:
        """Tell Faust's consumer that the filled offsets are processed (after the batch)."""
        gaps, self._gaps = self._gaps, []
        for topic, partition, first, last in gaps:
            from faust.types import TP

            await consumer._add_gap(TP(topic, partition), first, last)

    async def _fetch(self, topic: str, partition: int, start: int, end: int
                     ) -> list[Refetched]:
        if self._consumer is None:
            self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap,
                                              group_id=None, enable_auto_commit=False)
            await self._consumer.start()
        tp = TopicPartition(topic, partition)
        self._consumer.assign([tp])
        self._consumer.seek(tp, start)
        out: list[Refetched] = []
        async with asyncio.timeout(FETCH_TIMEOUT_S):
            while await self._consumer.position(tp) < end:
                batch = await self._consumer.getmany(tp, timeout_ms=500)
                for r in batch.get(tp, []):
                    if r.offset < end and r.value is not None:
                        out.append(Refetched(topic, partition, r.offset, r.key, r.value,
                                             r.timestamp / 1000))
        return out
