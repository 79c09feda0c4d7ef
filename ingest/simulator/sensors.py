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


@dataclass(frozen=True)
class SensorProfile:
    """How one kind of sensor reads: the catalog's simulation record and the kind's unit."""

    unit: str
    sim: Simulation

    def __post_init__(self) -> None:
        sim = self.sim
        night = sim.night_mean if sim.night_mean is not None else sim.mean
        # (day mean, night mean, spread, normal_max, decimals): looked up once per reading
        object.__setattr__(self, "_normal", (sim.mean, night, sim.spread, sim.normal_max,
                                             sim.decimals))

    def normal(self, rng: random.Random, hour: float) -> float:
        """A normal reading: gaussian around the (day or night) mean, in [0, normal_max]."""
        day, night, spread, top, decimals = self._normal  # type: ignore[attr-defined]
        h = hour % 24.0  # as daymodel.is_night
        value = rng.gauss(night if h >= 22.0 or h < 6.0 else day, spread)
        return round(top if value > top else (value if value > 0.0 else 0.0), decimals)

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
    """Produces the next sensor reading in the cycle (see the module docstring).

    Per-sensor constants (id, kind, grid, the kind's profile) are looked up once, at
    construction: :meth:`next_reading` is the load generator's per-reading cost.
    """

    def __init__(self, sensors: Iterable[Poi], rng: random.Random,
                 shares: FleetShares | None = None) -> None:
        self.shares = shares or FleetShares()
        self._rng = rng
        pois: list[Poi] = sorted(sensors, key=lambda poi: poi.sensor_id or "")
        if not pois:
            raise ValueError("the street has no sensors")
        rng.shuffle(pois)
        dead_count = min(len(pois) - 1, round(len(pois) * self.shares.dead))
        # Readings left before a dying sensor falls silent; the others never die.
        self._remaining: dict[str, int] = {}
        for poi in rng.sample(pois, dead_count):
            self._remaining[poi.sensor_id or ""] = rng.randint(1, 4)
        self._cycle: list[tuple[str, str, str, SensorProfile]] = [
            (p.sensor_id or "", p.sensor_kind or "smoke", p.grid_id,
             PROFILES[p.sensor_kind or "smoke"]) for p in pois]
        self._episode: dict[str, int] = {}
        self._next = 0
        self.dead: list[str] = []  # sensors that died, in the order they fell silent

    @property
    def live_count(self) -> int:
        """How many sensors still report."""
        return len(self._cycle)

    def next_reading(self, ts: int, hour: float) -> SensorReading:
        """The next live sensor's reading at ``ts`` (simulated local ``hour``)."""
        sensor_id, kind, grid_id, profile = self._cycle[self._next]
        rng = self._rng
        episode = self._episode.get(sensor_id, 0) if self._episode else 0
        if not episode and rng.random() < self.shares.anomaly:
            episode = rng.randint(2, 6)
        if episode:
            value = profile.anomalous(rng)
            self._episode[sensor_id] = episode - 1
            if episode == 1:
                del self._episode[sensor_id]
        else:
            value = profile.normal(rng, hour)
        if sensor_id in self._remaining:
            self._count_down(sensor_id)
        else:
            self._next = (self._next + 1) % len(self._cycle)
        return SensorReading(sensor_id=sensor_id, kind=kind,
                             value=value, ts=ts, grid_id=grid_id)

    def _count_down(self, sensor_id: str) -> None:
        """Move the cycle on past a dying sensor; it leaves the cycle when its readings ran
        out."""
        remaining = self._remaining[sensor_id] - 1
        self._remaining[sensor_id] = remaining
        if remaining <= 0:
            del self._cycle[self._next]
            self.dead.append(sensor_id)
            if self._next >= len(self._cycle):
                self._next = 0
            return
        self._next = (self._next + 1) % len(self._cycle)
