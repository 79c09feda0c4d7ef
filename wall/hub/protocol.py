"""The messages between a wall client and the hub, as msgspec Structs.

Every message is one JSON object in one websocket text frame, with a ``type`` field naming
it. :func:`decode_client` turns a client's frame into one of :data:`ClientMessage` or raises
:class:`~domain.wire.WireError` naming the field and the problem; it never raises anything
else, and refuses a frame nested deeper than :data:`~domain.wire.MAX_DEPTH` or larger than
its ``max_bytes`` before decoding it (``frame too deep (limit 32)``). The hub's own
messages are encoded by the ``*_frame`` helpers here; ``snapshot`` and
``deltas`` frames are assembled from pre-encoded items (see :func:`deltas_frame`) so that
one update is encoded once however many clients receive it. :func:`decode_hub` decodes
every hub message (clients, tests and the benchmark use it), refusing a frame nested deeper
than :data:`HUB_FRAME_DEPTH`. ``docs/hub-protocol.md``
describes each message with an example.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from msgspec import Meta

from domain.contracts.channels import CHANNEL_NAMES
from domain.contracts.commands import COMMAND_KINDS as CONTRACT_COMMAND_KINDS
from domain.schemas import GridId, Id, WallUpdate
from domain.wire import MAX_DEPTH, WireError, check_bounds, decode_bounded, encode

# The channels and command kinds of domain.contracts (one spec each); for mypy plain str.
CHANNELS: tuple[str, ...] = CHANNEL_NAMES
COMMAND_KINDS: tuple[str, ...] = CONTRACT_COMMAND_KINDS
if TYPE_CHECKING:
    Channel = str
    CommandKind = str
else:
    Channel = Literal[CHANNELS]
    CommandKind = Literal[COMMAND_KINDS]
Ref = Annotated[str, Meta(max_length=64)]
ConfigKey = Annotated[str, Meta(min_length=1, max_length=128,
                                pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")]
Channels = Annotated[list[Channel], Meta(min_length=1, max_length=len(CHANNELS))]
ErrorCode = Literal["bad_request", "forbidden", "unavailable", "rate_limited"]
# A hub frame wraps items ({"type", "items": [item]}) of records bounded at MAX_DEPTH.
HUB_FRAME_DEPTH = MAX_DEPTH + 2


class CloseCode(IntEnum):
    """Websocket close codes the hub uses (4xxx are application codes)."""

    GOING_AWAY = 1001  # the hub is shutting down; reconnect later
    POLICY_VIOLATION = 1008  # the client asked for replies it never read
    INTERNAL_ERROR = 1011
    UNAUTHENTICATED = 4001  # no token, unknown token, or no auth message in time
    FORBIDDEN = 4003  # the token's role may not view the wall


# --- client -> hub ---------------------------------------------------------------------


class _ClientMsg(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, kw_only=True):
    ref: Ref | None = None  # echoed by the reply


class AuthMsg(_ClientMsg, tag="auth"):
    """The first message when the token did not come with the handshake."""

    token: Annotated[str, Meta(max_length=256)]


class SubscribeMsg(_ClientMsg, tag="subscribe"):
    """Add channels; the hub answers with ``subscribed`` and a snapshot of each."""

    channels: Channels


class UnsubscribeMsg(_ClientMsg, tag="unsubscribe"):
    """Remove channels; no more deltas of them are sent."""

    channels: Channels


class CommandMsg(_ClientMsg, tag="command"):
    """A duty action. ``args`` is checked per ``kind`` by :mod:`wall.hub.commands`."""

    kind: CommandKind
    alert_id: Id | None = None
    case_id: Id | None = None
    grid_id: GridId | None = None
    args: msgspec.Raw = msgspec.Raw(b"{}")


class TuneMsg(_ClientMsg, tag="tune"):
    """A live configuration change (ops): the new ``value`` of ``key``."""

    key: ConfigKey
    value: dict[str, Any]


class HealthMsg(_ClientMsg, tag="health"):
    """Ask for the hub's own figures."""


ClientMessage = AuthMsg | SubscribeMsg | UnsubscribeMsg | CommandMsg | TuneMsg | HealthMsg
CLIENT_TYPES: tuple[str, ...] = ("auth", "subscribe", "unsubscribe", "command", "tune",
                                 "health")


class _RefProbe(msgspec.Struct):
    ref: Any = None


def decode_client(raw: bytes | str, max_bytes: int | None = None) -> ClientMessage:
    """Decode one client frame; raise :class:`WireError` (field + reason) if it is not valid
    (also when it nests deeper than :data:`~domain.wire.MAX_DEPTH` or exceeds ``max_bytes``).
    """
    try:
        return decode_bounded(raw, ClientMessage, max_bytes=max_bytes)  # type: ignore[arg-type]
    except WireError as exc:
        if exc.field == "type" and exc.reason.startswith("Invalid value"):
            raise WireError("type", f"unknown message type; expected one of "
                                    f"{', '.join(CLIENT_TYPES)}") from None
        raise


def ref_of(raw: bytes | str) -> str | None:
    """The ``ref`` of a frame that may be invalid, so an error can still be correlated.

    None for a frame out of bounds (see :func:`decode_client`): it is not decoded at all.
    """
    try:
        ref = msgspec.json.decode(check_bounds(raw), type=_RefProbe).ref
    except (msgspec.DecodeError, msgspec.ValidationError, WireError, RecursionError):
        return None
    return ref if isinstance(ref, str) and len(ref) <= 64 else None


# --- hub -> client ---------------------------------------------------------------------


class _HubMsg(msgspec.Struct, tag_field="type", kw_only=True):
    pass


class WelcomeMsg(_HubMsg, tag="welcome"):
    """Sent once after authentication: who the client is and what it may do."""

    actor: str
    role: str
    permissions: list[str]
    channels: list[str]
    heartbeat_s: float | None


class SubscribedMsg(_HubMsg, tag="subscribed"):
    """The client's channels after a subscribe or unsubscribe."""

    channels: list[str]
    ref: str | None = None


class SnapshotMsg(_HubMsg, tag="snapshot"):
    """Part ``part`` of ``parts`` of the latest item per key of one channel.

    Part 1 replaces what the client holds for the channel; later parts add to it.
    ``reason`` is ``subscribe`` or ``resync`` (the client fell behind and deltas were dropped).
    """

    channel: str
    reason: Literal["subscribe", "resync"]
    part: int
    parts: int
    items: list[WallUpdate]


class DeltasMsg(_HubMsg, tag="deltas"):
    """Changed items, oldest first; each replaces the client's item of its (channel, key)."""

    items: list[WallUpdate]


class AckMsg(_HubMsg, tag="ack"):
    """A command or tune was validated, stamped and acknowledged by Kafka (acks=all)."""

    ref: str | None
    command_id: str
    kind: str


class ErrorMsg(_HubMsg, tag="error", omit_defaults=True):
    """A request was refused; the connection stays open.

    ``field`` is the dotted path of the offending field (None when the whole message is at
    fault), ``reason`` says what is wrong. ``retry_ms`` (``rate_limited`` only): when the
    same request would be taken again.
    """

    ref: str | None
    code: ErrorCode
    field: str | None
    reason: str
    retry_ms: int | None = None


class HealthReplyMsg(_HubMsg, tag="health"):
    """The hub's own figures (see :class:`wall.hub.stats.HubStats`)."""

    ref: str | None
    figures: dict[str, Any]


HubMessage = (WelcomeMsg | SubscribedMsg | SnapshotMsg | DeltasMsg | AckMsg | ErrorMsg
              | HealthReplyMsg)
_hub_decoder = msgspec.json.Decoder(HubMessage)


def decode_hub(raw: bytes | str) -> HubMessage:
    """Decode one hub frame (for clients); raises ``msgspec.ValidationError`` if invalid,
    also for a frame nested deeper than :data:`HUB_FRAME_DEPTH` (never ``RecursionError``).
    """
    try:
        return _hub_decoder.decode(check_bounds(raw, max_depth=HUB_FRAME_DEPTH))
    except WireError as exc:
        raise msgspec.ValidationError(exc.reason) from None


def frame(message: _HubMsg) -> bytes:
    """Encode one hub message."""
    return encode(message)


def error_frame(ref: str | None, code: ErrorCode, field: str | None, reason: str,
                retry_ms: int | None = None) -> bytes:
    """Encode an ``error`` message."""
    return encode(ErrorMsg(ref=ref, code=code, field=field, reason=reason, retry_ms=retry_ms))


def encode_item(update: WallUpdate) -> bytes:
    """Encode one update as an item of ``snapshot``/``deltas`` frames."""
    return encode(update)


def deltas_frame(items: list[bytes]) -> bytes:
    """A ``deltas`` frame from pre-encoded items (see :func:`encode_item`)."""
    return b'{"type":"deltas","items":[' + b",".join(items) + b"]}"


def snapshot_frame(channel: str, reason: str, part: int, parts: int,
                   items: list[bytes]) -> bytes:
    """A ``snapshot`` frame from pre-encoded items; ``channel`` and ``reason`` are plain names."""
    head = (f'{{"type":"snapshot","channel":"{channel}","reason":"{reason}",'
            f'"part":{part},"parts":{parts},"items":[').encode()
    return head + b",".join(items) + b"]}"
