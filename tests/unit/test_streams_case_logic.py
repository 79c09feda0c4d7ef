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
    received_at,
    sla_event_id,
    window_of,
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
    assert [(d.case_id, d.deadline_ms) for d in index.due(94_000)] == [("b", 90_000)]
    # fired later than late_ms after its deadline: the breach is stamped at the fire time
    assert [(d.deadline_ms, d.late_ms) for d in index.due(100_000)] == [(100_000, 10_000)]


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


# -- stale clocks: no breach storm, no tier jump; counters saturate; the time window ------

NOW = 1_767_225_600_000  # a wall clock in 2026


def run_timer(record: CaseRecord, now: int, seconds: float, tick_ms: int = 250
              ) -> tuple[CaseRecord, int]:
    """The SLA timer and the cases agent, fed back as Kafka would, every ``tick_ms`` for
    ``seconds``; returns the record and how many breaches were applied."""
    index = DeadlineIndex()
    index.set("c1", "G01", record.clock_start_ms, escalation_ms(record, POLICY))
    applied_breaches, offset = 0, 1_000
    for step in range(int(seconds * 1000 / tick_ms) + 1):
        for item in index.due(now + step * tick_ms):
            if item.clock_start_ms != record.clock_start_ms:
                continue
            outcome = process(record, breach_event(record, item.deadline_ms), offset)
            offset += 1
            if outcome.record is not None:
                record, applied_breaches = outcome.record, applied_breaches + 1
                index.set("c1", "G01", record.clock_start_ms, escalation_ms(record, POLICY))
    return record, applied_breaches


def test_a_report_from_1970_breaches_once_then_at_the_slas_pace() -> None:
    rec = applied(None, ev("report", 1_000), 0)
    rec, breaches = run_timer(rec, NOW, 80)
    # one breach at once (stamped now, not in 1970), the next one SLA (60 s) later
    assert breaches == 2 and rec.snapshot.tier == 3
    assert rec.clock_start_ms == NOW + 60_000 and rec.snapshot.updated_ms == NOW + 60_000


def test_a_top_tier_case_with_a_stale_clock_does_not_storm() -> None:
    rec = applied(None, ev("report", 1_000, priority="emergency"), 0)  # tier 3 at once
    rec, breaches = run_timer(rec, NOW, 300)
    # at once, then every 60 s (the reported step's SLA): 0, 60, ..., 300 s
    assert rec.snapshot.tier == 4 and breaches == 6 and rec.breaches == 6


def test_a_workflow_event_back_dated_an_hour_does_not_jump_tiers() -> None:
    rec = applied(None, ev("report", NOW), 0)
    rec = applied(rec, ev("verify", NOW - 3_600_000), 1)
    assert rec.snapshot.step_entered_ms == NOW and rec.clock_start_ms == NOW  # in order
    rec, breaches = run_timer(rec, NOW + 1_000, 10)
    assert breaches == 0 and rec.snapshot.tier == 1


def test_a_back_dated_case_escalates_one_tier_not_to_the_top() -> None:
    rec = applied(None, ev("report", NOW - 3_600_000), 0)
    rec, breaches = run_timer(rec, NOW, 10)
    assert breaches == 1 and rec.snapshot.tier == 2


def test_breaches_and_reopens_saturate_at_their_columns_limit() -> None:
    rec = applied(None, ev("report", 1_000, priority="emergency"), 0)
    rec = CaseRecord(snapshot=rec.snapshot.__class__(**{
        **{f: getattr(rec.snapshot, f) for f in rec.snapshot.__struct_fields__},
        "tier": 4, "reopen_count": 65_535}), clock_start_ms=1_000, breaches=65_535)
    top = process(rec, breach_event(rec, 61_000), 5)
    assert top.record is not None and top.record.breaches == 65_535
    for n, action in enumerate(("verify", "dispatch", "handle", "reopen"), 6):
        rec = applied(rec, ev(action, 2_000 + n), n)
    assert rec.snapshot.reopen_count == 65_535


@pytest.mark.parametrize(("ts", "words"), [(1_000, "before its receipt"),
                                           (NOW + 3_600_000, "after its receipt")])
def test_events_straight_from_kafka_outside_the_window_are_rejected(ts: int,
                                                                    words: str) -> None:
    outcome = process(None, ev("report", ts), 0, received_ms=NOW)
    assert outcome.record is None and outcome.rejection is not None
    assert outcome.rejection.startswith("ts: ") and words in outcome.rejection
    assert process(None, ev("report", NOW - 60_000), 0, received_ms=NOW).record is not None
    rec = applied(None, ev("report", 1_000), 0)  # an old clock's breach is never refused
    late = process(rec, breach_event(rec, 61_000), 1, received_ms=NOW)
    assert late.record is not None and late.breach


def test_the_receive_time_is_the_kafka_timestamp_unless_the_clock_is_earlier() -> None:
    assert received_at(NOW, NOW + 5_000) == NOW  # a replay: judged as when it arrived
    assert received_at(NOW, 60_000) == 60_000  # a controlled clock
    assert received_at(-1, NOW) == NOW  # a record without a timestamp
    window = window_of(60, 1)
    assert process(None, ev("report", NOW - 61_000), 0, received_ms=NOW,
                   window=window).rejection is not None
    assert process(None, ev("report", NOW - 59_000), 0, received_ms=NOW,
                   window=window).record is not None


def dispatched_to(unit: str) -> CaseRecord:
    """A case reported at 1 s, verified at 2 s, dispatched to ``unit`` at 3 s."""
    rec = applied(None, ev("report", 1_000), 0)
    rec = applied(rec, ev("verify", 2_000), 1)
    return applied(rec, ev("dispatch", 3_000, target_unit=unit), 2)


def test_a_reassign_restarts_the_step_sla_for_the_new_unit() -> None:
    rec = dispatched_to("SO-urban")
    assert deadline_ms(rec, POLICY) == 603_000 and rec.snapshot.unit == "SO-urban"
    rec = applied(rec, ev("reassign", 100_000, target_unit="SO-env"), 3)
    assert (rec.snapshot.step, rec.snapshot.unit, rec.clock_start_ms) == (
        "dispatched", "SO-env", 100_000)
    assert deadline_ms(rec, POLICY) == escalation_ms(rec, POLICY) == 700_000


def test_an_accept_keeps_the_clock_and_a_decline_restarts_it_in_verified() -> None:
    rec = dispatched_to("SO-urban")
    accepted = applied(rec, ev("accept", 50_000, actor="H-SO-urban-2"), 3)
    assert accepted.clock_start_ms == 3_000 and deadline_ms(accepted, POLICY) == 603_000
    assert accepted.snapshot.assignee == "H-SO-urban-2"
    declined = applied(rec, ev("decline", 50_000, reason="not ours"), 3)
    assert (declined.snapshot.step, declined.snapshot.unit) == ("verified", "grid.G01")
    assert declined.clock_start_ms == 50_000 and deadline_ms(declined, POLICY) == 80_000


def test_a_breach_of_the_old_holder_is_stale_after_a_reassign_and_its_alert_clears() -> None:
    rec = dispatched_to("SO-urban")
    due = escalation_ms(rec, POLICY)
    assert due is not None
    breached = process(rec, breach_event(rec, due), 3)
    assert breached.record is not None and breached.breach
    rec = breached.record
    assert rec.snapshot.unit == "CS-G01"  # escalated into the community's queue
    stale = breach_event(rec, due + 1)
    moved = process(rec, ev("reassign", due + 10, target_unit="SO-env"), 4)
    assert moved.record is not None
    assert [s.raised for s in moved.signals] == [False]
    assert process(moved.record, stale, 5).skip


def test_a_decline_without_a_reason_does_not_decode() -> None:
    with pytest.raises(ValueError, match="reason"):
        ev("decline", 1_000)
