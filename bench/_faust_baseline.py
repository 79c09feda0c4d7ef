"""The baseline of ``bench.pipeline``: the same sensor metrics job the documented Faust way.

One message per reading (``faust.Record`` with the json codec), ``async for`` over the
stream, a per-event table update (the grid's running count / sum / min / max) and a per-event
``await topic.send`` of the reading's row — as the Faust docs show. Run as
``python -m bench._faust_baseline PREFIX BOOTSTRAP EXPECTED RESULT_FILE``: it consumes the
readings topic ``<PREFIX>baseline.readings`` and writes ``first_ms last_ms count`` to
RESULT_FILE once it has processed ``EXPECTED`` readings (Faust captures stdout), then idles
until it is terminated.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import faust

THRESHOLDS = {"smoke": 3.0, "gas": 10.0, "water_level": 30.0, "manhole_cover": 5.0,
              "noise": 70.0, "air_quality": 150.0}


class Reading(faust.Record, serializer="json"):
    """One sensor reading, one message."""

    sensor_id: str
    grid_id: str
    kind: str
    value: float
    ts: int


class Row(faust.Record, serializer="json"):
    """The reading's row for the sink, with its threshold level."""

    sensor_id: str
    grid_id: str
    kind: str
    value: float
    ts: int
    level: str


def topic_names(prefix: str) -> tuple[str, str]:
    """The baseline's input and output topics."""
    return f"{prefix}baseline.readings", f"{prefix}baseline.rows"


def build(prefix: str, bootstrap: str, expected: int, result: Path) -> faust.App:
    """The documented-style app."""
    app = faust.App(f"{prefix}baseline", broker=f"kafka://{bootstrap}", store="memory://",
                    topic_partitions=8, topic_replication_factor=1, web_enabled=False,
                    consumer_auto_offset_reset="earliest", topic_allow_declare=True)
    readings_name, rows_name = topic_names(prefix)
    readings = app.topic(readings_name, value_type=Reading)
    rows = app.topic(rows_name, value_type=Row)
    stats = app.Table("grid_stats", default=dict, partitions=8)
    seen = {"count": 0, "first": 0}

    @app.agent(readings)
    async def process(stream: Any) -> None:
        async for reading in stream:
            grid = dict(stats[reading.grid_id])
            grid["count"] = grid.get("count", 0) + 1
            grid["sum"] = grid.get("sum", 0.0) + reading.value
            grid["max"] = max(grid.get("max", reading.value), reading.value)
            stats[reading.grid_id] = grid
            level = "warning" if reading.value >= THRESHOLDS[reading.kind] else "ok"
            await rows.send(key=reading.grid_id, value=Row(
                sensor_id=reading.sensor_id, grid_id=reading.grid_id, kind=reading.kind,
                value=reading.value, ts=reading.ts, level=level))
            seen["count"] += 1
            if seen["count"] == 1:
                seen["first"] = int(time.time() * 1000)
            if seen["count"] == expected:
                result.write_text(f'{seen["first"]} {int(time.time() * 1000)} {seen["count"]}')

    return app


def main() -> None:
    """Run the baseline worker (see the module docstring)."""
    prefix, bootstrap, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
    app = build(prefix, bootstrap, expected, Path(sys.argv[4]))
    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn", "--without-web"]
    app.main()


if __name__ == "__main__":
    main()
