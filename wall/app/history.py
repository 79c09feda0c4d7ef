"""Case timelines: the steps a case went through, from ClickHouse transitions or from deltas.

:class:`CaseHistory` watches ``cases`` items and records each change of step (with the
time it was entered and who entered it), for at most ``max_cases`` cases (least recently
changed forgotten first). :func:`timeline` merges recorded transitions into the six-step
view. Pure: no I/O, time comes from the items.

Guarantee: a step is credited to whoever *entered* it, never to a later action within the
step (an ``escalate`` raises the tier without moving the case, and the case's ``actor`` is
then the escalator). A transition that stays in its step credits nothing; a case item whose
last action did not enter its step (``updated_ms`` after ``step_entered_ms``) gives the
entry time but no actor.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from wall.app.fields import integer, text
from wall.app.kpis import SIX_STEPS


@dataclass(frozen=True)
class Transition:
    """One recorded move of a case: when, the action, steps and tiers, and who."""

    ts_ms: int
    action: str
    from_step: str
    to_step: str
    to_tier: int
    actor: str


@dataclass(frozen=True)
class StepMark:
    """One of the six steps: when it was last entered (None: not reached) and by whom."""

    step: str
    reached_ms: int | None
    actor: str
    current: bool


class CaseHistory:
    """Step changes observed per case, bounded; see the module docstring."""

    def __init__(self, max_cases: int = 5_000, max_per_case: int = 32) -> None:
        self.max_cases = max_cases
        self.max_per_case = max_per_case
        self._cases: OrderedDict[str, list[Transition]] = OrderedDict()

    def observe(self, case_id: str, data: Mapping[str, Any]) -> None:
        """Record ``data``'s step if it differs from the last one recorded for the case."""
        step = text(data, "step")
        if not step:
            return
        moves = self._cases.get(case_id)
        last = moves[-1].to_step if moves else ""
        if step == last:
            return
        if moves is None:
            moves = self._cases[case_id] = []
        ts = integer(data, "step_entered_ms", integer(data, "updated_ms"))
        entered_last = integer(data, "updated_ms", ts) <= ts
        moves.append(Transition(ts, "", last, step, integer(data, "tier", 1),
                                text(data, "actor") if entered_last else ""))
        del moves[: -self.max_per_case]
        self._cases.move_to_end(case_id)
        while len(self._cases) > self.max_cases:
            self._cases.popitem(last=False)

    def __len__(self) -> int:
        """How many cases have a recorded timeline (at most ``max_cases``)."""
        return len(self._cases)

    def transitions(self, case_id: str) -> list[Transition]:
        """The recorded transitions of a case, oldest first (a copy)."""
        return list(self._cases.get(case_id, ()))


def timeline(case: Mapping[str, Any], transitions: Iterable[Transition]) -> list[StepMark]:
    """The six steps of ``case``: when each was last entered and by whom.

    Only transitions that move the case into a step count (``from_step`` differs from
    ``to_step``); steps before the current one that no transition records are shown reached
    without a time (the case got there before the wall watched); ``reported`` falls back to
    the case's ``opened_ms``.
    """
    current = text(case, "step")
    reached: dict[str, tuple[int, str]] = {}
    for move in sorted(transitions, key=lambda t: t.ts_ms):
        if move.from_step != move.to_step:
            reached[move.to_step] = (move.ts_ms, move.actor)
    if "reported" not in reached and integer(case, "opened_ms"):
        reached["reported"] = (integer(case, "opened_ms"), "")
    index = SIX_STEPS.index(current) if current in SIX_STEPS else -1
    marks = []
    for i, step in enumerate(SIX_STEPS):
        if step in reached and i <= max(index, 0):
            ts, actor = reached[step]
            marks.append(StepMark(step, ts, actor, step == current))
        elif i <= index:
            marks.append(StepMark(step, 0, "", step == current))
        else:
            marks.append(StepMark(step, None, "", False))
    return marks
