"""The scripted scenario: short SLAs, tier-by-tier escalation, ack, silence, re-escalation.

One worker against the real broker and ClickHouse. SLAs are 4 s per step and the ack
timeout 2 s (set live through the control topic); the script waits for what it observes on
the alerts topic before acting, so the expected rows are exact. It prints the figures and
the breach detection delay (deadline → alert on the alerts topic); no assertion is on time.
"""

from __future__ import annotations

import statistics
from typing import Any

import pytest

from domain.contracts.topics import CASE_EVENTS
from domain.schemas import Command
from readside.cases import case_by_id, cases_opened_between
from tests.integration.test_streams_support import (
    FAST_SLA,
    Observer,
    StreamEnv,
    WorkerProc,
    event,
    final_count,
    now_ms,
    raw_count,
    stream_env,
    wait_rows,
)

__all__ = ["stream_env"]
pytestmark = pytest.mark.integration

EXPECTED = {"cases": 6, "case_events": 24, "case_transitions": 23, "alerts": 4,
            "alert_actions": 18, "config_changes": 3, "dead_letters": 6}


def command(kind: str, alert_id: str, n: str, role: str = "officer", **args: Any) -> Command:
    """An officer's command on an alert."""
    return Command(command_id=f"c{n}", kind=kind, actor="officer-wang", role=role, ts=now_ms(),
                   alert_id=alert_id, args=args)


def test_scenario_breaches_escalations_and_alert_lifecycle(stream_env: StreamEnv,
                                                           ch: Any) -> None:
    senv = stream_env
    db = senv.settings.clickhouse_database
    senv.send_config("sla", FAST_SLA)  # before start: the worker starts from it
    worker = WorkerProc(senv, "w1")
    observer = Observer(senv.settings).start()
    try:
        worker.wait_ready()
        senv.send_config("alerts", {"ack_timeout_s": 2})  # live: B's re-escalation needs it
        senv.send_config("sla", {"defaults": {"reported": -1}})  # rejected, old one stays
        g = "G01"
        senv.send_events(event("A", "report", g, 1), event("B", "report", "G02", 1),
                         event("C", "report", "G03", 1),
                         event("F", "report", "G04", 1, priority="emergency"))
        senv.send_events(event("D", "resolve_on_spot", "G05", 1))
        senv.send_events(event("D", "evaluate", "G05", 2, rating=5))
        for n, action in enumerate(("report", "verify", "dispatch", "handle", "close"), 1):
            senv.send_events(event("E", action, "G06", n))
        senv.send_events(event("E", "evaluate", "G06", 6, rating=4))
        # bad inputs: illegal transition, duplicate event id, malformed JSON
        senv.send_events(event("G", "dispatch", "G07", 1))
        senv.send_events(event("E", "report", "G06", 1))
        senv.send_raw(CASE_EVENTS, "G07", b'{"event_id": "x", "case_id": ')

        wait = observer.wait
        a1 = wait("alert for A", lambda: observer.alert_for_case("A"))
        senv.send_command(command("ack", a1.alert_id, "1"))
        wait("A acknowledged", lambda: (a := observer.alert_for_case("A"))
             and a.status == "acknowledged")
        b1 = wait("alert for B", lambda: observer.alert_for_case("B"))
        c1 = wait("alert for C", lambda: observer.alert_for_case("C"))
        senv.send_command(command("silence", c1.alert_id, "2", duration_s=5,
                                  comment="crew on site"))
        senv.send_command(command("ack", "G09.deadbeef00.1", "3"))  # unknown alert
        senv.send_command(command("ack", b1.alert_id, "4", role="viewer"))  # not allowed
        # B: unacknowledged past the ack timeout -> re-escalated; then the case moves on
        wait("B re-escalated", lambda: (a := observer.alert_for_case("B")) and a.tier >= 3)
        senv.send_events(event("B", "verify", "G02", 2))
        # F: emergency starts at tier 3, one breach takes it to the top
        wait("F at tier 4", lambda: (a := observer.alert_for_case("F")) and a.tier == 4)
        senv.send_events(event("F", "verify", "G04", 2))
        # C: silence expires -> ack -> case moves on
        wait("C silence expired", lambda: (a := observer.alert_for_case("C"))
             and a.updated_ms > c1.opened_ms and a.silenced_until_ms is None
             and a.tier >= 3, timeout_s=40)
        senv.send_command(command("ack", c1.alert_id, "5"))
        # commands take one hop more than case events: let the ack land before the case moves
        wait("C acknowledged", lambda: (a := observer.alert_for_case("C"))
             and a.status == "acknowledged")
        senv.send_events(event("C", "verify", "G03", 2))
        # A: escalated tier by tier to the top, then the case moves on
        wait("A at tier 4", lambda: (a := observer.alert_for_case("A")) and a.tier == 4,
             timeout_s=40)
        senv.send_events(event("A", "verify", g, 2))
        for cid in "ABCF":
            wait(f"{cid} resolved", lambda cid=cid: (a := observer.alert_for_case(cid))
                 and a.status == "resolved")

        counts = {t: wait_rows(ch, db, t, n) for t, n in EXPECTED.items()}
    finally:
        observer.stop()
        worker.stop()
    print_figures(ch, db, observer, counts)
    letters = ch.execute(f"SELECT stage, source, reason FROM {db}.dead_letters FINAL "
                         "ORDER BY stage, reason")
    assert counts == EXPECTED, (letters, worker.tail())
    rows = dict(((r[0], (r[1], r[2], r[3], r[4], r[5]))) for r in ch.execute(
        f"SELECT case_id, step, tier, escalations, breaches, on_spot FROM {db}.cases FINAL"))
    assert rows == {"A": ("verified", 4, 3, 3, 0), "B": ("verified", 2, 1, 1, 0),
                    "C": ("verified", 3, 2, 2, 0), "D": ("evaluated", 1, 0, 0, 1),
                    "E": ("evaluated", 1, 0, 0, 0), "F": ("verified", 4, 1, 1, 0)}
    alerts = {r[0]: r[1:] for r in ch.execute(
        f"SELECT case_id, status, tier, occurrences, re_escalations, acked_by "
        f"FROM {db}.alerts FINAL")}
    assert alerts == {"A": ("resolved", 4, 3, 0, "officer-wang"),
                      "B": ("resolved", 3, 1, 1, ""),
                      "C": ("resolved", 3, 2, 0, "officer-wang"),
                      "F": ("resolved", 4, 1, 0, "")}
    actions = sorted(r[0] for r in ch.execute(
        f"SELECT action FROM {db}.alert_actions FINAL WHERE outcome = 'rejected'"))
    assert actions == ["ack", "ack"]
    assert final_count(ch, db, "alert_actions", "action = 'silence_expired'") == 1
    assert final_count(ch, db, "config_changes", "accepted = 0") == 1
    # the Open311 read side
    a = case_by_id(ch, db, "A")
    assert a is not None and (a.step, a.tier, a.breaches, a.status) == ("verified", 4, 3, "open")
    recent = cases_opened_between(ch, db, now_ms() - 600_000, now_ms(), statuses=["closed"])
    assert sorted(c.case_id for c in recent) == ["D", "E"]


def print_figures(ch: Any, db: str, observer: Observer, counts: dict[str, int]) -> None:
    """Print the scenario's figures and the breach detection delay."""
    delays = breach_delays(observer)
    breaches = ch.execute(f"SELECT count() FROM {db}.case_transitions FINAL WHERE breach = 1")
    escalations = ch.execute(
        f"SELECT count() FROM {db}.case_transitions FINAL WHERE to_tier > from_tier "
        "AND action = 'escalate'")
    print("\nstreams scenario figures")
    print(f"  cases {counts['cases']}, breaches {breaches[0][0]}, "
          f"escalations {escalations[0][0]}, alerts {counts['alerts']}")
    for table, n in counts.items():
        print(f"  {table:<17} {n:>4} rows (FINAL), {raw_count(ch, db, table):>4} stored")
    if delays:
        print(f"  breach detection delay (deadline -> alert on the alerts topic): "
              f"n={len(delays)} min {min(delays)} ms, median {statistics.median(delays):.0f} "
              f"ms, max {max(delays)} ms")


def breach_delays(observer: Observer) -> list[int]:
    """Per breach-raised alert change: receipt time minus the breached deadline."""
    seen: set[tuple[str, int]] = set()
    delays = []
    for received, alert in observer.alert_log:
        if alert.kind != "sla_breach" or alert.status == "resolved":
            continue
        key = (alert.alert_id, alert.updated_ms)
        if key in seen:
            continue
        seen.add(key)
        delays.append(received - alert.updated_ms)
    return delays

