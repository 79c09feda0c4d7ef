"""The ClickHouse sink: Kafka records to ClickHouse rows, batched, committed after the write.

A plain aiokafka consumer loop (own consumer group) running inside the worker process: it
decodes each record into rows (:data:`Decoder` per topic), buffers them until the live
``sink.batch_size`` rows or ``sink.flush_interval_s``, inserts each table's rows with one
INSERT in a worker thread (never on the event loop), and only then commits the offsets.

Guarantees: nothing is committed before it is written (or dead-lettered), so a crash
replays at most the unwritten batch, and the tables' replacing keys make the replay harmless
in FINAL reads. Each table's rows of a batch are written once: a retry writes only the tables
not yet written.

No single row can stop the sink. When ClickHouse (or the driver, serialising a value for a
column) refuses rows of a table for what they contain (:func:`is_row_error`: a type
mismatch, a value out of the column's range, an unparsable value), the table's rows are
bisected until every refused row is found: the others are written, each refused row goes to
the dead-letter topic (stage ``sink``, source ``sink.<table>``, the row as JSON) and the
batch is committed. Only a refused row of the ``dead_letters`` table itself is logged
instead (its letter stays in the dead-letter topic). Any other failure (server down,
timeout, unknown table while migrations run, Kafka not acknowledging a dead letter) is
transient: the loop pauses its partitions (consumption holds back, the group membership
stays), retries with exponential backoff up to ``max_backoff_s``, and resumes after the
write succeeded: nothing is lost or skipped.
"""

from __future__ import annotations

import asyncio
import logging
import re
import struct
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from domain.schemas import CaseEvent, DeadLetter
from domain.sink_config import SinkConfig
from domain.wire import WireError, decode, decode_one_or_many, encode
from streams.batchloop import commit_owned
from streams.rows import (
    COLUMNS,
    RowBatch,
    case_event_row,
    dead_letter_row,
    row_dict,
    to_tuples,
)

log = logging.getLogger(__name__)

Row = tuple[str, Any]  # (table, a row dict, or a tuple in the table's column order)
Decoder = Callable[[bytes, int, int], list[Row]]  # (value, partition, offset) -> rows
Send = Callable[[str, bytes, bytes], Awaitable[None]]  # (topic, key, value), acknowledged
Refused = tuple[dict[str, Any], str]  # a row ClickHouse refused, and why
STAGE = "sink"
RAW_LIMIT = 65_536
SLICE_ROWS = 5_000  # rows decoded between two yields to the worker's event loop

# ClickHouse error codes that blame the data sent, not the server or the schema: CANNOT_PARSE_*,
# TYPE_MISMATCH, ARGUMENT_OUT_OF_BOUND, CANNOT_CONVERT_TYPE, INCORRECT_DATA,
# TOO_LARGE_STRING_SIZE, VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE, CANNOT_INSERT_NULL..., and the
# DateTime/number parse errors.
ROW_ERROR_CODES = frozenset({6, 26, 27, 32, 38, 41, 53, 69, 70, 72, 117, 131, 321, 349, 407})
_COLUMN = re.compile(r"Column (\w+)")


def is_row_error(exc: BaseException) -> bool:
    """True if ``exc`` refuses the rows for their content (retrying cannot help), False for
    a transient failure (network, timeout, server busy or down, a schema not yet migrated)."""
    code = getattr(exc, "code", None)
    if type(exc).__module__.startswith("clickhouse_driver"):
        return type(exc).__name__ in ("TypeMismatchError", "TooLargeStringSize") or (
            type(exc).__name__ == "ServerException" and code in ROW_ERROR_CODES)
    # the driver or to_tuples serialising one value (out of range, wrong type, no column)
    return isinstance(exc, TypeError | ValueError | OverflowError | AttributeError
                      | KeyError | struct.error) and not isinstance(exc, OSError)


def refused_letter(table: str, row: dict[str, Any], reason: str, now_ms: int) -> DeadLetter:
    """The dead letter of a row ClickHouse refused: the row as JSON, the column if named."""
    try:
        raw = encode(row).decode()
    except (TypeError, ValueError, OverflowError):
        raw = repr(row)
    column = _COLUMN.search(reason)
    grid = row.get("grid_id")
    return DeadLetter(source=f"sink.{table}", reason=f"ClickHouse refused the row: {reason}",
                      ts=now_ms, stage=STAGE, field=column.group(1) if column else None,
                      grid_id=grid if isinstance(grid, str) and grid else None,
                      raw=raw[:RAW_LIMIT], raw_truncated=len(raw) > RAW_LIMIT)


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
    refused_rows: int = 0  # rows ClickHouse refused, dead-lettered


class ClickHouseSink:
    """One consumer group's sink loop; see the module docstring.

    Refused rows go to ``dead_topic`` (default: the topic it reads with
    :func:`dead_letters_decoder`) through ``send`` (default: its own idempotent producer).
    ``client_options`` (e.g. :func:`core.clients.aiokafka_client_options`) are passed to
    its Kafka consumer and producer.
    """

    def __init__(self, bootstrap: str, group_id: str, decoders: dict[str, Decoder],
                 client_factory: Callable[[], Any], database: str,
                 config: Callable[[], SinkConfig], max_backoff_s: float = 5.0, *,
                 dead_topic: str | None = None, send: Send | None = None,
                 client_options: dict[str, Any] | None = None) -> None:
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.decoders = decoders
        self.database = database
        self.config = config
        self.max_backoff_s = max_backoff_s
        self.stats = SinkStats()
        self.dead_topic = dead_topic or next(
            (t for t, d in decoders.items() if d is dead_letters_decoder), None)
        self._send = send
        self._client_options = dict(client_options or {})  # aiokafka security options
        self._producer: AIOKafkaProducer | None = None
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
            max_poll_records=self.config().batch_size, fetch_max_wait_ms=100,
            **self._client_options)
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
            if self._producer is not None:
                await self._producer.stop()
                self._producer = None
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
            sliced = len(rows)
            for tp, records in fetched.items():
                decoder = self.decoders[tp.topic]
                for record in records:
                    if len(rows) - sliced >= SLICE_ROWS:  # let the worker's other jobs run
                        sliced = len(rows)
                        await asyncio.sleep(0)
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
        """Write every table's rows (refused rows dead-lettered), retrying transient
        failures with backoff while the partitions are paused."""
        pending: dict[str, list[dict[str, Any]]] = {}
        for table, row in rows:
            pending.setdefault(table, []).append(row)
        refused: list[tuple[str, Refused]] = []
        backoff = 0.2
        began = time.monotonic()
        while pending or refused:
            try:
                await self._write_some(pending, refused)
            except Exception as exc:  # noqa: BLE001 - anything else is "retry"
                self.stats.failures += 1
                if not self.stats.paused:
                    consumer.pause(*consumer.assignment())
                    self.stats.paused = True
                log.warning("sink: write failed (%s); retrying in %.1f s", exc, backoff)
                if stopping.is_set():
                    raise
                await asyncio.sleep(backoff)
                # keep the group membership alive while paused (returns nothing)
                await consumer.getmany(timeout_ms=0)
                backoff = min(self.max_backoff_s, backoff * 2)
        self.stats.last_write_s = time.monotonic() - began
        self.stats.batches += 1
        self.stats.rows += len(rows)
        self.stats.last_batch_rows = len(rows)
        if self.stats.paused:
            consumer.resume(*consumer.assignment())
            self.stats.paused = False

    async def _write_some(self, pending: dict[str, list[dict[str, Any]]],
                          refused: list[tuple[str, Refused]]) -> None:
        """Write the pending tables one by one (each leaves ``pending`` once written, its
        refused rows move to ``refused``), then dead-letter the refused rows."""
        loop = asyncio.get_running_loop()
        for table in list(pending):
            found = await loop.run_in_executor(self._executor, self._insert_bisecting,
                                               table, pending[table])
            refused.extend((table, r) for r in found)
            del pending[table]
        if refused:
            await self._dead_letter(refused)
            refused.clear()

    async def _dead_letter(self, refused: list[tuple[str, Refused]]) -> None:
        now = int(time.time() * 1000)
        for table, (row, reason) in refused:
            if table == "dead_letters" or self.dead_topic is None:
                log.error("sink: ClickHouse refused a %s row, not written: %s (%s)",
                          table, reason, row)
                continue
            letter = refused_letter(table, row, reason, now)
            await self._produce(self.dead_topic, (letter.grid_id or table).encode(),
                                encode(letter))
        self.stats.refused_rows += len(refused)
        log.warning("sink: %d row(s) refused by ClickHouse moved to the dead letters",
                    len(refused))

    async def _produce(self, topic: str, key: bytes, value: bytes) -> None:
        if self._send is not None:
            await self._send(topic, key, value)
            return
        if self._producer is None:
            producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all",
                                        enable_idempotence=True, **self._client_options)
            await producer.start()
            self._producer = producer
        await self._producer.send_and_wait(topic, value, key=key)

    def _insert_bisecting(self, table: str, rows: list[dict[str, Any]]) -> list[Refused]:
        """Insert ``rows``; on a row error split them in halves until each refused row is
        alone. Returns the refused rows; raises on a transient failure."""
        try:
            self._insert(table, rows)
            return []
        except Exception as exc:
            if not is_row_error(exc):
                raise
            if len(rows) == 1:
                return [(row_dict(table, rows[0]), f"{type(exc).__name__}: {exc}"[:500])]
        middle = len(rows) // 2
        return (self._insert_bisecting(table, rows[:middle])
                + self._insert_bisecting(table, rows[middle:]))

    def _insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        if self._client is None:
            self._client = self._client_factory()
        try:
            columns = ", ".join(COLUMNS[table])
            self._client.execute(f"INSERT INTO {self.database}.{table} ({columns}) VALUES",
                                 to_tuples(table, rows))
        except Exception:
            self._disconnect()
            raise
        self.stats.by_table[table] = self.stats.by_table.get(table, 0) + len(rows)

    def _disconnect(self) -> None:
        if self._client is not None:
            try:
                self._client.disconnect()
            finally:
                self._client = None
