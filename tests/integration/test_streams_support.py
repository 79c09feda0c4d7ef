"""Shared harness of the streams integration tests (no tests here).

Each test gets its own topic prefix and ClickHouse database (:func:`stream_env`), so the
Faust app id, consumer groups and changelogs are its own. Workers run as subprocesses with
that environment (:class:`WorkerProc`), so they can be SIGKILLed; :class:`Observer` follows
the alerts and wall-updates topics in a thread.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest

from core.kafka_records import OutRecord
from core.kafka_writer import KafkaWriter
from core.settings import Settings, settings_from
from domain.contracts.topics import ALERTS, CASE_EVENTS, COMMANDS, CONTROL, WALL_UPDATES
from domain.schemas import Alert, CaseEvent, Command, ConfigChange, WallUpdate
from domain.wire import encode
from tests.processes import terminate

REPO = Path(__file__).resolve().parents[2]

FAST_SLA = {
    "defaults": {"reported": 4, "verified": 600, "dispatched": 600, "handled": 600,
                 "closed": 600},
    "priority_factor": {"low": 1.0, "normal": 1.0, "high": 1.0, "emergency": 1.0},
    "categories": {},
}


@dataclass
class StreamEnv:
    """One test's isolated world: env for child processes, settings, helpers."""

    env: dict[str, str]
    settings: Settings
    writer: KafkaWriter
    logs: Path

    def send_events(self, *events: CaseEvent, key: str | None = None) -> None:
        """Produce case events keyed by grid (acknowledged)."""
        self.writer.send_all([OutRecord(CASE_EVENTS, key or e.grid_id or "g0", encode(e))
                              for e in events])

    def send_raw(self, topic: Any, key: str, value: bytes) -> None:
        """Produce one raw record."""
        self.writer.send_all([OutRecord(topic, key, value)])

    def send_command(self, cmd: Command) -> None:
        """Produce a command (keyed by its grid or alert id, as a hub might)."""
        self.writer.send_all([OutRecord(COMMANDS, cmd.grid_id or cmd.alert_id or "x",
                                        encode(cmd))])

    def send_config(self, key: str, value: dict[str, Any], actor: str = "ops-test") -> None:
        """Publish a live config change."""
        change = ConfigChange(key=key, value=value, actor=actor, ts=now_ms())
        self.writer.send_all([OutRecord(CONTROL, key, encode(change))])


def now_ms() -> int:
    """Wall clock in epoch ms."""
    return int(time.time() * 1000)


@contextlib.contextmanager
def make_stream_env(run_id: str, tmp_path: Path) -> Iterator[StreamEnv]:
    """A fresh prefix and database, topics created and migrations applied; dropped after."""
    from clickhouse_driver import Client

    from infra.migrate import migrate
    from infra.topics import ensure_stream_topics

    tag = uuid.uuid4().hex[:6]
    env = dict(os.environ)
    env.update({"GRIDWALL_TOPIC_PREFIX": f"t{run_id}{tag}.",
                "GRIDWALL_CLICKHOUSE_DATABASE": f"gw_test_{run_id}_{tag}",
                "GRIDWALL_TOPIC_PARTITIONS": "4"})
    settings = settings_from({k: v for k, v in env.items() if k.startswith("GRIDWALL_")})
    client = Client(settings.clickhouse_host, port=settings.clickhouse_port)
    list(migrate(client, settings.clickhouse_database))
    ensure_stream_topics(settings)
    writer = KafkaWriter(settings, client_id=f"test-{tag}")
    logs = tmp_path / tag
    logs.mkdir()
    try:
        yield StreamEnv(env, settings, writer, logs)
    finally:
        writer.close()
        if not os.environ.get("GRIDWALL_TEST_KEEP_DATA"):
            client.execute(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
        client.disconnect()


@pytest.fixture()
def stream_env(infra: Settings, run_id: str, tmp_path: Path) -> Iterator[StreamEnv]:
    """One test's isolated world (see :func:`make_stream_env`)."""
    with make_stream_env(run_id, tmp_path) as senv:
        yield senv


@pytest.fixture()
def second_stream_env(infra: Settings, run_id: str, tmp_path: Path) -> Iterator[StreamEnv]:
    """Another isolated world in the same test."""
    with make_stream_env(run_id, tmp_path) as senv:
        yield senv


class WorkerProc:
    """``gridwall worker`` as a child process with the test's environment."""

    def __init__(self, senv: StreamEnv, name: str, extra_env: dict[str, str] | None = None,
                 extra_args: Sequence[str] = ()) -> None:
        self.name = name
        self.log_path = senv.logs / f"{name}.log"
        env = dict(senv.env, **(extra_env or {}))
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gridwall.cli", "worker", "--worker-id", name,
             "--loglevel", "info", *extra_args],
            cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Wait until Faust logs that the worker is ready."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if "Worker]: Ready" in self.log_path.read_text(errors="replace"):
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited:\n{self.tail()}")
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not ready in {timeout_s} s:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        """The end of the worker's log."""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL, no chance to flush or commit."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._log.close()

    def stop(self) -> None:
        """Graceful stop (SIGTERM), SIGKILL after 20 s."""
        terminate(self.proc)
        self._log.close()


@dataclass
class Observer:
    """Follows ALERTS and WALL_UPDATES from the beginning, in a thread."""

    settings: Settings
    alerts: dict[str, Alert] = field(default_factory=dict)
    alert_log: list[tuple[int, Alert]] = field(default_factory=list)
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Observer:
        """Start following."""
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        from kafka import KafkaConsumer

        prefix = self.settings.topic_prefix
        consumer = KafkaConsumer(ALERTS.name(prefix), WALL_UPDATES.name(prefix),
                                 bootstrap_servers=self.settings.kafka_bootstrap,
                                 group_id=None, auto_offset_reset="earliest",
                                 enable_auto_commit=False, fetch_max_wait_ms=50)
        alerts_topic = ALERTS.name(self.settings.topic_prefix)
        try:
            while not self._stop.is_set():
                for records in consumer.poll(timeout_ms=100).values():
                    for r in records:
                        received = now_ms()
                        with self._lock:
                            if r.topic == alerts_topic:  # the alerts channel's updates
                                alert = msgspec.convert(msgspec.json.decode(
                                    r.value, type=WallUpdate).data, Alert)
                                self.alerts[alert.alert_id] = alert
                                self.alert_log.append((received, alert))
                            else:
                                upd = msgspec.json.decode(r.value, type=WallUpdate)
                                if upd.channel == "cases":
                                    self.cases[upd.key] = upd.data
        finally:
            consumer.close()

    def stop(self) -> None:
        """Stop following."""
        self._stop.set()
        self._thread.join(timeout=10)

    def alert_for_case(self, case_id: str) -> Alert | None:
        """The latest alert about ``case_id``."""
        with self._lock:
            found = [a for a in self.alerts.values() if a.case_id == case_id]
        return max(found, key=lambda a: a.opened_ms) if found else None

    def wait(self, what: str, check: Callable[[], Any], timeout_s: float = 30.0) -> Any:
        """Poll ``check`` until truthy; fail naming ``what``."""
        return wait_for(what, check, timeout_s)


class WallLog:
    """Every wall update, latest per (channel, key), followed in a thread."""

    def __init__(self, senv: StreamEnv) -> None:
        self.latest: dict[tuple[str, str], WallUpdate] = {}
        self.raw: list[bytes] = []
        self._stop = threading.Event()
        self._senv = senv
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from kafka import KafkaConsumer

        s = self._senv.settings
        consumer = KafkaConsumer(WALL_UPDATES.name(s.topic_prefix),
                                 bootstrap_servers=s.kafka_bootstrap,
                                 group_id=None, auto_offset_reset="earliest",
                                 enable_auto_commit=False, fetch_max_wait_ms=50)
        try:
            while not self._stop.is_set():
                for records in consumer.poll(timeout_ms=100).values():
                    for r in records:
                        update = msgspec.json.decode(r.value, type=WallUpdate)
                        self.raw.append(r.value)
                        self.latest[(update.channel, update.key)] = update
        finally:
            consumer.close()

    def stop(self) -> None:
        """Stop following."""
        self._stop.set()
        self._thread.join(10)


def wait_for(what: str, check: Callable[[], Any], timeout_s: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def final_count(ch: Any, db: str, table: str, where: str = "1") -> int:
    """Rows of ``table`` in a FINAL read."""
    return int(ch.execute(f"SELECT count() FROM {db}.{table} FINAL WHERE {where}")[0][0])


def raw_count(ch: Any, db: str, table: str) -> int:
    """Rows of ``table`` as stored (duplicates included)."""
    return int(ch.execute(f"SELECT count() FROM {db}.{table}")[0][0])


def wait_rows(ch: Any, db: str, table: str, expected: int, timeout_s: float = 60.0,
              where: str = "1") -> int:
    """Wait until a FINAL read of ``table`` has ``expected`` rows; return the last count."""
    deadline = time.monotonic() + timeout_s
    count = -1
    while time.monotonic() < deadline:
        count = final_count(ch, db, table, where)
        if count >= expected:
            return count
        time.sleep(0.3)
    return count


def event(case_id: str, action: str, grid: str, n: int, **kw: Any) -> CaseEvent:
    """A case event with a readable id."""
    defaults: dict[str, Any] = {"category": "environment"} if action in (
        "report", "resolve_on_spot") else {}
    defaults.update(kw)
    return CaseEvent(event_id=f"{case_id}.{n}.{action}", case_id=case_id, action=action,
                     ts=now_ms(), source="grid_worker_app", actor="worker-1", grid_id=grid,
                     **defaults)


LIFECYCLE = ("report", "verify", "dispatch", "handle", "close", "evaluate")


def lifecycle_load(n_cases: int, prefix: str = "L", grids: int = 92, base_ts: int = 0
                   ) -> list[CaseEvent]:
    """Full six-step lifecycles of ``n_cases`` cases over ``grids`` grids, in causal order.

    Timestamps are fixed (``base_ts`` + offsets), so two runs produce identical rows.
    """
    base = base_ts or now_ms()
    events: list[CaseEvent] = []
    for step, action in enumerate(LIFECYCLE):
        for i in range(n_cases):
            case_id = f"{prefix}{i:05d}"
            extra: dict[str, Any] = {}
            if action == "report":
                extra = {"category": "environment", "description": f"case {i}"}
            if action == "evaluate":
                extra = {"rating": 1 + i % 5}
            events.append(CaseEvent(
                event_id=f"{case_id}.{step}", case_id=case_id, action=action,
                ts=base + i * 10 + step * 1000, source="simulator", actor=f"w{i % 7}",
                grid_id=f"G{i % grids:02d}", **extra))
    return events


def send_in_chunks(senv: StreamEnv, events: list[CaseEvent], chunk: int = 2_000,
                   pause_s: float = 0.0) -> None:
    """Produce ``events`` in acknowledged chunks."""
    for start in range(0, len(events), chunk):
        senv.send_events(*events[start:start + chunk])
        if pause_s:
            time.sleep(pause_s)


def table_digest(ch: Any, db: str) -> dict[str, list[tuple[Any, ...]]]:
    """The logical content of the case tables (FINAL), comparable across runs."""
    return {
        "cases": ch.execute(
            f"SELECT case_id, grid_id, step, tier, escalations, breaches, rating, version "
            f"FROM {db}.cases FINAL ORDER BY case_id"),
        "case_transitions": ch.execute(
            f"SELECT case_id, event_id, from_step, to_step, from_tier, to_tier, version "
            f"FROM {db}.case_transitions FINAL ORDER BY case_id, event_id"),
    }
