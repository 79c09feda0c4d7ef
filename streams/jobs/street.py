"""The street stage: community and street figures and the rankings, from grid partials.

Stage two of the two-stage aggregation. A plain consumer loop (group ``<app id>-street``)
over the single-partition, compacted ``grid-partials`` topic, so exactly one worker owns
it whatever the number of workers. Its state is the latest
:class:`~streams.partials.GridPartial` of every grid; it is rebuilt, not changelogged: when
the partition is assigned, the loop replays the topic from its beginning (compaction keeps
the latest partial per grid) before the stage publishes anything, and on revocation the
stage drops it all and stops publishing.

Outputs (only while the partition is owned and restored):

* ``grid_metrics`` of every community and of the street, coalesced to one per key per
  :data:`VIEW_INTERVAL_MS`: the same views a single worker's book gives
  (:meth:`MetricsBook.snapshot`), with the sensor health of their grids (``sensors``,
  from the sensors job's partials, which are sent only when a grid's health changed). A
  view is due when a partial of one of its grids arrived, and also when time alone moved
  it (:meth:`StreetStage.refresh`, every :data:`REFRESH_TICK_S`): a minute rolled over (the
  minute, last-minute and hopping windows move) or an open case's step deadline passed
  (its overdue count), so no view stays stale while its grids are quiet;
* ``ranking``: the street item holds the top :data:`RANKING_TOP` grids (plus how many are
  ranked and listed), each grid's item its own rank and score, each worker's item theirs;
  an item is sent only when it changed, so no message grows with the number of grids;
* ``scores`` rows of the subjects whose score, rank or case count changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import msgspec
from aiokafka import TopicPartition

from domain.contracts.topics import GRID_PARTIALS
from domain.geo import street
from domain.scoring_policy import ScoringPolicy
from domain.wire import encode
from streams.ext import Ext, wall_ms
from streams.metrics.book import STREET_KEY, MetricsBook
from streams.metrics.coalesce import Coalescer
from streams.metrics.rollup import ViewRollup
from streams.metrics.windows import MINUTE
from streams.partials import HealthSums, SensorPartial, decode_partial
from streams.runner import RawLoopJob, Timer
from streams.scores.book import Outcomes, ScoreBook, ScoreMemo
from streams.scores.periods import period_key, period_start, previous_start
from streams.scores.ranking import rank, standings

PUBLISH_TICK_S = 0.1
REFRESH_TICK_S = 0.25  # time-driven view changes (minute roll-over, deadlines passing)
VIEW_INTERVAL_MS = 250  # a community or the street at most four times a second (cheap:
# the views are rolled up incrementally, streams.metrics.rollup)
RANKING_TICK_S = 5.0
RANKING_TOP = 20
KINDS = ("grid", "worker")
STANDING = ("rank", "score", "cases", "rank_change", "score_change")
ViewKey = tuple[str, str]  # level, key


class StreetStage:
    """The street-wide books and their outputs; a :class:`~streams.batchloop.PartitionState`."""

    def __init__(self, ext: Ext, policy: ScoringPolicy,
                 interval_ms: int = VIEW_INTERVAL_MS) -> None:
        self.ext = ext
        community_of = {g: grid.community_id for g, grid in street().grids.items()}
        self.book = MetricsBook(community_of)
        self.views = ViewRollup(community_of)
        self.health = HealthSums(community_of)
        self.scores = ScoreBook(policy)
        self.memo = ScoreMemo()
        self.coalescer: Coalescer[ViewKey] = Coalescer(interval_ms)
        self.source_ms: dict[ViewKey, int] = {}
        self.owned = False
        self.ranking_due = False
        self.sent: dict[tuple[str, str], tuple[Any, ...]] = {}  # last ranking entry sent
        self.sensors = self.health.grids  # grid -> its latest SensorPartial
        self.period_starts: tuple[int, ...] = ()  # the scoring periods last ranked
        self.shown: dict[ViewKey, tuple[int, int]] = {}  # (minute, overdue) of the last view

    # -- the partition's state ------------------------------------------------------------

    def replay_from_ms(self) -> int | None:
        """Restore from the topic's beginning (it holds the latest partial of every grid)."""
        return None

    def replay(self, records: Sequence[Any]) -> None:
        """Apply partials without output (restoring after an assignment)."""
        self._apply(records)

    async def restored(self, partitions: dict[TopicPartition, int], now_ms: int) -> None:
        """The stage holds every grid's latest partial: publish every view from scratch."""
        self.owned = True
        self.sent.clear()
        self.ranking_due = True
        grids = set(self.book.grids) | set(self.sensors)
        self.coalescer.touch(k for k in self.book.keys_of(grids) if k[0] != "grid")

    def revoke(self, partitions: set[TopicPartition]) -> None:
        """Another worker owns the street now: drop everything, publish nothing."""
        self.owned = False
        self.book.grids.clear()
        self.views.clear()
        self.scores.grids.clear()
        self.health.clear()
        self.source_ms.clear()
        self.sent.clear()
        self.shown.clear()

    async def handle(self, records: Sequence[Any]) -> None:
        """Apply a batch of partials; their views are published by the timers."""
        out = self.ext.outbox()
        changed = self._apply(records, out)
        await out.flush()
        self.ext.health.count("street", len(records), len(records), wall_ms())
        if changed:
            touched = self._touched(changed)
            for key, source in touched.items():
                self.source_ms[key] = min(self.source_ms.get(key, source), source)
            self.coalescer.touch(touched)

    def _apply(self, records: Sequence[Any], out: Any = None) -> dict[str, int]:
        changed: dict[str, int] = {}
        for rec in records:
            if rec.value is None:
                continue
            try:
                partial = decode_partial(rec.key, rec.value)
            except msgspec.MsgspecError as exc:
                if out is not None:
                    out.dead("street.decode", "streams", str(exc), rec.timestamp, rec.value,
                             None)
                continue
            if isinstance(partial, SensorPartial):
                self.health.put(partial)
            else:
                self.book.put_state(partial.grid_id, partial.state)
                self.views.put(partial.grid_id, partial.state)
                if self.scores.grids.get(partial.grid_id) != partial.outcomes:
                    self.ranking_due = True  # sensor partials and figures alone never rank
                self.scores.put_grid(partial.grid_id, partial.outcomes)
            source = partial.source_ms or rec.timestamp
            changed[partial.grid_id] = min(changed.get(partial.grid_id, source), source)
        return changed

    def _touched(self, changed: dict[str, int]) -> dict[ViewKey, int]:
        keys: dict[ViewKey, int] = {}
        for grid_id, source in changed.items():
            for level, key in self.book.keys_of([grid_id]):
                if level != "grid":
                    keys[(level, key)] = min(keys.get((level, key), source), source)
        return keys

    # -- outputs ----------------------------------------------------------------------------

    async def publish(self) -> int:
        """Send the due community and street views; return how many were sent."""
        if not self.owned:
            return 0
        due = self.coalescer.due(wall_ms())
        if not due:
            return 0
        now = self.ext.now_ms()
        out = self.ext.outbox()
        for level, key in due:
            data = self.views.snapshot(level, key, now)
            data["sensors"] = self.health.merged(level, key)
            data["source_ms"] = self.source_ms.pop((level, key), None)
            self.shown[(level, key)] = (data["minute_ms"], data["overdue"])
            out.wall("grid_metrics", key, now, data, key)
        await out.flush()
        return len(due)

    async def refresh(self) -> int:
        """Make due the views that time alone moved since they were last sent: the minute
        rolled over or the overdue count changed (a step deadline passed). Return how many.

        Cost: one bisection of the sorted deadlines per community and the street (the
        rollup's), not a look at every grid or case."""
        if not self.owned:
            return 0
        now = self.ext.now_ms()
        minute = MINUTE.start(now)
        moved = [key for key, scope in self.views.scopes.items()
                 if self.shown.get(key) != (minute, scope.overdue(now))]
        self.coalescer.touch(moved)
        return len(moved)

    async def publish_ranking(self) -> int:
        """Send the rankings' changed items and score rows; return how many were sent.

        Per period kind of the policy, the current period's ranking (trend against the
        previous period's); the first kind is the live one: ``ranking``/``street`` and the
        ``scores`` rows. Runs when a grid's outcomes changed or a period began, else it
        costs nothing (sensor partials and minute figures never change a ranking).
        """
        if not self.owned:
            return 0
        now = wall_ms()
        policy = self.scores.policy
        starts = tuple(period_start(p, now, policy.utc_offset_h) for p in policy.periods)
        if not self.ranking_due and starts == self.period_starts:
            return 0
        self.ranking_due, self.period_starts = False, starts
        out = self.ext.outbox()
        for kind in KINDS:
            per_period = {}
            for period in policy.periods:
                per_period[period] = self._ranking(kind, period, now)
                await asyncio.sleep(0)  # a city's ranking is long: let the other jobs run
            self._subject_items(out, kind, per_period, now)
            if kind == "grid":
                self._top_items(out, kind, per_period, now)
            await asyncio.sleep(0)
        if not self.owned:  # revoked meanwhile: the new owner publishes
            return 0
        sent = len(out)
        await out.flush()
        return sent

    def _ranking(self, kind: str, period: str, now: int) -> tuple[int, list[dict[str, Any]]]:
        """(start, ranking) of the current ``period`` at ``now``, trend vs the previous."""
        policy = self.scores.policy
        start = period_start(period, now, policy.utc_offset_h)
        previous = self.scores.subjects(
            kind, period_key(period, previous_start(period, start, policy.utc_offset_h)))
        current = self.scores.subjects(kind, period_key(period, start))
        for subject in previous:  # active before, not yet now: listed with no cases
            current.setdefault(subject, Outcomes())
        scored = self.memo.score
        before = rank([scored(kind, s, o, policy) for s, o in sorted(previous.items())],
                      policy.min_cases)
        return start, rank([scored(kind, s, o, policy) for s, o in sorted(current.items())],
                           policy.min_cases, standings(before))

    def _subject_items(self, out: Any, kind: str,
                       per_period: dict[str, tuple[int, list[dict[str, Any]]]],
                       now: int) -> None:
        """Each subject's ranking item (live period, plus every period's standing) and its
        rows, for the subjects whose standing changed."""
        periods = list(per_period)
        by_subject: dict[str, dict[str, dict[str, Any]]] = {}
        for period, (_, ranked) in per_period.items():
            for entry in ranked:
                by_subject.setdefault(entry["subject"], {})[period] = entry
        live_start, live = per_period[periods[0]]
        for subject, entries in sorted(by_subject.items()):
            shown = tuple((p, e["rank"], e["score"], e["cases"], e["rank_change"],
                           e["score_change"]) for p, e in sorted(entries.items()))
            if self.sent.get((kind, subject)) == shown:
                continue
            self.sent[(kind, subject)] = shown
            for period, entry in entries.items():
                start = per_period[period][0]
                out.row("score_periods", period_row(period, start, kind, entry, now),
                        (period, start, kind, subject))
            head = entries.get(periods[0])
            if head is None:
                continue
            out.row("scores", score_row(kind, head, now), (kind, subject))
            out.wall("ranking", subject, now,
                     {"kind": kind, "period": periods[0], "period_start_ms": live_start,
                      "of": len(live), **head,
                      "periods": {p: {k: e[k] for k in STANDING} for p, e in entries.items()}},
                     subject)

    def _top_items(self, out: Any, kind: str,
                   per_period: dict[str, tuple[int, list[dict[str, Any]]]], now: int) -> None:
        """The top of each period's ranking: ``street`` (live period), ``street.<period>``."""
        for n, (period, (start, ranked)) in enumerate(per_period.items()):
            top = ranked[:RANKING_TOP]
            key = STREET_KEY if n == 0 else f"{STREET_KEY}.{period}"
            shown = (start, tuple((e["subject"], e["rank"], e["score"], e["rank_change"])
                                  for e in top))
            if self.sent.get(("top", key)) == shown:
                continue
            self.sent[("top", key)] = shown
            listed = sum(1 for e in ranked if e["rank"] is not None)
            out.wall("ranking", key, now,
                     {"kind": kind, "period": period, "period_start_ms": start,
                      "ranking": top, "ranked": listed, "listed": len(ranked)}, STREET_KEY)


def score_row(kind: str, entry: dict[str, Any], now: int) -> dict[str, Any]:
    """One ``scores`` row: a subject's live-period score, rank and breakdown at ``now``."""
    return {"ts_ms": now, "minute_ms": MINUTE.start(now), "kind": kind,
            "subject": entry["subject"], "score": entry["score"], "rank": entry["rank"] or 0,
            "cases": entry["cases"], "rank_change": entry["rank_change"] or 0,
            "score_change": entry["score_change"] or 0.0,
            "breakdown": encode(entry["breakdown"]).decode(), "version": now}


def period_row(period: str, start: int, kind: str, entry: dict[str, Any], now: int
               ) -> dict[str, Any]:
    """One ``score_periods`` row: a subject's result in one period as of ``now`` (the last
    row written while the period ran is its frozen result)."""
    return {"period": period, "period_start_ms": start, **score_row(kind, entry, now)}


class StreetLoop(RawLoopJob):
    """The street stage as the runner runs it: a plain loop over the grid partials (5,000
    records a batch), the :class:`StreetStage` as its partition's state, its publish and
    ranking timers and the time-driven refresh of its views."""

    def __init__(self, ext: Ext, policy: ScoringPolicy) -> None:
        self.stage = StreetStage(ext, policy)
        super().__init__("street", GRID_PARTIALS.base, self.stage.handle, self.stage,
                         [Timer("street_publish", PUBLISH_TICK_S, self.stage.publish),
                          Timer("street_refresh", REFRESH_TICK_S, self.stage.refresh),
                          Timer("street_ranking", RANKING_TICK_S, self.stage.publish_ranking)],
                         5_000)
