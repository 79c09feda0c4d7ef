"""Turning a client's ``command`` or ``tune`` message into a stamped Kafka record (pure).

:func:`build_command` checks the role (``act``), the targets the kind needs and the kind's
``args``, then returns a :class:`~domain.schemas.Command` stamped with the actor, the role,
a fresh ``command_id`` and the time; :func:`build_tune` does the same for a
:class:`~domain.schemas.ConfigChange` (``tune`` permission). Both raise :class:`Rejected`
with a code, the offending field and the reason; nothing else escapes. No I/O here.

Rules per kind (``args`` unknown fields are refused):

======== ======================= =====================================================
kind     target                  args
======== ======================= =====================================================
ack      alert_id                note?
unack    alert_id                note?
assign   alert_id                assignee, note?
comment  alert_id or case_id     text
silence  alert_id                until_ms or duration_s (exactly one), reason?
shelve   alert_id                until_ms or duration_s (exactly one), reason
escalate alert_id or case_id     reason?, to_tier? (2..4)
======== ======================= =====================================================

An expiry must lie in the future and at most :data:`MAX_EXPIRY_MS` ahead; the record
always carries the absolute ``until_ms`` (``duration_s`` is converted).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated

import msgspec
from msgspec import Meta

from domain.schemas import Command, ConfigChange, EpochMs, Text
from domain.wire import WireError, decode
from gridwall.auth import Principal
from wall.hub.protocol import CommandMsg, ErrorCode, TuneMsg

MAX_EXPIRY_MS = 7 * 24 * 3600 * 1000
NonEmptyShort = Annotated[str, Meta(min_length=1, max_length=128)]
NonEmptyText = Annotated[str, Meta(min_length=1, max_length=2000)]


class Rejected(Exception):
    """A request the hub refuses: ``code`` (bad_request/forbidden/unavailable), field, reason."""

    def __init__(self, code: ErrorCode, field: str | None, reason: str) -> None:
        super().__init__(f"{code}: {field + ': ' if field else ''}{reason}")
        self.code: ErrorCode = code
        self.field = field
        self.reason = reason


class _Args(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class NoteArgs(_Args):
    note: Text = ""


class AssignArgs(_Args):
    assignee: NonEmptyShort
    note: Text = ""


class CommentArgs(_Args):
    text: NonEmptyText


Seconds = Annotated[int, Meta(ge=1, le=MAX_EXPIRY_MS // 1000)]


def _one_expiry(until_ms: int | None, duration_s: int | None) -> None:
    if (until_ms is None) == (duration_s is None):
        raise ValueError("give exactly one of `until_ms` or `duration_s`")


class ExpiryArgs(_Args):
    until_ms: EpochMs | None = None
    duration_s: Seconds | None = None
    reason: Text = ""

    def __post_init__(self) -> None:
        _one_expiry(self.until_ms, self.duration_s)


class ShelveArgs(_Args):
    reason: NonEmptyText
    until_ms: EpochMs | None = None
    duration_s: Seconds | None = None

    def __post_init__(self) -> None:
        _one_expiry(self.until_ms, self.duration_s)


class EscalateArgs(_Args):
    reason: Text = ""
    to_tier: Annotated[int, Meta(ge=2, le=4)] | None = None


ARGS: dict[str, type[_Args]] = {
    "ack": NoteArgs, "unack": NoteArgs, "assign": AssignArgs, "comment": CommentArgs,
    "silence": ExpiryArgs, "shelve": ShelveArgs, "escalate": EscalateArgs,
}
# The target fields a kind accepts; one of them is required.
TARGETS: dict[str, tuple[str, ...]] = {
    "ack": ("alert_id",), "unack": ("alert_id",), "assign": ("alert_id",),
    "silence": ("alert_id",), "shelve": ("alert_id",),
    "comment": ("alert_id", "case_id"), "escalate": ("alert_id", "case_id"),
}

# (channel, key) -> grid id, from the hub's state; None when unknown.
GridLookup = Callable[[str, str], str | None]


def new_command_id() -> str:
    """A fresh, unique command id (32 hex digits)."""
    return uuid.uuid4().hex


def _check_target(msg: CommandMsg) -> None:
    allowed = TARGETS[msg.kind]
    if not any(getattr(msg, name) for name in allowed):
        raise Rejected("bad_request", allowed[0],
                       f"required for '{msg.kind}'" if len(allowed) == 1
                       else f"'{msg.kind}' needs {' or '.join(allowed)}")
    if msg.case_id and "case_id" not in allowed:
        raise Rejected("bad_request", "case_id", f"not allowed for '{msg.kind}'")


def _args(msg: CommandMsg, now_ms: int) -> dict[str, object]:
    try:
        args = decode(msg.args, ARGS[msg.kind], root="args")
    except WireError as exc:
        raise Rejected("bad_request", exc.field or "args", exc.reason) from None
    out: dict[str, object] = msgspec.to_builtins(args)
    if isinstance(args, ExpiryArgs | ShelveArgs):
        if args.until_ms is not None:
            until, field = args.until_ms, "args.until_ms"
        else:
            until, field = now_ms + (args.duration_s or 0) * 1000, "args.duration_s"
        if until <= now_ms:
            raise Rejected("bad_request", field, "expiry must be in the future")
        if until > now_ms + MAX_EXPIRY_MS:
            raise Rejected("bad_request", field, "expiry must be within 7 days")
        out.pop("duration_s", None)
        out["until_ms"] = until
    return out


def _grid_of(msg: CommandMsg, lookup: GridLookup) -> str | None:
    if msg.grid_id:
        return msg.grid_id
    if msg.alert_id and (grid := lookup("alerts", msg.alert_id)):
        return grid
    return lookup("cases", msg.case_id) if msg.case_id else None


def build_command(msg: CommandMsg, who: Principal, now_ms: int,
                  lookup: GridLookup = lambda _c, _k: None) -> Command:
    """Validate ``msg`` for ``who`` and stamp it; raise :class:`Rejected` on any problem.

    ``grid_id`` is taken from the message, else from the hub's state of the alert or case
    (``lookup``), else left empty: a command is never refused for an entity the hub has not
    seen, since its state is bounded.
    """
    if not who.may("act"):
        raise Rejected("forbidden", None, f"role '{who.role}' may not send commands")
    _check_target(msg)
    args = _args(msg, now_ms)
    return Command(command_id=new_command_id(), kind=msg.kind, actor=who.name, role=who.role,
                   ts=now_ms, alert_id=msg.alert_id, case_id=msg.case_id,
                   grid_id=_grid_of(msg, lookup), args=args)


def build_tune(msg: TuneMsg, who: Principal, now_ms: int) -> ConfigChange:
    """Validate ``msg`` for ``who`` (``tune`` permission) and stamp it with the actor."""
    if not who.may("tune"):
        raise Rejected("forbidden", None, f"role '{who.role}' may not tune")
    return ConfigChange(key=msg.key, value=msg.value, actor=who.name, ts=now_ms)


def record_key(command: Command) -> str:
    """The Kafka key of a command: its grid, else its alert or case (never empty)."""
    return command.grid_id or command.alert_id or command.case_id or command.command_id
