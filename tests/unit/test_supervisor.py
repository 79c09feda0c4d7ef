"""``gridwall up``'s restart policy (infra.supervisor), driven by a fake clock and fake children."""

from __future__ import annotations

import json
from pathlib import Path

from infra.supervisor import (
    BACKOFF,
    FAILED,
    PENDING,
    RUNNING,
    STARTING,
    STOPPED,
    Book,
    Ended,
    RestartPolicy,
    Supervisor,
    status_path,
)

POLICY = RestartPolicy(backoff_s=1.0, backoff_max_s=8.0, max_failures=5, window_s=60.0)


def test_backoff_doubles_per_recent_exit_up_to_the_cap() -> None:
    delays = [POLICY.after_exit([0.0] * n, 0.0).delay_s for n in range(1, 5)]
    assert delays == [1.0, 2.0, 4.0, 8.0]
    capped = RestartPolicy(backoff_s=1.0, backoff_max_s=3.0, max_failures=10, window_s=60.0)
    assert capped.after_exit([0.0] * 6, 0.0).delay_s == 3.0


def test_gives_up_at_the_nth_exit_inside_the_window_only() -> None:
    assert POLICY.after_exit([0, 10, 20, 30], 30).give_up is False
    verdict = POLICY.after_exit([0, 10, 20, 30, 40], 40)
    assert verdict.give_up and verdict.recent == 5
    # the first exit is 60 s old at the fifth: only 4 inside the window
    late = POLICY.after_exit([0, 10, 20, 30, 60], 60)
    assert not late.give_up and late.recent == 4 and late.delay_s == 8.0


def test_backoff_is_short_again_once_exits_age_out() -> None:
    assert POLICY.after_exit([0, 1, 2, 100], 100).delay_s == 1.0


def test_book_schedules_restarts_and_counts_them() -> None:
    book = Book(POLICY, [("hub", "process")])
    assert book.entries["hub"].state == PENDING
    book.starting("hub")
    book.started("hub", 11)
    verdict = book.exited("hub", -9, now=100.0, wall_ms=5_000)
    entry = book.entries["hub"]
    assert (entry.state, entry.pid, entry.last_exit_code) == (BACKOFF, None, -9)
    assert verdict.delay_s == 1.0 and entry.next_restart_ms == 6_000
    assert book.due(100.5) == [] and book.due(101.0) == ["hub"]
    book.restarting("hub", 6_100)
    assert (entry.state, entry.restarts, entry.last_restart_ms) == (STARTING, 1, 6_100)
    assert book.due(200.0) == []
    book.started("hub", 12)
    assert (entry.state, entry.pid) == (RUNNING, 12)
    book.exited("hub", 1, now=102.0, wall_ms=7_000)
    assert book.entries["hub"].due == 104.0  # second exit in the window: 2 s


def test_book_keeps_only_exits_inside_the_window() -> None:
    book = Book(POLICY, [("worker", "process")])
    for t in (0.0, 30.0, 61.0, 62.0):
        book.exited("worker", 1, now=t, wall_ms=0)
    assert book.entries["worker"].exits == [30.0, 61.0, 62.0]
    assert book.entries["worker"].public()["exits_in_window"] == 3


class FakeChild:
    """A child whose runs end when the test says so."""

    def __init__(self, name: str, kind: str = "process", running: int | None = None,
                 fail_launch: bool = False) -> None:
        self.name, self.kind = name, kind
        self.pids = iter(range(100, 1000))
        self.running = running  # adoptable pid
        self.current: int | None = None
        self.ending: Ended | None = None
        self.launches = 0
        self.fail_launch = fail_launch
        self.is_ready = True

    @property
    def pid(self) -> int | None:
        return self.current

    def adopt(self) -> int | None:
        self.current = self.running
        return self.running

    def launch(self) -> None:
        self.launches += 1
        if self.fail_launch:
            raise OSError("no such file")
        self.current, self.ending = next(self.pids), None

    def poll(self) -> Ended | None:
        return self.ending

    def ready(self) -> bool:
        return self.is_ready

    def die(self, code: int | None = -9, on_purpose: bool = False) -> None:
        self.ending = Ended(code, on_purpose)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def make(tmp_path: Path, *children: FakeChild,
         policy: RestartPolicy = POLICY) -> tuple[Supervisor, Clock, list[str]]:
    clock, lines = Clock(), []
    sup = Supervisor(children, policy, status_path(tmp_path), log=lines.append, clock=clock,
                     wall_ms=lambda: int(clock.t * 1000))
    for child in children:
        sup.start(child)
    return sup, clock, lines


def status(tmp_path: Path) -> dict[str, dict[str, object]]:
    doc = json.loads(status_path(tmp_path).read_text())
    return {p["name"]: p for p in doc["processes"]}


def test_a_killed_child_is_restarted_after_its_backoff_and_shown(tmp_path: Path) -> None:
    hub, kafka = FakeChild("hub"), FakeChild("kafka", "server", running=42)
    sup, clock, lines = make(tmp_path, kafka, hub)
    assert sup.tick() is False
    first = status(tmp_path)
    assert first["kafka"]["state"] == RUNNING and first["kafka"]["pid"] == 42
    assert first["hub"]["state"] == RUNNING and first["hub"]["pid"] == 100
    hub.die(-9)
    assert sup.tick() is False
    assert status(tmp_path)["hub"]["state"] == BACKOFF
    assert "hub exited with code -9 (signal 9); restarting in 1 s" in lines[-1]
    clock.t += 0.5
    sup.tick()
    assert hub.launches == 1  # not before the backoff
    clock.t += 0.5
    sup.tick()  # restart due: launched, starting
    assert hub.launches == 2 and "restarting hub (restart 1)" in lines
    sup.tick()  # ready: running again
    shown = status(tmp_path)["hub"]
    assert (shown["state"], shown["pid"], shown["restarts"], shown["last_exit_code"]) == (
        RUNNING, 101, 1, -9)
    assert shown["last_restart_ms"] == 1_001_000


def test_a_child_that_keeps_failing_makes_it_give_up(tmp_path: Path) -> None:
    worker, gateway = FakeChild("worker"), FakeChild("gateway")
    sup, clock, lines = make(tmp_path, worker, gateway)
    gave_up = False
    for _ in range(5):
        worker.die(1)
        gave_up = sup.tick()
        if gave_up:
            break
        clock.t += sup.book.entries["worker"].due - clock.t  # type: ignore[operator]
        sup.tick()
    assert gave_up and sup.gave_up == "worker" and worker.launches == 5
    doc = json.loads(status_path(tmp_path).read_text())
    assert doc["state"] == FAILED and doc["gave_up"] == "worker"
    assert status(tmp_path)["worker"]["state"] == FAILED
    assert "5 failures within 60 s; giving up" in lines[-1]


def test_exits_spread_wider_than_the_window_never_give_up(tmp_path: Path) -> None:
    worker = FakeChild("worker")
    sup, clock, _ = make(tmp_path, worker, policy=RestartPolicy(1.0, 8.0, 3, 10.0))
    for _ in range(10):
        worker.die(1)
        assert sup.tick() is False
        clock.t += 11.0
        sup.tick()
        sup.tick()
    assert status(tmp_path)["worker"]["restarts"] == 10


def test_a_server_stopped_on_purpose_is_not_restarted(tmp_path: Path) -> None:
    clickhouse = FakeChild("clickhouse", "server", running=7)
    sup, clock, lines = make(tmp_path, clickhouse)
    clickhouse.die(None, on_purpose=True)
    sup.tick()
    clock.t += 100
    sup.tick()
    assert clickhouse.launches == 0 and status(tmp_path)["clickhouse"]["state"] == STOPPED
    assert "not restarting it" in lines[-1]


def test_a_starting_child_is_running_only_once_ready(tmp_path: Path) -> None:
    hub = FakeChild("hub")
    hub.is_ready = False
    sup, _, _ = make(tmp_path, hub)
    sup.tick()
    assert status(tmp_path)["hub"]["state"] == STARTING
    hub.is_ready = True
    sup.tick()
    assert status(tmp_path)["hub"]["state"] == RUNNING


def test_a_launch_that_raises_counts_as_a_failure(tmp_path: Path) -> None:
    broken = FakeChild("wall", fail_launch=True)
    sup, clock, lines = make(tmp_path, broken, policy=RestartPolicy(1.0, 8.0, 2, 60.0))
    assert sup.book.entries["wall"].state == BACKOFF
    clock.t += 1.0
    assert sup.tick() is True and sup.gave_up == "wall"
    assert any("could not be started: no such file" in line for line in lines)


def test_the_status_file_has_a_heartbeat_and_a_final_state(tmp_path: Path) -> None:
    hub = FakeChild("hub")
    sup, clock, _ = make(tmp_path, hub)
    sup.tick()
    written = json.loads(status_path(tmp_path).read_text())["updated_ms"]
    clock.t += 1.0
    sup.tick()
    assert json.loads(status_path(tmp_path).read_text())["updated_ms"] == written
    clock.t += 1.5
    sup.tick()
    assert json.loads(status_path(tmp_path).read_text())["updated_ms"] > written
    sup.finish(STOPPED)
    assert json.loads(status_path(tmp_path).read_text())["state"] == STOPPED


def test_the_ops_console_shows_what_the_status_file_holds(tmp_path: Path) -> None:
    from wall.app.ops_page import processes_html, read_supervision

    hub, kafka = FakeChild("hub"), FakeChild("kafka", "server", running=42)
    sup, clock, _ = make(tmp_path, kafka, hub)
    hub.die(-9)
    sup.tick()
    clock.t += 1.0
    sup.tick()
    sup.tick()
    shown = read_supervision(str(tmp_path), int(clock.t * 1000) + 3_000)
    assert shown is not None and shown.state == STARTING and shown.age_s == 3.0
    rows = {r.name: r for r in shown.rows}
    assert (rows["hub"].state, rows["hub"].pid, rows["hub"].restarts) == (RUNNING, 101, 1)
    assert (rows["hub"].last_exit_code, rows["hub"].last_restart_ms) == (-9, 1_001_000)
    assert (rows["kafka"].pid, rows["kafka"].restarts, rows["kafka"].last_exit_code) == (
        42, 0, None)
    page = processes_html(shown, "en")
    assert "<td>hub</td><td>running</td><td>101</td><td>1</td><td>-9</td>" in page
    assert "<td>kafka</td><td>running</td><td>42</td><td>0</td><td>—</td><td>—</td>" in page
    assert "Last exit code" in page and "gridwall up · starting" in page


def test_the_ops_console_without_up_or_with_a_broken_file(tmp_path: Path) -> None:
    from wall.app.ops_page import processes_html, read_supervision
    from wall.app.opsview import supervision

    assert read_supervision(str(tmp_path), 0) is None
    status_path(tmp_path).write_text("{not json")
    assert read_supervision(str(tmp_path), 0) is None
    assert "No data yet" in processes_html(None, "en")
    odd = supervision({"state": "failed", "gave_up": "hub", "updated_ms": "x",
                       "processes": [{"name": "hub", "pid": "12", "restarts": None}, 7]}, 5)
    assert odd is not None and odd.gave_up == "hub" and odd.age_s == 0.0
    assert [(r.name, r.pid, r.restarts) for r in odd.rows] == [("hub", None, 0)]
    assert "gave up: hub" in processes_html(odd, "en")


class SleepServer:
    """A stand-in for KafkaServer/ClickHouseServer around a real process (``sleep``)."""

    def __init__(self, home: Path) -> None:
        from infra.process import ManagedProcess

        self.process = ManagedProcess("sleeper", home / "sleeper.pid", home / "sleeper.log")

    def up(self) -> str:
        if self.process.is_running():
            return "running"
        self.process.start(["sleep", "60"])
        return "started"


def wait_for(check: object, timeout_s: float = 20.0) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("not in time")


def test_a_real_server_child_exits_with_its_signal_and_stops_on_purpose(tmp_path: Path) -> None:
    import os
    import signal

    from infra.children import ServerChild
    from infra.process import exit_code

    child = ServerChild(SleepServer(tmp_path))
    assert child.adopt() is None
    child.launch()
    wait_for(lambda: child.poll() is None and child.ready())
    first = child.pid
    assert first is not None and exit_code(first) is None
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: child.poll() is not None)
    assert child.poll() == Ended(-9)
    child.launch()
    wait_for(lambda: child.poll() is None and child.ready())
    assert child.pid not in (None, first)
    child.server.process.stop(grace_s=5)  # what `gridwall infra down` does
    ended = child.poll()
    assert ended is not None and ended.on_purpose and ended.code == -signal.SIGTERM
    # a poll between the death and the PID file's removal: the stop marker tells
    child.launch()
    wait_for(lambda: child.poll() is None and child.ready())
    process = child.server.process
    process.stop_marker.touch()
    os.kill(child.pid, signal.SIGTERM)
    wait_for(lambda: child.poll() is not None)
    assert process.pid_file.exists() and child.poll() == Ended(
        -signal.SIGTERM, True, "was stopped (gridwall infra down)")
    process.stop_marker.unlink()
    assert exit_code(os.getppid()) is None  # not started here: unknown


def test_a_command_child_reports_its_exit_code(tmp_path: Path) -> None:
    import sys

    from infra.children import CommandChild, stop_commands

    child = CommandChild("quick", [sys.executable, "-c", "raise SystemExit(3)"])
    child.launch()
    wait_for(lambda: child.poll() is not None)
    assert child.poll() == Ended(3) and child.ready()
    slow = CommandChild("slow", [sys.executable, "-c", "import time; time.sleep(60)"])
    slow.launch()
    stop_commands([slow, child], grace_s=5)
    assert slow.poll() is not None


def test_the_default_policy_is_the_documented_one() -> None:
    from core.settings import Settings

    assert RestartPolicy.from_settings(Settings()) == RestartPolicy(1.0, 30.0, 5, 60.0)
