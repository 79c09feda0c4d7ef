"""The ClickHouse sink: Kafka records to ClickHouse rows, batched, committed after the write.

A plain aiokafka consumer loop (own consumer group) running inside the worker process: it
decodes each record into rows (:data:`Decoder` per topic), buffers them until the live
``sink.batch_size`` rows or ``sink.flush_interval_s``, inserts each table's rows with one
INSERT in a worker thread (never on the event loop), and only then commits the offsets.

Guarantees: nothing is committed before it is written, so a crash replays at most the
unwritten batch, and the tables' replacing keys make the replay harmless in FINAL reads.
When ClickHouse fails, the loop pauses its partitions (consumption holds back, the group
membership stays), retries the same batch with exponential backoff up to
``max_backoff_s``, and resumes after the write succeeded: nothing is lost or skipped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from domain.schemas import CaseEvent, DeadLetter
from domain.wire import WireError, decode, decode_one_or_many
from streams.batchloop import commit_owned
from streams.config import SinkConfig
from streams.rows import COLUMNS, RowBatch, case_event_row, dead_letter_row, to_tuples

log = logging.getLogger(__name__)

Row = tuple[str, dict[str, Any]]
Decoder = Callable[[bytes, int, int], list[Row]]  # (value, partition, offset) -> rows


def rows_decoder(value: bytes, _partition: int, _offset: int) -> list[Row]:
    """Rows topic: a :class:`RowBatch`."""
    batch = decode(value, RowBatch)
    return [(batch.table, row) for row in batch.rows] if batch.table in COLUMNS else []


def case_events_decoder(value: bytes, partition: int, offset: int) -> list[Row]:
    """Case events topic: the raw events of one message (one event or a packed array).

    Invalid messages yield nothing: they are the cases agent's dead letters.
    """
    try:
        events = decode_one_or_many(value, CaseEvent)
    except WireError:
        return []
    return [("case_events", case_event_row(event, partition, offset)) for event in events]


def dead_letters_decoder(value: bytes, _partition: int, _offset: int) -> list[Row]:
    """Dead-letter topic: one row per letter, whoever wrote it."""
    try:
        return [("dead_letters", dead_letter_row(decode(value, DeadLetter)))]
    except WireError:
        return []


@dataclass
class SinkStats:
    """Figures for job health: what was written and how the writes went."""

    batches: int = 0
    rows: int = 0
    failures: int = 0
    last_batch_rows: int = 0
    last_write_s: float = 0.0
    paused: bool = False
    by_table: dict[str, int] = field(default_factory=dict)


class ClickHouseSink:
    """One consumer group's sink loop; see the module docstring."""

    def __init__(self, bootstrap: str, group_id: str, decoders: dict[str, Decoder],
                 client_factory: Callable[[], Any], database: str,
                 config: Callable[[], SinkConfig], max_backoff_s: float = 5.0) -> None:
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.decoders = decoders
        self.database = database
        self.config = config
        self.max_backoff_s = max_backoff_s
        self.stats = SinkStats()
        self._client_factory = client_factory
        self._client: Any = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ch-sink")
        self._consumer: AIOKafkaConsumer | None = None

    @property
    def consumer(self) -> AIOKafkaConsumer | None:
        """The running loop's Kafka consumer (for lag sampling); None before :meth:`run`
        started it and after it stopped. Read-only: the loop owns it."""
        return self._consumer

    async def run(self, stopping: asyncio.Event) -> None:
        """Consume, write, commit until ``stopping`` is set; then close the consumer."""
        consumer = AIOKafkaConsumer(
            *self.decoders, bootstrap_servers=self.bootstrap, group_id=self.group_id,
            enable_auto_commit=False, auto_offset_reset="earliest",
            max_poll_records=self.config().batch_size, fetch_max_wait_ms=100)
        self._consumer = consumer
        await consumer.start()
        try:
            while not stopping.is_set():
                rows, offsets = await self._collect(consumer, stopping)
                if offsets:
                    await self._write_until_done(consumer, rows, stopping)
                    await commit_owned(consumer, offsets, "sink")
        finally:
            self._consumer = None
            await consumer.stop()
            self._executor.submit(self._disconnect).result()
            self._executor.shutdown(wait=True)

    async def _collect(self, consumer: AIOKafkaConsumer, stopping: asyncio.Event
                       ) -> tuple[list[Row], dict[TopicPartition, int]]:
        config = self.config()
        rows: list[Row] = []
        offsets: dict[TopicPartition, int] = {}
        until = time.monotonic() + config.flush_interval_s
        while len(rows) < config.batch_size and not stopping.is_set():
            left_ms = int((until - time.monotonic()) * 1000)
            if left_ms <= 0:
                break
            fetched = await consumer.getmany(timeout_ms=left_ms,
                                             max_records=config.batch_size - len(rows))
            for tp, records in fetched.items():
                decoder = self.decoders[tp.topic]
                for record in records:
                    if record.value is not None:
                        try:
                            rows.extend(decoder(record.value, tp.partition, record.offset))
                        except (WireError, KeyError, TypeError, ValueError) as exc:
                            log.warning("sink: skipping undecodable record %s@%s: %s",
                                        tp, record.offset, exc)
                    offsets[tp] = record.offset + 1
        return rows, offsets

    async def _write_until_done(self, consumer: AIOKafkaConsumer, rows: list[Row],
                                stopping: asyncio.Event) -> None:
        backoff = 0.2
        loop = asyncio.get_running_loop()
        while True:
            began = time.monotonic()
            try:
                await loop.run_in_executor(self._executor, self._insert, rows)
            except Exception as exc:  # noqa: BLE001 - any failure to write means "retry"
                self.stats.failures += 1
                if not self.stats.paused:
                    consumer.pause(*consumer.assignment())
                    self.stats.paused = True
                log.warning("sink: ClickHouse write failed (%s); retrying in %.1f s",
                            exc, backoff)
                if stopping.is_set():
                    raise
                await asyncio.sleep(backoff)
                # keep the group membership alive while paused (returns nothing)
                await consumer.getmany(timeout_ms=0)
                backoff = min(self.max_backoff_s, backoff * 2)
                continue
            self.stats.last_write_s = time.monotonic() - began
            self.stats.batches += 1
            self.stats.rows += len(rows)
            self.stats.last_batch_rows = len(rows)
            if self.stats.paused:
                consumer.resume(*consumer.assignment())
                self.stats.paused = False
            return

    def _insert(self, rows: list[Row]) -> None:
        by_table: dict[str, list[dict[str, Any]]] = {}
        for table, row in rows:
            by_table.setdefault(table, []).append(row)
        if self._client is None:
            self._client = self._client_factory()
        try:
            for table, table_rows in by_table.items():
                columns = ", ".join(COLUMNS[table])
                self._client.execute(
                    f"INSERT INTO {self.database}.{table} ({columns}) VALUES",
                    to_tuples(table, table_rows))
                self.stats.by_table[table] = self.stats.by_table.get(table, 0) + len(
                    table_rows)
        except Exception:
            self._disconnect()
            raise

    def _disconnect(self) -> None:
        if self._client is not None:
            try:
                self._client.disconnect()
            finally:
                self._client = None
