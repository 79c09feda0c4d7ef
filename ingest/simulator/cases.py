"""Case lifecycles: who reports what, and how the case then moves through the six steps (pure).

:meth:`CasePlanner.plan` draws a whole life for a new case at once: the opening event
(``report``, or ``resolve_on_spot`` for a patrol that fixes the problem at once) and every
later step with the wait before it, in *simulated* seconds. Guarantees:

* the actions of a plan, applied in order with :func:`domain.case_machine.apply`, are all
  legal transitions (``escalate`` happens at most once, on a case below the top tier);
* each wait is drawn against the SLA deadline of the step the case is leaving
  (:class:`domain.sla.SlaPolicy`); a wait flagged ``breached`` exceeds its deadline by
  10-100 %, every other wait stays below 92 % of it — so the share of breaching cases is
  :attr:`CaseShares.breach` and tests can check breaches against the policy;
* the same ``random.Random`` state gives the same plan.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass

from domain.case_machine import initial_tier
from domain.contracts.vocabulary import CATEGORY_CATALOG, REPORT_ORIGINS
from domain.schemas import CaseEvent
from domain.sla import SlaPolicy
from ingest.simulator import fakes, phrases
from ingest.simulator.daymodel import is_night

ORIGIN_SOURCE = {"resident": "resident_app", "patrol": "grid_worker_app",
                 "property": "property_app"}
# Category mix per origin (relative weights), from the catalog's records.
CATEGORY_WEIGHTS: dict[str, dict[str, float]] = {
    origin: {c.name: w for c in CATEGORY_CATALOG for o, w in c.reports if o == origin}
    for origin in REPORT_ORIGINS}
NIGHT_NOISE_FACTOR = 4.0  # noise complaints dominate late evenings
PRIORITY_WEIGHTS = {"low": 20, "normal": 60, "high": 15, "emergency": 5}
# Which waits tend to run late when a case breaches: dispatch-to-handling most often.
BREACH_STEP_WEIGHTS = {"reported": 1.0, "verified": 1.0, "dispatched": 3.0, "handled": 1.5,
                       "closed": 0.5}
# (action, step left, source, actor): a path before any timing.
Move = tuple[str, str | None, str, str]
RATING_WEIGHTS = (2, 3, 10, 35, 50)  # ratings 1..5 of a case that went well
RATING_WEIGHTS_POOR = (10, 15, 30, 30, 15)  # ... after a breach or a reopen
COMMAND_CENTRE = "CC-duty"


@dataclass(frozen=True)
class CaseShares:
    """Probabilities that shape lifecycles (each in [0, 1])."""

    on_spot: float = 0.55  # patrol reports resolved on the spot
    reject: float = 0.08  # reports rejected at verification
    reopen: float = 0.10  # handled cases sent back by the check
    escalate: float = 0.06  # manual escalations while dispatched
    evaluate: float = 0.85  # closed cases that get a rating
    breach: float = 0.15  # cases with one late step


@dataclass(frozen=True, slots=True)
class PlannedStep:
    """One action of a plan, ``delay_s`` simulated seconds after the previous one.

    ``left_step`` is the step whose clock the wait ran against (None for the opening);
    ``breached`` says the wait exceeded that step's SLA deadline.
    """

    action: str
    delay_s: float
    source: str
    actor: str
    left_step: str | None = None
    note: str = ""
    rating: int | None = None
    breached: bool = False


@dataclass(frozen=True)
class CasePlan:
    """A case's whole life: what it is about and its steps in order."""

    case_id: str
    grid_id: str
    category: str
    priority: str
    origin: str
    description: str
    steps: tuple[PlannedStep, ...]
    lon: float | None = None
    lat: float | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None

    @property
    def breaches(self) -> int:
        """How many waits of the plan exceed their deadline."""
        return sum(step.breached for step in self.steps)

    def event(self, index: int, ts: int) -> CaseEvent:
        """The wire event of step ``index`` at ``ts`` (grid_id always filled).

        The opening event carries the place, the description and the reporter; every event
        carries category and priority, so each is understandable on its own.
        """
        step = self.steps[index]
        opening = index == 0
        return CaseEvent(
            event_id=f"{self.case_id}.{index}", case_id=self.case_id,
            action=step.action,  # type: ignore[arg-type]
            ts=ts, source=step.source, actor=step.actor,  # type: ignore[arg-type]
            category=self.category, priority=self.priority,  # type: ignore[arg-type]
            grid_id=self.grid_id, note=step.note, rating=step.rating,
            lon=self.lon if opening else None, lat=self.lat if opening else None,
            description=self.description if opening else "",
            reporter_name=self.reporter_name if opening else None,
            reporter_phone=self.reporter_phone if opening else None,
        )


def pick(rng: random.Random, weights: Mapping[str, float]) -> str:
    """A key of ``weights`` drawn with probability proportional to its weight."""
    return rng.choices(list(weights), weights=list(weights.values()))[0]


class CasePlanner:
    """Draws case lifecycles against an SLA policy (see the module docstring)."""

    def __init__(self, policy: SlaPolicy, shares: CaseShares | None = None) -> None:
        self.policy = policy
        self.shares = shares or CaseShares()

    def category(self, rng: random.Random, origin: str, hour: float) -> str:
        """A category for a report of ``origin`` at simulated ``hour``."""
        weights = dict(CATEGORY_WEIGHTS[origin])
        if is_night(hour) and "noise" in weights:
            weights["noise"] *= NIGHT_NOISE_FACTOR
        return pick(rng, weights)

    def plan(self, rng: random.Random, *, case_id: str, grid_id: str, community_id: str,
             origin: str, hour: float, lon: float | None = None, lat: float | None = None
             ) -> CasePlan:
        """Draw the whole life of a new case reported from ``origin`` at ``hour``."""
        category = self.category(rng, origin, hour)
        priority = pick(rng, PRIORITY_WEIGHTS)
        worker = f"W-{grid_id}-{rng.randint(1, 2)}"
        on_spot = origin == "patrol" and rng.random() < self.shares.on_spot
        skeleton = self._skeleton(rng, origin, worker, community_id, priority, on_spot)
        steps = self._timed(rng, skeleton, category, priority)
        resident = origin == "resident"
        return CasePlan(
            case_id=case_id, grid_id=grid_id, category=category, priority=priority,
            origin=origin, description=phrases.description(rng, category), steps=steps,
            lon=lon, lat=lat,
            reporter_name=fakes.person_name(rng) if resident else None,
            reporter_phone=fakes.mobile_phone(rng) if resident else None,
        )

    def _skeleton(self, rng: random.Random, origin: str, worker: str, community_id: str,
                  priority: str, on_spot: bool) -> list[Move]:
        """The path as (action, step left, source, actor), before any timing."""
        source = ORIGIN_SOURCE[origin]
        opener = worker if origin == "patrol" else f"{origin}-app-user"
        path: list[Move]
        if on_spot:
            path = [("resolve_on_spot", None, source, worker)]
        else:
            path = [("report", None, source, opener)]
            officer = COMMAND_CENTRE if initial_tier(priority) >= 3 else f"C-{community_id}"
            if rng.random() < self.shares.reject:
                return [*path, ("reject", "reported", "command_centre", officer)]
            path += [("verify", "reported", "command_centre", officer),
                     ("dispatch", "verified", "command_centre", officer)]
            if initial_tier(priority) < 3 and rng.random() < self.shares.escalate:
                path.append(("escalate", "dispatched", "grid_worker_app", worker))
            handler = ("department", "D-handler") if rng.random() < 0.4 else (
                "grid_worker_app", worker)
            path.append(("handle", "dispatched", *handler))
            if rng.random() < self.shares.reopen:
                path += [("reopen", "handled", "command_centre", COMMAND_CENTRE),
                         ("handle", "dispatched", *handler)]
            path.append(("close", "handled", "command_centre", COMMAND_CENTRE))
        if rng.random() < self.shares.evaluate:
            rater = ("resident_app", "resident") if origin == "resident" else (
                "command_centre", COMMAND_CENTRE)
            path.append(("evaluate", "closed", *rater))
        return path

    def _timed(self, rng: random.Random, skeleton: list[Move],
               category: str, priority: str) -> tuple[PlannedStep, ...]:
        """Attach waits (and notes, ratings) to the skeleton; at most one wait breaches."""
        waits = [i for i, (_, left, _, _) in enumerate(skeleton)
                 if left is not None and skeleton[i][0] != "escalate"]
        late: int | None = None
        if waits and rng.random() < self.shares.breach:
            late = rng.choices(waits, weights=[BREACH_STEP_WEIGHTS[skeleton[i][1] or ""]
                                               for i in waits])[0]
        poor = late is not None or any(a == "reopen" for a, *_ in skeleton)
        steps: list[PlannedStep] = []
        escalate_share = 0.0
        for i, (action, left, source, actor) in enumerate(skeleton):
            if left is None:
                steps.append(PlannedStep(action, 0.0, source, actor,
                                         note=phrases.note(rng, action)))
                continue
            if action == "escalate":  # takes part of the following dispatched wait
                escalate_share = rng.uniform(0.2, 0.6)
                steps.append(PlannedStep(action, 0.0, source, actor, left,
                                         note=phrases.note(rng, action)))
                continue
            deadline = self.policy.deadline_s(category, priority, left) or 3600
            wait = deadline * (rng.uniform(1.1, 2.0) if i == late else _on_time_fraction(rng))
            if escalate_share and steps[-1].action == "escalate":
                steps[-1] = _with_delay(steps[-1], wait * escalate_share)
                wait *= 1.0 - escalate_share
                escalate_share = 0.0
            rating = None
            if action == "evaluate":
                ratings = RATING_WEIGHTS_POOR if poor else RATING_WEIGHTS
                rating = rng.choices(range(1, 6), weights=ratings)[0]
            steps.append(PlannedStep(action, wait, source, actor, left,
                                     note=phrases.note(rng, action), rating=rating,
                                     breached=i == late))
        return tuple(steps)


def _on_time_fraction(rng: random.Random) -> float:
    """A wait as a fraction of its deadline when on time: median 0.3, within [0.03, 0.92]."""
    return min(0.92, max(0.03, rng.lognormvariate(math.log(0.3), 0.6)))


def _with_delay(step: PlannedStep, delay_s: float) -> PlannedStep:
    return PlannedStep(step.action, delay_s, step.source, step.actor, step.left_step,
                       step.note, step.rating, step.breached)
