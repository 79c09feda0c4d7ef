"""The street's sensors: periodic readings, anomaly episodes and sensors that die (pure).

:class:`SensorFleet` cycles through the live sensors in a fixed, seeded order, so every
live sensor reports once per cycle (periodically); the period follows from how often the
engine asks. Guarantees:

* normal values stay at or below the kind's ``normal_max`` and values during an anomaly
  episode (a few consecutive readings of one sensor) at or above its ``anomaly_low`` (the
  catalog's :class:`~domain.contracts.vocabulary.Simulation`, which straddles the alert band);
* a dead sensor stops for good after its last reading: no reading of it ever follows;
* the same seed gives the same readings.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from domain.contracts.vocabulary import SENSOR_CATALOG, Simulation
from domain.geo import Poi
from domain.schemas import SensorReading
from ingest.simulator.daymodel import is_night


@dataclass(frozen=True)
class SensorProfile:
    """How one kind of sensor reads: the catalog's simulation record and the kind's unit."""

    unit: str
    sim: Simulation

    def normal(self, rng: random.Random, hour: float) -> float:
        """A normal reading: gaussian around the (day or night) mean, in [0, normal_max]."""
        sim = self.sim
        mean = sim.night_mean if sim.night_mean is not None and is_night(hour) else sim.mean
        value = min(sim.normal_max, max(0.0, rng.gauss(mean, sim.spread)))
        return round(value, sim.decimals)

    def anomalous(self, rng: random.Random) -> float:
        """A reading of an anomaly episode, in [anomaly_low, anomaly_high]."""
        sim = self.sim
        value = round(rng.uniform(sim.anomaly_low, sim.anomaly_high), sim.decimals)
        return min(sim.anomaly_high, max(sim.anomaly_low, value))


# One profile per kind of the catalog (domain.contracts.vocabulary): normal readings stay
# below the kind's warning_above of config/thresholds.yaml, anomalies above it (tested).
PROFILES: dict[str, SensorProfile] = {s.name: SensorProfile(s.unit, s.simulation)
                                      for s in SENSOR_CATALOG}


@dataclass(frozen=True)
class FleetShares:
    """How often things go wrong: anomaly episodes start, sensors die."""

    anomaly: float = 0.004  # chance that a reading starts an anomaly episode
    dead: float = 0.02  # share of sensors that die after their first few readings


class SensorFleet:
    """Produces the next sensor reading in the cycle (see the module docstring)."""

    def __init__(self, sensors: Iterable[Poi], rng: random.Random,
                 shares: FleetShares | None = None) -> None:
        self.shares = shares or FleetShares()
        self._rng = rng
        self._cycle: list[Poi] = sorted(sensors, key=lambda poi: poi.sensor_id or "")
        if not self._cycle:
            raise ValueError("the street has no sensors")
        rng.shuffle(self._cycle)
        dead_count = min(len(self._cycle) - 1, round(len(self._cycle) * self.shares.dead))
        # Readings left before a dying sensor falls silent; None: it never dies.
        self._remaining: dict[str, int | None] = {p.sensor_id or "": None for p in self._cycle}
        for poi in rng.sample(self._cycle, dead_count):
            self._remaining[poi.sensor_id or ""] = rng.randint(1, 4)
        self._episode: dict[str, int] = {}
        self._next = 0
        self.dead: list[str] = []  # sensors that died, in the order they fell silent

    @property
    def live_count(self) -> int:
        """How many sensors still report."""
        return len(self._cycle)

    def next_reading(self, ts: int, hour: float) -> SensorReading:
        """The next live sensor's reading at ``ts`` (simulated local ``hour``)."""
        poi = self._cycle[self._next]
        sensor_id = poi.sensor_id or ""
        kind = poi.sensor_kind or "smoke"
        profile = PROFILES[kind]
        episode = self._episode.get(sensor_id, 0)
        if not episode and self._rng.random() < self.shares.anomaly:
            episode = self._rng.randint(2, 6)
        if episode:
            value = profile.anomalous(self._rng)
            self._episode[sensor_id] = episode - 1
        else:
            value = profile.normal(self._rng, hour)
        self._advance(sensor_id)
        return SensorReading(sensor_id=sensor_id, kind=kind,
                             value=value, ts=ts, grid_id=poi.grid_id)

    def _advance(self, sensor_id: str) -> None:
        """Move the cycle on; a sensor whose readings ran out leaves the cycle."""
        remaining = self._remaining[sensor_id]
        if remaining is not None:
            remaining -= 1
            self._remaining[sensor_id] = remaining
            if remaining <= 0:
                del self._cycle[self._next]
                self.dead.append(sensor_id)
                if self._next >= len(self._cycle):
                    self._next = 0
                return
        self._next = (self._next + 1) % len(self._cycle)
