"""Coalescing of wall updates: at most one update per key per interval, always the latest.

:meth:`Coalescer.touch` marks a key changed; :meth:`Coalescer.due` returns the changed keys
whose last update is at least ``interval_ms`` old and records ``now_ms`` as their last
update. Guarantees: a key is returned at most once per ``interval_ms``; a key touched is
returned eventually (by the first ``due`` call at or after its last update + interval); the
caller reads the key's state when it sends, so what is sent is the latest.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class Coalescer(Generic[K]):
    """Rate-limits updates per key; see the module docstring."""

    def __init__(self, interval_ms: int = 1_000) -> None:
        if interval_ms < 0:
            raise ValueError("interval_ms must not be negative")
        self.interval_ms = interval_ms
        self._last: dict[K, int] = {}
        self._dirty: set[K] = set()

    def touch(self, keys: Iterable[K]) -> None:
        """Mark ``keys`` as changed."""
        self._dirty.update(keys)

    def pending(self) -> int:
        """How many keys wait to be sent."""
        return len(self._dirty)

    def due(self, now_ms: int) -> list[K]:
        """Changed keys that may be sent at ``now_ms``; they are marked sent."""
        ready = [k for k in self._dirty
                 if now_ms - self._last.get(k, -self.interval_ms) >= self.interval_ms]
        for key in ready:
            self._dirty.discard(key)
            self._last[key] = now_ms
        return ready
