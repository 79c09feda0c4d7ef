"""Duty queue, case timelines, job health and config diffs."""

from __future__ import annotations

from tests.unit.wall_support import MIN, NOW, alert, case, store_of, upd
from wall.app.history import CaseHistory, Transition, timeline
from wall.app.opsview import (
    agent_rates,
    check_change,
    diff,
    partition_lags,
    recovery_rows,
    startup_config,
    workers,
)
from wall.app.queue import age_text, alert_queue


def test_queue_sorts_by_severity_then_age_and_filters() -> None:
    store = store_of(alert("w-old", "warning", opened_ms=NOW - 9 * MIN),
                     alert("c-new", "critical", opened_ms=NOW - MIN),
                     alert("c-old", "critical", opened_ms=NOW - 5 * MIN),
                     alert("i", "info", status="acknowledged"),
                     alert("r", "critical", status="resolved"),
                     alert("s", "warning", silenced_until_ms=NOW + MIN))
    assert [r.alert_id for r in alert_queue(store, NOW)] == ["c-old", "c-new", "w-old", "s", "i"]
    assert [r.alert_id for r in alert_queue(store, NOW, sort="age")][:2] == ["w-old", "c-old"]
    assert [r.alert_id for r in alert_queue(store, NOW, severities={"critical"},
                                            statuses=())] == ["c-old", "c-new", "r"]
    assert [r.alert_id for r in alert_queue(store, NOW, statuses={"silenced"})] == ["s"]
    assert [r.alert_id for r in alert_queue(store, NOW, text_filter="W-OLD")] == ["w-old"]


def test_age_text() -> None:
    assert [age_text(ms) for ms in (5_000, 12 * MIN, 185 * MIN, 52 * 60 * MIN)] == [
        "5s", "12m", "3h05m", "2d04h"]


def test_history_records_step_changes_only_and_is_bounded() -> None:
    history = CaseHistory(max_cases=2)
    for step, t in (("reported", 0), ("reported", 1), ("verified", 2), ("dispatched", 3)):
        history.observe("C1", case("C1", step, step_entered_ms=NOW + t, actor=f"u{t}").data)
    assert [(t.from_step, t.to_step, t.actor) for t in history.transitions("C1")] == [
        ("", "reported", "u0"), ("reported", "verified", "u2"), ("verified", "dispatched", "u3")]
    history.observe("C2", {"step": "reported"})
    history.observe("C3", {"step": "reported"})
    assert history.transitions("C1") == []
    assert len(history) == 2


def test_timeline_credits_whoever_entered_the_step_not_a_later_escalation() -> None:
    data = case("C1", "verified", opened_ms=NOW).data
    moves = [Transition(NOW, "report", "", "reported", 1, "居民"),
             Transition(NOW + 10, "verify", "reported", "verified", 1, "网格员张"),
             Transition(NOW + 20, "escalate", "verified", "verified", 2, "sla-timer")]
    marks = timeline(data, moves)
    assert [(m.reached_ms, m.actor) for m in marks[:2]] == [(NOW, "居民"), (NOW + 10, "网格员张")]


def test_history_credits_the_entry_only_when_the_items_last_action_entered_the_step() -> None:
    history = CaseHistory()
    history.observe("C1", case("C1", "reported", actor="居民").data)
    # verified by 张 and escalated by the SLA timer before the wall saw the case again
    history.observe("C1", case("C1", "verified", step_entered_ms=NOW + 10, ts=NOW + 20,
                               actor="sla-timer").data)
    assert [(t.to_step, t.ts_ms, t.actor) for t in history.transitions("C1")] == [
        ("reported", NOW, "居民"), ("verified", NOW + 10, "")]


def test_timeline_marks_reached_steps_with_times_and_actors() -> None:
    data = case("C1", "handled", opened_ms=NOW).data
    moves = [Transition(NOW + 10, "dispatch", "verified", "dispatched", 1, "王")]
    marks = timeline(data, moves)
    assert [m.step for m in marks] == ["reported", "verified", "dispatched", "handled",
                                       "closed", "evaluated"]
    assert marks[0].reached_ms == NOW
    assert marks[1].reached_ms == 0  # reached before the wall watched: no time known
    assert (marks[2].reached_ms, marks[2].actor) == (NOW + 10, "王")
    assert marks[3].current and marks[3].reached_ms == 0
    assert marks[4].reached_ms is None and marks[5].reached_ms is None


def test_job_health_tables() -> None:
    store = store_of(upd("job_health", "w1", ts=NOW - 2000, worker_id="w1", agents={
        "cases": {"events_per_s": 100.0, "latency_p50_ms": 3.0, "latency_p99_ms": 20.0},
        "sensors": {"events_per_s": 2400.5, "latency_p50_ms": 12.0, "latency_p99_ms": 80.0}},
        lag={"agents": {"gridwall.cases.events": {"0": 5, "1": 250}},
             "sink": {"gridwall.cases.events": {"0": 7}}}, lag_total=262,
        sink={"rows_per_s": 42000.0, "batch_mean": 5000.0},
        recovery={"cases": {"progress": 0.5, "remaining": 50, "partitions": {
            "0": {"progress": 1.0, "remaining": 0}, "1": {"progress": 0.5, "remaining": 50}}}}))
    (w,) = workers(store, NOW)
    assert (w.events_per_s, w.total_lag, w.latency_p99_ms, w.recovery, w.age_s) == (
        2500.5, 262, 80.0, 0.5, 2.0)
    assert (w.sink_batch_rows, w.insert_rows_per_s) == (5000.0, 42000.0)
    assert partition_lags(store)[:2] == [("w1", "agents", "gridwall.cases.events/1", 250),
                                         ("w1", "sink", "gridwall.cases.events/0", 7)]
    assert agent_rates(store) == [("w1", "cases", 100.0, 20.0), ("w1", "sensors", 2400.5, 80.0)]
    assert [(r.table, r.partition, r.progress, r.remaining) for r in recovery_rows(store)] == [
        ("cases", "1", 0.5, 50), ("cases", "0", 1.0, 0)]


def test_unknown_figures_stay_unknown_and_every_agent_shows() -> None:
    from types import SimpleNamespace

    from wall.app.ops_page import health_html

    store = store_of(upd("job_health", "w1", worker_id="w1", agents={
        "commands": {"events_per_s": 2.0, "latency_p50_ms": None, "latency_p99_ms": None}},
        sink={"rows_per_s": 0.0, "batch_mean": None},
        recovery={"alerts": {"progress": None, "remaining": None, "partitions": {
            "3": {"offset": None, "highwater": 9, "progress": None, "remaining": None}}}}))
    (w,) = workers(store, NOW)
    assert (w.latency_p50_ms, w.latency_p99_ms, w.sink_batch_rows, w.recovery) == (
        None, None, None, None)
    assert agent_rates(store) == [("w1", "commands", 2.0, None)]
    page = health_html(SimpleNamespace(store=store), NOW, "en")  # type: ignore[arg-type]
    assert "0 ms" not in page and "100%" not in page
    assert "— / — ms" in page and "p99 — ms" in page and ">commands<" in page
    assert ">alerts<" in page and ">3<" in page


def test_a_worker_without_table_partitions_shows_no_recovery_figure() -> None:
    (w,) = workers(store_of(upd("job_health", "w1", worker_id="w1", recovery={})), NOW)
    assert w.recovery is None


def test_check_change_uses_the_workers_validators() -> None:
    good_sla = {"defaults": {"reported": 600, "verified": 1800, "dispatched": 3600,
                             "handled": 7200, "closed": 3600}}
    assert check_change("sla", good_sla) is None
    bad = check_change("sla", {"defaults": {"reported": -1}})
    assert bad is not None and "defaults" in bad
    assert check_change("sink", {"batch_size": 0}) is not None
    assert check_change("sink", {"batch_size": 1000}) is None
    assert check_change("alerts", {"ack_timeout_s": 60}) is None
    assert check_change("thresholds", {"smoke": {"max": 3}}) is not None
    assert check_change("windows", {"minute_s": 60}) is None  # unknown here: workers decide
    assert check_change("sla", [1, 2]) is not None


def test_startup_config_validates_with_the_workers_validators() -> None:
    from core.settings import REPO_ROOT

    config = startup_config(REPO_ROOT / "config")
    assert {"sla", "alerts", "sink", "thresholds", "scoring"} <= set(config)
    for key, value in config.items():
        assert check_change(key, value) is None, key


def test_diff_lists_changed_leaves_only() -> None:
    before = {"defaults": {"reported": 600, "verified": 1800}, "priority_factor": {"high": 0.5}}
    after = {"defaults": {"reported": 300, "verified": 1800}, "categories": {"noise": {}}}
    assert diff(before, after) == [("categories", "∅", "{'noise': {}}"),
                                   ("defaults.reported", "600", "300"),
                                   ("priority_factor", "{'high': 0.5}", "∅")]
    assert diff(before, before) == []
