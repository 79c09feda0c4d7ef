"""Dead-sensor detection as a deadline index driven by a clock (like the SLA timers).

Every watched sensor has one deadline: its last reading time plus its kind's heartbeat
timeout. :meth:`HeartbeatIndex.due` returns the sensors whose deadline is at or before
``now_ms`` and marks them dead; :meth:`HeartbeatIndex.seen` records a reading and reports
whether the sensor came back — from dead, or *unconfirmed* (watched from an assignment
without a reading of its own: the previous owner may have left a dead alert open).
:meth:`HeartbeatIndex.watch` starts watching a sensor from a given time (a restored
partition), :meth:`HeartbeatIndex.forget` stops watching (a revoked partition).

Guarantees: a sensor is reported dead once per silence (not again until it is seen and falls
silent again); a forgotten sensor is never reported; cost is O(log n) per deadline that
actually expires, O(1) per reading (deadlines only move forward, so the heap keeps one live
entry per sensor and a popped entry whose sensor was seen since is pushed back at its new
deadline; entries of forgotten sensors are dropped when they come up). No tick scans every
sensor.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass
class Heartbeat:
    """One sensor's liveness: where it is, when it was last seen, its timeout."""

    sensor_id: str
    grid_id: str
    kind: str
    last_seen_ms: int
    timeout_ms: int
    dead: bool = False
    unconfirmed: bool = False

    @property
    def deadline_ms(self) -> int:
        """When the sensor is declared dead if it stays silent."""
        return self.last_seen_ms + self.timeout_ms


class HeartbeatIndex:
    """Deadlines of every sensor seen; see the module docstring."""

    def __init__(self) -> None:
        self.sensors: dict[str, Heartbeat] = {}
        self._heap: list[tuple[int, str]] = []

    def __len__(self) -> int:
        return len(self.sensors)

    def seen(self, sensor_id: str, grid_id: str, kind: str, ts_ms: int, timeout_ms: int
             ) -> bool:
        """Record a reading at ``ts_ms``; True if the sensor was dead or unconfirmed."""
        beat = self.sensors.get(sensor_id)
        if beat is None:
            self.watch(sensor_id, grid_id, kind, ts_ms, timeout_ms)
            return False
        beat.grid_id, beat.timeout_ms = grid_id, timeout_ms
        beat.last_seen_ms = max(beat.last_seen_ms, ts_ms)
        back = beat.dead or beat.unconfirmed
        beat.unconfirmed = False
        if beat.dead:
            beat.dead = False
            heapq.heappush(self._heap, (beat.deadline_ms, sensor_id))
        return back

    def watch(self, sensor_id: str, grid_id: str, kind: str, last_seen_ms: int,
              timeout_ms: int, unconfirmed: bool = False) -> Heartbeat:
        """Watch ``sensor_id`` as last seen at ``last_seen_ms`` (replacing what was held)."""
        beat = self.sensors[sensor_id] = Heartbeat(sensor_id, grid_id, kind, last_seen_ms,
                                                   timeout_ms, unconfirmed=unconfirmed)
        heapq.heappush(self._heap, (beat.deadline_ms, sensor_id))
        return beat

    def forget(self, sensor_ids: Iterable[str]) -> None:
        """Stop watching ``sensor_ids``; they are never reported afterwards."""
        for sensor_id in sensor_ids:
            self.sensors.pop(sensor_id, None)

    def set_timeout(self, kind: str, timeout_ms: int) -> None:
        """Change the timeout of every sensor of ``kind`` (a policy change)."""
        for beat in self.sensors.values():
            if beat.kind == kind and beat.timeout_ms != timeout_ms:
                beat.timeout_ms = timeout_ms
                if not beat.dead:
                    heapq.heappush(self._heap, (beat.deadline_ms, beat.sensor_id))

    def next_deadline(self) -> int | None:
        """The earliest deadline in the heap (possibly stale), None if none."""
        return self._heap[0][0] if self._heap else None

    def due(self, now_ms: int) -> list[Heartbeat]:
        """Sensors that went silent past their deadline at ``now_ms``; marked dead."""
        dead: list[Heartbeat] = []
        while self._heap and self._heap[0][0] <= now_ms:
            deadline, sensor_id = heapq.heappop(self._heap)
            beat = self.sensors.get(sensor_id)
            if beat is None:
                continue  # forgotten
            if beat.dead or deadline != beat.deadline_ms:
                if not beat.dead and beat.deadline_ms > deadline:
                    heapq.heappush(self._heap, (beat.deadline_ms, sensor_id))
                continue
            beat.dead = True
            dead.append(beat)
        return dead
