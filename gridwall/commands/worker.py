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
import gc
import logging
import os
import socket
from typing import TYPE_CHECKING, Any

from core.settings import settings

if TYPE_CHECKING:
    from streams.child import ChildProcess

log = logging.getLogger(__name__)


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
    from streams.child import ChildExited, ReadyWorker, announce_ready, die_with_parent
    from streams.config import LiveConfig
    from streams.runner import add_service
    from streams.worker import build_worker

    if args.parent_pid:
        die_with_parent(args.parent_pid)

    # kafka-python (topics, control topic) logs a line per connection; Faust's lines, its
    # "Worker]: Ready" included, come out in the same format (core.logs). The sensors
    # process logs as "worker-sensors", without Faust's start-up lines: its "Ready" would
    # tell whoever waits for the worker's (which follows it) that the worker is ready.
    process = "worker-sensors" if args.role == "sensors" else "worker"
    levels = {"faust.worker": "WARNING"} if args.role == "sensors" else None
    configure_logging(process, args.loglevel, quiet=("kafka",))
    s = settings()
    if not args.no_uvloop:
        mode.loop.use("uvloop")
    if not args.parent_pid:  # a sensors process's parent ensured them just before
        ensure_stream_topics(s)
    streams = build_worker(s, LiveConfig.from_config_dir(s.config_dir),
                           worker_id=args.worker_id, role=args.role)
    if args.role == "workflow":  # the sensors process first: nothing runs before it is ready
        child = sensors_process(args)
        try:
            child.start()
        except ChildExited as exc:
            log.error("%s", exc)
            return 1
        add_service(streams.app, "SensorsProcess", child.run)
    streams.load_control()  # after build_worker: every live config key is registered by then
    # Everything built so far (the geography, the jobs, Faust's app) lives as long as the
    # worker: out of the cyclic GC's full collections, which scanned it every few seconds at
    # city scale (docs/metrics.md: the longest pause 553 -> 356 ms in the sensors process,
    # 311 -> 92 ms in the workflow's).
    gc.freeze()
    worker = ReadyWorker(streams.app, loglevel=args.loglevel, quiet=True,
                         override_logging=True,
                         logging_config=logging_config(process, args.loglevel,
                                                       quiet=("kafka",), levels=levels),
                         on_ready=announce_ready(args.ready_fd) if args.ready_fd >= 0
                         else None)
    worker.execute_from_commandline()
    return 0


def sensors_process(args: argparse.Namespace) -> ChildProcess:
    """The workflow worker's child running its sensors job (:mod:`streams.child`)."""
    import sys

    from streams.child import ChildProcess

    return ChildProcess("sensors", [
        sys.executable, "-m", "gridwall.cli", "worker", "--role", "sensors",
        "--worker-id", f"{args.worker_id}-sensors", "--parent-pid", str(os.getpid()),
        "--loglevel", args.loglevel, *(["--no-uvloop"] if args.no_uvloop else [])])
