"""The street's day as one stream of events at a fixed rate (pure, seeded, deterministic).

Virtual time is cut into slots, ``rate`` per second: slot ``k`` is stamped
``start_ms + k * 1000 / rate``. Each slot carries exactly one event:

1. a case step that has come due (case lifecycles from :mod:`.cases`, their waits divided
   by ``speedup``), else
2. a new report (resident, grid-worker patrol, property management) with a probability
   that follows the time of day (:mod:`.daymodel`), else a department record, else
3. the next reading of the sensor cycle (:mod:`.sensors`).

Guarantees: the stream is in non-decreasing ``ts`` order; given the same
:class:`SimConfig` and ``start_ms`` it is identical; with another ``start_ms`` (and the
same ``day_start_h`` and ``run_tag``) only the timestamps move. Every event validates
against its :mod:`domain.schemas` Struct and has ``grid_id`` filled; case ids and incident
ids carry the run tag, so two runs never reuse them.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from domain.geo import Street, street
from domain.schemas import CaseEvent, DepartmentRecord, SensorReading
from domain.sla import SlaPolicy
from ingest.simulator import daymodel
from ingest.simulator.cases import CasePlan, CasePlanner, CaseShares
from ingest.simulator.places import Places
from ingest.simulator.records import RecordMaker
from ingest.simulator.sensors import FleetShares, SensorFleet

Event = CaseEvent | SensorReading | DepartmentRecord

_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Mix:
    """Shares of the slots that no due case step takes, at the day's mean activity.

    ``report`` is split between origins by ``origins``; each origin's share is then scaled
    by its time-of-day profile (1.0 on average over a day). The rest are sensor readings.
    """

    report: float = 0.02
    record: float = 0.015
    origins: tuple[tuple[str, float], ...] = (("resident", 0.5), ("patrol", 0.4),
                                              ("property", 0.1))


ORIGIN_PROFILES = {"resident": daymodel.RESIDENT, "patrol": daymodel.PATROL,
                   "property": daymodel.PROPERTY}


@dataclass(frozen=True)
class SimConfig:
    """Everything that shapes a run; ``None`` fields are derived from ``start_ms``."""

    seed: int = 1
    rate: float = 20.0
    speedup: float = 1.0
    day_start_h: float | None = None
    run_tag: str | None = None
    mix: Mix = field(default_factory=Mix)
    cases: CaseShares = field(default_factory=CaseShares)
    fleet: FleetShares = field(default_factory=FleetShares)

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise ValueError("rate must be positive")
        if not self.speedup > 0:
            raise ValueError("speedup must be positive")


def run_tag_for(start_ms: int) -> str:
    """A short id-safe tag derived from the start instant: ``s`` + base 36 of the ms."""
    digits, value = "", max(0, start_ms)
    while True:
        value, rest = divmod(value, 36)
        digits = _BASE36[rest] + digits
        if not value:
            return "s" + digits


class Simulation:
    """An endless iterator of the street's events (see the module docstring)."""

    def __init__(self, config: SimConfig, start_ms: int, street_: Street | None = None,
                 policy: SlaPolicy | None = None) -> None:
        self.config = config
        self.start_ms = start_ms
        self.street = street_ or street()
        self.run_tag = config.run_tag or run_tag_for(start_ms)
        day_start = (config.day_start_h if config.day_start_h is not None
                     else daymodel.local_hour(start_ms))
        self.clock = daymodel.DayClock(day_start, config.speedup)
        seed = config.seed
        self._rng = random.Random(f"{seed}:slots")
        self._case_rng = random.Random(f"{seed}:cases")
        self.places = Places(self.street)
        self.planner = CasePlanner(policy or default_policy(), config.cases)
        self.fleet = SensorFleet(self.street.sensors.values(), random.Random(f"{seed}:sensors"),
                                 config.fleet)
        self.records = RecordMaker(self.places, seed, self.run_tag,
                                   random.Random(f"{seed}:records"))
        self._ms_per_slot = 1000.0 / config.rate
        self._record_share = config.mix.record
        self._day_start_h, self._speedup = self.clock.day_start_h, self.clock.speedup
        self._rate = config.rate
        self._wait_ms_per_s = 1000.0 / config.speedup
        self._origins = [(origin, config.mix.report * share, ORIGIN_PROFILES[origin])
                         for origin, share in config.mix.origins]
        self._shares_minute = -1
        self._shares: list[tuple[str, float]] = []
        self._reading_above = 2.0  # set with the shares
        self._due: list[tuple[float, int, CasePlan, int]] = []
        self._seq = itertools.count()
        self._cases = 0
        self.slot = 0
        self.counts: Counter[str] = Counter()  # events by kind: reading, case, record

    def rebase(self, start_ms: int) -> None:
        """Stamp slot 0 at ``start_ms`` instead (only before the first event was taken; the
        day start and run tag stay those of the construction, so only the timestamps move,
        as the module docstring says). A live run rebases when it starts sending, so the
        seconds spent loading a city's geography and connecting do not make every event
        that much late."""
        if self.slot:
            raise RuntimeError("rebase after events were taken")
        self.start_ms = start_ms

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        return self.take(1)[0]

    def take(self, n: int) -> list[Event]:
        """The next ``n`` events (``next`` is ``take(1)``): the load generator's path.

        A slot whose draw lies clearly above every report and record share carries a
        reading without the share-by-share walk (most slots); the others take that walk
        in :meth:`_slot_event`, so the stream is the same whatever the chunk sizes.
        """
        out: list[Event] = []
        append, draw, next_reading = out.append, self._rng.random, self.fleet.next_reading
        due, start_ms, ms_per_slot = self._due, self.start_ms, self._ms_per_slot
        day_start_h, rate, speedup = self._day_start_h, self._rate, self._speedup
        readings = 0
        for slot in range(self.slot, self.slot + n):
            ts = start_ms + int(slot * ms_per_slot)
            if due and due[0][0] <= ts:
                self.counts["case"] += 1
                _, _, plan, index = heapq.heappop(due)
                append(self._step(plan, index, ts))
                continue
            # self.clock.hour_at(slot / rate), inlined: this runs once per event
            hour = (day_start_h + slot / rate * speedup / 3600.0) % 24.0
            if int(hour * 60) != self._shares_minute:
                self._report_shares(hour)
            u = draw()
            if u >= self._reading_above:
                readings += 1
                append(next_reading(ts, hour))
            else:
                append(self._slot_event(ts, hour, u))
        self.slot += n
        self.counts["reading"] += readings
        return out

    def _slot_event(self, ts: int, hour: float, u: float) -> Event:
        """The event of a slot no case step took, by its draw ``u`` in [0, 1)."""
        for origin, share in self._shares:
            u -= share
            if u < 0:
                self.counts["case"] += 1
                return self._open_case(origin, hour, ts)
        if u < self._record_share:
            self.counts["record"] += 1
            return self.records.next_record(ts)
        self.counts["reading"] += 1
        return self.fleet.next_reading(ts, hour)

    def _report_shares(self, hour: float) -> list[tuple[str, float]]:
        """Each origin's share of slots at ``hour``; recomputed once per simulated minute,
        with the draw above which a slot surely carries a reading (a margin far above the
        rounding of the walk in :meth:`_slot_event`)."""
        minute = int(hour * 60)
        if minute != self._shares_minute:
            self._shares_minute = minute
            self._shares = [(origin, share * daymodel.relative_weight(profile, minute / 60))
                            for origin, share, profile in self._origins]
            self._reading_above = (sum(share for _, share in self._shares)
                                   + self._record_share + 1e-9)
        return self._shares

    def _open_case(self, origin: str, hour: float, ts: int) -> CaseEvent:
        rng = self._case_rng
        lon: float | None
        lat: float | None
        if origin == "property":
            poi = self.places.poi(rng, "compound")
            grid = self.street.grids[poi.grid_id]
            located = self.street.grid_at(poi.lon, poi.lat) == grid.grid_id
            lon, lat = (poi.lon, poi.lat) if located else (None, None)
        else:
            grid = (self.places.grid_by_population(rng) if origin == "resident"
                    else self.places.any_grid(rng))
            lon, lat = self.places.point_in(rng, grid)
        self._cases += 1
        plan = self.planner.plan(rng, case_id=f"{self.run_tag}-c{self._cases:06d}",
                                 grid_id=grid.grid_id, community_id=grid.community_id,
                                 origin=origin, hour=hour, lon=lon, lat=lat)
        return self._step(plan, 0, ts)

    def _step(self, plan: CasePlan, index: int, ts: int) -> CaseEvent:
        """Emit step ``index`` at ``ts`` and schedule the next one after its wait."""
        nxt = index + 1
        if nxt < len(plan.steps):
            due = ts + plan.steps[nxt].delay_s * self._wait_ms_per_s
            heapq.heappush(self._due, (due, next(self._seq), plan, nxt))
        return plan.event(index, ts)

    @property
    def open_cases(self) -> int:
        """Cases with a step still to come."""
        return len(self._due)


def default_policy() -> SlaPolicy:
    """The SLA policy of ``<config dir>/sla.yaml`` (``GRIDWALL_CONFIG_DIR``)."""
    from pathlib import Path

    from core.settings import settings
    from domain.sla import load_policy

    return load_policy(Path(settings().config_dir) / "sla.yaml")


def generate(seed: int, n_events: int, start_ms: int, **options: object) -> Iterator[Event]:
    """The first ``n_events`` events of a run (for benchmarks and tests).

    ``options`` are further :class:`SimConfig` fields (``rate``, ``speedup``,
    ``day_start_h``, ``run_tag``, ``mix`` …). Mostly sensor readings, plus case events and
    department records, in ``ts`` order; deterministic for the same arguments.
    """
    config = SimConfig(seed=seed, **options)  # type: ignore[arg-type]
    return _taken(Simulation(config, start_ms), n_events)


def _taken(simulation: Simulation, n_events: int, chunk: int = 4096) -> Iterator[Event]:
    """The first ``n_events`` events of ``simulation``, taken ``chunk`` at a time."""
    while n_events > 0:
        events = simulation.take(min(chunk, n_events))
        n_events -= len(events)
        yield from events
