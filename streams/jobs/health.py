"""Job health timer: every few seconds the worker publishes its own health.

Figures (see :class:`~streams.health.job.JobHealth`): events/s and messages/s per agent,
processing latency, consumer lag per partition of every consumer in the worker — Faust's
(``agents``: the cases, alerts, commands agents' input), each plain consumer loop of
``ext.handles`` (``<name>_loop``: ``sensors``, ``registers``, …) and the ClickHouse sink
(``sink``) — sink batch sizes and insert rate (from the sink's own counters), recovery of
every Faust table per changelog partition (:mod:`streams.health.recovery`), and the SLA
timer's breach detection delays (``sla_timer``). Published as a ``job_health`` wall update
keyed by the worker id, and written in the Prometheus text format to
``<data dir>/metrics/<worker id>.prom`` (the textfile-collector convention: a scraper reads
it; the file is replaced atomically).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from streams.ext import Ext, wall_ms
from streams.health.job import prometheus_text
from streams.health.lag import consumer_lags
from streams.health.recovery import faust_recovery
from streams.metrics.stats import percentile

HEALTH_TICK_S = 2.0
_NOT_INPUT = ("-changelog", "__assignor-__leader")


def install(ext: Ext) -> None:
    """Add the job-health timer."""
    app = ext.app
    rt = ext.runtime
    health = ext.health
    prom_path = Path(rt.settings.data_dir) / "metrics" / f"{ext.worker_id}.prom"
    seen = {"batches": 0, "rows": 0}

    async def sample_lag() -> None:
        for name, consumer in consumers(ext).items():
            health.set_lags(name, await consumer_lags(consumer, _NOT_INPUT))

    def sample_sink(now: int) -> None:
        sink = rt.sink
        if sink is None:
            return
        stats = sink.stats
        if stats.batches > seen["batches"]:
            rows = stats.rows - seen["rows"]
            batches = stats.batches - seen["batches"]
            for _ in range(batches):
                health.sink_insert(rows // batches, now)
            seen.update(batches=stats.batches, rows=stats.rows)

    async def publish_health() -> dict[str, Any]:
        now = wall_ms()
        await sample_lag()
        sample_sink(now)
        health.set_recovery(faust_recovery(app))
        snapshot = health.snapshot(now)
        delays = list(rt.breach_delays_ms)  # the SLA timer's recent delays, kept by Streams I
        snapshot["sla_timer"] = {"breaches": len(delays),
                                 "delay_p50_ms": percentile(delays, 50),
                                 "delay_p99_ms": percentile(delays, 99)}
        out = ext.outbox()
        out.wall("job_health", ext.worker_id, now, snapshot, ext.worker_id)
        await out.flush()
        _write_atomically(prom_path, prometheus_text(health, now))
        return snapshot

    @app.timer(interval=HEALTH_TICK_S)
    async def job_health() -> None:
        await publish_health()

    ext.handles["publish_health"] = publish_health


def consumers(ext: Ext) -> dict[str, Any]:
    """Every running Kafka consumer of the worker by name: ``agents`` (Faust's), each
    ``<name>_loop`` handle's, ``sink``. A consumer not created yet is left out."""
    found = {"agents": getattr(ext.app, "_consumer", None)}
    for handle, loop in ext.handles.items():
        if handle.endswith("_loop"):
            found[handle.removesuffix("_loop")] = getattr(loop, "consumer", None)
    sink = ext.runtime.sink
    found["sink"] = sink.consumer if sink is not None else None
    return {name: c for name, c in found.items() if c is not None}


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
