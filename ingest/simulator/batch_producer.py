"""The load generator's Kafka writer: whole record batches through aiokafka (``--direct``).

kafka-python pays ~40-70 µs of Python per record in ``KafkaProducer.send`` and its sender
thread; at city scale (10,000 grids, one ``SensorBatch`` per grid and push) that alone took
most of a core. aiokafka's batch API appends a record in its compiled record builder for a
few µs, so :class:`BatchSession` groups a chunk's records by topic and partition, fills one
builder per partition (a new one when it is full) and submits them with ``send_batch``.

Guarantees (the :class:`core.kafka_records.Writer` contract, as ``KafkaWriter``):

* :meth:`BatchSession.send_all` returns only once the broker acknowledged every record
  (idempotent producer, ``acks=all``), else raises :class:`KafkaUnavailable` within about
  ``ack_timeout_s``; records of ``packed`` topics are packed per key, or per partition,
  first (:func:`core.kafka_records.pack_records`), as ``KafkaWriter`` does;
* a record goes to the partition kafka-python's default partitioner picks for its key
  (murmur2 of the key, :func:`core.kafka_records.partition_for`), so keys land where the
  gateway's would;
* :func:`batch_writer` wraps sessions in :class:`core.kafka_writer.HealingWriter`: a
  session whose send was not acknowledged is discarded and the next send opens a new one.

The aiokafka producer lives on an event loop in a thread of its own; callers are plain
synchronous code (the simulator's producer thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from core.clients import aiokafka_client_options
from core.kafka_records import KafkaUnavailable, OutRecord, pack_records, partition_for
from core.kafka_writer import HealingWriter
from core.settings import Settings

T = TypeVar("T")
MAX_BATCH_BYTES = 960 * 1024  # under the broker's default message.max.bytes (1 MiB + 12)
MAX_REQUEST_BYTES = 4 * 1024 * 1024  # as KafkaWriter's producer


def place(record: OutRecord, prefix: str, partitions: dict[str, int],
          cache: dict[tuple[str, str], tuple[str, int]]) -> tuple[str, int]:
    """(topic name, partition) of ``record`` (pure but for ``cache``, see
    :func:`group_by_partition`)."""
    where = cache.get((record.topic.base, record.key))
    if where is None:
        name = record.topic.name(prefix)
        where = (name, partition_for(record.key, partitions[name]))
        cache[(record.topic.base, record.key)] = where
    return where


def group_by_partition(records: Sequence[OutRecord], prefix: str, partitions: dict[str, int],
                       cache: dict[tuple[str, str], tuple[str, int]] | None = None
                       ) -> dict[tuple[str, int], list[OutRecord]]:
    """``records`` by (topic name, partition), each list in input order (pure).

    ``partitions`` maps a topic name (with ``prefix``) to its partition count; every topic of
    ``records`` must be in it. ``cache`` (topic base, key) -> (name, partition) may be kept
    between calls with the same ``prefix`` and ``partitions``: keys repeat (grids).
    """
    out: dict[tuple[str, int], list[OutRecord]] = {}
    cache = {} if cache is None else cache
    for record in records:
        out.setdefault(place(record, prefix, partitions, cache), []).append(record)
    return out


class BatchSession:
    """One aiokafka producer on a loop thread (see the module docstring).

    The constructor raises if it cannot bootstrap within ``ack_timeout_s``.
    """

    def __init__(self, settings: Settings, client_id: str, ack_timeout_s: float = 10.0
                 ) -> None:
        self.settings = settings
        self.ack_timeout_s = ack_timeout_s
        self._partitions: dict[str, int] = {}
        self._where: dict[tuple[str, str], tuple[str, int]] = {}
        self._unsettled = 0  # records of sends not yet acknowledged
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name=f"{client_id}-loop")
        self._thread.start()
        self._producer: Any = None
        try:
            self._call(self._start(client_id), ack_timeout_s)
        except BaseException:
            self._stop_loop()
            raise

    async def _start(self, client_id: str) -> None:
        from aiokafka import AIOKafkaProducer

        timeout_ms = int(self.ack_timeout_s * 1000)
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap, client_id=client_id, acks="all",
            enable_idempotence=True, compression_type=None, max_batch_size=MAX_BATCH_BYTES,
            max_request_size=MAX_REQUEST_BYTES, request_timeout_ms=timeout_ms,
            **aiokafka_client_options(self.settings))
        try:
            await self._producer.start()
        except BaseException:
            await self._producer.stop()
            raise

    def _call(self, coro: Coroutine[Any, Any, T], timeout_s: float) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout_s)
        except TimeoutError:
            future.cancel()
            raise KafkaUnavailable(f"Kafka did not acknowledge within {timeout_s:g} s") from None

    def send_all(self, records: Sequence[OutRecord]) -> None:
        """Produce ``records`` and wait until the broker acknowledged every one of them."""
        self._unsettled += len(records)
        try:
            self._call(self._send(records), self.ack_timeout_s)
        except KafkaUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - aiokafka's errors vary
            raise KafkaUnavailable(f"Kafka did not acknowledge: {exc!r}") from exc
        self._unsettled -= len(records)

    async def _send(self, records: Sequence[OutRecord]) -> None:
        producer = self._producer
        prefix = self.settings.topic_prefix
        for name in {r.topic.name(prefix) for r in records} - self._partitions.keys():
            self._partitions[name] = len(await producer.partitions_for(name))
        records = pack_records(records, partition_of=lambda r: place(
            r, prefix, self._partitions, self._where)[1])
        futures = []
        for (topic, partition), group in group_by_partition(
                records, prefix, self._partitions, self._where).items():
            batch = producer.create_batch()
            for record in group:
                key = record.key.encode()
                if batch.append(key=key, value=record.value, timestamp=None) is None:
                    futures.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    if batch.append(key=key, value=record.value, timestamp=None) is None:
                        # larger than a batch on its own: the producer's per-record path
                        futures.append(await producer.send(topic, record.value, key=key,
                                                           partition=partition))
            futures.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*futures)

    def close(self, timeout_s: float | None = None) -> int:
        """Stop the producer (at most ``timeout_s``, default ``ack_timeout_s``) and the loop;
        return the records of sends never acknowledged. Never raises."""
        wait = self.ack_timeout_s if timeout_s is None else timeout_s
        if self._producer is not None:
            with contextlib.suppress(Exception):
                self._call(self._producer.stop(), max(wait, 0.5))
        self._stop_loop()
        return self._unsettled

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()


def batch_writer(settings: Settings, client_id: str = "gridwall-simulator",
                 ack_timeout_s: float = 10.0, retry_s: float = 2.0) -> HealingWriter:
    """A self-healing writer over :class:`BatchSession` s, connected at once (raises the
    client's error if it cannot bootstrap)."""
    writer = HealingWriter(lambda: BatchSession(settings, client_id, ack_timeout_s),
                           retry_s, client_id)
    writer.send_all([])  # connect now: a wrong address is reported before the run starts
    return writer
