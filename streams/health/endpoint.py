"""The worker's ``/metrics`` and ``/healthz`` figures, served by :class:`MetricsServer`.

``/metrics`` is the job health in the Prometheus text format — the same figures as the
textfile ``<data dir>/metrics/<worker id>.prom`` (:func:`streams.health.job.prometheus_text`,
computed at the request) — followed by the ``/healthz`` figures as ``gridwall_worker_*``
gauges (:func:`core.prom.prometheus_text`: ``gridwall_worker_status_info{value="ok"} 1``,
``gridwall_worker_partitions_<consumer>``...). ``/healthz`` answers
:func:`streams.health.status.worker_status` as JSON, 200 only when the status is ``ok``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from core.prom import prometheus_text as figures_text
from core.settings import Settings
from streams.health.http import MetricsServer
from streams.health.job import JobHealth, prometheus_text
from streams.health.status import http_status, worker_status

# no completed job-health tick for this long (the tick is every 2 s): the worker is stalled
STALE_MS = 30_000


def worker_endpoint(settings: Settings, app: Any, health: JobHealth,
                    clock: Callable[[], int]) -> MetricsServer | None:
    """The endpoint of a worker (None when ``GRIDWALL_WORKER_METRICS_PORT`` is 0)."""
    if not settings.worker_metrics_port:
        return None

    def status() -> dict[str, Any]:
        return worker_status(health.worker_id, str(app.state), health.last_tick_ms, clock(),
                             STALE_MS, health.partition_lag)

    def metrics() -> str:
        return prometheus_text(health, clock()) + figures_text("gridwall_worker", status())

    def healthz() -> tuple[int, Mapping[str, Any]]:
        figures = status()
        return http_status(figures), figures

    return MetricsServer(settings.worker_metrics_host, settings.worker_metrics_port,
                         metrics, healthz)
