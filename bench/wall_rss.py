"""Wall server RSS over a simulated run: does the memory of ``gridwall wall`` stay flat?

Runs a real ``gridwall wall`` process fed by a simulated hub (this script, speaking the hub
protocol of ``docs/hub-protocol.md``) at busy-street volumes: new cases moving through the
six steps, alerts raised and acknowledged, grid metrics for every grid each second, job
health in the worker's shape (``streams.health.job.JobHealth.snapshot``: lag per consumer,
topic and partition, recovery per table and partition); ``--browsers`` headless Chromium
pages keep ``/wall`` sessions open and redrawing. The wall's RSS is sampled from ``/proc``
every ``--sample-s`` seconds. Only channels the worker produces are sent
(``wall.hub.protocol.Channel``).

The wall holds bounded data by design (``docs/wall.md``): a ring of the latest 2,000 new
cases and alerts (the live feed and dots; each entry keeps the data it arrived with), which
fills after 2,000 / (cases/s + alerts/s) seconds — 15 minutes at the default rates — and
today's cases with their timelines, which grow with every new case until the store's key
bound. So the full run counts the ring's fill plus two of the wall's once-a-minute prune
rounds as warm-up (:func:`full_warmup_s`: 17 minutes at the default rates) and reports the
RSS slope after it, beside the cases opened meanwhile and what the wall says it holds (its
once-a-minute ``holding`` log line): a slope the cases taken in do not account for would be
a leak.

Figures: RSS at the first sample, after warm-up, at the end, the maximum, and the slope
after warm-up (least squares, MB per 10 minutes); cases opened by the end of warm-up and in
all, the RSS growth after warm-up per 1000 cases opened meanwhile; keys the wall last
logged it holds; items sent; the wall's mean CPU use. ``--quick`` runs 60 s with 10 s of
warm-up (a smoke test: its slope is the fill); the full run is 30 minutes.

Runs before the ``events`` channel was removed also sent 20 events/s, which the wall then
kept for 15 minutes: their figures include that window.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from websockets.exceptions import ConnectionClosed

from bench.common import cpu_seconds, free_port, print_figures, print_table, wait_for_http
from domain.geo import street
from domain.schemas import WallUpdate
from wall.app.store import WallStore
from wall.hub.protocol import CHANNELS, deltas_frame, encode_item, snapshot_frame
from wall.hub.stats import rss_mb

STEPS = ("reported", "verified", "dispatched", "handled", "closed", "evaluated")
ALERTS_PER_S = 0.2


def full_warmup_s(cases_per_s: float, alerts_per_s: float = ALERTS_PER_S) -> float:
    """The wall's activity ring fills with new cases and alerts, plus two of its
    once-a-minute prune rounds."""
    ring = WallStore().recent.maxlen or 0
    return ring / max(cases_per_s + alerts_per_s, 1e-3) + 120


class SyntheticStreet:
    """Updates shaped like the stream worker's: cases, alerts, grid metrics, job health."""

    def __init__(self, cases_per_s: float, alerts_per_s: float = ALERTS_PER_S, seed: int = 7
                 ) -> None:
        self.rng = random.Random(seed)
        self.alerts_per_s = alerts_per_s
        self.grids = street().grid_ids
        self.cases_per_s = cases_per_s
        self.open: dict[str, tuple[str, int]] = {}  # case id -> (grid, step index)
        self.alerts: dict[str, str] = {}
        self.serial = 0
        self.sent = 0
        self.cases_opened = 0

    def tick(self, now: int, dt_s: float) -> list[WallUpdate]:
        """The updates of ``dt_s`` seconds of street life ending at ``now``."""
        out: list[WallUpdate] = []
        for _ in range(self._count(self.cases_per_s * dt_s)):
            self.serial += 1
            case_id = f"SIM-{self.serial:08d}"
            self.open[case_id] = (self.rng.choice(self.grids), 0)
            self.cases_opened += 1
            out.append(self._case(case_id, now))
        moves = self._count(3 * self.cases_per_s * dt_s)
        for case_id in self.rng.sample(sorted(self.open), min(len(self.open), moves)):
            grid, step = self.open[case_id]
            self.open[case_id] = (grid, step + 1)
            out.append(self._case(case_id, now))
            if step + 1 >= len(STEPS) - 1:
                del self.open[case_id]
        if self.rng.random() < dt_s * self.alerts_per_s:
            alert_id = f"ALERT-{self.serial:08d}"
            self.alerts[alert_id] = "open"
            out.append(self._alert(alert_id, "open", now))
        for alert_id, status in list(self.alerts.items()):
            if self.rng.random() < dt_s / 60:  # each alert moves on after ~a minute
                status = "acknowledged" if status == "open" else "resolved"
                out.append(self._alert(alert_id, status, now))
                if status == "resolved":
                    del self.alerts[alert_id]
                else:
                    self.alerts[alert_id] = status
        if now // 1000 != (now - int(dt_s * 1000)) // 1000:
            out += [WallUpdate(channel="grid_metrics", key=g, ts=now,
                               data={"level": "grid", "key": g, "open_backlog":
                                     self.rng.randint(0, 9), "overdue": self.rng.randint(0, 2)})
                    for g in self.grids]
            out.append(WallUpdate(channel="job_health", key=JOB_HEALTH_WORKER, ts=now,
                                  data=job_health(now)))
        self.sent += len(out)
        return out

    def _count(self, expected: float) -> int:
        whole = int(expected)
        return whole + (self.rng.random() < expected - whole)

    def _case(self, case_id: str, now: int) -> WallUpdate:
        grid, step = self.open[case_id]
        return WallUpdate(channel="cases", key=case_id, ts=now, data={
            "case_id": case_id, "grid_id": grid, "step": STEPS[step], "category": "environment",
            "priority": "normal", "tier": 1, "opened_ms": now, "step_entered_ms": now,
            "updated_ms": now, "deadline_ms": now + 600_000, "breaches": 0})

    def _alert(self, alert_id: str, status: str, now: int) -> WallUpdate:
        return WallUpdate(channel="alerts", key=alert_id, ts=now, data={
            "alert_id": alert_id, "grid_id": self.rng.choice(self.grids), "kind": "sla_breach",
            "severity": "warning", "status": status, "title": f"sim {alert_id}",
            "opened_ms": now, "updated_ms": now,
            "acked_by": None if status == "open" else "sim"})


JOB_HEALTH_WORKER = "sim-worker"
PARTITIONS = 8  # GRIDWALL_TOPIC_PARTITIONS' default


def job_health(now: int, lag: int = 0) -> dict[str, Any]:
    """One worker's ``job_health`` item in the shape of ``JobHealth.snapshot``: every
    consumer's lag per topic and partition (``lag.{consumer}.{topic}.{partition}``), the
    recovery of each changelogged table per partition, the SLA timer's delays."""
    inputs = {"agents": ("cases.events", "commands", "alert-ops"),
              "sensors": ("sensor.readings",), "registers": ("department.records",),
              "street": ("grid-partials",), "sink": ("rows", "cases.events", "deadletter")}
    lags = {consumer: {f"gridwall.{topic}": {str(p): lag for p in range(
                1 if topic == "grid-partials" else PARTITIONS)} for topic in topics}
            for consumer, topics in inputs.items()}
    done = {"offset": 99, "highwater": 99, "remaining": 0, "progress": 1.0}
    recovery = {table: {"progress": 1.0, "remaining": 0,
                        "partitions": {str(p): dict(done) for p in range(PARTITIONS)}}
                for table in ("cases", "alerts")}
    agent = {"events_per_s": 20.0, "messages_per_s": 5.0, "events_total": 1_000,
             "latency_p50_ms": 40.0, "latency_p99_ms": 120.0}
    return {"worker_id": JOB_HEALTH_WORKER, "ts": now,
            "agents": {name: dict(agent) for name in ("cases", "alerts", "sensors",
                                                       "metrics", "street")},
            "lag": lags, "lag_total": lag * sum(len(t) for c in lags.values()
                                                for t in c.values()),
            "sink": {"rows_per_s": 100.0, "rows_total": 10_000, "batch_mean": 50.0,
                     "batch_max": 200},
            "recovery": recovery,
            "sla_timer": {"breaches": 0, "delay_p50_ms": None, "delay_p99_ms": None}}


class SimulatedHub:
    """A websocket server that welcomes any client and streams the synthetic street."""

    def __init__(self, port: int, world: SyntheticStreet, period_s: float = 0.2) -> None:
        self.port = port
        self.world = world
        self.period_s = period_s
        self.clients: set[Any] = set()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> None:
        """Listen and start ticking, in a background thread."""
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._main(), self.loop).result(timeout=10)

    async def _main(self) -> None:
        from websockets.asyncio.server import serve

        await serve(self._client, "127.0.0.1", self.port, max_size=None)
        self.loop.create_task(self._tick())

    async def _client(self, ws: Any) -> None:
        await ws.recv()  # auth
        await ws.send(b'{"type":"welcome","actor":"bench","role":"viewer","permissions":'
                      b'["view"],"channels":[],"heartbeat_s":null}', text=True)
        await ws.recv()  # subscribe
        for channel in CHANNELS:
            await ws.send(snapshot_frame(channel, "subscribe", 1, 1, []), text=True)
        self.clients.add(ws)
        try:
            await ws.wait_closed()
        finally:
            self.clients.discard(ws)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.period_s)
            items = [encode_item(u) for u in self.world.tick(int(time.time() * 1000),
                                                             self.period_s)]
            for ws in list(self.clients):
                try:
                    for i in range(0, len(items), 256):
                        await ws.send(deltas_frame(items[i:i + 256]), text=True)
                except ConnectionClosed:
                    self.clients.discard(ws)  # the wall reconnects; counted from its log


def held(log_path: Path) -> dict[str, Any]:
    """What the wall last logged it holds (keys per channel, timelines); {} before the first."""
    last: dict[str, Any] = {}
    for line in log_path.read_text(errors="replace").splitlines():
        _, found, rest = line.partition(" holding ")
        if found:
            try:
                last = json.loads(rest)
            except ValueError:
                continue
    return last


def open_browsers(url: str, n: int) -> Any:
    """``n`` headless Chromium pages on ``url`` (None when n is 0 or Playwright is absent)."""
    if n <= 0:
        return None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("playwright not installed: running without browser sessions", file=sys.stderr)
        return None
    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    for _ in range(n):
        browser.new_page(viewport={"width": 1920, "height": 1080}).goto(url)
    return playwright, browser


def main() -> None:
    """Run the benchmark; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 s instead of 30 minutes")
    parser.add_argument("--duration-s", type=float, default=None)
    parser.add_argument("--cases-per-s", type=float, default=2.0,
                        help="new cases per second (2/s is ~170k a day, a very busy street)")
    parser.add_argument("--browsers", type=int, default=2)
    parser.add_argument("--sample-s", type=float, default=5.0)
    args = parser.parse_args()
    duration = args.duration_s or (60.0 if args.quick else 1800.0)
    warmup = duration / 6 if args.quick else min(full_warmup_s(args.cases_per_s),
                                                 0.6 * duration)
    world = SyntheticStreet(args.cases_per_s)
    hub = SimulatedHub(free_port(), world)
    hub.start()
    tmp = Path(tempfile.mkdtemp(prefix="wall-rss-"))
    (tmp / "tokens.yaml").write_text("bench-viewer-token: {name: bench, role: viewer}\n")
    (tmp / "tokens.yaml").chmod(0o600)  # a world-readable one is refused outside GRIDWALL_DEV
    wall_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWALL_")}
    env.update({"GRIDWALL_TOKENS_FILE": str(tmp / "tokens.yaml"),
                "GRIDWALL_DATA_DIR": str(tmp), "GRIDWALL_WALL_PORT": str(wall_port),
                "GRIDWALL_CLICKHOUSE_DATABASE": "gw_bench_wall_rss_empty"})
    log_path = tmp / "wall.log"
    wall_log = open(log_path, "wb")  # noqa: SIM115 - closed below
    wall = subprocess.Popen([sys.executable, "-m", "gridwall.cli", "wall", "--hub-url",
                             f"ws://127.0.0.1:{hub.port}/"], env=env,
                            stdout=wall_log, stderr=subprocess.STDOUT)
    browsers = None
    samples: list[tuple[float, float]] = []
    opened_by_warmup = -1
    try:
        url = f"http://127.0.0.1:{wall_port}/wall"
        if not wait_for_http(url, 60):
            raise SystemExit("the wall did not start")
        browsers = open_browsers(url, args.browsers)
        start = time.monotonic()
        cpu_start = cpu_seconds(wall.pid)
        while (elapsed := time.monotonic() - start) < duration:
            samples.append((elapsed, rss_mb(wall.pid)))
            if elapsed >= warmup and opened_by_warmup < 0:
                opened_by_warmup = world.cases_opened
            time.sleep(args.sample_s)
        samples.append((time.monotonic() - start, rss_mb(wall.pid)))
        cpu_percent = 100 * (cpu_seconds(wall.pid) - cpu_start) / (time.monotonic() - start)
    finally:
        if browsers is not None:
            browsers[1].close()
            browsers[0].stop()
        wall.terminate()
        wall.wait(timeout=30)
        wall_log.close()
    figures = summarize(samples, warmup, duration, world, args)
    held_end = held(log_path)  # the wall's last minutely line
    figures.update({"cases_opened_by_warmup": opened_by_warmup,
                    "cases_opened": world.cases_opened,
                    "cases_held_end": held_end.get("cases"),
                    "timelines_held_end": held_end.get("timelines")})
    if warmup >= full_warmup_s(args.cases_per_s) and world.cases_opened > opened_by_warmup >= 0:
        # Only once the activity ring is full: before, the growth is partly the ring.
        figures["rss_growth_after_warmup_per_1000_cases_mb"] = round(
            1000 * (figures["rss_end_mb"] - figures["rss_after_warmup_mb"])
            / (world.cases_opened - opened_by_warmup), 2)
    figures["wall_cpu_percent_of_one_core"] = round(cpu_percent, 1)
    figures["hub_feed_drops"] = log_path.read_text(errors="replace").count("hub feed down")
    print(f"wall log: {log_path}")
    print_table([(k, v) for k, v in figures.items()], "wall server RSS over a simulated run")
    print_figures(figures)


def summarize(samples: list[tuple[float, float]], warmup: float, duration: float,
              world: SyntheticStreet, args: argparse.Namespace) -> dict[str, Any]:
    """The figures: RSS after warm-up, at the end, max, and the slope after warm-up."""
    after = [(t, r) for t, r in samples if t >= warmup] or samples
    n = len(after)
    mean_t = sum(t for t, _ in after) / n
    mean_r = sum(r for _, r in after) / n
    var_t = sum((t - mean_t) ** 2 for t, _ in after) or 1.0
    slope_per_s = sum((t - mean_t) * (r - mean_r) for t, r in after) / var_t
    return {"duration_s": round(duration, 1), "warmup_s": round(warmup, 1),
            "browsers": args.browsers,
            "cases_per_s": args.cases_per_s,
            "items_sent": world.sent,
            "items_per_s": round(world.sent / max(duration, 1), 1),
            "rss_first_mb": round(samples[0][1], 1),
            "rss_after_warmup_mb": round(after[0][1], 1),
            "rss_end_mb": round(samples[-1][1], 1),
            "rss_max_mb": round(max(r for _, r in samples), 1),
            "rss_slope_after_warmup_mb_per_10min": round(slope_per_s * 600, 2),
            "rss_timeline_mb": [round(r, 1) for t, r in samples
                                if int(t) % max(1, int(duration / 12)) < args.sample_s]}


if __name__ == "__main__":
    main()
