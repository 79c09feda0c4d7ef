"""``gridwall simulate``: a realistic day of the street, through the gateway or straight
to Kafka (``--direct``); ``--make-city`` writes a generated city's geography instead (used
by every process through ``GRIDWALL_GEO_DIR``). See docs/simulator.md.

Exit code 0 when every event was accepted, 1 when some were refused (the simulator should
never send invalid data, so that is a bug to look at) or the sink gave up, 2 for bad usage.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

from core.logs import configure_logging
from core.settings import Settings, settings
from domain.geo_build import CitySpec, build_city, write


def register(sub: Any) -> None:
    """Add ``simulate`` to ``sub``."""
    p = sub.add_parser("simulate", help="simulate the street: reports, case workflows, "
                                        "sensors and department records")
    p.add_argument("--rate", type=float, default=20.0,
                   help="events per second overall; a sensor reading counts as one (default 20)")
    p.add_argument("--duration", type=float, metavar="S",
                   help="stop after S seconds (default: run until Ctrl-C)")
    p.add_argument("--events", type=int, metavar="N", help="stop after N events")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--speedup", type=float, default=1.0, metavar="X",
                   help="the street lives X times faster: case waits and the day's hours are "
                        "compressed X-fold, so SLA breaches come within a short demo")
    p.add_argument("--direct", action="store_true",
                   help="produce straight to Kafka instead of posting to the gateway")
    p.add_argument("--gateway", metavar="URL",
                   help="gateway base URL (default GRIDWALL_GATEWAY_URL, else "
                        "http://GRIDWALL_GATEWAY_HOST:PORT)")
    p.add_argument("--token", help="bearer token (default: the feed token of the tokens file)")
    p.add_argument("--start-ms", type=int, metavar="MS",
                   help="start the virtual clock here instead of now (epoch ms)")
    p.add_argument("--day-start", type=_hour, metavar="HH:MM",
                   help="simulated local time of day at the start (default: the street's now)")
    p.add_argument("--run-tag", help="prefix of case ids (default: derived from the start)")
    p.add_argument("--progress-every", type=float, default=5.0, metavar="S",
                   help="seconds between progress lines on stderr (default 5)")
    p.add_argument("--push-every", type=float, default=0.0, metavar="S",
                   help="send in chunks of S seconds of events, as sensor hubs that push "
                        "every S seconds (readings per grid message grow with S; default: "
                        "as they come due, every ~0.05 s)")
    p.add_argument("--report-share", type=_share, metavar="F",
                   help="share of the slots that open a new case (default: the simulator's "
                        "mix, 0.02)")
    p.add_argument("--record-share", type=_share, metavar="F",
                   help="share of the slots that carry a department record (default: the "
                        "simulator's mix, 0.015)")
    p.add_argument("--anomaly-share", type=_share, metavar="F",
                   help="chance that a sensor reading starts an anomaly episode (default: "
                        "the simulator's, 0.004: meant for the street's ~20 readings/s; at "
                        "city rates it floods the alerts job)")
    p.add_argument("--producer", choices=("batch", "kafka-python"), default="batch",
                   help="with --direct: whole record batches through aiokafka (default, a few "
                        "µs per message) or kafka-python's per-record producer (the old path, "
                        "for comparison)")
    p.add_argument("-v", "--verbose", action="store_true", help="log every retry")
    city = p.add_argument_group(
        "generate a city", "write a generated geography and exit; point every process at it "
                           "with GRIDWALL_GEO_DIR (docs/simulator.md)")
    city.add_argument("--make-city", action="store_true",
                      help="write a generated city's geography (default 100 communities x 100 "
                           "grids x 10 sensors: 10,000 grids, 100,000 sensors) and exit")
    city.add_argument("--communities", type=_positive, default=CitySpec.communities,
                      metavar="N", help="communities in the city (default %(default)s)")
    city.add_argument("--grids-per-community", type=_positive,
                      default=CitySpec.grids_per_community, metavar="N",
                      help="base grids per community (default %(default)s)")
    city.add_argument("--sensors-per-grid", type=_positive, default=CitySpec.sensors_per_grid,
                      metavar="N", help="sensors in every grid (default %(default)s)")
    city.add_argument("--geo-seed", type=int, default=CitySpec.seed, metavar="K",
                      help="seed of the city's geography (default %(default)s)")
    city.add_argument("--out", metavar="DIR",
                      help="where to write it (default <data dir>/geo/city)")
    p.set_defaults(handler=simulate_cmd)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"not a share in [0, 1): {text!r}")
    return value


def make_city(args: argparse.Namespace, s: Settings) -> int:
    """Write the generated city's GeoJSON layers; print where and how to use them."""
    try:
        spec = CitySpec(communities=args.communities,
                        grids_per_community=args.grids_per_community,
                        sensors_per_grid=args.sensors_per_grid, seed=args.geo_seed)
    except ValueError as exc:
        print(f"gridwall simulate: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else s.data_path / "geo" / "city"
    started = time.monotonic()
    layers = build_city(spec)
    paths = write(out, layers)
    print(f"wrote a city of {spec.communities:,} communities, {spec.grids:,} grids, "
          f"{spec.sensors:,} sensors ({len(layers['pois']):,} POIs) to {out} in "
          f"{time.monotonic() - started:.1f} s:", file=sys.stderr)
    for path in paths:
        print(f"  {path} ({path.stat().st_size:,} bytes)", file=sys.stderr)
    print(f"GRIDWALL_GEO_DIR={out}")
    return 0


def _hour(text: str) -> float:
    """``HH:MM`` or a decimal hour → hours in [0, 24)."""
    try:
        if ":" in text:
            hours, minutes = text.split(":", 1)
            value = int(hours) + int(minutes) / 60
        else:
            value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time of day: {text!r}") from None
    if not 0 <= value < 24:
        raise argparse.ArgumentTypeError(f"not a time of day: {text!r}")
    return value


def feed_token(s: Settings) -> str:
    """The feed (or admin) token of the tokens file; ValueError saying what to do if none."""
    from core.auth import ensure_dev_tokens

    path = s.resolved_tokens_file
    if not path.exists():
        raise ValueError(f"no tokens file at {path}: start `gridwall up` or pass --token")
    tokens = ensure_dev_tokens(path)
    token = tokens.get("feed") or tokens.get("admin")
    if not token:
        raise ValueError(f"{path} has no token with role feed or admin: pass --token")
    return token


def simulate_cmd(args: argparse.Namespace) -> int:
    """Run the simulator until the duration, the event count or Ctrl-C; print a summary."""
    from ingest.simulator.engine import Mix, SimConfig, Simulation
    from ingest.simulator.runner import progress_line, run
    from ingest.simulator.sensors import FleetShares
    from ingest.simulator.sink import Sink, SinkFatal

    configure_logging("simulate", logging.INFO if args.verbose else logging.WARNING)
    s = settings()
    if args.make_city:
        return make_city(args, s)
    if args.rate <= 0 or args.speedup <= 0 or args.push_every < 0:
        print("gridwall simulate: --rate and --speedup must be positive, --push-every not "
              "negative", file=sys.stderr)
        return 2
    start_ms = args.start_ms if args.start_ms is not None else int(time.time() * 1000)
    mix = Mix()
    mix = Mix(report=mix.report if args.report_share is None else args.report_share,
              record=mix.record if args.record_share is None else args.record_share,
              origins=mix.origins)
    fleet = FleetShares()
    if args.anomaly_share is not None:
        fleet = FleetShares(anomaly=args.anomaly_share, dead=fleet.dead)
    config = SimConfig(seed=args.seed, rate=args.rate, speedup=args.speedup,
                       day_start_h=args.day_start, run_tag=args.run_tag, mix=mix, fleet=fleet)
    simulation = Simulation(config, start_ms)
    _settle_heap()
    try:
        sink: Sink = _sink(args, s, simulation.run_tag)
    except ValueError as exc:
        print(f"gridwall simulate: {exc}", file=sys.stderr)
        return 2
    target = "Kafka (direct)" if args.direct else "the gateway"
    geography = simulation.street
    print(f"simulate: {args.rate:g} events/s to {target}, seed {args.seed}, speedup "
          f"{args.speedup:g}, run tag {simulation.run_tag}; {geography.name_en}: "
          f"{len(geography.grids):,} grids, {len(geography.sensors):,} sensors "
          f"({s.resolved_geo_dir})", file=sys.stderr)
    if args.start_ms is None:  # live: the clock starts now, after loading and connecting
        simulation.rebase(int(time.time() * 1000))
    try:
        result = run(simulation, sink, args.rate, duration_s=args.duration,
                     max_events=args.events, progress_every_s=args.progress_every,
                     push_every_s=args.push_every,
                     max_chunk=max(20_000, int(args.rate * args.push_every) + 1),
                     detail=lambda: f"open cases {simulation.open_cases}, "
                                    f"live sensors {simulation.fleet.live_count}")
    except SinkFatal as exc:
        print(f"gridwall simulate: {exc}", file=sys.stderr)
        return 1
    finally:
        sink.close()
    counts = simulation.counts
    print(progress_line(result, result.rate), file=sys.stderr)
    print(f"sent {result.events} events in {result.seconds:.1f} s ({result.rate:.0f} events/s):"
          f" {counts['reading']} readings, {counts['case']} case events, "
          f"{counts['record']} department records; accepted {result.stats.accepted}, "
          f"rejected {result.stats.rejected}")
    for reason, count in sorted(result.stats.rejects_by_reason.items()):
        print(f"  rejected {count}: {reason}")
    return 1 if result.stats.rejected else 0


def _settle_heap() -> None:
    """Keep the garbage collector off what lives for the whole run.

    The geography (a city: ~130,000 POIs, 10,000 grid polygons) and the simulation's tables
    are never freed; frozen, the collector's full passes no longer walk them. The young
    generation is collected less often too: a run allocates ~10,000 batch messages a second
    at city scale, and each young collection walked the chunk being built.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 20, 20)


def _sink(args: argparse.Namespace, s: Settings, run_tag: str) -> Any:
    """The sink the arguments ask for; ValueError with the reason if it cannot be built."""
    if args.direct:
        from kafka.errors import KafkaError

        from core.kafka_records import KafkaUnavailable, Writer
        from core.kafka_writer import KafkaWriter
        from ingest.simulator.batch_producer import batch_writer
        from ingest.simulator.kafka_sink import KafkaSink

        def connect(client_id: str) -> Writer:
            return (KafkaWriter(s, client_id=client_id) if args.producer == "kafka-python"
                    else batch_writer(s, client_id=client_id))

        try:
            writer = connect("gridwall-simulator")
        except (KafkaError, KafkaUnavailable) as exc:
            raise ValueError(f"cannot connect to Kafka at {s.kafka_bootstrap}: {exc}") from exc
        try:  # case events and records on a lane of their own (KafkaSink)
            events_writer = connect("gridwall-simulator-events")
        except (KafkaError, KafkaUnavailable) as exc:
            writer.close()
            raise ValueError(f"cannot connect to Kafka at {s.kafka_bootstrap}: {exc}") from exc
        return KafkaSink(writer, run_tag, events_writer=events_writer)
    from ingest.simulator.http_sink import HttpSink

    url = args.gateway or s.resolved_gateway_url
    token = args.token or feed_token(s)
    return HttpSink(url, token, run_tag, max_body_bytes=min(s.max_body_bytes // 2, 512 * 1024))
