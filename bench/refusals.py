"""Time to a visible refusal under load: a real worker and gateway, legal reports at a steady
rate, and among them illegal steps of two kinds.

* *known*: a ``close`` of a case the gateway saw reported -- refused at once (409);
* *worker*: a ``verify`` of a case nobody reported -- accepted (202), refused by the worker,
  read back at ``GET /v1/cases/events/{id}?wait=1`` (no verdict within its 5 s wait counts
  as ``inf``).

Prints, per kind, how long the sender waited from its POST to the refusal (p50, p99, max)
and the rate of events achieved; for the worker's refusals also the worker's part, read from
the topics afterwards: from the case event's record time (stamped by the gateway's producer)
to the worker's verdict (its ``ts``) and to the verdict's record time. Uses the broker and
ClickHouse of the environment's settings, with its own topic prefix and database (both
dropped after)::

    python -m bench.refusals --rate 1000 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.common import cpu_seconds, free_port, percentile, print_table, wait_for_http
from core.settings import REPO_ROOT, Settings, settings_from
from domain.geo import street

TOKEN = "bench-refusals-feed-token-01"
GRID = street().grid_ids[0]


def start(name: str, argv: list[str], env: dict[str, str], logs: Path) -> subprocess.Popen:
    """``gridwall <argv>`` as a child process logging to ``logs/<name>.log``."""
    log = open(logs / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the child
    return subprocess.Popen([sys.executable, "-m", "gridwall.cli", *argv], cwd=REPO_ROOT,
                            env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_ready(log: Path, timeout_s: float = 120.0) -> None:
    """Wait for the worker's 'Ready' line."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if "Worker]: Ready" in log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise SystemExit(f"worker not ready in {timeout_s} s; see {log}")


def event(run: str, n: int, action: str, case: str) -> dict[str, Any]:
    """One case event of ``run`` in the bench grid."""
    body = {"event_id": f"{run}-{n}", "case_id": case, "action": action,
            "ts": int(time.time() * 1000), "source": "command_centre", "grid_id": GRID}
    if action == "report":
        body["category"] = "noise"
    return body


async def refusal_time(client: httpx.AsyncClient, run: str, n: int, kind: str) -> float:
    """Seconds from the POST of an illegal step to its visible refusal."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    began = time.perf_counter()
    if kind == "known":
        answer = await client.post("/v1/cases/events", headers=headers,
                                   json=event(run, n, "close", f"{run}-c{n - 1}"))
        assert answer.status_code == 409, answer.text
        return time.perf_counter() - began
    answer = await client.post("/v1/cases/events", headers=headers,
                               json=event(run, n, "verify", f"{run}-nobody-{n}"))
    assert answer.status_code == 202, answer.text
    status = await client.get(f"/v1/cases/events/{run}-{n}", params={"wait": "1"},
                              headers=headers)
    if status.json()["status"] != "refused":
        return float("inf")  # no verdict within the wait: counted, shown as inf
    return time.perf_counter() - began


async def load(base: str, run: str, rate: int, seconds: float
               ) -> tuple[dict[str, list[float]], int]:
    """Reports at ``rate``/s in batches every 50 ms; 10 illegal steps a second. Returns the
    refusal times by kind and the number of events sent."""
    times: dict[str, list[float]] = {"known": [], "worker": []}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    per_tick = max(1, rate // 20)
    n = 0
    probes: list[asyncio.Task[None]] = []

    async def probe(client: httpx.AsyncClient, k: int, kind: str) -> None:
        times[kind].append(await refusal_time(client, run, k, kind))

    async with httpx.AsyncClient(base_url=base, timeout=30,
                                 limits=httpx.Limits(max_connections=64)) as client:
        start_t = time.perf_counter()
        tick = 0
        while time.perf_counter() - start_t < seconds:
            batch = []
            for _ in range(per_tick):
                n += 1
                batch.append(event(run, n, "report", f"{run}-c{n}"))
            answer = await client.post("/v1/cases/events", json=batch, headers=headers)
            assert answer.status_code == 202, answer.text
            if tick % 2 == 0:
                n += 1
                probes.append(asyncio.create_task(
                    probe(client, n, "known" if tick % 4 == 0 else "worker")))
            tick += 1
            await asyncio.sleep(max(0.0, start_t + tick * 0.05 - time.perf_counter()))
        elapsed = time.perf_counter() - start_t
        await asyncio.gather(*probes)
    print(f"{n} events in {elapsed:.1f} s: {n / elapsed:,.0f} events/s")
    return times, n


def _read_all(s: Settings, topic: str, partitions: int) -> list[Any]:
    """Every record of ``topic`` now (a consumer of no group, from the beginning)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def read() -> list[Any]:
        consumer = AIOKafkaConsumer(bootstrap_servers=s.kafka_bootstrap, group_id=None,
                                    enable_auto_commit=False, auto_offset_reset="earliest")
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in range(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            out: list[Any] = []
            while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    out.extend(records)
            return out
        finally:
            await consumer.stop()

    return asyncio.run(read())


def worker_part(s: Settings, run: str) -> list[tuple[str, object]]:
    """The worker's part of its refusals: case event record time -> verdict made (its
    ``ts``) and -> verdict record time, p50 / p99 / max ms over the run's unknown cases."""
    from domain.contracts.topics import CASE_EVENTS, CASE_VERDICTS
    from domain.schemas import CaseEvent
    from domain.verdicts import CaseVerdict
    from domain.wire import decode, decode_one_or_many

    appended: dict[str, int] = {}
    for rec in _read_all(s, CASE_EVENTS.name(s.topic_prefix), s.topic_partitions):
        for ev in decode_one_or_many(rec.value, CaseEvent):
            if "-nobody-" in ev.case_id:
                appended[ev.event_id] = rec.timestamp
    made, recorded = [], []
    for rec in _read_all(s, CASE_VERDICTS.name(s.topic_prefix), s.topic_partitions):
        verdict = decode(rec.value, CaseVerdict)
        if verdict.event_id in appended:
            made.append((verdict.ts - appended[verdict.event_id]) / 1000)
            recorded.append((rec.timestamp - appended[verdict.event_id]) / 1000)

    def spread(v: list[float]) -> str:
        return (f"{percentile(v, 50) * 1000:.0f} / {percentile(v, 99) * 1000:.0f} / "
                f"{max(v, default=float('nan')) * 1000:.0f}")

    return [(f"worker part: event record -> verdict made ({len(made)}) p50 / p99 / max ms",
             spread(made)),
            ("worker part: event record -> verdict record p50 / p99 / max ms",
             spread(recorded))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    from clickhouse_driver import Client

    from infra.migrate import migrate
    from infra.topics import delete_prefixed_topics, ensure_stream_topics

    run = f"brf{uuid.uuid4().hex[:6]}"
    tmp = Path(tempfile.mkdtemp(prefix="bench-refusals-"))
    env = {k: v for k, v in os.environ.items()}
    env.update({"GRIDWALL_TOPIC_PREFIX": f"{run}.", "GRIDWALL_CLICKHOUSE_DATABASE": run,
                "GRIDWALL_TOKENS_FILE": str(tmp / "tokens.yaml"),
                "GRIDWALL_DATA_DIR": env.get("GRIDWALL_DATA_DIR", str(tmp / "data")),
                "GRIDWALL_GATEWAY_PORT": str(free_port()), "GRIDWALL_TOPIC_PARTITIONS": "2",
                # one client sends every illegal step: above the default abuse limit of
                # 2 refusals/s; long keep-alive so pooled connections are not closed under it
                "GRIDWALL_GATEWAY_REFUSALS_PER_S": "50",
                "GRIDWALL_GATEWAY_KEEP_ALIVE_S": "60"})
    s: Settings = settings_from({k: v for k, v in env.items() if k.startswith("GRIDWALL_")})
    (tmp / "tokens.yaml").write_text(json.dumps(
        {TOKEN: {"name": "bench", "role": "feed", "sources": ["*"]}}))
    (tmp / "tokens.yaml").chmod(0o600)
    ch = Client(s.clickhouse_host, port=s.clickhouse_port)
    list(migrate(ch, s.clickhouse_database))
    ensure_stream_topics(s)
    procs = [start("worker", ["worker", "--worker-id", run, "--loglevel", "info"], env, tmp)]
    try:
        wait_ready(tmp / "worker.log")
        procs.append(start("gateway", ["gateway", "--host", "127.0.0.1", "--port",
                                       str(s.gateway_port)], env, tmp))
        base = f"http://127.0.0.1:{s.gateway_port}"
        if not wait_for_http(f"{base}/healthz", 60):
            raise SystemExit(f"gateway not healthy; see {tmp}/gateway.log")
        cpu_before = cpu_seconds(procs[0].pid)
        times, sent = asyncio.run(load(base, run, args.rate, args.seconds))
        worker_cpu = cpu_seconds(procs[0].pid) - cpu_before
        time.sleep(2)  # the last verdicts reach the topic
        print_table([(f"{kind} ({len(v)} steps) p50 / p99 / max ms",
                      f"{percentile(v, 50) * 1000:.0f} / {percentile(v, 99) * 1000:.0f} / "
                      f"{max(v) * 1000:.0f}") for kind, v in times.items()]
                    + worker_part(s, run)
                    + [("worker CPU ms per 1,000 events (during the load)",
                        f"{worker_cpu * 1e6 / max(1, sent):.0f}")],
                    f"time to a visible refusal at {args.rate} events/s")
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(30)
        ch.execute(f"DROP DATABASE IF EXISTS {s.clickhouse_database}")
        ch.disconnect()
        delete_prefixed_topics(s)  # each topic holds broker files


if __name__ == "__main__":
    main()
