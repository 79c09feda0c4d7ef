"""Does the configuration cover the catalog? Every place a new entry needs, checked at once.

:func:`vocabulary_problems` reads ``thresholds.yaml`` and ``sla.yaml`` from a config
directory and lists, in words, every catalog entry that lacks what it needs there: a sensor
kind without alert bands (or with bands outside its plausible range, or that its simulated
normal readings would cross), a category without a deadline for a timed step, a config key
naming an entry the catalog does not know. An empty list means the recipes of
``docs/extending.md`` were followed to the end. Pure apart from reading the two files.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from domain.contracts.vocabulary import (
    CATEGORY_CATALOG,
    SENSOR_CATALOG,
    CategorySpec,
    SensorKindSpec,
)
from domain.sla import TIMED_STEPS

_BANDS = ("warning_above", "critical_above", "warning_below", "critical_below")


def _load(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        return exc


def sensor_problems(kinds: Any, sensors: tuple[SensorKindSpec, ...] = SENSOR_CATALOG
                    ) -> list[str]:
    """Problems of the ``kinds`` mapping of ``thresholds.yaml`` against the sensor kinds."""
    if not isinstance(kinds, Mapping):
        return ["thresholds.yaml: kinds: expected a mapping of sensor kind to bands"]
    out = [f"thresholds.yaml: kinds.{name}: not a sensor kind of the catalog"
           for name in kinds if name not in {s.name for s in sensors}]
    for spec in sensors:
        entry = kinds.get(spec.name)
        where = f"thresholds.yaml: kinds.{spec.name}"
        if not isinstance(entry, Mapping):
            out.append(f"{where}: missing (sensor kind {spec.name} has no alert bands)")
            continue
        if entry.get("unit", spec.unit) != spec.unit:
            out.append(f"{where}.unit: {entry.get('unit')!r}, the catalog says {spec.unit!r}")
        bands = {b: entry[b] for b in _BANDS if isinstance(entry.get(b), int | float)}
        if not bands:
            out.append(f"{where}: no band ({', '.join(_BANDS)})")
        out += [f"{where}.{b}: {v} is outside the plausible range {spec.low}..{spec.high}"
                for b, v in bands.items() if not spec.low <= v <= spec.high]
        warn = bands.get("warning_above")
        sim = spec.simulation
        if warn is not None and not sim.normal_max < warn <= sim.anomaly_low:
            out.append(f"{where}.warning_above: {warn} must lie above the simulated normal "
                       f"readings ({sim.normal_max}) and at most the anomalies "
                       f"({sim.anomaly_low})")
    return out


def sla_problems(policy: Any, categories: tuple[CategorySpec, ...] = CATEGORY_CATALOG
                 ) -> list[str]:
    """Problems of ``sla.yaml`` against the categories: every category needs a deadline for
    every timed step (its own override or the default)."""
    if not isinstance(policy, Mapping):
        return ["sla.yaml: expected a mapping"]
    defaults = policy.get("defaults") or {}
    overrides = policy.get("categories") or {}
    names = {c.name for c in categories}
    out = [f"sla.yaml: categories.{name}: not a category of the catalog"
           for name in overrides if name not in names]
    for spec in categories:
        own = overrides.get(spec.name) or {}
        missing = [s for s in TIMED_STEPS if s not in own and s not in defaults]
        if missing:
            out.append(f"sla.yaml: category {spec.name} has no deadline for "
                       f"{', '.join(missing)}")
    return out


def vocabulary_problems(config_dir: Path) -> list[str]:
    """Every problem of ``config_dir``'s thresholds and SLA policy against the catalog."""
    thresholds = _load(config_dir / "thresholds.yaml")
    sla = _load(config_dir / "sla.yaml")
    out: list[str] = []
    for name, data in (("thresholds.yaml", thresholds), ("sla.yaml", sla)):
        if isinstance(data, Exception):
            out.append(f"{name}: cannot be read: {data}")
    if not isinstance(thresholds, Exception):
        kinds = thresholds.get("kinds") if isinstance(thresholds, Mapping) else None
        out += sensor_problems(kinds)
    if not isinstance(sla, Exception):
        out += sla_problems(sla)
    return out
