"""The six-step closed loop as pure functions, with the unit that holds the case.

reported → verified (or rejected) → dispatched → handled → closed (or reopened back to
dispatched) → evaluated. A grid worker may resolve a case on the spot (tier 1: it is
closed at once). ``escalate`` raises the tier by one without changing the step.

Dispatch work (指挥派遣): ``dispatch`` names a target unit (and optionally a person);
the receiver accepts (``accept``: the step stays ``dispatched``; a second accept is refused)
or declines with a reason before accepting (``decline``: the case goes back to ``verified``
in the dispatcher's queue); the dispatcher may ``reassign`` a dispatched or declined case
to another unit or person (``target_unit`` required). ``escalate`` moves the case into the
next tier's queue (grid → community → street centre → district) and keeps its history.

Supervision (督办): ``supervise`` (a leader's or the centre's order, in a step of
:data:`SUPERVISED_STEPS`) names a unit that must act by ``deadline_ms`` (after the order's
time); the snapshot keeps it as ``supervision`` (a later order replaces it) without changing
the step or the holder. Reaching ``handled`` or the end of the loop clears it.

Holders: every snapshot names the unit holding the case (``unit``, a tier queue from
:class:`TierQueues` or a dispatched unit) and the person (``assignee``); ``holders`` lists
each holder in order with the action that handed the case over. A reported or verified case
is held by its tier's queue (the dispatcher's), a dispatched one by its target (an untargeted
dispatch, as older clients send, leaves it with the tier's queue), a handled or closed one
by the tier's queue again (the checker is not the handler); a reopen returns it to the unit
it was last dispatched to. ``sla_start_ms`` starts the step's SLA: at step entry, and again
when a reassign hands the case to another holder, so each step's SLA runs against the unit
that holds it (a decline enters ``verified``, so it restarts too).

:func:`apply` is total: for every (state, event) it returns either a :class:`Transition`
with the new state or a :class:`Rejection` with a reason; it never raises on legal input
types and never mutates its arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import msgspec

from domain.schemas import CaseEvent, CaseSnapshot, Holding, Supervision
from domain.vocab import MAX_TIER, OPEN_STEPS, TERMINAL_STEPS

# Steps a supervision order may be issued in; reaching any other step (handled, or the end
# of the loop) fulfils and clears the order.
SUPERVISED_STEPS: tuple[str, ...] = ("reported", "verified", "dispatched")
# action -> (steps it may start from, step it leads to); None as a source means "no case".
TRANSITIONS: dict[str, tuple[tuple[str | None, ...], str | None]] = {
    "report": ((None,), "reported"),
    "resolve_on_spot": ((None, "reported"), "closed"),
    "verify": (("reported",), "verified"),
    "reject": (("reported",), "rejected"),
    "dispatch": (("verified",), "dispatched"),
    "accept": (("dispatched",), "dispatched"),
    "decline": (("dispatched",), "verified"),
    "reassign": (("verified", "dispatched"), "dispatched"),
    "handle": (("dispatched",), "handled"),
    "close": (("handled",), "closed"),
    "reopen": (("handled", "closed"), "dispatched"),
    "evaluate": (("closed",), "evaluated"),
    "escalate": (OPEN_STEPS, None),  # None: the step stays, the tier rises
    "supervise": (SUPERVISED_STEPS, None),  # the step and holder stay; the order is kept
}
HOLDERS_LIMIT = 32  # holders kept per case (the oldest dropped first)
MAX_ATTACHMENTS_KEPT = 16  # attachments kept per case (the first ones)


class TierQueues(Protocol):
    """The unit (queue) that holds a case of ``grid_id`` at ``tier`` until it is
    dispatched."""

    def queue(self, tier: int, grid_id: str) -> str:
        """The queue's unit id."""


@dataclass(frozen=True)
class DefaultQueues:
    """The street's tier queues: ``grid.<grid id>``, the community station
    ``CS-<community>`` (a grid id is ``<community>-<nn>``), the centre ``CC``, and the
    ``district`` queue."""

    centre: str = "CC"
    district: str = "district"

    def queue(self, tier: int, grid_id: str) -> str:
        """The queue of ``tier`` for ``grid_id``."""
        if tier <= 1:
            return f"grid.{grid_id}"
        if tier == 2:
            return f"CS-{community_of(grid_id)}"
        return self.centre if tier == 3 else self.district


DEFAULT_QUEUES = DefaultQueues()


def community_of(grid_id: str) -> str:
    """The community of a grid of this street: a grid id is ``<community>-<nn>``."""
    return grid_id.split("-")[0]


@dataclass(frozen=True)
class Transition:
    """A legal step: the state before (None for a new case) and after."""

    before: CaseSnapshot | None
    after: CaseSnapshot

    @property
    def from_step(self) -> str | None:
        """The step the case left (None for a new case)."""
        return self.before.step if self.before else None

    @property
    def to_step(self) -> str:
        """The step the case is in now."""
        return self.after.step


@dataclass(frozen=True)
class Rejection:
    """An illegal step, with the reason in words a duty officer understands."""

    reason: str


def initial_tier(priority: str) -> int:
    """Emergencies start at the street command centre (tier 3), everything else at tier 1."""
    return 3 if priority == "emergency" else 1


def apply(state: CaseSnapshot | None, event: CaseEvent, grid_id: str | None = None,
          queues: TierQueues = DEFAULT_QUEUES) -> Transition | Rejection:
    """Apply ``event`` to ``state``; ``grid_id`` is the geocoded grid for new cases."""
    sources, target = TRANSITIONS[event.action]
    current = state.step if state else None
    if current not in sources:
        return Rejection(_illegal(event.action, current, sources))
    if state is not None and event.case_id != state.case_id:
        return Rejection(f"event for case {event.case_id} applied to case {state.case_id}")
    if state is None:
        return _open(event, grid_id or event.grid_id, target or "reported", queues)
    refusal = _dispatch_refusal(state, event)
    if refusal is not None:
        return Rejection(refusal)
    if event.action == "supervise":
        return _supervised(state, event)
    if event.action == "escalate":
        if state.tier >= MAX_TIER:
            return Rejection(f"case {state.case_id} is already at the top tier ({MAX_TIER})")
        tier = state.tier + 1
        moved = _held(state, event, queues.queue(tier, state.grid_id), None, restart=False)
        return Transition(state, _replace(moved, event, tier=tier,
                                          escalations=state.escalations + 1))
    changes: dict[str, object] = {"step": target, "step_entered_ms": event.ts}
    if target != state.step:
        changes["sla_start_ms"] = event.ts
    if event.action == "reopen":
        changes["reopen_count"] = state.reopen_count + 1
    if event.action == "resolve_on_spot":
        changes["on_spot"] = True
    if event.action in ("handle", "resolve_on_spot"):
        changes["handler"] = event.actor
    if event.action == "evaluate":
        changes["rating"] = event.rating
    if target == state.step:
        changes["step_entered_ms"] = state.step_entered_ms  # the step goes on
    if target not in SUPERVISED_STEPS:
        changes["supervision"] = None  # handled or finished: the order is fulfilled
    moved = _holder_after(state, event, queues)
    return Transition(state, _replace(moved, event, **changes))


def _supervised(state: CaseSnapshot, event: CaseEvent) -> Transition | Rejection:
    """``state`` under the supervision order ``event`` (it replaces an earlier one); the
    deadline must lie after the order's time."""
    unit, deadline = event.target_unit, event.deadline_ms
    if unit is None or deadline is None:
        return Rejection("'supervise' needs target_unit and deadline_ms")
    ts = max(event.ts, state.updated_ms)
    if deadline <= ts:
        return Rejection(f"'supervise' deadline {deadline} is not after the order's time {ts}")
    order = Supervision(unit=unit, deadline_ms=deadline, by=event.actor, since_ms=ts,
                        note=event.note)
    return Transition(state, _replace(state, event, supervision=order))


def _dispatch_refusal(state: CaseSnapshot, event: CaseEvent) -> str | None:
    """Why an accept, decline or reassign does not fit the case's holder, or None."""
    if event.action == "accept" and state.accepted_ms is not None:
        return (f"'accept' is not allowed: case {state.case_id} was already accepted by "
                f"{state.assignee or state.unit}")
    if event.action == "decline" and state.accepted_ms is not None:
        return (f"'decline' is not allowed: case {state.case_id} was accepted; the "
                "dispatcher may reassign it")
    if (event.action == "reassign" and event.target_unit == state.unit
            and event.target_person == state.assignee):
        return f"'reassign' is not allowed: case {state.case_id} is already held by {state.unit}"
    return None


def _holder_after(state: CaseSnapshot, event: CaseEvent, queues: TierQueues) -> CaseSnapshot:
    """``state`` with the holder the workflow ``event`` hands the case to."""
    queue = queues.queue(state.tier, state.grid_id)
    action = event.action
    if action in ("dispatch", "reassign"):
        unit = event.target_unit or queue
        moved = _held(state, event, unit, event.target_person, restart=True)
        return msgspec.structs.replace(moved, dispatched_unit=unit, accepted_ms=None)
    if action == "accept":
        person = event.target_person or event.actor or None
        moved = _held(state, event, state.unit or queue, person, restart=False)
        return msgspec.structs.replace(moved, accepted_ms=event.ts)
    if action == "reopen":
        moved = _held(state, event, state.dispatched_unit or queue, None, restart=True)
        return msgspec.structs.replace(moved, accepted_ms=None)
    if action == "decline":
        moved = _held(state, event, queue, None, restart=True)
        return msgspec.structs.replace(moved, accepted_ms=None)
    if action in ("handle", "resolve_on_spot"):
        return _held(state, event, queue, None, restart=True)
    return state


def _held(state: CaseSnapshot, event: CaseEvent, unit: str, person: str | None,
          restart: bool) -> CaseSnapshot:
    """``state`` held by ``unit``/``person`` from ``event`` on (a new :class:`Holding` if
    either changed or the event gives a reason); ``restart`` restarts the step's SLA."""
    if unit == state.unit and person == state.assignee and not event.reason:
        return state
    holding = Holding(unit=unit, person=person, since_ms=event.ts, action=event.action,
                      reason=event.reason)
    changes: dict[str, object] = {"unit": unit, "assignee": person,
                                  "holders": [*state.holders[-(HOLDERS_LIMIT - 1):], holding]}
    if restart:
        changes["sla_start_ms"] = event.ts
    return msgspec.structs.replace(state, **changes)


def _open(event: CaseEvent, grid_id: str | None, step: str, queues: TierQueues
          ) -> Transition | Rejection:
    if grid_id is None:
        return Rejection(f"case {event.case_id} has no grid: give grid_id or lon/lat")
    if event.category is None:
        return Rejection(f"case {event.case_id} has no category")
    tier = initial_tier(event.priority)
    unit = queues.queue(tier, grid_id)
    on_spot = event.action == "resolve_on_spot"
    snapshot = CaseSnapshot(
        case_id=event.case_id, grid_id=grid_id, category=event.category,
        priority=event.priority, step=step,  # type: ignore[arg-type]
        tier=tier, opened_ms=event.ts, step_entered_ms=event.ts,
        updated_ms=event.ts, source=event.source, on_spot=on_spot,
        description=event.description, actor=event.actor, last_event_id=event.event_id,
        unit=unit, sla_start_ms=event.ts, reporter=event.actor,
        handler=event.actor if on_spot else "",
        holders=[Holding(unit=unit, since_ms=event.ts, action=event.action)],
        attachments=list(event.attachments[:MAX_ATTACHMENTS_KEPT]),
    )
    return Transition(None, snapshot)


def _replace(state: CaseSnapshot, event: CaseEvent, **changes: object) -> CaseSnapshot:
    if event.attachments and len(state.attachments) < MAX_ATTACHMENTS_KEPT:
        room = MAX_ATTACHMENTS_KEPT - len(state.attachments)
        changes["attachments"] = [*state.attachments, *event.attachments[:room]]
    return msgspec.structs.replace(state, updated_ms=max(state.updated_ms, event.ts),
                                   actor=event.actor or state.actor,
                                   last_event_id=event.event_id, **changes)


def _illegal(action: str, current: str | None, sources: tuple[str | None, ...]) -> str:
    if current is None:
        return f"'{action}' needs an existing case; the case is unknown"
    if current in TERMINAL_STEPS:
        return f"'{action}' is not allowed: the case is already {current}"
    if None in sources and len(sources) == 1:
        return f"'{action}' opens a case, but the case already exists (step {current})"
    allowed = ", ".join(s for s in sources if s)
    return f"'{action}' is not allowed from step '{current}' (only from: {allowed})"


def sla_start(state: CaseSnapshot) -> int:
    """When the SLA of the case's current step started for its holder: step entry, or the
    last reassign (a snapshot from before holders has no ``sla_start_ms``: step entry)."""
    return max(state.step_entered_ms, state.sla_start_ms)


def is_open(state: CaseSnapshot) -> bool:
    """True while the case waits on someone (its SLA clock runs)."""
    return state.step in OPEN_STEPS
