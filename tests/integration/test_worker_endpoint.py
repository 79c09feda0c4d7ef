"""The worker's ``/metrics`` and ``/healthz`` over HTTP (``GRIDWALL_WORKER_METRICS_PORT``):
a real ``gridwall worker`` against the real broker and ClickHouse answers ``/healthz`` 200
with status ``ok`` once its jobs run, serves the job-health figures of its textfile plus its
status as Prometheus text, and a second worker given the same port logs why it has no
endpoint and runs its jobs all the same; a stopped worker's port answers nothing.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clickhouse_driver import Client

from bench.common import free_port
from core.settings import Settings, settings_from
from infra.migrate import migrate
from infra.topics import ensure_stream_topics
from tests.e2e.conftest import Proc, stack_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

SAMPLE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?P<labels>.*)\})? (?P<value>\S+)$')


def get(url: str) -> tuple[int, bytes]:
    """Status and body of ``GET url``; (0, b"") if nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def samples(text: str) -> dict[str, list[tuple[str, float]]]:
    """Metric name -> (labels, value) of every sample; fails on a line that is neither a
    comment nor a sample of the Prometheus text format."""
    out: dict[str, list[tuple[str, float]]] = {}
    for line in text.splitlines():
        if not line or line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        match = SAMPLE.match(line)
        assert match, f"not a Prometheus sample: {line!r}"
        out.setdefault(match["name"], []).append((match["labels"] or "", float(match["value"])))
    return out


def wait_for(check: Any, timeout_s: float, what: str, proc: Proc) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        assert proc.proc.poll() is None, f"{proc.name} exited:\n{proc.tail()}"
        time.sleep(0.5)
    raise AssertionError(f"{what} not within {timeout_s} s:\n{proc.tail()}")


@pytest.fixture()
def world(infra: Settings, run_id: str, tmp_path: Path) -> Iterator[tuple[dict[str, str],
                                                                            Settings]]:
    """Its own topics (2 partitions), database, data dir and metrics port."""
    env = stack_env(run_id, tmp_path, GRIDWALL_TOPIC_PREFIX=f"wm{run_id}.",
                    GRIDWALL_CLICKHOUSE_DATABASE=f"gw_wm_{run_id}",
                    GRIDWALL_WORKER_METRICS_PORT=str(free_port()))
    s = settings_from({k: v for k, v in env.items() if k.startswith("GRIDWALL_")})
    client = Client(s.clickhouse_host, port=s.clickhouse_port)
    list(migrate(client, s.clickhouse_database))
    ensure_stream_topics(s)
    try:
        yield env, s
    finally:
        client.execute(f"DROP DATABASE IF EXISTS {s.clickhouse_database}")
        client.disconnect()


def test_worker_serves_metrics_and_healthz(world: tuple[dict[str, str], Settings],
                                           tmp_path: Path) -> None:
    env, s = world
    base = f"http://127.0.0.1:{s.worker_metrics_port}"
    first = Proc("wm-first", ["worker", "--worker-id", "wm-first", "--loglevel", "info"],
                 env, tmp_path)
    second: Proc | None = None
    try:
        first.wait_log("Worker]: Ready", 180)

        def healthy() -> dict[str, Any] | None:
            code, body = get(f"{base}/healthz")
            return json.loads(body) if code == 200 else None

        health = wait_for(healthy, 120, "/healthz 200", first)
        assert health["status"] == "ok" and health["worker_id"] == "wm-first"
        assert health["app_state"] == "running"
        assert health["last_tick_age_ms"] <= health["stale_after_ms"]
        assert health["partitions"]["agents"] == 2 * 3  # cases, alerts, commands × 2

        code, body = get(f"{base}/metrics")
        assert code == 200
        figures = samples(body.decode())
        assert figures["gridwall_worker_status_info"] == [('value="ok"', 1.0)]
        lags = figures["gridwall_consumer_lag"]
        assert any('consumer="agents"' in labels for labels, _ in lags)
        assert all(labels.startswith('worker="wm-first"') for labels, _ in lags)
        loop_lag = dict(figures["gridwall_event_loop_lag_ms"])  # the probe runs in a worker
        assert set(loop_lag) == {f'worker="wm-first",quantile="{q}"' for q in ("50", "99", "100")}
        assert all(v >= 0 for v in loop_lag.values())
        textfile = (Path(s.data_dir) / "metrics" / "wm-first.prom").read_text()
        assert set(samples(textfile)) <= set(figures)  # every figure of the textfile

        assert get(f"{base}/nothing")[0] == 404
        second = Proc("wm-second", ["worker", "--worker-id", "wm-second", "--loglevel",
                                    "info"], env, tmp_path)
        second.wait_log("Worker]: Ready", 180)
        second.wait_log(f"cannot listen on 127.0.0.1:{s.worker_metrics_port}", 10)
        assert second.proc.poll() is None
        assert wait_for(healthy, 120, "/healthz 200 after the rebalance", first)
    finally:
        for proc in (second, first):
            if proc is not None:
                proc.stop()
    assert get(f"{base}/healthz") == (0, b"")
