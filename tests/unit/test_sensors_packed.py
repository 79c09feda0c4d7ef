"""A readings message packed per partition (batches of several grids) is handled exactly as
the same batches one message each: the same alert ops, detector state, rollup rows and owned
grids. Only the broker is replaced (a capturing outbox)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition

from domain.schemas import SensorBatch
from domain.sensor_policy import load_sensor_policy
from streams.jobs.sensors import SensorsJob
from streams.runner import Item
from streams.sensors.detector import SensorDetector
from streams.sensors.rollup import SensorRollup
from tests.unit.test_sensors import T0, batch
from tests.unit.test_street_stage import CapturingExt

CONFIG = Path(__file__).resolve().parents[2] / "config"
TP = TopicPartition("readings", 3)
REC = SimpleNamespace(topic=TP.topic, partition=TP.partition)
GRIDS = ("G1", "G2", "G3")


def batches() -> list[SensorBatch]:
    """Interleaved batches of three grids: levels crossing thresholds, new sensors."""
    out = []
    for step in range(12):
        for n, grid in enumerate(GRIDS):
            value = float((step * 7 + n * 5) % 40)  # gas: ok, warning and critical by turns
            out.append(batch([(f"{grid}-a", "gas", value, T0 + step * 1_000 + n),
                              (f"{grid}-b", "gas", 30.0 - value, T0 + step * 1_000 + n)],
                             grid=grid))
    return out


def handled(messages: list[list[SensorBatch]]) -> tuple[Any, ...]:
    """What the job does with ``messages`` (each a list of batches) in one handle call."""
    ext = CapturingExt()
    registry = {f"{g}-{s}": (g, "gas") for g in GRIDS for s in "ab"}
    job = SensorsJob(ext, SensorDetector(load_sensor_policy(CONFIG / "thresholds.yaml"),
                                         registry), SensorRollup())  # type: ignore[arg-type]

    async def run() -> None:
        out = ext.outbox()
        await job.handle([Item(REC, m) for m in messages], out)
        await out.flush()

    asyncio.run(run())
    states = {sid: (s.grid_id, s.level, s.last_ts, s.anomalous, list(s.window.values))
              for sid, s in job.detector.sensors.items()}
    return (ext.sent, states, job.rollup.rows(version=1), job.grids)


def test_packed_and_single_messages_give_the_same_outputs_and_state() -> None:
    single = handled([[b] for b in batches()])
    packed = handled([batches()[:20], batches()[20:]])
    sent, states, rows, grids = packed
    assert sent and rows  # signals and rollups there are
    assert packed == single
    assert grids == {TP: set(GRIDS)}
