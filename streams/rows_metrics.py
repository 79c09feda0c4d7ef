"""The Streams II tables in the sink's catalog, and the sensor-readings sink decoder.

:func:`register_tables` adds the columns of the Streams II tables (migrations 0030-0034) to
:data:`streams.rows.COLUMNS` / :data:`streams.rows.TIME_COLUMNS`, so the one ClickHouse sink
writes them like the Streams I tables (rows topic → ``RowBatch`` → INSERT). Registering twice
is harmless. Sensor readings do not travel through the rows topic: the sink reads the
readings topic itself (:func:`sensor_readings_decoder`), so a reading is encoded once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from domain.schemas import SensorBatch
from streams.rows import COLUMNS, TIME_COLUMNS
from streams.sensors.rollup import reading_rows

TABLES: dict[str, tuple[tuple[str, ...], tuple[tuple[str, str, str], ...]]] = {
    "grid_metrics_1m": (("minute_date", "minute", "minute_ms", "grid_id", "community_id",
                         "reported", "closed", "completed", "on_time", "open_backlog",
                         "overdue", "steps", "step_n", "step_mean_ms", "step_p90_ms",
                         "version"), (("minute_date", "minute", "minute_ms"),)),
    # Date/DateTime of readings default from ts_ms in ClickHouse (see migration 0031)
    "sensor_readings": (("ts_ms", "grid_id", "sensor_id", "kind", "value", "level",
                         "batch_id"), ()),
    "sensor_rollup_1m": (("minute_date", "minute", "minute_ms", "grid_id", "kind", "readings",
                          "value_sum", "value_min", "value_max", "value_mean", "version"),
                         (("minute_date", "minute", "minute_ms"),)),
    "scores": (("score_date", "ts", "ts_ms", "minute_ms", "kind", "subject", "score", "rank",
                "cases", "rank_change", "score_change", "breakdown", "version"),
               (("score_date", "ts", "ts_ms"),)),
    "score_periods": (("period", "period_start_ms", "score_date", "ts", "ts_ms", "minute_ms",
                       "kind", "subject", "score", "rank", "cases", "rank_change",
                       "score_change", "breakdown", "version"), (("score_date", "ts", "ts_ms"),)),
    "grid_registers": (("updated_date", "updated_at", "updated_ms", "grid_id", "figure",
                        "value", "version"), (("updated_date", "updated_at", "updated_ms"),)),
}

_batch_decoder = msgspec.json.Decoder(SensorBatch)
Row = tuple[str, dict[str, Any]]


def register_tables() -> None:
    """Make the sink know the Streams II tables (idempotent)."""
    for table, (columns, times) in TABLES.items():
        COLUMNS[table] = columns
        TIME_COLUMNS[table] = times


def sensor_readings_decoder(level_of: Callable[[str, float], str]
                            ) -> Callable[[bytes, int, int], list[Row]]:
    """A sink decoder: one ``sensor_readings`` row per reading of a SensorBatch record.

    ``level_of(kind, value)`` classifies the value under the live thresholds. Undecodable
    records yield no rows (the sensors agent dead-letters them).
    """

    def decode(value: bytes, _partition: int, _offset: int) -> list[Row]:
        try:
            batch = _batch_decoder.decode(value)
        except msgspec.MsgspecError:
            return []
        levels = [level_of(r.kind, r.value) for r in batch.readings]
        return [("sensor_readings", row) for row in reading_rows(batch, levels)]

    return decode
