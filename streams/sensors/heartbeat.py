"""Dead-sensor detection as a deadline index driven by a clock (like the SLA timers).

Every sensor has one deadline: its last reading time plus its kind's heartbeat timeout.
:meth:`HeartbeatIndex.due` returns the sensors whose deadline is at or before ``now_ms`` and
marks them dead; :meth:`HeartbeatIndex.seen` records a reading and reports whether a dead
sensor came back. Guarantees: a sensor is reported dead once per silence (not again until it
is seen and falls silent again); cost is O(log n) per deadline that actually expires, O(1)
per reading (deadlines only move forward, so the heap keeps one entry per sensor and a
popped entry whose sensor was seen since is pushed back at its new deadline).
"""

from __future__ import annotations

import heapq
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
        """Record a reading at ``ts_ms``; True if the sensor was dead and is back."""
        beat = self.sensors.get(sensor_id)
        if beat is None:
            beat = self.sensors[sensor_id] = Heartbeat(sensor_id, grid_id, kind, ts_ms,
                                                       timeout_ms)
            heapq.heappush(self._heap, (beat.deadline_ms, sensor_id))
            return False
        beat.grid_id, beat.timeout_ms = grid_id, timeout_ms
        beat.last_seen_ms = max(beat.last_seen_ms, ts_ms)
        if beat.dead:
            beat.dead = False
            heapq.heappush(self._heap, (beat.deadline_ms, sensor_id))
            return True
        return False

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
            beat = self.sensors[sensor_id]
            if beat.dead or deadline != beat.deadline_ms:
                if not beat.dead and beat.deadline_ms > deadline:
                    heapq.heappush(self._heap, (beat.deadline_ms, sensor_id))
                continue
            beat.dead = True
            dead.append(beat)
        return dead
