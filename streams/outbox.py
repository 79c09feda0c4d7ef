"""What one agent batch sends, coalesced, and sent as a whole before the batch is acked.

Guarantees: :meth:`Outbox.flush` returns only when the broker acknowledged every record, so
an agent that flushes before writing its table and before returning from the batch body
(after which Faust acks the input) never loses an output: a crash before the flush replays
the input, which produces the same records again. Wall updates and alert snapshots are
coalesced to the last one per key; rows are grouped per table into messages of at most
:data:`ROWS_PER_MESSAGE` rows and :data:`MAX_MESSAGE_BYTES` bytes (a busy batch of packed
input can change tens of thousands of cases at once). Records sent in order to a topic
packed per partition (``packed``, e.g. the alert ops) are packed into one JSON-array message
per partition (:func:`core.kafka_records.pack_records`; order kept per key, every record in
its own key's partition): a Faust agent pays its cost per message, and a city's sensors send
alert ops for thousands of grids a second.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from core.kafka_records import OutRecord, pack_records, partition_for
from domain.contracts.topics import TopicSpec
from domain.privacy import scrub_payload, scrub_text
from domain.schemas import DeadLetter, WallUpdate
from domain.wire import encode
from streams.rows import RowBatch

# send(topic, key, value) -> awaitable that resolves when the broker acknowledged
Send = Callable[[str, bytes, bytes], Awaitable[Awaitable[Any]]]
# a topic's full name -> its partition count
PartitionCount = Callable[[str], Awaitable[int]]
MAX_RAW = 8_192
ROWS_PER_MESSAGE = 1_000
MAX_MESSAGE_BYTES = 900_000  # under the producer's 1 MiB request limit


class Outbox:
    """Records of one batch, by kind."""

    def __init__(self, send: Send, rows_topic: str, wall_topic: str, dead_topic: str,
                 packed: dict[str, TopicSpec] | None = None,
                 partitions: PartitionCount | None = None) -> None:
        """``packed``: full topic name -> spec of the topics whose in-order records are
        packed per partition, with ``partitions`` giving their partition counts."""
        self._send = send
        self._packed = packed or {}
        self._partitions = partitions
        self._rows_topic = rows_topic
        self._wall_topic = wall_topic
        self._dead_topic = dead_topic
        self._rows: dict[str, dict[Any, dict[str, Any]]] = {}
        self._latest: dict[tuple[str, str], tuple[bytes, bytes]] = {}
        self._ordered: list[tuple[str, bytes, bytes]] = []

    def row(self, table: str, row: dict[str, Any], identity: Any) -> None:
        """A ClickHouse row; a later row with the same ``identity`` replaces it."""
        self._rows.setdefault(table, {})[identity] = row

    def latest(self, topic: str, key: str, value: bytes, identity: str | None = None) -> None:
        """A snapshot record: only the last one per (topic, identity or key) is sent."""
        self._latest[(topic, identity or key)] = (key.encode(), value)

    def wall(self, channel: str, key: str, ts: int, data: dict[str, Any], grid_id: str
             ) -> None:
        """A wall update, coalesced per (channel, key), keyed by grid in Kafka."""
        update = WallUpdate(channel=channel, key=key, ts=ts, data=data)
        self.latest(self._wall_topic, grid_id, encode(update), identity=f"{channel}/{key}")

    def send(self, topic: str, key: str, value: bytes) -> None:
        """A record sent as is, in order."""
        self._ordered.append((topic, key.encode(), value))

    def dead(self, stage: str, source: str, reason: str, ts: int, raw: bytes,
             grid_id: str | None = None, field: str | None = None) -> None:
        """A rejected input for the dead-letter topic: raw body scrubbed of credentials and
        personal data (:func:`domain.privacy.scrub_payload`) and cut to a bounded size."""
        text = raw.decode("utf-8", errors="replace")
        cut = len(text) > MAX_RAW
        kept = scrub_text(text[:MAX_RAW]) if cut else scrub_payload(text)
        letter = DeadLetter(source=source, reason=reason, ts=ts, stage=stage, field=field,
                            grid_id=grid_id, raw=kept[:MAX_RAW],
                            raw_truncated=cut or len(kept) > MAX_RAW)
        self.send(self._dead_topic, grid_id or source, encode(letter))

    def __len__(self) -> int:
        return (sum(len(r) for r in self._rows.values()) + len(self._latest)
                + len(self._ordered))

    async def flush(self) -> None:
        """Send everything and wait for every acknowledgement; the outbox is empty after."""
        records = await self._pack(self._ordered)
        for (topic, _), (key, value) in self._latest.items():
            records.append((topic, key, value))
        for table, rows in self._rows.items():
            values = list(rows.values())
            for start in range(0, len(values), ROWS_PER_MESSAGE):
                for value in _row_messages(table, values[start:start + ROWS_PER_MESSAGE]):
                    records.append((self._rows_topic, table.encode(), value))
        self._rows.clear()
        self._latest.clear()
        self._ordered.clear()
        if records:
            pending = [await self._send(topic, key, value) for topic, key, value in records]
            await asyncio.gather(*pending)

    async def _pack(self, records: list[tuple[str, bytes, bytes]]
                    ) -> list[tuple[str, bytes, bytes]]:
        """``records`` with those of per-partition packed topics packed (see the module
        docstring); the others as they were, in order."""
        packed, partitions = self._packed, self._partitions
        kept = [r for r in records if r[0] not in packed]
        if len(kept) == len(records) or partitions is None:
            return list(records)
        names = {packed[topic].base: topic for topic, _, _ in records if topic in packed}
        counts = {name: await partitions(name) for name in names.values()}
        out = pack_records(
            [OutRecord(packed[topic], key.decode(), value)
             for topic, key, value in records if topic in packed],
            partition_of=lambda r: partition_for(r.key, counts[names[r.topic.base]]))
        return kept + [(names[r.topic.base], r.key.encode(), r.value) for r in out]


def _row_messages(table: str, rows: list[dict[str, Any]]) -> list[bytes]:
    """Encoded RowBatch messages for ``rows``, halved until each fits the size limit."""
    value = encode(RowBatch(table=table, rows=rows))
    if len(value) <= MAX_MESSAGE_BYTES or len(rows) == 1:
        return [value]
    middle = len(rows) // 2
    return _row_messages(table, rows[:middle]) + _row_messages(table, rows[middle:])
