"""Small statistics: exact mean and nearest-rank percentiles over plain lists.

Guarantees: :func:`percentile` uses the nearest-rank definition (the smallest value such
that at least ``q`` percent of the values are at or below it), so it always returns one of
the values; both functions return None for no values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def mean(values: Sequence[float]) -> float | None:
    """Arithmetic mean, None if empty."""
    return sum(values) / len(values) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank ``q``-th percentile (0 < q <= 100), None if empty."""
    if not 0 < q <= 100:
        raise ValueError("q must be in (0, 100]")
    if not values:
        return None
    return percentile_sorted(sorted(values), q)


def percentile_sorted(ordered: Sequence[float], q: float) -> float | None:
    """:func:`percentile` of values already in ascending order (not checked)."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def ratio(part: int, whole: int) -> float | None:
    """``part / whole``, None when ``whole`` is 0 (no data is not 0%)."""
    return part / whole if whole else None
