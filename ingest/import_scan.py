"""Reading back what a topic holds between two points: end offsets and a bounded scan.

The importer uses it after a crash to learn which rows of an unconfirmed batch Kafka did
acknowledge; tests use it to read what was produced. Guarantees of :meth:`TopicLog.read`:
it returns every message from the given start offsets up to the end offsets as they were
when it was called (so it terminates even while others keep producing), each once, in
offset order within a partition; it raises TimeoutError rather than return a partial scan.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition

from core.clients import kafka_client_options
from core.settings import Settings
from domain.contracts.topics import TopicSpec

# topic name -> partition -> offset
Offsets = dict[str, dict[int, int]]


@dataclass(frozen=True)
class Message:
    """One message as stored: where it is, its key and its value."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


class TopicLog:
    """A consumer without a group, for end offsets and bounded scans of some topics."""

    def __init__(self, settings: Settings, timeout_s: float = 30.0) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self._consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap,
                                       group_id=None, enable_auto_commit=False,
                                       client_id="gridwall-topic-log",
                                       **kafka_client_options(settings))

    def _partitions(self, specs: Iterable[TopicSpec]) -> list[TopicPartition]:
        out = []
        for spec in specs:
            name = spec.name(self.settings.topic_prefix)
            partitions = self._consumer.partitions_for_topic(name)
            if not partitions:
                raise LookupError(f"topic {name} does not exist")
            out += [TopicPartition(name, p) for p in sorted(partitions)]
        return out

    def end_offsets(self, specs: Iterable[TopicSpec]) -> Offsets:
        """The next offset to be written in every partition of ``specs``."""
        ends = self._consumer.end_offsets(self._partitions(specs))
        out: Offsets = {}
        for tp, offset in ends.items():
            out.setdefault(tp.topic, {})[tp.partition] = offset
        return out

    def beginning(self, specs: Iterable[TopicSpec]) -> Offsets:
        """The earliest offsets of every partition of ``specs``."""
        starts = self._consumer.beginning_offsets(self._partitions(specs))
        out: Offsets = {}
        for tp, offset in starts.items():
            out.setdefault(tp.topic, {})[tp.partition] = offset
        return out

    def read(self, start: Offsets) -> Iterator[Message]:
        """Every message from ``start`` up to the current end (see the module docstring)."""
        partitions = [TopicPartition(t, p) for t, parts in start.items() for p in parts]
        ends = self._consumer.end_offsets(partitions)
        pending = {tp for tp in partitions if ends[tp] > start[tp.topic][tp.partition]}
        if not pending:
            return
        self._consumer.assign(sorted(pending))
        for tp in pending:
            self._consumer.seek(tp, start[tp.topic][tp.partition])
        deadline = time.monotonic() + self.timeout_s
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"scan did not reach the end of {sorted(map(str, pending))}")
            for tp, batch in self._consumer.poll(timeout_ms=500).items():
                for record in batch:
                    if tp in pending and record.offset < ends[tp]:
                        yield Message(tp.topic, tp.partition, record.offset, record.key,
                                      record.value)
                if tp in pending and self._consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
                    self._consumer.pause(tp)

    def read_all(self, specs: Iterable[TopicSpec]) -> list[Message]:
        """Everything the topics of ``specs`` hold now (for tests and small topics)."""
        return list(self.read(self.beginning(specs)))

    def close(self) -> None:
        """Close the consumer."""
        self._consumer.close()
