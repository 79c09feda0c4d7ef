"""The sensors job hands a large batch to the event loop in slices.

Every job of a worker shares one event loop, so a batch of 100,000 readings handled in one
synchronous stretch would hold a case event back at each ``await`` on its path.
:meth:`SensorsJob.handle` yields every :data:`~streams.jobs.sensors.SLICE_READINGS`
readings; the result is the same as handling the batch without yielding.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

import streams.jobs.sensors as sensors_module
from streams.jobs.sensors import SLICE_READINGS, SensorsJob
from streams.runner import Item
from tests.unit.loop_ticks import ticks_during
from tests.unit.test_partials_on_change import TP, sensors_job
from tests.unit.test_sensors import T0, batch
from tests.unit.test_street_stage import CapturingExt

RECORD = SimpleNamespace(topic=TP.topic, partition=TP.partition)


def items(n_batches: int, per_batch: int) -> list[Item]:
    """``n_batches`` messages of ``per_batch`` gas readings of sensors a and b (rising)."""
    return [Item(RECORD, [batch([("ab"[i % 2], "gas", float(i % 30), T0 + b * 1_000 + i)
                                 for i in range(per_batch)])])
            for b in range(n_batches)]


def state(job: SensorsJob) -> dict[str, tuple[object, ...]]:
    """Each sensor's detector state (its rolling window by size and z-score of 15)."""
    return {sid: (s.level, s.anomalous, s.last_value, s.last_ts, len(s.window),
                  s.window.zscore(15.0)) for sid, s in job.detector.sensors.items()}


def test_handle_yields_between_slices_and_ends_as_one_stretch_would(
        monkeypatch: pytest.MonkeyPatch) -> None:
    per_batch = 500
    n_batches = 3 * SLICE_READINGS // per_batch  # three slices' worth
    sliced_ext, whole_ext = CapturingExt(), CapturingExt()
    sliced, whole = sensors_job(sliced_ext), sensors_job(whole_ext)

    tally, ticks = asyncio.run(
        ticks_during(sliced.handle(items(n_batches, per_batch), sliced_ext.outbox())))
    assert tally.events == n_batches * per_batch
    assert ticks >= 2  # another task ran between the slices

    monkeypatch.setattr(sensors_module, "SLICE_READINGS", 10 ** 9)  # one stretch
    asyncio.run(whole.handle(items(n_batches, per_batch), whole_ext.outbox()))
    assert state(sliced) == state(whole)
    assert sliced.rollup.rows(10 ** 15) == whole.rollup.rows(10 ** 15)
    assert sliced_ext.sent == whole_ext.sent


def many_grids_job(ext: CapturingExt, grids: int) -> SensorsJob:
    """A sensors job owning ``grids`` grids of one sensor each, every grid seen once."""
    from domain.sensor_policy import load_sensor_policy
    from streams.metrics.coalesce import Coalescer
    from streams.sensors.detector import SensorDetector
    from streams.sensors.rollup import SensorRollup
    from tests.unit.test_partials_on_change import CONFIG

    names = [f"G{g:05d}" for g in range(grids)]
    detector = SensorDetector(load_sensor_policy(CONFIG / "thresholds.yaml"),
                              {f"{g}-a": (g, "gas") for g in names})
    job = SensorsJob(ext, detector, SensorRollup())  # type: ignore[arg-type]
    job.health_due = Coalescer(0)
    job.partition_grids(RECORD).update(names)
    for n, grid in enumerate(names):
        job.detector.update(batch([(f"{grid}-a", "gas", float(n % 30), T0)], grid=grid))
        job.rollup.add(batch([(f"{grid}-a", "gas", float(n % 30), T0)], grid=grid))
    job.touch(dict.fromkeys(names, T0))
    return job


def test_health_and_rollups_of_many_grids_yield_and_end_as_one_stretch_would(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A city's start makes every grid due for health, a minute's end closes every grid's
    rollup minute: both are sent in slices, with what one stretch would send."""
    grids = 3 * sensors_module.SLICE_GRIDS
    sliced_ext, whole_ext = CapturingExt(), CapturingExt()
    sliced, whole = many_grids_job(sliced_ext, grids), many_grids_job(whole_ext, grids)
    monkeypatch.setattr(sensors_module, "SLICE_ROWS", grids // 3)
    monkeypatch.setattr(sensors_module, "wall_ms", lambda: T0 + 1)

    async def both(job: SensorsJob) -> tuple[int, int]:
        return await job.publish_health(), await job.flush_rollups()

    (partials, rows), ticks = asyncio.run(ticks_during(both(sliced)))
    assert partials == grids and rows == grids

    monkeypatch.setattr(sensors_module, "SLICE_GRIDS", 10 ** 9)
    monkeypatch.setattr(sensors_module, "SLICE_ROWS", 10 ** 9)
    counts, whole_ticks = asyncio.run(ticks_during(both(whole)))
    assert counts == (grids, grids)
    # two yields between three health slices, two between three row slices
    assert ticks >= whole_ticks + 4
    assert sorted(sliced_ext.sent) == sorted(whole_ext.sent)
