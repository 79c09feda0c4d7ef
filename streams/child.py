"""A worker's child process: started and stopped with the worker, never outliving it.

``gridwall worker`` runs its sensors job in a child process (``--role sensors``, see
:func:`streams.worker.build_worker`): the readings are the volume, and in one process their
work shared the case workflow's single event loop and core. :class:`ChildProcess` is the
parent's side, a service of the worker's app:

* the child starts before the worker's app (:meth:`ChildProcess.start` blocks until the
  child says it is ready: it writes a byte to a pipe the parent gave it,
  :func:`announce_ready` on its :class:`ReadyWorker`), so the worker does nothing, and says
  "Ready" to nobody, before its child is ready; the child runs in a session of its own,
  so a terminal's Ctrl-C reaches the parent, which stops the child in order;
* the app stopping stops the child: SIGTERM, SIGKILL after :data:`STOP_WAIT_S`;
* the child exiting while the app runs crashes the worker (the service raises): whatever
  supervises the worker restarts both, and the successors replay from the last commits;
* the parent dying in any way, SIGKILL included, kills the child: the child calls
  :func:`die_with_parent` first thing (Linux ``PR_SET_PDEATHSIG``; where there is no
  ``prctl``, a thread polls the parent's pid).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import faust

log = logging.getLogger(__name__)
STOP_WAIT_S = 8.0  # within the runner's wait for a service (streams.runner.STOP_WAIT_S)
POLL_S = 0.5
START_TIMEOUT_S = 300.0  # a city's sensors process loads 100,000 sensors in a few seconds
_PR_SET_PDEATHSIG = 1


class ChildExited(RuntimeError):
    """The child process exited (or never became ready): the worker cannot run without it."""


class ReadyWorker(faust.Worker):
    """A Faust worker that calls ``on_ready`` just before it says "Ready"."""

    def __init__(self, *args: Any, on_ready: Callable[[], None] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_ready = on_ready

    async def on_startup_finished(self) -> None:
        """Call ``on_ready``, then say "Ready"."""
        if self.on_ready is not None:
            self.on_ready()
        await super().on_startup_finished()


def announce_ready(fd: int) -> Callable[[], None]:
    """The child's ``on_ready``: tell the parent on pipe ``fd`` that it is ready."""

    def announce() -> None:
        os.write(fd, b"1")
        os.close(fd)

    return announce


class ChildProcess:
    """Runs ``argv`` (see the module docstring); the child's readiness pipe is passed as
    ``--ready-fd <fd>`` after ``argv``. :meth:`start` before the worker's app starts,
    :meth:`run` as a service of the app."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None
                 ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Start the child and block until it says it is ready; raise :class:`ChildExited`
        (the child stopped) if it exits first or is not ready within ``timeout_s``."""
        read_fd, write_fd = os.pipe()
        try:
            self.proc = subprocess.Popen([*self.argv, "--ready-fd", str(write_fd)],
                                         env=self.env, start_new_session=True,
                                         pass_fds=(write_fd,))
        finally:
            os.close(write_fd)
        try:
            readable, _, _ = select.select([read_fd], [], [], timeout_s)
            said = os.read(read_fd, 1) if readable else b""
        finally:
            os.close(read_fd)
        if said:
            log.info("%s process ready (pid %d)", self.name, self.proc.pid)
            return
        if not readable:  # still running, silent
            self.proc.kill()
            self.proc.wait()
            raise ChildExited(f"the {self.name} process was not ready within {timeout_s:.0f} s")
        self.proc.wait()  # the pipe closed: it is exiting (its status may lag the close)
        raise ChildExited(f"the {self.name} process exited before it was ready (code "
                          f"{self.proc.returncode})")

    async def run(self, stopping: asyncio.Event) -> None:
        """Watch the started child until ``stopping``, then stop it; raise
        :class:`ChildExited` if it exits first."""
        if self.proc is None:
            raise ChildExited(f"the {self.name} process was never started")
        try:
            while not stopping.is_set():
                code = self.proc.poll()
                if code is not None:
                    raise ChildExited(f"the {self.name} process (pid {self.proc.pid}) exited "
                                      f"with code {code}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), POLL_S)
        finally:
            await self.stop()

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after :data:`STOP_WAIT_S`; wait until it is gone."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            await asyncio.to_thread(proc.wait, STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            log.warning("%s process (pid %d) ignored SIGTERM: killed", self.name, proc.pid)
            proc.kill()
            await asyncio.to_thread(proc.wait)


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel SIGKILL this process when its parent dies (Linux
    ``PR_SET_PDEATHSIG``; elsewhere :func:`watch_parent` polls); exit at once if the parent
    ``parent_pid`` is already gone."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    except (AttributeError, OSError):  # no prctl (not Linux): poll instead
        watch_parent(parent_pid)
    if os.getppid() != parent_pid:  # the parent died before the prctl
        os._exit(1)


def watch_parent(parent_pid: int, interval_s: float = POLL_S) -> threading.Thread:
    """Exit this process (code 1) within ``interval_s`` of its parent's death, from a
    daemon thread that polls the parent pid."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval_s)
        os._exit(1)

    thread = threading.Thread(target=watch, name="watch-parent", daemon=True)
    thread.start()
    return thread
