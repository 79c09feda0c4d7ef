"""What the Streams II agents share inside one worker: app, runtime, topics, outbox, health.

:func:`install` is the one entry point :func:`streams.app.make_app` calls: it registers the
Streams II tables with the sink and adds the registers job, the grid metrics job (stage one),
the street stage (stage two), the sensors job and the job-health timer to the app (see
:mod:`streams.jobs.registers`, :mod:`streams.jobs.grid_metrics`, :mod:`streams.jobs.street`,
:mod:`streams.agents_sensors`, :mod:`streams.agents_health`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust
from mode import Service

from infra.topics import (
    CASE_EVENTS,
    DEAD_LETTER,
    DEPARTMENT_RECORDS,
    SENSOR_READINGS,
    WALL_UPDATES,
)
from streams.batchloop import BatchLoop, Handler
from streams.health.job import JobHealth
from streams.outbox import Outbox
from streams.scores.live import live_scoring
from streams.scores.policy import ScoringPolicy, load_scoring
from streams.topics import ALERT_OPS, GRID_PARTIALS, ROWS

log = logging.getLogger(__name__)


@dataclass
class Ext:
    """The shared pieces; ``topics`` maps a topic's base name to its full name."""

    app: faust.App
    runtime: Any  # streams.app.Runtime (not imported: app imports this module)
    worker_id: str
    topics: dict[str, str]
    health: JobHealth
    handles: dict[str, Any] = field(default_factory=dict)

    def topic(self, base: str) -> str:
        """The full name of a topic."""
        return self.topics[base]

    def now_ms(self) -> int:
        """The worker's clock (the runtime's, so tests can control it)."""
        return int(self.runtime.clock())

    def outbox(self) -> Outbox:
        """A fresh outbox on the app's producer (flush waits for every acknowledgement)."""

        async def send(topic: str, key: bytes, value: bytes) -> Any:
            return await self.app.producer.send(topic, key, value, None, None, None)

        return Outbox(send, self.topic(ROWS.base), self.topic(WALL_UPDATES.base),
                      self.topic(DEAD_LETTER.base))

    def add_loop(self, name: str, topics: Sequence[str], handler: Handler,
                 max_records: int = 5_000) -> BatchLoop:
        """Run ``handler`` over ``topics`` in a :class:`BatchLoop` started and stopped with
        the app (consumer group ``<app id>-<name>``); a failing loop crashes the worker."""
        loop = BatchLoop(self.runtime.settings.kafka_bootstrap, f"{self.app.conf.id}-{name}",
                         topics, handler, max_records)
        app = self.app

        async def on_start(service: Any) -> None:
            service.stopping = asyncio.Event()
            service.task = asyncio.ensure_future(loop.run(service.stopping))
            service.task.add_done_callback(_crash_on_error)

        async def on_stop(service: Any) -> None:
            service.stopping.set()
            await asyncio.wait([service.task], timeout=10)

        def _crash_on_error(task: asyncio.Future[None]) -> None:
            if not task.cancelled() and task.exception() is not None:
                log.error("%s loop failed: %r", name, task.exception())
                asyncio.ensure_future(app.crash(task.exception()))  # type: ignore[arg-type]

        app.service(type(f"{name.title()}Loop", (Service,),
                         {"on_start": on_start, "on_stop": on_stop}))
        self.handles[f"{name}_loop"] = loop
        return loop


def wall_ms() -> int:
    """Real time in epoch ms (latency figures are real time even under a test clock)."""
    return int(time.time() * 1000)


def install(app: faust.App, runtime: Any, worker_id: str = "worker") -> Ext:
    """Add the Streams II agents to ``app``; return the shared context (for tests)."""
    from streams import agents_health, agents_sensors
    from streams.jobs import grid_metrics, registers, street
    from streams.rows_metrics import register_tables

    register_tables()
    settings = runtime.settings
    topics = {spec.base: spec.name(settings) for spec in
              (CASE_EVENTS, SENSOR_READINGS, DEPARTMENT_RECORDS, DEAD_LETTER, WALL_UPDATES,
               ALERT_OPS, ROWS, GRID_PARTIALS)}
    ext = Ext(app, runtime, worker_id, topics, JobHealth(worker_id))
    runtime.health = ext.health
    policy = load_scoring(Path(settings.config_dir) / "scoring.yaml")
    registers.install(ext)
    grid_job = grid_metrics.install(ext, policy)
    stage = street.install(ext, policy)
    agents_sensors.install(ext)

    def apply_scoring(new: ScoringPolicy) -> None:
        grid_job.scores.policy = stage.scores.policy = new
        stage.ranking_due = True

    live_scoring(runtime.config, policy, apply_scoring)
    agents_health.install(ext)
    return ext
