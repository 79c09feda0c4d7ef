"""Sensor health partials are sent on change only; the street views still move with time.

The sensors job looks at a due grid's health at most twice a second but sends a
:class:`~streams.partials.SensorPartial` only when it differs from the last one it sent
(again after the grid's partition was revoked or restored). The street stage therefore
cannot rely on a steady stream of partials to refresh its views: its refresh timer makes a
community or street view due when only time moved it (an open case's deadline passed, a
minute rolled over). Only the broker is replaced (a capturing outbox).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msgspec
from aiokafka import TopicPartition

from domain.geo import street
from domain.scoring_policy import load_scoring
from domain.sensor_policy import load_sensor_policy
from streams.jobs.sensors import SensorsJob
from streams.jobs.street import StreetStage
from streams.metrics.book import STREET_KEY, GridState
from streams.metrics.coalesce import Coalescer
from streams.metrics.windows import MINUTE
from streams.partials import GridPartial, SensorPartial, encode_partial, partial_key
from streams.scores.book import GridOutcomes
from streams.sensors.detector import SensorDetector
from streams.sensors.rollup import SensorRollup
from tests.unit.test_sensors import T0, batch
from tests.unit.test_street_stage import CapturingExt

CONFIG = Path(__file__).resolve().parents[2] / "config"
SCORING = load_scoring(CONFIG / "scoring.yaml")
TP = TopicPartition("readings", 0)


def sensors_job(ext: CapturingExt) -> SensorsJob:
    detector = SensorDetector(load_sensor_policy(CONFIG / "thresholds.yaml"),
                              registry={"a": ("G1", "gas"), "b": ("G1", "gas")})
    job = SensorsJob(ext, detector, SensorRollup())  # type: ignore[arg-type]
    job.health_due = Coalescer(0)  # every touched grid is due at once
    job.partition_grids(SimpleNamespace(topic=TP.topic, partition=TP.partition)).add("G1")
    return job


def sensor_partials(ext: CapturingExt) -> list[SensorPartial]:
    out = [msgspec.json.decode(value, type=SensorPartial) for _, key, value in ext.sent
           if key.startswith(b"sensors/")]
    ext.sent.clear()
    return out


def test_a_sensor_partial_is_sent_only_when_the_health_changed() -> None:
    ext = CapturingExt()
    job = sensors_job(ext)

    async def run() -> list[list[SensorPartial]]:
        rounds = []
        for readings in ([("a", "gas", 1.0, T0)],          # a reports: changed
                         [("a", "gas", 1.5, T0 + 1_000)],  # same health: not sent
                         [("b", "gas", 12.0, T0 + 2_000)],  # b reports, warning: changed
                         [("b", "gas", 12.5, T0 + 3_000)]):  # same health: not sent
            job.detector.update(batch(readings))
            job.touch({"G1": readings[0][3]})
            await job.publish_health()
            rounds.append(sensor_partials(ext))
        job.revoke({TP})  # another owner may send meanwhile
        job.partition_grids(SimpleNamespace(topic=TP.topic, partition=TP.partition)).add("G1")
        job.detector.update(batch([("a", "gas", 1.0, T0 + 4_000)]))
        job.touch({"G1": T0 + 4_000})
        await job.publish_health()
        rounds.append(sensor_partials(ext))
        return rounds

    rounds = asyncio.run(run())
    assert [[p.health.reporting for p in r] for r in rounds] == [[1], [], [2], [], [1]]
    assert rounds[2][0].health.warning == 1
    assert rounds[0][0].source_ms == T0


def test_street_views_move_when_only_time_passes() -> None:
    grid = sorted(street().grids)[0]
    community = street().grids[grid].community_id
    now = MINUTE.start(T0) + 10_000
    deadline = now + 5_000  # the open case's step deadline, in the same minute
    state = GridState(open={"c1": deadline}, watermark_ms=now)
    record = SimpleNamespace(key=partial_key(grid).encode(), timestamp=0, value=encode_partial(
        GridPartial(grid_id=grid, state=state, outcomes=GridOutcomes())))
    ext = ClockExt(now)
    stage = StreetStage(ext, SCORING, interval_ms=0)  # type: ignore[arg-type]

    async def run() -> list[tuple[int, dict[tuple[str, str], Any]]]:
        seen = []
        assert await stage.refresh() == 0  # not owned: nothing
        stage.replay([record])
        await stage.restored({}, now)
        await stage.publish()
        seen.append((0, views(ext)))
        for at in (now + 1_000, deadline, deadline + 1_000, MINUTE.start(now) + 60_000):
            ext.now = at  # no partial arrives, only time passes
            moved = await stage.refresh()
            await stage.publish()
            seen.append((moved, views(ext)))
        return seen

    seen = asyncio.run(run())
    first = seen[0][1]
    assert first[("grid_metrics", STREET_KEY)]["overdue"] == 0
    assert first[("grid_metrics", STREET_KEY)]["open_backlog"] == 1
    assert first[("grid_metrics", community)]["overdue"] == 0
    assert seen[1] == (0, {})  # nothing moved: nothing sent
    moved, crossed = seen[2]
    assert moved == 2
    assert crossed[("grid_metrics", STREET_KEY)]["overdue"] == 1
    assert crossed[("grid_metrics", community)]["overdue"] == 1
    assert seen[3] == (0, {})
    moved, rolled = seen[4]  # the minute rolled over: both views again, still overdue
    assert moved == 2
    assert rolled[("grid_metrics", STREET_KEY)]["minute_ms"] == MINUTE.start(now) + 60_000
    assert rolled[("grid_metrics", STREET_KEY)]["overdue"] == 1


class ClockExt(CapturingExt):
    """The capturing ext with a clock the test moves."""

    def __init__(self, now: int) -> None:
        super().__init__()
        self.now = now

    def now_ms(self) -> int:
        return self.now


def views(ext: CapturingExt) -> dict[tuple[str, str], Any]:
    """The wall items sent since the last call."""
    out = ext.wall()
    ext.sent.clear()
    return out


def test_only_grids_whose_health_may_have_changed_become_due() -> None:
    """A reading that changes nothing of a grid's health (a known sensor, same level, no
    anomaly) does not make the grid due: the health is not even computed for it."""
    from streams.runner import Item

    ext = CapturingExt()
    job = sensors_job(ext)
    rec = SimpleNamespace(topic=TP.topic, partition=TP.partition)

    async def due_after(readings: list[tuple[str, str, float, int]]) -> int:
        await job.handle([Item(rec, [batch(readings)])], ext.outbox())
        await job.write_state()
        return job.health_due.pending()

    async def run() -> list[int]:
        pending = []
        for readings in ([("a", "gas", 1.0, T0)],           # a seen first: due
                         [("a", "gas", 1.5, T0 + 1_000)],   # nothing changed: not due
                         [("a", "gas", 12.0, T0 + 2_000)],  # warning: due
                         [("a", "gas", 12.5, T0 + 3_000)]):  # still warning: not due
            pending.append(await due_after(readings))
            await job.publish_health()
        return pending

    assert asyncio.run(run()) == [1, 0, 1, 0]
