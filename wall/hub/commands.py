"""Turning a client's ``command`` or ``tune`` message into a stamped Kafka record (pure).

:func:`build_command` checks the role (``act``), the targets the kind needs and the kind's
``args``, then returns a :class:`~domain.schemas.Command` stamped with the actor (the
token's ``person``, else the token's name: :func:`stamped_actor`), the role,
a fresh ``command_id`` and the time; :func:`build_tune` does the same for a
:class:`~domain.schemas.ConfigChange` (``tune`` permission; the key must be a live config
key and the value valid for it, by :mod:`domain.contracts.live_config`'s parser, the one the
workers apply). Both raise :class:`Rejected`
with a code, the offending field and the reason; nothing else escapes. No I/O here.

Rules per kind are the kind's :class:`~domain.contracts.commands.CommandSpec` (permission,
targets, ``args`` struct), the same specs the duty console and the worker
(:mod:`streams.commands`, :mod:`domain.alerts`) read; ``args`` unknown fields are refused:

========================================= ==================== ===============================
kind                                      target               args
========================================= ==================== ===============================
ack, unack, unsilence, shelve, unshelve,  alert_id             comment?
resolve
assign                                    alert_id             assignee, comment?
comment                                   alert_id             comment
silence                                   alert_id             duration_s (1 s..7 days), comment
escalate                                  alert_id or case_id  comment?
========================================= ==================== ===============================

A case command needs the case's grid: from ``grid_id``, else from the hub's state of the
case; without either it is refused (the worker could not route it). An ack from the hub
means the command is recorded in Kafka; whether the worker applied it shows in the alert's
next update on the ``alerts`` channel (the worker may still refuse, e.g. a silence longer
than its live ``alerts.max_silence_s``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from core.auth import ActorRefused, Principal, credential_actor
from domain.alerts import grid_of_alert_id
from domain.contracts.commands import COMMANDS, decode_args
from domain.contracts.live_config import live_key
from domain.schemas import Command, ConfigChange
from domain.wire import WireError
from wall.hub.protocol import CommandMsg, ErrorCode, TuneMsg


class Rejected(Exception):
    """A request the hub refuses: ``code`` (bad_request/forbidden/unavailable), field, reason."""

    def __init__(self, code: ErrorCode, field: str | None, reason: str) -> None:
        super().__init__(f"{code}: {field + ': ' if field else ''}{reason}")
        self.code: ErrorCode = code
        self.field = field
        self.reason = reason


# (channel, key) -> grid id, from the hub's state; None when unknown.
GridLookup = Callable[[str, str], str | None]


def new_command_id() -> str:
    """A fresh, unique command id (32 hex digits)."""
    return uuid.uuid4().hex


def _check_target(msg: CommandMsg) -> None:
    allowed = COMMANDS[msg.kind].targets
    if not any(getattr(msg, name) for name in allowed):
        raise Rejected("bad_request", allowed[0],
                       f"required for '{msg.kind}'" if len(allowed) == 1
                       else f"'{msg.kind}' needs {' or '.join(allowed)}")
    if msg.case_id and "case_id" not in allowed:
        raise Rejected("bad_request", "case_id", f"not allowed for '{msg.kind}'")


def _args(msg: CommandMsg) -> dict[str, object]:
    try:
        return decode_args(msg.kind, msg.args)
    except WireError as exc:
        raise Rejected("bad_request", exc.field or "args", exc.reason) from None


def _grid_of(msg: CommandMsg, lookup: GridLookup) -> str | None:
    if msg.grid_id:
        return msg.grid_id
    if msg.alert_id:
        known = lookup("alerts", msg.alert_id)
        if known:
            return known
        # the worker's alert ids are "<grid>.<digest>.<opened ms>" (domain.alerts)
        return grid_of_alert_id(msg.alert_id) if msg.alert_id.count(".") >= 2 else None
    if msg.case_id:
        known = lookup("cases", msg.case_id)
        if not known:
            raise Rejected("bad_request", "grid_id",
                           "required for a case command (the hub has not seen this case)")
        return known
    return None


def stamped_actor(who: Principal) -> str:
    """Who a hub request of ``who`` is stamped as: the token's person, else the token's name.

    The same rule as the gateway's case steps (:func:`core.auth.credential_actor`); a client
    cannot name an actor (the messages have no such field). A token acting for many people
    (``acts_for``) cannot say for whom here: refused ``forbidden`` on ``actor``.
    """
    try:
        return credential_actor(who, None) or who.name
    except ActorRefused as exc:
        raise Rejected("forbidden", "actor", str(exc)) from None


def build_command(msg: CommandMsg, who: Principal, now_ms: int,
                  lookup: GridLookup = lambda _c, _k: None) -> Command:
    """Validate ``msg`` for ``who`` and stamp it; raise :class:`Rejected` on any problem.

    ``grid_id`` is taken from the message, else from the hub's state of the alert or case
    (``lookup``), else from the alert id's grid prefix. An alert command is never refused
    for an alert the hub has not seen (its state is bounded); a case command without a known
    grid is (see the module docstring).
    """
    if not who.may(COMMANDS[msg.kind].permission):
        raise Rejected("forbidden", None, f"role '{who.role}' may not send commands")
    _check_target(msg)
    args = _args(msg)
    return Command(command_id=new_command_id(), kind=msg.kind, actor=stamped_actor(who),
                   role=who.role,
                   ts=now_ms, alert_id=msg.alert_id, case_id=msg.case_id,
                   grid_id=_grid_of(msg, lookup), args=args)


def build_tune(msg: TuneMsg, who: Principal, now_ms: int) -> ConfigChange:
    """Validate ``msg`` for ``who`` (``tune`` permission; ``key`` one of the live config keys
    and ``value`` valid for it, by the parser the workers apply it with) and stamp it with
    the actor."""
    if not who.may("tune"):
        raise Rejected("forbidden", None, f"role '{who.role}' may not tune")
    try:
        spec = live_key(msg.key)
    except KeyError as exc:
        raise Rejected("bad_request", "key", str(exc.args[0])) from None
    try:
        spec.parse(msg.value)
    except ValueError as exc:  # every parser's error is one, naming the path
        raise Rejected("bad_request", "value", str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - a validator's surprise must not reach the session
        raise Rejected("bad_request", "value", f"{type(exc).__name__}: {exc}") from None
    return ConfigChange(key=msg.key, value=msg.value, actor=stamped_actor(who), ts=now_ms)


def record_key(command: Command) -> str:
    """The Kafka key of a command: its grid, else its alert or case (never empty)."""
    return command.grid_id or command.alert_id or command.case_id or command.command_id
