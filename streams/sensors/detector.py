"""Sensor alert detection over whole batches: thresholds, rolling z-score, heartbeat.

:meth:`SensorDetector.update` takes one :class:`~domain.schemas.SensorBatch` and returns
alert :class:`~domain.alerts.Signal` objects only where a sensor's condition *changed*:
a threshold level entered (raised, with the level as severity) or left (cleared), an
anomaly raised at ``|z| >= z_raise`` and cleared at ``|z| < z_clear`` (hysteresis), a dead
sensor reporting again (the dead-sensor alert cleared). :meth:`SensorDetector.due` is the
timer side: sensors silent past their heartbeat timeout raise a dead-sensor alert once
(signal time: the deadline, so every owner names the same silence the same way).
Fingerprints are ``sensor_threshold:<id>``, ``sensor_anomaly:<id>``, ``sensor_dead:<id>``.
A reading of a kind the policy does not know cannot happen (the wire schema's closed
vocabulary); the policy must cover every kind. The alert category of a kind is the
catalog's (:func:`domain.contracts.vocabulary.alert_category`).

State is per grid, so it can move with the grid's partition: :meth:`SensorDetector.drop_grids`
forgets grids (state and heartbeats); ``update(batch, silent=True)`` replays readings into
the state without signals or heartbeats; :meth:`SensorDetector.restored` then arms the
heartbeats of the replayed grids (a sensor the replay saw: from its last reading; an
installed sensor it did not see: from the restore time, *unconfirmed*, so its first reading
clears a dead alert a previous owner may have left) and returns clear signals for every
condition of a replayed sensor that is not active (clearing an alert that is not open
changes nothing).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from domain.alerts import Signal, fingerprint
from domain.contracts.vocabulary import alert_category
from domain.schemas import SensorBatch
from domain.sensor_policy import SensorPolicy
from streams.sensors.heartbeat import HeartbeatIndex
from streams.sensors.rolling import RollingWindow


@dataclass
class SensorState:
    """What the detector remembers of one sensor."""

    kind: str
    grid_id: str
    window: RollingWindow
    level: str = "ok"
    anomalous: bool = False
    last_value: float = 0.0
    last_ts: int = 0


@dataclass
class GridHealth:
    """Sensor health of one grid: how many sensors are known, reporting, dead, in alarm."""

    known: int = 0
    reporting: int = 0
    dead: int = 0
    warning: int = 0
    critical: int = 0
    anomalous: int = 0

    @property
    def score(self) -> float | None:
        """Share of known sensors that report and are not in alarm (None: no sensors)."""
        if not self.known:
            return None
        healthy = self.reporting - self.warning - self.critical
        return max(0.0, healthy) / self.known

    def as_dict(self) -> dict[str, float | int | None]:
        """Plain figures for the wall."""
        return {"known": self.known, "reporting": self.reporting, "dead": self.dead,
                "warning": self.warning, "critical": self.critical,
                "anomalous": self.anomalous, "health": self.score}


@dataclass
class SensorDetector:
    """Per-sensor detection state; see the module docstring.

    ``registry`` maps known sensor ids to (grid_id, kind) — the street's installed sensors —
    so that a sensor that never reported counts in its grid's health as not reporting.
    """

    policy: SensorPolicy
    registry: dict[str, tuple[str, str]] = field(default_factory=dict)
    sensors: dict[str, SensorState] = field(default_factory=dict)
    heartbeats: HeartbeatIndex = field(default_factory=HeartbeatIndex)
    readings: int = 0
    by_grid: dict[str, set[str]] = field(default_factory=dict)  # sensors with state
    installed: dict[str, set[str]] = field(default_factory=dict)  # registry, per grid

    def __post_init__(self) -> None:
        for sensor_id, (grid_id, _kind) in self.registry.items():
            self.installed.setdefault(grid_id, set()).add(sensor_id)

    def set_policy(self, policy: SensorPolicy) -> None:
        """Apply a new policy: new timeouts at once, new bands from the next reading."""
        self.policy = policy
        for kind in policy.kinds:
            self.heartbeats.set_timeout(kind, policy.heartbeat_ms(kind))

    def update(self, batch: SensorBatch, silent: bool = False) -> list[Signal]:
        """Process every reading of ``batch`` in order; return the condition changes.

        ``silent``: a replay — the state follows the readings, heartbeats are left to
        :meth:`restored`, nothing is returned.
        """
        signals: list[Signal] = []
        kinds = self.policy.kinds
        anomaly = self.policy.anomaly
        grid_id = batch.grid_id
        for r in batch.readings:
            state = self.sensors.get(r.sensor_id)
            if state is None:
                state = self.sensors[r.sensor_id] = SensorState(
                    r.kind, grid_id, RollingWindow(anomaly.window))
                self.by_grid.setdefault(grid_id, set()).add(r.sensor_id)
            kind = kinds[r.kind]
            if not silent and self.heartbeats.seen(r.sensor_id, grid_id, r.kind, r.ts,
                                                   int(kind.heartbeat_s * 1000)):
                signals.append(self._signal("sensor_dead", state.kind, grid_id, r.sensor_id,
                                            r.ts, "info", "reporting again", raised=False))
            level = kind.level(r.value)
            state.last_value, state.last_ts = r.value, max(state.last_ts, r.ts)
            if level != state.level:
                state.level = level
                signals.append(self._signal(
                    "sensor_threshold", state.kind, grid_id, r.sensor_id, r.ts,
                    "info" if level == "ok" else level,
                    f"{'back to normal' if level == 'ok' else 'beyond threshold'}: "
                    f"{r.value:g} {kind.unit}".strip(), raised=level != "ok"))
            window = state.window
            if len(window) >= anomaly.min_samples:
                z = window.zscore(r.value)
                size = abs(z) if z is not None else 0.0
                if not state.anomalous and size >= anomaly.z_raise:
                    state.anomalous = True
                    signals.append(self._signal("sensor_anomaly", state.kind, grid_id,
                                                r.sensor_id, r.ts, "warning",
                                                f"anomaly: z={z:+.1f}"))
                elif state.anomalous and size < anomaly.z_clear:
                    state.anomalous = False
                    signals.append(self._signal("sensor_anomaly", state.kind, grid_id,
                                                r.sensor_id, r.ts, "info", "back to normal",
                                                raised=False))
            window.add(r.value)
        self.readings += len(batch.readings)
        return [] if silent else signals

    def due(self, now_ms: int) -> list[Signal]:
        """Dead-sensor alerts for sensors silent past their timeout at ``now_ms``."""
        out = []
        for beat in self.heartbeats.due(now_ms):
            silent_s = (now_ms - beat.last_seen_ms) / 1000
            out.append(self._signal("sensor_dead", beat.kind, beat.grid_id, beat.sensor_id,
                                    beat.deadline_ms, "warning", f"silent for {silent_s:.0f} s"))
        return out

    def drop_grids(self, grid_ids: Iterable[str]) -> None:
        """Forget the sensors of ``grid_ids``: state, rolling windows, heartbeats."""
        for grid_id in grid_ids:
            ids = self.by_grid.pop(grid_id, set()) | self.installed.get(grid_id, set())
            for sensor_id in ids:
                self.sensors.pop(sensor_id, None)
            self.heartbeats.forget(ids)

    def restored(self, grid_ids: Iterable[str], now_ms: int) -> list[Signal]:
        """Arm the heartbeats of replayed ``grid_ids``; return the clears of inactive
        conditions of their replayed sensors (see the module docstring)."""
        clears: list[Signal] = []
        for grid_id in sorted(set(grid_ids)):
            replayed = self.by_grid.get(grid_id, set())
            for sensor_id in sorted(replayed):
                state = self.sensors[sensor_id]
                timeout = self.policy.heartbeat_ms(state.kind)
                beat = self.heartbeats.watch(sensor_id, grid_id, state.kind, state.last_ts,
                                             timeout, unconfirmed=True)
                if beat.deadline_ms > now_ms:
                    beat.unconfirmed = False
                    clears.append(self._signal("sensor_dead", state.kind, grid_id,
                                               sensor_id, now_ms, "info", "reporting",
                                               raised=False))
                if state.level == "ok":
                    clears.append(self._signal("sensor_threshold", state.kind, grid_id,
                                               sensor_id, now_ms, "info", "ok",
                                               raised=False))
                if not state.anomalous:
                    clears.append(self._signal("sensor_anomaly", state.kind, grid_id,
                                               sensor_id, now_ms, "info", "normal",
                                               raised=False))
            for sensor_id in sorted(self.installed.get(grid_id, set()) - replayed):
                kind = self.registry[sensor_id][1]
                if kind in self.policy.kinds:
                    self.heartbeats.watch(sensor_id, grid_id, kind, now_ms,
                                          self.policy.heartbeat_ms(kind), unconfirmed=True)
        return clears

    def health(self, grid_ids: Iterable[str] | None = None) -> dict[str, GridHealth]:
        """Sensor health per grid (all grids with known or seen sensors, or ``grid_ids``).

        Cost: the sensors of the grids asked for, not every sensor.
        """
        wanted = (set(self.installed) | set(self.by_grid)) if grid_ids is None else set(
            grid_ids)
        out: dict[str, GridHealth] = {}
        for grid_id in wanted:
            ids = self.installed.get(grid_id, set()) | self.by_grid.get(grid_id, set())
            if not ids:
                continue
            health = out[grid_id] = GridHealth(known=len(ids))
            for sensor_id in ids:
                state = self.sensors.get(sensor_id)
                if state is None:
                    continue
                beat = self.heartbeats.sensors.get(sensor_id)
                if beat is not None and beat.dead:
                    health.dead += 1
                    continue
                health.reporting += 1
                health.warning += state.level == "warning"
                health.critical += state.level == "critical"
                health.anomalous += state.anomalous
        return out

    def _signal(self, kind: str, sensor_kind: str, grid_id: str, sensor_id: str, ts: int,
                severity: str, what: str, raised: bool = True) -> Signal:
        return Signal(fingerprint=fingerprint(kind, sensor_id), grid_id=grid_id,
                      kind=kind, category=alert_category(sensor_kind),
                      severity=severity, title=f"{sensor_kind} sensor {sensor_id} {what}",
                      ts=ts, raised=raised, sensor_id=sensor_id)
