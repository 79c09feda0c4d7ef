"""``gridwall bench street_stage``: the street stage's CPU per publish at city scale.

Pure CPU, no broker: a :class:`~streams.jobs.street.StreetStage` holding the partials of a
generated geography's size (default 100 communities x 100 grids; ``--facts-per-min``
case facts per grid and minute over the last hour, ~5 case events/s city-wide by default),
fed as the worker feeds it. Figures (CPU seconds of this process, ``time.process_time``):

* ``full_views_ms``: every community and the street computed from scratch from the grid
  states (``MetricsBook.snapshot`` + ``merged_health``, what the stage did before the
  roll-up);
* ``rolled_views_ms``: the same views from the stage's roll-up, nothing changed since the
  last publish; ``changed_views_ms``: one grid's partial applied, then every view;
* ``sensor_partial_us`` / ``cases_partial_us``: decoding and applying one partial;
* ``ranking_ms``: one ranking round (both kinds, every period) after one grid's outcomes
  changed, and ``ranking_sent`` how many items and rows it sent.

Views computed both ways are checked equal before anything is timed. Prints a table, then
as the last line one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from bench.common import print_figures, print_table
from domain.scoring_policy import load_scoring
from streams.local_ext import LocalExt
from streams.metrics.book import STREET_KEY, GridState, MetricsBook
from streams.metrics.buckets import Bucket
from streams.partials import (
    SENSORS_SOURCE,
    GridPartial,
    SensorPartial,
    encode_partial,
    encode_sensor_partial,
    merged_health,
    partial_key,
)
from streams.scores.book import GridOutcomes, Outcomes, PeriodOutcomes
from streams.scores.periods import period_key, period_start
from streams.sensors.detector import GridHealth

REPO = Path(__file__).resolve().parents[1]


class _Record(msgspec.Struct):
    key: bytes
    value: bytes
    timestamp: int = 0


def _grid_state(rng: random.Random, minute: int, now: int, per_min: float) -> GridState:
    minutes = {}
    for m in range(62):
        n = int(per_min) + (rng.random() < per_min % 1)
        if n:
            minutes[minute - m * 60_000] = Bucket(
                reported=n, closed=n // 2, completed=n, on_time=n // 2,
                handling_ms={"verify": [rng.randrange(100_000) for _ in range(n)]})
    return GridState(minutes=minutes, open={f"k{i}": now + rng.randrange(-600_000, 600_000)
                                            for i in range(rng.randrange(4))})


def _outcomes(rng: random.Random, policy: Any, now: int) -> GridOutcomes:
    periods = {}
    for kind in policy.periods:
        key = period_key(kind, period_start(kind, now, policy.utc_offset_h))
        periods[key] = PeriodOutcomes(
            grid=Outcomes(reported=rng.randrange(5), closed=rng.randrange(3),
                          completed=rng.randrange(3), on_time=1),
            workers={f"W{rng.randrange(50)}": Outcomes(reported=1, closed=1)})
    return GridOutcomes(periods=periods)


def cpu_ms(fn: Callable[[], object], budget_s: float = 2.0, most: int = 20) -> float:
    """Mean CPU milliseconds of ``fn`` over up to ``most`` runs within ``budget_s``."""
    start, runs = time.process_time(), 0
    while runs < most and time.process_time() - start < budget_s:
        fn()
        runs += 1
    return (time.process_time() - start) / runs * 1000


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Build the stage and time each figure; see the module docstring."""
    from streams.jobs.street import StreetStage

    rng = random.Random(1)
    now = int(time.time() * 1000)
    minute = now - now % 60_000
    community_of = {f"c{c}g{g}": f"c{c}" for c in range(args.communities)
                    for g in range(args.grids_per_community)}
    policy = load_scoring(REPO / "config" / "scoring.yaml")
    ext = LocalExt("bench", keep=False)
    stage = StreetStage(ext, policy)  # type: ignore[arg-type]
    stage.book = MetricsBook(community_of)
    stage.views.__init__(community_of)  # type: ignore[misc]
    stage.health.__init__(community_of)  # type: ignore[misc]
    stage.sensors = stage.health.grids
    cases = [_Record(partial_key(g).encode(), encode_partial(GridPartial(
        grid_id=g, state=_grid_state(rng, minute, now, args.facts_per_min),
        outcomes=_outcomes(rng, policy, now)))) for g in community_of]
    sensors = [_Record(partial_key(g, SENSORS_SOURCE).encode(), encode_sensor_partial(
        SensorPartial(grid_id=g, health=GridHealth(known=10, reporting=10))))
        for g in community_of]
    stage.replay([*cases, *sensors])
    keys = [("community", c) for c in sorted(set(community_of.values()))]
    keys.append(("street", STREET_KEY))

    def full() -> list[dict[str, Any]]:
        out = []
        for level, key in keys:
            data = stage.book.snapshot(level, key, now)
            data["sensors"] = merged_health([p for g in stage.book.grids_of_any(level, key)
                                             if (p := stage.sensors.get(g)) is not None])
            out.append(data)
        return out

    def rolled() -> list[dict[str, Any]]:
        out = []
        for level, key in keys:
            data = stage.views.snapshot(level, key, now)
            data["sensors"] = stage.health.merged(level, key)
            out.append(data)
        return out

    if full() != rolled():
        raise AssertionError("rolled-up views differ from the full recompute")
    grid = next(iter(community_of))
    state = msgspec.json.decode(cases[0].value, type=GridPartial)

    def one_grid_changed() -> None:
        bucket = state.state.minutes.setdefault(minute, Bucket())
        bucket.reported += 1
        bucket.handling_ms.setdefault("verify", []).append(rng.randrange(100_000))
        stage.replay([_Record(partial_key(grid).encode(), encode_partial(state))])
        rolled()

    figures: dict[str, Any] = {
        "grids": len(community_of), "communities": len(keys) - 1,
        "facts_per_grid_minute": args.facts_per_min,
        "full_views_ms": cpu_ms(full), "rolled_views_ms": cpu_ms(rolled),
        "changed_views_ms": cpu_ms(one_grid_changed)}
    if full() != rolled():
        raise AssertionError("rolled-up views differ from the full recompute after changes")
    start = time.process_time()
    stage.replay(sensors)
    figures["sensor_partial_us"] = (time.process_time() - start) / len(sensors) * 1e6
    start = time.process_time()
    stage.replay(cases[:1000])
    figures["cases_partial_us"] = (time.process_time() - start) / min(1000, len(cases)) * 1e6
    figures.update(_ranking(stage, ext, grid, state))
    return figures


def _ranking(stage: Any, ext: LocalExt, grid: str, partial: GridPartial) -> dict[str, Any]:
    """One ranking round after one grid's outcomes changed (the first round ranks all)."""
    stage.owned = True

    async def rounds() -> tuple[float, int]:
        await stage.publish_ranking()
        for period in partial.outcomes.periods.values():
            period.grid.reported += 1
        stage.replay([_Record(partial_key(grid).encode(), encode_partial(partial))])
        sent_before = ext.sends
        start = time.process_time()
        await stage.publish_ranking()
        return (time.process_time() - start) * 1000, ext.sends - sent_before

    ms, sent = asyncio.run(rounds())
    return {"ranking_ms": ms, "ranking_sent": sent}


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, time, print the table and the JSON line."""
    parser = argparse.ArgumentParser(prog="gridwall bench street_stage", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--communities", type=int, default=100)
    parser.add_argument("--grids-per-community", type=int, default=100)
    parser.add_argument("--facts-per-min", type=float, default=0.03,
                        help="case facts per grid and minute (default 0.03: ~5/s city-wide)")
    figures = run(parser.parse_args(argv))
    print_table([(k, f"{v:,.2f}" if isinstance(v, float) else v) for k, v in figures.items()],
                "street stage CPU (this process)")
    print_figures({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
