"""Sensor rows for ClickHouse: every reading, and a 1-minute rollup per grid and kind.

:class:`SensorRollup` aggregates readings per (grid, kind, minute of the reading's ``ts``):
count, sum, min, max. :meth:`SensorRollup.rows` returns the full aggregate of changed
minutes (a closed minute at once, an open one in turn, see there), so rewriting a row
(ReplacingMergeTree by its key, newest version wins) is idempotent. Minutes older than
``retention_ms`` behind the newest reading are evicted; a reading older than that is not
rolled up and is tallied in ``late``.
Rollups move with the grid's partition: :meth:`SensorRollup.drop_grids` forgets grids, and
``add(batch, replay=True)`` rebuilds cells without marking them changed (their rows were
written by the previous owner; the next reading of the minute rewrites the whole aggregate).
"""

from __future__ import annotations

from typing import Any

from domain.schemas import SensorBatch
from streams.metrics.windows import MINUTE_MS

RollupKey = tuple[str, str, int]  # grid_id, kind, minute_ms


def reading_rows(batch: SensorBatch, levels: list[str] | None = None) -> list[dict[str, Any]]:
    """One ``sensor_readings`` row per reading (``levels`` in reading order, optional)."""
    grid = batch.grid_id
    return [{"ts_ms": r.ts, "grid_id": grid, "sensor_id": r.sensor_id, "kind": r.kind,
             "value": r.value, "level": levels[i] if levels else "",
             "batch_id": batch.batch_id}
            for i, r in enumerate(batch.readings)]


class SensorRollup:
    """Per-minute aggregates; see the module docstring."""

    def __init__(self, retention_ms: int = 10 * MINUTE_MS) -> None:
        self.retention_ms = retention_ms
        self.cells: dict[RollupKey, list[float]] = {}  # [count, sum, min, max]
        self.watermark_ms = 0
        self.late = 0
        # changed minutes, in the order they first changed since they were last written
        self._dirty: dict[RollupKey, None] = {}
        self._cutoff = 0

    def add(self, batch: SensorBatch, replay: bool = False) -> None:
        """Roll up every reading of ``batch`` (``replay``: without marking rows changed)."""
        grid = batch.grid_id
        cells = self.cells
        oldest = self.watermark_ms - self.retention_ms
        newest = self.watermark_ms
        for r in batch.readings:
            if r.ts < oldest:
                self.late += 1
                continue
            key = (grid, r.kind, r.ts - r.ts % MINUTE_MS)
            cell = cells.get(key)
            v = r.value
            if cell is None:
                cells[key] = [1, v, v, v]
            else:
                cell[0] += 1
                cell[1] += v
                if v < cell[2]:
                    cell[2] = v
                if v > cell[3]:
                    cell[3] = v
            if not replay:
                self._dirty[key] = None
            if r.ts > newest:
                newest = r.ts
        self.watermark_ms = newest
        self._evict()

    def drop_grids(self, grid_ids: set[str]) -> None:
        """Forget the cells of ``grid_ids`` (rows not yet written are the new owner's)."""
        self.cells = {k: v for k, v in self.cells.items() if k[0] not in grid_ids}
        self._dirty = {k: None for k in self._dirty if k[0] not in grid_ids}

    def rewrite(self, grid_ids: set[str], complete_from_ms: int) -> None:
        """Mark the held cells of ``grid_ids`` from the first whole minute at or after
        ``complete_from_ms`` changed (after a replay from that time: rows a killed owner
        may not have written)."""
        first = complete_from_ms + (-complete_from_ms) % MINUTE_MS
        for key in self.cells:
            if key[0] in grid_ids and key[2] >= first:
                self._dirty.setdefault(key)

    def rows(self, version: int, max_open: int | None = None) -> list[dict[str, Any]]:
        """``sensor_rollup_1m`` rows of minutes changed since they were last returned.

        Every changed closed minute (the newest reading is past its end) is returned, and
        of the changed open minutes the ``max_open`` that changed first (all with None).
        The others stay changed and come first next time: called every second, each open
        minute is rewritten at least every ceil(changed open minutes / ``max_open``)
        seconds, not at every call (at city scale that would be ~50,000 rows a second),
        and a minute's final aggregate as soon as it closes.
        """
        closed_before = self.watermark_ms - self.watermark_ms % MINUTE_MS
        due = []
        open_left = len(self._dirty) if max_open is None else max_open
        for key in self._dirty:
            if key[2] < closed_before:
                due.append(key)
            elif open_left > 0:
                open_left -= 1
                due.append(key)
        for key in due:
            del self._dirty[key]
        due.sort()
        out = []
        for key in due:
            cell = self.cells.get(key)
            if cell is None:
                continue
            grid, kind, minute = key
            count, total, low, high = cell
            out.append({"minute_ms": minute, "grid_id": grid, "kind": kind,
                        "readings": int(count), "value_sum": total, "value_min": low,
                        "value_max": high, "value_mean": total / count, "version": version})
        return out

    def _evict(self) -> None:
        cutoff = self.watermark_ms - self.retention_ms
        cutoff -= cutoff % MINUTE_MS
        if cutoff > self._cutoff:  # only when the watermark enters a new minute
            self._cutoff = cutoff
            self.cells = {k: v for k, v in self.cells.items() if k[2] >= cutoff}
