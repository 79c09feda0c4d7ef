"""Whether a worker is running its jobs: the figures of its ``/healthz`` (pure).

:func:`worker_status` decides from what the worker knows about itself:

- ``crashed``: the Faust app crashed (a job or service failed; the worker is going down);
- ``starting``: the app has not started yet, or the job-health timer has not completed its
  first tick (consumers not yet joined, tables recovering);
- ``stalled``: the last completed job-health tick is older than ``stale_ms`` — the timers
  no longer run (a blocked event loop, or Kafka refusing the health update);
- ``ok``: otherwise.

Guarantee: ``ok`` is the only status answered with HTTP 200 (:func:`http_status`); every
other one is 503, so a load balancer or an orchestrator's probe can act on the code alone.
``partitions`` counts the input partitions each consumer of the worker owns at the last tick
(a worker may own none when there are more workers than partitions: that is still ``ok``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def worker_status(worker_id: str, app_state: str, last_tick_ms: int | None, now_ms: int,
                  stale_ms: int, partition_lag: Mapping[str, Mapping[str, Mapping[int, int]]]
                  ) -> dict[str, Any]:
    """The ``/healthz`` figures of a worker; see the module docstring."""
    age = None if last_tick_ms is None else max(0, now_ms - last_tick_ms)
    if app_state == "crashed":
        status = "crashed"
    elif app_state != "running" or age is None:
        status = "starting"
    elif age > stale_ms:
        status = "stalled"
    else:
        status = "ok"
    return {"status": status, "worker_id": worker_id, "app_state": app_state,
            "last_tick_age_ms": age, "stale_after_ms": stale_ms,
            "partitions": {consumer: sum(len(parts) for parts in topics.values())
                           for consumer, topics in sorted(partition_lag.items())}}


def http_status(figures: Mapping[str, Any]) -> int:
    """200 for ``ok``, 503 for anything else."""
    return 200 if figures.get("status") == "ok" else 503
