"""Windows, statistics and the coalescer, on hand-computed data."""

from __future__ import annotations

import pytest

from streams.metrics.coalesce import Coalescer
from streams.metrics.stats import mean, percentile, ratio
from streams.metrics.windows import HOUR, MINUTE, QUARTER_HOUR, Hopping, Tumbling


def test_tumbling_minute_is_aligned_and_half_open() -> None:
    assert MINUTE.start(0) == 0
    assert MINUTE.start(59_999) == 0
    assert MINUTE.start(60_000) == 60_000
    assert MINUTE.end(61_234) == 120_000
    assert Tumbling(1_000).start(12_345) == 12_000


def test_hopping_windows_containing_a_timestamp() -> None:
    view = Hopping(size_ms=3 * 60_000, step_ms=60_000)
    # 2.5 min lies in the windows starting at 0, 1 and 2 minutes
    assert view.starts(150_000) == [0, 60_000, 120_000]
    assert view.current(150_000) == 0
    assert list(view.buckets(0)) == [0, 60_000, 120_000]
    assert len(QUARTER_HOUR.starts(10 * 3_600_000)) == 15
    assert len(HOUR.buckets(HOUR.current(10 * 3_600_000 + 5))) == 60


@pytest.mark.parametrize(("size", "step"), [(0, 1), (10, 3), (10, 0), (-60, 60)])
def test_hopping_rejects_bad_sizes(size: int, step: int) -> None:
    with pytest.raises(ValueError):
        Hopping(size, step)


def test_mean_percentile_ratio() -> None:
    values = [15, 20, 35, 40, 50]
    assert mean(values) == 32
    # nearest rank: p40 -> ceil(0.4*5)=2nd value; p90 -> ceil(4.5)=5th; p100 -> max
    assert percentile(values, 40) == 20
    assert percentile(values, 90) == 50
    assert percentile(list(range(1, 11)), 90) == 9
    assert percentile(values, 100) == 50
    assert mean([]) is None and percentile([], 90) is None
    assert ratio(3, 4) == 0.75 and ratio(0, 0) is None


def test_coalescer_sends_at_most_once_per_interval_and_never_forgets() -> None:
    c: Coalescer[str] = Coalescer(1_000)
    c.touch(["a", "b"])
    assert sorted(c.due(10_000)) == ["a", "b"]
    c.touch(["a"])
    c.touch(["a"])
    assert c.due(10_500) == []  # within the interval: held back
    assert c.pending() == 1
    assert c.due(11_000) == ["a"]  # once, with the latest state read by the caller
    assert c.due(20_000) == []  # nothing changed
