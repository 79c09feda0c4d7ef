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
it; the file is replaced atomically). Each completed tick stamps ``health.last_tick_ms``,
which the worker's ``/healthz`` reads (:mod:`streams.health.endpoint`; ``/metrics`` serves
the same figures, computed when scraped).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from streams.ext import Ext, wall_ms
from streams.faust_adapter import faust_consumer
from streams.health.job import prometheus_text
from streams.health.lag import consumer_lags
from streams.health.recovery import faust_recovery
from streams.metrics.stats import percentile
from streams.runner import Timer

HEALTH_TICK_S = 2.0
_NOT_INPUT = ("-changelog", "__assignor-__leader")


class HealthJob:
    """The job-health timer; no input."""

    name = "job_health"

    def __init__(self, ext: Ext) -> None:
        self.ext = ext
        self.prom_path = Path(ext.runtime.settings.data_dir) / "metrics" / f"{ext.worker_id}.prom"
        self._seen = {"batches": 0, "rows": 0}

    def timers(self) -> list[Timer]:
        """Publish the worker's health every :data:`HEALTH_TICK_S` seconds."""
        return [Timer("job_health", HEALTH_TICK_S, self.publish_health)]

    async def sample_lag(self) -> None:
        """Lag per partition of every consumer of the worker."""
        for name, consumer in consumers(self.ext).items():
            self.ext.health.set_lags(name, await consumer_lags(consumer, _NOT_INPUT))

    def sample_sink(self, now: int) -> None:
        """The sink's inserts since the last sample."""
        sink = self.ext.runtime.sink
        if sink is None:
            return
        stats, seen = sink.stats, self._seen
        if stats.batches > seen["batches"]:
            rows = stats.rows - seen["rows"]
            batches = stats.batches - seen["batches"]
            for _ in range(batches):
                self.ext.health.sink_insert(rows // batches, now)
            seen.update(batches=stats.batches, rows=stats.rows)

    async def publish_health(self) -> dict[str, Any]:
        """Sample, publish the ``job_health`` wall update, write the Prometheus file."""
        ext, health = self.ext, self.ext.health
        now = wall_ms()
        await self.sample_lag()
        self.sample_sink(now)
        health.set_recovery(faust_recovery(ext.app))
        snapshot = health.snapshot(now)
        delays = list(ext.runtime.breach_delays_ms)  # the SLA timer's recent delays
        snapshot["sla_timer"] = {"breaches": len(delays),
                                 "delay_p50_ms": percentile(delays, 50),
                                 "delay_p99_ms": percentile(delays, 99)}
        out = ext.outbox()
        out.wall("job_health", ext.worker_id, now, snapshot, ext.worker_id)
        await out.flush()
        health.last_tick_ms = now
        _write_atomically(self.prom_path, prometheus_text(health, now))
        return snapshot


def consumers(ext: Ext) -> dict[str, Any]:
    """Every running Kafka consumer of the worker by name: ``agents`` (Faust's), each
    ``<name>_loop`` handle's, ``sink``. A consumer not created yet is left out."""
    found = {"agents": faust_consumer(ext.app)}
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
