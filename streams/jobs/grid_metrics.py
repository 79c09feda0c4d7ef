"""The grid metrics job: each owned grid's metrics and score outcomes, from its cases.

Stage one of the two-stage aggregation. It runs inside the cases agent's batches (Faust):
every applied transition's step fact (:attr:`streams.case_logic.Outcome.fact`) is counted
in the :class:`~streams.metrics.book.MetricsBook` and the
:class:`~streams.scores.book.ScoreBook` of the grids this worker owns.

State is rebuilt, not changelogged: every case record keeps its step facts
(``CaseRecord.history``), and the cases table is changelogged and recovered per partition by
Faust. When Faust has recovered the table after a (re)start or a rebalance, both books are
replaced by the replay of the facts of every case the worker now owns
(:meth:`GridMetricsJob.on_recovered`): a grid's figures are a function of its cases alone,
the same on any worker, before and after any crash, and a revoked grid's figures leave with
its cases.

Outputs, coalesced per grid (:data:`WALL_INTERVAL_MS`, :data:`PARTIAL_INTERVAL_MS`): the
grid's ``grid_metrics`` wall update (grid level) and its
:class:`~streams.partials.GridPartial` to the ``grid-partials`` topic, from which the
street stage (:mod:`streams.jobs.street`) computes community and street figures and the
rankings. A rows timer writes the changed grid minutes
(``grid_metrics_1m``) and the registers job's changed grids (``grid_registers``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from domain.contracts.topics import GRID_PARTIALS
from domain.geo import street
from domain.schemas import CaseEvent
from domain.scoring_policy import ScoringPolicy
from streams.ext import Ext, wall_ms
from streams.metrics.book import MetricsBook, replay_order
from streams.metrics.coalesce import Coalescer
from streams.metrics.facts import StepFact
from streams.partials import GridPartial, encode_partial, partial_key
from streams.runner import Timer
from streams.scores.book import ScoreBook

PUBLISH_TICK_S = 0.1
ROWS_TICK_S = 1.0
WALL_INTERVAL_MS = 500  # a grid's wall item at most twice a second
PARTIAL_INTERVAL_MS = 100  # its partial every publish tick: the street stage coalesces again
WallKey = tuple[str, str]  # channel, grid id


class GridMetricsJob:
    """The books of the owned grids and their coalesced outputs; see the module docstring."""

    def __init__(self, ext: Ext, policy: ScoringPolicy) -> None:
        self.ext = ext
        self.community_of = {g: grid.community_id for g, grid in street().grids.items()}
        self.book = MetricsBook(self.community_of)
        self.scores = ScoreBook(policy)
        self.coalescer: Coalescer[WallKey] = Coalescer(WALL_INTERVAL_MS)
        self.partials_due: Coalescer[str] = Coalescer(PARTIAL_INTERVAL_MS)
        self.source_ms: dict[WallKey, int] = {}
        self.partial_source_ms: dict[str, int] = {}

    def on_facts(self, applied: Sequence[tuple[StepFact, CaseEvent]]) -> None:
        """Count a batch's applied transitions, in order (the cases agent's hook)."""
        if not applied:
            return
        facts = [fact for fact, _ in applied]
        self.book.update(facts)
        self.scores.update(facts)
        now = wall_ms()
        oldest: dict[str, int] = {}
        for fact, event in applied:
            oldest[fact.grid_id] = min(oldest.get(fact.grid_id, now), event.ts)
        self.touch_grids(oldest)
        self.ext.health.count("metrics", len(facts), len(facts), now)

    def on_recovered(self, records: Sequence[Any]) -> None:
        """Rebuild both books from the recovered cases table (every owned case)."""
        histories = [r.history for r in records]
        grids = self.book.rebuild(histories)
        grids |= self.scores.rebuild(replay_order(histories))
        self.touch_grids(dict.fromkeys(grids, wall_ms()))

    def touch_grids(self, oldest: Mapping[str, int], channel: str = "grid_metrics") -> None:
        """Grids whose figures on ``channel`` changed, with the oldest input time behind it."""
        for grid_id, ms in oldest.items():
            key = (channel, grid_id)
            self.source_ms[key] = min(self.source_ms.get(key, ms), ms)
            if channel == "grid_metrics":
                self.partial_source_ms[grid_id] = min(
                    self.partial_source_ms.get(grid_id, ms), ms)
        self.coalescer.touch((channel, g) for g in oldest)
        if channel == "grid_metrics":
            self.partials_due.touch(oldest)

    async def publish(self) -> int:
        """Send the due grid updates and partials; return how many were sent."""
        wall_now = wall_ms()
        due = self.coalescer.due(wall_now)
        partials = self.partials_due.due(wall_now)
        if not due and not partials:
            return 0
        now = self.ext.now_ms()
        out = self.ext.outbox()
        registers = self.ext.handles.get("registers")
        for channel, grid_id in due:
            source = self.source_ms.pop((channel, grid_id), None)
            if channel == "registers":
                if registers is not None and grid_id in registers.grids:
                    out.wall(channel, grid_id, now,
                             {"grid_id": grid_id, **registers.snapshot(grid_id),
                              "source_ms": source}, grid_id)
            elif grid_id in self.book.grids:  # else not (or no longer) owned here
                data = self.book.snapshot("grid", grid_id, now)
                data["source_ms"] = source
                out.wall(channel, grid_id, now, data, grid_id)
        topic = self.ext.topic(GRID_PARTIALS.base)
        for grid_id in partials:
            source = self.partial_source_ms.pop(grid_id, None)
            state = self.book.grids.get(grid_id)
            outcomes = self.scores.grids.get(grid_id)
            if state is not None and outcomes is not None:
                partial = GridPartial(grid_id=grid_id, source_ms=source, state=state,
                                      outcomes=outcomes)
                out.latest(topic, partial_key(grid_id), encode_partial(partial))
        sent = len(out)
        await out.flush()
        return sent

    async def flush_rows(self) -> int:
        """Write the changed grid minutes and registers; return how many rows were sent."""
        now = wall_ms()
        out = self.ext.outbox()
        for row in self.book.minute_rows(now):
            out.row("grid_metrics_1m", row, (row["grid_id"], row["minute_ms"]))
        job = self.ext.handles.get("registers_job")
        if job is not None:
            for row in job.take_rows(now):
                out.row("grid_registers", row, (row["grid_id"], row["figure"]))
        sent = len(out)
        await out.flush()
        return sent


def timers(job: GridMetricsJob) -> list[Timer]:
    """The job's publish and rows timers (its input comes through the cases job's hooks:
    ``on_facts`` with each batch's applied transitions, ``on_recovered`` after the table's
    recovery)."""
    return [Timer("grid_publish", PUBLISH_TICK_S, job.publish),
            Timer("grid_rows", ROWS_TICK_S, job.flush_rows)]
