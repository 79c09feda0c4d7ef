"""The ops console's view model: job health tables and validated config diffs (pure).

Job health items (channel ``job_health``, one per worker, the shape of
``streams.health.job.JobHealth.snapshot``) are read defensively: a missing figure reads 0.
:func:`check_change` validates a proposed value with the same validators the workers use
(a value the console accepts is one the workers accept), and :func:`diff` lists exactly
the leaves that differ.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from domain.alerts import AlertConfig, AlertConfigError
from domain.sla import PolicyError, SlaPolicy
from wall.app.fields import integer, mapping, num, text
from wall.app.store import WallStore

MISSING = "∅"


@dataclass(frozen=True)
class WorkerHealth:
    """One worker's figures as the console shows them."""

    worker: str
    age_s: float
    events_per_s: float
    latency_p50_ms: float
    latency_p99_ms: float
    sink_batch_rows: float
    insert_rows_per_s: float
    recovery: float  # 0..1 over the worker's tables; 1 when recovered
    total_lag: int


def agents_of(data: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    """``agents``: agent name -> figures (non-mapping entries dropped)."""
    return {k: v for k, v in mapping(data, "agents").items() if isinstance(v, Mapping)}


def lags_of(data: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(``topic/partition``, lag) pairs from ``lag`` = {topic: {partition: lag}}."""
    out = []
    for topic, parts in mapping(data, "lag").items():
        if isinstance(parts, Mapping):
            out += [(f"{topic}/{p}", integer(parts, p)) for p in parts]
    return out


def _recovery(data: Mapping[str, Any]) -> float:
    tables = mapping(data, "recovery")
    values = [min(1.0, max(0.0, num(tables, t, 1.0))) for t in tables]
    return min(values) if values else 1.0


def workers(store: WallStore, now_ms: int) -> list[WorkerHealth]:
    """One row per worker, by worker id; ages are judged by the wall's clock."""
    rows = []
    for key, item in sorted(store.channel("job_health").items()):
        d = item.data
        agents = agents_of(d)
        sink = mapping(d, "sink")
        rows.append(WorkerHealth(
            worker=text(d, "worker_id", key), age_s=max(0.0, (now_ms - item.ts) / 1000),
            events_per_s=sum(num(a, "events_per_s") for a in agents.values()),
            latency_p50_ms=max((num(a, "latency_p50_ms") for a in agents.values()), default=0),
            latency_p99_ms=max((num(a, "latency_p99_ms") for a in agents.values()), default=0),
            sink_batch_rows=num(sink, "batch_mean"),
            insert_rows_per_s=num(sink, "rows_per_s"), recovery=_recovery(d),
            total_lag=sum(lag for _, lag in lags_of(d))))
    return rows


def agent_rates(store: WallStore) -> list[tuple[str, str, float, float]]:
    """(worker, agent, events/s, latency p99 ms) for every agent of every worker."""
    out = []
    for key, item in sorted(store.channel("job_health").items()):
        agents = agents_of(item.data)
        out += [(key, name, num(a, "events_per_s"), num(a, "latency_p99_ms"))
                for name, a in sorted(agents.items())]
    return out


def partition_lags(store: WallStore) -> list[tuple[str, str, int]]:
    """(worker, topic/partition, lag) for every partition reported, largest lag first."""
    out = []
    for key, item in store.channel("job_health").items():
        out += [(key, part, lag) for part, lag in lags_of(item.data)]
    return sorted(out, key=lambda r: (-r[2], r[0], r[1]))


def _lazy(module: str, name: str) -> Callable[[Any], object]:
    """A validator imported on first use from the stream jobs (the workers' own code)."""

    def validate(value: Any) -> object:
        parser = getattr(importlib.import_module(module), name)
        return parser.from_mapping(value)

    return validate


VALIDATORS: dict[str, Callable[[Any], object]] = {
    "sla": SlaPolicy.from_mapping,
    "alerts": AlertConfig.from_mapping,
    "sink": _lazy("streams.config", "SinkConfig"),
    "thresholds": _lazy("streams.sensors.policy", "SensorPolicy"),
    "scoring": _lazy("streams.scores.policy", "ScoringPolicy"),
}
# Keys whose start-up value is a YAML file of the config directory.
CONFIG_FILES: dict[str, str] = {"sla": "sla.yaml", "thresholds": "thresholds.yaml",
                                "scoring": "scoring.yaml"}


def startup_config(config_dir: str | Path) -> dict[str, dict[str, Any]]:
    """The values workers start with: the YAML files, and the built-in defaults.

    Reads files (the one I/O here); a missing or unreadable file leaves its key out.
    """
    out: dict[str, dict[str, Any]] = {"alerts": AlertConfig().to_mapping()}
    try:
        from streams.config import SinkConfig

        out["sink"] = SinkConfig().to_mapping()
    except ImportError:
        pass
    for key, name in CONFIG_FILES.items():
        try:
            value = yaml.safe_load((Path(config_dir) / name).read_text())
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(value, dict):
            out[key] = value
    return out


def check_change(key: str, value: Any) -> str | None:
    """None if ``value`` is valid for ``key``, else the reason (naming the path).

    Keys without a validator here are passed through (None): the workers validate them
    and the audit log shows the verdict.
    """
    validate = VALIDATORS.get(key)
    if not isinstance(value, Mapping):
        return f"{key}: expected a mapping"
    if validate is None:
        return None
    try:
        validate(value)
    except (PolicyError, AlertConfigError, ValueError) as exc:  # the streams' errors too
        return str(exc)
    return None


def diff(before: Any, after: Any, path: str = "") -> list[tuple[str, str, str]]:
    """(dotted path, before, after) for every leaf that differs; ``∅`` marks absence."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        out = []
        for k in sorted(set(before) | set(after), key=str):
            sub = f"{path}.{k}" if path else str(k)
            out += diff(before.get(k, MISSING), after.get(k, MISSING), sub)
        return out
    if before == after:
        return []
    return [(path or "(value)", _show(before), _show(after))]


def _show(value: Any) -> str:
    return value if value == MISSING else repr(value)
