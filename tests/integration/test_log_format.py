"""One log format for every process: the real ``gridwall up`` (against the session's Kafka
and ClickHouse, ``--external-infra``) runs the worker (Faust), the gateway (uvicorn, access
lines on), the hub and the wall (Panel/Bokeh/tornado) as its children on one stderr; from
start to SIGTERM every line of it is a record of the chosen format (``text``: time level
process logger: message, continuation lines indented; ``json``: one object a line), and
each process — ``up`` itself included — wrote some.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.common import free_port, wait_for_http
from core.logs import CONTINUATION, parse_line
from core.settings import Settings, settings_from
from tests.e2e.conftest import REPO, stack_env
from tests.processes import terminate

pytestmark = [pytest.mark.integration, pytest.mark.timeout(480)]

PROCESSES = {"up", "worker", "worker-sensors", "gateway", "hub", "wall"}


def records(text: str, fmt: str) -> list[dict[str, str]]:
    """Every record of ``text``; fails on a line that belongs to none."""
    found: list[dict[str, str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if fmt == "json":
            record = json.loads(line)
            assert set(record) >= {"ts", "level", "process", "logger", "msg"}, line
            assert parse_line(f"{record['ts']} {record['level']} {record['process']} "
                              f"{record['logger']}: x"), line
            found.append(record)
        elif line.startswith(CONTINUATION) and found:
            found[-1]["msg"] += "\n" + line[len(CONTINUATION):]
        else:
            record = parse_line(line)
            assert record is not None, f"line {number} is not a record: {line!r}"
            found.append(record)
    return found


def wait_until(check: object, up: subprocess.Popen[bytes], err: Path, what: str) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        assert up.poll() is None, f"up exited:\n{err.read_text()[-4000:]}"
        time.sleep(0.5)
    raise AssertionError(f"{what}:\n{err.read_text()[-4000:]}")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_every_process_logs_in_the_one_format(infra: Settings, run_id: str, tmp_path: Path,
                                              fmt: str) -> None:
    env = stack_env(run_id, tmp_path, GRIDWALL_TOPIC_PREFIX=f"lf{fmt}{run_id}.",
                    GRIDWALL_CLICKHOUSE_DATABASE=f"gw_lf{fmt}_{run_id}",
                    GRIDWALL_WORKER_METRICS_PORT=str(free_port()),
                    GRIDWALL_GATEWAY_ACCESS_LOG="1", GRIDWALL_LOG_FORMAT=fmt)
    s = settings_from({k: v for k, v in env.items() if k.startswith("GRIDWALL_")})
    out, err = tmp_path / "up.out", tmp_path / "up.err"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        up = subprocess.Popen([sys.executable, "-m", "gridwall.cli", "up", "--external-infra",
                               "--no-simulator"], cwd=REPO, env=env, stdout=stdout,
                              stderr=stderr, start_new_session=True)
    try:
        wait_until(lambda: wait_for_http(f"http://127.0.0.1:{s.wall_port}/healthz", 2), up,
                   err, "the wall did not come up")
        wait_until(lambda: "Worker]: Ready" in err.read_text(errors="replace"), up, err,
                   "the worker did not log Ready")
        assert wait_for_http(f"http://127.0.0.1:{s.wall_port}/wall", 30)
        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=120) == 0
    finally:
        terminate(up)
        from clickhouse_driver import Client

        Client(s.clickhouse_host, port=s.clickhouse_port).execute(
            f"DROP DATABASE IF EXISTS {s.clickhouse_database}")
    found = records(err.read_text(), fmt)
    assert {r["process"] for r in found} == PROCESSES
    assert any(r["process"] == "worker" and "Worker]: Ready" in r["msg"] for r in found)
    # the worker's sensors process logs its own lines, but not a "Ready" of its own
    assert not any(r["process"] == "worker-sensors" and "Ready" in r["msg"] for r in found)
    assert any(r["process"] == "gateway" and r["logger"] == "uvicorn.access"
               and '"GET /healthz HTTP/1.1" 200' in r["msg"] for r in found)
    assert any(r["process"] == "up" and r["logger"] == "gridwall.up"
               and r["msg"].startswith("started wall pid ") for r in found)
