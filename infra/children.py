"""The processes ``gridwall up`` supervises (the :class:`infra.supervisor.Child` protocol).

- :class:`CommandChild`: a GridWall command (worker, gateway, hub, ...) run as a child of
  ``up`` in ``up``'s process group, so a Ctrl-C in the terminal reaches it too. Its exit
  code is the child's own (negative: killed by that signal). :func:`stop_commands` stops
  them: SIGINT (their graceful shutdown), SIGKILL after a grace period.
- :class:`ServerChild`: Kafka or ClickHouse, tracked by PID file (``infra.process``). A
  (re)start runs the server's ``up()`` in a thread, so the supervisor keeps watching the
  others while a broker takes its seconds to answer; the run counts as started once
  ``up()`` returned (the server answers). Its exit code is known when this process started
  it, unknown (None) otherwise. A server stopped by ``ManagedProcess.stop`` (``gridwall
  infra down``) ended on purpose. Servers are never stopped by ``up``: they outlive it.
"""

from __future__ import annotations

import http.client
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from typing import Any

from infra.process import exit_code
from infra.supervisor import Ended


class CommandChild:
    """A long-running command, child of this process."""

    kind = "process"

    def __init__(self, name: str, argv: Sequence[str], ready_url: str | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.ready_url = ready_url
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The PID of the current run."""
        return None if self.proc is None else self.proc.pid

    def adopt(self) -> int | None:
        """Never: a command always starts fresh."""
        return None

    def launch(self) -> None:
        """Start the command (its output goes to ``up``'s)."""
        self.proc = subprocess.Popen(self.argv)

    def poll(self) -> Ended | None:
        """How the run ended, or None while it runs."""
        if self.proc is None or self.proc.poll() is None:
            return None
        return Ended(self.proc.returncode)

    def ready(self) -> bool:
        """True if there is no readiness URL or it answers 200."""
        if self.ready_url is None:
            return True
        try:
            with urllib.request.urlopen(self.ready_url, timeout=0.5) as resp:  # noqa: S310
                return bool(resp.status == 200)
        except (OSError, urllib.error.URLError, http.client.HTTPException):
            return False  # not serving yet, or something else answers there


def stop_commands(children: Iterable[Any], grace_s: float = 15.0) -> None:
    """SIGINT every running :class:`CommandChild`, SIGKILL those alive after ``grace_s``."""
    procs = [c.proc for c in children
             if isinstance(c, CommandChild) and c.proc is not None and c.proc.poll() is None]
    for proc in procs:
        proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + grace_s
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_commands(children: Iterable[Any], timeout_s: float) -> None:
    """Wait until every :class:`CommandChild` exited or ``timeout_s`` passed."""
    procs = [c.proc for c in children if isinstance(c, CommandChild) and c.proc is not None]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(p.poll() is None for p in procs):
        time.sleep(0.1)


class ServerChild:
    """Kafka or ClickHouse (an ``infra.kafka_server``/``clickhouse_server`` object)."""

    kind = "server"

    def __init__(self, server: Any) -> None:
        self.server = server
        self.name: str = server.process.name
        self._pid: int | None = None
        self._thread: threading.Thread | None = None
        self._error: Exception | None = None

    @property
    def pid(self) -> int | None:
        """The PID of the current run once it answers."""
        return self._pid

    def adopt(self) -> int | None:
        """The PID of a running server (``up`` started it just before, or it ran already)."""
        self._pid = self.server.process.pid()
        return self._pid

    def launch(self) -> None:
        """Start the server in a thread (``server.up()``: start, then wait until it answers)."""
        self._pid, self._error = None, None
        self._thread = threading.Thread(target=self._up, name=f"start-{self.name}",
                                        daemon=True)
        self._thread.start()

    def _up(self) -> None:
        try:
            self.server.up()
        except Exception as exc:  # noqa: BLE001 - any failure to start is an exit
            self._error = exc

    def ready(self) -> bool:
        """True once the start thread finished (the server answered)."""
        return self._thread is None and self._pid is not None

    def poll(self) -> Ended | None:
        """None while starting or running; how the run ended otherwise."""
        process = self.server.process
        if self._thread is not None:
            if self._thread.is_alive():
                return None
            self._thread = None
            if self._error is not None:
                recorded = process.recorded_pid()
                first = str(self._error).splitlines()[0] if str(self._error) else "error"
                return Ended(None if recorded is None else exit_code(recorded),
                             reason=f"did not start ({first})")
            self._pid = process.pid()
        if self._pid is None:
            return Ended(None, reason="is not running")
        current = process.pid()
        if current is not None:
            self._pid = current  # the same run, or one `gridwall infra up` started
            return None
        if process.stopped_on_purpose():
            return Ended(exit_code(self._pid), on_purpose=True,
                         reason="was stopped (gridwall infra down)")
        return Ended(exit_code(self._pid))
