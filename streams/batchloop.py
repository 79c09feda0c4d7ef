"""A plain aiokafka consumer loop for high-volume jobs, run inside the Faust worker.

Faust pays ~300 µs of CPU per message in its stream machinery (FAUST-NOTES.md); a plain
``getmany`` loop does the same decode and aggregation ~30× cheaper. :class:`BatchLoop`
consumes its topics in its own consumer group (partitions shared among the workers like
Faust's), hands each fetched batch to an async handler, and commits the batch's offsets only
after the handler returned — the handler flushes its outputs (broker-acknowledged) before
returning, so a crash replays at most the unflushed batch (at-least-once; outputs carry
deterministic ids or replacing keys, so replays are harmless).

A job whose state lives in memory attaches a :class:`PartitionState` (:meth:`BatchLoop.own`);
the loop then moves that state with its partitions the way a Faust table moves with its
changelog partitions:

* **revocation**: the job drops the partitions' state and stops their timers
  (:meth:`PartitionState.revoke`), before another member can be assigned them;
* **assignment**: the loop re-reads each assigned partition with a group-less consumer, from
  :meth:`PartitionState.replay_from_ms` (a time, or the partition's beginning) up to the
  group's committed offset, and hands those records to :meth:`PartitionState.replay`
  (silently: no outputs); then :meth:`PartitionState.restored` may arm timers and send
  outputs. Only after that does the loop hand the job any record of those partitions, and it
  hands each record past the committed offset exactly once per ownership (records at
  offsets already replayed or handled are skipped).

Guarantees: records reach the handler in partition order, only for partitions whose state is
restored; handler then commit, of the partitions still owned (:func:`commit_owned`); a
failing handler or restore stops the loop (the worker crashes rather than skipping input or
running on partial state); ``stopping`` ends the loop after the batch in hand.
:meth:`BatchLoop.read_until_ms` tells timers how far the input has been read (for judging
silence: nothing is late only because the loop lags). A partition counts as not read at all
(0) from the moment it is assigned — through its replay and :meth:`PartitionState.restored`,
whose awaits let the job's timers run while its restored timers are already armed — until
the loop has handled it up to its end; so no timer judges a restored state at the wall clock
before the records behind the committed offset have been handled.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

log = logging.getLogger(__name__)

Handler = Callable[[Sequence[Any]], Awaitable[None]]
REPLAY_BATCH = 5_000


class PartitionState(Protocol):
    """A job's in-memory state, owned per input partition (see the module docstring)."""

    def replay_from_ms(self) -> int | None:
        """Where a restore starts reading: records from this time on; None: the beginning."""

    def replay(self, records: Sequence[Any]) -> None:
        """Apply already-handled records to the state, without any output."""

    async def restored(self, partitions: dict[TopicPartition, int], now_ms: int) -> None:
        """The partitions are replayed up to these offsets; arm timers, send catch-up outputs."""

    def revoke(self, partitions: set[TopicPartition]) -> None:
        """Drop the partitions' state and stop their timers."""


DEFAULT_FETCH_MAX_BYTES = 50 * 1024 * 1024  # aiokafka's default


class BatchLoop:
    """One job's consumer loop; see the module docstring."""

    def __init__(self, bootstrap: str, group_id: str, topics: Sequence[str],
                 handler: Handler, max_records: int = 5_000, fetch_wait_ms: int = 50,
                 *, client_options: dict[str, Any] | None = None,
                 fetch_max_bytes: int = DEFAULT_FETCH_MAX_BYTES) -> None:
        self.bootstrap = bootstrap
        self.client_options = dict(client_options or {})  # aiokafka security options
        self.group_id = group_id
        self.topics = list(topics)
        self.handler = handler
        self.max_records = max_records
        self.fetch_wait_ms = fetch_wait_ms
        self.fetch_max_bytes = fetch_max_bytes  # per fetch: bounds one batch's work
        self.batches = 0
        self.records = 0
        self.restores: list[dict[str, Any]] = []  # one entry per assignment (figures)
        self.consumer: AIOKafkaConsumer | None = None
        self.state: PartitionState | None = None
        self._next: dict[TopicPartition, int] = {}  # owned, restored: next offset to handle
        self._read_until: dict[TopicPartition, int] = {}  # owned: read to its end at (ms)
        self._lock = asyncio.Lock()  # one batch (handle + commit) or one rebalance step
        self._failure: BaseException | None = None

    def own(self, state: PartitionState) -> None:
        """Move ``state`` with this loop's partitions (call before the loop runs)."""
        self.state = state

    def owned(self) -> set[TopicPartition]:
        """The partitions whose state is restored here and not revoked."""
        return set(self._next)

    def read_until_ms(self) -> int | None:
        """The time up to which every owned partition has been read to its end.

        0 while a partition is being restored or still catching up; None when nothing is
        owned or being restored. A silence judged against this time is a real silence, not
        the loop's lag.
        """
        return min(self._read_until.values()) if self._read_until else None

    async def run(self, stopping: asyncio.Event) -> None:
        """Consume, handle, commit until ``stopping`` is set."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=self.group_id,
            enable_auto_commit=False, auto_offset_reset="earliest",
            max_poll_records=self.max_records, fetch_max_wait_ms=self.fetch_wait_ms,
            max_partition_fetch_bytes=min(8 * 1024 * 1024, self.fetch_max_bytes),
            fetch_max_bytes=self.fetch_max_bytes, **self.client_options)
        consumer.subscribe(self.topics, listener=_Listener(self))
        self.consumer = consumer
        await consumer.start()
        try:
            while not stopping.is_set():
                fetched = await consumer.getmany(timeout_ms=200,
                                                 max_records=self.max_records)
                if self._failure is not None:
                    raise self._failure
                async with self._lock:
                    await self._handle(consumer, fetched)
        finally:
            await consumer.stop()
            self.consumer = None

    async def _handle(self, consumer: AIOKafkaConsumer,
                      fetched: dict[TopicPartition, list[Any]]) -> None:
        """Handle the records of restored partitions not handled yet, then commit."""
        records: list[Any] = []
        ends: dict[TopicPartition, int] = {}
        for tp, batch in fetched.items():
            start = self._next.get(tp)
            if start is None:
                continue  # revoked since the fetch, or not restored yet
            fresh = [r for r in batch if r.offset >= start]
            if fresh:
                records.extend(fresh)
                ends[tp] = fresh[-1].offset + 1
        if records:
            await self.handler(records)
            self.batches += 1
            self.records += len(records)
            self._next.update(ends)
            await commit_owned(consumer, ends, self.group_id)
        now = _now_ms()
        for tp, position in self._next.items():
            highwater = consumer.highwater(tp)
            if highwater is not None and position >= highwater:
                self._read_until[tp] = max(self._read_until.get(tp, 0),
                                           consumer.last_poll_timestamp(tp) or now)

    async def _revoked(self, partitions: set[TopicPartition]) -> None:
        async with self._lock:
            mine = {tp for tp in partitions if tp in self._next}
            for tp in partitions:
                self._next.pop(tp, None)
                self._read_until.pop(tp, None)
            if self.state is not None and mine:
                self.state.revoke(mine)

    async def _assigned(self, consumer: AIOKafkaConsumer,
                        partitions: set[TopicPartition]) -> None:
        async with self._lock:
            # Not read at all (0) from now on, before any await: the restore below yields to
            # the job's timers, and restored() arms them from replayed records that may be
            # far behind the wall clock (a crashed owner's last commit). read_until_ms()
            # must not be None (judge at the wall clock) while that state is held.
            for tp in partitions:
                self._read_until[tp] = 0
            began = time.monotonic()
            ends: dict[TopicPartition, int] = {}
            if partitions:
                firsts = await consumer.beginning_offsets(list(partitions))
                for tp in partitions:
                    committed = await consumer.committed(tp)
                    ends[tp] = committed if committed is not None else firsts[tp]
            replayed = 0
            if self.state is not None and ends:
                replayed = await replay_partitions(self.bootstrap, ends,
                                                   self.state.replay_from_ms(),
                                                   self.state.replay,
                                                   client_options=self.client_options)
                await self.state.restored(dict(ends), _now_ms())
            for tp, end in ends.items():
                self._next[tp] = end
            self.restores.append({"partitions": len(ends), "replayed": replayed,
                                  "seconds": round(time.monotonic() - began, 3)})
            log.info("%s: restored %d partitions (%d records replayed) in %.2f s",
                     self.group_id, len(ends), replayed, time.monotonic() - began)


class _Listener(ConsumerRebalanceListener):
    """Hands aiokafka's rebalance callbacks to the loop; a failure stops the loop (aiokafka
    itself would only log it)."""

    def __init__(self, loop: BatchLoop) -> None:
        self.loop = loop

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._guard(self.loop._revoked(set(revoked)))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        consumer = self.loop.consumer
        if consumer is not None:
            await self._guard(self.loop._assigned(consumer, set(assigned)))

    async def _guard(self, step: Awaitable[None]) -> None:
        try:
            await step
        except Exception as exc:  # noqa: BLE001 - handed to the loop, which raises it
            log.exception("%s: rebalance step failed", self.loop.group_id)
            self.loop._failure = exc


async def replay_partitions(bootstrap: str, ends: dict[TopicPartition, int],
                            since_ms: int | None, apply: Callable[[Sequence[Any]], None],
                            *, client_options: dict[str, Any] | None = None) -> int:
    """Read each partition of ``ends`` from ``since_ms`` (None: its beginning) up to its end
    offset (exclusive) with a group-less consumer, handing the records to ``apply`` in
    partition order; return how many were read. ``client_options``: aiokafka security
    options (:func:`core.clients.aiokafka_client_options`)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, max_poll_records=REPLAY_BATCH,
                                max_partition_fetch_bytes=8 * 1024 * 1024,
                                **(client_options or {}))
    await consumer.start()
    try:
        tps = list(ends)
        consumer.assign(tps)
        starts = await consumer.beginning_offsets(tps)
        if since_ms is not None:
            found = await consumer.offsets_for_times(dict.fromkeys(tps, since_ms))
            starts = {tp: (hit.offset if hit is not None else ends[tp])
                      for tp, hit in found.items()}
        todo = {tp for tp in tps if starts[tp] < ends[tp]}
        for tp in tps:
            consumer.seek(tp, starts[tp])
        read = 0
        while todo:
            fetched = await consumer.getmany(*todo, timeout_ms=500)
            for tp, batch in fetched.items():
                records = [r for r in batch if r.offset < ends[tp]]
                if records:
                    apply(records)
                    read += len(records)
            for tp in list(todo):
                if await consumer.position(tp) >= ends[tp]:
                    todo.discard(tp)
        return read
    finally:
        await consumer.stop()


async def commit_owned(consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int],
                       who: str) -> None:
    """Commit ``offsets`` of the partitions ``consumer`` still owns; never raise for a lost one.

    After a rebalance the new owner re-reads from the last commit and re-emits its outputs,
    which are idempotent, so a failed commit only costs repeated work.
    """
    owned = consumer.assignment()
    mine = {tp: off for tp, off in offsets.items() if tp in owned}
    if not mine:
        return
    try:
        await consumer.commit(mine)
    except (CommitFailedError, KafkaError) as exc:
        log.warning("%s: commit failed after a handled batch: %s", who, exc)


def _now_ms() -> int:
    return int(time.time() * 1000)
