"""``gridwall wall [--host --port --hub-url]``: the big screen, duty and ops consoles.

Serves ``/wall``, ``/duty`` and ``/ops`` (defaults from ``GRIDWALL_WALL_HOST`` /
``GRIDWALL_WALL_PORT``); see :mod:`wall.app.server`.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any


def register(sub: Any) -> None:
    """Add ``wall`` to ``sub``."""
    parser = sub.add_parser("wall", help="serve the command wall (/wall, /duty, /ops)")
    parser.add_argument("--host", default=None, help="address to listen on "
                                                     "(default: GRIDWALL_WALL_HOST)")
    parser.add_argument("--port", type=int, default=None,
                        help="port (default: GRIDWALL_WALL_PORT)")
    parser.add_argument("--hub-url", default=None,
                        help="hub websocket URL (default: GRIDWALL_HUB_URL, else "
                             "ws://HUB_HOST:HUB_PORT/)")
    parser.set_defaults(handler=wall_cmd)


def wall_cmd(args: argparse.Namespace) -> int:
    """Run the wall server until interrupted."""
    from core.logs import configure_logging
    from core.settings import settings
    from wall.app.server import run

    configure_logging("wall", logging.INFO, quiet=("tornado.access",))  # a line per request
    cfg = settings()
    return run(cfg, args.host or cfg.wall_host, args.port or cfg.wall_port,
               args.hub_url or cfg.resolved_hub_url)
