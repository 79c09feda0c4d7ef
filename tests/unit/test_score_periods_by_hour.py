"""period_start, computed once per hour, equals the period computed from the instant itself
(boundaries at local midnight, weeks from Monday, months from the 1st), every offset."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from streams.scores.periods import period_start


def from_the_instant(kind: str, ts_ms: int, utc_offset_h: int) -> int:
    local = datetime.fromtimestamp(ts_ms / 1000, timezone(timedelta(hours=utc_offset_h)))
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    start = {"day": day, "week": day - timedelta(days=day.weekday()),
             "month": day.replace(day=1)}[kind]
    return int(start.astimezone(UTC).timestamp() * 1000)


def test_the_hour_decides_the_period() -> None:
    rng = random.Random(12)
    for _ in range(20_000):
        ts, kind, offset = (rng.randrange(0, 4_000_000_000_000),
                            rng.choice(["day", "week", "month"]), rng.randrange(-12, 15))
        assert period_start(kind, ts, offset) == from_the_instant(kind, ts, offset)
    midnight = 1_800_000_000_000 - 1_800_000_000_000 % 86_400_000 - 8 * 3_600_000  # +8 h
    assert period_start("day", midnight - 1, 8) == midnight - 86_400_000
    assert period_start("day", midnight, 8) == midnight
