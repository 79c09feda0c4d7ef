"""One case event applied to the stored case: the cases agent's logic without Faust.

:func:`process` is total: for any stored record and decoded event it returns an
:class:`Outcome` that is either a new record (with the transition, alert signals and wall
data to emit), a silent skip (a replay of an event already applied from the same offset, or
an SLA escalation that went stale because the case moved on), or a rejection for the dead
letter topic (illegal transition, duplicate ``event_id`` at another offset).

Each step's SLA runs against the unit that holds the case: a ``reassign`` restarts the
step's deadline and escalation clock for the new unit (as a new step would), a ``decline``
returns the case to ``verified`` (a new step, its clock starts for the dispatcher's queue),
an ``accept`` changes neither; an escalation moves the case into the next tier's queue and
restarts only the escalation clock. A breach alert of the old holder clears when the case
changes step or holder.

SLA breaches arrive as ``escalate`` events written by the SLA timer (actor
:data:`SLA_ACTOR`, id :func:`sla_event_id`). Each escalation restarts the step's clock at the
breach's time — the breached deadline, or the time the timer fired when it was late
(:class:`streams.deadlines.DeadlineIndex`) — so tier *k* comes one step SLA after tier *k-1*
was applied, never sooner: a stale clock (a back-dated event, a long outage) escalates once
and then at the SLA's pace, it does not catch up tier after tier. A breach's clock never
moves back. At the top tier a breach is still recorded and alerted, the tier stays; the
``breaches`` and ``reopen_count`` counters saturate at :data:`COUNTER_MAX` (their UInt16
columns).

Times: an event earlier than the case's last update is applied at that update's time (time
never runs backwards within a case, so a back-dated workflow event cannot make a step
overdue before it began). Given ``received_ms`` (when the worker read the event), an event
whose time lies outside the plausible window around it (:class:`domain.plausible.TimeWindow`,
the gateway's rule, for events written straight to Kafka) is rejected for the dead letters.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import msgspec

from domain.alerts import Signal, fingerprint
from domain.case_machine import Rejection, apply, sla_start
from domain.plausible import TimeWindow
from domain.schemas import CaseEvent, CaseSnapshot
from domain.sla import SlaPolicy
from domain.vocab import MAX_TIER, OPEN_STEPS
from streams.metrics.facts import StepFact, fact_of

SLA_ACTOR = "sla-timer"
COUNTER_MAX = 65_535  # breaches and reopen_count are UInt16 columns
SUPERVISION_PREFIX = "sup."  # the id prefix of a supervision order's breach
SEEN_LIMIT = 64  # event ids remembered per case, for duplicate detection
# Step facts kept per case (a case has a handful; only reopen loops add more): the metrics
# and scores of a grid are rebuilt from them when its partition is assigned.
HISTORY_LIMIT = 128


class CaseRecord(msgspec.Struct, kw_only=True):
    """What the cases table stores per case: the snapshot and the workflow's bookkeeping.

    ``clock_start_ms`` is when the current step's escalation clock started (step entry or
    last breach); ``seen`` maps recent event ids to the input offset that applied them;
    ``history`` holds the step facts of the case's transitions in the order they were
    applied (escalations change no figure and are not kept), the source from which the
    grid's metrics and scores are rebuilt.
    """

    snapshot: CaseSnapshot
    clock_start_ms: int
    version: int = 1
    breaches: int = 0
    breached_step: str = ""
    seen: dict[str, int] = {}
    lon: float | None = None  # where it was reported (Open311 reads need it)
    lat: float | None = None
    note: str = ""  # the latest note of any event
    history: list[StepFact] = []


@dataclass(frozen=True)
class Outcome:
    """The result of one event: ``record`` (None unless applied), ``skip`` or ``rejection``.

    ``fact`` is the step fact the event added to the record's history (None for a skip,
    a rejection or an escalation).
    """

    record: CaseRecord | None = None
    fact: StepFact | None = None
    before: CaseRecord | None = None
    breach: bool = False
    skip: bool = False
    rejection: str | None = None
    signals: list[Signal] = field(default_factory=list)


_record_encoder = msgspec.json.Encoder()
_record_decoder = msgspec.json.Decoder(CaseRecord)


def encode_record(record: CaseRecord) -> bytes:
    """The table value of a record."""
    return _record_encoder.encode(record)


def decode_record(raw: bytes) -> CaseRecord:
    """A record from its table value."""
    return _record_decoder.decode(raw)


def received_at(kafka_ms: int, clock_ms: int) -> int:
    """When the worker received an event, for its time window: the record's Kafka timestamp
    (a replay judges the event as when it first arrived), or the worker's clock when that
    is earlier or the record has no timestamp (a record is not received after it is read)."""
    return min(kafka_ms, clock_ms) if kafka_ms > 0 else clock_ms


def window_of(max_age_s: int, max_ahead_s: int) -> TimeWindow:
    """The plausible window of event times (the settings ``event_max_age_s`` and
    ``event_max_ahead_s``)."""
    return TimeWindow.of(max_age_s, max_ahead_s)


def sla_event_id(case_id: str, clock_start_ms: int) -> str:
    """The deterministic id of the breach of the clock that started at ``clock_start_ms``.

    Deterministic so that a breach fired twice (timer retry, two workers during a
    rebalance) is applied once.
    """
    digest = hashlib.sha1(case_id.encode()).hexdigest()[:16]
    return f"sla.{clock_start_ms}.{digest}"


def deadline_ms(record: CaseRecord, policy: SlaPolicy) -> int | None:
    """The current step's deadline, from step entry; None if the step is not timed.

    This is what "overdue" means everywhere (wall, map, metrics, ClickHouse): a case is
    overdue from this deadline until it leaves the step or a reassign hands it to another
    unit (the new holder's clock starts then) — escalations do not move it.
    """
    snap = record.snapshot
    if snap.step not in OPEN_STEPS:
        return None
    return policy.deadline_ms(snap.category, snap.priority, snap.step, sla_start(snap))


def escalation_ms(record: CaseRecord, policy: SlaPolicy) -> int | None:
    """When the SLA timer escalates the case next; None if the step is not timed.

    The escalation clock restarts at each breach, so tier *k* is reached one step SLA
    after tier *k-1*; until the first breach it equals :func:`deadline_ms`.
    """
    snap = record.snapshot
    if snap.step not in OPEN_STEPS:
        return None
    return policy.deadline_ms(snap.category, snap.priority, snap.step, record.clock_start_ms)


def breach_event(record: CaseRecord, deadline: int) -> CaseEvent:
    """The ``escalate`` event the SLA timer writes when ``record`` breached at ``deadline``."""
    snap = record.snapshot
    return CaseEvent(event_id=sla_event_id(snap.case_id, record.clock_start_ms),
                     case_id=snap.case_id, action="escalate", ts=deadline,
                     source="command_centre", actor=SLA_ACTOR, grid_id=snap.grid_id,
                     note=f"SLA breach in step {snap.step} at tier {snap.tier}")


def supervision_event_id(case_id: str, since_ms: int) -> str:
    """The deterministic id of the missed deadline of the supervision order issued at
    ``since_ms``: fired twice, it is applied once."""
    digest = hashlib.sha1(case_id.encode()).hexdigest()[:16]
    return f"{SUPERVISION_PREFIX}{since_ms}.{digest}"


def supervision_due_ms(record: CaseRecord) -> int | None:
    """When the case's open supervision order breaches; None without one, or once its
    breach was applied (each order breaches once)."""
    order = record.snapshot.supervision
    if order is None or order.breached_ms:
        return None
    return order.deadline_ms


def supervision_breach_event(record: CaseRecord, deadline: int) -> CaseEvent:
    """The event the SLA timer writes when the supervision order of ``record`` missed its
    deadline (an ``escalate`` by :data:`SLA_ACTOR` whose id names the order)."""
    snap = record.snapshot
    order = snap.supervision
    assert order is not None
    return CaseEvent(event_id=supervision_event_id(snap.case_id, order.since_ms),
                     case_id=snap.case_id, action="escalate", ts=deadline,
                     source="command_centre", actor=SLA_ACTOR, grid_id=snap.grid_id,
                     note=f"supervision order to {order.unit} missed its deadline")


def supervision_fingerprint(case_id: str) -> str:
    """The condition "case's supervision order overdue": one alert per case."""
    return fingerprint("supervision_breach", case_id)


def breach_fingerprint(case_id: str, step: str) -> str:
    """The condition "case overdue in step": one alert per case and step."""
    return fingerprint("sla_breach", case_id, step)


def process(record: CaseRecord | None, event: CaseEvent, offset: int,
            policy: SlaPolicy | None = None, received_ms: int | None = None,
            window: TimeWindow | None = None) -> Outcome:
    """Apply ``event`` (read at input ``offset``) to ``record``; see the module docstring.

    With ``policy`` an applied transition other than an escalation adds its step fact
    (deadlines under ``policy``) to the record's history and to the outcome. With
    ``received_ms`` the event's time is checked against ``window`` (default: 7 days before
    to 5 minutes after).
    """
    if record is not None and event.event_id in record.seen:
        if record.seen[event.event_id] == offset or event.actor == SLA_ACTOR:
            return Outcome(skip=True)
        return Outcome(rejection=f"duplicate event_id {event.event_id} (already applied from "
                                 f"offset {record.seen[event.event_id]})")
    is_breach = event.actor == SLA_ACTOR and event.action == "escalate"
    if is_breach and event.event_id.startswith(SUPERVISION_PREFIX):
        return _supervision_breach(record, event, offset)
    if is_breach:
        if record is None or event.event_id != sla_event_id(record.snapshot.case_id,
                                                            record.clock_start_ms):
            return Outcome(skip=True)  # the case moved on before the breach was applied
        if record.snapshot.tier >= MAX_TIER:
            return _top_tier_breach(record, event, offset)
    elif received_ms is not None:
        problem = (window or TimeWindow()).problem(event.ts, received_ms)
        if problem is not None:
            return Outcome(rejection=f"ts: {problem.reason}")
    event = _in_order(record, event)
    result = apply(record.snapshot if record else None, event)
    if isinstance(result, Rejection):
        return Outcome(rejection=result.reason)
    after = _saturated(result.after)
    # A new step, or a new holder of the step (a reassign): its SLA starts afresh.
    step_changed = record is None or after.step != record.snapshot.step or (
        after.sla_start_ms != record.snapshot.sla_start_ms)
    clock = event.ts if record is None or step_changed or is_breach else record.clock_start_ms
    new = CaseRecord(snapshot=after, clock_start_ms=clock,
                     version=(record.version + 1) if record else 1,
                     breaches=min(COUNTER_MAX, (record.breaches if record else 0)
                                  + int(is_breach)),
                     breached_step=after.step if is_breach else (
                         "" if step_changed else (record.breached_step if record else "")),
                     seen=_remember(record.seen if record else {}, event.event_id, offset),
                     lon=record.lon if record else event.lon,
                     lat=record.lat if record else event.lat,
                     note=event.note or (record.note if record else ""),
                     history=record.history if record else [])
    fact = None
    if policy is not None and event.action not in ("escalate", "supervise"):
        fact = fact_of(record.snapshot if record else None, after, event, policy)
        new.history = [*new.history[-(HISTORY_LIMIT - 1):], fact]
    signals: list[Signal] = []
    if record is not None and step_changed and record.breached_step:
        signals.append(_clear(record, event.ts))
    if is_breach:
        signals.append(_raise(new, event.ts))
    if record is not None:
        signals.extend(_supervision_cleared(record.snapshot, after, event.ts))
    return Outcome(record=new, before=record, fact=fact, breach=is_breach, signals=signals)


def _in_order(record: CaseRecord | None, event: CaseEvent) -> CaseEvent:
    """``event``, at the case's last update time if it claims an earlier one (a breach: at
    its clock's start if earlier, so a clock never moves back)."""
    if record is None:
        return event
    floor = (record.clock_start_ms if event.actor == SLA_ACTOR
             else record.snapshot.updated_ms)
    return event if event.ts >= floor else msgspec.structs.replace(event, ts=floor)


def _saturated(snap: CaseSnapshot) -> CaseSnapshot:
    """``snap`` with its counters at most :data:`COUNTER_MAX`."""
    if snap.reopen_count <= COUNTER_MAX and snap.escalations <= COUNTER_MAX:
        return snap
    return msgspec.structs.replace(snap, reopen_count=min(COUNTER_MAX, snap.reopen_count),
                                   escalations=min(COUNTER_MAX, snap.escalations))


def _top_tier_breach(record: CaseRecord, event: CaseEvent, offset: int) -> Outcome:
    event = _in_order(record, event)
    snap = msgspec.structs.replace(record.snapshot, last_event_id=event.event_id,
                                   updated_ms=max(record.snapshot.updated_ms, event.ts))
    new = msgspec.structs.replace(record, snapshot=snap, clock_start_ms=event.ts,
                                  version=record.version + 1,
                                  breaches=min(COUNTER_MAX, record.breaches + 1),
                                  breached_step=snap.step,
                                  seen=_remember(record.seen, event.event_id, offset))
    return Outcome(record=new, before=record, breach=True, signals=[_raise(new, event.ts)])


def _supervision_breach(record: CaseRecord | None, event: CaseEvent, offset: int) -> Outcome:
    """The missed deadline of the case's open supervision order: recorded on the order
    (``breached_ms``) and alerted, once; a stale one (the order was fulfilled, replaced or
    already breached) is skipped. The step, holder and tier stay."""
    order = record.snapshot.supervision if record else None
    if (record is None or order is None or order.breached_ms
            or event.event_id != supervision_event_id(record.snapshot.case_id,
                                                      order.since_ms)):
        return Outcome(skip=True)
    ts = max(event.ts, record.snapshot.updated_ms)
    breached = msgspec.structs.replace(order, breached_ms=ts)
    snap = msgspec.structs.replace(record.snapshot, supervision=breached,
                                   last_event_id=event.event_id, updated_ms=ts)
    new = msgspec.structs.replace(record, snapshot=snap, version=record.version + 1,
                                  seen=_remember(record.seen, event.event_id, offset))
    signal = Signal(fingerprint=supervision_fingerprint(snap.case_id), grid_id=snap.grid_id,
                    kind="sla_breach", category=snap.category, severity="critical",
                    title=f"Case {snap.case_id}: supervision order to {order.unit} overdue",
                    detail=f"deadline {order.deadline_ms}, issued by {order.by}", ts=ts,
                    case_id=snap.case_id, tier=snap.tier)
    return Outcome(record=new, before=record, breach=True, signals=[signal])


def _supervision_cleared(before: CaseSnapshot, after: CaseSnapshot, ts: int) -> list[Signal]:
    """The clearing of a breached supervision order's alert once the order is gone or
    replaced by another."""
    old = before.supervision
    if old is None or not old.breached_ms or (
            after.supervision is not None and after.supervision.since_ms == old.since_ms):
        return []
    return [Signal(fingerprint=supervision_fingerprint(after.case_id), grid_id=after.grid_id,
                   kind="sla_breach", category=after.category, severity="info",
                   title=f"Case {after.case_id}: supervision order settled", ts=ts,
                   raised=False, case_id=after.case_id, tier=after.tier)]


def _raise(record: CaseRecord, ts: int) -> Signal:
    snap = record.snapshot
    return Signal(fingerprint=breach_fingerprint(snap.case_id, snap.step),
                  grid_id=snap.grid_id, kind="sla_breach", category=snap.category,
                  severity="critical" if snap.tier >= 3 else "warning",
                  title=f"Case {snap.case_id} overdue in step {snap.step}",
                  detail=f"breach {record.breaches}, now at tier {snap.tier}", ts=ts,
                  case_id=snap.case_id, tier=snap.tier)


def _clear(record: CaseRecord, ts: int) -> Signal:
    snap = record.snapshot
    return Signal(fingerprint=breach_fingerprint(snap.case_id, record.breached_step),
                  grid_id=snap.grid_id, kind="sla_breach", category=snap.category,
                  severity="info", title=f"Case {snap.case_id} left step {snap.step}", ts=ts,
                  raised=False, case_id=snap.case_id, tier=snap.tier)


def _remember(seen: dict[str, int], event_id: str, offset: int) -> dict[str, int]:
    out = dict(seen)
    out[event_id] = offset
    while len(out) > SEEN_LIMIT:
        out.pop(next(iter(out)))
    return out
