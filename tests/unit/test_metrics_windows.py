"""Windows, statistics and the coalescer, on hand-computed data."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_coalescer_sends_at_most_once_per_slot_and_never_forgets() -> None:
    c: Coalescer[str] = Coalescer(1_000)
    c.touch(["a", "b"])
    assert sorted(c.due(10_000)) == ["a", "b"]
    start = next(t for t in range(10_000, 8_999, -1)
                 if c.slot("a", t - 1) < c.slot("a", 10_000))  # where a's slot began
    c.touch(["a"])
    c.touch(["a"])
    assert c.due(start + 999) == []  # same slot: held back
    assert c.pending() == 1
    assert c.due(start + 1_000) == ["a"]  # next slot: once, the caller reads the latest
    assert c.due(start + 1_500) == []  # nothing changed
    c.touch(["b"])
    assert c.due(start + 1_600) in ([], ["b"])  # b's own slot decides


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 2_000), st.lists(st.tuples(st.integers(0, 3_000), st.booleans()),
                                       min_size=1, max_size=60))
def test_coalescer_rate_and_delay_over_random_calls(interval: int,
                                                    steps: list[tuple[int, bool]]) -> None:
    """Over random touches and ticks: never two sends of a key in one slot (so at most
    ceil(d / interval) + 1 in any d ms), and a touched key is sent by the first tick in a
    later slot than its last send."""
    c: Coalescer[str] = Coalescer(interval)
    now, sent, touched_since_send = 0, [], False
    for gap, touch in steps:
        now += gap
        if touch:
            c.touch(["k"])
            touched_since_send = True
        due = c.due(now)
        slot = c.slot("k", now)
        if touched_since_send and (not sent or slot > sent[-1][1]):
            assert due == ["k"]  # never forgotten, never held past its slot
        if due:
            assert not sent or slot > sent[-1][1]
            sent.append((now, slot))
            touched_since_send = False
    for (t1, _), (t2, _) in zip(sent, sent[2:], strict=False):
        assert t2 - t1 > interval  # three sends never fit in one interval


def test_input_once_per_interval_is_sent_at_the_next_tick() -> None:
    """The drift that made sensor health wait ~0.43 s: input every 500 ms reaching the job
    20-80 ms later, a 500 ms coalescing, a timer of 0.1 s that runs a little late each time
    (as asyncio timers do). Each input must go out within about a tick or two after it
    arrives, whatever the key's phase, not drift towards a whole interval late."""
    import random

    for key in (f"grid-{n}" for n in range(40)):  # 40 keys: phases spread over the interval
        rng = random.Random(7)
        c: Coalescer[str] = Coalescer(500)
        arrivals = [500 * n + rng.randrange(20, 80) for n in range(1, 400)]
        delays, pending_since, now = [], None, 0
        while arrivals:
            now += 100 + rng.randrange(0, 15)
            while arrivals and arrivals[0] <= now:
                c.touch([key])
                arrived = arrivals.pop(0)
                pending_since = arrived if pending_since is None else pending_since
            if c.due(now) and pending_since is not None:
                delays.append(now - pending_since)
                pending_since = None
        delays.sort()
        assert delays[len(delays) // 2] <= 200, (key, delays[len(delays) // 2])
        assert delays[int(len(delays) * 0.99)] <= 600, key


def test_a_keys_phase_is_the_same_in_every_process() -> None:
    """Slots do not depend on Python's per-process string hashing."""
    import subprocess
    import sys

    code = ("from streams.metrics.coalesce import Coalescer; "
            "print(Coalescer(500).slot(('cases', 'g-17'), 1_000_123))")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={"PYTHONHASHSEED": seed}).stdout
            for seed in ("1", "2", "3")}
    assert len(outs) == 1, outs
