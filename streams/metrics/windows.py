"""Time windows as small typed classes: 1-minute tumbling buckets and hopping views.

Guarantees: windows are aligned to the epoch (a window starts at a multiple of its step),
half-open ``[start, start + size)``, and every timestamp lies in exactly one tumbling window
and in exactly ``size // step`` hopping windows.
"""

from __future__ import annotations

from dataclasses import dataclass

MINUTE_MS = 60_000


@dataclass(frozen=True)
class Tumbling:
    """Back-to-back windows of ``size_ms``."""

    size_ms: int = MINUTE_MS

    def __post_init__(self) -> None:
        if self.size_ms <= 0:
            raise ValueError("size_ms must be positive")

    def start(self, ts_ms: int) -> int:
        """Start of the one window that contains ``ts_ms``."""
        return ts_ms - ts_ms % self.size_ms

    def end(self, ts_ms: int) -> int:
        """End (exclusive) of the window that contains ``ts_ms``."""
        return self.start(ts_ms) + self.size_ms


@dataclass(frozen=True)
class Hopping:
    """Windows of ``size_ms`` starting every ``step_ms`` (``size_ms`` a multiple of it).

    A hopping view is assembled from tumbling buckets of ``step_ms``: the window starting at
    ``s`` is the union of the buckets ``s, s + step, ..., s + size - step``.
    """

    size_ms: int
    step_ms: int = MINUTE_MS

    def __post_init__(self) -> None:
        if self.step_ms <= 0 or self.size_ms <= 0 or self.size_ms % self.step_ms:
            raise ValueError("size_ms must be a positive multiple of a positive step_ms")

    def starts(self, ts_ms: int) -> list[int]:
        """Starts of every window that contains ``ts_ms``, oldest first."""
        last = ts_ms - ts_ms % self.step_ms
        count = self.size_ms // self.step_ms
        return [last - i * self.step_ms for i in range(count - 1, -1, -1)]

    def current(self, now_ms: int) -> int:
        """Start of the newest window containing ``now_ms`` (the one that ends soonest after)."""
        return self.starts(now_ms)[0]

    def buckets(self, start_ms: int) -> range:
        """Starts of the ``step_ms`` buckets that make up the window starting at ``start_ms``."""
        return range(start_ms, start_ms + self.size_ms, self.step_ms)


MINUTE = Tumbling(MINUTE_MS)
QUARTER_HOUR = Hopping(15 * MINUTE_MS, MINUTE_MS)
HOUR = Hopping(60 * MINUTE_MS, MINUTE_MS)
