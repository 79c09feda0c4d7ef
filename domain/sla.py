"""SLA policy: how long a case may wait in a step, by category × priority × step.

:meth:`SlaPolicy.from_mapping` validates a whole policy (unknown keys, non-positive or
non-numeric values are errors naming the path), so a bad policy is rejected as a whole
and the old one stays in force.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from domain.config_file import only_keys, read_yaml
from domain.vocab import CATEGORIES, PRIORITIES

TIMED_STEPS: tuple[str, ...] = ("reported", "verified", "dispatched", "handled", "closed")


class PolicyError(ValueError):
    """A policy that does not validate; the message names the offending path."""


@dataclass(frozen=True)
class SlaPolicy:
    """A validated SLA policy. Immutable: changing it means building a new one."""

    defaults: Mapping[str, int]
    priority_factor: Mapping[str, float]
    categories: Mapping[str, Mapping[str, int]]

    def deadline_s(self, category: str, priority: str, step: str) -> int | None:
        """Seconds allowed in ``step``; None for steps without a clock (terminal ones)."""
        base = self.categories.get(category, {}).get(step, self.defaults.get(step))
        if base is None:
            return None
        return max(1, round(base * self.priority_factor.get(priority, 1.0)))

    def deadline_ms(self, category: str, priority: str, step: str, entered_ms: int
                    ) -> int | None:
        """The absolute deadline (epoch ms) of a step entered at ``entered_ms``."""
        seconds = self.deadline_s(category, priority, step)
        return None if seconds is None else entered_ms + seconds * 1000

    def to_mapping(self) -> dict[str, Any]:
        """The policy as plain data (the YAML / control-topic form)."""
        return {"defaults": dict(self.defaults), "priority_factor": dict(self.priority_factor),
                "categories": {k: dict(v) for k, v in self.categories.items()}}

    @classmethod
    def from_mapping(cls, data: Any) -> SlaPolicy:
        """Validate plain data into a policy; raise :class:`PolicyError` naming the path."""
        if not isinstance(data, Mapping):
            raise PolicyError("policy: expected a mapping")
        _only(data, ("defaults", "priority_factor", "categories"), "policy")
        defaults = _seconds_map(data.get("defaults"), "defaults", required=TIMED_STEPS)
        factors = _factor_map(data.get("priority_factor", {}))
        raw_categories = data.get("categories", {}) or {}
        if not isinstance(raw_categories, Mapping):
            raise PolicyError("categories: expected a mapping")
        _only(raw_categories, CATEGORIES, "categories")
        categories = {name: _seconds_map(v, f"categories.{name}")
                      for name, v in raw_categories.items()}
        return cls(defaults, factors, categories)


def _only(data: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    only_keys(data, allowed, where, PolicyError)


# Bounds of plausible values: beyond them a deadline (ms since 1970, UInt64 in ClickHouse)
# could overflow, or an infinite factor crash the clock.
MAX_SLA_S = 365 * 86_400
MAX_FACTOR = 100.0


def _seconds_map(data: Any, where: str, required: tuple[str, ...] = ()) -> dict[str, int]:
    if not isinstance(data, Mapping):
        raise PolicyError(f"{where}: expected a mapping of step to seconds")
    _only(data, TIMED_STEPS, where)
    for step in required:
        if step not in data:
            raise PolicyError(f"{where}.{step}: required")
    out: dict[str, int] = {}
    for step, value in data.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_SLA_S:
            raise PolicyError(f"{where}.{step}: must be a positive whole number of seconds "
                              f"up to {MAX_SLA_S:,}")
        out[step] = value
    return out


def _factor_map(data: Any) -> dict[str, float]:
    if not isinstance(data, Mapping):
        raise PolicyError("priority_factor: expected a mapping of priority to factor")
    _only(data, PRIORITIES, "priority_factor")
    out: dict[str, float] = {}
    for priority, value in data.items():
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not 0 < value <= MAX_FACTOR):
            raise PolicyError(f"priority_factor.{priority}: must be a positive number up to "
                              f"{MAX_FACTOR}")
        out[priority] = float(value)
    return out


def load_policy(path: Path) -> SlaPolicy:
    """Read and validate a policy YAML file."""
    return SlaPolicy.from_mapping(read_yaml(path, PolicyError))


