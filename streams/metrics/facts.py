"""Step facts: one applied case transition, reduced to what metrics and scores need.

:func:`fact_of` turns a transition of :mod:`domain.case_machine` (state before, state after,
the event) into a :class:`StepFact`, with the SLA deadline of the step the case left and of
the step it entered, both measured from step entry under the given policy. :class:`CaseView`
keeps the latest snapshot per case so that a job that reads raw case events (the benchmark,
a metrics-only worker) derives the same facts the cases agent would; it never raises on bad
input: illegal events are counted in ``rejected`` and produce no fact.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from domain.case_machine import Rejection, apply, sla_start
from domain.schemas import CaseEvent, CaseSnapshot
from domain.sla import SlaPolicy
from domain.vocab import OPEN_STEPS


class StepFact(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """One applied transition. ``from_step`` is "" for a new case.

    ``left_deadline_ms`` is the SLA deadline of ``from_step`` (0: no clock), ``deadline_ms``
    the deadline of ``to_step`` (0: no clock runs now). ``entered_ms`` is when the case
    entered ``from_step``; ``actor`` is who acted (a worker id for field actions).
    """

    case_id: str
    grid_id: str
    ts: int
    action: str
    from_step: str
    to_step: str
    entered_ms: int
    left_deadline_ms: int
    deadline_ms: int
    category: str
    priority: str
    tier: int
    on_spot: bool
    actor: str = ""
    source: str = ""
    rating: int = 0

    @property
    def is_new(self) -> bool:
        """The fact opens a case."""
        return not self.from_step

    @property
    def left_step(self) -> bool:
        """The case completed ``from_step`` (an escalation keeps the step: False)."""
        return bool(self.from_step) and self.from_step != self.to_step

    @property
    def is_open(self) -> bool:
        """After the fact the case waits on someone (its clock runs)."""
        return self.to_step in OPEN_STEPS


def open_deadline(snapshot: CaseSnapshot, policy: SlaPolicy) -> int | None:
    """The SLA deadline of the case's step measured from step entry (or from the reassign
    that handed it to its holder); None if it is not open."""
    if snapshot.step not in OPEN_STEPS:
        return None
    return policy.deadline_ms(snapshot.category, snapshot.priority, snapshot.step,
                              sla_start(snapshot))


def fact_of(before: CaseSnapshot | None, after: CaseSnapshot, event: CaseEvent,
            policy: SlaPolicy) -> StepFact:
    """The fact of the transition ``before`` → ``after`` caused by ``event``."""
    left = 0
    if before is not None:
        left = policy.deadline_ms(before.category, before.priority, before.step,
                                  sla_start(before)) or 0
    entered = open_deadline(after, policy)
    return StepFact(case_id=after.case_id, grid_id=after.grid_id, ts=event.ts,
                    action=event.action, from_step=before.step if before else "",
                    to_step=after.step,
                    entered_ms=before.step_entered_ms if before else event.ts,
                    left_deadline_ms=left, deadline_ms=entered or 0, category=after.category,
                    priority=after.priority, tier=after.tier, on_spot=after.on_spot,
                    actor=event.actor, source=event.source, rating=after.rating or 0)


class CaseView:
    """The latest snapshot of every case, and the facts of applying events to them."""

    def __init__(self, policy: SlaPolicy) -> None:
        self.policy = policy
        self.cases: dict[str, CaseSnapshot] = {}
        self.rejected = 0

    def apply(self, events: Iterable[CaseEvent]) -> list[StepFact]:
        """Apply ``events`` in order; return the facts of the legal ones."""
        facts: list[StepFact] = []
        for event in events:
            before = self.cases.get(event.case_id)
            result = apply(before, event)
            if isinstance(result, Rejection):
                self.rejected += 1
                continue
            self.cases[event.case_id] = result.after
            facts.append(fact_of(before, result.after, event, self.policy))
        return facts
