"""The hub: one Kafka feed, many websocket clients, commands back into Kafka.

Lifecycle of :class:`Hub`: :meth:`~Hub.start` replays the topics into the state (see
:mod:`wall.hub.feed`), connects the command producer, then listens; clients connecting
afterwards always get a snapshot at least as new as the topics were at start.
:meth:`~Hub.stop` closes every client with 1001 (going away), stops the feed and flushes
the producer. :meth:`~Hub.wait` returns when the feed task ends (a failure: the process
should exit rather than serve a frozen wall).

``GET /healthz`` answers the hub's figures as JSON (200 while the feed runs and the broker
answers, else 503); ``GET /metrics`` the same figures in the Prometheus text format;
any other plain HTTP request gets websockets' usual 426 Upgrade Required.
"""

from __future__ import annotations

import asyncio
import json
import logging
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from core.auth import TokenBook
from core.prom import prometheus_text
from core.settings import Settings
from wall.hub.config import HubConfig
from wall.hub.fanout import Fanout
from wall.hub.feed import WallFeed
from wall.hub.intake import CommandIntake
from wall.hub.session import serve_client
from wall.hub.state import SnapshotStore
from wall.hub.stats import HubStats

log = logging.getLogger("gridwall.hub")
STALLED_AFTER_S = 15.0


class Hub:
    """A running websocket hub; see the module docstring."""

    def __init__(self, settings: Settings, book: TokenBook,
                 config: HubConfig | None = None) -> None:
        self.settings = settings
        self.book = book
        self.config = config or HubConfig()
        cfg = self.config
        self.stats = HubStats()
        self.store = SnapshotStore(cfg.max_keys_per_channel, cfg.snapshot_frame_items)
        self.fanout = Fanout(self.store, self.stats)
        self.feed = WallFeed(settings, self.fanout.publish, self.stats,
                             replay_per_partition=cfg.replay_per_partition,
                             max_records=cfg.poll_max_records,
                             fetch_max_wait_ms=cfg.fetch_max_wait_ms)
        self.intake = CommandIntake(settings, self.stats, self.store.grid_of)
        self._server: Server | None = None
        self._feed_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Replay, connect the producer, listen. Raises if Kafka or the port is unavailable."""
        cfg = self.config
        replayed = await self.feed.start()
        try:
            await self.intake.start()
            self._server = await serve(
                self._handle, cfg.host or self.settings.hub_host,
                self.settings.hub_port if cfg.port is None else cfg.port,
                process_request=self._http, ping_interval=cfg.ping_interval_s,
                ping_timeout=cfg.ping_timeout_s, close_timeout=cfg.close_timeout_s,
                max_size=cfg.max_message_bytes, write_limit=cfg.write_limit,
                compression="deflate" if cfg.compression else None)
        except BaseException:
            await self.feed.stop()
            await self.intake.close()
            raise
        self._feed_task = asyncio.create_task(self.feed.run(), name="hub-feed")
        log.info("hub listening on %s (replayed %d records; keys %s)", self.url, replayed,
                 self.store.counts())

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        if self._server is None:
            raise RuntimeError("the hub is not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        """``ws://host:port/`` of this hub."""
        host = self.config.host or self.settings.hub_host
        return f"ws://{host}:{self.port}/"

    async def wait(self) -> None:
        """Return when the feed task ends (it only ends by failing or by :meth:`stop`)."""
        if self._feed_task is not None:
            await asyncio.gather(self._feed_task, return_exceptions=True)

    async def stop(self) -> None:
        """Close clients with 1001, stop the feed, flush the producer (idempotent)."""
        server, self._server = self._server, None
        if server is not None:
            server.close(close_connections=True)
            await server.wait_closed()
        task, self._feed_task = self._feed_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self.feed.stop()
        await self.intake.close()

    async def __aenter__(self) -> Hub:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def figures(self) -> dict[str, Any]:
        """The hub's own figures (clients, records in, messages out, drops, lag, ...).

        ``feed`` is ``failed`` when the feed task ended and ``stalled`` when the broker has
        not answered a fetch for :data:`STALLED_AFTER_S` seconds.
        """
        state = self.feed.state
        age = self.feed.fetch_age_s()
        if state == "running" and self._feed_task is not None and self._feed_task.done():
            state = "failed"
        elif state == "running" and age is not None and age > STALLED_AFTER_S:
            state = "stalled"
        figures = self.stats.figures(self.fanout.clients, self.store.counts(),
                                     await self.feed.lag(), state)
        figures["kafka_fetch_age_s"] = age
        return figures

    async def _handle(self, ws: ServerConnection) -> None:
        await serve_client(ws, self)

    async def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path not in ("/healthz", "/metrics"):
            return None
        figures = await self.figures()
        if path == "/metrics":
            response = connection.respond(HTTPStatus.OK, prometheus_text("gridwall_hub", figures))
            del response.headers["Content-Type"]
            response.headers["Content-Type"] = "text/plain; version=0.0.4"
            return response
        status = HTTPStatus.OK if figures["feed"] == "running" else HTTPStatus.SERVICE_UNAVAILABLE
        response = connection.respond(status, json.dumps(figures, ensure_ascii=False) + "\n")
        del response.headers["Content-Type"]  # Headers is a multi-dict: replace, not add
        response.headers["Content-Type"] = "application/json"
        return response
