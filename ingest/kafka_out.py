"""Producing to Kafka with the guarantee the gateway promises: acknowledged or refused.

:class:`KafkaWriter` wraps an idempotent kafka-python producer (``acks=all``). Its
:meth:`~KafkaWriter.send_all` returns only when every record was acknowledged by the
broker, or raises :class:`KafkaUnavailable`; a caller answers 202 only after it returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kafka import KafkaProducer
from kafka.errors import KafkaError

from gridwall.settings import Settings
from infra.topics import TopicSpec
from ingest.batching import pack_records


class KafkaUnavailable(RuntimeError):
    """The broker did not acknowledge in time; nothing may be reported as accepted."""


@dataclass(frozen=True)
class OutRecord:
    """One record to produce: topic, key (``grid_id``) and encoded value."""

    topic: TopicSpec
    key: str
    value: bytes


class KafkaWriter:
    """An idempotent, acks=all producer for one process.

    The constructor raises a ``KafkaError`` if it cannot bootstrap within ``ack_timeout_s``.
    """

    def __init__(self, settings: Settings, client_id: str = "gridwall",
                 ack_timeout_s: float = 10.0, linger_ms: int = 2) -> None:
        self.settings = settings
        self.ack_timeout_s = ack_timeout_s
        self._producer = KafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap, client_id=client_id, acks="all",
            enable_idempotence=True, linger_ms=linger_ms, max_block_ms=int(ack_timeout_s * 1000),
            # Without it the constructor blocks 30 s on an unreachable broker.
            bootstrap_timeout_ms=int(ack_timeout_s * 1000),
            request_timeout_ms=int(ack_timeout_s * 1000), compression_type=None,
            max_request_size=4 * 1024 * 1024, retries=2**31 - 1,
            delivery_timeout_ms=int(ack_timeout_s * 1000) + 1000,
        )

    def send_all(self, records: Sequence[OutRecord]) -> None:
        """Produce ``records`` and wait until the broker acknowledged every one of them.

        Records of packed topics are packed per key first (:func:`pack_records`), so a
        round of many small case events costs the stream jobs a few messages, not many.
        """
        try:
            futures = [self._producer.send(r.topic.name(self.settings), key=r.key.encode(),
                                           value=r.value) for r in pack_records(records)]
            self._producer.flush(timeout=self.ack_timeout_s)
            for future in futures:
                future.get(timeout=self.ack_timeout_s)
        except KafkaError as exc:
            raise KafkaUnavailable(f"Kafka did not acknowledge: {exc}") from exc

    def close(self) -> None:
        """Flush what is pending and close the producer."""
        self._producer.close(timeout=self.ack_timeout_s)
