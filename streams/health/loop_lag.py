"""The worker's event-loop lag: how late a timed wake-up runs.

Every job of a worker shares one asyncio event loop (Faust's agents, the plain consumer
loops, the sink's decoding, the timers). A handler that computes for 300 ms without an
``await`` delays every other job by as much, at every ``await`` on its path: a case event
passes several (fetch, agent, changelog, producer acknowledgement), so a busy loop multiplies
into seconds. :func:`probe_loop` measures it: it sleeps :data:`PERIOD_S` at a time and records
how much later than asked it woke up into :meth:`JobHealth.loop_lag` (the job-health
snapshot's ``loop_lag`` p50/p99/max over the last :data:`PERIOD_S` x 600 samples, and the
``gridwall_event_loop_lag_ms`` gauge of ``/metrics``).
"""

from __future__ import annotations

import asyncio
import time

from streams.health.job import JobHealth

PERIOD_S = 0.1


async def probe_loop(health: JobHealth, stopping: asyncio.Event,
                     period_s: float = PERIOD_S) -> None:
    """Until ``stopping`` is set: sleep ``period_s``, record the overshoot in ms."""
    while not stopping.is_set():
        asked = time.monotonic()
        await asyncio.sleep(period_s)
        health.loop_lag(max(0.0, (time.monotonic() - asked - period_s) * 1000))
