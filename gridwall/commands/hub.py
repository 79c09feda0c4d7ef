"""``gridwall hub``: run the websocket hub until Ctrl-C/SIGTERM (or until its feed fails)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    """Add ``hub`` to ``sub``."""
    hub = sub.add_parser("hub", help="the websocket hub: live wall updates to clients, "
                                     "commands back into Kafka")
    hub.add_argument("--host", help="listen address (default: GRIDWALL_HUB_HOST)")
    hub.add_argument("--port", type=int, help="listen port (default: GRIDWALL_HUB_PORT)")
    hub.add_argument("--client-queue", type=int, default=4096, metavar="N",
                     help="delta items waiting per client before it is resynced")
    hub.add_argument("--replay-per-partition", type=int, default=50_000, metavar="N",
                     help="records per partition replayed on start to rebuild the state")
    hub.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    hub.set_defaults(handler=hub_cmd)


def hub_cmd(args: argparse.Namespace) -> int:
    """Run the hub; exit 0 on Ctrl-C/SIGTERM, 1 if it cannot start or its feed fails."""
    import asyncio

    from core.auth import TokenBook, TokensFileError
    from core.logs import configure_logging
    from core.settings import settings
    from wall.hub import HubConfig
    from wall.hub.feed import FeedError

    # kafka, aiokafka, websockets: per-connection and per-fetch lines
    configure_logging("hub", args.log_level, quiet=("kafka", "aiokafka", "websockets"))
    s = settings()
    try:
        book = TokenBook.load(s.resolved_tokens_file)
        config = HubConfig.from_settings(s, host=args.host, port=args.port,
                                         client_queue=args.client_queue,
                                         replay_per_partition=args.replay_per_partition)
    except TokensFileError as exc:
        print(f"gridwall hub: {exc}; `gridwall up` creates a dev one, or set "
              "GRIDWALL_TOKENS_FILE", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"gridwall hub: {exc}", file=sys.stderr)
        return 2
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        return int(runner(_serve(s, book, config)))
    except (FeedError, OSError) as exc:
        print(f"gridwall hub: {exc}", file=sys.stderr)
        return 1


async def _serve(s: Any, book: Any, config: Any) -> int:
    import asyncio
    import signal

    from wall.hub import Hub

    hub = Hub(s, book, config)
    await hub.start()
    print(f"hub listening on {hub.url} (health: http://{hub.url[5:]}healthz)", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    feed_ended = asyncio.create_task(hub.wait())
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({feed_ended, stopped}, return_when=asyncio.FIRST_COMPLETED)
    failed = feed_ended.done()
    for task in (feed_ended, stopped):
        task.cancel()
    await hub.stop()
    if failed:
        print("gridwall hub: the Kafka feed stopped; exiting", file=sys.stderr)
    return 1 if failed else 0
