"""Shared harness (no tests here): the sink's consumer lag, and a live stack of processes.

:func:`sink_lag` reads the commits of a consumer group without joining it;
:func:`worker_sink_lag` is that for the ClickHouse sinks of ``gridwall worker`` (groups
``<app id>-sink`` and ``<app id>-sink-readings``, the topics they read). :func:`live_stack`
runs ``gridwall worker``, ``gateway`` and ``hub`` as child processes
(:class:`tests.e2e.conftest.Proc`) with their own topic prefix, ClickHouse database
(migrated, dropped after), tokens file (one token per role) and ports;
:meth:`LiveStack.unhealthy` says which of them died or stopped answering ``/healthz``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from core.settings import Settings, settings_from
from domain.contracts.topics import CASE_EVENTS, DEAD_LETTER, ROWS, SENSOR_READINGS
from streams.app import app_id
from tests.e2e.conftest import Proc, stack_env
from wall.hub.client import HubClient

# One token per role the access rules know, plus the ones no role holds.
ROLE_TOKENS = {"feed": "fz-feed-token-000000000001", "viewer": "fz-viewer-token-00000001",
               "officer": "fz-officer-token-0000001", "ops": "fz-ops-token-000000000001",
               "admin": "fz-admin-token-0000000001"}


def sink_lag(s: Settings, group: str, topics: list[str]) -> int:
    """Records of ``topics`` not yet committed by consumer ``group``."""
    # never subscribes, so it does not join the group: it only reads its commits
    consumer = KafkaConsumer(bootstrap_servers=s.kafka_bootstrap, group_id=group,
                             enable_auto_commit=False)
    try:
        parts = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t)]
        ends = consumer.end_offsets(parts)
        return sum(end - (consumer.committed(tp) or 0) for tp, end in ends.items())
    finally:
        consumer.close()


def worker_sink_lag(s: Settings) -> int:
    """The lag of the ClickHouse sinks that ``gridwall worker`` runs (streams.app): its
    workflow process's (group ``<app id>-sink``) and its sensors process's (the readings,
    group ``<app id>-sink-readings``)."""
    topics = [spec.name(s.topic_prefix) for spec in (ROWS, CASE_EVENTS, DEAD_LETTER)]
    return (sink_lag(s, f"{app_id(s)}-sink", topics)
            + sink_lag(s, f"{app_id(s)}-sink-readings", [SENSOR_READINGS.name(s.topic_prefix)]))


def write_tokens(path: Path) -> dict[str, str]:
    """A tokens file (mode 0600) with :data:`ROLE_TOKENS`; returns role -> token."""
    holders: dict[str, dict[str, Any]] = {token: {"name": f"{role}-tester", "role": role}
                                          for role, token in ROLE_TOKENS.items()}
    holders[ROLE_TOKENS["feed"]]["sources"] = ["*"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(holders))  # JSON is YAML
    path.chmod(0o600)
    return dict(ROLE_TOKENS)


def http_status(url: str) -> int:
    """The status of ``GET url`` (0 if nothing answered)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


@dataclass
class LiveStack:
    """Worker, gateway and hub running as child processes of this test."""

    settings: Settings
    tokens: dict[str, str]
    procs: dict[str, Proc]

    @property
    def gateway(self) -> str:
        """Base URL of the gateway."""
        return f"http://127.0.0.1:{self.settings.gateway_port}"

    @property
    def hub(self) -> str:
        """The hub's websocket URL."""
        return f"ws://127.0.0.1:{self.settings.hub_port}/"

    def unhealthy(self) -> list[str]:
        """What is wrong: a process that exited, a ``/healthz`` not 200; [] when all is well."""
        wrong = [f"{name} exited with {proc.proc.returncode}:\n{proc.tail()}"
                 for name, proc in self.procs.items() if proc.proc.poll() is not None]
        for name, port in (("gateway", self.settings.gateway_port),
                           ("hub", self.settings.hub_port)):
            status = http_status(f"http://127.0.0.1:{port}/healthz")
            if status != 200:
                wrong.append(f"{name} /healthz answered {status}")
        return wrong

    def hub_client(self, role: str) -> HubClient:
        """A hub connection under ``role``'s token (use ``async with``)."""
        return HubClient(self.hub, self.tokens[role])

    def tune_acked(self) -> bool:
        """True if a valid ``tune`` through the hub is acknowledged (the hub's write path)."""
        async def tune() -> bool:
            async with self.hub_client("ops") as ops:
                reply = await ops.request({"type": "tune", "key": "alerts", "value": {
                    "ack_timeout_s": 600, "max_silence_s": 86400}}, timeout_s=20)
                return type(reply).__name__ == "AckMsg"

        return asyncio.run(tune())


@contextlib.contextmanager
def live_stack(run_id: str, tmp: Path, tag: str, **extra_env: str) -> Iterator[LiveStack]:
    """Worker, gateway and hub of their own prefix ``<tag><run_id>.``, database, tokens and
    ports, ready (worker 'Ready', both ``/healthz`` 200); stopped and the database dropped
    after. ``extra_env`` adds settings (e.g. limits) for all three."""
    from clickhouse_driver import Client

    from infra.migrate import migrate
    from infra.topics import ensure_stream_topics

    env = stack_env(run_id, tmp, GRIDWALL_TOPIC_PREFIX=f"{tag}{run_id}.",
                    GRIDWALL_CLICKHOUSE_DATABASE=f"gw_{tag}_{run_id}", **extra_env)
    s = settings_from({k: v for k, v in env.items() if k.startswith("GRIDWALL_")})
    client = Client(s.clickhouse_host, port=s.clickhouse_port)
    list(migrate(client, s.clickhouse_database))
    ensure_stream_topics(s)
    tokens = write_tokens(s.resolved_tokens_file)
    procs: dict[str, Proc] = {}
    try:
        for name, argv in (("worker", ["worker", "--worker-id", f"{tag}-worker", "--loglevel",
                                       "info"]), ("gateway", ["gateway"]), ("hub", ["hub"])):
            procs[name] = Proc(name, argv, env, tmp)
        procs["worker"].wait_log("Worker]: Ready", 120)
        procs["gateway"].wait_http(f"http://127.0.0.1:{s.gateway_port}/healthz", 90)
        procs["hub"].wait_http(f"http://127.0.0.1:{s.hub_port}/healthz", 90)
        yield LiveStack(s, tokens, procs)
    finally:
        for proc in reversed(list(procs.values())):
            proc.stop()
        if not os.environ.get("GRIDWALL_TEST_KEEP_DATA"):
            client.execute(f"DROP DATABASE IF EXISTS {s.clickhouse_database}")
        client.disconnect()


def clickhouse(s: Settings) -> Any:
    """A clickhouse-driver client of ``s``'s server."""
    from clickhouse_driver import Client

    return Client(s.clickhouse_host, port=s.clickhouse_port)
