"""Sensor thresholds policy: per-kind value bands, heartbeat timeouts, anomaly settings.

:meth:`SensorPolicy.from_mapping` validates a whole policy and raises :class:`PolicyError`
naming the path, so a bad policy is rejected as a whole and the old one stays in force.
:meth:`KindPolicy.level` classifies a value as ``ok``, ``warning`` or ``critical``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from domain.config_file import only_keys, read_yaml
from domain.sla import PolicyError
from domain.vocab import SENSOR_KINDS

LEVELS = ("ok", "warning", "critical")
_BANDS = ("warning_above", "critical_above", "warning_below", "critical_below")


@dataclass(frozen=True)
class KindPolicy:
    """Bands of one sensor kind; None means the band is not used."""

    heartbeat_s: float
    unit: str = ""
    warning_above: float | None = None
    critical_above: float | None = None
    warning_below: float | None = None
    critical_below: float | None = None

    def level(self, value: float) -> str:
        """``critical`` if a critical band is crossed, else ``warning`` if one is, else ``ok``.

        Above-bands are crossed at or above the limit, below-bands at or below it.
        """
        if ((self.critical_above is not None and value >= self.critical_above)
                or (self.critical_below is not None and value <= self.critical_below)):
            return "critical"
        if ((self.warning_above is not None and value >= self.warning_above)
                or (self.warning_below is not None and value <= self.warning_below)):
            return "warning"
        return "ok"


@dataclass(frozen=True)
class AnomalyPolicy:
    """Rolling z-score settings (see the module docstring of :mod:`streams.sensors.rolling`)."""

    window: int = 60
    min_samples: int = 20
    z_raise: float = 4.0
    z_clear: float = 2.0


@dataclass(frozen=True)
class SensorPolicy:
    """A validated sensor policy. Immutable: changing it means building a new one."""

    kinds: Mapping[str, KindPolicy]
    anomaly: AnomalyPolicy

    def heartbeat_ms(self, kind: str) -> int:
        """How long a sensor of ``kind`` may stay silent, in ms."""
        return int(self.kinds[kind].heartbeat_s * 1000)

    def to_mapping(self) -> dict[str, Any]:
        """The policy as plain data (the YAML / control-topic form)."""
        kinds = {k: {n: v for n, v in asdict(p).items() if v is not None}
                 for k, p in self.kinds.items()}
        return {"kinds": kinds, "anomaly": asdict(self.anomaly)}

    @classmethod
    def from_mapping(cls, data: Any) -> SensorPolicy:
        """Validate plain data into a policy; raise :class:`PolicyError` naming the path."""
        if not isinstance(data, Mapping):
            raise PolicyError("thresholds: expected a mapping")
        _only(data, ("kinds", "anomaly"), "thresholds")
        kinds_raw = data.get("kinds")
        if not isinstance(kinds_raw, Mapping):
            raise PolicyError("kinds: expected a mapping of sensor kind to bands")
        _only(kinds_raw, SENSOR_KINDS, "kinds")
        missing = [k for k in SENSOR_KINDS if k not in kinds_raw]
        if missing:
            raise PolicyError(f"kinds.{missing[0]}: required")
        kinds = {k: _kind(v, f"kinds.{k}") for k, v in kinds_raw.items()}
        return cls(kinds, _anomaly(data.get("anomaly", {})))


def _only(data: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    only_keys(data, allowed, where, PolicyError)


# Plausible bounds: a silence allowed for longer than 30 days is a typo, and each sensor keeps
# its window of readings in memory.
MAX_HEARTBEAT_S = 30 * 86_400
MAX_WINDOW = 10_000


def _number(value: Any, where: str, positive: bool = False,
            at_most: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PolicyError(f"{where}: must be a number")
    if positive and value <= 0:
        raise PolicyError(f"{where}: must be positive")
    if at_most is not None and value > at_most:
        raise PolicyError(f"{where}: must be at most {at_most:,.0f}")
    return float(value)


def _kind(data: Any, where: str) -> KindPolicy:
    if not isinstance(data, Mapping):
        raise PolicyError(f"{where}: expected a mapping")
    _only(data, ("unit", "heartbeat_s", *_BANDS), where)
    if "heartbeat_s" not in data:
        raise PolicyError(f"{where}.heartbeat_s: required")
    bands = {b: _number(data[b], f"{where}.{b}") for b in _BANDS if b in data}
    if not bands:
        raise PolicyError(f"{where}: needs at least one of {', '.join(_BANDS)}")
    for low, high in (("warning_above", "critical_above"), ("critical_below", "warning_below")):
        if low in bands and high in bands and bands[low] > bands[high]:
            raise PolicyError(f"{where}.{high}: must not be below {low}")
    return KindPolicy(heartbeat_s=_number(data["heartbeat_s"], f"{where}.heartbeat_s", True,
                                          MAX_HEARTBEAT_S),
                      unit=str(data.get("unit", "")), **bands)


def _anomaly(data: Any) -> AnomalyPolicy:
    if not isinstance(data, Mapping):
        raise PolicyError("anomaly: expected a mapping")
    _only(data, ("window", "min_samples", "z_raise", "z_clear"), "anomaly")
    out = AnomalyPolicy()
    values: dict[str, Any] = asdict(out)
    for key in ("window", "min_samples"):
        if key in data:
            raw = data[key]
            if isinstance(raw, bool) or not isinstance(raw, int) or not 2 <= raw <= MAX_WINDOW:
                raise PolicyError(f"anomaly.{key}: must be a whole number from 2 to "
                                  f"{MAX_WINDOW:,}")
            values[key] = raw
    for key in ("z_raise", "z_clear"):
        if key in data:
            values[key] = _number(data[key], f"anomaly.{key}", positive=True)
    if values["min_samples"] > values["window"]:
        raise PolicyError("anomaly.min_samples: must not exceed window")
    if values["z_clear"] > values["z_raise"]:
        raise PolicyError("anomaly.z_clear: must not exceed z_raise")
    return AnomalyPolicy(**values)


def load_sensor_policy(path: Path) -> SensorPolicy:
    """Read and validate a thresholds YAML file."""
    return SensorPolicy.from_mapping(read_yaml(path, PolicyError))
