"""Hub fan-out benchmark: latency added by the hub when it feeds many screens.

``python -m bench.hub [--quick]`` (or ``gridwall bench hub``) runs, on a topic prefix of its
own that it deletes afterwards:

1. ``gridwall hub`` as a child process, and ``--clients`` websocket clients in this process
   subscribed to ``grid_metrics``;
2. for each rate (the issue's point, ``--updates-per-s``, 2 by default, and a stress point,
   ``--stress-updates-per-s``, every one of 92 grids twice a second), WallUpdate records are
   produced to the wall updates topic at that rate, evenly spaced, each stamped with its
   produce time; every update reaches every client;
3. a plain aiokafka consumer in a process of its own reads the same records (what Kafka alone
   costs);
4. the baseline: the same clients connected to a trivial broadcast websockets server (no
   Kafka, no hub logic, ``websockets.broadcast``) sending the same frames at the same rate.

Figures (milliseconds): ``added_latency`` is produce time → client receipt through Kafka
and the hub (the issue's "added by the hub", target p99 ≤ 100 ms); ``kafka_latency`` is
produce → plain consumer; ``hub_overhead`` is, per delivery, client receipt − plain
consumer receipt of the same record (the hub's own share); ``baseline_latency`` is
broadcast-server send → client receipt. ``ratio_vs_baseline`` = added p99 / baseline p99.
The hub's RSS and CPU are read from ``/proc``. Never pass/fail on time: figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import yaml

from bench.common import (
    cpu_seconds,
    free_port,
    percentile,
    print_figures,
    print_table,
    wait_for_http,
)
from core.settings import Settings, settings_from
from wall.hub.stats import rss_mb

TOKEN = "bench-viewer-token"
GRIDS = [f"G{n:03d}" for n in range(1, 93)]
TARGET_ADDED_P99_MS = 100.0


class _Data(msgspec.Struct):
    t_ns: int = 0
    seq: int = -1
    phase: str = ""


class _Item(msgspec.Struct):
    data: _Data


class _Frame(msgspec.Struct):
    """Just what latency needs from a hub ``deltas`` frame (or the baseline's copy of it)."""

    type: str
    items: list[_Item] = []


_frames = msgspec.json.Decoder(_Frame)
_records = msgspec.json.Decoder(_Item)
_encoder = msgspec.json.Encoder()


def update_bytes(phase: str, seq: int) -> tuple[str, bytes]:
    """One realistic grid_metrics update (key, JSON), stamped now."""
    grid = GRIDS[seq % len(GRIDS)]
    data = {"t_ns": time.time_ns(), "seq": seq, "phase": phase, "grid_id": grid,
            "open_cases": seq % 17, "overdue": seq % 3, "on_time_rate": 0.93,
            "events_per_min": 12.5, "sla_health": "amber", "sensors_online": 41}
    return grid, _encoder.encode({"channel": "grid_metrics", "key": grid,
                                  "ts": time.time_ns() // 1_000_000, "data": data})


# --- clients ----------------------------------------------------------------------------


@dataclass
class PhaseReceipts:
    """The deliveries of one phase, compactly: latency, seq and receipt time of each."""

    latency_ms: array[float] = field(default_factory=lambda: array("d"))
    seqs: array[int] = field(default_factory=lambda: array("q"))
    received_ns: array[int] = field(default_factory=lambda: array("q"))


@dataclass
class Receipts:
    """Every delivery the clients saw, per phase (send time is stamped in the data)."""

    phases: dict[str, PhaseReceipts] = field(default_factory=dict)

    def sink(self) -> Callable[[bytes | str], None]:
        """A per-client callback recording the deltas of one frame."""
        phases = self.phases

        def record(raw: bytes | str) -> None:
            now = time.time_ns()
            msg = _frames.decode(raw)
            if msg.type != "deltas":
                return
            for item in msg.items:
                data = item.data
                got = phases.get(data.phase) or phases.setdefault(data.phase, PhaseReceipts())
                got.latency_ms.append((now - data.t_ns) / 1e6)
                got.seqs.append(data.seq)
                got.received_ns.append(now)
        return record

    def of(self, phase: str) -> PhaseReceipts:
        """The receipts of ``phase`` (empty if none arrived)."""
        return self.phases.get(phase) or PhaseReceipts()


@dataclass
class Clients:
    """The benchmark's websocket clients: their connections and reader tasks."""

    sockets: list[Any] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def close(self) -> None:
        """Close every connection (1000) and wait for the readers to finish."""
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def _client(url: str, hub: bool, record: Callable[[bytes | str], None],
                  ready: asyncio.Event, clients: Clients) -> None:
    from websockets.exceptions import ConnectionClosed

    with contextlib.suppress(ConnectionClosed):  # the server went away: its phase is over
        await _client_session(url, hub, record, ready, clients)


async def _client_session(url: str, hub: bool, record: Callable[[bytes | str], None],
                          ready: asyncio.Event, clients: Clients) -> None:
    from websockets.asyncio.client import connect

    async with connect(url, max_size=None, ping_interval=None) as ws:
        clients.sockets.append(ws)
        if hub:
            await ws.send(_encoder.encode({"type": "auth", "token": TOKEN}), text=True)
            await ws.recv()  # welcome
            await ws.send(_encoder.encode({"type": "subscribe", "channels": ["grid_metrics"]}),
                          text=True)
            await ws.recv()  # subscribed
            await ws.recv()  # snapshot (one part: at most 92 keys)
        ready.set()
        async for raw in ws:
            record(raw)


async def connect_clients(url: str, n: int, hub: bool, receipts: Receipts) -> Clients:
    """Connect ``n`` clients (50 handshakes at a time); return once all are in."""
    clients = Clients()
    for start in range(0, n, 50):
        batch = [asyncio.Event() for _ in range(min(50, n - start))]
        clients.tasks += [asyncio.create_task(_client(url, hub, receipts.sink(), ev, clients))
                          for ev in batch]
        await asyncio.wait_for(asyncio.gather(*(ev.wait() for ev in batch)), 60)
    return clients


# --- producing --------------------------------------------------------------------------


async def paced(rate: float, duration_s: float, send: Callable[[int], Any]) -> int:
    """Call ``send(seq)`` ``rate`` times a second, evenly spaced, for ``duration_s``."""
    loop = asyncio.get_running_loop()
    start, count = loop.time(), int(rate * duration_s)
    for seq in range(count):
        delay = start + seq / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        result = send(seq)
        if asyncio.iscoroutine(result):
            await result
    return count


Seen = dict[tuple[str, int], int]  # (phase, seq) -> receipt time (ns)


class PlainConsumer:
    """A plain aiokafka consumer of the bench topic: when Kafka alone delivers each record.

    It runs in a process of its own, so the clients' CPU in this process does not delay it.
    """

    def __init__(self, bootstrap: str, topic: str) -> None:
        import multiprocessing

        self._conn, child_conn = multiprocessing.Pipe()
        self._process = multiprocessing.get_context("spawn").Process(
            target=_plain_main, args=(bootstrap, topic, child_conn), daemon=True)
        self.seen: Seen = {}
        self.latency_ms: dict[str, list[float]] = {}

    def start(self) -> None:
        """Start it and wait until it reads from the end of every partition."""
        self._process.start()
        if not self._conn.poll(60) or self._conn.recv() != "ready":
            raise SystemExit("bench.hub: the plain consumer did not start")

    def stop(self) -> None:
        """Stop it and collect what it saw."""
        if self._process.is_alive():
            self._conn.send("stop")
            if self._conn.poll(30):
                self.seen, self.latency_ms = self._conn.recv()
        self._process.join(10)


def _plain_main(bootstrap: str, topic: str, conn: Any) -> None:
    asyncio.run(_plain_consume(bootstrap, topic, conn))


async def _plain_consume(bootstrap: str, topic: str, conn: Any) -> None:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                fetch_max_wait_ms=50)
    await consumer.start()
    seen: Seen = {}
    latency: dict[str, list[float]] = {}
    try:
        cluster = await consumer._client.fetch_all_metadata()
        tps = [TopicPartition(topic, n) for n in cluster.partitions_for_topic(topic) or ()]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)
        conn.send("ready")
        while not conn.poll():
            batch = await consumer.getmany(timeout_ms=100)
            now = time.time_ns()
            for records in batch.values():
                for record in records:
                    data = _records.decode(record.value).data
                    seen[(data.phase, data.seq)] = now
                    latency.setdefault(data.phase, []).append((now - data.t_ns) / 1e6)
        conn.send((seen, latency))
    finally:
        await consumer.stop()


# --- the baseline server ----------------------------------------------------------------


async def baseline_server(port: int) -> None:
    """Broadcast frames like the hub's to every client when told (no Kafka, no hub logic).

    A connection that sends ``{"phase", "rate", "duration_s"}`` is the controller: the server
    broadcasts one ``deltas`` frame per update to the other connections at that rate, then
    answers ``done``.
    """
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    clients: set[ServerConnection] = set()

    async def handle(ws: ServerConnection) -> None:
        clients.add(ws)
        try:
            async for raw in ws:
                clients.discard(ws)
                order = msgspec.json.decode(raw)

                def send(seq: int, phase: str = order["phase"]) -> None:
                    item = update_bytes(phase, seq)[1]
                    broadcast(clients, b'{"type":"deltas","items":[' + item + b"]}")

                await paced(order["rate"], order["duration_s"], send)
                await ws.send("done")
        finally:
            clients.discard(ws)

    async with serve(handle, "127.0.0.1", port, ping_interval=None, compression=None,
                     max_size=None):
        await asyncio.Future()


# --- phases -----------------------------------------------------------------------------


@dataclass
class HubPhase:
    """One rate through the hub: its phase name, deliveries expected, the hub's CPU."""

    name: str
    expected: int
    cpu_percent: float


async def settle(receipts: Receipts, phase: str, expected: int, timeout_s: float = 5.0) -> None:
    """Wait until ``expected`` deliveries of ``phase`` arrived, or ``timeout_s`` passed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len(receipts.of(phase).seqs) >= expected:
            return
        await asyncio.sleep(0.2)


async def hub_phase(phase: str, rate: float, duration_s: float, clients: int, topic: str,
                    producer: Any, receipts: Receipts, hub_pid: int) -> HubPhase:
    """Produce at ``rate`` through Kafka and the hub until every client got every update."""
    cpu0, t0 = cpu_seconds(hub_pid), time.monotonic()

    async def send(seq: int) -> None:
        key, value = update_bytes(phase, seq)
        await producer.send(topic, value, key=key.encode())

    count = await paced(rate, duration_s, send)
    await producer.flush()
    await settle(receipts, phase, count * clients)
    cpu = (cpu_seconds(hub_pid) - cpu0) / (time.monotonic() - t0) * 100
    return HubPhase(phase, count * clients, cpu)


def hub_figures(prefix: str, phase: HubPhase, got: PhaseReceipts,
                plain: PlainConsumer) -> dict[str, Any]:
    """The figures of one hub phase, named under ``prefix``."""
    overhead = [(at - plain.seen[(phase.name, seq)]) / 1e6
                for seq, at in zip(got.seqs, got.received_ns, strict=True)
                if (phase.name, seq) in plain.seen]
    added = stats(list(got.latency_ms))
    kafka = stats(plain.latency_ms.get(phase.name, []))
    own = stats(overhead)
    return {f"{prefix}{name}": round(value, 2) for name, value in (
        ("added_latency_p50_ms", added[0]), ("added_latency_p99_ms", added[1]),
        ("added_latency_max_ms", added[2]), ("kafka_latency_p50_ms", kafka[0]),
        ("kafka_latency_p99_ms", kafka[1]), ("hub_overhead_p50_ms", own[0]),
        ("hub_overhead_p99_ms", own[1]), ("hub_cpu_percent", phase.cpu_percent),
    )} | {f"{prefix}deliveries": len(got.seqs),
          f"{prefix}delivered_ratio": round(len(got.seqs) / phase.expected, 4)
          if phase.expected else None}


async def baseline_phase(phase: str, rate: float, duration_s: float, clients: int, url: str,
                         receipts: Receipts) -> PhaseReceipts:
    """The same rate through the trivial broadcast server."""
    from websockets.asyncio.client import connect

    async with connect(url) as control:
        await control.send(_encoder.encode({"phase": phase, "rate": rate,
                                            "duration_s": duration_s}), text=True)
        await asyncio.wait_for(control.recv(), 3 * duration_s + 60)
    await settle(receipts, phase, int(rate * duration_s) * clients)
    return receipts.of(phase)


# --- the run ----------------------------------------------------------------------------


def bench_settings() -> Settings:
    """This machine's settings with a topic prefix of the benchmark's own."""
    env = {k: v for k, v in os.environ.items() if k.startswith("GRIDWALL_")}
    env["GRIDWALL_TOPIC_PREFIX"] = f"bench-hub-{uuid.uuid4().hex[:6]}."
    return settings_from(env)


def start_hub(settings: Settings, tokens: Path, port: int) -> subprocess.Popen[bytes]:
    """``gridwall hub`` on ``port`` with the bench prefix and token; waits for /healthz."""
    env = {**os.environ, "GRIDWALL_TOPIC_PREFIX": settings.topic_prefix,
           "GRIDWALL_TOKENS_FILE": str(tokens)}
    child = subprocess.Popen([sys.executable, "-m", "gridwall.cli", "hub", "--port", str(port),
                              "--log-level", "WARNING"], env=env)
    if not wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout_s=60):
        child.terminate()
        raise SystemExit("bench.hub: the hub did not become healthy")
    return child


def start_baseline(port: int) -> subprocess.Popen[bytes]:
    """The trivial broadcast server as a child process."""
    child = subprocess.Popen([sys.executable, "-m", "bench.hub", "--baseline-server",
                              str(port)])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return child
        except OSError:
            time.sleep(0.2)
    child.terminate()
    raise SystemExit("bench.hub: the baseline server did not start")


def stop(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM a child and wait for it (kill after 15 s)."""
    child.terminate()
    try:
        child.wait(timeout=15)
    except subprocess.TimeoutExpired:
        child.kill()


def delete_topics(settings: Settings) -> None:
    """Remove the benchmark's topics from the shared broker."""
    from kafka import KafkaAdminClient

    from domain.contracts.topics import CATALOG

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        existing = set(admin.list_topics())
        prefix = settings.topic_prefix
        names = [s.name(prefix) for s in CATALOG if s.name(prefix) in existing]
        if names:
            admin.delete_topics(names)
    finally:
        admin.close()


def stats(values: list[float]) -> tuple[float, float, float]:
    """p50, p99, max."""
    return percentile(values, 50), percentile(values, 99), max(values, default=float("nan"))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Both rates through the hub and through the baseline; every figure."""
    from aiokafka import AIOKafkaProducer

    from domain.contracts.topics import ALERTS, WALL_UPDATES
    from infra.topics import ensure_topics

    settings = bench_settings()
    ensure_topics(settings, [WALL_UPDATES, ALERTS])
    topic = WALL_UPDATES.name(settings.topic_prefix)
    rates = {"": args.updates_per_s, "stress_": args.stress_updates_per_s}
    figures: dict[str, Any] = {"clients": args.clients, "updates_per_s": args.updates_per_s,
                               "stress_updates_per_s": args.stress_updates_per_s,
                               "duration_s": args.duration_s,
                               "target_added_latency_p99_ms": TARGET_ADDED_P99_MS,
                               "load_avg_1m_at_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory() as tmp:
        tokens = Path(tmp) / "tokens.yaml"
        tokens.write_text(yaml.safe_dump({TOKEN: {"name": "bench", "role": "viewer"}}))
        tokens.chmod(0o600)  # a world-readable tokens file is refused outside GRIDWALL_DEV
        hub_port, base_port = free_port(), free_port()
        hub = start_hub(settings, tokens, hub_port)
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=0)
        plain = PlainConsumer(settings.kafka_bootstrap, topic)
        plain.start()
        await producer.start()
        try:
            receipts = Receipts()
            clients = await connect_clients(f"ws://127.0.0.1:{hub_port}/", args.clients,
                                            True, receipts)
            phases = {prefix: await hub_phase(f"hub{prefix}", rate, args.duration_s,
                                              args.clients, topic, producer, receipts, hub.pid)
                      for prefix, rate in rates.items()}
            figures["hub_rss_mb"] = round(rss_mb(hub.pid), 1)
            health = msgspec.json.decode(await asyncio.to_thread(
                _get, f"http://127.0.0.1:{hub_port}/healthz"))
            figures["hub_overflows"] = health["overflows"]
            await clients.close()
        finally:
            plain.stop()
            await producer.stop()
            stop(hub)
            delete_topics(settings)
        for prefix, phase in phases.items():
            figures |= hub_figures(prefix, phase, receipts.of(phase.name), plain)

    base = start_baseline(base_port)
    try:
        baseline = Receipts()
        clients = await connect_clients(f"ws://127.0.0.1:{base_port}/", args.clients, False,
                                        baseline)
        for prefix, rate in rates.items():
            got = await baseline_phase(f"base{prefix}", rate, args.duration_s, args.clients,
                                       f"ws://127.0.0.1:{base_port}/", baseline)
            p50, p99, _ = stats(list(got.latency_ms))
            figures[f"{prefix}baseline_latency_p50_ms"] = round(p50, 2)
            figures[f"{prefix}baseline_latency_p99_ms"] = round(p99, 2)
            added = figures[f"{prefix}added_latency_p99_ms"]
            figures[f"{prefix}ratio_vs_baseline"] = round(added / p99, 2) if p99 else None
        await clients.close()
    finally:
        stop(base)
    figures["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    return figures


def _get(url: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as response:
        return bytes(response.read())


def report(f: dict[str, Any]) -> None:
    """The human-readable table."""
    for prefix, rate in (("", f["updates_per_s"]), ("stress_", f["stress_updates_per_s"])):
        print_table([
            ("added latency p50 / p99 / max (ms)",
             f"{f[prefix + 'added_latency_p50_ms']} / {f[prefix + 'added_latency_p99_ms']}"
             f" / {f[prefix + 'added_latency_max_ms']}"),
            ("  of which Kafka alone p50 / p99 (ms)",
             f"{f[prefix + 'kafka_latency_p50_ms']} / {f[prefix + 'kafka_latency_p99_ms']}"),
            ("  hub overhead p50 / p99 (ms)",
             f"{f[prefix + 'hub_overhead_p50_ms']} / {f[prefix + 'hub_overhead_p99_ms']}"),
            ("baseline broadcast p50 / p99 (ms)",
             f"{f[prefix + 'baseline_latency_p50_ms']} / "
             f"{f[prefix + 'baseline_latency_p99_ms']}"),
            ("ratio added p99 / baseline p99", f[prefix + "ratio_vs_baseline"]),
            ("deliveries (ratio of expected)",
             f"{f[prefix + 'deliveries']:,} ({f[prefix + 'delivered_ratio']})"),
            ("hub CPU %", f[prefix + "hub_cpu_percent"]),
        ], title=f"hub fan-out: {f['clients']} clients, {rate:g} updates/s each to every "
                 f"client, {f['duration_s']:g} s")
    print_table([("hub RSS (MB)", f["hub_rss_mb"]), ("hub overflows", f["hub_overflows"]),
                 ("target added p99 (ms)", f["target_added_latency_p99_ms"]),
                 (f"load average 1 min, start / end ({os.cpu_count()} cores)",
                  f"{f['load_avg_1m_at_start']:.2f} / {f['load_avg_1m_at_end']:.2f}")])


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with ``--baseline-server``, only the broadcast server)."""
    parser = argparse.ArgumentParser(prog="bench.hub", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (a few seconds/rate)")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--updates-per-s", type=float, default=2.0)
    parser.add_argument("--stress-updates-per-s", type=float, default=2.0 * len(GRIDS))
    parser.add_argument("--duration-s", type=float, default=None,
                        help="seconds per rate (default 30, 3 with --quick)")
    parser.add_argument("--baseline-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    if args.baseline_server:
        with contextlib.suppress(KeyboardInterrupt):
            runner(baseline_server(args.baseline_server))
        return 0
    if args.duration_s is None:
        args.duration_s = 3.0 if args.quick else 30.0
    figures = runner(run(args))
    report(figures)
    print_figures(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
