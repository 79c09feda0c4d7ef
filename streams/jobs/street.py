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
  second: the same views a single worker's book gives (:meth:`MetricsBook.snapshot`),
  with the sensor health of their grids (``sensors``, from the sensors job's partials);
* ``ranking``: the street item holds the top :data:`RANKING_TOP` grids (plus how many are
  ranked and listed), each grid's item its own rank and score, each worker's item theirs;
  an item is sent only when it changed, so no message grows with the number of grids;
* ``scores`` rows of the subjects whose score, rank or case count changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from aiokafka import TopicPartition

from domain.geo import street
from domain.wire import encode
from streams.ext import Ext, wall_ms
from streams.metrics.book import STREET_KEY, MetricsBook
from streams.metrics.coalesce import Coalescer
from streams.metrics.windows import MINUTE
from streams.partials import SensorPartial, decode_partial, merged_health
from streams.scores.book import ScoreBook
from streams.scores.policy import ScoringPolicy
from streams.scores.ranking import Ranking
from streams.topics import GRID_PARTIALS

PUBLISH_TICK_S = 0.2
RANKING_TICK_S = 5.0
RANKING_TOP = 20
KINDS = ("grid", "worker")
ViewKey = tuple[str, str]  # level, key


class StreetStage:
    """The street-wide books and their outputs; a :class:`~streams.batchloop.PartitionState`."""

    def __init__(self, ext: Ext, policy: ScoringPolicy, interval_ms: int = 1_000) -> None:
        self.ext = ext
        self.book = MetricsBook({g: grid.community_id for g, grid in street().grids.items()})
        self.scores = ScoreBook(policy)
        self.ranking = Ranking(policy.min_cases)
        self.coalescer: Coalescer[ViewKey] = Coalescer(interval_ms)
        self.source_ms: dict[ViewKey, int] = {}
        self.owned = False
        self.ranking_due = False
        self.sent: dict[tuple[str, str], tuple[Any, ...]] = {}  # last ranking entry sent
        self.sensors: dict[str, SensorPartial] = {}

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
        self.ranking = Ranking(self.ranking.min_cases)
        self.book.grids.clear()
        self.scores.grids.clear()
        self.sensors.clear()
        self.source_ms.clear()
        self.sent.clear()

    async def handle(self, records: Sequence[Any]) -> None:
        """Apply a batch of partials; their views are published by the timers."""
        out = self.ext.outbox()
        changed = self._apply(records, out)
        await out.flush()
        self.ext.health.count("street", len(records), len(records), wall_ms())
        if changed:
            self.ranking_due = True
            for key, source in self._touched(changed).items():
                self.source_ms[key] = min(self.source_ms.get(key, source), source)
            self.coalescer.touch(self._touched(changed))

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
                self.sensors[partial.grid_id] = partial
            else:
                self.book.put_state(partial.grid_id, partial.state)
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
            data = self.book.snapshot(level, key, now)
            data["sensors"] = merged_health([p for g in self.book.grids_of_any(level, key)
                                             if (p := self.sensors.get(g)) is not None])
            data["source_ms"] = self.source_ms.pop((level, key), None)
            out.wall("grid_metrics", key, now, data, key)
        await out.flush()
        return len(due)

    async def publish_ranking(self) -> int:
        """Send the rankings' changed items and scores rows; return how many were sent."""
        if not self.owned or not self.ranking_due:
            return 0
        self.ranking_due = False
        now = wall_ms()
        out = self.ext.outbox()
        for kind in KINDS:
            ranked = self.ranking.rank(kind, self.scores.scores(kind))
            for entry in ranked:
                subject = entry["subject"]
                shown = (entry["rank"], entry["score"], entry["cases"], len(ranked))
                if self.sent.get((kind, subject)) == shown:
                    continue
                self.sent[(kind, subject)] = shown
                out.row("scores", score_row(kind, entry, now), (kind, subject))
                out.wall("ranking", subject, now,
                         {"kind": kind, "of": len(ranked), **entry}, subject)
            if kind == "grid":
                top = ranked[:RANKING_TOP]
                shown_top = tuple((e["subject"], e["rank"], e["score"]) for e in top)
                if self.sent.get(("top", kind)) != shown_top:
                    self.sent[("top", kind)] = shown_top
                    listed = sum(1 for e in ranked if e["rank"] is not None)
                    out.wall("ranking", STREET_KEY, now,
                             {"kind": kind, "ranking": top, "ranked": listed,
                              "listed": len(ranked)}, STREET_KEY)
        sent = len(out)
        await out.flush()
        return sent


def score_row(kind: str, entry: dict[str, Any], now: int) -> dict[str, Any]:
    """One ``scores`` row: a subject's score, rank and breakdown at ``now``."""
    return {"ts_ms": now, "minute_ms": MINUTE.start(now), "kind": kind,
            "subject": entry["subject"], "score": entry["score"], "rank": entry["rank"] or 0,
            "cases": entry["cases"], "rank_change": entry["rank_change"] or 0,
            "score_change": entry["score_change"] or 0.0,
            "breakdown": encode(entry["breakdown"]).decode(), "version": now}


def install(ext: Ext, policy: ScoringPolicy) -> StreetStage:
    """Run the street stage in the worker: its loop and its publish and ranking timers."""
    stage = StreetStage(ext, policy)
    loop = ext.add_loop("street", [ext.topic(GRID_PARTIALS.base)], stage.handle, 5_000)
    loop.own(stage)
    app = ext.app

    @app.timer(interval=PUBLISH_TICK_S)
    async def street_publish() -> None:
        await stage.publish()

    @app.timer(interval=RANKING_TICK_S)
    async def street_ranking() -> None:
        await stage.publish_ranking()

    ext.handles.update(street=stage, publish_ranking=stage.publish_ranking)
    return stage
