"""streams.config + streams.commands: live config validation and command routing."""

from __future__ import annotations

from pathlib import Path

from core.settings import REPO_ROOT
from domain.schemas import Command, ConfigChange
from domain.sink_config import SinkConfig
from streams.commands import Route, route
from streams.config import LiveConfig


def change(key: str, value: dict) -> ConfigChange:  # type: ignore[type-arg]
    return ConfigChange(key=key, value=value, actor="ops", ts=1)


def config() -> LiveConfig:
    return LiveConfig.from_config_dir(Path(REPO_ROOT) / "config")


def test_valid_sla_replaces_the_policy_and_notifies() -> None:
    live, calls = config(), []
    live.on_change("sla", lambda: calls.append(1))
    policy = {"defaults": {"reported": 5, "verified": 5, "dispatched": 5, "handled": 5,
                           "closed": 5}}
    verdict = live.apply(change("sla", policy))
    assert verdict.accepted and calls == [1]
    assert live.sla.deadline_s("noise", "normal", "reported") == 5
    assert verdict.before["defaults"]["reported"] == 1800
    assert verdict.after["defaults"]["reported"] == 5


def test_invalid_sla_is_rejected_with_the_reason_and_the_old_stays() -> None:
    live = config()
    before = live.sla
    verdict = live.apply(change("sla", {"defaults": {"reported": -1}}))
    assert not verdict.accepted and verdict.reason.startswith("defaults.")
    assert live.sla is before and verdict.before == verdict.after


def test_alerts_and_sink_config() -> None:
    live = config()
    assert live.apply(change("alerts", {"ack_timeout_s": 3})).accepted
    assert live.alerts.ack_timeout_s == 3
    assert live.apply(change("sink", {"batch_size": 100})).accepted
    assert live.sink == SinkConfig(100, 0.5)
    bad = live.apply(change("sink", {"batch_size": 0}))
    assert not bad.accepted and "batch_size" in bad.reason and live.sink.batch_size == 100
    unknown = live.apply(change("colour", {}))
    assert not unknown.accepted and "unknown config key" in unknown.reason


def cmd(kind: str, role: str = "officer", **kw: object) -> Command:
    return Command(command_id="c1", kind=kind, actor="wang", role=role, ts=1,
                   **kw)  # type: ignore[arg-type]


def test_routing_commands() -> None:
    assert route(cmd("ack", alert_id="G07.abcdef0123.17")) == Route("alert", "G07")
    assert route(cmd("escalate", case_id="c1", grid_id="G01")) == Route("case", "G01")
    assert "may not act" in str(route(cmd("ack", role="viewer", alert_id="G07.a.1")))
    assert "unknown alert command" in str(route(cmd("dance", alert_id="G07.a.1")))
    assert "needs grid_id" in str(route(cmd("escalate", case_id="c1")))
    assert "needs alert_id or case_id" in str(route(cmd("ack")))
