"""Coalescing of wall updates: at most one update per key per time slot, always the latest.

:meth:`Coalescer.touch` marks a key changed; :meth:`Coalescer.due` returns the changed keys
not yet returned in the current slot of that key and records the slot. A key's slots are
``interval_ms`` long, aligned to the epoch shifted by a phase of the key's own (a CRC of its
``repr``, the same in every process and run), so keys touched together are spread over the
interval instead of all falling due at once.

Guarantees: a key is returned at most once per slot, so at most
``ceil(duration / interval_ms) + 1`` times in any duration; a key touched is returned by the
first ``due`` call in a slot after the one it was last returned in (so within
``interval_ms`` of its touch, plus the caller's tick); the caller reads the key's state when
it sends, so what is sent is the latest.

Why slots and not "``interval_ms`` since the last send": with input arriving once per
interval (a sensor hub pushing every 0.5 s against a 0.5 s coalescing), the tick and
processing delays of each send pushed the next one later, until every update waited almost
a whole interval (measured: sensor health partials 430 ms after their input, p50). In a
fixed slot a key that is touched once per interval is sent at the first tick after its
touch; only a second touch within the same slot waits, and then at most until that slot ends.
"""

from __future__ import annotations

import zlib
from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class Coalescer(Generic[K]):
    """Rate-limits updates per key; see the module docstring."""

    def __init__(self, interval_ms: int = 1_000) -> None:
        if interval_ms < 0:
            raise ValueError("interval_ms must not be negative")
        self.interval_ms = interval_ms
        self._last: dict[K, int] = {}  # key -> slot it was last returned in
        self._dirty: set[K] = set()
        self._phase: dict[K, int] = {}

    def touch(self, keys: Iterable[K]) -> None:
        """Mark ``keys`` as changed."""
        self._dirty.update(keys)

    def pending(self) -> int:
        """How many keys wait to be sent."""
        return len(self._dirty)

    def slot(self, key: K, now_ms: int) -> int:
        """The number of ``key``'s slot that contains ``now_ms`` (0 interval: ``now_ms``)."""
        if not self.interval_ms:
            return now_ms
        phase = self._phase.get(key)
        if phase is None:
            phase = self._phase[key] = zlib.crc32(repr(key).encode()) % self.interval_ms
        return (now_ms + phase) // self.interval_ms

    def due(self, now_ms: int) -> list[K]:
        """Changed keys that may be sent at ``now_ms``; they are marked sent."""
        if not self.interval_ms:
            ready = list(self._dirty)
            self._dirty.clear()
            return ready
        ready = []
        for key in self._dirty:
            slot = self.slot(key, now_ms)
            if slot > self._last.get(key, slot - 1):
                ready.append(key)
                self._last[key] = slot
        self._dirty.difference_update(ready)
        return ready
