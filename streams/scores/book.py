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

    def merge(self, other: Outcomes) -> None:
        """Add ``other``'s counts to these."""
        for name in self.__struct_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

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


class GridOutcomes(msgspec.Struct, kw_only=True):
    """Everything that happened to one grid's cases: the grid's outcomes and, per worker,
    the outcomes credited to that worker from these cases (``handlers``: case → handler)."""

    grid: Outcomes = msgspec.field(default_factory=Outcomes)
    workers: dict[str, Outcomes] = {}
    handlers: dict[str, str] = {}


class ScoreBook:
    """Outcomes per grid (and per worker within each grid); see the module docstring.

    A worker's outcomes are the sum over the grids of its cases, so a street-wide book
    (:meth:`put_grid`, fed by the owners of the grids) scores workers exactly, whichever
    worker process owns which grid.
    """

    def __init__(self, policy: ScoringPolicy) -> None:
        self.policy = policy
        self.grids: dict[str, GridOutcomes] = {}

    def update(self, facts: Iterable[StepFact]) -> set[str]:
        """Count ``facts``; return the grids whose outcomes changed."""
        changed: set[str] = set()
        for fact in facts:
            book = self.grids.get(fact.grid_id)
            if book is None:
                book = self.grids[fact.grid_id] = GridOutcomes()
            book.grid.count(fact, timed=True, credited=True)
            if fact.is_new:
                book.grid.reported += 1
            worker = _worker_of(book.handlers, fact)
            if worker:
                outcomes = book.workers.get(worker)
                if outcomes is None:
                    outcomes = book.workers[worker] = Outcomes()
                if fact.is_new and fact.source == WORKER_SOURCE:
                    outcomes.reported += 1
                outcomes.count(fact, timed=fact.action in HANDLING_ACTIONS, credited=True)
            if fact.to_step in ("evaluated", "rejected"):
                book.handlers.pop(fact.case_id, None)
            changed.add(fact.grid_id)
        return changed

    def rebuild(self, facts: Iterable[StepFact]) -> set[str]:
        """Replace every grid's outcomes by counting ``facts`` (in replay order); return
        the grids held before or after."""
        before = set(self.grids)
        self.grids = {}
        return before | self.update(facts)

    def put_grid(self, grid_id: str, outcomes: GridOutcomes) -> None:
        """Hold ``outcomes`` as grid ``grid_id``'s (a street-wide book fed by grid owners)."""
        self.grids[grid_id] = outcomes

    def subjects(self, kind: str) -> dict[str, Outcomes]:
        """The outcomes of every subject of ``kind`` ("grid" or "worker")."""
        if kind == "grid":
            return {g: b.grid for g, b in self.grids.items()}
        merged: dict[str, Outcomes] = {}
        for book in self.grids.values():
            for worker, outcomes in book.workers.items():
                merged.setdefault(worker, Outcomes()).merge(outcomes)
        return merged

    def scores(self, kind: str) -> list[Score]:
        """Scores of every subject of ``kind``, in subject order."""
        return [score(kind, s, o, self.policy) for s, o in sorted(self.subjects(kind).items())]


def _worker_of(handlers: dict[str, str], fact: StepFact) -> str:
    if fact.action in HANDLING_ACTIONS and fact.actor:
        handlers[fact.case_id] = fact.actor
        return fact.actor
    if fact.is_new and fact.source == WORKER_SOURCE and fact.actor:
        return fact.actor
    return handlers.get(fact.case_id, "")
