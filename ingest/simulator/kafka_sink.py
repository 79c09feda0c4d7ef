"""Straight to Kafka (``--direct``), in exactly the form the gateway produces.

Readings become per-grid :class:`~domain.schemas.SensorBatch` messages
(:func:`ingest.batching.grid_batches`, source ``sensor``), case events and department
records one message each; every message is keyed by its ``grid_id``. Chunks are
acknowledged whole (acks=all, via :class:`~core.kafka_writer.KafkaWriter`, which replaces a
producer that stopped acknowledging, so a broker crash and restart do not stall the sink).
If Kafka does not acknowledge, the chunk is sent again after a back-off: batch ids are
derived from the chunk number, so a consumer can recognise a resent batch, but the records
themselves may then appear twice.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence

from core.kafka_records import KafkaUnavailable, OutRecord, Writer
from domain.contracts.topics import CASE_EVENTS, DEPARTMENT_RECORDS, SENSOR_READINGS
from domain.schemas import SensorReading
from domain.wire import encode
from ingest.batching import grid_batches
from ingest.simulator.engine import Event
from ingest.simulator.sink import SinkStats, split

log = logging.getLogger(__name__)


def out_records(events: Sequence[Event], request_id: str, received_ms: int) -> list[OutRecord]:
    """The Kafka records of one chunk (pure): batches per grid, then cases, then records.

    Every event must have ``grid_id`` filled (the simulator's events always do). Readings
    are grouped by grid in one pass (the load generator's per-reading cost), the rest as
    :func:`~ingest.simulator.sink.split` sorts it.
    """
    by_grid: dict[str, list[SensorReading]] = {}
    others: list[Event] = []
    for event in events:
        if type(event) is SensorReading:
            items = by_grid.get(event.grid_id or "")
            if items is None:
                by_grid[event.grid_id or ""] = [event]
            else:
                items.append(event)
        else:
            others.append(event)
    records = [OutRecord(SENSOR_READINGS, batch.grid_id, encode(batch))
               for batch in grid_batches(by_grid, request_id, received_ms, source="sensor")]
    parts = split(others)
    records += [OutRecord(CASE_EVENTS, e.grid_id or "", encode(e)) for e in parts.cases]
    records += [OutRecord(DEPARTMENT_RECORDS, r.grid_id or "", encode(r))
                for department in parts.records.values() for r in department]
    return records


class _Lane:
    """One acks=all writer fed in order: inline (``in_flight`` 0) or from a bounded queue by
    a thread of its own; a chunk is retried with back-off until acknowledged."""

    def __init__(self, name: str, writer: Writer, stats: SinkStats, stats_lock: threading.Lock,
                 in_flight: int, max_backoff_s: float, sleep: Callable[[float], None]
                 ) -> None:
        self.writer = writer
        self._stats = stats
        self._stats_lock = stats_lock
        self._max_backoff_s = max_backoff_s
        self._sleep = sleep
        self._queue: queue.Queue[tuple[list[OutRecord], int] | None] | None = None
        self._thread: threading.Thread | None = None
        if in_flight > 0:
            self._queue = queue.Queue(maxsize=in_flight)
            self._thread = threading.Thread(target=self._drain, name=name, daemon=True)
            self._thread.start()

    def put(self, records: list[OutRecord], count: int) -> None:
        """Produce ``records`` (``count`` events) now, or queue them."""
        if self._queue is None:
            self._produce(records, count)
        else:
            self._queue.put((records, count))

    def _drain(self) -> None:
        assert self._queue is not None
        while (item := self._queue.get()) is not None:
            self._produce(*item)

    def _produce(self, records: list[OutRecord], count: int) -> None:
        backoff = 0.5
        while True:
            try:
                self.writer.send_all(records)
                with self._stats_lock:
                    self._stats.accepted += count
                return
            except KafkaUnavailable as exc:
                with self._stats_lock:
                    self._stats.errors += 1
                    self._stats.retries += 1
                log.warning("Kafka did not acknowledge (%s); retrying in %.1f s", exc, backoff)
                self._sleep(backoff)
                backoff = min(self._max_backoff_s, backoff * 2)

    def close(self) -> None:
        """Wait until every queued chunk was acknowledged, then close the writer."""
        if self._queue is not None and self._thread is not None:
            self._queue.put(None)
            self._thread.join()
        self.writer.close()


class KafkaSink:
    """Produces chunks with acks=all writers; retries with back-off until acknowledged.

    With ``in_flight`` > 0 a background thread produces while the caller generates the next
    chunks: :meth:`send` then returns once the chunk is queued (at most ``in_flight`` wait),
    and :meth:`close` returns once every queued chunk was acknowledged. With 0, :meth:`send`
    itself waits for the acknowledgement. With ``events_writer``, chunks without readings
    (case events, department records) go through it on a lane of their own, so a report is
    not queued behind a city's push of readings (as an app's report and a sensor hub's push
    are different clients); each lane keeps its chunks in order.
    """

    def __init__(self, writer: Writer, run_tag: str, *, in_flight: int = 2,
                 max_backoff_s: float = 10.0, sleep: Callable[[float], None] = time.sleep,
                 events_writer: Writer | None = None) -> None:
        self.stats = SinkStats()
        self._run_tag = run_tag
        self._chunks = 0
        lock = threading.Lock()
        self._readings = _Lane("simulator-producer", writer, self.stats, lock, in_flight,
                               max_backoff_s, sleep)
        self._events = self._readings if events_writer is None else _Lane(
            "simulator-events", events_writer, self.stats, lock, in_flight, max_backoff_s,
            sleep)

    def send(self, events: Sequence[Event]) -> None:
        """Produce ``events`` (see the class docstring for when it returns)."""
        if not events:
            return
        self._chunks += 1
        records = out_records(events, f"{self._run_tag}-d{self._chunks}",
                              int(time.time() * 1000))
        self.stats.sent += len(events)
        readings = any(type(e) is SensorReading for e in events)
        (self._readings if readings else self._events).put(records, len(events))

    def close(self) -> None:
        """Wait until every queued chunk was acknowledged, then close the writers."""
        self._readings.close()
        if self._events is not self._readings:
            self._events.close()
