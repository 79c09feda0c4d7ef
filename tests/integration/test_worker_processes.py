"""``gridwall worker`` is two processes, against the real broker and ClickHouse.

The worker runs its sensors job in a child process (``--role sensors``, streams.child).
These tests run real workers and send real signals: the child runs and reports its own job
health (``<worker id>-sensors``), the worker starts only after its child said it is ready
(and says "Ready" once: its child logs no "Ready" of its own), a
SIGKILLed worker takes its child with it, a worker whose child dies exits and says why, and
a SIGTERMed worker stops its child and exits cleanly; ``--role all`` runs every job in one
process.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from bench.common import process_tree
from domain.contracts.topics import SENSOR_READINGS
from tests.integration.test_streams_support import (
    StreamEnv,
    WallLog,
    WorkerProc,
    stream_env,
    wait_for,
)

__all__ = ["stream_env"]
pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def sensors_child(worker: WorkerProc) -> int:
    """The pid of the worker's sensors process (exactly one)."""
    children = [pid for pid in process_tree(worker.proc.pid)[1:]
                if "--role\x00sensors" in _cmdline(pid)]
    assert len(children) == 1, children
    return children[0]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return ""


def gone(pid: int) -> bool:
    """True if ``pid`` no longer runs (exited, or a zombie not reaped yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def test_the_sensors_process_reports_and_dies_with_a_killed_worker(stream_env: StreamEnv
                                                                   ) -> None:
    wall = WallLog(stream_env)
    worker = WorkerProc(stream_env, "pair")
    try:
        worker.wait_ready()
        log = worker.log_path.read_text(errors="replace")
        assert log.index("sensors process ready") < log.index("Worker]: Ready")
        assert log.count("Worker]: Ready") == 1  # the child's own never reaches the log
        child = sensors_child(worker)
        report = wait_for("the sensors process's job health",
                          lambda: wall.latest.get(("job_health", "pair-sensors")))
        assert "sensors" in report.data["lag"]
        workflow = wait_for("the worker's job health",
                            lambda: wall.latest.get(("job_health", "pair")))
        assert "sensors" not in workflow.data["lag"] and "agents" in workflow.data["lag"]

        worker.kill()  # SIGKILL: no chance to stop anything
        wait_for("the sensors process gone with its worker", lambda: gone(child), 15)
    finally:
        wall.stop()
        if worker.proc.poll() is None:
            worker.stop()


def test_a_worker_whose_sensors_process_dies_exits_and_says_why(stream_env: StreamEnv
                                                                ) -> None:
    worker = WorkerProc(stream_env, "orphaned")
    try:
        worker.wait_ready()
        child = sensors_child(worker)
        os.kill(child, signal.SIGKILL)
        [code] = wait_for("the worker to exit", lambda: (
            None if worker.proc.poll() is None else [worker.proc.returncode]), 30)
        assert code != 0
        assert "the sensors process" in worker.tail(200)
        assert "exited with code -9" in worker.tail(200)
    finally:
        if worker.proc.poll() is None:
            worker.kill()


def test_a_terminated_worker_stops_its_sensors_process_and_exits_cleanly(
        stream_env: StreamEnv) -> None:
    worker = WorkerProc(stream_env, "tidy")
    worker.wait_ready()
    child = sensors_child(worker)
    worker.stop()  # SIGTERM (SIGKILL after 20 s: then the code would be -9)
    assert worker.proc.returncode == 0, worker.tail()
    assert gone(child)


def test_role_all_runs_every_job_in_one_process(stream_env: StreamEnv) -> None:
    wall = WallLog(stream_env)
    worker = WorkerProc(stream_env, "single", extra_args=("--role", "all"))
    try:
        worker.wait_ready()
        assert process_tree(worker.proc.pid)[1:] == []
        report = wait_for("job health naming the sensors and agents consumers", lambda: (
            u := wall.latest.get(("job_health", "single"))) and {"sensors", "agents"} <= set(
            u.data["lag"]) and u)
        sink = set(report.data["lag"].get("sink", {}))
        assert SENSOR_READINGS.name(stream_env.settings.topic_prefix) in sink
        assert ("job_health", "single-sensors") not in wall.latest
    finally:
        wall.stop()
        worker.stop()
