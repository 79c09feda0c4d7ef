"""``gridwall worker``: run the stream jobs (the worker of :mod:`streams.worker`).

Before Faust starts, the worker ensures its topics and applies the whole control topic, so
it starts from the latest live config. Several workers (same topic prefix, hence the same
app id) share the partitions; ``--worker-id`` only names this one (logs, data dir).
"""

from __future__ import annotations

import argparse
import os
import socket
from typing import Any

from core.settings import settings


def register(sub: Any) -> None:
    """Add ``worker`` to ``sub``."""
    worker = sub.add_parser("worker", help="run the stream jobs (Faust worker)")
    worker.add_argument("--worker-id", default=f"{socket.gethostname()}-{os.getpid()}",
                        help="a name for this worker (default: host-pid)")
    worker.add_argument("--loglevel", default="warning", help="Faust log level")
    worker.add_argument("--no-uvloop", action="store_true", help="use asyncio's own loop")
    worker.set_defaults(handler=worker_cmd)


def worker_cmd(args: argparse.Namespace) -> int:
    """Run one worker until it is stopped (SIGINT/SIGTERM)."""
    import faust
    import mode.loop

    from core.logs import configure_logging, logging_config
    from infra.topics import ensure_stream_topics
    from streams.config import LiveConfig
    from streams.worker import build_worker

    # kafka-python (topics, control topic) logs a line per connection; Faust's lines, its
    # "Worker]: Ready" included, come out in the same format (core.logs)
    configure_logging("worker", args.loglevel, quiet=("kafka",))
    s = settings()
    if not args.no_uvloop:
        mode.loop.use("uvloop")
    ensure_stream_topics(s)
    streams = build_worker(s, LiveConfig.from_config_dir(s.config_dir),
                           worker_id=args.worker_id)
    streams.load_control()  # after build_worker: every live config key is registered by then
    worker = faust.Worker(streams.app, loglevel=args.loglevel, quiet=True,
                          override_logging=True,
                          logging_config=logging_config("worker", args.loglevel,
                                                        quiet=("kafka",)))
    worker.execute_from_commandline()
    return 0
