"""``gridwall worker``: run the stream jobs (the worker of :mod:`streams.worker`).

Before Faust starts, the worker ensures its topics and applies the whole control topic, so
it starts from the latest live config. Several workers (same topic prefix, hence the same
app id) share the partitions; ``--worker-id`` only names this one (logs, data dir).

A worker is two processes: ``--role workflow`` (the default) runs every job but the
sensors job, and starts ``--role sensors`` as its child (:mod:`streams.child`: it stops
with the worker and dies with it), named ``<worker id>-sensors`` in job health. ``--role
all`` runs every job in one process.
"""

from __future__ import annotations

import argparse
import os
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from core.settings import settings

if TYPE_CHECKING:
    from streams.child import ChildProcess


def register(sub: Any) -> None:
    """Add ``worker`` to ``sub``."""
    worker = sub.add_parser("worker", help="run the stream jobs (Faust worker)")
    worker.add_argument("--worker-id", default=f"{socket.gethostname()}-{os.getpid()}",
                        help="a name for this worker (default: host-pid)")
    worker.add_argument("--loglevel", default="warning", help="Faust log level")
    worker.add_argument("--no-uvloop", action="store_true", help="use asyncio's own loop")
    worker.add_argument("--role", choices=("workflow", "sensors", "all"), default="workflow",
                        help="workflow: every job but the sensors job, which runs in a child "
                             "process (default); all: every job in this process; sensors: "
                             "that child (started by the workflow role)")
    worker.add_argument("--parent-pid", type=int, default=0, help=argparse.SUPPRESS)
    worker.add_argument("--ready-fd", type=int, default=-1, help=argparse.SUPPRESS)
    worker.set_defaults(handler=worker_cmd)


def worker_cmd(args: argparse.Namespace) -> int:
    """Run one worker until it is stopped (SIGINT/SIGTERM)."""
    import mode.loop

    from core.logs import configure_logging, logging_config
    from infra.topics import ensure_stream_topics
    from streams.child import ReadyWorker, announce_ready, die_with_parent
    from streams.config import LiveConfig
    from streams.runner import add_service
    from streams.worker import build_worker

    if args.parent_pid:
        die_with_parent(args.parent_pid)

    # kafka-python (topics, control topic) logs a line per connection; Faust's lines, its
    # "Worker]: Ready" included, come out in the same format (core.logs)
    configure_logging("worker", args.loglevel, quiet=("kafka",))
    s = settings()
    if not args.no_uvloop:
        mode.loop.use("uvloop")
    ensure_stream_topics(s)
    streams = build_worker(s, LiveConfig.from_config_dir(s.config_dir),
                           worker_id=args.worker_id, role=args.role)
    before_ready: list[Callable[[], Awaitable[None]]] = []
    if args.role == "workflow":  # "Ready" once the sensors process is
        child = sensors_process(args)
        add_service(streams.app, "SensorsProcess", child.run)
        before_ready.append(child.wait_ready)
    if args.ready_fd >= 0:
        before_ready.append(announce_ready(args.ready_fd))
    streams.load_control()  # after build_worker: every live config key is registered by then
    worker = ReadyWorker(streams.app, loglevel=args.loglevel, quiet=True,
                         override_logging=True,
                         logging_config=logging_config("worker", args.loglevel,
                                                       quiet=("kafka",)),
                         before_ready=before_ready)
    worker.execute_from_commandline()
    return 0


def sensors_process(args: argparse.Namespace) -> ChildProcess:
    """The workflow worker's child running its sensors job (:mod:`streams.child`).

    Its Faust log level is at least ``warning``: its own "Ready" line would otherwise tell
    whoever waits for the worker's that the worker is ready.
    """
    import logging
    import sys

    from streams.child import ChildProcess

    level = max(logging.getLevelName(args.loglevel.upper()), logging.WARNING)
    return ChildProcess("sensors", [
        sys.executable, "-m", "gridwall.cli", "worker", "--role", "sensors",
        "--worker-id", f"{args.worker_id}-sensors", "--parent-pid", str(os.getpid()),
        "--loglevel", logging.getLevelName(level).lower(),
        *(["--no-uvloop"] if args.no_uvloop else [])])
