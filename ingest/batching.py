"""Packing sensor readings into per-grid Kafka messages (pure).

A Faust stream pays its cost per message (~300 µs here), so readings travel as
:class:`~domain.schemas.SensorBatch` messages: one grid's readings from one request, at
most ``max_per_message`` readings each. Guarantees: every reading lands in exactly one
batch, batches keep the readings' order within a grid, and batch ids are derived
deterministically from ``request_id`` (a retried request yields the same ids).
"""

from __future__ import annotations

from collections.abc import Iterable

from domain.schemas import SensorBatch, SensorReading

DEFAULT_MAX_PER_MESSAGE = 2000


def group_readings(readings: Iterable[tuple[str, SensorReading]], request_id: str,
                   received_ms: int, source: str = "sensor",
                   max_per_message: int = DEFAULT_MAX_PER_MESSAGE) -> list[SensorBatch]:
    """Group ``(grid_id, reading)`` pairs into per-grid batches of bounded size."""
    by_grid: dict[str, list[SensorReading]] = {}
    for grid_id, reading in readings:
        by_grid.setdefault(grid_id, []).append(reading)
    return grid_batches(by_grid, request_id, received_ms, source, max_per_message)


def grid_batches(by_grid: dict[str, list[SensorReading]], request_id: str, received_ms: int,
                 source: str = "sensor", max_per_message: int = DEFAULT_MAX_PER_MESSAGE
                 ) -> list[SensorBatch]:
    """The batches of readings already grouped by grid (as :func:`group_readings`)."""
    batches: list[SensorBatch] = []
    for grid_id, items in by_grid.items():
        if len(items) <= max_per_message:
            batches.append(SensorBatch(
                batch_id=f"{request_id}:{grid_id}:0", grid_id=grid_id,
                received_ms=received_ms, source=source,  # type: ignore[arg-type]
                readings=items))
            continue
        for part, start in enumerate(range(0, len(items), max_per_message)):
            batches.append(SensorBatch(
                batch_id=f"{request_id}:{grid_id}:{part}", grid_id=grid_id,
                received_ms=received_ms, source=source,  # type: ignore[arg-type]
                readings=items[start:start + max_per_message]))
    return batches
