"""``gridwall up`` heals: the real ``up`` on its own ports and data dir, with its own Kafka
broker and ClickHouse server; the hub, the worker, the ClickHouse server and the Kafka broker
are SIGKILLed in turn and each comes back (new pid, serving again), the restarts show in the
status file the ops console reads, SIGTERM stops it with exit code 0; and a process that
always fails makes ``up`` stop the rest and exit non-zero.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.common import free_port, wait_for_http
from core.settings import REPO_ROOT, Settings, settings_from
from infra.clickhouse_server import ClickHouseServer
from infra.kafka_server import KafkaServer
from infra.supervisor import status_path

pytestmark = [pytest.mark.integration, pytest.mark.timeout(480)]

UP_TIMEOUT_S = 240.0  # a cold broker, migrations and a worker on a shared 2-core machine
BACK_TIMEOUT_S = 150.0


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment of an ``up`` with its own data dir, ports, broker and server."""
    data = tmp_path_factory.mktemp("up")
    lib = REPO_ROOT / ".gridwall" / "kafka" / "lib"
    if (lib / ".pom-sha256").exists():  # spare a Maven resolution: same pom, same jars
        shutil.copytree(lib, data / "kafka" / "lib")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWALL_")}
    env.update({
        "GRIDWALL_DATA_DIR": str(data),
        "GRIDWALL_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
        "GRIDWALL_KAFKA_CONTROLLER_PORT": str(free_port()),
        "GRIDWALL_KAFKA_HEAP_MB": "384",
        "GRIDWALL_CLICKHOUSE_PORT": str(free_port()),
        "GRIDWALL_CLICKHOUSE_HTTP_PORT": str(free_port()),
        "GRIDWALL_GATEWAY_PORT": str(free_port()),
        "GRIDWALL_HUB_PORT": str(free_port()),
        "GRIDWALL_WALL_PORT": str(free_port()),
        "GRIDWALL_RESTART_BACKOFF_S": "0.5",
        "GRIDWALL_RESTART_MAX_FAILURES": "3",
        "GRIDWALL_RESTART_WINDOW_S": "60",
    })
    cfg = settings_from(env)
    try:
        yield env
    finally:
        for server in (KafkaServer(cfg), ClickHouseServer(cfg)):
            server.down()


def start_up(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "gridwall.cli", "up", "--no-simulator"],
                                env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def status(cfg: Settings) -> dict[str, Any]:
    try:
        return dict(json.loads(status_path(cfg.data_dir).read_text()))
    except (FileNotFoundError, ValueError):
        return {}


def processes(cfg: Settings) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in status(cfg).get("processes", [])}


def wait(check: Callable[[], bool], timeout_s: float, what: str, up: subprocess.Popen[bytes],
         log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        if up.poll() is not None:
            break
        time.sleep(0.5)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
    raise AssertionError(f"{what}: not within {timeout_s:.0f} s (up: {up.poll()}); "
                         f"status {json.dumps(status(settings_of(up)), indent=1)}\n{tail}")


_SETTINGS: dict[int, Settings] = {}


def settings_of(up: subprocess.Popen[bytes]) -> Settings:
    return _SETTINGS[up.pid]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def worker_published_since(cfg: Settings, since: float) -> bool:
    """The worker wrote its job health (after flushing it to Kafka) after ``since``."""
    return any(p.stat().st_mtime > since for p in (cfg.data_path / "metrics").glob("*.prom"))


def serving(name: str, cfg: Settings, since: float) -> bool:
    """The process ``name`` does its job again."""
    if name == "hub":
        return wait_for_http(f"http://127.0.0.1:{cfg.hub_port}/healthz", 2)
    if name == "clickhouse":
        return bool(ClickHouseServer(cfg).answers())
    if name == "kafka":
        return bool(KafkaServer(cfg).answers())
    return worker_published_since(cfg, since)


def stop(up: subprocess.Popen[bytes]) -> None:
    if up.poll() is None:
        os.killpg(up.pid, signal.SIGKILL)
        up.wait()


def test_up_restarts_each_process_that_dies(own: dict[str, str], tmp_path: Path) -> None:
    cfg = settings_from(own)
    log = tmp_path / "up.log"
    up = start_up(own, log)
    _SETTINGS[up.pid] = cfg
    try:
        names = {"kafka", "clickhouse", "worker", "gateway", "hub", "wall"}
        wait(lambda: status(cfg).get("state") == "running"
             and {n for n, p in processes(cfg).items() if p["state"] == "running"} == names,
             UP_TIMEOUT_S, "everything running", up, log)
        for name in ("hub", "worker", "clickhouse", "kafka"):
            old = processes(cfg)[name]["pid"]
            killed_at = time.time()
            os.kill(old, signal.SIGKILL)

            def back(name: str = name, old: int = old) -> bool:
                p = processes(cfg)[name]
                return bool(p["state"] == "running" and p["pid"] not in (None, old)
                            and p["restarts"] >= 1 and p["last_exit_code"] == -signal.SIGKILL)

            wait(back, BACK_TIMEOUT_S, f"{name} restarted", up, log)
            assert alive(processes(cfg)[name]["pid"]) and not alive(old)
            wait(lambda name=name, t=killed_at: serving(name, cfg, t), BACK_TIMEOUT_S,
                 f"{name} serving again", up, log)
        shown = processes(cfg)
        for name in ("hub", "worker", "clickhouse", "kafka"):
            assert shown[name]["last_restart_ms"] is not None
        children = [shown[n]["pid"] for n in ("worker", "gateway", "hub", "wall")]
        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=90) == 0
        assert not any(alive(pid) for pid in children)
        assert status(cfg)["state"] == "stopped"
        assert KafkaServer(cfg).process.is_running()  # servers outlive up
        assert ClickHouseServer(cfg).process.is_running()
        text = log.read_text(errors="replace")
        for name in ("hub", "worker", "clickhouse", "kafka"):
            assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO up gridwall\.up: "
                             rf"{name} exited with code -9 \(signal 9\); restarting in", text)
            assert f"up gridwall.up: restarting {name} (restart 1)" in text
            assert f"up gridwall.up: {name} is back, pid " in text
    finally:
        stop(up)


def test_a_process_that_always_fails_makes_up_exit_non_zero(own: dict[str, str],
                                                            tmp_path: Path) -> None:
    cfg = settings_from(own)
    log = tmp_path / "up.log"
    with socket.socket() as taken:  # the hub's port is held: every hub start fails
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the last hub's TIME_WAIT
        taken.bind(("127.0.0.1", cfg.hub_port))
        taken.listen()
        up = start_up(own, log)
        _SETTINGS[up.pid] = cfg
        try:
            wait(lambda: up.poll() is not None, UP_TIMEOUT_S, "up gave up", up, log)
        finally:
            stop(up)
    text = log.read_text(errors="replace")
    assert up.returncode == 1, text[-3000:]
    doc = status(cfg)
    shown = {p["name"]: p for p in doc["processes"]}
    assert doc["state"] == "failed" and doc["gave_up"] == "hub", text[-3000:]
    assert shown["hub"]["state"] == "failed" and shown["hub"]["restarts"] == 2
    assert shown["hub"]["last_exit_code"] not in (None, 0)
    for name in ("worker", "gateway"):
        assert shown[name]["restarts"] == 0 and not alive(shown[name]["pid"])
    assert "hub exited with code" in text
    assert "3 failures within 60 s; giving up" in text


def test_infra_down_is_respected_and_ctrl_c_stops_it_with_0(own: dict[str, str],
                                                            tmp_path: Path) -> None:
    cfg = settings_from(own)
    log = tmp_path / "up.log"
    up = start_up(own, log)
    _SETTINGS[up.pid] = cfg
    try:
        names = {"kafka", "clickhouse", "worker", "gateway", "hub", "wall"}
        wait(lambda: {n for n, p in processes(cfg).items() if p["state"] == "running"}
             == names, UP_TIMEOUT_S, "everything running", up, log)
        children = [processes(cfg)[n]["pid"] for n in ("worker", "gateway", "hub", "wall")]
        assert ClickHouseServer(cfg).down()  # as `gridwall infra down` does: by PID file
        wait(lambda: processes(cfg)["clickhouse"]["state"] == "stopped", BACK_TIMEOUT_S,
             "clickhouse shown as stopped", up, log)
        assert processes(cfg)["clickhouse"]["restarts"] == 0
        os.killpg(up.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole process group
        assert up.wait(timeout=90) == 0
    finally:
        stop(up)
    assert not any(alive(pid) for pid in children)
    assert status(cfg)["state"] == "stopped"
    assert KafkaServer(cfg).process.is_running()  # the broker outlives up
    text = log.read_text(errors="replace")
    assert "clickhouse was stopped (gridwall infra down); not restarting it" in text
    assert "restarting" not in text.split("not restarting it", 1)[1]
