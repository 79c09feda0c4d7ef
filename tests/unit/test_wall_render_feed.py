"""HTML fragments escape data and carry test ids; the feed applies hub frames; commands."""

from __future__ import annotations

import asyncio

from domain.schemas import WallUpdate
from tests.unit.wall_support import NOW, alert, case, store_of
from wall.app import render
from wall.app.boards import ticker
from wall.app.duty_page import command_message
from wall.app.feed import HubFeed, send_request
from wall.app.freshness import assess
from wall.app.history import CaseHistory
from wall.app.store import WallStore
from wall.hub.protocol import DeltasMsg, SnapshotMsg, WelcomeMsg


def test_fragments_escape_data_and_render_empty_states() -> None:
    store = store_of(alert("a1", title="<script>x</script>", status="acknowledged",
                           acked_by="值班员"))
    html = render.ticker(ticker(store), {}, NOW, "zh")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'data-alert="a1"' in html and 'data-status="acknowledged"' in html
    assert "值班员" in html
    assert "暂无数据" in render.ranking([], {}, "zh")
    assert "No data yet" in render.bars([], "en")


def test_banner_only_when_not_live() -> None:
    assert render.banner(assess("up", NOW, NOW), "zh") == ""
    assert 'data-level="disconnected"' in render.banner(assess("down", NOW, NOW), "zh")


def test_feed_applies_snapshots_and_deltas_and_records_case_steps() -> None:
    store, history = WallStore(), CaseHistory()
    feed = HubFeed("ws://unused", "t", store, history, clock=lambda: NOW)
    first = case("C1", "reported")
    feed.handle(SnapshotMsg(channel="cases", reason="subscribe", part=1, parts=1,
                            items=[first]))
    feed.handle(DeltasMsg(items=[case("C1", "verified", ts=NOW + 1),
                                 WallUpdate(channel="job_health", key="w", ts=NOW, data={})]))
    feed.handle(WelcomeMsg(actor="a", role="viewer", permissions=[], channels=[],
                           heartbeat_s=None))
    assert store.get("cases", "C1")["step"] == "verified"  # type: ignore[index]
    assert [t.to_step for t in history.transitions("C1")] == ["reported", "verified"]
    assert store.last_received_ms == NOW


def test_feed_reports_down_and_keeps_retrying_when_the_hub_is_absent() -> None:
    feed = HubFeed("ws://127.0.0.1:9/", "t", WallStore(), CaseHistory(),
                   min_backoff_s=0.01, max_backoff_s=0.02, open_timeout_s=0.5)

    async def run_briefly() -> None:
        task = asyncio.create_task(feed.run())
        await asyncio.sleep(0.3)
        task.cancel()

    asyncio.run(run_briefly())
    assert feed.link in ("down", "connecting")
    assert feed.failures >= 2 and feed.connects == 0


def test_send_request_never_raises_when_the_hub_is_absent() -> None:
    reply = asyncio.run(send_request("ws://127.0.0.1:9/", "t", {"type": "health"}, 2))
    assert not reply.ok and "unavailable" in reply.text


def test_command_messages_follow_the_hub_protocol() -> None:
    assert command_message("ack", "a1", "", 30) == {"type": "command", "kind": "ack",
                                                    "alert_id": "a1", "args": {}}
    assert command_message("assign", "a1", "网格员张", 30)["args"] == {"assignee": "网格员张"}
    assert command_message("silence", "a1", "", 15)["args"] == {
        "duration_s": 900, "comment": "duty console"}
    assert command_message("comment", "a1", "到场", 30)["args"] == {"comment": "到场"}
