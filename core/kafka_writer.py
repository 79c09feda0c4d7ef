"""Producing to Kafka with the guarantee every producer here promises: acknowledged or refused.

:class:`KafkaWriter` is what processes use (gateway, hub, simulator, importer); it
implements :class:`core.kafka_records.Writer`. Its
:meth:`~KafkaWriter.send_all` returns only when every record was acknowledged by the broker
(idempotent producer, ``acks=all``), or raises :class:`KafkaUnavailable`; a caller reports
success only after it returned. It heals itself:

* a send that is not acknowledged within ``ack_timeout_s`` discards the kafka-python
  producer it went through (a producer that lost its broker can stay wedged for good after
  the broker is back: kafka-python 3.0 resets its producer id on an expired batch and was
  seen never to produce again). The discarded producer is force-closed, so records the
  caller was told failed are aborted, not delivered later -- except a request already on
  the wire, which the broker may still have written: a refusal is "maybe not written",
  never "maybe written twice by this writer";
* the next send creates a fresh producer; while creating one fails (broker down) sends are
  refused at once for ``retry_s``, then one send tries again -- so a caller is answered
  within about ``ack_timeout_s`` whatever the broker does, and producing resumes on the
  first send after the broker answers again;
* :meth:`~KafkaWriter.close` flushes for at most its timeout, logs how many records it
  could not deliver, and never raises.

:class:`HealingWriter` holds the healing logic over any session factory (unit-tested with
fakes); :class:`ProducerSession` is one kafka-python producer.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from kafka import KafkaProducer
from kafka.errors import KafkaError

from core.clients import kafka_client_options
from core.kafka_records import KafkaUnavailable, OutRecord, pack_records, partition_for
from core.settings import Settings

log = logging.getLogger(__name__)


class Session(Protocol):
    """One producer connection as :class:`HealingWriter` uses it."""

    def send_all(self, records: Sequence[OutRecord]) -> None:
        """Return once every record is acknowledged, or raise KafkaUnavailable."""

    def close(self, timeout_s: float | None = None) -> int:
        """Flush for at most ``timeout_s``, release; return the records not delivered."""


class ProducerSession:
    """One idempotent, acks=all kafka-python producer.

    The constructor raises a ``KafkaError`` if it cannot bootstrap within ``ack_timeout_s``.
    """

    def __init__(self, settings: Settings, client_id: str, ack_timeout_s: float,
                 linger_ms: int) -> None:
        self.settings = settings
        self.ack_timeout_s = ack_timeout_s
        self._unsettled: set[Any] = set()  # futures of sends not known to be done
        self._lock = threading.Lock()
        self._partitions: dict[str, int] = {}  # partition count per topic name
        timeout_ms = int(ack_timeout_s * 1000)
        self._producer = KafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap, client_id=client_id, acks="all",
            enable_idempotence=True, linger_ms=linger_ms, max_block_ms=timeout_ms,
            # Without it the constructor blocks 30 s on an unreachable broker.
            bootstrap_timeout_ms=timeout_ms, request_timeout_ms=timeout_ms,
            compression_type=None, max_request_size=4 * 1024 * 1024, retries=2**31 - 1,
            delivery_timeout_ms=timeout_ms + 1000,
            # kafka-python backs off reconnects up to 30 s by default: an idle producer then
            # noticed a restarted broker ~15 s late. At most 1 s between attempts.
            reconnect_backoff_max_ms=1000, **kafka_client_options(settings),
        )

    def send_all(self, records: Sequence[OutRecord]) -> None:
        """Produce ``records`` and wait until the broker acknowledged every one of them.

        Records of packed topics are packed per key, or per partition, first
        (:func:`pack_records`), so a round of many small case events or sensor batches costs
        the stream jobs a few messages, not many.
        """
        futures: list[Any] = []
        try:
            for r in pack_records(records, partition_of=self._partition_of):
                futures.append(self._producer.send(r.topic.name(self.settings.topic_prefix),
                                                   key=r.key.encode(), value=r.value))
            with self._lock:
                self._unsettled.update(futures)
            self._producer.flush(timeout=self.ack_timeout_s)
            for future in futures:
                future.get(timeout=self.ack_timeout_s)
        except KafkaError as exc:
            raise KafkaUnavailable(f"Kafka did not acknowledge: {exc}") from exc
        finally:
            with self._lock:
                self._unsettled.difference_update(f for f in futures if f.is_done)

    def _partition_of(self, record: OutRecord) -> int:
        """The partition the producer's default partitioner gives ``record`` (the topic's
        partition count from the producer's metadata, fetched once per topic)."""
        name = record.topic.name(self.settings.topic_prefix)
        count = self._partitions.get(name)
        if count is None:
            count = self._partitions[name] = len(self._producer.partitions_for(name))
        return partition_for(record.key, count)

    def close(self, timeout_s: float | None = None) -> int:
        """Flush for at most ``timeout_s`` (default ``ack_timeout_s``), then force-close:
        whatever is not acknowledged by then is aborted. Returns the number of messages not
        delivered (logged as a warning); never raises."""
        wait = self.ack_timeout_s if timeout_s is None else timeout_s
        with contextlib.suppress(KafkaError):
            self._producer.flush(timeout=wait)
        with self._lock:
            lost = sum(1 for f in self._unsettled if not f.is_done or f.failed())
            self._unsettled.clear()
        if lost:
            log.warning("Kafka producer closed with %d message(s) not acknowledged "
                        "(their senders were answered as refused)", lost)
        # kafka-python's close(0) flushes again and raises before it stops the I/O thread
        # when records are pending, leaving a thread that would deliver them later: stop
        # that thread first (its batches are aborted), then close.
        sender = getattr(self._producer, "_sender", None)
        if sender is not None and sender.is_alive():
            sender.force_close()
            sender.join(timeout=max(wait, 1.0))
        with contextlib.suppress(KafkaError):
            self._producer.close(timeout=0)
        return lost


class HealingWriter:
    """A writer over sessions made by ``factory``: created on first use, discarded after
    any unacknowledged send, re-created on the next one (thread-safe; module docstring).

    ``acked_at`` is the monotonic time of the last acknowledged send (``-inf`` before).
    """

    def __init__(self, factory: Callable[[], Session], retry_s: float = 2.0,
                 name: str = "kafka") -> None:
        self._factory = factory
        self._retry_s = retry_s
        self._name = name
        self._session: Session | None = None
        self._failed_at = float("-inf")
        self._lock = threading.Lock()
        self._closed = False
        self.acked_at = float("-inf")
        self.replaced = 0  # sessions discarded after a failure

    def _get(self) -> Session:
        with self._lock:
            if self._closed:
                raise KafkaUnavailable("the producer is closed")
            if self._session is not None:
                return self._session
            if time.monotonic() - self._failed_at < self._retry_s:
                raise KafkaUnavailable("Kafka is unreachable (retrying shortly)")
            try:
                self._session = self._factory()
            except Exception as exc:  # noqa: BLE001 - bootstrap failures vary by client
                self._failed_at = time.monotonic()
                raise KafkaUnavailable(f"cannot connect to Kafka: {exc}") from exc
            return self._session

    def send_all(self, records: Sequence[OutRecord]) -> None:
        """Send through the current session (created if needed); on any failure discard
        that session and raise KafkaUnavailable."""
        session = self._get()
        try:
            session.send_all(records)
        except Exception as exc:
            self._discard(session, exc)
            if isinstance(exc, KafkaUnavailable):
                raise
            raise KafkaUnavailable(f"produce failed: {exc!r}") from exc
        self.acked_at = time.monotonic()

    def _discard(self, session: Session, reason: BaseException) -> None:
        with self._lock:
            if self._session is not session:
                return  # another thread already replaced it
            self._session = None
            self.replaced += 1
        log.warning("%s producer discarded after an unacknowledged send (%s); the next send "
                    "creates a new one", self._name, reason)
        threading.Thread(target=session.close, args=(0.0,), daemon=True,
                         name=f"{self._name}-discard").start()

    def close(self, timeout_s: float | None = None) -> int:
        """Flush for at most ``timeout_s``, release; return the messages not delivered."""
        with self._lock:
            session, self._session, self._closed = self._session, None, True
        return session.close(timeout_s) if session is not None else 0


class KafkaWriter(HealingWriter):
    """The self-healing, acks=all writer of one process (see the module docstring).

    With ``connect`` (the default) the constructor connects and raises the client's
    ``KafkaError`` if it cannot bootstrap; without it, the first send connects.
    """

    def __init__(self, settings: Settings, client_id: str = "gridwall",
                 ack_timeout_s: float = 10.0, linger_ms: int = 2, *, connect: bool = True,
                 retry_s: float = 2.0) -> None:
        self.settings = settings
        self.ack_timeout_s = ack_timeout_s
        super().__init__(lambda: ProducerSession(settings, client_id, ack_timeout_s,
                                                 linger_ms), retry_s, client_id)
        if connect:
            self._session = self._factory()
