"""Scoring periods: the day, week and month a fact counts in, in the street's local time.

Guarantees: :func:`period_start` is the start (epoch ms) of the one period of ``kind`` that
contains ``ts_ms``, with boundaries at local midnight (``utc_offset_h`` hours east of UTC),
weeks starting on Monday and months on the 1st; the period before a start is
``period_start(kind, start - 1)``. Pure and deterministic: every worker puts a fact in the
same period.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache

from domain.scoring_policy import PERIOD_KINDS

HOUR_MS = 3_600_000


def period_start(kind: str, ts_ms: int, utc_offset_h: int) -> int:
    """Start of the ``kind`` period containing ``ts_ms`` (see the module docstring).

    Every boundary is a local midnight a whole number of hours from UTC, so the hour of
    ``ts_ms`` decides its period (computed once per kind, hour and offset: a case batch
    asks for every fact)."""
    return _period_of_hour(kind, ts_ms - ts_ms % HOUR_MS, utc_offset_h)


@lru_cache(maxsize=4_096)
def _period_of_hour(kind: str, ts_ms: int, utc_offset_h: int) -> int:
    tz = timezone(timedelta(hours=utc_offset_h))
    local = datetime.fromtimestamp(ts_ms / 1000, tz)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == "day":
        start = day
    elif kind == "week":
        start = day - timedelta(days=day.weekday())
    elif kind == "month":
        start = day.replace(day=1)
    else:
        raise ValueError(f"unknown period {kind!r} (known: {', '.join(PERIOD_KINDS)})")
    return int(start.astimezone(UTC).timestamp() * 1000)


def period_key(kind: str, start_ms: int) -> str:
    """The key of one period: ``<kind>:<start ms>``."""
    return f"{kind}:{start_ms}"


def previous_start(kind: str, start_ms: int, utc_offset_h: int) -> int:
    """Start of the period before the one starting at ``start_ms``."""
    return period_start(kind, start_ms - 1, utc_offset_h)
