"""Gateway throughput and latency with a real HTTP load generator on loopback.

``python -m bench.gateway [--quick] [--workers N] [--connections C]``: starts ``gridwall
gateway`` as a subprocess on a free port (real uvicorn, real Kafka, this run's own topics),
drives it with ``wrk`` (Lua scripts write the POST bodies) and reports:

* single-event requests/s (each a new ``event_id``, so each is produced and acknowledged),
  with p50/p99 request latency;
* batched sensor readings/s (``--readings`` per request, spread over every grid);
* the baseline: the same single-event load against the gateway started with
  ``--per-request-produce`` (one Kafka round trip per request, no group commit), and the ratio.

wrk is a closed loop: latency includes queueing at the offered concurrency. Prints a table,
then one JSON object with every figure as the last line. Needs ``wrk`` (Debian package).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

from bench.common import free_port, print_figures, print_table, wait_for_http
from core.settings import REPO_ROOT, Settings, settings_from

TOKEN = "bench-feed-token-0000000000"

EVENTS_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"
local points = { %(points)s }
local threads = 0
local n = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function request()
  n = n + 1
  local p = points[(n %% #points) + 1]
  local body = string.format(
    '{"event_id":"%(run)s-%%d-%%d","case_id":"%(run)s-%%d-%%d","action":"report",' ..
    '"ts":%(ts)d,"source":"resident_app","category":"noise","priority":"normal",' ..
    '"lon":%%.6f,"lat":%%.6f,"description":"bench"}', tid, n, tid, n, p[1], p[2])
  return wrk.format(nil, "/v1/cases/events", nil, body)
end
"""
READINGS_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"
local f = assert(io.open("%(body)s", "rb"))
wrk.body = f:read("*a")
f:close()
wrk.path = "/v1/sensors/readings"
"""
DONE_LUA = """
function done(summary, latency, requests)
  io.write(string.format('WRK_JSON {"requests":%d,"duration_us":%d,"non_2xx":%d,' ..
    '"errors":%d,"p50_us":%d,"p99_us":%d}\\n', summary.requests, summary.duration,
    summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, latency:percentile(50),
    latency:percentile(99)))
end
"""


def street_points(limit: int = 92) -> list[tuple[float, float]]:
    """Grid centroids that geocode inside the street (one per grid)."""
    from domain.geo import street

    geo = street()
    points = [g.centroid for g in geo.grids.values() if geo.grid_at(*g.centroid)]
    return points[:limit]


def readings_body(count: int, run: str) -> bytes:
    """A readings request of ``count`` readings from the registered sensors (no request_id:
    every request is fresh)."""
    from domain.geo import street

    sensors = list(street().sensors.values())
    ts = int(time.time() * 1000)
    readings = [{"sensor_id": s.sensor_id, "kind": s.sensor_kind, "value": float(i % 97),
                 "ts": ts + i} for i, s in ((i, sensors[i % len(sensors)]) for i in range(count))]
    return json.dumps({"source": "sensor", "readings": readings}).encode()


class Gateway:
    """``gridwall gateway`` as a child process on a free loopback port."""

    def __init__(self, env: dict[str, str], workers: int, per_request: bool) -> None:
        self.port = free_port()
        argv = [sys.executable, "-m", "gridwall.cli", "gateway", "--host", "127.0.0.1",
                "--port", str(self.port), "--workers", str(workers)]
        if per_request:
            argv.append("--per-request-produce")
        self.process = subprocess.Popen(argv, cwd=REPO_ROOT, env=env,
                                        stdout=subprocess.DEVNULL)
        if not wait_for_http(f"{self.url}/healthz", timeout_s=60):
            self.stop()
            raise SystemExit("bench.gateway: the gateway did not become healthy")

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Interrupt and wait (kill after 20 s)."""
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def run_wrk(url: str, script: Path, seconds: int, connections: int, threads: int) -> dict:
    """Run wrk and return the figures its ``done`` hook printed."""
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s",
                          "--timeout", "10s", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK_JSON "))
    figures: dict = json.loads(line.removeprefix("WRK_JSON "))
    figures["per_s"] = figures["requests"] / (figures["duration_us"] / 1e6)
    return figures


def write_scripts(folder: Path, run: str, body_path: Path) -> tuple[Path, Path]:
    """The events and readings Lua scripts."""
    points = ", ".join(f"{{{lon:.6f}, {lat:.6f}}}" for lon, lat in street_points())
    values = {"token": TOKEN, "points": points, "run": run, "ts": int(time.time() * 1000),
              "body": body_path}
    events, readings = folder / "events.lua", folder / "readings.lua"
    events.write_text(EVENTS_LUA % values + DONE_LUA)
    readings.write_text(READINGS_LUA % values + DONE_LUA)
    return events, readings


def environment(folder: Path, run: str) -> dict[str, str]:
    """Environment of the gateway child: this run's topics and a bench token."""
    tokens = folder / "tokens.yaml"
    tokens.write_text(yaml.safe_dump({TOKEN: {"name": "bench", "role": "feed",
                                              "sources": ["*"]}}))
    tokens.chmod(0o600)  # a world-readable tokens file is refused outside GRIDWALL_DEV
    env = {k: v for k, v in os.environ.items() if k != "GRIDWALL_TOPIC_PREFIX"}
    env.update({"GRIDWALL_TOPIC_PREFIX": f"bench.{run}.", "GRIDWALL_TOKENS_FILE": str(tokens)})
    return env


def phase(env: dict[str, str], args: argparse.Namespace, script: Path, seconds: int,
          connections: int, per_request: bool = False) -> dict:
    """One gateway process, a short warm-up, then the measured wrk run."""
    gateway = Gateway(env, args.workers, per_request)
    try:
        run_wrk(gateway.url, script, 1, 8, 1)
        return run_wrk(gateway.url, script, seconds, connections, args.threads)
    finally:
        gateway.stop()


def drop_topics(s: Settings) -> None:
    """Delete this run's topics from the shared broker (best effort)."""
    from kafka import KafkaAdminClient

    from domain.contracts.topics import CATALOG

    admin = KafkaAdminClient(bootstrap_servers=s.kafka_bootstrap, client_id="bench-gateway")
    try:
        admin.delete_topics([spec.name(s.topic_prefix) for spec in CATALOG])
    except Exception as exc:  # noqa: BLE001 - leftovers are harmless, say so and go on
        print(f"bench.gateway: could not delete topics {s.topic_prefix}*: {exc}",
              file=sys.stderr)
    finally:
        admin.close()


def main(argv: list[str] | None = None) -> int:
    """Run the phases and print the table and the JSON figures."""
    parser = argparse.ArgumentParser(prog="bench.gateway", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 s per phase instead of 15 s")
    parser.add_argument("--workers", type=int, default=1, help="gateway worker processes")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--readings", type=int, default=1000, help="readings per request")
    parser.add_argument("--readings-connections", type=int, default=8,
                        help="wrk connections of the readings phase (big bodies: fewer)")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench.gateway: needs wrk (apt-get install -y wrk)", file=sys.stderr)
        return 2
    seconds = 3 if args.quick else 15
    run = uuid.uuid4().hex[:8]
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="gw-bench-") as tmp:
        folder = Path(tmp)
        env = environment(folder, run)
        from infra.topics import ensure_topics

        bench_settings = settings_from(env)
        ensure_topics(bench_settings)
        body = folder / "readings.json"
        body.write_bytes(readings_body(args.readings, run))
        events_lua, readings_lua = write_scripts(folder, run, body)
        events = phase(env, args, events_lua, seconds, args.connections)
        readings = phase(env, args, readings_lua, seconds, args.readings_connections)
        baseline = phase(env, args, events_lua, seconds, args.connections, per_request=True)
        drop_topics(bench_settings)
    figures = {
        "events_per_s": round(events["per_s"], 1),
        "latency_p50_ms": events["p50_us"] / 1000, "latency_p99_ms": events["p99_us"] / 1000,
        "readings_per_s": round(readings["per_s"] * args.readings, 1),
        "readings_requests_per_s": round(readings["per_s"], 1),
        "readings_latency_p50_ms": readings["p50_us"] / 1000,
        "readings_latency_p99_ms": readings["p99_us"] / 1000,
        "baseline_events_per_s": round(baseline["per_s"], 1),
        "baseline_latency_p50_ms": baseline["p50_us"] / 1000,
        "baseline_latency_p99_ms": baseline["p99_us"] / 1000,
        "ratio_vs_baseline": round(events["per_s"] / max(baseline["per_s"], 1e-9), 2),
        "non_2xx": events["non_2xx"] + readings["non_2xx"] + baseline["non_2xx"],
        "socket_errors": events["errors"] + readings["errors"] + baseline["errors"],
        "phase_s": seconds, "connections": args.connections, "workers": args.workers,
        "readings_connections": args.readings_connections,
        # The machine is shared: a high load average means the figures are pessimistic.
        "load_avg_1m_before": round(load_before, 2),
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
        "readings_per_request": args.readings,
    }
    print_table([
        ("single events/s (group commit)", figures["events_per_s"]),
        ("  latency p50 / p99 ms", f"{figures['latency_p50_ms']} / {figures['latency_p99_ms']}"),
        ("sensor readings/s (batched)", figures["readings_per_s"]),
        ("  requests/s", figures["readings_requests_per_s"]),
        ("  latency p50 / p99 ms",
         f"{figures['readings_latency_p50_ms']} / {figures['readings_latency_p99_ms']}"),
        ("baseline events/s (per-request produce)", figures["baseline_events_per_s"]),
        ("  latency p50 / p99 ms",
         f"{figures['baseline_latency_p50_ms']} / {figures['baseline_latency_p99_ms']}"),
        ("ratio vs baseline", figures["ratio_vs_baseline"]),
        ("non-2xx answers / socket errors", f"{figures['non_2xx']} / {figures['socket_errors']}"),
        ("load average before / after",
         f"{figures['load_avg_1m_before']} / {figures['load_avg_1m_after']}"),
    ], title=f"gateway on loopback: wrk -c{args.connections}, {args.workers} worker(s), "
             f"{seconds} s per phase")
    print_figures(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
