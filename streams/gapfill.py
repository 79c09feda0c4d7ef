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
caller tells Faust afterwards that the filled offsets are done (:meth:`GapFiller.take_filled`,
then Faust's own gap bookkeeping in :mod:`streams.faust_adapter`), so its commits move past
them; this module itself touches no Faust internals. Guarantees:
records of a partition reach the agent in offset order without holes; a fetch that cannot
complete raises (the worker crashes and its successor replays from the committed offset).

Heads. After a rebalance (:meth:`GapFiller.reset`) the first record handed over for a
partition is checked against where that partition starts for its owner: after the group's
committed offset, or at its beginning with no commit. Two workers under CPU load were seen
to get a partition handed over from offset 6 of 8, never 0-5, and Faust then committed 8
(its commit skips a head gap when nothing was committed before): the records before it are
fetched first, like any gap.

Tails. A gap is seen only when a later record arrives. Around a rebalance Faust was also seen
to fetch the last records of a retained partition (its fetch position at the end) and never
hand them to the agent (two workers, sensors reporting: 1 run in 3 left a partition's last
cases unapplied until the next rebalance). :meth:`GapFiller.missing_tails` finds them: for an
owned partition that handed nothing for :data:`IDLE_S` seconds while its end offset is past
the last record handed (or past Faust's committed offset), it fetches the rest the same
way — never during a rebalance (the caller checks). For a partition this owner has neither
handed nor committed a record of (a new owner), it starts after the group's committed offset,
read with a consumer that never joins the group (manual assignment); with no commit at all,
from the partition's beginning, where Faust starts it too.
Refetched records that Faust hands over after all are replays to the agent (same event id,
same offset) and change nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

log = logging.getLogger(__name__)
FETCH_TIMEOUT_S = 30.0
IDLE_S = 3.0  # a partition this long without a record handed over while it has more


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

    def __init__(self, bootstrap: str, group_id: str | None = None, *,
                 client_options: dict[str, Any] | None = None) -> None:
        self.bootstrap = bootstrap
        self.client_options = dict(client_options or {})  # aiokafka security options
        self.group_id = group_id  # the agent's consumer group (committed offsets)
        self._committed_reader: AIOKafkaConsumer | None = None
        self.filled = 0
        self._last: dict[tuple[str, int], int] = {}
        self._handed_at: dict[tuple[str, int], float] = {}  # monotonic time of the last
        self._gaps: list[tuple[str, int, int, int]] = []  # topic, partition, first, last
        self._consumer: AIOKafkaConsumer | None = None
        self._reset_at = time.monotonic()

    def reset(self) -> None:
        """Forget the last offsets (partitions may have moved)."""
        self._last.clear()
        self._handed_at.clear()
        self._reset_at = time.monotonic()

    async def missing_tails(self, owned: Sequence[tuple[str, int]],
                            committed: Mapping[tuple[str, int], int | None]
                            ) -> list[Refetched]:
        """Records at the end of ``owned`` partitions that were never handed over (see the
        module docstring); ``committed`` maps a partition to the offset of the last record
        Faust committed (None: none). The caller processes them and then calls
        :meth:`take_filled`."""
        now = time.monotonic()
        idle = [key for key in owned
                if now - max(self._handed_at.get(key, 0.0), self._reset_at) >= IDLE_S]
        if not idle:
            return []
        consumer = await self._plain_consumer()
        tps = [TopicPartition(t, p) for t, p in idle]
        ends = await consumer.end_offsets(tps)
        firsts = await consumer.beginning_offsets(tps)
        out: list[Refetched] = []
        for tp in tps:
            key = (tp.topic, tp.partition)
            last = self._last.get(key)
            done = committed.get(key)
            if last is None and done is None:
                done = await self._group_committed(tp)  # a new owner: the group's commit
            # with no commit at all, the partition starts at its beginning (Faust's
            # auto_offset_reset "earliest")
            start = max(firsts[tp], (last if last is not None else -1) + 1,
                        (done if done is not None else -1) + 1)
            if start >= ends[tp]:
                continue
            log.warning("%s[%d]: offsets %d-%d fetched but never handed over; fetching them",
                        tp.topic, tp.partition, start, ends[tp] - 1)
            records = await self._fetch(tp.topic, tp.partition, start, ends[tp])
            self._gaps.append((tp.topic, tp.partition, start, ends[tp] - 1))
            self._last[key] = ends[tp] - 1
            self._handed_at[key] = time.monotonic()
            self.filled += len(records)
            out.extend(records)
        return out

    async def complete(self, msg: Any) -> list[Any]:
        """The records to process for ``msg``: any skipped before it, then ``msg``.

        The first record of a partition after :meth:`reset` is checked against where the
        partition starts for this owner (after the group's committed offset; with no commit,
        its beginning): a record handed over past that start is preceded by the ones
        before it (a rebalance was seen to hand a partition over from its fetch position,
        not its committed one, and Faust then committed past the records never handed)."""
        key = (msg.topic, msg.partition)
        last = self._last.get(key)
        self._last[key] = max(msg.offset, last if last is not None else msg.offset)
        self._handed_at[key] = time.monotonic()
        if last is None:
            tp = TopicPartition(msg.topic, msg.partition)
            last = await self._start(tp, await self._group_committed(tp)) - 1
        if msg.offset <= last + 1:
            return [msg]
        log.warning("%s[%d]: offsets %d-%d were skipped by the consumer; fetching them",
                    msg.topic, msg.partition, last + 1, msg.offset - 1)
        missing = await self._fetch(msg.topic, msg.partition, last + 1, msg.offset)
        self._gaps.append((msg.topic, msg.partition, last + 1, msg.offset - 1))
        self.filled += len(missing)
        return [*missing, msg]

    async def _start(self, tp: TopicPartition, committed: int | None) -> int:
        """The first offset of ``tp`` for an owner that handed nothing over yet: the one
        after ``committed`` (the last record committed), else the partition's beginning
        (Faust's auto_offset_reset "earliest"); never before the beginning (retention)."""
        consumer = await self._plain_consumer()
        first = int((await consumer.beginning_offsets([tp]))[tp])
        return first if committed is None else max(first, committed + 1)

    def take_filled(self) -> list[tuple[str, int, int, int]]:
        """The offset ranges filled since the last call: (topic, partition, first, last).
        The caller marks them done in Faust's gap bookkeeping after the batch
        (:meth:`streams.faust_adapter.FaustGapFill.done`), so its commits move past them."""
        gaps, self._gaps = self._gaps, []
        return gaps

    async def _fetch(self, topic: str, partition: int, start: int, end: int
                     ) -> list[Refetched]:
        consumer = await self._plain_consumer()
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, start)
        out: list[Refetched] = []
        async with asyncio.timeout(FETCH_TIMEOUT_S):
            while await consumer.position(tp) < end:
                batch = await consumer.getmany(tp, timeout_ms=500)
                for r in batch.get(tp, []):
                    if r.offset < end and r.value is not None:
                        out.append(Refetched(topic, partition, r.offset, r.key, r.value,
                                             r.timestamp / 1000))
        return out

    async def _plain_consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap,
                                              group_id=None, enable_auto_commit=False,
                                              **self.client_options)
            await self._consumer.start()
        return self._consumer

    async def _group_committed(self, tp: TopicPartition) -> int | None:
        """The offset of the last record the group committed for ``tp`` (None: none)."""
        if self.group_id is None:
            return None
        if self._committed_reader is None:
            self._committed_reader = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap, group_id=self.group_id,
                enable_auto_commit=False, **self.client_options)
            await self._committed_reader.start()
        self._committed_reader.assign([tp])
        committed = await self._committed_reader.committed(tp)
        return None if committed is None else committed - 1
