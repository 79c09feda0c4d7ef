"""Packing sensor readings into per-grid Kafka messages (pure).

A Faust stream pays its cost per message (~300 µs here), so readings travel as
:class:`~domain.schemas.SensorBatch` messages: one grid's readings from one request, at
most ``max_per_message`` readings each. Guarantees: every reading lands in exactly one
batch, batches keep the readings' order within a grid, and batch ids are derived
deterministically from ``request_id`` (a retried request yields the same ids).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from domain.schemas import SensorBatch, SensorReading

if TYPE_CHECKING:
    from ingest.kafka_out import OutRecord

DEFAULT_MAX_PER_MESSAGE = 2000
PACK_MAX_RECORDS = 500
PACK_MAX_BYTES = 512 * 1024


def group_readings(readings: Iterable[tuple[str, SensorReading]], request_id: str,
                   received_ms: int, source: str = "sensor",
                   max_per_message: int = DEFAULT_MAX_PER_MESSAGE) -> list[SensorBatch]:
    """Group ``(grid_id, reading)`` pairs into per-grid batches of bounded size."""
    by_grid: dict[str, list[SensorReading]] = {}
    for grid_id, reading in readings:
        by_grid.setdefault(grid_id, []).append(reading)
    batches: list[SensorBatch] = []
    for grid_id, items in by_grid.items():
        for part, start in enumerate(range(0, len(items), max_per_message)):
            batches.append(SensorBatch(
                batch_id=f"{request_id}:{grid_id}:{part}", grid_id=grid_id,
                received_ms=received_ms, source=source,  # type: ignore[arg-type]
                readings=items[start:start + max_per_message]))
    return batches


def pack_records(records: Sequence[OutRecord], max_records: int = PACK_MAX_RECORDS,
                 max_bytes: int = PACK_MAX_BYTES) -> list[OutRecord]:
    """Pack the records of ``packed`` topics into JSON-array messages, one key per message.

    Guarantees: every input record's value appears in exactly one output message; records
    of one (topic, key) keep their order; a message holds at most ``max_records`` values and
    grows past ``max_bytes`` only by a single value that is larger on its own; records of
    topics that are not packed, and keys with a single record, pass through unchanged.
    Values must be JSON objects (an array of them is then valid JSON).
    """
    from ingest.kafka_out import OutRecord

    out: list[OutRecord] = []
    groups: dict[tuple[str, str], list[OutRecord]] = {}
    for record in records:
        if record.topic.packed:
            groups.setdefault((record.topic.base, record.key), []).append(record)
        else:
            out.append(record)
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
