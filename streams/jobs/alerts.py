"""The alerts job: alert ops in (signals, routed commands, ticks), the alert lifecycle applied.

Runs as a Faust agent (:func:`streams.runner.on_agent`) over the alert-ops topic; its state
is the ``alerts`` table (a :class:`~streams.faust_adapter.PartitionedTable`, changelogged per
input partition). Per batch: each op of each message (a message holds one op or an array of
ops of grids of its partition; a packed op: its signals one by one) is applied through
an :class:`~streams.alert_logic.AlertBook` (idempotent per op id and offset; bad data is
dead-lettered, never raised); outputs are the ``alert_actions`` audit rows, refused commands'
dead letters, and per changed alert, once each: its ``alerts`` row (ClickHouse) and its
wall form (:func:`alert_update`) on the alerts topic, which the hub serves as the wall's
``alerts`` channel. The changed alerts are staged and written by :meth:`AlertsJob.write_state`
after the outputs are acknowledged, changelog acknowledged before the input is acked.

Derived, in memory: the open alerts and the open alert per fingerprint, rebuilt from the
table after every recovery (:meth:`AlertsJob.on_recovered`). Timer: the alert tick
(:data:`ALERT_TICK_S`) sends due re-escalation and silence-expiry ticks as alert ops.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from domain.alerts import RESOLVED, AlertState, due_ticks
from domain.contracts.topics import ALERT_OPS, ALERTS
from domain.schemas import WallUpdate
from domain.wire import decode_one_or_many, encode
from streams.alert_logic import AlertBook, AlertOp, expand, process_op
from streams.ext import Ext
from streams.faust_adapter import PartitionedTable
from streams.outbox import Outbox
from streams.rows import alert_row
from streams.runner import Item, Tally, Timer

log = logging.getLogger(__name__)

ALERT_TICK_S = 0.5
_alert_decoder = msgspec.json.Decoder(AlertState)


class AlertsJob:
    """The alert lifecycle over the ``alerts`` table; see the module docstring."""

    name = "alerts"
    source = "alerts"
    keyed_dead_letters = False
    topic = ALERT_OPS.base

    def __init__(self, ext: Ext, table: PartitionedTable) -> None:
        self.ext = ext
        self.rt = ext.runtime
        self.table = table
        self._staged: dict[str, tuple[AlertState, int]] = {}

    def load(self, alert_id: str) -> AlertState | None:
        """The stored state of ``alert_id``."""
        raw = self.table.get(alert_id.encode())
        return _alert_decoder.decode(raw) if raw else None

    def decode(self, record: Any) -> list[AlertOp]:
        """The alert ops of one message: one, or an array of them (the topic is packed per
        partition: ops of several grids of the message's partition)."""
        return decode_one_or_many(record.value, AlertOp)

    async def handle(self, batch: list[Item], out: Outbox) -> Tally:
        """Apply every op; stage the changed alerts; their rows and wall forms."""
        book = AlertBook(self.load, self.rt.open_by_fingerprint)
        partitions: dict[str, int] = {}
        for rec, ops in batch:
            for received in ops:
                for op in expand(received):  # a packed op: its signals one by one
                    changed = self._apply(book, rec, op, out)
                    if changed is not None:
                        partitions[changed] = rec.partition
        alerts_topic = self.ext.topic(ALERTS.base)
        for alert_id, state in book.changed.items():
            out.row("alerts", alert_row(state), alert_id)
            out.latest(alerts_topic, state.alert.grid_id, encode(alert_update(state)),
                       identity=alert_id)
        self._staged = {alert_id: (state, partitions[alert_id])
                        for alert_id, state in book.changed.items()}
        return Tally()

    def _apply(self, book: AlertBook, rec: Any, op: AlertOp, out: Outbox) -> str | None:
        """Apply one op; the id of the alert it changed, if any."""
        try:
            result = process_op(book, op, rec.offset, self.rt.config.alerts)
        except Exception as exc:  # noqa: BLE001 - bad data must never stop the agent
            log.exception("alerts: op %s failed", op.op_id)
            out.dead("alerts", "alerts", f"internal error: {exc!r}", op.ts, rec.value,
                     op.grid_id)
            return None
        if result.audit is not None:
            out.row("alert_actions", result.audit,
                    (result.audit["alert_id"], result.audit["action_id"]))
        if result.refusal is not None:
            raw = encode(op.command) if op.command else rec.value
            out.dead("alerts.command", "commands", result.refusal, op.ts, raw, op.grid_id)
        return result.changed.alert.alert_id if result.changed is not None else None

    async def write_state(self) -> None:
        """Write the staged alerts, track the open ones; return when the changelog is
        acknowledged."""
        staged, self._staged = self._staged, {}
        for alert_id, (state, partition) in staged.items():
            self.table.put(alert_id.encode(), encode(state), partition)
            self.track(state)
        await self.table.write_changelog()

    def track(self, state: AlertState) -> None:
        """Keep the open-alert indexes up to date with ``state``."""
        rt, alert = self.rt, state.alert
        if alert.status == RESOLVED:
            rt.open_alerts.pop(alert.alert_id, None)
            rt.ticks_sent.pop(alert.alert_id, None)
            if rt.open_by_fingerprint.get(alert.fingerprint) == alert.alert_id:
                del rt.open_by_fingerprint[alert.fingerprint]
        else:
            rt.open_alerts[alert.alert_id] = state
            rt.open_by_fingerprint[alert.fingerprint] = alert.alert_id

    async def on_recovered(self) -> None:
        """After Faust recovered the table: rebuild the open-alert indexes from it."""
        self.rt.open_alerts.clear()
        self.rt.open_by_fingerprint.clear()
        for raw in list(self.table.values()):
            if raw:
                self.track(_alert_decoder.decode(raw))

    def timers(self) -> list[Timer]:
        """The alert tick."""
        return [Timer("alert_timer", ALERT_TICK_S, self.fire_alert_ticks)]

    async def fire_alert_ticks(self) -> int:
        """Send the due ticks of the open alerts (each once per alert version); return how
        many were sent."""
        rt = self.rt
        now = rt.clock()
        out = self.ext.outbox()
        alert_ops = self.ext.topic(ALERT_OPS.base)
        for alert_id, state in list(rt.open_alerts.items()):
            for tick in due_ticks(state, now, rt.config.alerts):
                op_id = f"tick.{tick}.{alert_id}.{state.version}"
                if rt.ticks_sent.get(alert_id) == op_id:
                    continue
                rt.ticks_sent[alert_id] = op_id
                op = AlertOp(op_id=op_id, kind="tick", grid_id=state.alert.grid_id, ts=now,
                             tick=tick, alert_id=alert_id)
                out.send(alert_ops, state.alert.grid_id, encode(op))
        sent = len(out)
        await out.flush()
        return sent


def alert_update(state: AlertState) -> WallUpdate:
    """The one publication of an alert change: its wall form, keyed by the alert id."""
    return WallUpdate(channel="alerts", key=state.alert.alert_id, ts=state.alert.updated_ms,
                      data=alert_wall(state))


def alert_wall(state: AlertState) -> dict[str, Any]:
    """The wall's alert: the alert and its lifecycle fields."""
    data = msgspec.structs.asdict(state.alert)
    data.update(group_key=state.group_key, shelved=state.shelved,
                occurrences=state.occurrences, re_escalations=state.re_escalations,
                silenced_by=state.silenced_by, silence_comment=state.silence_comment,
                version=state.version)
    return data
