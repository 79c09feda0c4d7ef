"""The wall server's one connection to the hub, and one-shot command connections.

:class:`HubFeed` (one per wall server, however many pages are open) authenticates with the
server's viewer token, subscribes to every channel, and applies each snapshot and deltas
frame to the shared :class:`~wall.app.store.WallStore` (and case steps to the
:class:`~wall.app.history.CaseHistory`). Guarantees: it never gives up — any failure
(hub down, refused token, broken frame, closed socket) sets :attr:`HubFeed.link` to
``down`` and it reconnects with capped exponential backoff; on reconnect the hub's
snapshot brings the store up to date. A frame is bounded before it is decoded
(:func:`~wall.hub.protocol.decode_hub`: nesting; :data:`MAX_FRAME_BYTES`: size), so a
hostile frame is one more failure of that kind, never a crash of the feed task.
:attr:`~HubFeed.link` is ``up`` only between a ``welcome`` and the loss of that connection,
so the pages' banner never claims a live feed that is not there.

:func:`send_request` sends one duty command or tune *with the acting user's own token*, so
the hub stamps the real actor; it returns a :class:`Reply` and never raises.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from domain.wire import encode
from wall.app.freshness import Link
from wall.app.history import CaseHistory
from wall.app.store import CHANNELS, WallStore
from wall.hub.client import HubClient
from wall.hub.protocol import AckMsg, DeltasMsg, ErrorMsg, SnapshotMsg, WelcomeMsg, decode_hub

log = logging.getLogger("gridwall.wall.feed")
MAX_FRAME_BYTES = 64 * 1024 * 1024  # a snapshot part holds at most 500 items
FEED_ERRORS = (OSError, ConnectionClosed, InvalidHandshake, InvalidURI, TimeoutError,
               msgspec.MsgspecError, RuntimeError)


def wall_clock_ms() -> int:
    """The wall's own clock, epoch ms."""
    return int(time.time() * 1000)


class HubFeed:
    """The server-wide hub subscription; see the module docstring."""

    def __init__(self, url: str, token: str | None, store: WallStore, history: CaseHistory,
                 clock: Callable[[], int] = wall_clock_ms, min_backoff_s: float = 0.5,
                 max_backoff_s: float = 5.0, open_timeout_s: float = 5.0) -> None:
        self.url = url
        self.token = token
        self.store = store
        self.history = history
        self.clock = clock
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self.open_timeout_s = open_timeout_s
        self.link: Link = "connecting"
        self.connects = 0
        self.failures = 0
        self.frames = 0
        self.last_error = ""

    async def run(self) -> None:
        """Connect, consume, reconnect; runs until cancelled."""
        delay = self.min_backoff_s
        while True:
            self.link = "connecting"
            try:
                await self._session()
                self.last_error = "connection closed"
            except FEED_ERRORS as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
            if self.link == "up" or not self.failures:
                log.warning("hub feed down (%s); reconnecting", self.last_error)
            self.link = "down"
            self.failures += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_backoff_s)
            if self.frames:
                delay, self.frames = self.min_backoff_s, 0

    async def _session(self) -> None:
        async with connect(self.url, max_size=MAX_FRAME_BYTES, open_timeout=self.open_timeout_s,
                           ping_interval=20, ping_timeout=20, close_timeout=2) as ws:
            await ws.send(encode({"type": "auth", "token": self.token or ""}), text=True)
            first = decode_hub(await asyncio.wait_for(ws.recv(), self.open_timeout_s))
            if not isinstance(first, WelcomeMsg):
                raise RuntimeError(f"hub did not welcome us: {first!r}")
            await ws.send(encode({"type": "subscribe", "channels": list(CHANNELS)}), text=True)
            self.link = "up"
            self.connects += 1
            log.info("hub feed up as %s (%s)", first.actor, first.role)
            async for raw in ws:
                self.handle(decode_hub(raw))

    def handle(self, msg: Any) -> None:
        """Apply one decoded hub message to the store (other message types are ignored)."""
        if not isinstance(msg, SnapshotMsg | DeltasMsg):
            return
        now = self.clock()
        self.frames += 1
        self.store.touch(now)
        for item in msg.items:
            if self.store.apply(item, now) and item.channel == "cases":
                self.history.observe(item.key, item.data)


@dataclass(frozen=True)
class Reply:
    """The hub's answer to one request: ok, and the command id or the reason."""

    ok: bool
    text: str


async def send_request(url: str, token: str, message: dict[str, Any],
                       timeout_s: float = 10.0) -> Reply:
    """Send one ``command``/``tune`` with ``token``'s identity; see the module docstring."""
    try:
        async with asyncio.timeout(timeout_s), HubClient(url, token, open_timeout=5) as client:
            reply = await client.request(message, timeout_s)
    except FEED_ERRORS as exc:
        return Reply(False, f"hub unavailable: {type(exc).__name__}: {exc}")
    if isinstance(reply, AckMsg):
        return Reply(True, reply.command_id)
    if isinstance(reply, ErrorMsg):
        where = f"{reply.field}: " if reply.field else ""
        return Reply(False, f"{reply.code}: {where}{reply.reason}")
    return Reply(False, f"unexpected reply {type(reply).__name__}")
