"""A real broker crash under load: gateway, hub, worker and simulator carry on by themselves.

This test starts ITS OWN Kafka broker (own ports, own data dir, own cluster id; the jars of
the shared one), ClickHouse database and topics, and runs ``gridwall worker``, ``gateway``,
``hub`` and ``simulate`` (through the gateway, and ``--direct``) against it while a client
posts reports and retries refusals with the same event id. The broker is then killed with
SIGKILL, left down for at least :data:`OUTAGE_S`, started again; the same with SIGTERM.
After each return it waits -- each wait a liveness bound, not a performance assertion --
until:

* the gateway answers 202 again and ``/healthz`` is 200 (during the outage it was 503);
* both simulators' readings reach Kafka again (only they send readings; the batch ids say
  which sent them);
* the worker produces wall updates again (only the worker does);
* the hub's feed takes them in again, and a ``tune`` through the hub is acknowledged.

The measured recovery times (seconds after the broker answered again) are printed. Finally
every event id the gateway acknowledged (202, or 200 for a retry of one that had landed) is
in the case events topic exactly once, and with the broker killed again the gateway still
stops promptly on SIGTERM, exit code 0.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

import httpx
import pytest

from bench.common import free_port
from core.auth import ensure_dev_tokens
from core.settings import Settings, settings_from
from domain.contracts.topics import SENSOR_READINGS, WALL_UPDATES, TopicSpec
from domain.schemas import decode_sensor_batches
from infra.kafka_server import KafkaServer
from ingest.import_scan import Offsets, TopicLog
from tests.e2e.conftest import Proc, stack_env
from tests.integration.test_gateway_outage import counts
from tests.unit.test_gateway_support import bearer, report
from wall.hub.client import HubClient
from wall.hub.protocol import AckMsg

pytestmark = [pytest.mark.integration, pytest.mark.timeout(480)]
OUTAGE_S = 6.0
LIVENESS_S = 90.0  # how long "carries on" may take before the test fails: a liveness bound


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = LIVENESS_S) -> float:
    """Poll ``check`` until true; return when (monotonic); fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():
                return time.monotonic()
        except Exception:  # noqa: BLE001 - a probe failing means "not yet"
            pass
        time.sleep(0.25)
    raise AssertionError(f"{what}: not within {timeout_s:.0f} s")


def http_json(url: str) -> tuple[int, dict[str, object], Message]:
    """GET ``url``: status, JSON body and headers, also for error statuses."""
    try:
        with urllib.request.urlopen(url, timeout=15) as response:
            return response.status, json.loads(response.read()), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers


def end_offsets(s: Settings, spec: TopicSpec) -> Offsets:
    """The topic's end offsets, read by a fresh client."""
    log = TopicLog(s, timeout_s=10)
    try:
        return log.end_offsets([spec])
    finally:
        log.close()


def end_offset(s: Settings, spec: TopicSpec) -> int:
    """The sum of the topic's end offsets."""
    return sum(sum(ends.values()) for ends in end_offsets(s, spec).values())


def reading_sinks(s: Settings, start: Offsets) -> set[str]:
    """Which simulator sinks wrote readings after ``start``: "h" (through the gateway), "d"
    (``--direct``); a batch id is ``<run tag>-<sink><n>:<grid>:<part>``."""
    log = TopicLog(s, timeout_s=20)
    try:
        return {batch.batch_id.split(":")[0].rsplit("-", 1)[1][0]
                for m in log.read(start) for batch in decode_sensor_batches(m.value)}
    finally:
        log.close()


@dataclass(eq=False)
class Poster(threading.Thread):
    """A client posting one report at a time; a refused one is retried with its event id."""

    url: str
    token: str
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    acked: set[str] = field(default_factory=set)
    answers: list[tuple[float, int]] = field(default_factory=list)
    halt: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        super().__init__(daemon=True, name="poster")

    def run(self) -> None:
        index, event = 0, None
        with httpx.Client(timeout=30) as client:
            while not self.halt.is_set():
                if event is None:
                    event, index = report(f"bc-{self.tag}-{index}", index=index), index + 1
                try:
                    status = client.post(f"{self.url}/v1/cases/events", json=event,
                                         headers=bearer(self.token)).status_code
                except httpx.TransportError:
                    status = 0
                self.answers.append((time.monotonic(), status))
                if status in (200, 202):  # 200: a retry of an attempt that had landed
                    self.acked.add(event["event_id"])
                    event = None
                self.halt.wait(0.05 if status in (200, 202) else 0.5)

    def accepted_since(self, since: float) -> bool:
        """True if a post after ``since`` was answered 202."""
        return any(at > since and status == 202 for at, status in self.answers)

    def stop(self) -> None:
        """Stop posting and wait for the last answer (a no-op if it never started)."""
        self.halt.set()
        if self.ident is not None:
            self.join(timeout=60)


@dataclass
class CrashStack:
    """The test's broker, processes and client."""

    settings: Settings
    tokens: dict[str, str]
    broker: KafkaServer
    procs: dict[str, Proc]
    poster: Poster

    @property
    def gateway(self) -> str:
        """Base URL of the gateway."""
        return f"http://127.0.0.1:{self.settings.gateway_port}"

    @property
    def hub_health(self) -> str:
        """The hub's /healthz URL."""
        return f"http://127.0.0.1:{self.settings.hub_port}/healthz"

    def kill_broker(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the broker and wait until it is gone."""
        pid = self.broker.process.pid()
        assert pid is not None, "the broker is not running"
        os.kill(pid, sig)
        wait_until(lambda: not self.broker.process.is_running(), "broker exit", 120)

    def hub_records_in(self) -> int:
        """Records the hub's feed took in so far; -1 while its feed is not running."""
        status, body, _ = http_json(self.hub_health)
        if status != 200 or body.get("feed") != "running":
            return -1
        return int(str(body["records_in"]))

    def hub_tune_acked(self) -> bool:
        """True if a ``tune`` through the hub is acknowledged by Kafka."""
        async def tune() -> bool:
            url = f"ws://127.0.0.1:{self.settings.hub_port}/"
            async with HubClient(url, self.tokens["ops"]) as client:
                reply = await client.request({"type": "tune", "key": "alerts", "value": {
                    "ack_timeout_s": 600, "max_silence_s": 86400}}, timeout_s=20)
                return isinstance(reply, AckMsg)

        return asyncio.run(tune())


def own_broker_env(run_id: str, tmp: Path) -> dict[str, str]:
    """This test's environment: own broker ports, data dir, prefix, database, tokens."""
    return stack_env(run_id, tmp, GRIDWALL_KAFKA_BOOTSTRAP=f"127.0.0.1:{free_port()}",
                     GRIDWALL_KAFKA_CONTROLLER_PORT=str(free_port()),
                     GRIDWALL_KAFKA_HEAP_MB="384", GRIDWALL_TOPIC_PREFIX=f"bc{run_id}.",
                     GRIDWALL_CLICKHOUSE_DATABASE=f"gw_crash_{run_id}")


def start_broker(s: Settings, shared: Settings) -> KafkaServer:
    """Start this test's broker on the jars the shared one resolved (no Maven run)."""
    home = s.data_path / "kafka"
    home.mkdir(parents=True, exist_ok=True)
    (home / "lib").symlink_to(shared.data_path / "kafka" / "lib", target_is_directory=True)
    broker = KafkaServer(s)
    broker.up(timeout_s=120)
    return broker


@pytest.fixture()
def crash_stack(infra: Settings, run_id: str, tmp_path: Path) -> Iterator[CrashStack]:
    """Broker, worker, gateway, hub, simulator and the posting client, all running."""
    from clickhouse_driver import Client

    from infra.migrate import migrate
    from infra.topics import ensure_stream_topics

    env = own_broker_env(run_id, tmp_path)
    s = settings_from({k: v for k, v in env.items() if k.startswith("GRIDWALL_")})
    broker = start_broker(s, infra)
    ensure_stream_topics(s)
    client = Client(s.clickhouse_host, port=s.clickhouse_port)
    list(migrate(client, s.clickhouse_database))
    tokens = ensure_dev_tokens(s.resolved_tokens_file)
    procs: dict[str, Proc] = {}
    poster = Poster(f"http://127.0.0.1:{s.gateway_port}", tokens["feed"])
    try:
        for name, argv in (("worker", ["worker", "--worker-id", "crash-worker"]),
                           ("gateway", ["gateway"]), ("hub", ["hub"])):
            procs[name] = Proc(name, argv, env, tmp_path)
        procs["gateway"].wait_http(f"http://127.0.0.1:{s.gateway_port}/healthz", 120)
        procs["hub"].wait_http(f"http://127.0.0.1:{s.hub_port}/healthz", 120)
        procs["simulator"] = Proc("simulator", ["simulate", "--rate", "20", "--duration",
                                                "1800", "--seed", "11"], env, tmp_path)
        procs["direct"] = Proc("direct", ["simulate", "--direct", "--rate", "5", "--duration",
                                          "1800", "--seed", "12"], env, tmp_path)
        poster.start()
        wait_until(lambda: end_offset(s, WALL_UPDATES) > 0, "the worker's first updates", 180)
        yield CrashStack(s, tokens, broker, procs, poster)
    finally:
        try:
            poster.stop()
            for proc in reversed(list(procs.values())):
                proc.stop()
        finally:
            broker.down()
        if not os.environ.get("GRIDWALL_TEST_KEEP_DATA"):
            client.execute(f"DROP DATABASE IF EXISTS {s.clickhouse_database}")
        client.disconnect()


def outage(stack: CrashStack, sig: signal.Signals) -> tuple[float, float]:
    """Stop the broker with ``sig``; check what clients see while it is down; start it again.
    Returns when (monotonic) the broker answered metadata again, and how long it was gone."""
    stack.kill_broker(sig)
    down_at = time.monotonic()
    wait_until(lambda: http_json(f"{stack.gateway}/healthz")[0] == 503, "/healthz 503", 60)
    _, body, headers = http_json(f"{stack.gateway}/healthz")
    assert body["kafka"] == "not_acknowledged" and int(headers.get("Retry-After", "0")) > 0, body
    wait_until(lambda: any(at > down_at and status == 503
                           for at, status in stack.poster.answers), "a 503 to a post", 60)
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
    refused = {status for at, status in stack.poster.answers if at > down_at}
    # While the broker is down: refused with 503 (Retry-After), never accepted, never a hang.
    assert refused == {503}, refused
    stack.broker.up(timeout_s=120)
    return time.monotonic(), time.monotonic() - down_at


def recovery(stack: CrashStack, back: float) -> dict[str, float]:
    """Wait until every part carries on; seconds after ``back`` for each."""
    s = stack.settings
    readings, updates = end_offsets(s, SENSOR_READINGS), end_offset(s, WALL_UPDATES)
    records_in = stack.hub_records_in()
    seen = {
        "gateway_202": wait_until(lambda: stack.poster.accepted_since(back), "gateway 202"),
        "gateway_healthz": wait_until(
            lambda: http_json(f"{stack.gateway}/healthz")[0] == 200, "gateway /healthz 200"),
        "simulator": wait_until(lambda: "h" in reading_sinks(s, readings),
                                "simulator readings through the gateway in Kafka"),
        "simulator_direct": wait_until(lambda: "d" in reading_sinks(s, readings),
                                       "simulate --direct readings in Kafka"),
        "worker": wait_until(lambda: end_offset(s, WALL_UPDATES) > updates,
                             "worker wall updates in Kafka"),
        "hub_feed": wait_until(lambda: stack.hub_records_in() > records_in,
                               "hub feed takes in updates"),
        "hub_command": wait_until(stack.hub_tune_acked, "hub tune acknowledged"),
    }
    return {name: round(at - back, 1) for name, at in seen.items()}


def test_broker_sigkill_and_sigterm_under_load(crash_stack: CrashStack) -> None:
    stack = crash_stack
    figures: dict[str, dict[str, float]] = {}
    for sig in (signal.SIGKILL, signal.SIGTERM):
        back, down_s = outage(stack, sig)
        figures[sig.name] = {"broker_gone_s": round(down_s, 1), **recovery(stack, back)}
        for proc in stack.procs.values():
            assert proc.proc.poll() is None, f"{proc.name} exited:\n{proc.tail()}"
    print(f"\nrecovery after the broker answered again (s): {json.dumps(figures)}")

    stack.poster.stop()
    ids = set(stack.poster.acked)
    assert ids
    assert counts(stack.settings, ids) == dict.fromkeys(ids, 1)

    stack.kill_broker(signal.SIGKILL)  # shutting down with a dead broker ends promptly
    gateway = stack.procs.pop("gateway")
    gateway.proc.send_signal(signal.SIGTERM)
    assert gateway.proc.wait(timeout=60) == 0, gateway.tail()
    assert "Application shutdown failed" not in gateway.log_path.read_text(errors="replace")
    gateway.stop()
