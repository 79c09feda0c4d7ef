"""A worker's job health: events/s per agent, lag per consumer and partition, latency, sink
figures, recovery per table and partition.

:class:`JobHealth` is fed by the agents (``count``, ``latency``, ``sink_insert``) and by the
job-health timer's samples (``set_lags`` per consumer, ``set_recovery``), and read by that
timer (``snapshot`` for the wall's ``job_health`` channel, :func:`prometheus_text` for
scraping). Guarantees: rates are computed over a sliding window of ``window_ms`` from counts
the caller stamps with its clock (no hidden clock, so tests are deterministic); latency
percentiles are nearest-rank over the last ``latency_samples`` samples, and None (unknown,
never 0) while an agent has none; a sample of lags or recovery replaces the previous one
whole, so a partition the worker lost drops out; every figure in the snapshot is also
exported in the Prometheus text.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from streams.health.recovery import PartitionRecovery, table_figures
from streams.metrics.stats import percentile


@dataclass
class RateMeter:
    """Counts stamped with a time; :meth:`rate` is the per-second rate over a window."""

    window_ms: int = 10_000
    total: int = 0
    _marks: deque[tuple[int, int]] = field(default_factory=deque)

    def add(self, count: int, now_ms: int) -> None:
        """Record ``count`` more at ``now_ms``."""
        self.total += count
        self._marks.append((now_ms, count))
        self._trim(now_ms)

    def rate(self, now_ms: int) -> float:
        """Per-second rate over the last ``window_ms`` up to ``now_ms``."""
        self._trim(now_ms)
        return sum(c for _, c in self._marks) * 1000 / self.window_ms

    def _trim(self, now_ms: int) -> None:
        while self._marks and self._marks[0][0] <= now_ms - self.window_ms:
            self._marks.popleft()


@dataclass
class AgentFigures:
    """What one agent did: events (readings, case events...), messages, latency samples."""

    events: RateMeter
    messages: RateMeter
    latency_ms: deque[float]


@dataclass
class JobHealth:
    """The health of one worker; see the module docstring."""

    worker_id: str
    window_ms: int = 10_000
    latency_samples: int = 2_000
    agents: dict[str, AgentFigures] = field(default_factory=dict)
    # consumer ("agents" for Faust's, a loop's name, "sink") -> topic -> partition -> lag
    partition_lag: dict[str, dict[str, dict[int, int]]] = field(default_factory=dict)
    sink_rows: RateMeter = field(default_factory=RateMeter)
    sink_batches: deque[int] = field(default_factory=lambda: deque(maxlen=100))
    recovery: dict[str, dict[int, PartitionRecovery]] = field(default_factory=dict)
    # when the job-health timer last completed a tick (published its update); None before
    last_tick_ms: int | None = None
    # event-loop lag samples (ms a probe's wake-up came late; :mod:`streams.health.loop_lag`)
    loop_lag_ms: deque[float] = field(default_factory=lambda: deque(maxlen=600))

    def __post_init__(self) -> None:
        self.sink_rows.window_ms = self.window_ms

    def agent(self, name: str) -> AgentFigures:
        """The figures of agent ``name`` (created on first use)."""
        figures = self.agents.get(name)
        if figures is None:
            figures = self.agents[name] = AgentFigures(
                RateMeter(self.window_ms), RateMeter(self.window_ms),
                deque(maxlen=self.latency_samples))
        return figures

    def count(self, agent: str, events: int, messages: int, now_ms: int) -> None:
        """``agent`` processed ``messages`` messages holding ``events`` events."""
        figures = self.agent(agent)
        figures.events.add(events, now_ms)
        figures.messages.add(messages, now_ms)

    def latency(self, agent: str, millis: float) -> None:
        """One processing latency sample (message time to processed) of ``agent``."""
        self.agent(agent).latency_ms.append(millis)

    def set_lags(self, consumer: str, lags: Mapping[tuple[str, int], int]) -> None:
        """The lag (end offset minus position) of every partition ``consumer`` owns now,
        keyed by (topic, partition); replaces that consumer's previous sample."""
        by_topic: dict[str, dict[int, int]] = {}
        for (topic, partition), lag in lags.items():
            by_topic.setdefault(topic, {})[partition] = max(0, lag)
        self.partition_lag[consumer] = by_topic

    def sink_insert(self, rows: int, now_ms: int) -> None:
        """The sink wrote a batch of ``rows`` rows."""
        self.sink_rows.add(rows, now_ms)
        self.sink_batches.append(rows)

    def loop_lag(self, millis: float) -> None:
        """One event-loop lag sample: how late a timed wake-up ran (0 when on time)."""
        self.loop_lag_ms.append(millis)

    def set_recovery(self, tables: Mapping[str, Mapping[int, PartitionRecovery]]) -> None:
        """The recovery state of every changelog partition the worker owns now, per table;
        replaces the previous sample."""
        self.recovery = {table: dict(parts) for table, parts in tables.items()}

    def snapshot(self, now_ms: int) -> dict[str, Any]:
        """Plain figures for the ``job_health`` wall channel."""
        agents = {}
        for name, f in sorted(self.agents.items()):
            samples = list(f.latency_ms)
            agents[name] = {"events_per_s": round(f.events.rate(now_ms), 1),
                            "messages_per_s": round(f.messages.rate(now_ms), 1),
                            "events_total": f.events.total,
                            "latency_p50_ms": percentile(samples, 50),
                            "latency_p99_ms": percentile(samples, 99)}
        batches = list(self.sink_batches)
        lags = list(self.loop_lag_ms)
        return {"worker_id": self.worker_id, "ts": now_ms, "agents": agents,
                "lag": {c: {t: {str(p): v for p, v in sorted(parts.items())}
                            for t, parts in sorted(topics.items())}
                        for c, topics in sorted(self.partition_lag.items())},
                "lag_total": sum(sum(p.values()) for topics in self.partition_lag.values()
                                 for p in topics.values()),
                "sink": {"rows_per_s": round(self.sink_rows.rate(now_ms), 1),
                         "rows_total": self.sink_rows.total,
                         "batch_mean": (sum(batches) / len(batches)) if batches else None,
                         "batch_max": max(batches) if batches else None},
                "recovery": {t: table_figures(parts)
                             for t, parts in sorted(self.recovery.items())},
                "loop_lag": {"p50_ms": percentile(lags, 50), "p99_ms": percentile(lags, 99),
                             "max_ms": max(lags) if lags else None}}


def prometheus_text(health: JobHealth, now_ms: int) -> str:
    """The snapshot in the Prometheus text exposition format (version 0.0.4)."""
    snap = health.snapshot(now_ms)
    worker = _label(health.worker_id)
    lines: list[str] = []

    def metric(name: str, kind: str, help_: str, samples: list[tuple[str, float | None]]
               ) -> None:
        lines.append(f"# HELP gridwall_{name} {help_}")
        lines.append(f"# TYPE gridwall_{name} {kind}")
        for labels, value in samples:
            if value is not None:
                extra = f",{labels}" if labels else ""
                lines.append(f'gridwall_{name}{{worker="{worker}"{extra}}} {value:g}')

    agents = snap["agents"]
    metric("agent_events_per_second", "gauge", "Events processed per second, by agent.",
           [(f'agent="{_label(a)}"', f["events_per_s"]) for a, f in agents.items()])
    metric("agent_messages_per_second", "gauge", "Messages processed per second, by agent.",
           [(f'agent="{_label(a)}"', f["messages_per_s"]) for a, f in agents.items()])
    metric("agent_events_total", "counter", "Events processed, by agent.",
           [(f'agent="{_label(a)}"', f["events_total"]) for a, f in agents.items()])
    metric("agent_latency_ms", "gauge", "Processing latency percentiles, by agent.",
           [(f'agent="{_label(a)}",quantile="{q}"', f[f"latency_p{q}_ms"])
            for a, f in agents.items() for q in ("50", "99")])
    metric("consumer_lag", "gauge",
           "End offset minus position, by consumer, topic and partition.",
           [(f'consumer="{_label(c)}",topic="{_label(t)}",partition="{p}"', v)
            for c, topics in snap["lag"].items() for t, parts in topics.items()
            for p, v in parts.items()])
    metric("sink_rows_per_second", "gauge", "Rows inserted into ClickHouse per second.",
           [("", snap["sink"]["rows_per_s"])])
    metric("sink_rows_total", "counter", "Rows inserted into ClickHouse.",
           [("", snap["sink"]["rows_total"])])
    metric("sink_batch_rows_mean", "gauge", "Mean rows per ClickHouse insert (last 100).",
           [("", snap["sink"]["batch_mean"])])
    loop = snap["loop_lag"]
    metric("event_loop_lag_ms", "gauge",
           "How late the worker's event loop ran a timed wake-up (last minute), percentiles.",
           [(f'quantile="{q}"', loop[f"p{q}_ms"]) for q in ("50", "99")]
           + [('quantile="100"', loop["max_ms"])])
    parts = [(f'table="{_label(t)}",partition="{p}"', f)
             for t, table in snap["recovery"].items() for p, f in table["partitions"].items()]
    metric("recovery_progress", "gauge",
           "Changelog recovery progress (0-1), by table and partition.",
           [(labels, f["progress"]) for labels, f in parts])
    metric("recovery_remaining", "gauge",
           "Changelog records not yet recovered, by table and partition.",
           [(labels, f["remaining"]) for labels, f in parts])
    return "\n".join(lines) + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
