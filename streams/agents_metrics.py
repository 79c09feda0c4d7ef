"""Grid metrics, scores and ranking, registers: fed per batch, published coalesced.

* Case facts come from the cases agent through its transition hook (``runtime.case_hooks``):
  every applied transition becomes a :class:`~streams.metrics.facts.StepFact` counted in the
  :class:`~streams.metrics.book.MetricsBook` and the :class:`~streams.scores.book.ScoreBook`.
* The registers job (a plain consumer loop, :class:`~streams.batchloop.BatchLoop`) reads
  department records per batch into the
  :class:`~streams.registers.book.RegisterBook` (counts only; personal fields are never read).
* :class:`WallPublisher` sends at most one ``grid_metrics`` update per grid, community and
  the street per second (and ``registers`` per grid), always the latest view, each carrying
  ``source_ms``: the oldest input time it covers (for latency figures).
* A rows timer writes changed grid minutes and registers through the sink; a ranking timer
  publishes the ranking (``ranking``/``street`` for grids, ``ranking``/<worker id> per worker)
  and stores the scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from domain.geo import street
from domain.schemas import CaseEvent
from domain.vocab import OPEN_STEPS
from domain.wire import encode
from streams.ext import Ext, wall_ms
from streams.jobs.registers import install as registers_install
from streams.metrics.book import STREET_KEY, MetricsBook
from streams.metrics.coalesce import Coalescer
from streams.metrics.facts import fact_of, open_deadline
from streams.metrics.windows import MINUTE
from streams.registers.book import RegisterBook
from streams.scores.book import ScoreBook
from streams.scores.policy import ScoringPolicy, load_scoring
from streams.scores.ranking import Ranking

PUBLISH_TICK_S = 0.2
ROWS_TICK_S = 1.0
RANKING_TICK_S = 5.0
WallKey = tuple[str, str, str]  # channel, level, key


class WallPublisher:
    """Coalesced wall updates of grid metrics (+ sensor health) and registers."""

    def __init__(self, ext: Ext, book: MetricsBook, registers: RegisterBook,
                 interval_ms: int = 1_000) -> None:
        self.ext = ext
        self.book = book
        self.registers = registers
        self.coalescer: Coalescer[WallKey] = Coalescer(interval_ms)
        self.source_ms: dict[WallKey, int] = {}

    def touch_grids(self, oldest: Mapping[str, int], channel: str = "grid_metrics") -> None:
        """Grids whose figures changed, with the oldest input time behind the change."""
        if channel == "registers":
            keys = {(channel, "grid", g): ms for g, ms in oldest.items()}
        else:
            keys = {}
            for grid_id, ms in oldest.items():
                for level, key in self.book.keys_of([grid_id]):
                    wall_key = (channel, level, key)
                    keys[wall_key] = min(keys.get(wall_key, ms), ms)
        for wall_key, ms in keys.items():
            self.source_ms[wall_key] = min(self.source_ms.get(wall_key, ms), ms)
        self.coalescer.touch(keys)

    async def publish(self) -> int:
        """Send the due updates; return how many were sent."""
        now = self.ext.now_ms()
        due = self.coalescer.due(wall_ms())
        if not due:
            return 0
        out = self.ext.outbox()
        detector = self.ext.handles.get("sensors")
        for wall_key in due:
            channel, level, key = wall_key
            source = self.source_ms.pop(wall_key, None)
            if channel == "registers":
                data: dict[str, Any] = {"grid_id": key, **self.registers.snapshot(key)}
            else:
                data = self.book.snapshot(level, key, now)
                if detector is not None:
                    data["sensors"] = _health(detector, self.book.grids_of_any(level, key))
            data["source_ms"] = source
            out.wall(channel, key, now, data, key)
        await out.flush()
        return len(due)


def _health(detector: Any, grid_ids: list[str]) -> dict[str, Any]:
    total: dict[str, Any] = {"known": 0, "reporting": 0, "dead": 0, "warning": 0,
                             "critical": 0, "anomalous": 0}
    for health in detector.health(grid_ids).values():
        for name in total:
            total[name] += getattr(health, name)
    healthy = total["reporting"] - total["warning"] - total["critical"]
    total["health"] = max(0, healthy) / total["known"] if total["known"] else None
    return total


def install(ext: Ext) -> None:
    """Add the case hook, the registers agent and the publish / rows / ranking timers."""
    rt = ext.runtime
    geo = street()
    community_of = {g: grid.community_id for g, grid in geo.grids.items()}
    book = MetricsBook(community_of)
    policy = load_scoring(Path(rt.settings.config_dir) / "scoring.yaml")
    scores = ScoreBook(policy)
    ranking = Ranking(policy.min_cases)
    registers_job = registers_install(ext)
    registers = registers_job.book
    publisher = WallPublisher(ext, book, registers)
    scores_changed: set[tuple[str, str]] = set()
    ext.handles.update(metrics=book, scores=scores, ranking=ranking, wall=publisher)
    _live_scoring(rt.config, policy, scores, ranking)

    def on_transition(before: Any, after: Any, event: CaseEvent, _partition: int) -> None:
        fact = fact_of(before.snapshot if before else None, after.snapshot, event,
                       rt.config.sla)
        book.update([fact])
        scores_changed.update(scores.update([fact]))
        publisher.touch_grids({fact.grid_id: min(event.ts, wall_ms())})
        ext.health.count("metrics", 1, 1, wall_ms())

    def on_cases_recovered(records: list[Any]) -> None:
        policy = rt.config.sla
        open_cases = [(r.snapshot.grid_id, r.snapshot.case_id,
                       open_deadline(r.snapshot, policy) or 0)
                      for r in records if r.snapshot.step in OPEN_STEPS]
        grids = book.reset_open(open_cases)
        publisher.touch_grids(dict.fromkeys(grids, wall_ms()))

    rt.case_hooks.append(on_transition)
    rt.recovery_hooks.append(on_cases_recovered)
    app = ext.app

    @app.timer(interval=PUBLISH_TICK_S)
    async def wall_publish() -> None:
        await publisher.publish()

    async def flush_rows() -> int:
        now = wall_ms()
        out = ext.outbox()
        for row in book.minute_rows(now):
            out.row("grid_metrics_1m", row, (row["grid_id"], row["minute_ms"]))
        for row in registers_job.take_rows(now):
            out.row("grid_registers", row, (row["grid_id"], row["figure"]))
        sent = len(out)
        await out.flush()
        return sent

    @app.timer(interval=ROWS_TICK_S)
    async def metrics_rows() -> None:
        await flush_rows()

    async def publish_ranking() -> int:
        if not scores_changed:
            return 0
        scores_changed.clear()
        now = wall_ms()
        out = ext.outbox()
        for kind in ("grid", "worker"):
            ranked = ranking.rank(kind, scores.scores(kind))
            for entry in ranked:
                out.row("scores", _score_row(kind, entry, now), (kind, entry["subject"]))
                if kind == "worker":
                    out.wall("ranking", entry["subject"], now, {"kind": kind, **entry},
                             entry["subject"])
            if kind == "grid":
                out.wall("ranking", STREET_KEY, now, {"kind": kind, "ranking": ranked},
                         STREET_KEY)
        sent = len(out)
        await out.flush()
        return sent

    @app.timer(interval=RANKING_TICK_S)
    async def ranking_timer() -> None:
        await publish_ranking()

    ext.handles.update(flush_rows=flush_rows,
                       publish_ranking=publish_ranking)


def _score_row(kind: str, entry: dict[str, Any], now: int) -> dict[str, Any]:
    return {"ts_ms": now, "minute_ms": MINUTE.start(now), "kind": kind,
            "subject": entry["subject"], "score": entry["score"], "rank": entry["rank"] or 0,
            "cases": entry["cases"], "rank_change": entry["rank_change"] or 0,
            "score_change": entry["score_change"] or 0.0,
            "breakdown": encode(entry["breakdown"]).decode(), "version": now}


def _live_scoring(config: Any, policy: ScoringPolicy, scores: ScoreBook,
                  ranking: Ranking) -> None:
    """Make ``scoring`` a live config key."""
    from streams.config import register_key

    register_key("scoring", ScoringPolicy.from_mapping)
    if getattr(config, "scoring", None) is None:
        config.scoring = policy

    def changed() -> None:
        scores.policy = config.scoring
        ranking.min_cases = config.scoring.min_cases

    config.on_change("scoring", changed)
