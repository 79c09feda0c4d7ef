"""The Faust agents with ``agent.test_context()`` and a controlled clock.

Outputs go to a fake ``send`` that records them; the tests feed the SLA timer's escalation
events back into the cases agent, as Kafka would, and drive the timers by hand.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest

from core.settings import settings_from
from domain.alerts import AlertState
from domain.schemas import CaseEvent, Command, DeadLetter, WallUpdate
from domain.sla import SlaPolicy
from domain.wire import encode
from streams.case_logic import decode_record
from streams.config import LiveConfig
from streams.worker import Worker, build_worker

POLICY = SlaPolicy.from_mapping({"defaults": {"reported": 60, "verified": 60,
                                              "dispatched": 60, "handled": 60,
                                              "closed": 600}})


@dataclass
class Harness:
    streams: Worker
    now: list[int]
    sent: list[tuple[str, bytes, bytes]] = field(default_factory=list)

    def take(self, topic_suffix: str) -> list[bytes]:
        """Values sent to the topic ending in ``topic_suffix`` since the last take."""
        mine = [v for t, _, v in self.sent if t.endswith(topic_suffix)]
        self.sent[:] = [r for r in self.sent if not r[0].endswith(topic_suffix)]
        return mine


@pytest.fixture()
async def harness() -> AsyncIterator[Harness]:
    now = [0]
    records: list[tuple[str, bytes, bytes]] = []

    async def fake_send(topic: str, key: bytes, value: bytes) -> Any:
        records.append((topic, key, value))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    config = LiveConfig(sla=POLICY)
    streams = build_worker(settings_from({"GRIDWALL_TOPIC_PREFIX": "unit."}), config,
                          clock=lambda: now[0], services=False, send=fake_send)
    h = Harness(streams, now, records)
    yield h


async def put_all(agent: Any, values: list[bytes], key: bytes = b"G01") -> None:
    async with agent.test_context() as ctx:
        for value in values:
            await ctx.put(value, key=key)
        await asyncio.sleep(0.2)  # let take_events' window close


def report(case_id: str = "c1", ts: int = 0, **kw: Any) -> bytes:
    return encode(CaseEvent(event_id=f"{case_id}.r", case_id=case_id, action="report", ts=ts,
                            source="simulator", grid_id="G01", category="noise", **kw))


def action(name: str, ts: int, case_id: str = "c1", **kw: Any) -> bytes:
    return encode(CaseEvent(event_id=f"{case_id}.{name}", case_id=case_id, action=name, ts=ts,
                            source="simulator", **kw))


def case(h: Harness, case_id: str = "c1") -> Any:
    return decode_record(h.streams.cases[case_id.encode()])


async def test_cases_agent_applies_the_state_machine_and_dead_letters_bad_input(
        harness: Harness) -> None:
    cases = harness.streams.agents["cases"]
    await put_all(cases, [report(), action("verify", 1_000), action("close", 2_000),
                          action("verify", 3_000), b"{not json"])
    rec = case(harness)
    assert (rec.snapshot.step, rec.version) == ("verified", 2)
    letters = [msgspec.json.decode(v, type=DeadLetter) for v in harness.take("deadletter")]
    reasons = sorted(d.reason for d in letters)
    assert len(reasons) == 3
    assert any("not allowed from step 'verified'" in r for r in reasons)
    assert any("duplicate event_id c1.verify" in r for r in reasons)
    assert any("malformed JSON" in r for r in reasons)
    rows = harness.take("streams.rows")
    assert rows and b'"case_transitions"' in b"".join(rows)


async def test_a_batch_writes_its_changelog_after_its_outputs(
        harness: Harness) -> None:
    await put_all(harness.streams.agents["cases"],
                  [report("c1"), report("c2"), action("verify", 1_000, "c1")])
    topics = [t for t, _, _ in harness.sent]
    changelog = [i for i, t in enumerate(topics) if t.endswith("-cases-changelog")]
    outputs = [i for i, t in enumerate(topics) if t.endswith("streams.rows")]
    assert changelog and outputs and min(outputs) < min(changelog)
    if len(changelog) == 2:  # one batch (the usual case): all its outputs come first
        assert max(outputs) < min(changelog)
    held = {k: v for t, k, v in harness.sent if t.endswith("-cases-changelog")}
    assert held == {b"c1": harness.streams.cases[b"c1"], b"c2": harness.streams.cases[b"c2"]}
    assert case(harness, "c1").version == 2


async def test_finished_cases_leave_memory_after_the_retention_period(
        harness: Harness) -> None:
    cases, prune = harness.streams.agents["cases"], harness.streams.jobs["cases"].prune_finished
    await put_all(cases, [report("done", 0), action("reject", 1_000, "done"),
                          report("open", 0)])
    retention = harness.streams.runtime.settings.case_retention_days * 86_400_000
    harness.take("")
    harness.now[0] = 1_000 + retention - 1
    assert await prune() == 0
    harness.now[0] = 1_000 + retention
    assert await prune() == 1
    assert b"done" not in harness.streams.cases and b"open" in harness.streams.cases
    assert [(k, v) for t, k, v in harness.sent
            if t.endswith("-cases-changelog")] == [(b"done", None)]  # a tombstone
    assert await prune() == 0
    await put_all(cases, [action("verify", harness.now[0], "done")])
    (letter,) = [msgspec.json.decode(v, type=DeadLetter) for v in harness.take("deadletter")]
    assert "the case is unknown" in letter.reason


async def test_timer_escalates_tier_by_tier_with_no_further_event(harness: Harness) -> None:
    cases = harness.streams.agents["cases"]
    fire = harness.streams.jobs["cases"].fire_breaches
    await put_all(cases, [report()])
    harness.take("")
    for deadline, tier in ((60_000, 2), (120_000, 3), (180_000, 4)):
        harness.now[0] = deadline - 1
        assert await fire() == 0
        harness.now[0] = deadline
        assert await fire() == 1
        (escalation,) = harness.take("cases.events")
        assert msgspec.json.decode(escalation, type=CaseEvent).ts == deadline
        await put_all(cases, [escalation])
        rec = case(harness)
        assert rec.snapshot.tier == tier and rec.clock_start_ms == deadline
        ops = harness.take("alert-ops")
        assert len(ops) == 1 and b'"raised":true' in ops[0]
    harness.now[0] = 240_000
    assert await fire() == 1  # at the top tier a breach is still raised
    await put_all(cases, harness.take("cases.events"))
    assert case(harness).snapshot.tier == 4 and case(harness).breaches == 4


async def test_deadlines_survive_a_restart_via_table_recovery(harness: Harness) -> None:
    cases = harness.streams.agents["cases"]
    await put_all(cases, [report("c1", 0), report("c2", 30_000)])
    harness.streams.runtime.deadlines.rebuild([])  # a new process: empty index
    for callback in list(harness.streams.cases._recover_callbacks):
        await callback()  # what Faust calls after recovering the changelog
    harness.now[0] = 90_000
    assert await harness.streams.jobs["cases"].fire_breaches() == 2


async def test_recovery_hooks_get_every_record_of_the_recovered_cases_table(
        harness: Harness) -> None:
    await put_all(harness.streams.agents["cases"], [report("c1"), report("c2")])
    seen: list[list[str]] = []
    harness.streams.runtime.recovery_hooks.append(
        lambda records: seen.append(sorted(r.snapshot.case_id for r in records)))
    for callback in list(harness.streams.cases._recover_callbacks):
        await callback()
    assert seen == [["c1", "c2"]]


async def test_alerts_agent_dedups_and_re_escalates_after_the_ack_timeout(
        harness: Harness) -> None:
    harness.streams.runtime.config.alerts = harness.streams.runtime.config.alerts.__class__(
        ack_timeout_s=30)
    cases, alerts = harness.streams.agents["cases"], harness.streams.agents["alerts"]
    await put_all(cases, [report()])
    for deadline in (60_000, 120_000):
        harness.now[0] = deadline
        await harness.streams.jobs["cases"].fire_breaches()
        await put_all(cases, harness.take("cases.events"))
        await put_all(alerts, harness.take("alert-ops"))
    (state_raw,) = list(harness.streams.alerts.values())
    state = msgspec.json.decode(state_raw, type=AlertState)
    assert state.occurrences == 2 and state.alert.tier == 3  # one alert, deduplicated
    harness.take("")
    harness.now[0] = 149_999
    assert await harness.streams.jobs["alerts"].fire_alert_ticks() == 0
    harness.now[0] = 150_000
    assert await harness.streams.jobs["alerts"].fire_alert_ticks() == 1
    await put_all(alerts, harness.take("alert-ops"))
    published = [msgspec.json.decode(v, type=WallUpdate) for v in
                 harness.take("gridwall.alerts")]
    assert published[-1].channel == "alerts" and published[-1].data["tier"] == 4
    assert not [v for v in harness.take("gridwall.wall.updates")
                if msgspec.json.decode(v, type=WallUpdate).channel == "alerts"]  # once


async def test_silence_expiry_and_commands_through_the_commands_agent(
        harness: Harness) -> None:
    cases, alerts = harness.streams.agents["cases"], harness.streams.agents["alerts"]
    commands = harness.streams.agents["commands"]
    await put_all(cases, [report()])
    harness.now[0] = 60_000
    await harness.streams.jobs["cases"].fire_breaches()
    await put_all(cases, harness.take("cases.events"))
    await put_all(alerts, harness.take("alert-ops"))
    (alert_id,) = [k.decode() for k in harness.streams.alerts]
    silence = Command(command_id="k1", kind="silence", actor="wang", role="officer",
                      ts=61_000, alert_id=alert_id,
                      args={"duration_s": 100, "comment": "crew on site"})
    viewer = Command(command_id="k2", kind="ack", actor="li", role="viewer", ts=61_000,
                     alert_id=alert_id)
    await put_all(commands, [encode(silence), encode(viewer)])
    assert len(harness.take("deadletter")) == 1  # the viewer may not act
    await put_all(alerts, harness.take("alert-ops"))
    state = msgspec.json.decode(harness.streams.alerts[alert_id.encode()], type=AlertState)
    assert state.alert.silenced_until_ms == 161_000 and state.silenced_by == "wang"
    harness.take("")
    harness.now[0] = 160_999
    assert await harness.streams.jobs["alerts"].fire_alert_ticks() == 0
    harness.now[0] = 161_000
    assert await harness.streams.jobs["alerts"].fire_alert_ticks() == 1
    await put_all(alerts, harness.take("alert-ops"))
    state = msgspec.json.decode(harness.streams.alerts[alert_id.encode()], type=AlertState)
    assert state.alert.silenced_until_ms is None and state.silenced_by == ""
