"""The street stage's incremental views equal a full recompute, over random partials.

:class:`ViewRollup` (community and street grid metrics) and :class:`HealthSums` (sensor
health) are fed random sequences of grid states and sensor partials — grids replaced again
and again, buckets that grow, shrink or change entirely, minutes evicted, open cases with and
without a clock, grids outside the geography — and after every step each community's and the
street's figures must equal what :meth:`MetricsBook.snapshot` and :func:`merged_health`
compute from the latest states held.
"""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.metrics.book import STREET_KEY, GridState, MetricsBook
from streams.metrics.buckets import Bucket
from streams.metrics.rollup import ViewRollup
from streams.partials import HealthSums, SensorPartial, merged_health
from streams.sensors.detector import GridHealth

MINUTE_MS = 60_000
BASE = 1_700_000_000_000 - 1_700_000_000_000 % MINUTE_MS
COMMUNITY_OF = {"g1": "c1", "g2": "c1", "g3": "c2", "g4": "c2", "g5": "c3"}
GRIDS = [*COMMUNITY_OF, "stray"]  # "stray": not in the geography (street level only)
STEPS = ("verify", "dispatch", "handle")

durations = st.lists(st.integers(0, 5_000), max_size=6)
buckets = st.builds(
    Bucket, reported=st.integers(0, 4), closed=st.integers(0, 4),
    completed=st.integers(0, 4), on_time=st.integers(0, 4),
    handling_ms=st.dictionaries(st.sampled_from(STEPS), durations.filter(bool), max_size=3),
    open_end=st.integers(0, 3), overdue_end=st.integers(0, 3))
states = st.builds(
    GridState,
    minutes=st.dictionaries(st.integers(-70, 3).map(lambda m: BASE + m * MINUTE_MS), buckets,
                            max_size=6),
    open=st.dictionaries(st.sampled_from([f"k{i}" for i in range(8)]),
                         st.sampled_from([0, BASE - 1, BASE, BASE + 30_000, BASE + 90_000]),
                         max_size=5))
health = st.builds(GridHealth, known=st.integers(0, 9), reporting=st.integers(0, 9),
                   dead=st.integers(0, 3), warning=st.integers(0, 3),
                   critical=st.integers(0, 3), anomalous=st.integers(0, 3))
nows = st.integers(-2, 2).map(lambda m: BASE + m * MINUTE_MS + 30_000)


def scopes() -> list[tuple[str, str]]:
    return [("street", STREET_KEY), *(("community", c) for c in sorted(set(COMMUNITY_OF.values())))]


def copy(state: GridState) -> GridState:
    """What the stage gets: a decoded partial, never an object the sender keeps changing."""
    return msgspec.json.decode(msgspec.json.encode(state), type=GridState)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(GRIDS), states), min_size=1, max_size=14), nows)
def test_rolled_up_views_equal_a_full_recompute(puts: list[tuple[str, GridState]],
                                                now: int) -> None:
    rollup = ViewRollup(COMMUNITY_OF)
    book = MetricsBook(COMMUNITY_OF)
    for grid_id, state in puts:
        rollup.put(grid_id, copy(state))
        book.put_state(grid_id, copy(state))
        for level, key in scopes():
            assert rollup.snapshot(level, key, now) == book.snapshot(level, key, now)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(GRIDS), states), min_size=1, max_size=8),
       st.lists(nows, min_size=2, max_size=5))
def test_cached_windows_follow_time_and_changes(puts: list[tuple[str, GridState]],
                                                times: list[int]) -> None:
    """Snapshots at several times, between and after changes, each equal a recompute."""
    rollup = ViewRollup(COMMUNITY_OF)
    book = MetricsBook(COMMUNITY_OF)
    for grid_id, state in puts:
        for now in times:
            for level, key in scopes():
                assert rollup.snapshot(level, key, now) == book.snapshot(level, key, now)
        rollup.put(grid_id, copy(state))
        book.put_state(grid_id, copy(state))
    for now in times:
        for level, key in scopes():
            assert rollup.snapshot(level, key, now) == book.snapshot(level, key, now)


def test_a_growing_bucket_and_a_cleared_grid() -> None:
    """The common case (a bucket only grows) and a grid emptied: nothing is left behind."""
    rollup = ViewRollup(COMMUNITY_OF)
    grown = GridState(minutes={BASE: Bucket(reported=1, handling_ms={"verify": [5, 1]})},
                      open={"a": BASE + 1})
    rollup.put("g1", copy(grown))
    grown.minutes[BASE].handling_ms["verify"].append(3)
    grown.minutes[BASE].reported += 1
    rollup.put("g1", copy(grown))
    view = rollup.snapshot("community", "c1", BASE + 1)
    assert view["minute"]["reported"] == 2 and view["overdue"] == 1
    assert view["minute"]["handling"]["verify"] == {"n": 3, "mean_s": 0.003, "p90_s": 0.005}
    rollup.put("g1", GridState())
    assert rollup.scopes[("community", "c1")].minutes == {}
    assert rollup.scopes[("street", STREET_KEY)].deadlines == []
    assert rollup.snapshot("street", STREET_KEY, BASE)["open_backlog"] == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(GRIDS), health), min_size=1, max_size=14))
def test_summed_health_equals_a_full_merge(puts: list[tuple[str, GridHealth]]) -> None:
    sums = HealthSums(COMMUNITY_OF)
    latest: dict[str, SensorPartial] = {}
    members = {c: [g for g, cc in COMMUNITY_OF.items() if cc == c] for c in COMMUNITY_OF.values()}
    for grid_id, figures in puts:
        partial = SensorPartial(grid_id=grid_id, health=figures)
        sums.put(partial)
        latest[grid_id] = partial
        for level, key in scopes():
            grids = list(COMMUNITY_OF) if level == "street" else members[key]
            expected = merged_health([latest[g] for g in grids if g in latest])
            assert sums.merged(level, key) == expected
