"""The two-stage aggregation without Kafka: grid owners' partials into one street stage.

Grid owners (:class:`GridMetricsJob`'s books) are fed the facts of their own grids; their
partials go to a :class:`StreetStage`, whose wall updates and rows are captured from its
real :class:`~streams.outbox.Outbox` (only the broker is replaced). The stage must publish
exactly what one owner of every grid gives it, keep the street ranking bounded, and publish
nothing while it does not own the partials partition.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msgspec

from domain.geo import street
from domain.schemas import CaseEvent, WallUpdate
from domain.scoring_policy import load_scoring
from domain.sla import load_policy
from streams.jobs.street import RANKING_TOP, StreetStage
from streams.local_ext import LocalExt
from streams.metrics.book import MetricsBook
from streams.metrics.facts import CaseView, StepFact
from streams.partials import (
    SENSORS_SOURCE,
    GridPartial,
    SensorPartial,
    encode_partial,
    encode_sensor_partial,
    partial_key,
)
from streams.rows import RowBatch
from streams.scores.book import ScoreBook
from streams.sensors.detector import GridHealth

CONFIG = Path(__file__).resolve().parents[2] / "config"
SLA = load_policy(CONFIG / "sla.yaml")
SCORING = load_scoring(CONFIG / "scoring.yaml")
GRIDS = sorted(street().grids)


class CapturingExt(LocalExt):
    """A :class:`~streams.local_ext.LocalExt` that reads back what was sent."""

    def wall(self) -> dict[tuple[str, str], dict[str, Any]]:
        out = {}
        for topic, _, value in self.sent:
            if topic == "wall":
                update = msgspec.json.decode(value, type=WallUpdate)
                out[(update.channel, update.key)] = update.data
        return out

    def rows(self, table: str) -> list[dict[str, Any]]:
        return [row for topic, key, value in self.sent if topic == "rows"
                and key == table.encode()
                for row in msgspec.json.decode(value, type=RowBatch).rows]


def facts(n_cases: int = 300) -> list[StepFact]:
    """Lifecycles over every grid of the street, by six workers, in the last hour."""
    import time

    base = int(time.time() * 1000) - 50 * 60_000
    events = []
    for i in range(n_cases):
        grid = GRIDS[i % len(GRIDS)]
        for n, action in enumerate(("report", "verify", "dispatch", "handle", "close")[
                :1 + i % 5]):
            extra: dict[str, Any] = {"category": "noise", "grid_id": grid} if n == 0 else {}
            events.append(CaseEvent(event_id=f"c{i}.{n}", case_id=f"c{i}", action=action,  # type: ignore[arg-type]
                                    ts=base + i * 1_000 + n * 60_000,
                                    source="grid_worker_app", actor=f"W{(i + n) % 6}",
                                    **extra))
    return CaseView(SLA).apply(sorted(events, key=lambda e: e.ts))


def owner_partials(owned: list[StepFact]) -> list[Any]:
    """The partials a grid owner holding exactly these facts sends."""
    book = MetricsBook({g: s.community_id for g, s in street().grids.items()})
    scores = ScoreBook(SCORING)
    book.update(owned)
    scores.update(owned)
    return [SimpleNamespace(key=partial_key(g).encode(), timestamp=0, value=encode_partial(
        GridPartial(grid_id=g, state=state, outcomes=scores.grids[g])))
        for g, state in sorted(book.grids.items())]


def stage_output(partial_records: list[Any]) -> CapturingExt:
    ext = CapturingExt()
    stage = StreetStage(ext, SCORING)  # type: ignore[arg-type]

    async def run() -> None:
        stage.replay(partial_records)
        await stage.restored({}, 0)
        await stage.publish()
        await stage.publish_ranking()

    asyncio.run(run())
    return ext


def comparable(ext: CapturingExt) -> dict[Any, Any]:
    wall = ext.wall()
    views = {k: {f: v.get(f) for f in ("1h", "15m", "open_backlog", "overdue")}
             for k, v in wall.items() if k[0] == "grid_metrics"}
    ranking = {k: {f: v.get(f) for f in ("rank", "score", "cases", "ranking", "periods")}
               for k, v in wall.items() if k[0] == "ranking"}
    scores = sorted((r["kind"], r["subject"], r["score"], r["rank"], r["cases"])
                    for r in ext.rows("scores"))
    return {"views": views, "ranking": ranking, "scores": scores}


def test_two_owners_publish_what_one_owner_does() -> None:
    every = facts()
    one = stage_output(owner_partials(every))
    halves: dict[int, list[StepFact]] = defaultdict(list)
    for fact in every:
        halves[GRIDS.index(fact.grid_id) % 2].append(fact)
    two = stage_output(owner_partials(halves[0]) + owner_partials(halves[1]))
    assert comparable(two) == comparable(one)
    street_view = one.wall()[("grid_metrics", "street")]
    assert street_view["1h"]["reported"] == 300
    communities = {s.community_id for s in street().grids.values()}
    assert {k[1] for k in one.wall() if k[0] == "grid_metrics"} == {"street", *communities}


def test_the_street_ranking_is_bounded_and_every_subject_has_its_own_item() -> None:
    ext = stage_output(owner_partials(facts()))
    wall = ext.wall()
    top = wall[("ranking", "street")]
    assert len(top["ranking"]) == RANKING_TOP and top["listed"] == len(GRIDS)
    assert top["period"] == "day"
    for grid in GRIDS:
        item = wall[("ranking", grid)]
        assert item["kind"] == "grid" and set(item["periods"]) == {"day", "week", "month"}
    assert {("ranking", "street.week"), ("ranking", "street.month")} <= set(wall)
    ranks = sorted(r["rank"] for r in ext.rows("scores") if r["kind"] == "grid" and r["rank"])
    assert ranks == list(range(1, len(ranks) + 1))  # one rank 1, no gaps
    periods = {(r["period"], r["kind"]) for r in ext.rows("score_periods")}
    assert periods == {(p, k) for p in ("day", "week", "month") for k in ("grid", "worker")}


def test_nothing_is_published_without_the_partition() -> None:
    ext = CapturingExt()
    stage = StreetStage(ext, SCORING)  # type: ignore[arg-type]

    async def run() -> None:
        await stage.handle(owner_partials(facts(20)))
        await stage.publish()
        await stage.publish_ranking()
        await stage.restored({}, 0)
        stage.revoke(set())
        await stage.publish()
        await stage.publish_ranking()

    asyncio.run(run())
    assert ext.wall() == {} and stage.book.grids == {}


class FixedClockExt(CapturingExt):
    """A capturing worker whose clock stands still, so a recompute can use the same now."""

    NOW = int(__import__("time").time() * 1000)

    def now_ms(self) -> int:
        return self.NOW


def test_views_from_replaced_partials_equal_one_book_of_every_grid() -> None:
    """Owners send each grid's full state again and again as they count (the stage replaces
    each grid's contribution incrementally); what it publishes equals one book that holds
    every fact, recomputed from scratch."""
    every = facts()
    owner = MetricsBook({g: s.community_id for g, s in street().grids.items()})
    scores = ScoreBook(SCORING)
    records = []
    for start in range(0, len(every), 97):
        chunk = every[start:start + 97]
        for grid_id in owner.update(chunk) | scores.update(chunk):
            records.append(SimpleNamespace(
                key=partial_key(grid_id).encode(), timestamp=0, value=encode_partial(
                    GridPartial(grid_id=grid_id, state=owner.grids[grid_id],
                                outcomes=scores.grids[grid_id]))))
    ext = FixedClockExt()
    stage = StreetStage(ext, SCORING)  # type: ignore[arg-type]

    async def run() -> None:
        await stage.restored({}, 0)
        for n in range(0, len(records), 50):
            await stage.handle(records[n:n + 50])
            stage.coalescer.interval_ms = 0
            await stage.publish()

    asyncio.run(run())
    views = {k[1]: v for k, v in ext.wall().items() if k[0] == "grid_metrics"}
    assert len(views) == 1 + len({s.community_id for s in street().grids.values()})
    for key, view in views.items():
        level = "street" if key == "street" else "community"
        expected = owner.snapshot(level, key, FixedClockExt.NOW)
        assert {k: v for k, v in view.items() if k not in ("sensors", "source_ms")} == expected


def test_sensor_partials_alone_rank_nothing() -> None:
    ext = CapturingExt()
    stage = StreetStage(ext, SCORING)  # type: ignore[arg-type]
    health = GridHealth(known=3, reporting=3)
    sensor_records = [SimpleNamespace(key=partial_key(g, SENSORS_SOURCE).encode(), timestamp=0,
                                      value=encode_sensor_partial(
                                          SensorPartial(grid_id=g, health=health)))
                      for g in GRIDS]

    async def run() -> list[int]:
        stage.replay(owner_partials(facts(20)))
        await stage.restored({}, 0)
        first = await stage.publish_ranking()
        await stage.handle(sensor_records)
        return [first, await stage.publish_ranking(), await stage.publish()]

    first, again, views = asyncio.run(run())
    assert first > 0 and again == 0 and views > 0
    assert ext.wall()[("grid_metrics", "street")]["sensors"]["known"] == 3 * len(GRIDS)


def test_a_ranking_round_lets_the_other_jobs_run() -> None:
    """A city's ranking round is long: it yields to the worker's other tasks meanwhile."""
    ext = CapturingExt()
    stage = StreetStage(ext, SCORING)  # type: ignore[arg-type]
    seen_sent: list[int] = []

    async def run() -> int:
        stage.replay(owner_partials(facts(20)))
        await stage.restored({}, 0)

        async def other_job() -> None:
            seen_sent.append(len(ext.sent))

        task = asyncio.ensure_future(other_job())  # scheduled, not yet started
        sent = await stage.publish_ranking()
        await task
        return sent

    assert asyncio.run(run()) > 0
    assert seen_sent == [0]  # it ran while the round was computing, before its sends
