"""The six-step closed loop as pure functions.

reported → verified (or rejected) → dispatched → handled → closed (or reopened back to
dispatched) → evaluated. A grid worker may resolve a case on the spot (tier 1: it is
closed at once). ``escalate`` raises the tier by one without changing the step.

:func:`apply` is total: for every (state, event) it returns either a :class:`Transition`
with the new state or a :class:`Rejection` with a reason; it never raises on legal input
types and never mutates its arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from domain.schemas import CaseEvent, CaseSnapshot
from domain.vocab import MAX_TIER, OPEN_STEPS, TERMINAL_STEPS

# action -> (steps it may start from, step it leads to); None as a source means "no case".
TRANSITIONS: dict[str, tuple[tuple[str | None, ...], str | None]] = {
    "report": ((None,), "reported"),
    "resolve_on_spot": ((None, "reported"), "closed"),
    "verify": (("reported",), "verified"),
    "reject": (("reported",), "rejected"),
    "dispatch": (("verified",), "dispatched"),
    "handle": (("dispatched",), "handled"),
    "close": (("handled",), "closed"),
    "reopen": (("handled", "closed"), "dispatched"),
    "evaluate": (("closed",), "evaluated"),
    "escalate": (OPEN_STEPS, None),  # None: the step stays, the tier rises
}


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


def apply(state: CaseSnapshot | None, event: CaseEvent, grid_id: str | None = None
          ) -> Transition | Rejection:
    """Apply ``event`` to ``state``; ``grid_id`` is the geocoded grid for new cases."""
    sources, target = TRANSITIONS[event.action]
    current = state.step if state else None
    if current not in sources:
        return Rejection(_illegal(event.action, current, sources))
    if state is not None and event.case_id != state.case_id:
        return Rejection(f"event for case {event.case_id} applied to case {state.case_id}")
    if state is None:
        return _open(event, grid_id or event.grid_id, target or "reported")
    if event.action == "escalate":
        if state.tier >= MAX_TIER:
            return Rejection(f"case {state.case_id} is already at the top tier ({MAX_TIER})")
        return Transition(state, _replace(state, event, tier=state.tier + 1,
                                          escalations=state.escalations + 1))
    changes: dict[str, object] = {"step": target, "step_entered_ms": event.ts}
    if event.action == "reopen":
        changes["reopen_count"] = state.reopen_count + 1
    if event.action == "resolve_on_spot":
        changes["on_spot"] = True
    if event.action == "evaluate":
        changes["rating"] = event.rating
    return Transition(state, _replace(state, event, **changes))


def _open(event: CaseEvent, grid_id: str | None, step: str) -> Transition | Rejection:
    if grid_id is None:
        return Rejection(f"case {event.case_id} has no grid: give grid_id or lon/lat")
    if event.category is None:
        return Rejection(f"case {event.case_id} has no category")
    snapshot = CaseSnapshot(
        case_id=event.case_id, grid_id=grid_id, category=event.category,
        priority=event.priority, step=step,  # type: ignore[arg-type]
        tier=initial_tier(event.priority), opened_ms=event.ts, step_entered_ms=event.ts,
        updated_ms=event.ts, source=event.source, on_spot=event.action == "resolve_on_spot",
        description=event.description, actor=event.actor, last_event_id=event.event_id,
    )
    return Transition(None, snapshot)


def _replace(state: CaseSnapshot, event: CaseEvent, **changes: object) -> CaseSnapshot:
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


def is_open(state: CaseSnapshot) -> bool:
    """True while the case waits on someone (its SLA clock runs)."""
    return state.step in OPEN_STEPS
