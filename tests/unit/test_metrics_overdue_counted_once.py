"""A batch of facts counted at once gives every grid minute the overdue of fact-by-fact
counting: each minute's overdue is counted once per run of its grid's facts, not per fact,
by bisection of the grid's sorted deadlines."""

from __future__ import annotations

import random

import msgspec

from streams.metrics.book import GridState, MetricsBook
from streams.metrics.facts import StepFact

T0 = 1_800_000_000_000 - 1_800_000_000_000 % 3_600_000
MIN = 60_000
COMMUNITY = {"G1": "C1", "G2": "C1", "G3": "C2"}


def facts(seed: int, n: int) -> list[StepFact]:
    """Cases opened and closed in three grids, minutes interleaved and sometimes late,
    deadlines before, inside and after their minute."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        ts = T0 + rng.randrange(0, 6 * MIN) + (-150 * MIN if rng.random() < 0.02 else 0)
        opening = rng.random() < 0.6
        out.append(StepFact(
            case_id=f"c{rng.randrange(n // 3)}", grid_id=rng.choice(list(COMMUNITY)), ts=ts,
            action="report" if opening else "close", from_step="" if opening else "handled",
            to_step="reported" if opening else "closed", entered_ms=ts, left_deadline_ms=0,
            deadline_ms=ts + rng.randrange(-2 * MIN, 3 * MIN) if opening else 0,
            category="noise", priority="normal", tier=1, on_spot=False))
    return out


def states(book: MetricsBook) -> dict[str, bytes]:
    return {g: msgspec.json.encode(s) for g, s in sorted(book.grids.items())}


def counted_per_fact(batch: list[StepFact], retention_ms: int) -> dict[str, bytes]:
    """The reference: GridState.add counting the overdue (a pass over the open cases)
    after every fact, evicting after every fact as MetricsBook.update does."""
    grids: dict[str, GridState] = {}
    for fact in batch:
        state = grids.setdefault(fact.grid_id, GridState())
        if state.add(fact, retention_ms):
            state.evict(retention_ms)
    return {g: msgspec.json.encode(s) for g, s in sorted(grids.items())}


def test_a_batch_counts_what_fact_by_fact_counting_counts() -> None:
    for seed in range(20):
        batch = facts(seed, 600)
        one_by_one, at_once = MetricsBook(COMMUNITY), MetricsBook(COMMUNITY)
        for start in range(0, len(batch), 50):  # batches in a row: deadlines kept between
            one_by_one.update(batch[start:start + 50])
        changed = at_once.update(batch)
        assert changed == set(one_by_one.grids)
        assert states(at_once) == states(one_by_one)
        assert states(at_once) == counted_per_fact(batch, at_once.retention_ms)
        assert at_once.late == one_by_one.late > 0
        assert at_once.minute_rows(T0) == one_by_one.minute_rows(T0)
        assert any(b.overdue_end for s in at_once.grids.values() for b in s.minutes.values())


def test_a_rebuild_counts_what_fact_by_fact_counting_counts() -> None:
    batch = facts(7, 900)
    rebuilt = MetricsBook(COMMUNITY)
    rebuilt.rebuild([[f] for f in batch])
    reference: dict[str, GridState] = {}
    for fact in sorted(batch, key=lambda f: (f.ts, f.case_id)):
        reference.setdefault(fact.grid_id, GridState()).add(fact, rebuilt.retention_ms)
    for state in reference.values():
        state.evict(rebuilt.retention_ms)
    assert states(rebuilt) == {g: msgspec.json.encode(s) for g, s in sorted(reference.items())}
