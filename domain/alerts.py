"""Alert lifecycle as pure functions: dedup, grouping, ack, silence, shelve, re-escalation.

An alert is identified by the *condition* it reports (its fingerprint); raising the same
condition again while the alert is not resolved updates that alert (``occurrences`` grows,
tier and severity only rise) instead of opening a new one. Alerts are grouped by grid and
category (``group_key``). Lifecycle: ``open`` → ``acknowledged`` → ``resolved`` (``unack``
goes back to ``open``); silence (until a time, with author and comment) and shelve (until
unshelved) are overlays that stop re-escalation without changing the lifecycle status. An
alert's title is its newest signal's title, which names no severity (see :class:`Signal`),
so title and severity never disagree.

Guarantees: every function is total and never mutates its arguments; each returns the new
state (or a :class:`Refusal` with a reason a duty officer understands). Time is always passed
in (``now_ms``), so the functions are deterministic. The command kinds and their ``args``
are the specs of :mod:`domain.contracts.commands` (:data:`COMMAND_KINDS`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from domain.contracts.commands import COMMAND_KINDS
from domain.schemas import Alert
from domain.vocab import MAX_TIER

OPEN, ACKED, RESOLVED = "open", "acknowledged", "resolved"
TICK_KINDS: tuple[str, ...] = ("re_escalate", "silence_expired")


MAX_ALERT_TIMING_S = 30 * 86_400  # an alert timing beyond 30 days is a typo


class AlertConfigError(ValueError):
    """An alerts configuration that does not validate; the message names the key."""


@dataclass(frozen=True)
class AlertConfig:
    """Live alert settings: ack timeout before re-escalation, longest allowed silence."""

    ack_timeout_s: float = 300.0
    max_silence_s: float = 86_400.0

    @classmethod
    def from_mapping(cls, data: Any) -> AlertConfig:
        """Validate plain data; unknown keys and numbers outside (0, :data:`MAX_ALERT_TIMING_S`]
        are errors (a timing of 1e30 s would overflow every deadline computed from it)."""
        if not isinstance(data, Mapping):
            raise AlertConfigError("alerts: expected a mapping")
        allowed = ("ack_timeout_s", "max_silence_s")
        for key, value in data.items():
            if key not in allowed:
                raise AlertConfigError(f"alerts.{key}: unknown key (allowed: "
                                       f"{', '.join(allowed)})")
            if (isinstance(value, bool) or not isinstance(value, int | float)
                    or not 0 < value <= MAX_ALERT_TIMING_S):
                raise AlertConfigError(f"alerts.{key}: must be a positive number of seconds "
                                       f"up to {MAX_ALERT_TIMING_S:,}")
        return cls(**{k: float(v) for k, v in data.items()})

    def to_mapping(self) -> dict[str, Any]:
        """The config as plain data (control-topic form)."""
        return {"ack_timeout_s": self.ack_timeout_s, "max_silence_s": self.max_silence_s}


class AlertState(msgspec.Struct, kw_only=True):
    """An alert plus what the lifecycle needs beyond the wire :class:`Alert`."""

    alert: Alert
    group_key: str
    escalated_ms: int
    resolved_ms: int = 0
    occurrences: int = 1
    re_escalations: int = 0
    silenced_by: str = ""
    silence_comment: str = ""
    shelved: bool = False
    version: int = 1
    seen: dict[str, int] = {}  # op id -> input offset, for idempotent replays


class Signal(msgspec.Struct, kw_only=True):
    """A condition raised (``raised=True``) or cleared by a detector (SLA timer, sensors).

    ``title`` names the condition and its subject, never a severity: the alert's severity
    is its own field and may rise after the title was written (a repeat at a higher
    severity, an escalation), while a repeat at a lower one keeps the higher severity. A
    title saying "warning" would then contradict an alert that is critical.
    """

    fingerprint: str
    grid_id: str
    kind: str
    category: str
    severity: str
    title: str
    ts: int
    raised: bool = True
    detail: str = ""
    case_id: str | None = None
    sensor_id: str | None = None
    tier: int = 1


@dataclass(frozen=True)
class Refusal:
    """A command that cannot apply, with the reason."""

    reason: str


_SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


def fingerprint(*parts: str) -> str:
    """The identity of a condition: its parts joined (kind first, then subject)."""
    return ":".join(parts)


def group_key(grid_id: str, category: str) -> str:
    """Alerts of one grid and category form a group on the wall."""
    return f"{grid_id}/{category}"


def alert_id_for(signal: Signal) -> str:
    """A deterministic id: grid, digest of the fingerprint, time the alert opened.

    The grid comes first so that commands naming only the alert can be routed to the
    partition of its grid.
    """
    digest = hashlib.sha1(signal.fingerprint.encode()).hexdigest()[:10]
    return f"{signal.grid_id}.{digest}.{signal.ts}"


def grid_of_alert_id(alert_id: str) -> str:
    """The grid an alert id belongs to (see :func:`alert_id_for`)."""
    return alert_id.rsplit(".", 2)[0]


def raise_or_update(current: AlertState | None, signal: Signal) -> AlertState:
    """Apply a raised signal: open a new alert, or update the unresolved one (dedup).

    ``current`` must be the unresolved alert with the signal's fingerprint, or None.
    Tier and severity never go down on update.
    """
    if current is None or current.alert.status == RESOLVED:
        alert = Alert(alert_id=alert_id_for(signal), fingerprint=signal.fingerprint,
                      grid_id=signal.grid_id, kind=signal.kind, category=signal.category,
                      severity=signal.severity,  # type: ignore[arg-type]
                      status=OPEN, title=signal.title, opened_ms=signal.ts,
                      updated_ms=signal.ts, detail=signal.detail, case_id=signal.case_id,
                      sensor_id=signal.sensor_id, tier=signal.tier)
        return AlertState(alert=alert, group_key=group_key(signal.grid_id, signal.category),
                          escalated_ms=signal.ts)
    alert = current.alert
    severity = max(alert.severity, signal.severity, key=lambda s: _SEVERITY_RANK.get(s, 0))
    tier = max(alert.tier, signal.tier)
    new_alert = msgspec.structs.replace(
        alert, severity=severity, tier=tier, title=signal.title, detail=signal.detail,
        updated_ms=max(alert.updated_ms, signal.ts))
    escalated = signal.ts if tier > alert.tier else current.escalated_ms
    return _bump(current, new_alert, occurrences=current.occurrences + 1,
                 escalated_ms=escalated)


def clear(current: AlertState, ts: int, why: str = "condition cleared") -> AlertState:
    """Auto-resolve: the condition is gone. Resolving a resolved alert changes nothing."""
    if current.alert.status == RESOLVED:
        return current
    alert = msgspec.structs.replace(current.alert, status=RESOLVED, detail=why,
                                    updated_ms=max(current.alert.updated_ms, ts))
    return _bump(current, alert, resolved_ms=ts)


def apply_command(current: AlertState, kind: str, actor: str, args: Mapping[str, Any],
                  now_ms: int, config: AlertConfig) -> AlertState | Refusal:
    """Apply a duty officer's command to an alert, or refuse it with the reason."""
    alert = current.alert
    if kind not in COMMAND_KINDS:
        return Refusal(f"unknown command '{kind}' (known: {', '.join(COMMAND_KINDS)})")
    if alert.status == RESOLVED and kind not in ("comment",):
        return Refusal(f"alert {alert.alert_id} is already resolved")
    touched = {"updated_ms": max(alert.updated_ms, now_ms)}
    if kind == "ack":
        if alert.status == ACKED:
            return Refusal(f"alert {alert.alert_id} is already acknowledged")
        return _bump(current, msgspec.structs.replace(alert, status=ACKED, acked_by=actor,
                                                      **touched))
    if kind == "unack":
        if alert.status != ACKED:
            return Refusal(f"alert {alert.alert_id} is not acknowledged")
        return _bump(current, msgspec.structs.replace(alert, status=OPEN, acked_by=None,
                                                      **touched), escalated_ms=now_ms)
    if kind == "assign":
        assignee = args.get("assignee")
        if not isinstance(assignee, str) or not assignee:
            return Refusal("assign needs args.assignee (a name)")
        return _bump(current, msgspec.structs.replace(alert, assignee=assignee, **touched))
    if kind == "comment":
        text = args.get("comment")
        if not isinstance(text, str) or not text:
            return Refusal("comment needs args.comment (text)")
        return _bump(current, msgspec.structs.replace(alert, **touched))
    if kind == "silence":
        return _silence(current, actor, args, now_ms, config)
    if kind == "unsilence":
        if alert.silenced_until_ms is None:
            return Refusal(f"alert {alert.alert_id} is not silenced")
        return _unsilence(current, now_ms)
    if kind == "shelve":
        if current.shelved:
            return Refusal(f"alert {alert.alert_id} is already shelved")
        return _bump(current, msgspec.structs.replace(alert, **touched), shelved=True)
    if kind == "unshelve":
        if not current.shelved:
            return Refusal(f"alert {alert.alert_id} is not shelved")
        return _bump(current, msgspec.structs.replace(alert, **touched), shelved=False,
                     escalated_ms=now_ms)
    if kind == "escalate":
        if alert.tier >= MAX_TIER:
            return Refusal(f"alert {alert.alert_id} is already at the top tier ({MAX_TIER})")
        return _escalate(current, now_ms)
    # resolve
    return clear(current, now_ms, f"resolved by {actor}")


def _silence(current: AlertState, actor: str, args: Mapping[str, Any], now_ms: int,
             config: AlertConfig) -> AlertState | Refusal:
    duration = args.get("duration_s")
    comment = args.get("comment", "")
    if isinstance(duration, bool) or not isinstance(duration, int | float) or duration <= 0:
        return Refusal("silence needs args.duration_s (positive seconds)")
    if duration > config.max_silence_s:
        return Refusal(f"silence longer than {config.max_silence_s:.0f} s is not allowed")
    if not isinstance(comment, str) or not comment:
        return Refusal("silence needs args.comment (why)")
    until = now_ms + int(duration * 1000)
    alert = msgspec.structs.replace(current.alert, silenced_until_ms=until,
                                    updated_ms=max(current.alert.updated_ms, now_ms))
    return _bump(current, alert, silenced_by=actor, silence_comment=comment)


def _unsilence(current: AlertState, now_ms: int) -> AlertState:
    alert = msgspec.structs.replace(current.alert, silenced_until_ms=None,
                                    updated_ms=max(current.alert.updated_ms, now_ms))
    # The ack clock restarts when the silence ends: silence is time granted, not forgiven.
    return _bump(current, alert, silenced_by="", silence_comment="", escalated_ms=now_ms)


def _escalate(current: AlertState, now_ms: int) -> AlertState:
    alert = msgspec.structs.replace(current.alert, tier=min(MAX_TIER, current.alert.tier + 1),
                                    severity="critical",
                                    updated_ms=max(current.alert.updated_ms, now_ms))
    return _bump(current, alert, escalated_ms=now_ms)


def due_ticks(current: AlertState, now_ms: int, config: AlertConfig) -> list[str]:
    """Which timer actions are due for this alert at ``now_ms`` (possibly none).

    ``silence_expired`` when a silence ran out; ``re_escalate`` when the alert is open
    (not acknowledged, resolved, silenced or shelved) and has waited the ack timeout since
    it opened or was last escalated, and is below the top tier.
    """
    alert = current.alert
    if alert.status == RESOLVED:
        return []
    if alert.silenced_until_ms is not None:
        return ["silence_expired"] if now_ms >= alert.silenced_until_ms else []
    if (alert.status == OPEN and not current.shelved and alert.tier < MAX_TIER
            and now_ms >= current.escalated_ms + int(config.ack_timeout_s * 1000)):
        return ["re_escalate"]
    return []


def apply_tick(current: AlertState, kind: str, now_ms: int, config: AlertConfig
               ) -> AlertState | None:
    """Apply a timer action if it is still due at ``now_ms``; None if it no longer is."""
    if kind not in due_ticks(current, now_ms, config):
        return None
    if kind == "silence_expired":
        return _unsilence(current, now_ms)
    escalated = _escalate(current, now_ms)
    return msgspec.structs.replace(escalated, re_escalations=current.re_escalations + 1)


def _bump(current: AlertState, alert: Alert, **changes: Any) -> AlertState:
    return msgspec.structs.replace(current, alert=alert, version=current.version + 1, **changes)
