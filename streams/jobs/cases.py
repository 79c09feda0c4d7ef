"""The cases job: case events in, the case workflow applied, its SLA and retention timers.

Runs as a Faust agent (:func:`streams.runner.on_agent`, with the gap and tail filler) over
the case events topic; its state is the ``cases`` table (a
:class:`~streams.faust_adapter.PartitionedTable`, changelogged per input partition). Per
batch: each message decodes to one event or a packed list of them; each event is applied to
its case (:func:`streams.case_logic.process`; bad data is dead-lettered, never raised); the
batch's applied transitions' step facts go to the case hooks (the grid metrics job) once,
in order; its outputs are its ``case_transitions`` rows, each changed case's ``cases`` row
and wall update, the alert signals (alert-ops topic) and each event's verdict (applied, or refused
with the reason of its dead letter; case verdicts topic, read by the gateway's status URL).
The changed records are staged and written to the table by :meth:`CasesJob.write_state`
after the outputs are acknowledged, with their changelog records acknowledged before the
input is acked (:mod:`streams.runner`).

Derived, in memory: the SLA deadline index and the finished cases, rebuilt from the table
after every recovery (:meth:`CasesJob.on_recovered`, which also hands the records to the
recovery hooks: the grid metrics job) and after every SLA policy change. Timers: the SLA
timer fires due breaches as escalate events (at most :data:`BREACHES_PER_TICK` a tick), the
prune timer removes finished cases past their retention (tombstones in the changelog).
The SLA timer also fires each open supervision order's missed deadline (its own index,
:attr:`CasesJob.orders`, derived the same way), as an escalate event whose id names the
order: applied once, it marks the order breached and raises its alert
(:mod:`streams.case_logic`).
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from domain.contracts.topics import ALERT_OPS, CASE_EVENTS, CASE_VERDICTS
from domain.privacy import mask_text
from domain.schemas import CaseEvent, Supervision
from domain.verdicts import CaseVerdict, Verdict
from domain.wire import decode_one_or_many, encode
from streams.alert_logic import AlertOp
from streams.case_logic import (
    CaseRecord,
    breach_event,
    deadline_ms,
    decode_record,
    encode_record,
    escalation_ms,
    process,
    received_at,
    supervision_breach_event,
    supervision_due_ms,
    window_of,
)
from streams.deadlines import DeadlineIndex
from streams.ext import Ext
from streams.faust_adapter import PartitionedTable
from streams.metrics.facts import StepFact
from streams.outbox import Outbox
from streams.retention import DAY_MS
from streams.rows import case_row, transition_row
from streams.runner import Item, Tally, Timer

log = logging.getLogger(__name__)

SLA_TICK_S = 0.25
# Breaches fired per SLA tick at most: a catch-up after an outage drains over several ticks
# (2,000 breaches/s) instead of holding the event loop for seconds.
BREACHES_PER_TICK = 500
PRUNE_TICK_S = 60.0
PRUNE_PER_TICK = 5_000
Changed = dict[str, tuple[int, CaseRecord]]  # case id -> (input partition, new record)


class CasesJob:
    """The case workflow over the ``cases`` table; see the module docstring."""

    name = "cases"
    source = "cases"
    keyed_dead_letters = True
    topic = CASE_EVENTS.base

    def __init__(self, ext: Ext, table: PartitionedTable) -> None:
        self.ext = ext
        self.rt = ext.runtime
        self.table = table
        self._staged: Changed = {}
        self._facts: list[tuple[StepFact, CaseEvent]] = []  # the batch's, for the hooks
        self.window = window_of(self.rt.settings.event_max_age_s,
                                self.rt.settings.event_max_ahead_s)
        self.rt.config.on_change("sla", self.rebuild_deadlines)
        self._verdicts_topic = CASE_VERDICTS.name(self.rt.settings.topic_prefix)
        # The open supervision orders' deadlines (derived like the SLA index; an entry's
        # clock is the order's issue time, which names it).
        self.orders = DeadlineIndex()

    def load(self, case_id: str) -> CaseRecord | None:
        """The stored record of ``case_id``."""
        raw = self.table.get(case_id.encode())
        return decode_record(raw) if raw else None

    # -- the batch -------------------------------------------------------------------------

    def decode(self, record: Any) -> list[CaseEvent]:
        """One event, or the events of a packed message."""
        return decode_one_or_many(record.value, CaseEvent)

    async def handle(self, batch: list[Item], out: Outbox) -> Tally:
        """Apply every event; stage the changed records; rows and wall updates per case."""
        changed: Changed = {}
        self._facts = []
        for rec, events in batch:
            for event in events:
                self._apply(rec, event, len(events) > 1, changed, out)
        facts, self._facts = self._facts, []
        for hook in self.rt.case_hooks:
            hook(facts)
        sla = self.rt.config.sla
        for case_id, (_, new) in changed.items():
            deadline = deadline_ms(new, sla)
            out.row("cases", case_row(new, deadline), case_id)
            out.wall("cases", case_id, new.snapshot.updated_ms,
                     case_wall(new, deadline, escalation_ms(new, sla)), new.snapshot.grid_id)
        self._staged = changed
        return Tally()

    def _apply(self, rec: Any, event: CaseEvent, packed: bool, changed: Changed,
               out: Outbox) -> None:
        # A packed message's events share its offset: (event_id, offset) still identifies
        # each one for replay detection.
        raw = encode(event) if packed else rec.value
        key_grid = rec.key.decode() if rec.key else None
        if event.grid_id is None and key_grid:
            event = msgspec.structs.replace(event, grid_id=key_grid)
        held = changed.get(event.case_id)
        record = held[1] if held else self.load(event.case_id)
        try:
            outcome = process(record, event, rec.offset, self.rt.config.sla,
                              received_at(rec.timestamp, self.rt.clock()), self.window)
        except Exception as exc:  # noqa: BLE001 - bad data must never stop the agent
            log.exception("cases: event %s failed", event.event_id)
            out.dead("cases", event.source, f"internal error: {exc!r}", event.ts, raw,
                     event.grid_id)
            self._verdict(out, event, "refused", "internal error")
            return
        if outcome.rejection:
            out.dead("cases", event.source, outcome.rejection, event.ts, raw, event.grid_id)
            self._verdict(out, event, "refused", outcome.rejection)
            return
        if outcome.record is None:
            return
        new = outcome.record
        self._verdict(out, event, "applied", step=new.snapshot.step)
        changed[event.case_id] = (rec.partition, new)
        if outcome.fact is not None:
            self._facts.append((outcome.fact, event))
        out.row("case_transitions", transition_row(event, outcome.before, new, outcome.breach),
                (event.case_id, event.event_id))
        alert_ops = self.ext.topic(ALERT_OPS.base)
        for i, signal in enumerate(outcome.signals):
            op = AlertOp(op_id=f"sig.{event.case_id}.{event.event_id}.{i}", kind="signal",
                         grid_id=signal.grid_id, ts=signal.ts, signal=signal)
            out.send(alert_ops, signal.grid_id, encode(op))

    def _verdict(self, out: Outbox, event: CaseEvent, verdict: Verdict, reason: str = "",
                 step: str | None = None) -> None:
        """Publish the event's verdict on the case verdicts topic (keyed by its grid)."""
        out.send(self._verdicts_topic, event.grid_id or event.source, encode(CaseVerdict(
            event_id=event.event_id, case_id=event.case_id, source=event.source,
            verdict=verdict, ts=self.ext.now_ms(), reason=reason, step=step)))

    async def write_state(self) -> None:
        """Write the staged records, index their deadlines; return when the changelog is
        acknowledged."""
        staged, self._staged = self._staged, {}
        sla = self.rt.config.sla
        for case_id, (partition, rec) in staged.items():
            self.table.put(case_id.encode(), encode_record(rec), partition)
            self.rt.deadlines.set(case_id, rec.snapshot.grid_id, rec.clock_start_ms,
                                  escalation_ms(rec, sla))
            self.rt.finished.track(case_id, rec.snapshot.step, rec.snapshot.updated_ms)
            self._index_order(rec)
        await self.table.write_changelog()

    def _index_order(self, rec: CaseRecord) -> None:
        """Index the record's open supervision order (or drop its entry)."""
        order = rec.snapshot.supervision
        self.orders.set(rec.snapshot.case_id, rec.snapshot.grid_id,
                        order.since_ms if order else 0, supervision_due_ms(rec))

    # -- recovery ------------------------------------------------------------------------

    def records(self) -> list[CaseRecord]:
        """Every record of the table (this worker's cases)."""
        return [decode_record(raw) for raw in list(self.table.values()) if raw]

    async def on_recovered(self) -> None:
        """After Faust recovered the table: rebuild the derived state, run the hooks."""
        records = self.records()
        self.rebuild_from(records)
        for hook in self.rt.recovery_hooks:
            hook(records)

    def rebuild_deadlines(self) -> None:
        """Rebuild the deadline index from the table (the SLA policy changed)."""
        self.rebuild_from(self.records())

    def rebuild_from(self, records: list[CaseRecord]) -> None:
        """The deadline index and the finished cases, from the table's records."""
        rt = self.rt
        rt.finished.clear()
        entries = []
        for rec in records:
            entries.append((rec.snapshot.case_id, rec.snapshot.grid_id, rec.clock_start_ms,
                            escalation_ms(rec, rt.config.sla)))
            rt.finished.track(rec.snapshot.case_id, rec.snapshot.step, rec.snapshot.updated_ms)
        rt.deadlines.rebuild(entries)
        self.orders.rebuild([])
        for rec in records:
            self._index_order(rec)
        log.info("deadline index rebuilt: %d open case(s)", len(rt.deadlines))

    # -- timers --------------------------------------------------------------------------

    def timers(self) -> list[Timer]:
        """The SLA timer and the prune timer."""
        return [Timer("sla_timer", SLA_TICK_S, self.fire_breaches),
                Timer("prune_timer", PRUNE_TICK_S, self.prune_finished)]

    async def fire_breaches(self) -> int:
        """Send an escalate event for each due step deadline and each missed supervision
        order (a bounded number of each); return how many were due."""
        rt = self.rt
        now = rt.clock()
        due = rt.deadlines.due(now, BREACHES_PER_TICK)
        orders = self.orders.due(now, BREACHES_PER_TICK)
        if not due and not orders:
            return 0
        out = self.ext.outbox()
        topic = self.ext.topic(CASE_EVENTS.base)
        for item in due:
            record = self.load(item.case_id)
            if record is None or record.clock_start_ms != item.clock_start_ms:
                continue
            out.send(topic, item.grid_id, encode(breach_event(record, item.deadline_ms)))
            rt.breach_delays_ms.append(now - item.deadline_ms)
        for item in orders:
            record = self.load(item.case_id)
            order = record.snapshot.supervision if record else None
            if record is None or order is None or order.since_ms != item.clock_start_ms:
                continue
            out.send(topic, item.grid_id,
                     encode(supervision_breach_event(record, item.deadline_ms)))
        await out.flush()
        return len(due) + len(orders)

    async def prune_finished(self) -> int:
        """Remove finished cases past their retention (tombstones acknowledged); return how
        many left memory."""
        rt = self.rt
        retention_ms = rt.settings.case_retention_days * DAY_MS
        pruned = 0
        for case_id in rt.finished.expired(rt.clock(), retention_ms, PRUNE_PER_TICK):
            rt.finished.forget(case_id)
            pruned += self.table.remove(case_id.encode())
        await self.table.write_changelog()
        if pruned:
            log.info("retention: %d finished case(s) left memory", pruned)
        return pruned


def case_wall(rec: CaseRecord, deadline: int | None, escalation: int | None
              ) -> dict[str, Any]:
    """The wall's case: the snapshot (with its tier, priority, holding unit and assignee),
    its step deadline (overdue from it until the case leaves the step or its holder), the
    next escalation (its own clock) and the open supervision order (``supervision``, or
    None). Free text leaves masked (phones, ID numbers, e-mails:
    :func:`domain.privacy.mask_text`); the holders' history, attachments, reporter and
    handler stay in the worker and ClickHouse."""
    data = msgspec.structs.asdict(rec.snapshot)
    for name in _NOT_ON_WALL:
        data.pop(name, None)
    data.update(deadline_ms=deadline, escalation_ms=escalation, breaches=rec.breaches,
                version=rec.version, description=mask_text(rec.snapshot.description) or "",
                actor=mask_text(rec.snapshot.actor) or "",
                assignee=mask_text(rec.snapshot.assignee),
                supervision=_order_on_wall(rec.snapshot.supervision))
    return data


def _order_on_wall(order: Supervision | None) -> dict[str, Any] | None:
    """The open supervision order as the wall shows it (its free text masked)."""
    if order is None:
        return None
    return {"unit": order.unit, "deadline_ms": order.deadline_ms,
            "by": mask_text(order.by) or "", "since_ms": order.since_ms,
            "breached_ms": order.breached_ms, "note": mask_text(order.note) or ""}


_NOT_ON_WALL = ("holders", "attachments", "reporter", "handler")
