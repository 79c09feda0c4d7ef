"""``gridwall bench simulator [--quick]``: what the load generator costs at city scale.

``gridwall simulate --direct`` started exactly as ``gridwall bench city`` starts it
(:func:`bench.city.simulator`: ``--readings-per-s`` readings a second, pushed per grid every
``--push-s`` seconds, a trickle of case reports, department records and anomaly episodes),
against the real Kafka on a topic prefix of the run's own (:func:`bench.city.geography_world`),
twice in the same run:

1. **street** (the baseline): the default geography (92 grids, ~540 readings per message at
   50,000 readings/s);
2. **city**: a generated city (default 100 communities x 100 grids x 10 sensors = 10,000
   grids, 100,000 sensors; ~5 readings per message), written to the run's directory and
   given to the simulator with ``GRIDWALL_GEO_DIR``.

No worker runs: only the generator's own cost is measured. Figures per phase (``street_*``,
``city_*``):

* ``readings_per_s``, ``events_per_s``: what the simulator reported it produced (and Kafka
  acknowledged) over its whole run, from its summary line;
* ``messages_per_s``: messages on the readings topic (the sum of its end offsets after the
  run) per second of the run, and ``readings_per_message``;
* ``cpu_pct``: the simulator's CPU (user + system, ``/proc``) in % of one core over the
  measure window, which starts after a warm-up (the geography is loaded then);
  ``cpu_us_per_reading`` the same per reading produced;
* ``rss_mb``: the simulator's resident set size at the end of the measure window;
* ``machine_busy_pct``: all cores busy in the window (other work on the machine).

``ratio_*`` = city / street. Prints a table, then as the last line one JSON object.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._pipeline_world import World, now_ms, topic_messages
from bench.city import _SUMMARY, add_load_arguments, busy, geography_world, simulator
from bench.common import cpu_seconds, print_figures, print_table, rounded
from domain import geo_build
from domain.contracts.topics import SENSOR_READINGS
from wall.hub.stats import rss_mb

TARGET_CPU_PCT = 30.0


@dataclass(frozen=True)
class Plan:
    """Seconds of one phase: warm-up (not measured), then the measure window."""

    warmup_s: float
    measure_s: float


FULL = Plan(warmup_s=6, measure_s=20)
QUICK = Plan(warmup_s=4, measure_s=8)


def measure(world: World, args: argparse.Namespace, plan: Plan) -> dict[str, float]:
    """Run the simulator on ``world``'s geography; its figures (module docstring)."""
    sim = simulator(world, args, plan.warmup_s + plan.measure_s)
    try:
        time.sleep(plan.warmup_s)
        cpu0, busy0, t0 = cpu_seconds(sim.pid), busy(), time.monotonic()
        time.sleep(plan.measure_s)
        cpu, machine = cpu_seconds(sim.pid) - cpu0, busy() - busy0
        elapsed = time.monotonic() - t0
        rss = rss_mb(sim.pid)
        out, err = sim.communicate(timeout=120)
    finally:
        if sim.poll() is None:
            sim.kill()
            sim.wait()
    summary = _SUMMARY.search(out)
    if sim.returncode != 0 or summary is None:
        raise RuntimeError(f"simulator failed ({sim.returncode}): {err[-2000:]}")
    events, seconds, readings, _, _ = (float(x) for x in summary.groups())
    messages = topic_messages(world, SENSOR_READINGS)
    readings_per_s = readings / seconds
    return {
        "readings_per_s": readings_per_s, "events_per_s": events / seconds,
        "messages_per_s": messages / seconds,
        "readings_per_message": readings / messages if messages else float("nan"),
        "cpu_pct": 100 * cpu / elapsed,
        "cpu_us_per_reading": 1e6 * cpu / elapsed / readings_per_s if readings else 0.0,
        "rss_mb": rss,
        "machine_busy_pct": 100 * machine / elapsed / (os.cpu_count() or 1),
    }


def phase(name: str, geo_dir: Path | None, args: argparse.Namespace, plan: Plan
          ) -> dict[str, float]:
    """One geography in a world of its own; figures prefixed with ``name``."""
    print(f"bench simulator: {name} at {args.readings_per_s:,.0f} readings/s ...",
          file=sys.stderr, flush=True)
    with geography_world(geo_dir) as world:
        figures = measure(world, args, plan)
    return {f"{name}_{key}": value for key, value in figures.items()}


RATIOS = ("readings_per_s", "messages_per_s", "cpu_pct", "cpu_us_per_reading", "rss_mb")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Both phases and the city / street ratios."""
    plan = QUICK if args.quick else FULL
    figures: dict[str, Any] = {"target_readings_per_s": args.readings_per_s,
                               "target_cpu_pct": TARGET_CPU_PCT, "push_s": args.push_s,
                               "measure_s": plan.measure_s,
                               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    city_dir = Path(args.city_dir) if args.city_dir else None
    generated = city_dir is None
    if city_dir is None:
        spec = geo_build.CitySpec(communities=args.communities,
                                  grids_per_community=args.grids_per_community,
                                  sensors_per_grid=args.sensors_per_grid)
        city_dir = Path(f"/tmp/gridwall-bench-simulator-{now_ms()}")
        geo_build.write(city_dir, geo_build.build_city(spec))
    try:
        figures |= phase("street", None, args, plan)
        figures |= phase("city", city_dir, args, plan)
    finally:
        if generated:
            shutil.rmtree(city_dir, ignore_errors=True)
    for name in RATIOS:
        street, city = figures.get(f"street_{name}"), figures.get(f"city_{name}")
        if isinstance(street, float) and isinstance(city, float) and street > 0:
            figures[f"ratio_{name}"] = city / street
    return figures


def report(f: dict[str, Any]) -> None:
    """The table (street | city | ratio), then every figure as one JSON line."""
    rows: list[tuple[str, object]] = [("", "street | city | city/street")]
    for name in ("readings_per_s", "events_per_s", "messages_per_s", "readings_per_message",
                 "cpu_pct", "cpu_us_per_reading", "rss_mb", "machine_busy_pct"):
        ratio = f.get(f"ratio_{name}")
        rows.append((name, f"{f.get(f'street_{name}', float('nan')):,.1f} | "
                           f"{f.get(f'city_{name}', float('nan')):,.1f}"
                           + (f" | {ratio:,.2f}" if isinstance(ratio, float) else "")))
    rows.append(("goal: city readings_per_s >=", f"{f['target_readings_per_s']:,.0f}"))
    rows.append(("goal: city cpu_pct <=", f"{f['target_cpu_pct']:,.0f}"))
    print_table(rows, "simulator: gridwall simulate --direct (street = baseline)")
    print_figures(rounded(f))


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run both phases, print the table and the JSON line."""
    parser = argparse.ArgumentParser(prog="gridwall bench simulator", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short phases (~40 s in all)")
    add_load_arguments(parser)
    report(run(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
