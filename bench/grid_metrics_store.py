"""``gridwall bench grid_metrics_store [--quick]``: how to store 1-minute grid metrics.

Compares, for the same case transitions, (a) ClickHouse doing the aggregation — a
materialized view feeding an AggregatingMergeTree from every inserted transition — with (b)
the metrics agent aggregating in Python (:class:`~streams.metrics.book.MetricsBook`) and
writing one row per grid and minute. Both count the transition rows that Streams I writes
anyway as given, so (a) is measured as the *extra* insert time the view adds, and (b) as
aggregation plus its own inserts. Also reports the read time of the last hour per grid.
Prints a table, then one JSON object with every figure as the last line.
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from datetime import UTC, datetime

from bench.common import print_figures, print_table
from streams.metrics.book import MetricsBook
from streams.metrics.facts import StepFact

STEPS = ("reported", "verified", "dispatched", "handled", "closed")
SOURCE = """CREATE TABLE {db}.transitions (ts DateTime, ts_ms UInt64, grid_id String,
    case_id String, from_step String, to_step String, entered_ms UInt64,
    left_deadline_ms UInt64) ENGINE = MergeTree ORDER BY (grid_id, ts_ms)"""
AGG = """CREATE TABLE {db}.metrics_agg (grid_id String, minute DateTime,
    reported AggregateFunction(count), closed AggregateFunction(count),
    completed AggregateFunction(count), on_time AggregateFunction(count),
    p90 AggregateFunction(quantile(0.9), UInt64),
    mean AggregateFunction(avg, UInt64)) ENGINE = AggregatingMergeTree
    ORDER BY (grid_id, minute)"""
VIEW = """CREATE MATERIALIZED VIEW {db}.metrics_mv TO {db}.metrics_agg AS SELECT grid_id,
    toStartOfMinute(ts) AS minute, countStateIf(from_step = '') AS reported,
    countStateIf(to_step = 'closed') AS closed,
    countStateIf(from_step != '' AND left_deadline_ms > 0) AS completed,
    countStateIf(from_step != '' AND ts_ms <= left_deadline_ms) AS on_time,
    quantileState(0.9)(toUInt64(ts_ms - entered_ms)) AS p90,
    avgState(toUInt64(ts_ms - entered_ms)) AS mean
    FROM {db}.transitions GROUP BY grid_id, minute"""


def facts(n: int, start_ms: int) -> list[StepFact]:
    """``n`` plausible transitions over 92 grids, one per 50 ms."""
    rng = random.Random(3)
    out = []
    for i in range(n):
        step = rng.randrange(len(STEPS))
        ts = start_ms + i * 50
        out.append(StepFact(case_id=f"c{i}", grid_id=f"G{rng.randrange(92):02d}", ts=ts,
                            action="x", from_step=STEPS[step - 1] if step else "",
                            to_step=STEPS[step], entered_ms=ts - rng.randrange(600_000),
                            left_deadline_ms=ts + rng.randrange(-60_000, 600_000),
                            deadline_ms=0, category="noise", priority="normal", tier=1,
                            on_spot=False))
    return out


def source_rows(items: list[StepFact]) -> list[tuple[object, ...]]:
    """The transition rows as the source table takes them."""
    return [(datetime.fromtimestamp(f.ts / 1000, tz=UTC).replace(tzinfo=None), f.ts,
             f.grid_id, f.case_id, f.from_step, f.to_step, f.entered_ms,
             max(0, f.left_deadline_ms)) for f in items]


def timed_insert(client: object, sql: str, rows: list[tuple[object, ...]], batch: int
                 ) -> float:
    """Seconds to insert ``rows`` in batches."""
    began = time.perf_counter()
    for i in range(0, len(rows), batch):
        client.execute(sql, rows[i:i + batch])  # type: ignore[attr-defined]
    return time.perf_counter() - began


def run(n: int, batch: int) -> dict[str, float]:
    """Measure both ways on ``n`` transitions; returns the figures."""
    from clickhouse_driver import Client

    from infra.migrate import migrate

    db = f"gw_bench_store_{uuid.uuid4().hex[:6]}"
    client = Client("127.0.0.1")
    list(migrate(client, db))
    try:
        items = facts(n, int(time.time() * 1000) - n * 50)
        rows = source_rows(items)
        client.execute(SOURCE.format(db=db))
        insert = f"INSERT INTO {db}.transitions VALUES"
        plain_s = timed_insert(client, insert, rows, batch)
        client.execute(f"TRUNCATE TABLE {db}.transitions")
        client.execute(AGG.format(db=db))
        client.execute(VIEW.format(db=db))
        with_view_s = timed_insert(client, insert, rows, batch)
        began = time.perf_counter()
        book = MetricsBook({f"G{g:02d}": "C" for g in range(92)}, retention_ms=10**12)
        minute_rows = []
        for i in range(0, len(items), batch):
            book.update(items[i:i + batch])
            minute_rows.extend(book.minute_rows(0))
        aggregate_s = time.perf_counter() - began
        from domain.contracts.tables import GRID_METRICS_1M
        from streams.rows import to_tuples

        columns = ", ".join(GRID_METRICS_1M.insert_columns)
        agent_insert_s = timed_insert(
            client, f"INSERT INTO {db}.grid_metrics_1m ({columns}) VALUES",
            to_tuples("grid_metrics_1m", minute_rows), batch)
        began = time.perf_counter()
        client.execute(f"SELECT grid_id, minute, countMerge(reported), countMerge(closed), "
                       f"quantileMerge(0.9)(p90) FROM {db}.metrics_agg GROUP BY grid_id, "
                       "minute")
        read_view_s = time.perf_counter() - began
        began = time.perf_counter()
        client.execute(f"SELECT grid_id, minute, reported, closed, step_p90_ms "
                       f"FROM {db}.grid_metrics_1m FINAL")
        read_agent_s = time.perf_counter() - began
    finally:
        client.execute(f"DROP DATABASE IF EXISTS {db}")
        client.disconnect()
    return {"transitions": float(n), "view_extra_ms_per_10k": (with_view_s - plain_s) / n * 1e7,
            "agent_ms_per_10k": (aggregate_s + agent_insert_s) / n * 1e7,
            "agent_aggregate_ms_per_10k": aggregate_s / n * 1e7,
            "agent_rows": float(len(minute_rows)), "read_view_ms": read_view_s * 1000,
            "read_agent_ms": read_agent_s * 1000}


def main() -> int:
    """Run and print."""
    parser = argparse.ArgumentParser(prog="gridwall bench grid_metrics_store")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    figures = run(50_000 if args.quick else 300_000, 5_000)
    print_table(list(figures.items()), "1-minute grid metrics: materialized view vs agent")
    print_figures({k: round(v, 2) for k, v in figures.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
