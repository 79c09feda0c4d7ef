"""Background server processes tracked by PID files.

A :class:`ManagedProcess` starts a command in its own session (so Ctrl-C in the caller
does not reach it), records its PID, and stops it by PID: SIGTERM, then SIGKILL after a
grace period. ``is_running`` is true only while that PID is alive and is not a zombie.
For a process this interpreter started, :func:`exit_code` tells how it ended (negative:
killed by that signal), which a supervisor logs and shows.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

# Processes started by this interpreter, kept so that their exit status is read by Popen
# (a dropped Popen of a live child would be reaped by ``subprocess`` and its status lost).
_SPAWNED: dict[int, subprocess.Popen[bytes]] = {}


class StartError(RuntimeError):
    """A server did not come up; the message says which and where its log is."""


@dataclass(frozen=True)
class ManagedProcess:
    """One server process: its name, PID file and log file."""

    name: str
    pid_file: Path
    log_file: Path

    def recorded_pid(self) -> int | None:
        """The PID in the PID file, alive or not; ``None`` without a (valid) file."""
        try:
            return int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def pid(self) -> int | None:
        """The recorded PID if that process is alive, else ``None``."""
        pid = self.recorded_pid()
        return pid if pid is not None and _alive(pid) else None

    def is_running(self) -> bool:
        """True while the recorded process is alive."""
        return self.pid() is not None

    def start(self, argv: Sequence[str], env: dict[str, str] | None = None,
              cwd: Path | None = None) -> int:
        """Start ``argv`` detached, appending its output to the log file; return the PID."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                list(argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, env=env, cwd=cwd,
            )
        _SPAWNED[proc.pid] = proc
        self.pid_file.write_text(f"{proc.pid}\n")
        self.stop_marker.unlink(missing_ok=True)  # left by a stop that was interrupted
        return proc.pid

    @property
    def stop_marker(self) -> Path:
        """A file that exists while :meth:`stop` stops the process (beside the PID file)."""
        return self.pid_file.with_suffix(".stopping")

    def stopped_on_purpose(self) -> bool:
        """True while :meth:`stop` runs or after it removed the PID file.

        A supervisor watching the PID tells a stop from a crash by this: the process dies
        before ``stop`` removes the PID file, but after the marker exists.
        """
        return self.stop_marker.exists() or not self.pid_file.exists()

    def stop(self, grace_s: float = 30.0) -> bool:
        """Stop the process (SIGTERM, then SIGKILL after ``grace_s``); True if one was running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        self.stop_marker.touch()
        try:
            _signal(pid, signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid):
                _signal(pid, signal.SIGKILL)
                while _alive(pid):
                    time.sleep(0.05)
            self.pid_file.unlink(missing_ok=True)
        finally:
            self.stop_marker.unlink(missing_ok=True)
        return True

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the log, for error messages."""
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _alive(pid: int) -> bool:
    proc = _SPAWNED.get(pid)
    if proc is not None:
        # ours: alive until reaped (a killed JVM shows "Z" while its threads still exit,
        # and cannot be reaped yet; its exit status comes with the reap)
        return proc.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return True
    if state == "Z":
        _reap(pid)
        return False
    return True


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def exit_code(pid: int) -> int | None:
    """How process ``pid`` ended if this interpreter started it and it has exited.

    ``None`` while it runs, and for a process started elsewhere (its status is not ours to
    read). Negative: killed by that signal, as :attr:`subprocess.Popen.returncode`.
    """
    proc = _SPAWNED.get(pid)
    return None if proc is None else proc.poll()


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(check: Callable[[], bool], timeout_s: float, what: str,
               proc: ManagedProcess | None = None, interval_s: float = 0.25) -> None:
    """Poll ``check`` until it is true; raise :class:`StartError` after ``timeout_s``.

    If ``proc`` is given and its process dies meanwhile, fail at once with its log tail.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - any failure of a probe means "not yet"
            pass
        if proc is not None and not proc.is_running():
            raise StartError(f"{what}: process exited; log {proc.log_file}:\n{proc.log_tail()}")
        time.sleep(interval_s)
    tail = f"; log {proc.log_file}:\n{proc.log_tail()}" if proc else ""
    raise StartError(f"{what}: not ready after {timeout_s:.0f} s{tail}")
