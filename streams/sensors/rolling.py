"""A rolling window of the last N values with O(1) mean, standard deviation and z-score.

Guarantees: the window holds at most ``size`` values (the oldest leaves first);
:meth:`RollingWindow.zscore` compares a value with the window *before* it is added (a spike
does not dilute its own baseline); the standard deviation is the population one; sums are
recomputed from the values every ``size`` additions so rounding drift stays bounded.
"""

from __future__ import annotations

import math
from collections import deque


class RollingWindow:
    """The last ``size`` values of one series."""

    __slots__ = ("size", "values", "_sum", "_sumsq", "_since_exact")

    def __init__(self, size: int) -> None:
        if size < 2:
            raise ValueError("size must be at least 2")
        self.size = size
        self.values: deque[float] = deque()
        self._sum = 0.0
        self._sumsq = 0.0
        self._since_exact = 0

    def __len__(self) -> int:
        return len(self.values)

    def add(self, value: float) -> None:
        """Append ``value``; drop the oldest value when full."""
        self.values.append(value)
        self._sum += value
        self._sumsq += value * value
        if len(self.values) > self.size:
            old = self.values.popleft()
            self._sum -= old
            self._sumsq -= old * old
        self._since_exact += 1
        if self._since_exact >= self.size:
            self._sum = math.fsum(self.values)
            self._sumsq = math.fsum(v * v for v in self.values)
            self._since_exact = 0

    def mean(self) -> float | None:
        """Mean of the window, None if empty."""
        return self._sum / len(self.values) if self.values else None

    def std(self) -> float | None:
        """Population standard deviation, None if empty."""
        n = len(self.values)
        if not n:
            return None
        mean = self._sum / n
        return math.sqrt(max(0.0, self._sumsq / n - mean * mean))

    def zscore(self, value: float) -> float | None:
        """How many standard deviations ``value`` lies from the window's mean.

        None when the window is empty or flat (no spread to measure against).
        """
        std = self.std()
        if std is None or std < 1e-9:
            return None
        return (value - self._sum / len(self.values)) / std
