"""Outcome counts per grid and per worker, and their scores with an explainable breakdown.

Attribution (from :class:`~streams.metrics.facts.StepFact`):

* a grid is credited with everything that happens to its cases;
* a worker is credited with the cases they report from the grid worker app (activity), and
  with the outcomes of the cases they handle — the actor of ``handle`` or
  ``resolve_on_spot`` becomes the case's handler: the handling step's timeliness, the
  closing, on-the-spot resolution, reopens and the resident's rating.

Guarantees: each fact is counted once; :func:`score` is 100 × the weighted mean of the
components that have data (see ``config/scoring.yaml``), its breakdown lists every component
with its share, effective weight and points, and the points add up to the score.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from streams.metrics.facts import StepFact
from streams.scores.policy import COMPONENTS, ScoringPolicy

WORKER_SOURCE = "grid_worker_app"
HANDLING_ACTIONS = ("handle", "resolve_on_spot")


class Outcomes(msgspec.Struct, kw_only=True):
    """What one subject (grid or worker) achieved."""

    reported: int = 0
    closed: int = 0
    on_spot: int = 0
    reopens: int = 0
    completed: int = 0
    on_time: int = 0
    rating_sum: int = 0
    ratings: int = 0

    @property
    def cases(self) -> int:
        """How many cases the subject reported or closed (the evidence behind its score)."""
        return self.reported + self.closed

    def count(self, fact: StepFact, timed: bool, credited: bool) -> None:
        """Count ``fact``; ``timed``: its step completion counts for timeliness;
        ``credited``: its outcome (closing, reopen, rating) counts for this subject."""
        if timed and fact.left_step and fact.left_deadline_ms:
            self.completed += 1
            self.on_time += fact.ts <= fact.left_deadline_ms
        if not credited:
            return
        if fact.to_step == "closed" and fact.from_step != "closed":
            self.closed += 1
            self.on_spot += fact.action == "resolve_on_spot"
        if fact.action == "reopen":
            self.reopens += 1
        if fact.action == "evaluate" and fact.rating:
            self.rating_sum += fact.rating
            self.ratings += 1


class Score(msgspec.Struct, kw_only=True):
    """A subject's score and how it was made."""

    kind: str
    subject: str
    score: float
    cases: int
    breakdown: list[dict[str, Any]]


def components(outcomes: Outcomes, activity_target: float) -> dict[str, tuple[float, str]]:
    """The components that have data: name → (share in [0, 1], the figures behind it)."""
    out: dict[str, tuple[float, str]] = {}
    o = outcomes
    if o.completed:
        out["on_time"] = (o.on_time / o.completed, f"{o.on_time}/{o.completed} steps on time")
    if o.closed:
        out["on_spot"] = (o.on_spot / o.closed, f"{o.on_spot}/{o.closed} closed on the spot")
        out["reopen"] = (max(0.0, 1 - o.reopens / o.closed),
                         f"{o.reopens} reopened of {o.closed} closed")
    if o.ratings:
        avg = o.rating_sum / o.ratings
        out["evaluation"] = ((avg - 1) / 4, f"mean rating {avg:.2f} of {o.ratings}")
    out["activity"] = (min(1.0, o.reported / activity_target),
                       f"{o.reported} reported (target {activity_target:g})")
    return out


def score(kind: str, subject: str, outcomes: Outcomes, policy: ScoringPolicy) -> Score:
    """Score ``outcomes``; see the module docstring."""
    parts = components(outcomes, policy.activity_target[kind])
    used = {c: policy.weights[c] for c in COMPONENTS if c in parts and policy.weights[c] > 0}
    total = sum(used.values())
    breakdown = []
    points_sum = 0.0
    for name in COMPONENTS:
        share, figures = parts.get(name, (None, "no data"))
        weight = used.get(name, 0.0) / total if total else 0.0
        points = 100 * weight * share if share is not None else 0.0
        points_sum += points
        breakdown.append({"component": name, "share": share, "weight": round(weight, 4),
                          "points": round(points, 2), "figures": figures})
    return Score(kind=kind, subject=subject, score=round(points_sum, 2),
                 cases=outcomes.cases, breakdown=breakdown)


class ScoreBook:
    """Outcomes of every grid and worker seen; see the module docstring."""

    def __init__(self, policy: ScoringPolicy) -> None:
        self.policy = policy
        self.outcomes: dict[str, dict[str, Outcomes]] = {"grid": {}, "worker": {}}
        self.handlers: dict[str, str] = {}

    def update(self, facts: Iterable[StepFact]) -> set[tuple[str, str]]:
        """Count ``facts``; return the (kind, subject) pairs whose outcomes changed."""
        changed: set[tuple[str, str]] = set()
        for fact in facts:
            self._subject("grid", fact.grid_id).count(fact, timed=True, credited=True)
            if fact.is_new:
                self._subject("grid", fact.grid_id).reported += 1
            changed.add(("grid", fact.grid_id))
            worker = self._worker_of(fact)
            if worker:
                outcomes = self._subject("worker", worker)
                if fact.is_new and fact.source == WORKER_SOURCE:
                    outcomes.reported += 1
                outcomes.count(fact, timed=fact.action in HANDLING_ACTIONS, credited=True)
                changed.add(("worker", worker))
            if fact.to_step in ("evaluated", "rejected"):
                self.handlers.pop(fact.case_id, None)
        return changed

    def scores(self, kind: str) -> list[Score]:
        """Scores of every subject of ``kind``, in subject order."""
        return [score(kind, s, o, self.policy) for s, o in sorted(self.outcomes[kind].items())]

    def _subject(self, kind: str, subject: str) -> Outcomes:
        book = self.outcomes[kind]
        out = book.get(subject)
        if out is None:
            out = book[subject] = Outcomes()
        return out

    def _worker_of(self, fact: StepFact) -> str:
        if fact.action in HANDLING_ACTIONS and fact.actor:
            self.handlers[fact.case_id] = fact.actor
            return fact.actor
        if fact.is_new and fact.source == WORKER_SOURCE and fact.actor:
            return fact.actor
        return self.handlers.get(fact.case_id, "")
