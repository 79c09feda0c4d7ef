"""The sensor-readings sink decoder.

The Streams II tables (migrations 0030-0034) are in the table contracts
(:mod:`domain.contracts.tables`) like the Streams I tables, so the one ClickHouse sink
writes them the same way (rows topic → ``RowBatch`` → INSERT). Sensor readings do not travel
through the rows topic: the sink reads the readings topic itself
(:func:`sensor_readings_decoder`), so a reading is encoded once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from domain.schemas import SensorBatch

_batch_decoder = msgspec.json.Decoder(SensorBatch)
Row = tuple[str, dict[str, Any]]


def sensor_readings_decoder(level_of: Callable[[str, float], str]
                            ) -> Callable[[bytes, int, int], list[Row]]:
    """A sink decoder: one ``sensor_readings`` row per reading of a SensorBatch record.

    ``level_of(kind, value)`` classifies the value under the live thresholds. Undecodable
    records yield no rows (the sensors agent dead-letters them). The rows are those of
    :func:`streams.sensors.rollup.reading_rows` with the levels, built in one pass.
    """

    def decode(value: bytes, _partition: int, _offset: int) -> list[Row]:
        try:
            batch = _batch_decoder.decode(value)
        except msgspec.MsgspecError:
            return []
        grid, batch_id = batch.grid_id, batch.batch_id
        return [("sensor_readings",
                 {"ts_ms": r.ts, "grid_id": grid, "sensor_id": r.sensor_id, "kind": r.kind,
                  "value": r.value, "level": level_of(r.kind, r.value),
                  "batch_id": batch_id})
                for r in batch.readings]

    return decode
