"""What every Kafka producer here shares: the record, the refusal, the writer protocol, and
the packing of small records into one message per key.

- :class:`OutRecord` is one record to produce (topic, key, encoded value);
- :class:`Writer` is what a caller needs of a writer: :meth:`~Writer.send_all` returns only
  once every record is acknowledged, or raises :class:`KafkaUnavailable` -- a caller
  reports success only after it returned (:class:`core.kafka_writer.KafkaWriter` is
  the implementation);
- :func:`pack_records` packs the records of ``packed`` topics per key (or per partition)
  into JSON-array messages (pure).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from kafka.partitioner.default import murmur2

from domain.contracts.topics import TopicSpec

PACK_MAX_RECORDS = 500
PACK_MAX_BYTES = 512 * 1024


def partition_for(key: str, partitions: int) -> int:
    """The partition of records keyed ``key`` among ``partitions``: the default partitioner
    of kafka-python, aiokafka and Java for keyed records,
    ``murmur2(key) & 0x7fffffff % partitions``."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


class KafkaUnavailable(RuntimeError):
    """The broker did not acknowledge in time; nothing may be reported as accepted."""


@dataclass(frozen=True)
class OutRecord:
    """One record to produce: topic, key (``grid_id``) and encoded value."""

    topic: TopicSpec
    key: str
    value: bytes


class Writer(Protocol):
    """An acknowledged Kafka writer (see :class:`core.kafka_writer.KafkaWriter`)."""

    def send_all(self, records: Sequence[OutRecord]) -> None:
        """Return once every record is acknowledged, or raise KafkaUnavailable."""

    def close(self, timeout_s: float | None = None) -> object:
        """Flush for at most ``timeout_s`` (bounded by default) and release; never raises."""


def pack_records(records: Sequence[OutRecord], max_records: int = PACK_MAX_RECORDS,
                 max_bytes: int = PACK_MAX_BYTES,
                 partition_of: Callable[[OutRecord], int] | None = None) -> list[OutRecord]:
    """Pack the records of ``packed`` topics into JSON-array messages, one key per message,
    or, for a ``pack_per_partition`` topic when ``partition_of`` (a record's partition, by
    its key) is given, one partition per message, keyed by its first record's key.

    Guarantees: every input record's value appears in exactly one output message; records
    of one (topic, key) keep their order; every record of a message lands in the partition
    of its own key (the message's key is one of its records' keys, of that partition); a
    message holds at most ``max_records`` values and grows past ``max_bytes`` only by a
    single value that is larger on its own; records of topics that are not packed, and
    groups with a single record, pass through unchanged. Values must be JSON objects (an
    array of them is then valid JSON).
    """
    out: list[OutRecord] = []
    groups: dict[tuple[str, str | int], list[OutRecord]] = {}
    for record in records:
        topic = record.topic
        if not topic.packed:
            out.append(record)
        elif topic.pack_per_partition and partition_of is not None:
            groups.setdefault((topic.base, partition_of(record)), []).append(record)
        else:
            groups.setdefault((topic.base, record.key), []).append(record)
    for group in groups.values():
        for chunk in _chunks(group, max_records, max_bytes):
            if len(chunk) == 1:
                out.append(chunk[0])
            else:
                value = b"[" + b",".join(r.value for r in chunk) + b"]"
                out.append(OutRecord(chunk[0].topic, chunk[0].key, value))
    return out


def _chunks(group: list[OutRecord], max_records: int, max_bytes: int
            ) -> Iterable[list[OutRecord]]:
    chunk: list[OutRecord] = []
    size = 0
    for record in group:
        if chunk and (len(chunk) >= max_records or size + len(record.value) > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(record)
        size += len(record.value) + 1
    if chunk:
        yield chunk
