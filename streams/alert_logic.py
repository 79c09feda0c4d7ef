"""The alerts agent's logic without Faust: one operation applied to the alerts of a grid.

Operations (:class:`AlertOp`, the internal alert-ops topic, keyed by grid) are a detector's
:class:`~domain.alerts.Signal`, a duty officer's :class:`~domain.schemas.Command`, or a timer
tick. :func:`process_op` applies one to an :class:`AlertBook` and returns what changed, the
audit row and, for a refused command, the dead-letter reason.

Idempotence: each alert remembers the ops applied to it with their input offsets; a replay
(same op id, same offset) changes nothing and audits nothing new, and a new alert's id is
derived from the signal, so a replayed raise finds the alert it opened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from domain.alerts import (
    RESOLVED,
    AlertConfig,
    AlertState,
    Refusal,
    Signal,
    alert_id_for,
    apply_command,
    apply_tick,
    clear,
    raise_or_update,
)
from domain.schemas import Command
from streams.rows import alert_action_row

SEEN_LIMIT = 64


class SignalEntry(msgspec.Struct, kw_only=True, array_like=True):
    """One signal of a packed op, with its own op id (its identity for dedup)."""

    op_id: str
    signal: Signal


class AlertOp(msgspec.Struct, kw_only=True):
    """One message of the alert-ops topic.

    ``signals`` packs several signals of one grid into one message (kind "signals"): a
    detector sends one message per grid and batch instead of one per signal, since Faust
    pays its cost per message (a restore of a street's sensors is thousands of signals).
    """

    op_id: str
    kind: Literal["signal", "signals", "command", "tick"]
    grid_id: str
    ts: int
    signal: Signal | None = None
    signals: list[SignalEntry] = []
    command: Command | None = None
    tick: str | None = None
    alert_id: str | None = None
    origin_offset: int = -1  # offset of the command record this op was routed from


@dataclass(frozen=True)
class OpResult:
    """What one op did: the changed alert (if any), its audit row, a refusal reason."""

    changed: AlertState | None = None
    audit: dict[str, Any] | None = None
    refusal: str | None = None


class AlertBook:
    """The alerts of the partitions this worker owns, as one batch sees them.

    ``load`` reads a stored alert by id; ``open_by_fingerprint`` maps the fingerprint of
    every unresolved alert to its id (kept current by :meth:`put`).
    """

    def __init__(self, load: Callable[[str], AlertState | None],
                 open_by_fingerprint: dict[str, str]) -> None:
        self._load = load
        self.open_by_fingerprint = open_by_fingerprint
        self.changed: dict[str, AlertState] = {}

    def get(self, alert_id: str) -> AlertState | None:
        """The alert as of this batch's changes."""
        return self.changed.get(alert_id) or self._load(alert_id)

    def put(self, state: AlertState) -> None:
        """Record a change (and keep the fingerprint index current)."""
        alert = state.alert
        self.changed[alert.alert_id] = state
        if alert.status == RESOLVED:
            if self.open_by_fingerprint.get(alert.fingerprint) == alert.alert_id:
                del self.open_by_fingerprint[alert.fingerprint]
        else:
            self.open_by_fingerprint[alert.fingerprint] = alert.alert_id


def expand(op: AlertOp) -> list[AlertOp]:
    """The single ops of ``op``: a packed op's signals one by one (each with its own op
    id, in order), any other op as it is."""
    if op.kind != "signals":
        return [op]
    return [AlertOp(op_id=e.op_id, kind="signal", grid_id=op.grid_id, ts=e.signal.ts,
                    signal=e.signal) for e in op.signals]


def packed(grid_id: str, op_id: str, ts: int, entries: list[SignalEntry]) -> AlertOp:
    """One op carrying ``entries`` (signals of grid ``grid_id``) in order."""
    return AlertOp(op_id=op_id, kind="signals", grid_id=grid_id, ts=ts, signals=entries)


def process_op(book: AlertBook, op: AlertOp, offset: int, config: AlertConfig) -> OpResult:
    """Apply ``op`` (read at ``offset``) to ``book``; see the module docstring."""
    if op.kind == "signal" and op.signal is not None:
        return _signal(book, op, op.signal, offset)
    if op.kind == "command" and op.command is not None:
        origin = op.origin_offset if op.origin_offset >= 0 else offset
        return _command(book, op, op.command, origin, config)
    if op.kind == "tick" and op.tick is not None and op.alert_id:
        return _tick(book, op, op.alert_id, op.tick, offset, config)
    return OpResult(refusal=f"malformed alert op {op.op_id}")


def _signal(book: AlertBook, op: AlertOp, signal: Signal, offset: int) -> OpResult:
    current_id = book.open_by_fingerprint.get(signal.fingerprint)
    current = book.get(current_id) if current_id else None
    if current is None and signal.raised and book.get(alert_id_for(signal)) is not None:
        return OpResult()  # replay of the raise that opened an alert resolved since
    if current is not None and op.op_id in current.seen:
        return OpResult()
    if not signal.raised:
        if current is None:
            return OpResult()
        new = clear(current, signal.ts, f"auto-resolved: {signal.title}")
        return _done(book, op, offset, current, new, "auto_resolve", "system", signal.title)
    new = raise_or_update(current, signal)
    action = "raise" if current is None else "update"
    return _done(book, op, offset, current, new, action, "system", signal.detail)


def _command(book: AlertBook, op: AlertOp, cmd: Command, offset: int, config: AlertConfig
             ) -> OpResult:
    alert_id = cmd.alert_id or ""
    current = book.get(alert_id)
    if current is None:
        return _refused(op, cmd, alert_id, f"unknown alert {alert_id}", "")
    if op.op_id in current.seen:
        if current.seen[op.op_id] == offset:
            return OpResult()
        return _refused(op, cmd, alert_id, f"duplicate command {cmd.command_id}",
                        current.alert.status)
    result = apply_command(current, cmd.kind, cmd.actor, cmd.args, cmd.ts, config)
    if isinstance(result, Refusal):
        return _refused(op, cmd, alert_id, result.reason, current.alert.status)
    detail = str(cmd.args.get("comment", "")) if cmd.args else ""
    return _done(book, op, offset, current, result, cmd.kind, cmd.actor, detail, cmd.role)


def _tick(book: AlertBook, op: AlertOp, alert_id: str, tick: str, offset: int,
          config: AlertConfig) -> OpResult:
    current = book.get(alert_id)
    if current is None or op.op_id in current.seen:
        return OpResult()
    new = apply_tick(current, tick, op.ts, config)
    if new is None:
        return OpResult()  # no longer due (acknowledged, silenced, resolved meanwhile)
    return _done(book, op, offset, current, new, tick, "timer", "")


def _done(book: AlertBook, op: AlertOp, offset: int, before: AlertState | None,
          after: AlertState, action: str, actor: str, detail: str, role: str = "system"
          ) -> OpResult:
    seen = dict(after.seen)
    seen[op.op_id] = offset
    while len(seen) > SEEN_LIMIT:
        seen.pop(next(iter(seen)))
    after = msgspec.structs.replace(after, seen=seen)
    book.put(after)
    audit = _audit(op, after.alert.alert_id, action, actor, role, "ok", detail,
                   before.alert.status if before else "", after.alert.status)
    return OpResult(changed=after, audit=audit)


def _refused(op: AlertOp, cmd: Command, alert_id: str, reason: str, status: str) -> OpResult:
    audit = _audit(op, alert_id, cmd.kind, cmd.actor, cmd.role, "rejected", reason, status,
                   status)
    return OpResult(audit=audit, refusal=reason)


def _audit(op: AlertOp, alert_id: str, action: str, actor: str, role: str, outcome: str,
           detail: str, before: str, after: str) -> dict[str, Any]:
    return alert_action_row(op.op_id, alert_id, op.grid_id, action, actor, role, op.ts,
                            outcome, detail, before, after)
