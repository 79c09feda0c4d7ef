"""Getting records acknowledged by Kafka without blocking the event loop.

* The writer is normally a :class:`~core.kafka_writer.KafkaWriter` made with
  ``connect=False``: it connects on first use, so the gateway starts (and answers 503) while
  Kafka is down, and it replaces a producer that stopped acknowledging (self-healing).
* :class:`GroupCommitProducer` (the default) sends the records of all requests waiting at the
  same moment in one :meth:`~core.kafka_writer.KafkaWriter.send_all` round on a background
  thread, so one broker round trip acknowledges many requests.
* :class:`DirectProducer` calls ``send_all`` once per request in a thread pool: the naive way,
  kept as the benchmark's baseline.

Every producer's :meth:`produce` returns only after every record it was given was
acknowledged, or raises :class:`~core.kafka_records.KafkaUnavailable`; never anything else.
``acked_at`` is the monotonic time of its last acknowledged produce (``-inf`` before any),
which ``/healthz`` reads. :meth:`close` returns within about ``2 * grace_s`` plus the
writer's own bounded close, whatever the broker does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from core.kafka_records import KafkaUnavailable, OutRecord, Writer

log = logging.getLogger(__name__)



class Producer(Protocol):
    """Asynchronous, acknowledged produce."""

    acked_at: float

    async def produce(self, records: Sequence[OutRecord]) -> None:
        """Return once every record is acknowledged, or raise KafkaUnavailable."""

    def close(self) -> None:
        """Stop accepting work and release the writer (bounded in time)."""


def send_guarded(writer: Writer, records: Sequence[OutRecord]) -> KafkaUnavailable | None:
    """Send and return None, or the failure as KafkaUnavailable; never raises."""
    try:
        writer.send_all(records)
        return None
    except KafkaUnavailable as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - a producer must outlive any writer bug
        log.exception("unexpected failure while producing")
        return KafkaUnavailable(f"produce failed: {exc!r}")


@dataclass
class _Job:
    records: Sequence[OutRecord]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]


def _settle(future: asyncio.Future[None], error: KafkaUnavailable | None) -> None:
    if future.done():  # the waiting request was cancelled (client gone)
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def _notify(jobs: Sequence[_Job], error: KafkaUnavailable | None) -> None:
    for job in jobs:
        with contextlib.suppress(RuntimeError):  # its loop is closed: nobody waits any more
            job.loop.call_soon_threadsafe(_settle, job.future, error)


class GroupCommitProducer:
    """One background thread; each round acknowledges everything queued since the last one.

    A round holds at most ``max_round_records`` records (plus the last job's overflow), so one
    slow round cannot grow without bound. All jobs of a round share its outcome.
    """

    def __init__(self, writer: Writer, max_round_records: int = 20_000,
                 grace_s: float = 5.0) -> None:
        self._writer = writer
        self._max = max_round_records
        self._grace_s = grace_s
        self.acked_at = float("-inf")
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="gateway-producer", daemon=True)
        self._thread.start()

    async def produce(self, records: Sequence[OutRecord]) -> None:
        """Queue ``records`` for the next round and wait for its outcome."""
        if not records:
            return
        if self._closed:
            raise KafkaUnavailable("the gateway is shutting down")
        loop = asyncio.get_running_loop()
        job = _Job(records, loop, loop.create_future())
        self._queue.put(job)
        await job.future

    def _take_round(self, first: _Job) -> tuple[list[_Job], bool]:
        jobs, count = [first], len(first.records)
        while count < self._max:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return jobs, True
            jobs.append(job)
            count += len(job.records)
        return jobs, False

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                break
            jobs, stop = self._take_round(first)
            records = [r for job in jobs for r in job.records]
            error = send_guarded(self._writer, records)
            if error is None:
                self.acked_at = time.monotonic()
            _notify(jobs, error)
        self._refuse_leftovers()

    def _refuse_leftovers(self) -> None:
        leftovers: list[_Job] = []
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                leftovers.append(job)
        _notify(leftovers, KafkaUnavailable("the gateway is shutting down"))

    def close(self) -> None:
        """Finish the queued rounds for up to ``grace_s``, then close the writer (which
        ends a round still waiting on the broker: its requests are refused) and stop."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout=self._grace_s)
        self._writer.close()
        self._thread.join(timeout=self._grace_s)
        if self._thread.is_alive():
            log.warning("the producer thread did not stop within %.0f s", 2 * self._grace_s)


class DirectProducer:
    """One ``send_all`` per request, run in a thread pool (the benchmark's baseline)."""

    def __init__(self, writer: Writer, threads: int = 16) -> None:
        self._writer = writer
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="gateway-send")
        self.acked_at = float("-inf")

    async def produce(self, records: Sequence[OutRecord]) -> None:
        """Send ``records`` on a pool thread and wait for the acknowledgement."""
        if not records:
            return
        error = await asyncio.get_running_loop().run_in_executor(
            self._pool, send_guarded, self._writer, records)
        if error is not None:
            raise error
        self.acked_at = time.monotonic()

    def close(self) -> None:
        """Close the writer (running sends end, acknowledged or refused), then the pool."""
        self._writer.close()
        self._pool.shutdown(wait=True)
