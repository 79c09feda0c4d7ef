"""``gridwall gateway``: run the HTTP gateway under uvicorn (uvloop and httptools if present).

It runs with the limits of :func:`ingest.gateway.server.server_options` (request-header
timeout, keep-alive, connection cap, head size; settings ``GRIDWALL_GATEWAY_*``). Each worker
process builds its own app (its own producer, dedup window and metrics) through
:func:`app_from_environment`; ``--per-request-produce`` is the naive produce path, kept for
the benchmark's baseline.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import sys
from typing import Any

from core.settings import settings

PRODUCE_MODE_ENV = "GW_GATEWAY_PRODUCE"  # not GRIDWALL_*: settings reject unknown names


def register(sub: Any) -> None:
    """Add ``gateway`` to ``sub``."""
    gw = sub.add_parser("gateway", help="run the HTTP gateway: apps, sensors, departments, "
                                        "Open311 (OpenAPI at /openapi.json)")
    gw.add_argument("--host", help="listen address (default GRIDWALL_GATEWAY_HOST)")
    gw.add_argument("--port", type=int, help="listen port (default GRIDWALL_GATEWAY_PORT)")
    gw.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    gw.add_argument("--per-request-produce", action="store_true",
                    help="one Kafka round trip per request instead of group commit "
                         "(slower; the benchmark's baseline)")
    gw.add_argument("--log-level", default="warning", help="uvicorn log level")
    gw.set_defaults(handler=gateway_cmd)


def app_from_environment() -> Any:
    """The app of one worker, configured by settings and :data:`PRODUCE_MODE_ENV`."""
    from ingest.gateway.app import create_app

    return create_app(group_commit=os.environ.get(PRODUCE_MODE_ENV) != "direct")


def _fastest(module: str, name: str) -> str:
    return name if importlib.util.find_spec(module) else "auto"


def _already_handled(_signum: int, _frame: object) -> None:
    """Uvicorn's re-raised stop signal, after its own graceful shutdown: nothing to do."""


def gateway_cmd(args: argparse.Namespace) -> int:
    """Serve until interrupted; exit 2 with the reason if the tokens file is missing."""
    import uvicorn

    from core.logs import logging_config
    from ingest.gateway.server import server_options

    s = settings()
    tokens = s.resolved_tokens_file
    if not tokens.exists():
        print(f"gridwall gateway: no tokens file at {tokens}; `gridwall up` creates a dev one, "
              "or set GRIDWALL_TOKENS_FILE", file=sys.stderr)
        return 2
    os.environ[PRODUCE_MODE_ENV] = "direct" if args.per_request_produce else "group"
    host, port = args.host or s.gateway_host, args.port or s.gateway_port
    print(f"gateway on http://{host}:{port} (OpenAPI at /openapi.json, tokens {tokens})",
          flush=True)
    # uvicorn shuts down gracefully on SIGINT/SIGTERM and then raises the signal again for
    # the previous handler; asyncio's default SIGINT handler would turn that into a
    # KeyboardInterrupt traceback after a clean stop (and SIGTERM's default would make the
    # exit status 143), so the previous handlers are no-ops: a stop exits 0.
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, _already_handled)
    # uvicorn's own lines (access lines with GRIDWALL_GATEWAY_ACCESS_LOG) in core.logs' format
    access = {"uvicorn.access": "info"} if s.gateway_access_log else {}
    uvicorn.run("gridwall.commands.gateway:app_from_environment", factory=True, host=host,
                port=port, workers=max(1, args.workers), loop=_fastest("uvloop", "uvloop"),
                log_config=logging_config("gateway", args.log_level, quiet=("kafka",),
                                          levels=access),
                log_level=None, access_log=s.gateway_access_log, **server_options(s))
    return 0
