"""``gridwall bench city [--quick]``: one worker on a generated city at 50,000 readings/s.

Issue 9's city scale, measured with real parts on a topic prefix and database of the run's
own (:func:`bench._pipeline_world.make_world`), twice in the same run:

1. **street** (the baseline): the default geography, ``config/geo`` (92 grids, 600 sensors);
2. **city**: a generated city (:func:`domain.geo_build.build_city`, default 100 communities
   x 100 grids x 10 sensors = 10,000 grids, 100,000 sensors), written to the run's directory
   and given to every child process with ``GRIDWALL_GEO_DIR``.

Each phase starts ``gridwall worker`` and ``gridwall hub`` as child processes, then
``gridwall simulate --direct`` at the same rate for both (``--readings-per-s``, default
50,000): readings batched per grid as ``SensorBatch`` messages, pushed every ``--push-s``
seconds as a sensor hub would (so a city message carries ~5 readings, a street one ~500),
plus a trickle of case reports and department records (``--report-share``) and of sensor
anomaly episodes (``--anomaly-share``, ~1 a second by default). Then the load
stops and, once the worker reports no consumer lag (or after a timeout), it idles with all
that state held.

Figures per phase (``street_*``, ``city_*``), measured in the load window after a warm-up:

* ``case_to_hub_p50/p99/max_ms``: a hub client subscribed to every channel, as ``/wall`` is;
  for each case item, arrival minus the item's ``ts`` (the case event's time, stamped by the
  simulator's live clock) — event → hub. ``cases_seen`` counts them. Goal: p99 <= 1 s;
* ``case_to_input_p50/p99_ms``: the load generator's part of it: the case event's record on
  the case events topic (its Kafka timestamp) minus its ``ts``;
* ``case_to_topic_p50/p99_ms``: the load generator's and the worker's part of it: a case
  item's wall update on the wall updates topic (its Kafka timestamp, set by the worker's
  producer) minus its ``ts``;
* ``reading_to_hub_p99_ms``: the same for ``grid_metrics`` items, from ``source_ms`` (when the
  oldest reading they cover was produced);
* ``loop_lag_p99_ms`` / ``loop_lag_max_ms``: the largest event-loop lag p99 and maximum the
  worker's job-health reports gave in the load window (how late a timed wake-up ran: time a
  case event waits behind other jobs' synchronous work at each ``await``; -1 if none);
  ``sensors_loop_lag_p99_ms`` / ``_max_ms``: the same for its sensors process;
* ``worker_cpu_pct`` (% of one core in the load window, the worker's two processes
  together; ``workflow_cpu_pct`` and ``sensors_cpu_pct`` each), ``worker_cpu_ms_per_s``;
  ``worker_cpu_ms_per_1k_readings``: the worker's CPU from the simulator's start until it
  drained, per 1,000 readings the simulator sent (its cost per reading, which a busy
  machine does not hide as the window's share of a core does; -1 if it did not drain);
  ``empty_idle_cpu_ms_per_s``: before any input (the geography loaded, nothing held);
  ``idle_cpu_ms_per_s`` after the load (no input, state held; ``idle_after_drain`` 0 means
  the worker still had lag then, so it was catching up, not idle) and
  ``idle_cpu_ms_per_tick``: that idle CPU per 0.2 s wall-publish period
  (``PUBLISH_PERIOD_S``; it includes every timer of the worker, not only the publish one —
  the closest figure measurable from outside);
* ``readings_per_s`` (what the simulator produced: on a small machine it may not reach
  the target), ``stored_readings_per_s`` (reached ClickHouse in the window),
  ``max_lag_in_window`` (largest ``lag_total`` of the worker's job-health reports; per
  consumer of the worker as ``max_lag_<consumer>``, per consumer and input topic as
  ``max_lag_<consumer>:<topic>`` in the JSON line only),
  ``drain_after_load_s`` (load stop → first job-health report with no lag; -1 if none
  within the plan's ``drain_timeout_s``), ``readings_per_batch`` (per grid
  ``SensorBatch``), ``readings_per_message`` (per Kafka message of the readings topic, packed
  per partition), ``alert_ops_messages_per_s`` (messages on the alert-ops topic over the
  load: what the Faust alerts agent pays for per message); ``simulator_cpu_pct`` and
  ``machine_busy_pct`` (all cores, ``/proc/stat``) show how much the load generator and
  everything else took from the worker;
* ``largest_wall_update_bytes`` (and its channel; per channel as ``largest_<channel>_bytes``)
  from the wall updates topic; ``largest_hub_frame_bytes`` at the hub client;
* ``snapshot_bytes`` / ``snapshot_items`` / ``snapshot_s``: what a client joining after the
  load receives when it subscribes to every channel;
* ``worker_rss_mb`` (largest sampled), ``geo_load_s`` (the geography loaded in this process).

``ratio_*`` = city / street. Prints a table, then as the last line one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import yaml

from bench._pipeline_world import REPO, Worker, World, make_world, now_ms, topic_messages
from bench.common import (
    Following,
    cpu_seconds,
    free_port,
    percentile,
    print_figures,
    print_table,
    rounded,
)
from bench.hub import start_hub, stop
from domain import geo_build
from domain.contracts.topics import ALERT_OPS, CASE_EVENTS, SENSOR_READINGS, WALL_UPDATES
from domain.geo import load_street
from domain.wire import decode_one_or_many
from wall.hub.client import HubClient
from wall.hub.protocol import CHANNELS, DeltasMsg, SnapshotMsg, decode_hub

VIEWER = "bench-city-viewer"
TARGET_P99_MS = 1_000.0
# The worker's wall-publish timers tick every 0.2 s (PUBLISH_TICK_S in streams/jobs/).
PUBLISH_PERIOD_S = 0.2
_SUMMARY = re.compile(r"sent (\d+) events in ([\d.]+) s .*?: (\d+) readings, (\d+) case events,"
                      r" (\d+) department records")


@dataclass(frozen=True)
class Plan:
    """Durations of one phase, in seconds."""

    warmup_s: float
    measure_s: float
    idle_s: float
    drain_timeout_s: float


FULL = Plan(warmup_s=15, measure_s=45, idle_s=10, drain_timeout_s=60)
QUICK = Plan(warmup_s=5, measure_s=12, idle_s=4, drain_timeout_s=60)


class _Channel(msgspec.Struct):
    channel: str
    ts: int = 0


class _Event(msgspec.Struct):
    ts: int


class _Health(msgspec.Struct):
    ts: int
    data: dict[str, Any]


@dataclass
class TopicSizes(Following):
    """Follows the wall updates topic in a thread: the largest message per channel, and the
    worker's consumer lag from its job-health reports as (report ts, lag_total)."""

    world: World
    largest: dict[str, int] = field(default_factory=dict)
    messages: int = 0
    # (report ts, reporter, lag_total, lag per consumer) of each job-health report; a worker
    # reports as its id and its sensors process as "<id>-sensors"
    lags: list[tuple[int, str, int, dict[str, int]]] = field(default_factory=list)
    # (report ts, reporter, event-loop lag p99 ms, max ms) of each job-health report
    loop_lags: list[tuple[int, str, float, float]] = field(default_factory=list)
    # (case update ts, its wall update's Kafka timestamp minus ts) of each cases update
    case_to_topic: list[tuple[int, int]] = field(default_factory=list)

    # (case event ts, its input record's Kafka timestamp minus ts) of each case event
    case_to_input: list[tuple[int, int]] = field(default_factory=list)


    def _note_input(self, record: Any) -> None:
        for event in decode_one_or_many(record.value, _Event):
            self.case_to_input.append((event.ts, record.timestamp - event.ts))

    def lag_zero_after(self, since_ms: int) -> int | None:
        """The ts by which every reporter (the worker's processes) has sent a job-health
        report after ``since_ms`` with no lag, if all have yet."""
        reports = list(self.lags)
        first_zero: dict[str, int] = {}
        for ts, reporter, lag, _ in reports:
            if ts > since_ms and lag == 0:
                first_zero.setdefault(reporter, ts)
        reporters = {reporter for _, reporter, _, _ in reports}
        if not reporters or set(first_zero) != reporters:
            return None
        return max(first_zero.values())

    def max_lag(self, start_ms: int, end_ms: int) -> dict[str, float]:
        """The largest lag reported in [start_ms, end_ms] in total (-1 if no report) and per
        consumer of the worker (``max_lag_<consumer>``: messages over its partitions)."""
        out = {"max_lag_in_window": -1.0}
        for ts, _, total, by_consumer in list(self.lags):
            if start_ms <= ts <= end_ms:
                out["max_lag_in_window"] = max(out["max_lag_in_window"], float(total))
                for consumer, lag in by_consumer.items():
                    key = f"max_lag_{consumer}"
                    out[key] = max(out.get(key, 0.0), float(lag))
        for prefix, sensors in (("", False), ("sensors_", True)):
            window = [(p99, top) for ts, who, p99, top in list(self.loop_lags)
                      if start_ms <= ts <= end_ms and who.endswith("-sensors") == sensors]
            out[f"{prefix}loop_lag_p99_ms"] = max((p99 for p99, _ in window), default=-1.0)
            out[f"{prefix}loop_lag_max_ms"] = max((top for _, top in window), default=-1.0)
        return out
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _run(self) -> None:
        from kafka import KafkaConsumer

        s = self.world.settings
        consumer = KafkaConsumer(WALL_UPDATES.name(s.topic_prefix),
                                 CASE_EVENTS.name(s.topic_prefix),
                                 bootstrap_servers=s.kafka_bootstrap,
                                 auto_offset_reset="earliest", enable_auto_commit=False,
                                 group_id=None, fetch_max_wait_ms=100)
        decoder = msgspec.json.Decoder(_Channel)
        health = msgspec.json.Decoder(_Health)
        try:
            while not self._stop.is_set():
                for records in consumer.poll(timeout_ms=200).values():
                    for record in records:
                        if record.topic == CASE_EVENTS.name(s.topic_prefix):
                            self._note_input(record)
                            continue
                        self.messages += 1
                        item = decoder.decode(record.value)
                        channel = item.channel
                        if channel == "cases":
                            self.case_to_topic.append((item.ts, record.timestamp - item.ts))
                        if channel == "job_health":
                            report = health.decode(record.value)
                            by_consumer: dict[str, int] = {}
                            for job, topics in report.data.get("lag", {}).items():
                                by_consumer[job] = 0
                                for topic, parts in topics.items():
                                    lag = sum(parts.values())
                                    by_consumer[job] += lag
                                    name = topic.removeprefix(s.topic_prefix)
                                    by_consumer[f"{job}:{name}"] = lag
                            reporter = (record.key or b"").decode()
                            self.lags.append((report.ts, reporter,
                                              int(report.data.get("lag_total", -1)),
                                              by_consumer))
                            loop = report.data.get("loop_lag") or {}
                            if loop.get("p99_ms") is not None:
                                self.loop_lags.append((report.ts, reporter,
                                                       float(loop["p99_ms"]),
                                                       float(loop["max_ms"])))
                        size = len(record.value)
                        if size > self.largest.get(channel, 0):
                            self.largest[channel] = size
        finally:
            consumer.close()


def window_percentiles(name: str, samples: list[tuple[int, int]], window: tuple[int, int]
                       ) -> dict[str, float]:
    """``<name>_p50_ms`` and ``<name>_p99_ms`` of the (event ts, latency ms) samples whose
    event lies in ``window``."""
    start, end = window
    values = [float(ms) for ts, ms in list(samples) if start <= ts <= end]
    return {f"{name}_p50_ms": percentile(values, 50), f"{name}_p99_ms": percentile(values, 99)}


@dataclass
class HubWatch:
    """What one hub client subscribed to every channel saw (epoch ms arrivals)."""

    window: tuple[int, int] = (0, 0)
    cases: list[float] = field(default_factory=list)
    readings: list[float] = field(default_factory=list)
    largest_frame: int = 0
    seen_case_steps: set[tuple[str, int]] = field(default_factory=set)

    def note(self, raw: str | bytes) -> None:
        """Record the latencies of one hub frame's items."""
        arrival = now_ms()
        self.largest_frame = max(self.largest_frame, len(raw))
        msg = decode_hub(raw)
        if not isinstance(msg, DeltasMsg):
            return
        start, end = self.window
        if not start <= arrival <= end:
            return
        for item in msg.items:
            if item.channel == "cases" and (item.key, item.ts) not in self.seen_case_steps:
                self.seen_case_steps.add((item.key, item.ts))
                self.cases.append(arrival - item.ts)
            elif item.channel == "grid_metrics" and item.data.get("source_ms"):
                self.readings.append(arrival - item.data["source_ms"])


async def follow(client: HubClient, watch: HubWatch) -> None:
    """Read hub frames forever into ``watch``."""
    while True:
        watch.note(await client.ws.recv())


async def snapshot(url: str) -> dict[str, float]:
    """Bytes, items and seconds of the snapshot a newly subscribed client receives."""
    size = items = 0
    per_channel: dict[str, float] = {}
    done: set[str] = set()
    started = time.monotonic()
    async with HubClient(url, VIEWER) as client:
        await client.subscribe(CHANNELS)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(60):
                while len(done) < len(CHANNELS):
                    raw = await client.ws.recv()
                    msg = decode_hub(raw)
                    if isinstance(msg, SnapshotMsg):
                        size += len(raw)
                        items += len(msg.items)
                        key = f"snapshot_items_{msg.channel}"
                        per_channel[key] = per_channel.get(key, 0.0) + len(msg.items)
                        if msg.part == msg.parts:
                            done.add(msg.channel)
    return {"snapshot_bytes": float(size), "snapshot_items": float(items),
            "snapshot_s": time.monotonic() - started,
            "snapshot_complete": float(len(done) == len(CHANNELS)), **per_channel}


def simulator(world: World, args: argparse.Namespace, duration_s: float
              ) -> subprocess.Popen[str]:
    """``gridwall simulate --direct`` at the run's rate, pushing every ``--push-s``."""
    shares = 2 * args.report_share + args.record_share  # reports, their next steps, records
    rate = args.readings_per_s / (1 - shares)
    return subprocess.Popen(
        [sys.executable, "-m", "gridwall.cli", "simulate", "--direct", "--rate", f"{rate:.0f}",
         "--duration", str(duration_s), "--push-every", str(args.push_s),
         "--report-share", str(args.report_share), "--record-share", str(args.record_share),
         "--anomaly-share", str(args.anomaly_share),
         "--run-tag", f"city{world.tag}", "--progress-every", "5"],
        cwd=REPO, env=world.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stored_readings(world: World) -> int:
    """Readings the ClickHouse sink has stored."""
    return world.count("sensor_readings")


def measure_phase(world: World, args: argparse.Namespace, plan: Plan, sizes: TopicSizes
                  ) -> dict[str, float]:
    """One phase on ``world`` (its env names the geography); returns its figures."""
    tokens = world.logs / "tokens.yaml"
    tokens.write_text(yaml.safe_dump({VIEWER: {"name": "bench-city", "role": "viewer"}}))
    tokens.chmod(0o600)  # a world-readable tokens file is refused outside GRIDWALL_DEV
    sizes.start()
    worker = Worker(world, "city")
    hub = None
    try:
        worker.wait_ready(timeout_s=180)
        hub_port = free_port()
        hub = start_hub(world.settings, tokens, hub_port)
        return asyncio.run(_measure(world, args, plan, worker, sizes,
                                    f"ws://127.0.0.1:{hub_port}/"))
    finally:
        if hub is not None:
            stop(hub)
        worker.stop()
        sizes.stop()


async def _measure(world: World, args: argparse.Namespace, plan: Plan, worker: Worker,
                   sizes: TopicSizes, url: str) -> dict[str, float]:
    watch = HubWatch()
    figures: dict[str, float] = {}
    async with HubClient(url, VIEWER) as client:
        await client.subscribe(CHANNELS)
        follower = asyncio.create_task(follow(client, watch))
        empty0, empty_t0 = worker.cpu_seconds(), time.monotonic()
        await asyncio.sleep(plan.idle_s)
        empty = (worker.cpu_seconds() - empty0) / (time.monotonic() - empty_t0)
        figures["empty_idle_cpu_ms_per_s"] = 1000 * empty
        sim = simulator(world, args, plan.warmup_s + plan.measure_s)
        try:
            figures |= await _load_and_idle(world, plan, worker, watch, sizes, sim)
        finally:
            if sim.poll() is None:
                sim.kill()
                sim.wait()
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
    figures |= await snapshot(url)
    figures |= {
        "case_to_hub_p50_ms": percentile(watch.cases, 50),
        "case_to_hub_p99_ms": percentile(watch.cases, 99),
        "case_to_hub_max_ms": max(watch.cases, default=float("nan")),
        **window_percentiles("case_to_topic", sizes.case_to_topic, watch.window),
        **window_percentiles("case_to_input", sizes.case_to_input, watch.window),
        "cases_seen": float(len(watch.cases)),
        "reading_to_hub_p99_ms": percentile(watch.readings, 99),
        "largest_hub_frame_bytes": float(watch.largest_frame),
        "worker_rss_mb": max(worker.max_rss_mb, worker.rss_mb()),
    }
    return figures


async def _load_and_idle(world: World, plan: Plan, worker: Worker, watch: HubWatch,
                         sizes: TopicSizes, sim: subprocess.Popen[str]) -> dict[str, float]:
    """Warm up, measure the load window, wait until the worker has no lag, measure idle CPU."""
    load_cpu0 = worker.cpu_seconds()
    await asyncio.sleep(plan.warmup_s)
    # ClickHouse is asked from a thread, so no hub frame waits on it (arrival times).
    stored0 = await asyncio.to_thread(stored_readings, world)
    start_ms, cpu0, sim0, busy0 = now_ms(), worker.cpu_seconds(), cpu_seconds(sim.pid), busy()
    own0 = worker.own_cpu_seconds()
    watch.window = (start_ms, start_ms + int(plan.measure_s * 1000))
    await asyncio.sleep(plan.measure_s)
    elapsed = (now_ms() - start_ms) / 1000
    cpu, sim_cpu = worker.cpu_seconds() - cpu0, cpu_seconds(sim.pid) - sim0
    own = worker.own_cpu_seconds() - own0
    machine = busy() - busy0
    stored = await asyncio.to_thread(stored_readings, world) - stored0
    out, err = await asyncio.to_thread(sim.communicate)
    load_end, load_end_ms = time.monotonic(), now_ms()
    summary = _SUMMARY.search(out)
    if sim.returncode != 0 or summary is None:
        raise RuntimeError(f"simulator failed ({sim.returncode}): {err[-2000:]}")
    events, seconds, readings, cases, _ = (float(x) for x in summary.groups())
    drained = -1.0
    while time.monotonic() - load_end < plan.drain_timeout_s:
        zero_ms = sizes.lag_zero_after(load_end_ms)
        if zero_ms is not None:
            drained = max(0.0, (zero_ms - load_end_ms) / 1000)
            break
        await asyncio.sleep(0.5)
    # the worker's whole cost of the run's readings (warm-up, window and drain), when drained
    per_1k = 1000 * (worker.cpu_seconds() - load_cpu0) / (readings / 1000) if drained >= 0 else -1.0
    await asyncio.sleep(1.0)
    idle0, idle_t0 = worker.cpu_seconds(), time.monotonic()
    await asyncio.sleep(plan.idle_s)
    idle = (worker.cpu_seconds() - idle0) / (time.monotonic() - idle_t0)
    return {
        "readings_per_s": readings / seconds, "case_events_per_s": cases / seconds,
        "events_per_s": events / seconds,
        "stored_readings_per_s": stored / elapsed, "drain_after_load_s": drained,
        **sizes.max_lag(start_ms, start_ms + int(elapsed * 1000)),
        "worker_cpu_pct": 100 * cpu / elapsed, "worker_cpu_ms_per_s": 1000 * cpu / elapsed,
        "workflow_cpu_pct": 100 * own / elapsed, "sensors_cpu_pct": 100 * (cpu - own) / elapsed,
        "worker_cpu_ms_per_1k_readings": per_1k,
        "simulator_cpu_pct": 100 * sim_cpu / elapsed,
        "machine_busy_pct": 100 * machine / elapsed / (os.cpu_count() or 1),
        "idle_cpu_ms_per_s": 1000 * idle, "idle_cpu_ms_per_tick": 1000 * idle * PUBLISH_PERIOD_S,
        "idle_after_drain": float(drained >= 0),
    }


def busy() -> float:
    """CPU seconds all cores of the machine spent busy so far (``/proc/stat``)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def geography_world(geo_dir: Path | None) -> Iterator[World]:
    """A fresh world whose child processes load ``geo_dir`` (None: the default street)."""
    with make_world() as world:
        world.env.pop("GRIDWALL_GEO_DIR", None)
        if geo_dir is not None:
            world.env["GRIDWALL_GEO_DIR"] = str(geo_dir)
        yield world


def phase(name: str, geo_dir: Path | None, args: argparse.Namespace, plan: Plan
          ) -> dict[str, Any]:
    """Measure one geography; figures prefixed with ``name``."""
    started = time.monotonic()
    geography = load_street(geo_dir)
    figures: dict[str, Any] = {"geo_load_s": time.monotonic() - started,
                               "grids": float(len(geography.grids)),
                               "sensors": float(len(geography.sensors))}
    print(f"bench city: {name}: {len(geography.grids):,} grids, {len(geography.sensors):,} "
          f"sensors, {args.readings_per_s:,.0f} readings/s ...", file=sys.stderr, flush=True)
    del geography
    with geography_world(geo_dir) as world:
        sizes = TopicSizes(world)
        figures |= measure_phase(world, args, plan, sizes)
        stored, batches = world.client.execute(
            f"SELECT count(), uniqExact(batch_id) FROM {world.db}.sensor_readings")[0]
        messages = topic_messages(world, SENSOR_READINGS)
        load_s = plan.warmup_s + plan.measure_s
        figures["alert_ops_messages_per_s"] = topic_messages(world, ALERT_OPS) / load_s
    figures["readings_per_batch"] = stored / batches if batches else float("nan")
    figures["readings_per_message"] = stored / messages if messages else float("nan")
    figures["wall_updates"] = float(sizes.messages)
    channel, largest = max(sizes.largest.items(), key=lambda kv: kv[1], default=("none", 0))
    figures["largest_wall_update_bytes"] = float(largest)
    figures["largest_wall_update_channel"] = channel
    for key, size in sorted(sizes.largest.items()):
        figures[f"largest_{key}_bytes"] = float(size)
    return {f"{name}_{key}": value for key, value in figures.items()}


RATIOS = ("case_to_hub_p99_ms", "reading_to_hub_p99_ms", "worker_cpu_pct",
          "empty_idle_cpu_ms_per_s", "idle_cpu_ms_per_s",
          "worker_rss_mb", "largest_wall_update_bytes", "snapshot_bytes", "geo_load_s")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Both phases; every figure plus the city / street ratios."""
    plan = QUICK if args.quick else FULL
    spec = geo_build.CitySpec(communities=args.communities,
                              grids_per_community=args.grids_per_community,
                              sensors_per_grid=args.sensors_per_grid)
    figures: dict[str, Any] = {"target_readings_per_s": args.readings_per_s,
                               "push_s": args.push_s, "report_share": args.report_share,
                               "anomaly_share": args.anomaly_share,
                               "measure_s": plan.measure_s, "target_p99_ms": TARGET_P99_MS}
    city_dir = Path(args.city_dir) if args.city_dir else None
    generated = city_dir is None
    if city_dir is None:
        city_dir = Path(f"/tmp/gridwall-bench-city-{now_ms()}")
        started = time.monotonic()
        geo_build.write(city_dir, geo_build.build_city(spec))
        figures["city_generate_s"] = time.monotonic() - started
    try:
        figures |= phase("street", None, args, plan)
        figures |= phase("city", city_dir, args, plan)
    finally:
        if generated:
            shutil.rmtree(city_dir, ignore_errors=True)
    for name in RATIOS:
        street = figures.get(f"street_{name}")
        city = figures.get(f"city_{name}")
        if isinstance(street, float) and isinstance(city, float) and street > 0:
            figures[f"ratio_{name}"] = city / street
    return figures


def report(f: dict[str, Any]) -> None:
    """The table (street | city | ratio), then every figure as one JSON line."""
    rows: list[tuple[str, object]] = [("", "street | city | city/street")]

    def fmt(value: object) -> str:
        if isinstance(value, float):
            return "nan" if value != value else f"{value:,.1f}"
        return str(value)

    for name in ("grids", "sensors", "readings_per_s", "stored_readings_per_s",
                 "drain_after_load_s", "max_lag_in_window", "readings_per_batch",
                 "readings_per_message", "alert_ops_messages_per_s",
                 "case_events_per_s",
                 "case_to_hub_p50_ms", "case_to_hub_p99_ms", "case_to_hub_max_ms", "cases_seen",
                 "case_to_input_p50_ms", "case_to_input_p99_ms",
                 "case_to_topic_p50_ms", "case_to_topic_p99_ms",
                 "reading_to_hub_p99_ms", "loop_lag_p99_ms", "loop_lag_max_ms",
                 "sensors_loop_lag_p99_ms", "sensors_loop_lag_max_ms", "worker_cpu_pct",
                 "workflow_cpu_pct", "sensors_cpu_pct",
                 "worker_cpu_ms_per_1k_readings", "simulator_cpu_pct",
                 "machine_busy_pct", "empty_idle_cpu_ms_per_s", "idle_cpu_ms_per_s",
                 "idle_cpu_ms_per_tick", "idle_after_drain", "worker_rss_mb",
                 "largest_wall_update_bytes",
                 "largest_wall_update_channel", "largest_hub_frame_bytes", "snapshot_bytes",
                 "snapshot_items", "snapshot_s", "geo_load_s"):
        ratio = f.get(f"ratio_{name}")
        rows.append((name, f"{fmt(f.get(f'street_{name}'))} | {fmt(f.get(f'city_{name}'))}"
                           + (f" | {ratio:,.2f}" if isinstance(ratio, float) else "")))
    consumers = sorted({k.split("_", 1)[1] for k in f
                        if re.match(r"(street|city)_max_lag_", k) and ":" not in k}
                       - {"max_lag_in_window"})
    for name in consumers:
        rows.append((name, f"{fmt(f.get(f'street_{name}'))} | {fmt(f.get(f'city_{name}'))}"))
    rows.append(("goal: city case_to_hub_p99_ms <=", fmt(f["target_p99_ms"])))
    print_table(rows, "city: one worker, simulate --direct, hub client (street = baseline)")
    print_figures(rounded(f))


def add_load_arguments(parser: argparse.ArgumentParser, report_help: str | None = None
                       ) -> None:
    """The load generator's and the city's options, shared by the city benches."""
    parser.add_argument("--readings-per-s", type=float, default=50_000.0)
    parser.add_argument("--push-s", type=float, default=1.0,
                        help="seconds of readings per push (per-grid batch), default 1")
    parser.add_argument("--report-share", type=float, default=0.0004, help=report_help)
    parser.add_argument("--record-share", type=float, default=0.0002)
    parser.add_argument("--anomaly-share", type=float, default=0.00002,
                        help="chance that a reading starts an anomaly episode (default "
                             "0.00002: ~1 new episode/s at 50,000 readings/s; the "
                             "simulator's own 0.004 is meant for the street's ~20/s)")
    parser.add_argument("--communities", type=int, default=geo_build.CitySpec.communities)
    parser.add_argument("--grids-per-community", type=int,
                        default=geo_build.CitySpec.grids_per_community)
    parser.add_argument("--sensors-per-grid", type=int,
                        default=geo_build.CitySpec.sensors_per_grid)
    parser.add_argument("--city-dir", help="use this generated city instead of generating one")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run both phases, print the table and the JSON line."""
    parser = argparse.ArgumentParser(prog="gridwall bench city", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short phases (~2 minutes)")
    add_load_arguments(parser, report_help="share of slots that open a case (default "
                                           "0.0004: ~20/s)")
    args = parser.parse_args(argv)
    report(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
