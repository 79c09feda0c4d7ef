"""The one module that reaches into Faust's internals, and why each time.

faust-streaming 0.15.3 stays the engine of the case workflow, the SLA timers and the alerts
(agents, changelogged tables, timers, rebalancing). Four things it does not do as the
workflow needs, each worked around here and tested in ``tests/unit/test_faust_adapter.py``
(and, against the real broker, ``tests/integration/test_streams_gapfill.py`` and
``tests/integration/test_faust_partition_count.py``):

1. **Changelog writes acknowledged** (:class:`PartitionedTable`). Faust hands a table's
   changelog records to a background buffer that drained too slowly under load (12 s
   event→screen at 5,000 events/s), and its pre-commit ``producer.flush()`` gives up after
   0.1 s without progress, so an input offset could be committed before its write was
   durable (CI: 10 of 3,000 cases stuck half way after a SIGKILL). The table sends its own
   changelog records and awaits every acknowledgement (:meth:`PartitionedTable.write_changelog`),
   which the runner does before the batch returns. Writes happen in ``take_events``
   batches, where Faust has no current event, so each names its changelog partition (the
   input record's); the memory store learns the key's partition through its private
   ``_key_partition`` map, which it otherwise fills only during recovery and needs to drop a
   revoked partition's keys.
2. **Gap and tail filler** (:class:`FaustGapFill` over :class:`~streams.gapfill.GapFiller`).
   Faust's consumer was seen to drop a record during a seek racing with a fetch, and to
   fetch a retained partition's tail without handing it over around a rebalance. The filler
   refetches those records; Faust is then told they are done through its private
   ``Consumer._add_gap`` (so its commits move past them), and the tail check reads the
   offsets Faust committed from its private ``Consumer._committed_offset`` (no accessor).
3. **Consumer access for lag and health** (:func:`faust_consumer`). ``app.consumer``
   creates a consumer when there is none; job health must not, so it reads the private
   ``app._consumer`` (None until the worker started it).
4. **A topic's partition count** (:func:`topic_partition_count`), for packing records per
   partition (:mod:`streams.outbox`). Faust's producer has ``key_partition``, but it fails
   for a topic whose metadata the producer has not fetched yet; the aiokafka producer it
   wraps (the private ``Producer._producer``) fetches it in its public ``partitions_for``.

(Table recovery figures read Faust's recovery service in :mod:`streams.health.recovery`.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import faust
from faust.types import TP

from streams.gapfill import GapFiller, Refetched

# (topic, key, value, partition) -> awaitable of the broker's acknowledgement
SendTo = Callable[[str, bytes, bytes | None, int], Awaitable[Awaitable[Any]]]
Positions = tuple[list[tuple[str, int]], dict[tuple[str, int], int | None]]


class PartitionedTable(faust.Table):
    """A table whose writes name their changelog partition and whose changelog writes are
    acknowledged before the batch returns (workaround 1 of the module docstring).

    A write changes the in-memory store at once; its changelog record is sent by
    :meth:`write_changelog`, which returns only when the broker acknowledged every record.
    """

    send_to: SendTo | None = None  # set by the worker

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._unsent: list[tuple[bytes, bytes | None, int]] = []

    def partition_for_key(self, key: Any) -> int | None:
        """Writes must go through :meth:`put`, which names the partition."""
        raise RuntimeError(f"table {self.name}: write without a partition; use put()")

    def put(self, key: bytes, value: bytes, partition: int) -> None:
        """Set ``key`` now; its changelog record goes to ``partition`` on the next flush."""
        self.data[key] = value
        self._unsent.append((key, value, partition))
        # The memory store drops keys of revoked partitions after a rebalance only if it
        # knows their partition; it learns that from recovery, so tell it about writes too.
        key_partition = getattr(self.data, "_key_partition", None)
        if key_partition is not None:
            key_partition[key] = partition

    def remove(self, key: bytes) -> bool:
        """Drop ``key`` now; its tombstone goes to its changelog partition on the next flush.

        Returns False if the key is absent, or if its partition is unknown (then it stays).
        """
        key_partition = getattr(self.data, "_key_partition", {})
        partition = key_partition.get(key)
        if key not in self.data or partition is None:
            return False
        del self.data[key]
        key_partition.pop(key, None)
        self._unsent.append((key, None, partition))
        return True

    async def write_changelog(self) -> None:
        """Send the changelog records of the writes so far; return when all are acked."""
        pending, self._unsent = self._unsent, []
        if not pending or self.send_to is None:
            return
        topic = self.changelog_topic.get_topic_name()
        acks = [await self.send_to(topic, key, value, partition)
                for key, value, partition in pending]
        await asyncio.gather(*acks)


def changelogged_table(app: faust.App, name: str, partitions: int, send_to: SendTo
                       ) -> PartitionedTable:
    """A :class:`PartitionedTable` of raw bytes added to ``app``, writing through
    ``send_to``."""
    table = app.tables.add(PartitionedTable(app, name=name, default=None,
                                            partitions=partitions, key_type=bytes,
                                            value_type=bytes))
    assert isinstance(table, PartitionedTable)
    table.send_to = send_to
    return table


class FaustGapFill:
    """The gap and tail filler of one Faust agent's input topic (workaround 2)."""

    def __init__(self, app: faust.App, topic: str, filler: GapFiller) -> None:
        self.app = app
        self.topic = topic
        self.filler = filler

    def reset(self) -> None:
        """Forget the offsets handed over (after every recovery: partitions may have moved)."""
        self.filler.reset()

    async def complete(self, messages: list[Any]) -> list[Any]:
        """The batch's messages with every skipped record before each, in order."""
        return [m for msg in messages for m in await self.filler.complete(msg)]

    def positions(self) -> Positions | None:
        """The owned partitions of the topic and Faust's committed offsets, or None while
        there is no consumer or a rebalance runs (partitions are moving: Faust seeks after)."""
        consumer = faust_consumer(self.app)
        if consumer is None or self.app.rebalancing:
            return None
        return faust_positions(consumer, self.topic)

    async def missing_tails(self, owned: list[tuple[str, int]],
                            committed: Mapping[tuple[str, int], int | None]
                            ) -> list[Refetched]:
        """The records at the partitions' ends Faust never handed over."""
        return await self.filler.missing_tails(owned, committed)

    async def done(self) -> None:
        """Mark the filled offsets done in Faust's gap bookkeeping (after the batch)."""
        filled = self.filler.take_filled()
        if filled:
            await mark_done(self.app.consumer, filled)


async def mark_done(consumer: Any, filled: list[tuple[str, int, int, int]]) -> None:
    """Add each (topic, partition, first, last) range to the consumer's private gap map, so
    its commits move past offsets it never handed over itself."""
    for topic, partition, first, last in filled:
        await consumer._add_gap(TP(topic, partition), first, last)


def faust_positions(consumer: Any, topic: str) -> Positions:
    """The partitions of ``topic`` Faust's ``consumer`` owns, and per partition the offset of
    the last record it committed (None: none), from the private ``_committed_offset``."""
    owned = sorted((tp.topic, tp.partition) for tp in consumer.assignment()
                   if tp.topic == topic)
    committed_by_tp = getattr(consumer, "_committed_offset", {})
    committed = {(t, p): next((o for tp, o in committed_by_tp.items()
                               if tp.topic == t and tp.partition == p), None)
                 for t, p in owned}
    return owned, committed


def faust_consumer(app: Any) -> Any:
    """The app's running consumer, or None before the worker created it (workaround 3:
    ``app.consumer`` would create one)."""
    return getattr(app, "_consumer", None)


async def topic_partition_count(app: Any, topic: str) -> int:
    """The partition count of ``topic`` (full name) from the broker's metadata, through the
    aiokafka producer of the app's started Faust producer (workaround 4). Raises
    ``RuntimeError`` before the producer started."""
    producer = getattr(app.producer, "_producer", None)
    if producer is None:
        raise RuntimeError("the Faust producer has not started")
    return len(await producer.partitions_for(topic))
