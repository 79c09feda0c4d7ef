"""``gridwall bench pipeline [--quick]``: sustained events/s from Kafka into ClickHouse.

1. Throughput: a realistic mix from the street simulator (mostly sensor readings, packed per
   grid as SensorBatch messages of ~50 readings, plus case events and department records) is
   produced *before* timing; then one worker (``gridwall worker``, subprocess, this run's own
   topics and database) drains it. Events/s = readings + case events that reached ClickHouse
   per second, measured from the first rows seen to the last (sustained, start-up excluded).
   Events/s counts the run done when the sink stored everything, the sensors job rolled up
   every reading and the Faust agents, the sensors job and the street stage have no lag.
2. Latency (a second fresh world and worker): the simulator produces in real time at a
   moderate rate under an SLA policy of a few seconds; readings are pushed every 0.5 s
   (sensor hubs), case events as they come due. Event-to-wall-update latency = wall update
   seen − the oldest input time it covers (``source_ms``: ingest time of sensor batches,
   event time of case events), over ``grid_metrics`` updates, reported per level:
   ``grid_latency_*`` for grid items (case events only; published by the grid's owner after
   one 1-second coalescing), ``street_latency_*`` for community and street items (case
   events and sensor health; they pass the grid-partials topic and the street stage, two
   coalescing stages in series), ``latency_*`` for all of them together (as earlier runs
   reported it). ``case_hold_*``: how long case events waited in the bench before being
   produced (part of every latency above). SLA breach detection delay = the SLA timer's
   escalation record time − the deadline it fires for.
3. Baseline: the same sensor job the documented Faust way (:mod:`bench._faust_baseline`:
   faust.Record + json, one message per reading, per-event table update and send).

Prints a table, then as the last line one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bench._faust_baseline import topic_names
from bench._pipeline_world import (
    BREACH_SLA,
    REPO,
    Load,
    Watch,
    Worker,
    World,
    make_world,
    now_ms,
    preload,
    produce_live,
    set_sla,
)
from bench.common import percentile, print_figures, print_table
from domain.schemas import SensorReading
from ingest.simulator.engine import generate


@dataclass(frozen=True)
class Plan:
    """Sizes of one run."""

    preload_events: int
    live_rate: float
    live_s: float
    baseline_readings: int
    drain_timeout_s: float


FULL = Plan(preload_events=1_500_000, live_rate=10_000, live_s=30, baseline_readings=30_000,
            drain_timeout_s=240)
QUICK = Plan(preload_events=300_000, live_rate=5_000, live_s=8, baseline_readings=6_000,
             drain_timeout_s=60)


def drain(world: World, load: Load, watch: Watch, timeout_s: float, verbose: bool = False
          ) -> dict[str, float]:
    """Poll ClickHouse until the preload is stored by the sink *and* processed by the jobs.

    Done when every reading and case event is stored, the sensors job's rollups account for
    every reading, and a job-health report taken after that shows no lag for the consumers
    of :data:`~bench._pipeline_world.DRAIN_CONSUMERS` (the Faust agents — the cases agent
    has caught up —, the sensors job and the street stage). Rates count from the first rows
    seen (start-up excluded).
    """
    first: tuple[float, int] | None = None
    sink_done = done = None
    rolled_at: int | None = None
    deadline = time.monotonic() + timeout_s
    stored = 0
    while time.monotonic() < deadline:
        stored = world.count("sensor_readings") + world.count("case_events")
        moment = time.monotonic()
        if stored and first is None:
            first = (moment, stored)
        if stored >= load.events and sink_done is None:
            sink_done = moment
        rolled = world.rolled_up() if stored else 0
        if sink_done is not None and rolled >= load.readings and rolled_at is None:
            rolled_at = now_ms()
        if rolled_at is not None and watch.lag_after(rolled_at) == 0:
            done = moment
            break
        if verbose:
            print(f"  drain {moment - (first or (moment, 0))[0]:5.1f} s: stored {stored:,} "
                  f"rolled up {rolled:,}", file=sys.stderr)
        time.sleep(0.5 if verbose else 0.2)
    if first is None:
        raise RuntimeError("no rows reached ClickHouse")
    seconds = max(1e-3, (done or time.monotonic()) - first[0])
    sink_seconds = max(1e-3, (sink_done or time.monotonic()) - first[0])
    counted = min(stored, load.events) - first[1]
    rate = counted / seconds
    return {"events_per_s": rate, "messages_per_s": rate * load.messages / load.events,
            "sink_events_per_s": counted / sink_seconds, "drain_s": seconds,
            "complete": float(done is not None)}


# grid_metrics levels by the figure they count in: "grid" items come from the grid's owner
# (one coalescing), "community" and "street" items from the street stage (two in series).
LEVELS = {"grid": ("grid",), "street": ("community", "street")}


def latency(watch: Watch, start_ms: int, end_ms: int, case_hold_ms: Sequence[int] = ()
            ) -> dict[str, float]:
    """Wall-update latency per level and breach detection delay of the live phase."""
    by_level: dict[str, list[float]] = {}
    for seen, u in list(watch.wall):
        source = u.data.get("source_ms") if u.channel == "grid_metrics" else None
        if source and start_ms <= source <= end_ms:
            by_level.setdefault(str(u.data.get("level")), []).append(seen - source)
    figures: dict[str, float] = {}
    groups = {"": [x for lats in by_level.values() for x in lats]}
    groups.update({f"{name}_": [x for level in levels for x in by_level.get(level, [])]
                   for name, levels in LEVELS.items()})
    for prefix, lat in groups.items():
        figures.update({f"{prefix}latency_p50_ms": percentile(lat, 50),
                        f"{prefix}latency_p99_ms": percentile(lat, 99),
                        f"{prefix}latency_samples": float(len(lat))})
    delays = [seen - deadline for seen, deadline in list(watch.breaches)
              if start_ms <= deadline <= end_ms + 1_000]
    figures.update({"case_hold_p50_ms": percentile(case_hold_ms, 50),
                    "case_hold_p99_ms": percentile(case_hold_ms, 99),
                    "breach_delay_p50_ms": percentile(delays, 50),
                    "breach_delay_p99_ms": percentile(delays, 99),
                    "breaches": float(len(delays))})
    return figures


def baseline(world: World, n_readings: int, timeout_s: float) -> float:
    """Readings/s of the documented-style Faust job over ``n_readings`` one-per-message."""
    from core.kafka_records import OutRecord
    from domain.contracts.topics import TopicSpec

    readings_topic = TopicSpec("baseline.readings", "baseline input")
    source = (e for e in generate(5, n_readings * 2, now_ms(), rate=30_000.0)
              if isinstance(e, SensorReading))
    records = []
    for _, r in zip(range(n_readings), source, strict=False):
        body = {"sensor_id": r.sensor_id, "grid_id": r.grid_id, "kind": r.kind,
                "value": r.value, "ts": r.ts}
        records.append(OutRecord(readings_topic, r.grid_id or "", json.dumps(body).encode()))
    for i in range(0, len(records), 5_000):
        world.writer.send_all(records[i:i + 5_000])
    prefix = world.settings.topic_prefix
    assert topic_names(prefix)[0] == readings_topic.name(prefix)
    result = world.logs / "baseline.result"
    log = open(world.logs / "baseline.log", "ab")  # noqa: SIM115 - closed below
    # Run in the run's data dir: Faust keeps its data dir (``<app id>-data``) in the
    # working directory, which would leave one per run in the repository.
    env = dict(world.env, PYTHONPATH=os.pathsep.join(
        p for p in (str(REPO), world.env.get("PYTHONPATH", "")) if p))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench._faust_baseline", world.settings.topic_prefix,
         world.settings.kafka_bootstrap, str(len(records)), str(result)], cwd=world.logs,
        env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + timeout_s
        while not result.exists():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"baseline did not finish; see {log.name}")
            time.sleep(0.2)
        first, last, count = (int(x) for x in result.read_text().split())
        return count * 1000 / max(1, last - first)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def run(plan: Plan) -> dict[str, float]:
    """One full measurement; returns every figure.

    Throughput and the live phase use two fresh worlds: the live phase's short SLAs would
    otherwise apply to every case still open from the preload, and the resulting flood of
    escalations (each one restarting a 5-second clock) would measure the flood, not the
    timer.
    """
    figures: dict[str, float] = {}
    with make_world() as world:
        load = preload(world, plan.preload_events, now_ms() - 60_000)
        watch = Watch(world)
        watch.start()
        worker = Worker(world)
        try:
            worker.wait_ready()
            figures.update(drain(world, load, watch, plan.drain_timeout_s))
            figures["worker_rss_mb"] = worker.max_rss_mb
        finally:
            worker.stop()
            watch.stop()
        figures["preload_events"] = float(load.events)
        figures["preload_messages"] = float(load.messages)
        figures["readings_per_message"] = load.readings / max(1, load.messages)
        figures["baseline_events_per_s"] = baseline(world, plan.baseline_readings, 120)
    with make_world() as world:
        set_sla(world, BREACH_SLA)  # before start: the worker starts from it
        watch = Watch(world)
        watch.start()
        worker = Worker(world)
        try:
            worker.wait_ready()
            live = produce_live(world, plan.live_rate, plan.live_s, Load())
            time.sleep(3.0)
            figures.update(latency(watch, live.start_ms, live.end_ms, live.case_hold_ms))
            figures["worker_rss_mb"] = max(figures["worker_rss_mb"], worker.max_rss_mb)
        finally:
            worker.stop()
            watch.stop()
    figures["live_rate_events_per_s"] = plan.live_rate
    figures["ratio_vs_baseline"] = figures["events_per_s"] / figures["baseline_events_per_s"]
    return figures


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, print the table and the JSON line."""
    parser = argparse.ArgumentParser(prog="gridwall bench pipeline", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short run (about a minute)")
    args = parser.parse_args(argv)
    figures = run(QUICK if args.quick else FULL)
    rows = [(name, figures[name]) for name in (
        "events_per_s", "messages_per_s", "sink_events_per_s", "readings_per_message",
        "preload_events", "drain_s", "complete",
        "grid_latency_p50_ms", "grid_latency_p99_ms", "grid_latency_samples",
        "street_latency_p50_ms", "street_latency_p99_ms", "street_latency_samples",
        "latency_p50_ms", "latency_p99_ms", "latency_samples", "case_hold_p50_ms",
        "case_hold_p99_ms", "breach_delay_p50_ms", "breach_delay_p99_ms", "breaches",
        "worker_rss_mb", "baseline_events_per_s", "ratio_vs_baseline")]
    print_table(rows, "pipeline: simulator mix -> Kafka -> one worker -> ClickHouse / wall")
    print_figures({k: round(v, 2) if isinstance(v, float) else v for k, v in figures.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
