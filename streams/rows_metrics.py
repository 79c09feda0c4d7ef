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

from domain.schemas import decode_sensor_batches
from streams.rows import COLUMNS, TIME_COLUMNS

READING_COLUMNS = ("ts_ms", "grid_id", "sensor_id", "kind", "value", "level", "batch_id")
AS_TUPLES = COLUMNS["sensor_readings"] == READING_COLUMNS and not TIME_COLUMNS["sensor_readings"]
Row = tuple[str, Any]  # (table, a row dict or a tuple in column order)


def sensor_readings_decoder(level_of: Callable[[str, float], str]
                            ) -> Callable[[bytes, int, int], list[Row]]:
    """A sink decoder: one ``sensor_readings`` row per reading of a readings-topic message
    (one SensorBatch, or an array of them: the topic is packed per partition).

    ``level_of(kind, value)`` classifies the value under the live thresholds. Undecodable
    records yield no rows (the sensors agent dead-letters them). The rows are those of
    :func:`streams.sensors.rollup.reading_rows` with the levels, built in one pass, as
    tuples in the table's column order (:func:`streams.rows.row_dict` names them) while
    the table contract's columns are :data:`READING_COLUMNS`, else as dicts.
    """

    def decode(value: bytes, _partition: int, _offset: int) -> list[Row]:
        try:
            batches = decode_sensor_batches(value)
        except msgspec.MsgspecError:
            return []
        rows: list[Row] = []
        for batch in batches:
            grid, batch_id = batch.grid_id, batch.batch_id
            if AS_TUPLES:
                rows += [("sensor_readings", (r.ts, grid, r.sensor_id, r.kind, r.value,
                                              level_of(r.kind, r.value), batch_id))
                         for r in batch.readings]
            else:
                rows += [("sensor_readings",
                          {"ts_ms": r.ts, "grid_id": grid, "sensor_id": r.sensor_id,
                           "kind": r.kind, "value": r.value,
                           "level": level_of(r.kind, r.value), "batch_id": batch_id})
                         for r in batch.readings]
        return rows

    return decode
