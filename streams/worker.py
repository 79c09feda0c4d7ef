"""The stream worker: the Faust app with every job on its engine.

:func:`build_worker` is the one entry point (``gridwall worker``, tests, benches). It builds
the Faust app (:func:`streams.app.faust_app`), the ``cases`` and ``alerts`` tables
(:mod:`streams.faust_adapter`), the jobs' shared context (:class:`~streams.ext.Ext`) and each
job (``streams/jobs/``), and runs each through :mod:`streams.runner`:

========================  =====================================================
job                       engine
========================  =====================================================
cases (+ gap/tail fill)   Faust agent over ``take_events`` batches, ``cases`` table
alerts                    Faust agent, ``alerts`` table
commands                  Faust agent, no state
grid metrics (stage 1)    hooks of the cases job, timers
sensors                   plain loop, state moves with the readings' partitions; in
                          ``gridwall worker``, a child process of its own (role
                          ``sensors``, :mod:`streams.child`)
registers                 plain loop, state moves with the records' partitions
street stage (stage 2)    plain loop over the 1-partition grid-partials topic
job health                timer
========================  =====================================================

Every job's timers are registered by the runner (:func:`streams.runner.add_timers`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust

from core.clients import aiokafka_client_options
from core.settings import Settings
from domain.contracts.topics import (
    ALERT_OPS,
    ALERTS,
    CASE_EVENTS,
    COMMANDS,
    DEAD_LETTER,
    DEPARTMENT_RECORDS,
    GRID_PARTIALS,
    ROWS,
    SENSOR_READINGS,
    WALL_UPDATES,
)
from domain.scoring_policy import ScoringPolicy, load_scoring
from streams.app import Runtime, add_services, app_id, faust_app, wall_clock_ms
from streams.config import LiveConfig
from streams.control import ControlFollower, load_latest
from streams.ext import Ext
from streams.faust_adapter import FaustGapFill, changelogged_table
from streams.gapfill import GapFiller
from streams.health.endpoint import worker_endpoint
from streams.health.http import MetricsServer
from streams.health.job import JobHealth
from streams.health.loop_lag import probe_loop
from streams.jobs import grid_metrics
from streams.jobs.alerts import AlertsJob
from streams.jobs.cases import CasesJob
from streams.jobs.commands import CommandsJob
from streams.jobs.health import HealthJob
from streams.jobs.registers import RegistersLoop
from streams.jobs.sensors import SensorsJob
from streams.jobs.street import StreetLoop
from streams.outbox import Send
from streams.runner import FaustAgent, Runner, add_service, add_timers, on_agent, on_loop
from streams.scores.live import live_scoring

TOPICS = (CASE_EVENTS, COMMANDS, ALERTS, SENSOR_READINGS, DEPARTMENT_RECORDS, DEAD_LETTER,
          WALL_UPDATES, ALERT_OPS, ROWS, GRID_PARTIALS)


@dataclass
class Worker:
    """The app and what tests and the CLI reach into: ``jobs`` by name, ``agents`` (the
    Faust agents by job name) and ``engines`` (each Faust job's :class:`FaustAgent`)."""

    app: faust.App
    runtime: Runtime
    ext: Ext
    jobs: dict[str, Any]
    agents: dict[str, Any] = field(default_factory=dict)
    engines: dict[str, FaustAgent] = field(default_factory=dict)
    follower: ControlFollower | None = None
    endpoint: MetricsServer | None = None  # /metrics and /healthz (streams.health.endpoint)

    @property
    def cases(self) -> Any:
        """The ``cases`` table."""
        return self.jobs["cases"].table

    @property
    def alerts(self) -> Any:
        """The ``alerts`` table."""
        return self.jobs["alerts"].table

    def load_control(self) -> int:
        """Apply the whole control topic now (before the worker starts); return the count.

        Call it after :func:`build_worker` (which registers every live config key) and
        before starting the worker: the worker then starts from the latest config, and the
        control follower audits these records and continues after them.
        """
        start, backlog = load_latest(self.runtime.settings, self.runtime.config)
        if self.follower is not None:
            self.follower.start_offset, self.follower.backlog = start, backlog
        return len(backlog)


ROLES = ("all", "workflow", "sensors")
# the sensors process's Faust app (its consumer group: not the sensors loop's <app id>-sensors)
SENSORS_APP_SUFFIX = "-sensors-process"


def build_worker(settings: Settings, config: LiveConfig | None = None,
                 clock: Callable[[], int] = wall_clock_ms, *, services: bool = True,
                 worker_id: str = "worker", send: Send | None = None,
                 role: str = "all") -> Worker:
    """Build the worker's app with the jobs of ``role``.

    ``role``: ``all`` (every job in this process), ``workflow`` (every job but the sensors
    job and the readings' ClickHouse writes: ``gridwall worker`` runs those in a child
    process, :mod:`streams.child`) or ``sensors`` (that child: the sensors job, the
    readings' sink, job health; its Faust app is ``<app id>-sensors-process``, its sensors loop the
    same consumer group as in one process, so its state moves with the partitions exactly
    the same way). ``services=False`` leaves out the sink, the control follower and the
    ``/metrics`` and ``/healthz`` endpoint (``GRIDWALL_WORKER_METRICS_PORT``); ``send``
    replaces the producer for every output and changelog write (unit tests with
    ``agent.test_context()``; no gap filler then).
    """
    if role not in ROLES:
        raise ValueError(f"unknown worker role {role!r} (known: {', '.join(ROLES)})")
    rt = Runtime(settings, config or LiveConfig.from_config_dir(settings.config_dir), clock)
    app = faust_app(settings, worker_id, SENSORS_APP_SUFFIX if role == "sensors" else "")
    ext = Ext(app, rt, worker_id, {spec.base: spec.name(settings.topic_prefix) for spec in TOPICS},
              JobHealth(worker_id), send=send)
    rt.health = ext.health
    worker = Worker(app, rt, ext, {})
    if services:
        worker.follower = add_services(app, rt, ext.outbox, ext.topics,
                                       workflow=role != "sensors")
        if role != "sensors":  # one endpoint per worker (its port is configured once)
            worker.endpoint = worker_endpoint(settings, app, ext.health, wall_clock_ms)
        if worker.endpoint is not None:
            add_service(app, "MetricsServer", worker.endpoint.run)
        add_service(app, "LoopLagProbe", lambda stopping: probe_loop(ext.health, stopping))
    if role != "sensors":
        _add_stream_jobs(worker, send)
    if role != "workflow":
        sensors = SensorsJob.from_config(ext)
        if rt.sink is not None:
            rt.sink.decoders[ext.topic(SENSOR_READINGS.base)] = sensors.sink_decoder()
        _add_loop(worker, sensors)
        sensors.loop = ext.handles["sensors_loop"]
        ext.handles.update(sensors_job=sensors)
        worker.jobs.update(sensors=sensors)
    worker.jobs.update(job_health=HealthJob(ext))
    add_timers(app, worker.jobs["job_health"].timers())
    return worker


def _add_stream_jobs(worker: Worker, send: Send | None) -> None:
    """Every job but the sensors job: the workflow's agents, grid metrics, registers, the
    street stage, and live scoring."""
    app, ext, rt = worker.app, worker.ext, worker.runtime
    _add_workflow(worker, send)
    policy = load_scoring(Path(rt.settings.config_dir) / "scoring.yaml")
    grid = grid_metrics.GridMetricsJob(ext, policy)
    rt.case_hooks.append(grid.on_facts)
    rt.recovery_hooks.append(grid.on_recovered)
    add_timers(app, grid_metrics.timers(grid))
    registers, street = RegistersLoop(ext), StreetLoop(ext, policy)
    for job in (registers, street):
        _add_loop(worker, job)
    ext.handles.update(registers_job=registers.job, registers=registers.job.book, wall=grid,
                       grid_metrics=grid, street=street.stage)
    worker.jobs.update(grid_metrics=grid, registers=registers, street=street)

    def apply_scoring(new: ScoringPolicy) -> None:
        grid.scores.policy = street.stage.scores.policy = new
        street.stage.ranking_due = True

    live_scoring(rt.config, policy, apply_scoring)


def _add_workflow(worker: Worker, send: Send | None) -> None:
    """The cases, alerts and commands jobs as Faust agents, their tables and timers."""
    app, ext, settings = worker.app, worker.ext, worker.runtime.settings

    async def fake_send_to(topic: str, key: bytes, value: bytes | None, _partition: int
                           ) -> Any:
        fake: Any = send  # the tests' recorder also takes tombstones (None values)
        return await fake(topic, key, value)

    send_to = ext.produce if send is None else fake_send_to
    partitions = settings.topic_partitions
    cases = CasesJob(ext, changelogged_table(app, "cases", partitions, send_to))
    alerts = AlertsJob(ext, changelogged_table(app, "alerts", partitions, send_to))
    gaps = None if send is not None else FaustGapFill(
        app, ext.topic(CASE_EVENTS.base),
        GapFiller(settings.kafka_bootstrap, app_id(settings),
                  client_options=aiokafka_client_options(settings)))

    async def cases_recovered() -> None:
        if gaps is not None:
            gaps.reset()
        await cases.on_recovered()

    cases.table.on_recover(cases_recovered)
    alerts.table.on_recover(alerts.on_recovered)
    for job, job_gaps in ((cases, gaps), (alerts, None), (CommandsJob(ext), None)):
        runner = Runner(job, ext.outbox, ext.health)
        agent, engine = on_agent(app, runner, ext.topic(job.topic), job_gaps)
        worker.jobs[job.name], worker.agents[job.name] = job, agent
        worker.engines[job.name] = engine
        add_timers(app, job.timers())


def _add_loop(worker: Worker, job: Any) -> None:
    """A job as a plain consumer loop (``ext.handles["<name>_loop"]``) with its timers."""
    ext = worker.ext
    state = getattr(job, "state", job)
    settings = worker.runtime.settings
    loop = on_loop(worker.app, Runner(job, ext.outbox, ext.health), [ext.topic(job.topic)],
                   f"{app_id(settings)}-{job.name}", job.max_records, state,
                   settings.kafka_bootstrap,
                   aiokafka_client_options(settings))
    ext.handles[f"{job.name}_loop"] = loop
    add_timers(worker.app, job.timers())
