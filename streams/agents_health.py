"""Job health timer: every few seconds the worker publishes its own health.

Figures (see :class:`~streams.health.job.JobHealth`): events/s and messages/s per agent,
processing latency, consumer lag per input partition (highwater minus position), sink batch
sizes and insert rate (from the sink's own counters), table recovery, and the SLA timer's
breach detection delays (``sla_timer``). Published as a
``job_health`` wall update keyed by the worker id, and written in the Prometheus text format
to ``<data dir>/metrics/<worker id>.prom`` (the textfile-collector convention: a scraper
reads it; the file is replaced atomically).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from streams.ext import Ext, wall_ms
from streams.health.job import prometheus_text
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
        consumer = getattr(app, "_consumer", None)
        if consumer is None:
            return
        for tp in list(consumer.assignment()):
            if tp.topic.endswith(_NOT_INPUT):
                continue  # changelogs are read only in recovery; their position goes stale
            with contextlib.suppress(Exception):  # partition moving in a rebalance
                position = await consumer.position(tp)
                highwater = consumer.highwater(tp)
                if position is not None and highwater is not None:
                    health.lag(tp.topic, tp.partition, highwater - position)

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


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
