"""Sensor alert detection over whole batches: thresholds, rolling z-score, heartbeat.

:meth:`SensorDetector.update` takes one :class:`~domain.schemas.SensorBatch` and returns
alert :class:`~domain.alerts.Signal` objects only where a sensor's condition *changed*:
a threshold level entered (raised, with the level as severity) or left (cleared), an
anomaly raised at ``|z| >= z_raise`` and cleared at ``|z| < z_clear`` (hysteresis), a dead
sensor reporting again (the dead-sensor alert cleared). :meth:`SensorDetector.due` is the
timer side: sensors silent past their heartbeat timeout raise a dead-sensor alert once.
Fingerprints are ``sensor_threshold:<id>``, ``sensor_anomaly:<id>``, ``sensor_dead:<id>``.
A reading of a kind the policy does not know cannot happen (the wire schema's closed
vocabulary); the policy must cover every kind.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from domain.alerts import Signal, fingerprint
from domain.schemas import SensorBatch
from streams.sensors.heartbeat import HeartbeatIndex
from streams.sensors.policy import SensorPolicy
from streams.sensors.rolling import RollingWindow

# The alert category of each sensor kind (the categories of domain.vocab).
KIND_CATEGORY = {"smoke": "fire_hazard", "gas": "fire_hazard", "water_level": "water_supply",
                 "manhole_cover": "road_facility", "noise": "noise",
                 "air_quality": "environment"}


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

    def set_policy(self, policy: SensorPolicy) -> None:
        """Apply a new policy: new timeouts at once, new bands from the next reading."""
        self.policy = policy
        for kind in policy.kinds:
            self.heartbeats.set_timeout(kind, policy.heartbeat_ms(kind))

    def update(self, batch: SensorBatch) -> list[Signal]:
        """Process every reading of ``batch`` in order; return the condition changes."""
        signals: list[Signal] = []
        kinds = self.policy.kinds
        anomaly = self.policy.anomaly
        grid_id = batch.grid_id
        for r in batch.readings:
            state = self.sensors.get(r.sensor_id)
            if state is None:
                state = self.sensors[r.sensor_id] = SensorState(
                    r.kind, grid_id, RollingWindow(anomaly.window))
            kind = kinds[r.kind]
            if self.heartbeats.seen(r.sensor_id, grid_id, r.kind, r.ts,
                                    int(kind.heartbeat_s * 1000)):
                signals.append(self._signal("sensor_dead", state, r.sensor_id, r.ts, "info",
                                            "reporting again", raised=False))
            level = kind.level(r.value)
            state.last_value, state.last_ts = r.value, max(state.last_ts, r.ts)
            if level != state.level:
                state.level = level
                signals.append(self._signal(
                    "sensor_threshold", state, r.sensor_id, r.ts,
                    "info" if level == "ok" else level,
                    f"{'back to normal' if level == 'ok' else 'beyond threshold'}: "
                    f"{r.value:g} {kind.unit}".strip(), raised=level != "ok"))
            window = state.window
            if len(window) >= anomaly.min_samples:
                z = window.zscore(r.value)
                size = abs(z) if z is not None else 0.0
                if not state.anomalous and size >= anomaly.z_raise:
                    state.anomalous = True
                    signals.append(self._signal("sensor_anomaly", state, r.sensor_id, r.ts,
                                                "warning", f"anomaly: z={z:+.1f}"))
                elif state.anomalous and size < anomaly.z_clear:
                    state.anomalous = False
                    signals.append(self._signal("sensor_anomaly", state, r.sensor_id, r.ts,
                                                "info", "back to normal", raised=False))
            window.add(r.value)
        self.readings += len(batch.readings)
        return signals

    def due(self, now_ms: int) -> list[Signal]:
        """Dead-sensor alerts for sensors silent past their timeout at ``now_ms``."""
        out = []
        for beat in self.heartbeats.due(now_ms):
            state = self.sensors[beat.sensor_id]
            silent_s = (now_ms - beat.last_seen_ms) / 1000
            out.append(self._signal("sensor_dead", state, beat.sensor_id, now_ms, "warning",
                                    f"silent for {silent_s:.0f} s"))
        return out

    def health(self, grid_ids: Iterable[str] | None = None) -> dict[str, GridHealth]:
        """Sensor health per grid (all grids with known or seen sensors, or ``grid_ids``)."""
        out: dict[str, GridHealth] = {}
        wanted = set(grid_ids) if grid_ids is not None else None
        ids = set(self.registry) | set(self.sensors)
        for sensor_id in ids:
            state = self.sensors.get(sensor_id)
            grid_id = state.grid_id if state else self.registry[sensor_id][0]
            if wanted is not None and grid_id not in wanted:
                continue
            health = out.setdefault(grid_id, GridHealth())
            health.known += 1
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

    def _signal(self, kind: str, state: SensorState, sensor_id: str, ts: int, severity: str,
                what: str, raised: bool = True) -> Signal:
        return Signal(fingerprint=fingerprint(kind, sensor_id), grid_id=state.grid_id,
                      kind=kind, category=KIND_CATEGORY.get(state.kind, "other"),
                      severity=severity, title=f"{state.kind} sensor {sensor_id} {what}",
                      ts=ts, raised=raised, sensor_id=sensor_id)
