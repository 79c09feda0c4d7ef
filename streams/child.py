"""A worker's child process: started and stopped with the worker, never outliving it.

``gridwall worker`` runs its sensors job in a child process (``--role sensors``, see
:func:`streams.worker.build_worker`): the readings are the volume, and in one process their
work shared the case workflow's single event loop and core. :class:`ChildProcess` is the
parent's side, a service of the worker's app:

* the child starts with the app (in a session of its own, so a terminal's Ctrl-C reaches
  the parent, which stops the child in order), and the parent's worker says "Ready" only
  once the child's has (:class:`ReadyWorker`: the child writes a byte to a pipe the parent
  gave it, :func:`announce_ready`);
* the app stopping stops the child: SIGTERM, SIGKILL after :data:`STOP_WAIT_S`;
* the child exiting while the app runs crashes the worker (the service raises): whatever
  supervises the worker restarts both, and the successors replay from the last commits;
* the parent dying in any way, SIGKILL included, kills the child: the child calls
  :func:`die_with_parent` first thing (Linux ``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import subprocess
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import faust

log = logging.getLogger(__name__)
STOP_WAIT_S = 8.0  # within the runner's wait for a service (streams.runner.STOP_WAIT_S)
POLL_S = 0.5
_PR_SET_PDEATHSIG = 1


class ChildExited(RuntimeError):
    """The child process exited while the worker was running."""


class ReadyWorker(faust.Worker):
    """A Faust worker whose "Ready" (``on_startup_finished``) first awaits each of
    ``before_ready``."""

    def __init__(self, *args: Any,
                 before_ready: Sequence[Callable[[], Awaitable[None]]] = (),
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.before_ready = list(before_ready)

    async def on_startup_finished(self) -> None:
        """Await every hook, then say "Ready"."""
        for hook in self.before_ready:
            await hook()
        await super().on_startup_finished()


def announce_ready(fd: int) -> Callable[[], Awaitable[None]]:
    """The child's hook: tell the parent on pipe ``fd`` that it is ready."""

    async def announce() -> None:
        os.write(fd, b"1")
        os.close(fd)

    return announce


class ChildProcess:
    """Runs ``argv`` from the app's start to its stop (see the module docstring); the
    child's readiness pipe is passed as ``--ready-fd <fd>`` after ``argv``."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None
                 ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready = asyncio.Event()
        self.exited = asyncio.Event()

    async def wait_ready(self) -> None:
        """Return once the child said it is ready; raise :class:`ChildExited` if it exited
        before."""
        waits = [asyncio.ensure_future(self.ready.wait()),
                 asyncio.ensure_future(self.exited.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
        if not self.ready.is_set():
            raise ChildExited(f"the {self.name} process exited before it was ready")

    async def run(self, stopping: asyncio.Event) -> None:
        """Start the child, watch it until ``stopping``, then stop it; raise
        :class:`ChildExited` if it exits first."""
        read_fd, write_fd = os.pipe()
        try:
            self.proc = subprocess.Popen([*self.argv, "--ready-fd", str(write_fd)],
                                         env=self.env, start_new_session=True,
                                         pass_fds=(write_fd,))
        finally:
            os.close(write_fd)
        log.info("%s process started (pid %d)", self.name, self.proc.pid)
        listener = asyncio.ensure_future(self._listen(read_fd))
        try:
            while not stopping.is_set():
                code = self.proc.poll()
                if code is not None:
                    raise ChildExited(f"the {self.name} process (pid {self.proc.pid}) exited "
                                      f"with code {code}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), POLL_S)
        finally:
            self.exited.set()
            await self.stop()
            listener.cancel()

    async def _listen(self, read_fd: int) -> None:
        """Set :attr:`ready` when the child writes its byte (nothing: it exited)."""
        try:
            if await asyncio.to_thread(os.read, read_fd, 1):
                self.ready.set()
        finally:
            os.close(read_fd)

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
    """Have the kernel SIGKILL this process when its parent dies (``PR_SET_PDEATHSIG``);
    exit at once if the parent ``parent_pid`` is already gone."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:  # the parent died before the prctl
        os._exit(1)
