"""The pieces of ``bench.pipeline``: an isolated world, the load, the watchers, the worker.

Each run gets its own topic prefix and ClickHouse database (dropped at the end), so runs
never see each other's data or consumer groups.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from bench.common import Following, cpu_seconds, tree_cpu_seconds, tree_rss_mb
from core.kafka_records import OutRecord
from core.kafka_writer import KafkaWriter
from core.settings import Settings, settings_from
from domain.contracts.topics import CASE_EVENTS, CONTROL, WALL_UPDATES, TopicSpec
from domain.schemas import CaseEvent, ConfigChange, SensorReading, WallUpdate
from domain.wire import decode_one_or_many, encode
from infra.topics import ensure_topics
from ingest.simulator.engine import Event, generate
from ingest.simulator.kafka_sink import out_records

REPO = Path(__file__).resolve().parents[1]
CHUNK_EVENTS = 5_000  # events per simulated request: ~50 readings per grid message
# Sensor hubs push what they read every half second (one request, one message per grid);
# case events and department records go as they come due, checked every LIVE_TICK_S (as
# ``gridwall simulate --push-every``).
LIVE_PUSH_S = 0.5
LIVE_TICK_S = 0.05
# The consumers whose backlog counts in "end to end" (job health's ``lag`` names): the
# Faust agents (the cases agent's input), the sensors job and the street stage (stage two
# of the case figures). Not the sink (its progress is counted in ClickHouse rows, and its
# rows topic also carries the timers' rows) nor the registers (department records are not
# counted as events).
DRAIN_CONSUMERS = ("agents", "sensors", "street")
# Short SLAs for one category only: every open case breaches again each period at the top
# tier, so short SLAs for all cases would measure that flood instead of the timer.
BREACH_SLA = {"defaults": {"reported": 1800, "verified": 900, "dispatched": 14400,
                           "handled": 3600, "closed": 172800},
              "priority_factor": {"low": 1.0, "normal": 1.0, "high": 1.0, "emergency": 1.0},
              "categories": {"noise": {"reported": 5, "verified": 5}}}


def now_ms() -> int:
    """Wall clock, epoch ms."""
    return int(time.time() * 1000)


@dataclass
class World:
    """This run's prefix, database, settings, environment and producer."""

    tag: str
    settings: Settings
    env: dict[str, str]
    writer: KafkaWriter
    client: Any
    logs: Path

    @property
    def db(self) -> str:
        """The run's ClickHouse database."""
        return self.settings.clickhouse_database

    def count(self, table: str) -> int:
        """Rows in one of the run's tables."""
        return int(self.client.execute(f"SELECT count() FROM {self.db}.{table}")[0][0])

    def rolled_up(self) -> int:
        """Readings the sensors agent has rolled up (its output, read FINAL)."""
        rows = self.client.execute(
            f"SELECT sum(readings) FROM {self.db}.sensor_rollup_1m FINAL")
        return int(rows[0][0] or 0)


@contextlib.contextmanager
def make_world() -> Iterator[World]:
    """Create topics and database for one run; drop them afterwards."""
    from clickhouse_driver import Client

    from infra.migrate import migrate
    from infra.topics import ensure_stream_topics

    tag = uuid.uuid4().hex[:6]
    env = dict(os.environ, GRIDWALL_TOPIC_PREFIX=f"bench{tag}.",
               GRIDWALL_CLICKHOUSE_DATABASE=f"gw_bench_{tag}")
    env.pop("GRIDWALL_DATA_DIR", None)
    env["GRIDWALL_DATA_DIR"] = f"/tmp/gridwall-bench-{tag}"
    settings = settings_from({k: v for k, v in env.items() if k.startswith("GRIDWALL_")})
    client = Client(settings.clickhouse_host, port=settings.clickhouse_port)
    list(migrate(client, settings.clickhouse_database))
    ensure_stream_topics(settings)
    ensure_topics(settings, [TopicSpec("baseline.readings", "baseline input"),
                             TopicSpec("baseline.rows", "baseline output")])
    writer = KafkaWriter(settings, client_id=f"bench-{tag}", linger_ms=5)
    logs = Path(settings.data_dir)
    logs.mkdir(parents=True, exist_ok=True)
    try:
        yield World(tag, settings, env, writer, client, logs)
    finally:
        writer.close()
        client.execute(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
        client.disconnect()
        _delete_topics(settings)


def _delete_topics(settings: Settings) -> None:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        mine = [t for t in admin.list_topics() if t.startswith(settings.topic_prefix)
                or t.startswith(f"{settings.topic_prefix}gridwall-streams")]
        if mine:
            with contextlib.suppress(Exception):
                admin.delete_topics(mine)
    finally:
        admin.close()


def topic_messages(world: World, spec: TopicSpec) -> int:
    """Messages on the run's ``spec`` topic: the sum of its partitions' end offsets."""
    from kafka import KafkaConsumer, TopicPartition

    s = world.settings
    topic = spec.name(s.topic_prefix)
    consumer = KafkaConsumer(bootstrap_servers=s.kafka_bootstrap, enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return int(sum(ends.values()))
    finally:
        consumer.close()


@dataclass
class Load:
    """What was produced: counts by kind and the encoded records."""

    readings: int = 0
    cases: int = 0
    records: int = 0
    messages: int = 0

    @property
    def events(self) -> int:
        """Readings plus case events (department records are not counted as events)."""
        return self.readings + self.cases

    def add(self, events: Sequence[Event], records: Sequence[OutRecord]) -> None:
        """Count one chunk."""
        for event in events:
            name = type(event).__name__
            if name == "SensorReading":
                self.readings += 1
            elif name == "CaseEvent":
                self.cases += 1
            else:
                self.records += 1
        self.messages += len(records)


def preload(world: World, n_events: int, start_ms: int) -> Load:
    """Generate ``n_events`` simulator events and produce them (acknowledged) before timing."""
    load = Load()
    events = list(generate(7, n_events, start_ms, rate=30_000.0))
    received = now_ms()
    pending: list[OutRecord] = []
    for i in range(0, len(events), CHUNK_EVENTS):
        chunk = events[i:i + CHUNK_EVENTS]
        records = out_records(chunk, f"pre{world.tag}.{i}", received)
        load.add(chunk, records)
        pending.extend(records)
        if len(pending) >= 2_000:
            world.writer.send_all(pending)
            pending = []
    if pending:
        world.writer.send_all(pending)
    return load


def set_sla(world: World, policy: dict[str, Any]) -> None:
    """Put an SLA policy on the control topic (the worker starts from it)."""
    change = ConfigChange(key="sla", value=policy, actor="bench", ts=now_ms())
    world.writer.send_all([OutRecord(CONTROL, "sla", encode(change))])


@dataclass
class Live:
    """What the live phase produced: its time span and how long case events waited in the
    bench before they were produced (sent ms − event time)."""

    start_ms: int
    end_ms: int
    case_hold_ms: list[int]


def produce_live(world: World, rate: float, duration_s: float, load: Load,
                 push_s: float = LIVE_PUSH_S, tick_s: float = LIVE_TICK_S) -> Live:
    """Produce simulator events in real time at ``rate`` events/s.

    Readings are held and pushed together every ``push_s`` (sensor hubs); case events and
    department records are produced as they come due, checked every ``tick_s``. Events are
    generated as they come due (generating them all first took 0.9 s for the quick run's
    40k and 4.4 s for the full run's 300k: the first events were that old before the first
    send).
    """
    start = now_ms() + 200
    stream = generate(11, int(rate * duration_s), start, rate=rate, speedup=1.0,
                      run_tag=f"live{world.tag}")
    pending = next(stream, None)
    held: list[Event] = []
    hold_ms: list[int] = []
    next_push = start + int(push_s * 1000)
    produced = 0
    while pending is not None or held:
        now = now_ms()
        chunk: list[Event] = []
        while pending is not None and pending.ts <= now:
            (held if isinstance(pending, SensorReading) else chunk).append(pending)
            pending = next(stream, None)
        if held and (now >= next_push or pending is None):
            chunk, held = held + chunk, []
            next_push = max(next_push + int(push_s * 1000), now)
        if chunk:
            records = out_records(chunk, f"live{world.tag}.{produced}", now)
            produced += len(chunk)
            load.add(chunk, records)
            world.writer.send_all(records)
            sent = now_ms()
            hold_ms += [sent - e.ts for e in chunk if isinstance(e, CaseEvent)]
        time.sleep(tick_s)
    return Live(start, now_ms(), hold_ms)


def consumer_lag(health: dict[str, Any], consumers: Sequence[str]) -> int | None:
    """The summed lag of ``consumers`` in one ``job_health`` item
    (``lag.{consumer}.{topic}.{partition}``); None if any of them reports no partition."""
    lags = health.get("lag") or {}
    total = 0
    for name in consumers:
        parts = [lag for topic in (lags.get(name) or {}).values() for lag in topic.values()]
        if not parts:
            return None
        total += sum(int(lag) for lag in parts)
    return total


@dataclass
class Watch(Following):
    """Follows the wall updates and case events topics in a thread."""

    world: World
    wall: list[tuple[int, WallUpdate]] = field(default_factory=list)
    health: dict[str, WallUpdate] = field(default_factory=dict)  # latest per process
    breaches: list[tuple[int, int]] = field(default_factory=list)  # (seen ms, deadline ms)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def add(self, seen_ms: int, update: WallUpdate) -> None:
        """Keep one wall update seen at ``seen_ms`` (and, if it is one, the latest job-health
        report of its process)."""
        self.wall.append((seen_ms, update))
        if update.channel == "job_health":
            self.health[update.key] = update

    def lag_after(self, since_ms: int, consumers: Sequence[str] = DRAIN_CONSUMERS
                  ) -> int | None:
        """The summed lag of ``consumers`` in the latest job-health reports of the worker's
        processes (each reports its own consumers: the worker as its id, its sensors process
        as ``<id>-sensors``), if every one was made after ``since_ms``; None while one is
        older or one of ``consumers`` is missing from all (a consumer not started, or
        without a fetched position yet, is unknown, not 0)."""
        reports = list(self.health.values())
        if not reports or any(report.ts <= since_ms for report in reports):
            return None
        merged: dict[str, dict[str, dict[str, int]]] = {}
        for report in reports:
            for name, topics in (report.data.get("lag") or {}).items():
                for topic, parts in topics.items():
                    merged.setdefault(name, {}).setdefault(topic, {}).update(parts)
        return consumer_lag({"lag": merged}, consumers)

    def _run(self) -> None:
        from kafka import KafkaConsumer

        s = self.world.settings
        wall_topic, case_topic = WALL_UPDATES.name(s.topic_prefix), CASE_EVENTS.name(s.topic_prefix)
        consumer = KafkaConsumer(wall_topic, case_topic, bootstrap_servers=s.kafka_bootstrap,
                                 auto_offset_reset="earliest", enable_auto_commit=False,
                                 group_id=None, fetch_max_wait_ms=50)
        wall_decoder = msgspec.json.Decoder(WallUpdate)
        try:
            while not self._stop.is_set():
                for tp, records in consumer.poll(timeout_ms=100).items():
                    seen = now_ms()
                    for record in records:
                        if tp.topic == wall_topic:
                            self.add(seen, wall_decoder.decode(record.value))
                        elif b"sla-timer" in record.value:
                            for event in decode_one_or_many(record.value, CaseEvent):
                                if event.actor == "sla-timer":
                                    self.breaches.append((record.timestamp, event.ts))
        finally:
            consumer.close()


class Worker:
    """``gridwall worker`` in a subprocess with the run's environment; samples the RSS of
    its processes (the worker and its sensors process) together."""

    def __init__(self, world: World, name: str = "bench") -> None:
        self.log_path = world.logs / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gridwall.cli", "worker", "--worker-id", name,
             "--loglevel", "info"], cwd=REPO, env=world.env, stdout=self._log,
            stderr=subprocess.STDOUT)
        self.max_rss_mb = 0.0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        """Wait for Faust's "Ready"; raise with the log's tail if it never comes."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if "Worker]: Ready" in self.log_path.read_text(errors="replace"):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"worker not ready:\n{tail}")

    def _sample(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, ValueError):
                self.max_rss_mb = max(self.max_rss_mb, self.rss_mb())
            time.sleep(0.5)

    def cpu_seconds(self) -> float:
        """CPU time so far of the worker's processes (the sensors process alive now)."""
        return tree_cpu_seconds(self.proc.pid)

    def own_cpu_seconds(self) -> float:
        """CPU time so far of the worker's own (workflow) process alone."""
        return cpu_seconds(self.proc.pid)

    def rss_mb(self) -> float:
        """RSS of the worker's processes now, in MiB."""
        return tree_rss_mb(self.proc.pid)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not stop within 20 s."""
        self._stop.set()
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()
