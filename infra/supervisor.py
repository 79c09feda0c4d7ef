"""Restart policy and bookkeeping for the processes ``gridwall up`` runs.

``up`` supervises like compose's ``restart: unless-stopped``:

- a process that exits on its own (any exit code, or killed by a signal) is started again
  after a backoff: ``backoff_s``, doubled for every earlier exit still inside the window,
  capped at ``backoff_max_s``; once its exits age out of the window the backoff is short again;
- the ``max_failures``-th exit within ``window_s`` seconds gives up: :meth:`Supervisor.tick`
  reports it and the caller stops the rest and exits non-zero;
- a process stopped on purpose (a server whose PID file ``gridwall infra down`` removed)
  is marked ``stopped`` and not restarted;
- every process's state (``pending``, ``starting``, ``running``, ``backoff``, ``stopped``,
  ``failed``), pid, restarts, last exit code, last exit and last restart time is written as JSON to
  ``<data dir>/supervisor.json`` (:func:`status_path`) on every change and at least every
  :data:`HEARTBEAT_S`, atomically (write, then rename); the ops console reads that file.

:class:`RestartPolicy` and :class:`Book` are pure (times are passed in). :class:`Supervisor`
drives objects of the :class:`Child` protocol (``infra.children``) with an injected clock.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

STATUS_NAME = "supervisor.json"
HEARTBEAT_S = 2.0
PENDING, STARTING, RUNNING = "pending", "starting", "running"
BACKOFF, STOPPED, FAILED = "backoff", "stopped", "failed"


def status_path(data_dir: str | Path) -> Path:
    """Where ``up`` writes the supervised processes' status: ``<data dir>/supervisor.json``."""
    return Path(data_dir) / STATUS_NAME


class Verdict(NamedTuple):
    """What to do after an exit: give up, or restart after ``delay_s``."""

    give_up: bool
    delay_s: float
    recent: int  # exits within the window, this one included


@dataclass(frozen=True)
class RestartPolicy:
    """Exponential backoff per process; give up after ``max_failures`` exits in ``window_s``."""

    backoff_s: float = 1.0
    backoff_max_s: float = 30.0
    max_failures: int = 5
    window_s: float = 60.0

    @classmethod
    def from_settings(cls, settings: Any) -> RestartPolicy:
        """The policy of ``GRIDWALL_RESTART_*``."""
        return cls(settings.restart_backoff_s, settings.restart_backoff_max_s,
                   settings.restart_max_failures, settings.restart_window_s)

    def recent(self, exits: Sequence[float], now: float) -> list[float]:
        """The exit times within the window ending at ``now``."""
        return [t for t in exits if now - t < self.window_s]

    def after_exit(self, exits: Sequence[float], now: float) -> Verdict:
        """The verdict for a process whose exit times (this one included) are ``exits``."""
        recent = len(self.recent(exits, now))
        if recent >= self.max_failures:
            return Verdict(True, 0.0, recent)
        delay = self.backoff_s * 2.0 ** max(0, recent - 1)
        return Verdict(False, min(self.backoff_max_s, delay), recent)


@dataclass
class Entry:
    """One supervised process as the status file shows it (times: epoch ms)."""

    name: str
    kind: str  # "process" (a GridWall command, child of up) or "server" (Kafka, ClickHouse)
    state: str = PENDING  # not started yet
    pid: int | None = None
    restarts: int = 0
    last_exit_code: int | None = None
    last_exit_ms: int | None = None
    last_restart_ms: int | None = None
    next_restart_ms: int | None = None
    exits: list[float] = field(default_factory=list)  # monotonic times, within the window
    due: float | None = None  # monotonic time of the next restart

    def public(self) -> dict[str, Any]:
        """The fields of the status file (no monotonic times)."""
        out = asdict(self)
        out.pop("exits")
        out.pop("due")
        out["exits_in_window"] = len(self.exits)
        return out


class Book:
    """The state of every supervised process; pure (monotonic and epoch times passed in)."""

    def __init__(self, policy: RestartPolicy, kinds: Sequence[tuple[str, str]]) -> None:
        self.policy = policy
        self.entries = {name: Entry(name, kind) for name, kind in kinds}
        self.version = 0  # bumped on every change

    def _touch(self) -> None:
        self.version += 1

    def starting(self, name: str) -> None:
        """A (re)start of ``name`` began."""
        self.entries[name].state = STARTING
        self.entries[name].pid = None
        self._touch()

    def restarting(self, name: str, wall_ms: int) -> None:
        """``name`` is being started again after an exit."""
        entry = self.entries[name]
        entry.restarts += 1
        entry.last_restart_ms = wall_ms
        entry.due = entry.next_restart_ms = None
        self.starting(name)

    def started(self, name: str, pid: int | None) -> None:
        """``name`` runs (and, if it has a readiness check, answers) as ``pid``."""
        entry = self.entries[name]
        entry.state, entry.pid = RUNNING, pid
        self._touch()

    def stopped(self, name: str, code: int | None, wall_ms: int) -> None:
        """``name`` was stopped on purpose: it is not restarted."""
        entry = self.entries[name]
        entry.state, entry.pid = STOPPED, None
        entry.last_exit_code, entry.last_exit_ms = code, wall_ms
        self._touch()

    def exited(self, name: str, code: int | None, now: float, wall_ms: int) -> Verdict:
        """``name`` exited on its own at ``now``: schedule its restart or give up."""
        entry = self.entries[name]
        entry.exits = self.policy.recent([*entry.exits, now], now)
        verdict = self.policy.after_exit(entry.exits, now)
        entry.pid, entry.last_exit_code, entry.last_exit_ms = None, code, wall_ms
        if verdict.give_up:
            entry.state, entry.due, entry.next_restart_ms = FAILED, None, None
        else:
            entry.state, entry.due = BACKOFF, now + verdict.delay_s
            entry.next_restart_ms = wall_ms + round(verdict.delay_s * 1000)
        self._touch()
        return verdict

    def due(self, now: float) -> list[str]:
        """Names in backoff whose restart time has come."""
        return [e.name for e in self.entries.values()
                if e.state == BACKOFF and e.due is not None and e.due <= now]

    def snapshot(self, state: str, wall_ms: int, gave_up: str | None) -> dict[str, Any]:
        """The status document."""
        return {"supervisor_pid": os.getpid(), "state": state, "updated_ms": wall_ms,
                "gave_up": gave_up, "policy": asdict(self.policy),
                "processes": [e.public() for e in self.entries.values()]}


class Ended(NamedTuple):
    """How a child ended: its exit code (None: unknown), whether on purpose, and why."""

    code: int | None
    on_purpose: bool = False
    reason: str = "exited"


NOT_STARTED = Ended(None, reason="could not be started")


class Child(Protocol):
    """A supervised process (``infra.children`` has the real ones)."""

    name: str
    kind: str

    @property
    def pid(self) -> int | None:
        """The PID of the current run, once known."""

    def adopt(self) -> int | None:
        """The PID of an already running instance to supervise as is, else None."""

    def launch(self) -> None:
        """Start a new run (returns at once)."""

    def poll(self) -> Ended | None:
        """None while the run is starting or running; how it ended otherwise."""

    def ready(self) -> bool:
        """True once the run serves (cheap; called while it is starting)."""


def write_status(path: Path, document: dict[str, Any]) -> None:
    """Write ``document`` as JSON to ``path`` atomically (readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(document, indent=1))
    os.replace(tmp, path)


def _exit_text(code: int | None) -> str:
    if code is None:
        return "an unknown code"
    return f"code {code}" + (f" (signal {-code})" if code < 0 else "")


class Supervisor:
    """Start, watch and restart ``children``; the caller stops them at the end."""

    def __init__(self, children: Sequence[Child], policy: RestartPolicy, status_file: Path,
                 log: Callable[[str], None] = print,
                 clock: Callable[[], float] = time.monotonic,
                 wall_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self.children = list(children)
        self.book = Book(policy, [(c.name, c.kind) for c in self.children])
        self.status_file = status_file
        self.log, self.clock, self.wall_ms = log, clock, wall_ms
        self.state = STARTING
        self.gave_up: str | None = None
        self._written: tuple[int, str] | None = None
        self._written_at = float("-inf")

    def _launch(self, child: Child) -> bool:
        try:
            child.launch()
        except OSError as exc:
            self.log(f"{child.name} could not be started: {exc}")
            return False
        return True

    def start(self, child: Child) -> None:
        """Supervise ``child``: adopt its running instance or launch it."""
        pid = child.adopt()
        if pid is not None:
            self.book.started(child.name, pid)
            self.log(f"supervising {child.name:<10} pid {pid} (already running)")
            return
        self.book.starting(child.name)
        if not self._launch(child):
            self._ended(child, NOT_STARTED)

    def _ended(self, child: Child, ended: Ended) -> bool:
        """Record an end; True if that makes ``up`` give up."""
        now, wall = self.clock(), self.wall_ms()
        if ended.on_purpose:
            self.book.stopped(child.name, ended.code, wall)
            self.log(f"{child.name} {ended.reason}; not restarting it")
            return False
        verdict = self.book.exited(child.name, ended.code, now, wall)
        what = f"{child.name} {ended.reason} with {_exit_text(ended.code)}"
        policy = self.book.policy
        if verdict.give_up:
            self.gave_up = child.name
            self.log(f"{what}: {verdict.recent} failures within {policy.window_s:g} s; "
                     "giving up and stopping the rest")
            return True
        self.log(f"{what}; restarting in {verdict.delay_s:g} s "
                 f"(failure {verdict.recent} of {policy.max_failures} within "
                 f"{policy.window_s:g} s)")
        return False

    def _check(self, child: Child) -> bool:
        """Poll one running or starting child; True if it makes ``up`` give up."""
        entry = self.book.entries[child.name]
        ended = child.poll()
        if ended is not None:
            return self._ended(child, ended)
        if entry.state == STARTING and child.pid is not None and child.ready():
            self.book.started(child.name, child.pid)
            if entry.restarts:
                self.log(f"{child.name} is back, pid {child.pid} (restart {entry.restarts})")
        return False

    def tick(self) -> bool:
        """One pass: notice exits, restart what is due. True if ``up`` must give up."""
        for child in self.children:
            entry = self.book.entries[child.name]
            if entry.state in (STARTING, RUNNING) and self._check(child):
                self.state = FAILED
                self.publish(force=True)
                return True
        now = self.clock()
        for child in self.children:
            if child.name in self.book.due(now):
                self.book.restarting(child.name, self.wall_ms())
                self.log(f"restarting {child.name} "
                         f"(restart {self.book.entries[child.name].restarts})")
                if not self._launch(child) and self._ended(child, NOT_STARTED):
                    self.state = FAILED
                    self.publish(force=True)
                    return True
        self.publish()
        return False

    def publish(self, force: bool = False) -> None:
        """Write the status file if anything changed or the heartbeat is due."""
        now = self.clock()
        key = (self.book.version, self.state)
        if not force and key == self._written and now - self._written_at < HEARTBEAT_S:
            return
        try:
            write_status(self.status_file, self.book.snapshot(self.state, self.wall_ms(),
                                                              self.gave_up))
        except OSError as exc:  # a full disk must not stop the supervision itself
            self.log(f"could not write {self.status_file}: {exc}")
            return
        self._written, self._written_at = key, now

    def finish(self, state: str) -> None:
        """Record the final state (``stopped`` or ``failed``) in the status file."""
        self.state = state
        self.publish(force=True)
