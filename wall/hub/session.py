"""One client connection: authenticate, then read requests while a writer drains the outbox.

Authentication (:func:`authenticate`): the token comes from the handshake (``?token=`` in
the URL or ``Authorization: Bearer``), else from the first message ``{"type": "auth",
"token": ...}`` within ``auth_timeout_s`` (browsers cannot set headers). No token in time,
a first message that is not ``auth``, or an unknown token close with 4001; a role without
``view`` closes with 4003.

After that the connection survives any bad input: each invalid request gets an ``error``
reply naming the field, a frame too deep or too large to decode one naming the limit
(``frame too deep (limit 32)``), a request over the connection's rate limits
(:mod:`wall.hub.limits`) a ``rate_limited`` one (``rate limited: commands, retry in 180 ms``)
and nothing else happens for it. Only a client that stops reading its replies is closed
(1008). Before authentication a frame that is not a valid ``auth`` closes with 4001 and
the reason.
Frames leave in outbox order: a direct synchronous write while the socket keeps up
(:class:`SocketWriter`, used by :meth:`~wall.hub.outbox.Outbox.pump`), else the writer task,
which awaits the socket's backpressure; the outbox never lets both hold frames at once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, broadcast
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from core.auth import PERMISSIONS, Principal, TokenBook
from domain.wire import BoundsError, WireError
from wall.hub.commands import Rejected, stamped_actor
from wall.hub.config import HubConfig
from wall.hub.fanout import Fanout
from wall.hub.intake import CommandIntake
from wall.hub.limits import ClientLimits, rate_limited_reason
from wall.hub.outbox import Outbox, RepliesOverflow
from wall.hub.protocol import (
    CHANNELS,
    AuthMsg,
    ClientMessage,
    CloseCode,
    CommandMsg,
    HealthMsg,
    HealthReplyMsg,
    SubscribedMsg,
    SubscribeMsg,
    TuneMsg,
    UnsubscribeMsg,
    WelcomeMsg,
    decode_client,
    error_frame,
    frame,
    ref_of,
)
from wall.hub.stats import HubStats

log = logging.getLogger("gridwall.hub.session")


class HubServices(Protocol):
    """What a session needs from the hub."""

    config: HubConfig
    book: TokenBook
    stats: HubStats
    fanout: Fanout
    intake: CommandIntake

    async def figures(self) -> dict[str, Any]:
        """The hub's figures."""
        ...


def token_from_handshake(connection: ServerConnection) -> str | None:
    """The token in ``?token=`` or ``Authorization: Bearer``, if the client sent one."""
    request = connection.request
    if request is None:
        return None
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    values = parse_qs(urlsplit(request.path).query).get("token")
    return values[0] if values else None


async def _refuse(ws: ServerConnection, code: CloseCode, reason: str) -> None:
    await ws.close(int(code), reason[:120])


async def authenticate(ws: ServerConnection, book: TokenBook, timeout_s: float,
                       max_frame_bytes: int | None = None) -> Principal | None:
    """Who the client is, or None after closing the connection with 4001/4003."""
    token = token_from_handshake(ws)
    if token is None:
        try:
            raw = await asyncio.wait_for(ws.recv(), timeout_s)
        except TimeoutError:
            await _refuse(ws, CloseCode.UNAUTHENTICATED, "no auth message in time")
            return None
        try:
            first: ClientMessage | None = decode_client(raw, max_frame_bytes)
        except WireError as exc:
            await _refuse(ws, CloseCode.UNAUTHENTICATED, f"not an auth message: {exc}")
            return None
        if not isinstance(first, AuthMsg):
            await _refuse(ws, CloseCode.UNAUTHENTICATED,
                          'first message must be {"type": "auth", "token": ...}')
            return None
        token = first.token
    who = book.check(token)
    if who is None:
        await _refuse(ws, CloseCode.UNAUTHENTICATED, "unknown token")
        return None
    if not who.may("view"):
        await _refuse(ws, CloseCode.FORBIDDEN, f"role '{who.role}' may not view the wall")
        return None
    return who


def _welcome_actor(who: Principal) -> str:
    """Who the welcome names: whom the client's commands are stamped as (else the name)."""
    try:
        return stamped_actor(who)
    except Rejected:  # an acts_for token: its commands are refused, it is still welcome
        return who.name


async def serve_client(ws: ServerConnection, hub: HubServices) -> None:
    """Run one connection to its end (the websockets handler)."""
    hub.stats.connections += 1
    try:
        who = await authenticate(ws, hub.book, hub.config.auth_timeout_s,
                                 hub.config.max_frame_bytes)
    except ConnectionClosed:
        who = None
    if who is None:
        hub.stats.auth_failures += 1
        return
    cfg = hub.config
    outbox = Outbox(hub.fanout.store.snapshot_frames, limit=cfg.client_queue,
                    reply_limit=cfg.reply_limit, frame_items=cfg.frame_items)
    outbox.direct = SocketWriter(ws, cfg.write_limit)
    hub.fanout.attach(outbox)
    outbox.reply(frame(WelcomeMsg(actor=_welcome_actor(who), role=who.role,
                                  permissions=sorted(PERMISSIONS[who.role]),
                                  channels=list(CHANNELS), heartbeat_s=cfg.ping_interval_s)))
    limits = ClientLimits.of(cfg.commands_per_s, cfg.command_burst, cfg.subscribes_per_s,
                             cfg.subscribe_burst, cfg.resubscribe_window_s)
    writer = asyncio.create_task(_write(ws, outbox), name="hub-writer")
    try:
        await _read(ws, Client(who, outbox, limits), hub)
    except RepliesOverflow as exc:
        await _refuse(ws, CloseCode.POLICY_VIOLATION, str(exc))
    except ConnectionClosed:
        pass
    finally:
        outbox.close()
        hub.fanout.detach(outbox)
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)


class SocketWriter:
    """The outbox's direct path: a synchronous write while the socket buffer has room."""

    def __init__(self, ws: ServerConnection, high_water: int) -> None:
        self.ws = ws
        self.high_water = high_water

    def can_write(self) -> bool:
        """True while the connection is open and its write buffer is below the mark."""
        return (self.ws.state is State.OPEN
                and self.ws.transport.get_write_buffer_size() < self.high_water)

    def write(self, data: bytes) -> None:
        """Write one text frame now (``broadcast`` skips a connection that is closing)."""
        broadcast((self.ws,), data, text=True)


async def _write(ws: ServerConnection, outbox: Outbox) -> None:
    """The backpressured path: what :meth:`Outbox.pump` could not write at once."""
    try:
        while not outbox.closed:
            await outbox.wait()
            frames = outbox.take()
            outbox.sending = True
            for data in frames:
                await ws.send(data, text=True)
            outbox.sending = False
    except ConnectionClosed:
        pass
    except Exception:
        log.exception("writer failed")
        await _refuse(ws, CloseCode.INTERNAL_ERROR, "internal error")


@dataclass(frozen=True)
class Client:
    """One authenticated connection: who, its outbox, its limits."""

    who: Principal
    outbox: Outbox
    limits: ClientLimits


async def _read(ws: ServerConnection, client: Client, hub: HubServices) -> None:
    outbox = client.outbox
    async for raw in ws:
        try:
            msg = decode_client(raw, hub.config.max_frame_bytes)
        except BoundsError as exc:  # not decoded at all, not even for its ref
            hub.stats.frames_refused += 1
            outbox.reply(error_frame(None, "bad_request", exc.field, exc.reason))
        except WireError as exc:
            outbox.reply(error_frame(ref_of(raw), "bad_request", exc.field, exc.reason))
        else:
            outbox.reply(await _answer(msg, client, hub))
        outbox.pump()


def _limited(client: Client, hub: HubServices, ref: str | None, bucket: str,
             cost: int = 1) -> bytes | None:
    """The ``rate_limited`` error if ``bucket`` cannot give ``cost`` now, else None."""
    wait_ms = client.limits.take(bucket, cost)
    if not wait_ms:
        return None
    hub.stats.rate_limited += 1
    return error_frame(ref, "rate_limited", None, rate_limited_reason(bucket, wait_ms),
                       retry_ms=wait_ms)


def _subscribe(msg: SubscribeMsg, client: Client, hub: HubServices) -> bytes:
    """Subscribe what is due a snapshot (paid from the subscribes bucket); see the module
    docstring of :mod:`wall.hub.limits` for a repeat within the window."""
    due = client.limits.snapshots_due(list(msg.channels), client.outbox.channels)
    if due:
        refused = _limited(client, hub, msg.ref, "subscribes", len(due))
        if refused is not None:
            return refused
        hub.fanout.subscribe(client.outbox, due)
        client.limits.snapshots_sent(due)
    return frame(SubscribedMsg(channels=list(client.outbox.channels), ref=msg.ref))


async def _answer(msg: ClientMessage, client: Client, hub: HubServices) -> bytes:
    """The reply frame to one valid request."""
    if isinstance(msg, SubscribeMsg):
        return _subscribe(msg, client, hub)
    if isinstance(msg, UnsubscribeMsg):
        hub.fanout.unsubscribe(client.outbox, msg.channels)
        return frame(SubscribedMsg(channels=list(client.outbox.channels), ref=msg.ref))
    if isinstance(msg, CommandMsg | TuneMsg):
        refused = _limited(client, hub, msg.ref, "commands")
        if refused is not None:
            return refused
        if isinstance(msg, CommandMsg):
            return await hub.intake.command(msg, client.who)
        return await hub.intake.tune(msg, client.who)
    if isinstance(msg, HealthMsg):
        return frame(HealthReplyMsg(ref=msg.ref, figures=await hub.figures()))
    return error_frame(msg.ref, "bad_request", "type", "already authenticated")
