"""The ops console's view model: job health tables and validated config diffs (pure).

Job health items (channel ``job_health``, one per worker, the shape of
``streams.health.job.JobHealth.snapshot``) are read defensively: a missing count reads 0, but
a latency, batch size or recovery figure that is missing or null stays None (unknown: the
console shows "—", never 0 ms or 100 %).
:func:`check_change` validates a proposed value with the same validators the workers use
(a value the console accepts is one the workers accept), and :func:`diff` lists exactly
the leaves that differ. :func:`supervision` reads the status document ``gridwall up`` writes
(``infra.supervisor``: state, pid, restarts, last exit code and last restart time of each
process it supervises) just as defensively.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from domain.contracts.live_config import LIVE_KEYS
from wall.app.fields import integer, mapping, maybe_num, num, text
from wall.app.store import WallStore

MISSING = "∅"


@dataclass(frozen=True)
class WorkerHealth:
    """One worker's figures as the console shows them (None: unknown)."""

    worker: str
    age_s: float
    events_per_s: float
    latency_p50_ms: float | None  # the slowest agent's; None when no agent has samples
    latency_p99_ms: float | None
    sink_batch_rows: float | None
    insert_rows_per_s: float
    recovery: float | None  # the slowest table partition's progress, 0..1; None: unknown
    total_lag: int


@dataclass(frozen=True)
class RecoveryRow:
    """One changelog partition's recovery on one worker (None: not known yet)."""

    worker: str
    table: str
    partition: str
    progress: float | None
    remaining: int | None


def agents_of(data: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    """``agents``: agent name -> figures (non-mapping entries dropped)."""
    return {k: v for k, v in mapping(data, "agents").items() if isinstance(v, Mapping)}


def lags_of(data: Mapping[str, Any]) -> list[tuple[str, str, int]]:
    """(consumer, ``topic/partition``, lag) from ``lag`` = {consumer: {topic: {partition: lag}}}."""
    out = []
    for consumer, topics in mapping(data, "lag").items():
        for topic, parts in (topics.items() if isinstance(topics, Mapping) else ()):
            if isinstance(parts, Mapping):
                out += [(consumer, f"{topic}/{p}", integer(parts, p)) for p in parts]
    return out


def recovery_of(worker: str, data: Mapping[str, Any]) -> list[RecoveryRow]:
    """One row per table and partition of ``recovery`` = {table: {partitions: {p: {…}}}}."""
    rows = []
    for table, figures in mapping(data, "recovery").items():
        parts = mapping(figures, "partitions") if isinstance(figures, Mapping) else {}
        for part, f in parts.items():
            if isinstance(f, Mapping):
                remaining = maybe_num(f, "remaining")
                progress = maybe_num(f, "progress")
                rows.append(RecoveryRow(
                    worker, str(table), str(part),
                    None if progress is None else min(1.0, max(0.0, progress)),
                    None if remaining is None else int(remaining)))
    return rows


def _slowest(values: list[float | None]) -> float | None:
    """The smallest of ``values``; None if there are none or any is None (unknown)."""
    if not values or None in values:
        return None
    return min(v for v in values if v is not None)


def _largest(values: list[float | None]) -> float | None:
    """The largest known value; None if none is known."""
    known = [v for v in values if v is not None]
    return max(known) if known else None


def workers(store: WallStore, now_ms: int) -> list[WorkerHealth]:
    """One row per worker, by worker id; ages are judged by the wall's clock."""
    rows = []
    for key, item in sorted(store.channel("job_health").items()):
        d = item.data
        agents = agents_of(d)
        sink = mapping(d, "sink")
        worker = text(d, "worker_id", key)
        rows.append(WorkerHealth(
            worker=worker, age_s=max(0.0, (now_ms - item.ts) / 1000),
            events_per_s=sum(num(a, "events_per_s") for a in agents.values()),
            latency_p50_ms=_largest([maybe_num(a, "latency_p50_ms") for a in agents.values()]),
            latency_p99_ms=_largest([maybe_num(a, "latency_p99_ms") for a in agents.values()]),
            sink_batch_rows=maybe_num(sink, "batch_mean"),
            insert_rows_per_s=num(sink, "rows_per_s"),
            recovery=_slowest([r.progress for r in recovery_of(worker, d)]),
            total_lag=sum(lag for _, _, lag in lags_of(d))))
    return rows


def agent_rates(store: WallStore) -> list[tuple[str, str, float, float | None]]:
    """(worker, agent, events/s, latency p99 ms or None) for every agent of every worker."""
    out = []
    for key, item in sorted(store.channel("job_health").items()):
        agents = agents_of(item.data)
        out += [(key, name, num(a, "events_per_s"), maybe_num(a, "latency_p99_ms"))
                for name, a in sorted(agents.items())]
    return out


def partition_lags(store: WallStore) -> list[tuple[str, str, str, int]]:
    """(worker, consumer, topic/partition, lag) for every partition reported, largest first."""
    out = []
    for key, item in store.channel("job_health").items():
        out += [(key, consumer, part, lag) for consumer, part, lag in lags_of(item.data)]
    return sorted(out, key=lambda r: (-r[3], r[0], r[1], r[2]))


def recovery_rows(store: WallStore) -> list[RecoveryRow]:
    """Every worker's table partitions, least recovered first (unknown before any figure)."""
    out = []
    for key, item in store.channel("job_health").items():
        out += recovery_of(text(item.data, "worker_id", key), item.data)
    return sorted(out, key=lambda r: (-1.0 if r.progress is None else r.progress, r.worker,
                                      r.table, int(r.partition) if r.partition.isdigit()
                                      else 0, r.partition))


@dataclass(frozen=True)
class SupervisedRow:
    """One process ``gridwall up`` supervises (None: unknown or never)."""

    name: str
    kind: str
    state: str
    pid: int | None
    restarts: int
    last_exit_code: int | None
    last_restart_ms: int | None


@dataclass(frozen=True)
class Supervision:
    """``up``'s own state, the age of its status document, and its processes."""

    state: str
    age_s: float
    gave_up: str | None
    rows: list[SupervisedRow]


def _maybe_int(data: Mapping[str, Any], key: str) -> int | None:
    value = maybe_num(data, key)
    return None if value is None else int(value)


def supervision(doc: Any, now_ms: int) -> Supervision | None:
    """The status document of ``gridwall up`` as the console shows it; None if there is none."""
    if not isinstance(doc, Mapping):
        return None
    rows = [SupervisedRow(text(p, "name", "?"), text(p, "kind"), text(p, "state", "?"),
                          _maybe_int(p, "pid"), integer(p, "restarts"),
                          _maybe_int(p, "last_exit_code"), _maybe_int(p, "last_restart_ms"))
            for p in doc.get("processes", ()) if isinstance(p, Mapping)]
    gave_up = doc.get("gave_up")
    return Supervision(text(doc, "state", "?"),
                       max(0.0, (now_ms - integer(doc, "updated_ms", now_ms)) / 1000),
                       gave_up if isinstance(gave_up, str) else None, rows)


# The validators are the workers' own (domain.contracts.live_config).
VALIDATORS: dict[str, Callable[[Any], object]] = {k: v.parse for k, v in LIVE_KEYS.items()}
# Keys whose start-up value is a YAML file of the config directory.
CONFIG_FILES: dict[str, str] = {k: v.config_file for k, v in LIVE_KEYS.items()
                                if v.config_file is not None}


def startup_config(config_dir: str | Path) -> dict[str, dict[str, Any]]:
    """The values workers start with: the YAML files, and the built-in defaults.

    Reads files (the one I/O here); a missing or unreadable file leaves its key out.
    """
    out: dict[str, dict[str, Any]] = {k: v.default().to_mapping()
                                      for k, v in LIVE_KEYS.items() if v.default is not None}
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
    except ValueError as exc:  # every parser's error is one, naming the path
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
