"""A minimal hub client: what a screen does, for tests, the benchmark and Python screens.

:class:`WallView` applies hub messages to a local copy of the channels with the protocol's
semantics (part 1 of a snapshot replaces the channel, later parts and deltas update keys).
:class:`HubClient` connects, authenticates with the first-message form, and returns decoded
messages; requests with a ``ref`` are answered by ``ack``/``error`` carrying the same ref.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from domain.schemas import WallUpdate
from domain.wire import encode
from wall.hub.protocol import (
    AckMsg,
    DeltasMsg,
    ErrorMsg,
    HubMessage,
    SnapshotMsg,
    WelcomeMsg,
    decode_hub,
)


class WallView:
    """The latest item per (channel, key) as a client sees it."""

    def __init__(self) -> None:
        self.channels: dict[str, dict[str, WallUpdate]] = {}
        self.resyncs = 0

    def apply(self, msg: HubMessage) -> None:
        """Apply a snapshot or deltas message; other messages change nothing."""
        if isinstance(msg, SnapshotMsg):
            if msg.part == 1:
                self.channels[msg.channel] = {}
                self.resyncs += msg.reason == "resync"
            held = self.channels.setdefault(msg.channel, {})
            for item in msg.items:
                held[item.key] = item
        elif isinstance(msg, DeltasMsg):
            for item in msg.items:
                self.channels.setdefault(item.channel, {})[item.key] = item


class HubClient:
    """One connection to the hub (use ``async with``)."""

    def __init__(self, url: str, token: str | None, **connect_kwargs: Any) -> None:
        self.url = url
        self.token = token
        self.connect_kwargs = {"max_size": None, **connect_kwargs}
        self.view = WallView()
        self.welcome: WelcomeMsg | None = None
        self._refs = itertools.count(1)
        self._ws: ClientConnection | None = None

    @property
    def ws(self) -> ClientConnection:
        """The open websocket connection."""
        if self._ws is None:
            raise RuntimeError("not connected")
        return self._ws

    async def __aenter__(self) -> HubClient:
        self._ws = await connect(self.url, **self.connect_kwargs)
        if self.token is not None:
            await self.send({"type": "auth", "token": self.token})
            first = await self.recv()
            if not isinstance(first, WelcomeMsg):
                raise RuntimeError(f"expected welcome, got {first!r}")
            self.welcome = first
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.ws.close()

    async def send(self, message: dict[str, Any]) -> None:
        """Send one message (a plain dict with a ``type``)."""
        await self.ws.send(encode(message), text=True)

    async def recv(self, timeout_s: float = 10.0) -> HubMessage:
        """The next message, applied to :attr:`view`."""
        msg = decode_hub(await asyncio.wait_for(self.ws.recv(), timeout_s))
        self.view.apply(msg)
        return msg

    async def subscribe(self, channels: Iterable[str]) -> None:
        """Subscribe; the ``subscribed`` reply and the snapshots arrive through :meth:`recv`."""
        await self.send({"type": "subscribe", "channels": list(channels)})

    async def request(self, message: dict[str, Any], timeout_s: float = 15.0) -> HubMessage:
        """Send a request with a fresh ``ref``; return its reply (other messages are applied)."""
        ref = f"r{next(self._refs)}"
        await self.send({**message, "ref": ref})
        async with asyncio.timeout(timeout_s):
            while True:
                msg = await self.recv(timeout_s)
                if getattr(msg, "ref", None) == ref:
                    return msg

    async def command(self, kind: str, **fields: Any) -> AckMsg | ErrorMsg:
        """Send a duty command; return the ``ack`` or ``error``."""
        reply = await self.request({"type": "command", "kind": kind, **fields})
        if not isinstance(reply, AckMsg | ErrorMsg):
            raise RuntimeError(f"expected ack or error, got {reply!r}")
        return reply
