"""Scoring policy: component weights, activity targets, the minimum cases to be ranked,
the scoring periods and the street's local time offset.

:meth:`ScoringPolicy.from_mapping` validates a whole policy and raises
:class:`~domain.sla.PolicyError` naming the path; a bad policy is rejected as a whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from domain.config_file import only_keys, read_yaml
from domain.sla import PolicyError

PERIOD_KINDS = ("day", "week", "month")  # local calendar periods (streams.scores.periods)
COMPONENTS = ("on_time", "on_spot", "reopen", "evaluation", "activity")
SUBJECT_KINDS = ("grid", "worker")


@dataclass(frozen=True)
class ScoringPolicy:
    """A validated scoring policy."""

    weights: Mapping[str, float]
    activity_target: Mapping[str, float]
    min_cases: int = 3
    periods: tuple[str, ...] = PERIOD_KINDS
    utc_offset_h: int = 8

    def to_mapping(self) -> dict[str, Any]:
        """The policy as plain data."""
        return {"weights": dict(self.weights), "activity_target": dict(self.activity_target),
                "min_cases": self.min_cases, "periods": list(self.periods),
                "utc_offset_h": self.utc_offset_h}

    @classmethod
    def from_mapping(cls, data: Any) -> ScoringPolicy:
        """Validate plain data; raise :class:`PolicyError` naming the path."""
        if not isinstance(data, Mapping):
            raise PolicyError("scoring: expected a mapping")
        _only(data, ("weights", "activity_target", "min_cases", "periods", "utc_offset_h"),
              "scoring")
        weights = _numbers(data.get("weights"), "weights", COMPONENTS, allow_zero=True)
        if sum(weights.values()) <= 0:
            raise PolicyError("weights: at least one weight must be positive")
        targets = _numbers(data.get("activity_target"), "activity_target", SUBJECT_KINDS)
        min_cases = data.get("min_cases", 3)
        if isinstance(min_cases, bool) or not isinstance(min_cases, int) or min_cases < 0:
            raise PolicyError("min_cases: must be a whole number >= 0")
        periods = data.get("periods", list(PERIOD_KINDS))
        if (not isinstance(periods, list) or not periods
                or any(p not in PERIOD_KINDS for p in periods) or len(set(periods)) < len(periods)):
            raise PolicyError(f"periods: a non-empty list of distinct periods of "
                              f"{', '.join(PERIOD_KINDS)}")
        offset = data.get("utc_offset_h", 8)
        if isinstance(offset, bool) or not isinstance(offset, int) or not -12 <= offset <= 14:
            raise PolicyError("utc_offset_h: must be a whole number of hours from -12 to 14")
        return cls(weights, targets, min_cases, tuple(periods), offset)


def _only(data: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    only_keys(data, allowed, where, PolicyError)


def _numbers(data: Any, where: str, required: tuple[str, ...], allow_zero: bool = False
             ) -> dict[str, float]:
    if not isinstance(data, Mapping):
        raise PolicyError(f"{where}: expected a mapping")
    _only(data, required, where)
    out: dict[str, float] = {}
    for key in required:
        if key not in data:
            raise PolicyError(f"{where}.{key}: required")
        value = data[key]
        if (isinstance(value, bool) or not isinstance(value, int | float) or value < 0
                or (value == 0 and not allow_zero)):
            raise PolicyError(f"{where}.{key}: must be a "
                              f"{'non-negative' if allow_zero else 'positive'} number")
        out[key] = float(value)
    return out


def load_scoring(path: Path) -> ScoringPolicy:
    """Read and validate a scoring YAML file."""
    return ScoringPolicy.from_mapping(read_yaml(path, PolicyError))
