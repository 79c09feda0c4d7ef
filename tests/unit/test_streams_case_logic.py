"""streams.case_logic + streams.deadlines: the workflow, dedup, deadlines, tier escalation."""

from __future__ import annotations

import pytest

from domain.schemas import CaseEvent
from domain.sla import SlaPolicy
from streams.case_logic import (
    SLA_ACTOR,
    CaseRecord,
    breach_event,
    breach_fingerprint,
    deadline_ms,
    decode_record,
    encode_record,
    escalation_ms,
    process,
    sla_event_id,
)
from streams.deadlines import DeadlineIndex

POLICY = SlaPolicy.from_mapping({
    "defaults": {"reported": 60, "verified": 30, "dispatched": 600, "handled": 60,
                 "closed": 900},
    "priority_factor": {"high": 0.5},
})


def ev(action: str, ts: int, n: int = 0, case_id: str = "c1", **kw: object) -> CaseEvent:
    base: dict[str, object] = {"category": "noise", "grid_id": "G01"} if action in (
        "report", "resolve_on_spot") else {}
    base.update(kw)
    return CaseEvent(event_id=f"{case_id}.{n or action}", case_id=case_id, action=action,
                     ts=ts, source="grid_worker_app", **base)  # type: ignore[arg-type]


def applied(record: CaseRecord | None, event: CaseEvent, offset: int) -> CaseRecord:
    outcome = process(record, event, offset)
    assert outcome.record is not None, outcome
    return outcome.record


def test_the_six_steps_in_order_each_restarting_the_clock() -> None:
    rec = applied(None, ev("report", 1_000), 0)
    assert (rec.snapshot.step, rec.snapshot.tier, rec.version) == ("reported", 1, 1)
    assert deadline_ms(rec, POLICY) == 61_000
    for offset, (action, ts) in enumerate([("verify", 2_000), ("dispatch", 3_000),
                                           ("handle", 4_000), ("close", 5_000)], 1):
        rec = applied(rec, ev(action, ts), offset)
        assert rec.clock_start_ms == ts
    assert deadline_ms(rec, POLICY) is None  # closed: no breach clock (evaluation is not timed)
    rec = applied(rec, ev("evaluate", 6_000, rating=5), 9)
    assert (rec.snapshot.step, rec.snapshot.rating, rec.version) == ("evaluated", 5, 6)


def test_illegal_transition_is_rejected_with_the_reason() -> None:
    outcome = process(None, ev("dispatch", 1_000), 0)
    assert outcome.record is None and "needs an existing case" in (outcome.rejection or "")
    rec = applied(None, ev("report", 1_000), 0)
    outcome = process(rec, ev("close", 2_000), 1)
    assert "not allowed from step 'reported'" in (outcome.rejection or "")


def test_duplicate_event_id_is_rejected_but_a_replay_is_skipped() -> None:
    rec = applied(None, ev("report", 1_000), 7)
    replay = process(rec, ev("report", 1_000), 7)
    assert replay.skip and replay.record is None and replay.rejection is None
    dup = process(rec, ev("report", 1_500), 8)
    assert "duplicate event_id c1.report" in (dup.rejection or "")


def test_breaches_escalate_tier_by_tier_then_stay_at_the_top() -> None:
    rec = applied(None, ev("report", 0), 0)
    deadlines = []
    for offset, tier in enumerate((2, 3, 4, 4), 1):
        deadline = escalation_ms(rec, POLICY)
        assert deadline is not None
        deadlines.append(deadline)
        outcome = process(rec, breach_event(rec, deadline), offset)
        assert outcome.breach and outcome.record is not None
        rec = outcome.record
        assert rec.snapshot.tier == tier and rec.clock_start_ms == deadline
        (signal,) = outcome.signals
        assert signal.raised and signal.tier == tier
        assert signal.fingerprint == breach_fingerprint("c1", "reported")
    assert deadlines == [60_000, 120_000, 180_000, 240_000]  # the step's SLA again per tier
    assert (rec.breaches, rec.snapshot.escalations) == (4, 3)
    # the step's deadline does not move with the escalations: the case stays overdue
    assert deadline_ms(rec, POLICY) == 60_000 and escalation_ms(rec, POLICY) == 300_000
    moved = process(rec, ev("verify", 250_000), 9)
    assert moved.record is not None and moved.record.breached_step == ""
    (cleared,) = moved.signals
    assert not cleared.raised and cleared.fingerprint == breach_fingerprint("c1", "reported")


def test_emergency_starts_at_tier_three() -> None:
    rec = applied(None, ev("report", 0, priority="emergency"), 0)
    assert rec.snapshot.tier == 3
    rec = applied(rec, breach_event(rec, 60_000), 1)
    assert rec.snapshot.tier == 4


def test_on_the_spot_resolution_closes_the_loop_at_tier_one() -> None:
    rec = applied(None, ev("resolve_on_spot", 0), 0)
    assert (rec.snapshot.step, rec.snapshot.tier, rec.snapshot.on_spot) == ("closed", 1, True)
    assert deadline_ms(rec, POLICY) is None


def test_stale_or_repeated_breach_is_skipped() -> None:
    rec = applied(None, ev("report", 0), 0)
    stale = breach_event(rec, 60_000)
    rec = applied(rec, ev("verify", 50_000), 1)
    assert process(rec, stale, 2).skip
    breach = breach_event(rec, 80_000)
    rec = applied(rec, breach, 3)
    assert process(rec, breach, 4).skip  # fired twice (retry, second worker)
    assert stale.actor == SLA_ACTOR and stale.event_id == sla_event_id("c1", 0)


def test_record_round_trip() -> None:
    rec = applied(None, ev("report", 1_000), 0)
    assert decode_record(encode_record(rec)) == rec


def test_each_applied_step_keeps_its_fact_in_the_history_but_escalations_do_not() -> None:
    rec = process(None, ev("report", 0), 0, POLICY).record
    assert rec is not None
    outcome = process(rec, breach_event(rec, 60_000), 1, POLICY)
    assert outcome.record is not None and outcome.fact is None
    verified = process(outcome.record, ev("verify", 70_000), 2, POLICY)
    assert verified.record is not None and verified.fact is not None
    history = verified.record.history
    assert [(f.action, f.from_step, f.to_step) for f in history] == [
        ("report", "", "reported"), ("verify", "reported", "verified")]
    assert history[1].left_deadline_ms == 60_000  # judged against the step's own deadline
    assert decode_record(encode_record(verified.record)) == verified.record


def test_deadline_index_fires_once_per_clock_and_retries_until_superseded() -> None:
    index = DeadlineIndex(retry_ms=5_000)
    index.set("a", "G1", 0, 60_000)
    index.set("b", "G2", 0, 30_000)
    assert index.due(29_999) == []
    assert [d.case_id for d in index.due(30_000)] == ["b"]
    assert index.due(34_999) == []
    assert [d.case_id for d in index.due(35_000)] == ["b"]  # not applied yet: retried
    index.set("b", "G2", 30_000, 90_000)  # escalation applied: new clock
    assert [d.case_id for d in index.due(60_000)] == ["a"]
    index.set("a", "G1", 60_000, None)  # case moved to a step without a clock
    assert [(d.case_id, d.deadline_ms) for d in index.due(100_000)] == [("b", 90_000)]


def test_deadline_index_rebuild_replaces_everything() -> None:
    index = DeadlineIndex()
    index.set("old", "G1", 0, 1)
    index.rebuild([("a", "G1", 0, 10), ("b", "G1", 0, None)])
    assert len(index) == 1 and [d.case_id for d in index.due(10)] == ["a"]


def test_a_limited_due_fires_the_earliest_first_and_keeps_the_rest_due() -> None:
    index = DeadlineIndex(retry_ms=5_000)
    for n in range(5):
        index.set(f"c{n}", "G1", 0, 1_000 * (5 - n))  # c4 is the most overdue
    assert [d.case_id for d in index.due(10_000, limit=2)] == ["c4", "c3"]
    assert [d.case_id for d in index.due(10_000, limit=2)] == ["c2", "c1"]
    assert [d.case_id for d in index.due(10_000)] == ["c0"]
    assert index.due(14_999) == []  # the fired ones re-armed at their call + retry


@pytest.mark.parametrize("priority,expected", [("normal", 60_000), ("high", 30_000)])
def test_deadline_follows_priority(priority: str, expected: int) -> None:
    rec = applied(None, ev("report", 0, priority=priority), 0)
    assert deadline_ms(rec, POLICY) == expected


def test_deadline_index_compacts_superseded_entries() -> None:
    index = DeadlineIndex()
    for clock in range(5_000):
        index.set("a", "G1", clock, 10**9 + clock)
    assert len(index) == 1 and len(index._heap) < 2_000
    assert [(d.clock_start_ms) for d in index.due(2 * 10**9)] == [4_999]
