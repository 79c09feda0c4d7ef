"""domain.alerts: dedup, grouping, lifecycle, silence expiry, ack-timeout re-escalation."""

from __future__ import annotations

import pytest

from domain.alerts import (
    ACKED,
    OPEN,
    RESOLVED,
    AlertConfig,
    AlertConfigError,
    AlertState,
    Refusal,
    Signal,
    apply_command,
    apply_tick,
    clear,
    due_ticks,
    grid_of_alert_id,
    raise_or_update,
)

CFG = AlertConfig(ack_timeout_s=60, max_silence_s=3600)


def signal(ts: int = 1_000, tier: int = 2, severity: str = "warning", fp: str = "sla:c1:reported"
           ) -> Signal:
    return Signal(fingerprint=fp, grid_id="G01", kind="sla_breach", category="noise",
                  severity=severity, title="overdue", ts=ts, case_id="c1", tier=tier)


def opened() -> AlertState:
    return raise_or_update(None, signal())


def ok(result: AlertState | Refusal) -> AlertState:
    assert isinstance(result, AlertState), result
    return result


def test_raise_opens_an_alert_grouped_by_grid_and_category() -> None:
    state = opened()
    assert state.alert.status == OPEN and state.group_key == "G01/noise"
    assert grid_of_alert_id(state.alert.alert_id) == "G01"
    assert state.escalated_ms == 1_000 and state.occurrences == 1


def test_same_condition_updates_the_alert_and_never_lowers_tier_or_severity() -> None:
    state = raise_or_update(opened(), signal(ts=2_000, tier=3, severity="critical"))
    assert state.alert.alert_id == opened().alert.alert_id
    assert (state.occurrences, state.alert.tier, state.alert.severity) == (2, 3, "critical")
    assert state.escalated_ms == 2_000  # tier rose: the ack clock restarts
    again = raise_or_update(state, signal(ts=3_000, tier=2, severity="warning"))
    assert (again.occurrences, again.alert.tier, again.alert.severity) == (3, 3, "critical")


def test_raise_after_resolved_opens_a_new_alert() -> None:
    resolved = clear(opened(), 5_000)
    assert resolved.alert.status == RESOLVED and resolved.resolved_ms == 5_000
    fresh = raise_or_update(resolved, signal(ts=9_000))
    assert fresh.alert.alert_id != resolved.alert.alert_id and fresh.alert.status == OPEN


def test_lifecycle_ack_unack_resolve() -> None:
    acked = ok(apply_command(opened(), "ack", "wang", {}, 2_000, CFG))
    assert acked.alert.status == ACKED and acked.alert.acked_by == "wang"
    assert isinstance(apply_command(acked, "ack", "li", {}, 2_100, CFG), Refusal)
    unacked = ok(apply_command(acked, "unack", "wang", {}, 3_000, CFG))
    assert unacked.alert.status == OPEN and unacked.escalated_ms == 3_000
    resolved = ok(apply_command(unacked, "resolve", "wang", {}, 4_000, CFG))
    assert resolved.alert.status == RESOLVED
    assert isinstance(apply_command(resolved, "ack", "wang", {}, 5_000, CFG), Refusal)
    assert resolved.version == opened().version + 3


def test_assign_and_comment_need_their_arguments() -> None:
    assert isinstance(apply_command(opened(), "assign", "w", {}, 2_000, CFG), Refusal)
    assigned = ok(apply_command(opened(), "assign", "w", {"assignee": "zhao"}, 2_000, CFG))
    assert assigned.alert.assignee == "zhao"
    assert isinstance(apply_command(opened(), "comment", "w", {}, 2_000, CFG), Refusal)
    assert isinstance(apply_command(opened(), "dance", "w", {}, 2_000, CFG), Refusal)


def test_ack_timeout_re_escalates_tier_by_tier_until_the_top() -> None:
    state = opened()
    assert due_ticks(state, 60_999, CFG) == []
    assert due_ticks(state, 61_000, CFG) == ["re_escalate"]
    assert apply_tick(state, "re_escalate", 60_000, CFG) is None  # not due yet
    for expected_tier in (3, 4):
        now = state.escalated_ms + 60_000
        state = apply_tick(state, "re_escalate", now, CFG) or pytest.fail("not due")
        assert state.alert.tier == expected_tier and state.alert.severity == "critical"
    assert state.re_escalations == 2
    assert due_ticks(state, state.escalated_ms + 10**9, CFG) == []  # top tier


def test_acked_or_shelved_alerts_do_not_re_escalate() -> None:
    acked = ok(apply_command(opened(), "ack", "w", {}, 2_000, CFG))
    assert due_ticks(acked, 10**9, CFG) == []
    shelved = ok(apply_command(opened(), "shelve", "w", {}, 2_000, CFG))
    assert due_ticks(shelved, 10**9, CFG) == []
    unshelved = ok(apply_command(shelved, "unshelve", "w", {}, 5_000, CFG))
    assert due_ticks(unshelved, 64_999, CFG) == []
    assert due_ticks(unshelved, 65_000, CFG) == ["re_escalate"]


def test_silence_with_expiry_author_and_comment() -> None:
    state = opened()
    assert isinstance(apply_command(state, "silence", "w", {"duration_s": 10}, 2_000, CFG),
                      Refusal)  # no comment
    assert isinstance(apply_command(state, "silence", "w",
                                    {"duration_s": 7200, "comment": "x"}, 2_000, CFG), Refusal)
    silenced = ok(apply_command(state, "silence", "wang",
                                {"duration_s": 120, "comment": "crew on site"}, 2_000, CFG))
    assert silenced.alert.silenced_until_ms == 122_000
    assert (silenced.silenced_by, silenced.silence_comment) == ("wang", "crew on site")
    assert due_ticks(silenced, 121_999, CFG) == []  # silenced: no re-escalation
    assert due_ticks(silenced, 122_000, CFG) == ["silence_expired"]
    expired = apply_tick(silenced, "silence_expired", 122_500, CFG)
    assert expired is not None and expired.alert.silenced_until_ms is None
    assert expired.silenced_by == "" and expired.escalated_ms == 122_500
    assert due_ticks(expired, 182_500, CFG) == ["re_escalate"]


def test_config_validation() -> None:
    assert AlertConfig.from_mapping({"ack_timeout_s": 2}).ack_timeout_s == 2.0
    for bad, where in (({"ack_timeout_s": 0}, "ack_timeout_s"), ({"nope": 1}, "nope"),
                       ({"max_silence_s": True}, "max_silence_s"), ([], "alerts")):
        with pytest.raises(AlertConfigError, match=where):
            AlertConfig.from_mapping(bad)


SEVERITIES = ("info", "warning", "critical")


def _contradicts(state: AlertState) -> list[str]:
    """Severity words in the title other than the alert's own severity."""
    words = state.alert.title.lower().replace(":", " ").split()
    return [w for w in SEVERITIES if w in words and w != state.alert.severity]


def test_title_never_names_a_severity_the_alert_does_not_have() -> None:
    from pathlib import Path

    from domain.schemas import SensorBatch, SensorReading
    from domain.sensor_policy import load_sensor_policy
    from streams.sensors.detector import SensorDetector

    policy = load_sensor_policy(Path(__file__).resolve().parents[2] / "config/thresholds.yaml")
    detector = SensorDetector(policy)
    # gas: 12 is in the warning band, 30 in the critical band, 13 back in the warning band
    raised = [s for ts, value in ((1, 12.0), (2, 30.0), (3, 13.0))
              for s in detector.update(SensorBatch(
                  batch_id=f"b{ts}", grid_id="G1", received_ms=ts, source="sensor",
                  readings=[SensorReading(sensor_id="s1", kind="gas", value=value, ts=ts)]))]
    assert [s.severity for s in raised] == ["warning", "critical", "warning"]
    state = raise_or_update(None, raised[0])
    escalated = ok(apply_command(state, "escalate", "duty", {}, 10, CFG))
    assert escalated.alert.severity == "critical" and not _contradicts(escalated)
    re_escalated = apply_tick(state, "re_escalate", 1 + 60_000, CFG)
    assert re_escalated is not None and not _contradicts(re_escalated)
    for signal_ in raised[1:]:
        state = raise_or_update(state, signal_)
        assert state.alert.severity == "critical" and not _contradicts(state), state.alert.title
