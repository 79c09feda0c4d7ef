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

from domain.scoring_policy import COMPONENTS, ScoringPolicy
from streams.metrics.facts import StepFact
from streams.scores.periods import period_key, period_start

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
        """Add ``other``'s counts to these (every field; spelled out, this runs once per
        worker and grid in a ranking)."""
        self.reported += other.reported
        self.closed += other.closed
        self.on_spot += other.on_spot
        self.reopens += other.reopens
        self.completed += other.completed
        self.on_time += other.on_time
        self.rating_sum += other.rating_sum
        self.ratings += other.ratings

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


class ScoreMemo:
    """:func:`score` remembered by kind and outcomes, so a ranking of many subjects scores
    each distinct set of outcomes once (most grids of a city share a few).

    Guarantee: :meth:`score` returns what :func:`score` returns (a score depends on the
    subject's kind, outcomes and the policy only; the breakdown list is shared between equal
    results and must not be changed). Forgets everything when the policy object changes or
    past ``limit`` entries.
    """

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self.policy: ScoringPolicy | None = None
        self.memo: dict[tuple[Any, ...], Score] = {}

    def score(self, kind: str, subject: str, outcomes: Outcomes, policy: ScoringPolicy
              ) -> Score:
        """``score(kind, subject, outcomes, policy)``, computed once per distinct input."""
        if policy is not self.policy or len(self.memo) >= self.limit:
            self.memo.clear()
            self.policy = policy
        key = (kind, msgspec.structs.astuple(outcomes))
        known = self.memo.get(key)
        if known is None:
            known = self.memo[key] = score(kind, "", outcomes, policy)
        return Score(kind=kind, subject=subject, score=known.score, cases=known.cases,
                     breakdown=known.breakdown)


class PeriodOutcomes(msgspec.Struct, kw_only=True):
    """One grid's outcomes in one scoring period, and per worker the outcomes credited to
    that worker from the grid's cases in that period."""

    grid: Outcomes = msgspec.field(default_factory=Outcomes)
    workers: dict[str, Outcomes] = {}


class GridOutcomes(msgspec.Struct, kw_only=True):
    """Everything that happened to one grid's cases, per scoring period (key
    :func:`~streams.scores.periods.period_key`: the current and the previous period of each
    kind are kept); ``handlers`` maps an open case to the worker handling it."""

    periods: dict[str, PeriodOutcomes] = {}
    handlers: dict[str, str] = {}


class ScoreBook:
    """Outcomes per grid and period (and per worker within each); see the module docstring.

    A fact counts in the period of its time, for each period kind of the policy. A worker's
    outcomes are the sum over the grids of its cases, so a street-wide book
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
            worker = _worker_of(book.handlers, fact)
            for kind in self.policy.periods:
                key = period_key(kind, period_start(kind, fact.ts, self.policy.utc_offset_h))
                period = book.periods.get(key)
                if period is None:
                    period = book.periods[key] = PeriodOutcomes()
                    _keep_two_latest(book.periods, kind)
                _count(period, fact, worker)
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

    def latest(self, period_kind: str | None = None) -> str:
        """The key of the newest period of ``period_kind`` (default: the policy's first)
        held for any grid ("" if none)."""
        kind = period_kind or self.policy.periods[0]
        keys = [k for b in self.grids.values() for k in b.periods if k.startswith(f"{kind}:")]
        return max(keys, key=lambda k: int(k.split(":")[1]), default="")

    def subjects(self, kind: str, period: str | None = None) -> dict[str, Outcomes]:
        """The outcomes of every subject of ``kind`` ("grid" or "worker") in ``period``
        (a period key; default :meth:`latest`)."""
        key = self.latest() if period is None else period
        merged: dict[str, Outcomes] = {}
        for grid_id, book in self.grids.items():
            outcomes = book.periods.get(key)
            if outcomes is None:
                continue
            if kind == "grid":
                merged[grid_id] = outcomes.grid
                continue
            for worker, credited in outcomes.workers.items():
                merged.setdefault(worker, Outcomes()).merge(credited)
        return merged

    def scores(self, kind: str, period: str | None = None) -> list[Score]:
        """Scores of every subject of ``kind`` in ``period``, in subject order."""
        return [score(kind, s, o, self.policy)
                for s, o in sorted(self.subjects(kind, period).items())]


def _count(period: PeriodOutcomes, fact: StepFact, worker: str) -> None:
    period.grid.count(fact, timed=True, credited=True)
    if fact.is_new:
        period.grid.reported += 1
    if worker:
        outcomes = period.workers.get(worker)
        if outcomes is None:
            outcomes = period.workers[worker] = Outcomes()
        if fact.is_new and fact.source == WORKER_SOURCE:
            outcomes.reported += 1
        outcomes.count(fact, timed=fact.action in HANDLING_ACTIONS, credited=True)


def _keep_two_latest(periods: dict[str, PeriodOutcomes], kind: str) -> None:
    """Keep the current and the previous period of ``kind`` (older ones are frozen in
    ClickHouse already)."""
    keys = sorted((k for k in periods if k.startswith(f"{kind}:")),
                  key=lambda k: int(k.split(":")[1]))
    for key in keys[:-2]:
        del periods[key]


def _worker_of(handlers: dict[str, str], fact: StepFact) -> str:
    if fact.action in HANDLING_ACTIONS and fact.actor:
        handlers[fact.case_id] = fact.actor
        return fact.actor
    if fact.is_new and fact.source == WORKER_SOURCE and fact.actor:
        return fact.actor
    return handlers.get(fact.case_id, "")
