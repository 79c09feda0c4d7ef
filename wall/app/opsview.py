"""The ops console's view model: job health tables and validated config diffs (pure).

Job health items (channel ``job_health``, one per worker) are read defensively; see
``docs/wall.md`` for the fields the wall reads. :func:`check_change` validates a proposed
value with the same validators the workers use (a value the console accepts is one the
workers accept), and :func:`diff` lists exactly the leaves that differ.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

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
    recovery: float  # 0..1; 1 when recovered
    total_lag: int


def _latency(data: Mapping[str, Any], q: str) -> float:
    nested = mapping(data, "latency_ms") or mapping(data, "processing_latency_ms")
    return num(nested, q, num(data, f"latency_{q}_ms"))


def _recovery(data: Mapping[str, Any]) -> float:
    value = data.get("recovery")
    if isinstance(value, Mapping):
        return min(1.0, max(0.0, num(value, "progress", 1.0)))
    return min(1.0, max(0.0, num(data, "recovery", 1.0)))


def lag_map(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The worker's lag per partition (``lag`` or ``consumer_lag``)."""
    return mapping(data, "lag") or mapping(data, "consumer_lag")


def workers(store: WallStore, now_ms: int) -> list[WorkerHealth]:
    """One row per worker, by worker id."""
    rows = []
    for key, item in sorted(store.channel("job_health").items()):
        d = item.data
        rates = mapping(d, "events_per_s")
        total = sum(num(rates, k) for k in rates) if rates else num(d, "events_per_s")
        lag = lag_map(d)
        rows.append(WorkerHealth(
            worker=text(d, "worker", key), age_s=max(0.0, (now_ms - item.ts) / 1000),
            events_per_s=total, latency_p50_ms=_latency(d, "p50"),
            latency_p99_ms=_latency(d, "p99"),
            sink_batch_rows=num(d, "sink_batch_rows", num(d, "sink_batch_size")),
            insert_rows_per_s=num(d, "insert_rows_per_s"), recovery=_recovery(d),
            total_lag=sum(integer(lag, k) for k in lag)))
    return rows


def agent_rates(store: WallStore) -> list[tuple[str, str, float]]:
    """(worker, agent, events/s) for every agent of every worker."""
    out = []
    for key, item in sorted(store.channel("job_health").items()):
        rates = mapping(item.data, "events_per_s")
        out += [(key, agent, num(rates, agent)) for agent in sorted(rates)]
    return out


def partition_lags(store: WallStore) -> list[tuple[str, str, int]]:
    """(worker, partition, lag) for every partition reported, largest lag first."""
    out = []
    for key, item in store.channel("job_health").items():
        lag = lag_map(item.data)
        out += [(key, str(part), integer(lag, part)) for part in lag]
    return sorted(out, key=lambda r: (-r[2], r[0], r[1]))


def _sink(value: Any) -> object:
    from streams.config import SinkConfig  # the workers' own validator

    return SinkConfig.from_mapping(value)


VALIDATORS: dict[str, Callable[[Any], object]] = {
    "sla": SlaPolicy.from_mapping,
    "alerts": AlertConfig.from_mapping,
    "sink": _sink,
}


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
    except (PolicyError, AlertConfigError, ValueError) as exc:  # streams' ConfigError too
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
