"""A grid partial on the topic: small for many open cases, the same figures after decoding.

A grid with 30,000 open cases once produced a partial over Kafka's 1 MB message limit and
crashed its worker on every start (refusal bench: every report into one grid). Open cases
now travel as their sorted deadlines' differences; the street stage's views from decoded
partials equal those from the owner's own states, also as cases open and close.
"""

from __future__ import annotations

import random

from streams.metrics.book import GridState
from streams.metrics.rollup import ViewRollup
from streams.partials import GridPartial, decode_partial, encode_partial, partial_key
from streams.scores.book import GridOutcomes

BASE = 1_764_500_000_000
KAFKA_DEFAULT_LIMIT = 1_048_588


def grid_with(open_cases: dict[str, int]) -> GridPartial:
    """A partial of grid G1 holding ``open_cases`` (case id -> deadline, 0: no clock)."""
    state = GridState(open=dict(open_cases), watermark_ms=BASE)
    return GridPartial(grid_id="G1", source_ms=BASE, state=state, outcomes=GridOutcomes())


def round_trip(partial: GridPartial) -> GridPartial:
    decoded = decode_partial(partial_key("G1").encode(), encode_partial(partial))
    assert isinstance(decoded, GridPartial)
    return decoded


def test_thirty_thousand_open_cases_stay_far_below_kafkas_message_limit() -> None:
    rng = random.Random(7)
    cases = {f"case-refusal-bench-{n:06d}": BASE + rng.randrange(30_000) for n in range(30_000)}
    raw = encode_partial(grid_with(cases))
    assert len(raw) < KAFKA_DEFAULT_LIMIT // 4
    decoded = round_trip(grid_with(cases))
    assert sorted(decoded.state.open.values()) == sorted(cases.values())


def test_views_from_decoded_partials_equal_the_owners_as_cases_open_and_close() -> None:
    rng = random.Random(11)
    open_cases: dict[str, int] = {}
    exact, wired = ViewRollup({"G1": "C1"}), ViewRollup({"G1": "C1"})
    for step in range(60):
        for n in range(rng.randrange(40)):  # new cases, some sharing a deadline, some 0
            open_cases[f"c{step}-{n}"] = rng.choice([0, BASE + rng.randrange(20) * 1000])
        for case_id in rng.sample(sorted(open_cases), k=min(len(open_cases), 15)):
            if rng.random() < 0.5:
                del open_cases[case_id]  # closed
            else:
                open_cases[case_id] = BASE + rng.randrange(40) * 500  # moved to a new step
        partial = grid_with(open_cases)
        exact.put("G1", partial.state)
        wired.put("G1", round_trip(partial).state)
        for at in (BASE - 1, BASE + 5_000, BASE + 19_999, BASE + 60_000):
            for level, key in (("community", "C1"), ("street", "street")):
                assert wired.snapshot(level, key, at) == exact.snapshot(level, key, at)
    assert exact.snapshot("street", "street", BASE + 60_000)["open_backlog"] > 0
