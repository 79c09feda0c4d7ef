"""The Faust app of a GridWall worker, its in-memory runtime, and its background services.

:func:`faust_app` builds one app per settings (its id carries the topic prefix, so test
sessions never share consumer groups or changelogs); :func:`streams.worker.build_worker`
adds the jobs to it (:mod:`streams.runner`). :class:`Runtime` holds the worker's derived,
in-memory state and its live config; :func:`add_services` starts the ClickHouse sink and the
control follower with the app.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import faust
import mode

from core.clients import aiokafka_client_options, clickhouse_client, faust_broker_credentials
from core.settings import Settings
from domain.alerts import AlertState
from domain.contracts.topics import CASE_EVENTS, DEAD_LETTER, ROWS
from domain.schemas import CaseEvent
from streams.case_logic import CaseRecord
from streams.config import LiveConfig
from streams.control import ControlFollower
from streams.deadlines import DeadlineIndex
from streams.health.job import JobHealth
from streams.metrics.facts import StepFact
from streams.outbox import Outbox
from streams.retention import FinishedCases
from streams.runner import add_service
from streams.sink import (
    ClickHouseSink,
    Decoder,
    case_events_decoder,
    dead_letters_decoder,
    rows_decoder,
)


def wall_clock_ms() -> int:
    """Now, in epoch milliseconds."""
    return int(time.time() * 1000)


def app_id(settings: Settings) -> str:
    """The Faust app id (consumer group, changelog names) under the topic prefix."""
    return f"{settings.topic_prefix}gridwall-streams"


@dataclass
class Runtime:
    """The worker's in-memory, derived state and its live config."""

    settings: Settings
    config: LiveConfig
    clock: Callable[[], int]
    deadlines: DeadlineIndex = field(default_factory=DeadlineIndex)
    finished: FinishedCases = field(default_factory=FinishedCases)
    open_alerts: dict[str, AlertState] = field(default_factory=dict)
    open_by_fingerprint: dict[str, str] = field(default_factory=dict)
    ticks_sent: dict[str, str] = field(default_factory=dict)
    # the last breaches' detection delays (timer tick - deadline), for job health
    breach_delays_ms: deque[int] = field(default_factory=lambda: deque(maxlen=1024))
    sink: ClickHouseSink | None = None
    # the worker's job health: per-batch counts of every job
    health: JobHealth | None = None
    # called once per batch of the cases job with its applied transitions' (step fact,
    # event) pairs, in order
    case_hooks: list[Callable[[list[tuple[StepFact, CaseEvent]]], None]] = field(
        default_factory=list)
    # called with every record of the cases table after it was recovered
    recovery_hooks: list[Callable[[list[CaseRecord]], None]] = field(default_factory=list)


def faust_app(settings: Settings, worker_id: str, suffix: str = "") -> faust.App:
    """The worker's Faust app (raw keys and values, in-memory stores; see the comments).

    ``suffix`` names a separate app (its own Faust consumer group): the sensors process's
    app is ``<app id>-sensors-process``, so it never joins the group of the workflow's agents.
    """
    datadir = Path(settings.data_dir) / "faust" / app_id(settings) / worker_id
    datadir.mkdir(parents=True, exist_ok=True)
    return faust.App(
        app_id(settings) + suffix, broker=f"kafka://{settings.kafka_bootstrap}", store="memory://",
        key_serializer="raw", value_serializer="raw",
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        broker_credentials=faust_broker_credentials(settings),
        topic_allow_declare=True, web_enabled=False, producer_linger_ms=5,
        consumer_auto_offset_reset="earliest", broker_max_poll_records=5_000,
        # A SIGKILLed worker holds its partitions until its session times out.
        broker_session_timeout=10.0, broker_heartbeat_interval=1.0,
        # Standby copies would land in the same in-memory stores, so the deadline index and
        # the alert timer would see other workers' cases; the memory store replays the
        # changelog on takeover anyway.
        table_standby_replicas=0,
        # An agent that raises must not be restarted in place: Faust would go on past the
        # failed batch. Crash the worker instead; its successor replays from the last
        # committed offsets, so nothing is lost.
        agent_supervisor=mode.CrashingSupervisor,
        datadir=str(datadir),
    )


def add_services(app: faust.App, rt: Runtime, outbox: Callable[[], Outbox],
                 topics: dict[str, str], *, workflow: bool = True) -> ControlFollower:
    """Start the ClickHouse sink (``rt.sink``) and the control follower with the app; a
    failing one crashes the worker.

    ``workflow=True``: the sink reads the rows, case events and dead-letter topics (consumer
    group ``<app id>-sink``) and the follower audits every control record. ``False`` (the
    sensors process): the sink starts with no topic (the sensors job adds the readings'
    decoder; group ``<app id>-sink-readings``) and the follower applies without auditing
    (the workflow process of the same worker audits each record once, for both).
    """
    settings = rt.settings

    def client() -> object:
        return clickhouse_client(settings, connect_timeout=3, send_receive_timeout=30)

    decoders: dict[str, Decoder] = {
        topics[ROWS.base]: rows_decoder, topics[CASE_EVENTS.base]: case_events_decoder,
        topics[DEAD_LETTER.base]: dead_letters_decoder} if workflow else {}
    sink = ClickHouseSink(
        settings.kafka_bootstrap, f"{app_id(settings)}-sink" + ("" if workflow else "-readings"),
        decoders, client, settings.clickhouse_database, lambda: rt.config.sink,
        client_options=aiokafka_client_options(settings))
    rt.sink = sink
    follower = ControlFollower(settings, rt.config, 0, outbox, [], audits=workflow)
    add_service(app, "Sink", sink.run)
    add_service(app, "ControlFollower", follower.run)
    return follower
