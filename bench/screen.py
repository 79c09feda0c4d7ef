"""``gridwall bench screen [--quick]``: event posted → visible in a browser-equivalent client.

The whole live path, real parts only, on a topic prefix and database of the run's own:
``gridwall gateway``, ``gridwall worker`` and ``gridwall hub`` as child processes, and in
this process one hub client that authenticates with a viewer token and subscribes to every
channel, as the ``/wall`` page does (:class:`wall.hub.client.HubClient`).

A **probe** is a new case report with a unique case id, POSTed to ``/v1/cases/events``
(``--probes-per-s`` of them, evenly spaced). Its latency is the time from just before the
POST to the first hub message that carries an item for that case: gateway, Kafka, the
cases agent, the wall updates topic, the hub, the websocket. ``ingest`` is the POST's own
round trip (202 after the broker acknowledged).

Phases, one after the other against the same processes:

1. **quiet** — probes only: the baseline, what the path costs with nothing else to do;
2. **loaded** — ``gridwall simulate --rate R`` (5,000 events/s by default: the street's
   mix, mostly sensor readings in per-grid batches, plus case events and department
   records) posts through the same gateway; after a warm-up, probes as in phase 1.

Figures: per phase post→screen p50/p99/max, ingest p50/p99, probes lost (never seen within
``LOST_AFTER_S``); the simulator's accepted events/s; worker, gateway and hub CPU (% of one
core) and RSS. ``ratio_p99_vs_quiet`` = loaded p99 / quiet p99. Target (issue 6): loaded
p99 ≤ 1 s. Figures only: nothing here passes or fails on time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench._pipeline_world import REPO, Worker, World, make_world
from bench.common import cpu_seconds, free_port, percentile, print_figures, print_table
from bench.gateway import Gateway
from bench.hub import start_hub, stop
from domain.geo import street
from wall.hub.client import HubClient
from wall.hub.protocol import CHANNELS, DeltasMsg, SnapshotMsg
from wall.hub.stats import rss_mb

FEED, VIEWER = "bench-screen-feed", "bench-screen-viewer"
LOST_AFTER_S = 10.0
TARGET_P99_MS = 1_000.0
_ACCEPTED = re.compile(r"([\d,]+) overall; accepted ([\d,]+)")


@dataclass
class Probes:
    """Sent probes and when the client first saw each; times in ``time.monotonic`` s."""

    sent: dict[str, float] = field(default_factory=dict)
    acked: dict[str, float] = field(default_factory=dict)
    seen: dict[str, float] = field(default_factory=dict)

    def note(self, keys: list[str]) -> None:
        """Record the first sighting of any probe among ``keys``."""
        now = time.monotonic()
        for key in keys:
            if key in self.sent and key not in self.seen:
                self.seen[key] = now

    def timeline(self) -> list[tuple[float, float | None]]:
        """(epoch s when sent, post→screen ms or None if lost) per probe, oldest first."""
        to_epoch = time.time() - time.monotonic()
        return [(round(t + to_epoch, 3),
                 round((self.seen[k] - t) * 1000, 1) if k in self.seen else None)
                for k, t in sorted(self.sent.items(), key=lambda kv: kv[1])]

    def figures(self, phase: str) -> dict[str, Any]:
        """Percentiles (ms) of post→screen and post→202 over this phase's probes."""
        screen = [(self.seen[k] - t) * 1000 for k, t in self.sent.items() if k in self.seen]
        ingest = [(self.acked[k] - t) * 1000 for k, t in self.sent.items() if k in self.acked]
        return {f"{phase}_probes": len(self.sent),
                f"{phase}_lost": len(self.sent) - len(screen),
                f"{phase}_screen_p50_ms": round(percentile(screen, 50), 1),
                f"{phase}_screen_p99_ms": round(percentile(screen, 99), 1),
                f"{phase}_screen_max_ms": round(max(screen, default=0.0), 1),
                f"{phase}_ingest_p50_ms": round(percentile(ingest, 50), 1),
                f"{phase}_ingest_p99_ms": round(percentile(ingest, 99), 1)}


def probe_event(case_id: str, grid_id: str) -> dict[str, Any]:
    """A new case report, as a resident's app would post it."""
    return {"event_id": f"ev-{case_id}", "case_id": case_id, "action": "report",
            "ts": int(time.time() * 1000), "source": "resident_app",
            "category": "environment", "grid_id": grid_id, "description": "bench probe"}


async def watch(client: HubClient, probes: list[Probes]) -> None:
    """Read hub messages forever, noting probe sightings in the current phase."""
    while True:
        msg = await client.recv(timeout_s=3600)
        if isinstance(msg, DeltasMsg | SnapshotMsg):
            probes[-1].note([item.key for item in msg.items])


async def send_probes(http: httpx.AsyncClient, url: str, per_s: float, duration_s: float,
                      probes: Probes) -> None:
    """POST probes evenly spaced; each in its own task so a slow POST delays no other."""
    grids = street().grid_ids
    tasks = []
    begin = time.monotonic()
    for i in range(int(per_s * duration_s)):
        await asyncio.sleep(max(0.0, begin + i / per_s - time.monotonic()))
        case_id = f"SCR-{uuid.uuid4().hex[:10]}"
        tasks.append(asyncio.create_task(
            _post(http, url, probe_event(case_id, grids[i % len(grids)]), probes)))
    await asyncio.gather(*tasks)
    deadline = time.monotonic() + LOST_AFTER_S
    while len(probes.seen) < len(probes.sent) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


async def _post(http: httpx.AsyncClient, url: str, event: dict[str, Any], probes: Probes
                ) -> None:
    case_id = event["case_id"]
    probes.sent[case_id] = time.monotonic()
    response = await http.post(url, json=event, headers={"Authorization": f"Bearer {FEED}"})
    if response.status_code != 202:
        raise RuntimeError(f"probe refused: {response.status_code} {response.text[:200]}")
    probes.acked[case_id] = time.monotonic()


class CpuMeter:
    """CPU use and RSS of child processes, read from ``/proc``."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.begin = {name: cpu_seconds(pid) for name, pid in pids.items()}
        self.t0 = time.monotonic()

    def figures(self, phase: str) -> dict[str, Any]:
        """CPU % of one core since construction, and RSS now, per process."""
        elapsed = time.monotonic() - self.t0
        out: dict[str, Any] = {}
        for name, pid in self.pids.items():
            out[f"{phase}_{name}_cpu_pct"] = round(
                100 * (cpu_seconds(pid) - self.begin[name]) / elapsed, 1)
            out[f"{phase}_{name}_rss_mb"] = round(rss_mb(pid), 1)
        return out


def start_simulator(world: World, env: dict[str, str], gateway_url: str, rate: float,
                    duration_s: float) -> subprocess.Popen[str]:
    """``gridwall simulate`` posting through the gateway at ``rate`` events/s."""
    return subprocess.Popen(
        [sys.executable, "-m", "gridwall.cli", "simulate", "--rate", str(rate),
         "--duration", str(duration_s), "--gateway", gateway_url, "--token", FEED,
         "--run-tag", f"scr{world.tag}", "--progress-every", "5"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def accepted_rate(stderr: str) -> tuple[float, int]:
    """The simulator's overall events/s and accepted count from its last progress line."""
    found = _ACCEPTED.findall(stderr)
    if not found:
        return 0.0, 0
    rate, accepted = found[-1]
    return float(rate.replace(",", "")), int(accepted.replace(",", ""))


async def measure(world: World, args: argparse.Namespace) -> dict[str, Any]:
    """Run both phases against one gateway, worker and hub; return the figures."""
    tokens = world.logs / "tokens.yaml"
    tokens.write_text(yaml.safe_dump({
        FEED: {"name": "bench-feed", "role": "feed", "sources": ["*"]},
        VIEWER: {"name": "bench-viewer", "role": "viewer"}}))
    tokens.chmod(0o600)  # a world-readable tokens file is refused outside GRIDWALL_DEV
    env = {**world.env, "GRIDWALL_TOKENS_FILE": str(tokens)}
    worker = Worker(world, "screen")
    gateway = hub = None
    figures: dict[str, Any] = {"rate_target": args.rate, "probes_per_s": args.probes_per_s}
    try:
        worker.wait_ready()
        gateway = Gateway(env, workers=1, per_request=False)
        hub_port = free_port()
        hub = start_hub(world.settings, tokens, hub_port)
        meter_pids = {"worker": worker.proc.pid, "gateway": gateway.process.pid,
                      "hub": hub.pid}
        probes = [Probes()]
        url = f"{gateway.url}/v1/cases/events"
        async with (HubClient(f"ws://127.0.0.1:{hub_port}/", VIEWER) as client,
                    httpx.AsyncClient(timeout=30) as http):
            await client.subscribe(CHANNELS)
            watcher = asyncio.create_task(watch(client, probes))
            meter = CpuMeter(meter_pids)
            await send_probes(http, url, args.probes_per_s, args.duration, probes[-1])
            figures |= probes[-1].figures("quiet") | meter.figures("quiet")
            sim = start_simulator(world, env, gateway.url, args.rate,
                                  args.warmup + args.duration + 5)
            await asyncio.sleep(args.warmup)
            probes.append(Probes())
            meter = CpuMeter(meter_pids)
            await send_probes(http, url, args.probes_per_s, args.duration, probes[-1])
            figures |= probes[-1].figures("loaded") | meter.figures("loaded")
            if args.timeline:
                args.timeline.write_text("\n".join(
                    f"{phase},{t},{'' if ms is None else ms}"
                    for phase, got in zip(("quiet", "loaded"), probes, strict=True)
                    for t, ms in got.timeline()) + "\n")
            _, err = await asyncio.to_thread(sim.communicate)
            rate, accepted = accepted_rate(err)
            figures |= {"loaded_events_per_s": round(rate), "loaded_events_accepted": accepted}
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    finally:
        if hub is not None:
            stop(hub)
        if gateway is not None:
            gateway.stop()
        worker.stop()
    quiet = figures["quiet_screen_p99_ms"] or 1.0
    figures["ratio_p99_vs_quiet"] = round(figures["loaded_screen_p99_ms"] / quiet, 2)
    figures["target_p99_ms"] = TARGET_P99_MS
    return figures


def report(f: dict[str, Any]) -> None:
    """The table, then the figures as one JSON line."""
    rows: list[tuple[str, object]] = []
    for phase in ("quiet", "loaded"):
        rows += [(f"{phase}: post → screen p50 / p99 / max ms",
                  f"{f[f'{phase}_screen_p50_ms']} / {f[f'{phase}_screen_p99_ms']} / "
                  f"{f[f'{phase}_screen_max_ms']}"),
                 (f"{phase}: post → 202 p50 / p99 ms",
                  f"{f[f'{phase}_ingest_p50_ms']} / {f[f'{phase}_ingest_p99_ms']}"),
                 (f"{phase}: probes / lost", f"{f[f'{phase}_probes']} / {f[f'{phase}_lost']}"),
                 (f"{phase}: CPU % worker / gateway / hub",
                  f"{f[f'{phase}_worker_cpu_pct']} / {f[f'{phase}_gateway_cpu_pct']} / "
                  f"{f[f'{phase}_hub_cpu_pct']}"),
                 (f"{phase}: RSS MB worker / gateway / hub",
                  f"{f[f'{phase}_worker_rss_mb']} / {f[f'{phase}_gateway_rss_mb']} / "
                  f"{f[f'{phase}_hub_rss_mb']}")]
    rows += [("loaded: simulator events/s accepted (target)",
              f"{f['loaded_events_per_s']:,} ({f['rate_target']:,.0f})"),
             ("loaded p99 / quiet p99", f["ratio_p99_vs_quiet"]),
             ("target: loaded p99 ≤ ms", f["target_p99_ms"])]
    print_table(rows, "event posted → visible in a hub client")
    print_figures(f)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m bench.screen``."""
    parser = argparse.ArgumentParser(prog="gridwall bench screen", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=5_000.0,
                        help="background events/s in the loaded phase (default 5000)")
    parser.add_argument("--duration", type=float, default=60.0,
                        help="seconds of probes per phase (default 60)")
    parser.add_argument("--warmup", type=float, default=15.0,
                        help="seconds of load before the loaded phase's probes (default 15)")
    parser.add_argument("--probes-per-s", type=float, default=10.0)
    parser.add_argument("--timeline", type=Path, metavar="CSV",
                        help="also write phase,sent_epoch_s,latency_ms per probe to CSV")
    parser.add_argument("--quick", action="store_true", help="20 s phases, 5 s warm-up")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup = 20.0, 5.0
    with make_world() as world:
        figures = asyncio.run(measure(world, args))
    report(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
