"""The hub against the real broker: auth, snapshot then deltas, commands, slow clients.

Each test starts a hub in-process on a free port with this session's settings (its own
topic prefix). Keys carry a per-test prefix because the session's topics are shared.
No assertion is about elapsed time; timeouts only bound the waiting.
"""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
from kafka import KafkaConsumer
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from core.auth import TokenBook
from core.kafka_records import OutRecord
from core.kafka_writer import KafkaWriter
from core.settings import Settings
from domain.contracts.topics import ALERTS, COMMANDS, CONTROL, WALL_UPDATES, TopicSpec
from domain.schemas import Alert, Command, ConfigChange, WallUpdate
from domain.wire import encode
from wall.hub import Hub, HubConfig
from wall.hub.client import HubClient
from wall.hub.protocol import (
    AckMsg,
    DeltasMsg,
    ErrorMsg,
    HealthReplyMsg,
    SnapshotMsg,
    SubscribedMsg,
)
from wall.hub.stats import now_ms

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

TOKENS = {
    "viewer-token-1": {"name": "大屏", "role": "viewer"},
    "officer-token-1": {"name": "值班员王", "role": "officer"},
    "ops-token-0001": {"name": "运维李", "role": "ops"},
    "feed-token-0001": {"name": "sim", "role": "feed", "sources": ["*"]},
    "person-token-01": {"name": "石欣飞", "role": "officer", "person": "CC-duty"},
}


@pytest.fixture()
def prefix() -> str:
    """Keys unique to this test."""
    return f"t{uuid.uuid4().hex[:6]}-"


@pytest.fixture(scope="module")
def writer(infra: Settings) -> Iterator[KafkaWriter]:
    w = KafkaWriter(infra, client_id="test-hub")
    yield w
    w.close()


@asynccontextmanager
async def running_hub(settings: Settings, **config: Any) -> AsyncIterator[Hub]:
    hub = Hub(settings, TokenBook.from_mapping(TOKENS),
              HubConfig(host="127.0.0.1", port=0, **config))
    async with hub:
        yield hub


def produce(writer: KafkaWriter, topic: TopicSpec, items: list[tuple[str, bytes]]) -> None:
    writer.send_all([OutRecord(topic, key, value) for key, value in items])


def updates(prefix: str, channel: str, n: int, pad: int = 0,
            version: int = 1) -> list[tuple[str, bytes]]:
    out = []
    for i in range(n):
        u = WallUpdate(channel=channel, key=f"{prefix}{i}", ts=now_ms(),
                       data={"n": i, "v": version, "grid_id": "G01", "pad": "x" * pad})
        out.append((u.key, encode(u)))
    return out


def alert(alert_id: str, grid_id: str = "G05") -> WallUpdate:
    """An alert change as the worker publishes it (once) on the alerts topic."""
    t = now_ms()
    data = msgspec.to_builtins(Alert(
        alert_id=alert_id, fingerprint=f"fp-{alert_id}", grid_id=grid_id,
        kind="sensor_threshold", category="fire_hazard", severity="critical", status="open",
        title="烟感告警", opened_ms=t, updated_ms=t))
    return WallUpdate(channel="alerts", key=alert_id, ts=t, data=data)


def mine(client: HubClient, channel: str, prefix: str) -> dict[str, WallUpdate]:
    return {k: v for k, v in client.view.channels.get(channel, {}).items()
            if k.startswith(prefix)}


async def until(client: HubClient, done: Any, timeout_s: float = 30.0) -> None:
    """Receive messages until ``done()`` holds."""
    async with asyncio.timeout(timeout_s):
        while not done():
            await client.recv(timeout_s)


def read_topic(settings: Settings, topic: TopicSpec, want: Any, timeout_s: float = 20) -> Any:
    """The first value of ``topic`` (from the beginning) for which ``want(value)`` is true."""
    consumer = KafkaConsumer(topic.name(settings.topic_prefix),
                             bootstrap_servers=settings.kafka_bootstrap,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             group_id=None, consumer_timeout_ms=int(timeout_s * 1000))
    try:
        for record in consumer:
            if want(record.value):
                return record
    finally:
        consumer.close()
    raise AssertionError(f"nothing wanted arrived on {topic.name(settings.topic_prefix)}")


# --- authentication ---------------------------------------------------------------------


async def close_code(url: str, first: dict[str, Any] | None) -> int | None:
    async with connect(url) as ws:
        if first is not None:
            await ws.send(encode(first), text=True)
        with pytest.raises(ConnectionClosed) as info:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
        return info.value.rcvd.code if info.value.rcvd else None


async def test_clients_without_a_valid_token_or_role_are_closed(infra: Settings) -> None:
    async with running_hub(infra, auth_timeout_s=0.5) as hub:
        url = hub.url
        assert await close_code(url, {"type": "subscribe", "channels": ["alerts"]}) == 4001
        assert await close_code(url, {"type": "auth", "token": "not-a-token"}) == 4001
        assert await close_code(url, None) == 4001  # said nothing: auth timeout
        assert await close_code(url, {"type": "auth", "token": "feed-token-0001"}) == 4003
        assert await close_code(f"{url}?token=nope-nope", None) == 4001
        async with HubClient(f"{url}?token=viewer-token-1", None) as by_query:
            welcome = await by_query.recv()
            assert welcome.role == "viewer"  # type: ignore[union-attr]
        async with HubClient(url, None,
                             additional_headers={"Authorization": "Bearer ops-token-0001"}) as h:
            assert (await h.recv()).role == "ops"  # type: ignore[union-attr]
        figures = await hub.figures()
        assert figures["auth_failures"] == 5


# --- state ------------------------------------------------------------------------------


async def test_snapshot_from_replay_then_live_deltas(infra: Settings, writer: KafkaWriter,
                                                     prefix: str) -> None:
    produce(writer, WALL_UPDATES, updates(prefix, "grid_metrics", 5))
    produce(writer, ALERTS, [("G05", encode(alert(f"{prefix}al")))])
    # the hub replays what was produced above
    async with running_hub(infra) as hub, HubClient(hub.url, "viewer-token-1") as client:
        await client.subscribe(["grid_metrics", "alerts"])
        assert isinstance(await client.recv(), SubscribedMsg)
        first = await client.recv()
        assert isinstance(first, SnapshotMsg) and first.reason == "subscribe"
        await until(client, lambda: "alerts" in client.view.channels)
        assert set(mine(client, "grid_metrics", prefix)) == {f"{prefix}{i}"
                                                              for i in range(5)}
        assert mine(client, "alerts", prefix)[f"{prefix}al"].data["grid_id"] == "G05"

        produce(writer, WALL_UPDATES, updates(prefix, "grid_metrics", 8, version=2))
        seen: set[str] = set()
        async with asyncio.timeout(30):
            while len(seen) < 8:
                msg = await client.recv()
                if isinstance(msg, DeltasMsg):
                    seen |= {i.key for i in msg.items if i.key.startswith(prefix)}
        view = mine(client, "grid_metrics", prefix)
        assert all(view[f"{prefix}{i}"].data["v"] == 2 for i in range(8))


async def test_a_bad_record_is_skipped_and_counted(infra: Settings, writer: KafkaWriter,
                                                   prefix: str) -> None:
    async with running_hub(infra) as hub, HubClient(hub.url, "viewer-token-1") as client:
        await client.subscribe(["registers"])
        produce(writer, WALL_UPDATES, [("x", b'{"channel":"registers"}')])
        produce(writer, WALL_UPDATES, updates(f"{prefix}old-", "events", 1))  # no such channel
        produce(writer, WALL_UPDATES, updates(prefix, "registers", 1))
        await until(client, lambda: mine(client, "registers", prefix))
        health = await client.request({"type": "health"})
        assert isinstance(health, HealthReplyMsg)
        assert health.figures["records_rejected"] >= 2
        assert "events" not in health.figures["keys"]
        assert health.figures["feed"] == "running"
        url = hub.url.replace("ws://", "http://") + "healthz"
        with await asyncio.to_thread(urllib.request.urlopen, url, timeout=10) as response:
            assert response.headers["Content-Type"] == "application/json"
            figures = json.loads(response.read())
        assert figures["clients"] == 1 and figures["consumer_lag"] is not None
        assert figures["feed"] == "running" and figures["kafka_fetch_age_s"] < 15
        with await asyncio.to_thread(urllib.request.urlopen, url.replace("healthz", "metrics"),
                                     timeout=10) as response:
            text = response.read().decode()
        assert "gridwall_hub_clients 1" in text.splitlines()
        assert 'gridwall_hub_feed_info{value="running"} 1' in text.splitlines()


# --- commands ---------------------------------------------------------------------------


async def test_commands_land_in_kafka_stamped_and_bad_ones_get_errors(
        infra: Settings, writer: KafkaWriter, prefix: str) -> None:
    alert_id = f"{prefix}al"
    produce(writer, ALERTS, [("G05", encode(alert(alert_id)))])
    async with running_hub(infra) as hub:
        async with HubClient(hub.url, "officer-token-1") as officer:
            ack = await officer.command("assign", alert_id=alert_id,
                                        args={"assignee": "网格员张"})
            assert isinstance(ack, AckMsg) and ack.kind == "assign"
            record = read_topic(infra, COMMANDS,
                                lambda v: ack.command_id.encode() in v)
            command = msgspec.json.decode(record.value, type=Command)
            assert (command.actor, command.role, command.kind) == ("值班员王", "officer",
                                                                   "assign")
            assert command.alert_id == alert_id and command.args["assignee"] == "网格员张"
            assert command.grid_id == "G05" and record.key == b"G05"  # from the hub's state

            bad = await officer.command("silence", alert_id=alert_id,
                                        args={"duration_s": 0, "comment": "维修"})
            assert isinstance(bad, ErrorMsg)
            assert (bad.code, bad.field) == ("bad_request", "args.duration_s")
            await officer.send({"type": "command", "kind": "explode", "ref": "x1"})
            err = await officer.recv()
            assert isinstance(err, ErrorMsg) and (err.ref, err.field) == ("x1", "kind")
            await officer.ws.send("{garbage", text=True)
            assert isinstance(await officer.recv(), ErrorMsg)
            denied = await officer.request({"type": "tune", "key": "sla.policy", "value": {}})
            assert isinstance(denied, ErrorMsg) and denied.code == "forbidden"
            again = await officer.request({"type": "auth", "token": "officer-token-1"})
            assert isinstance(again, ErrorMsg) and again.reason == "already authenticated"
            # the connection survived all of it
            assert isinstance(await officer.request({"type": "health"}), HealthReplyMsg)

        async with HubClient(hub.url, "viewer-token-1") as viewer:
            no = await viewer.command("ack", alert_id=alert_id)
            assert isinstance(no, ErrorMsg) and no.code == "forbidden"

        async with HubClient(hub.url, "ops-token-0001") as ops:
            mark = 1_000 + int(prefix[1:-1], 16) % 2_000_000  # a value only this test sends
            value = {"ack_timeout_s": mark}
            tuned = await ops.request({"type": "tune", "key": "alerts", "value": value})
            assert isinstance(tuned, AckMsg) and tuned.kind == "tune"
            record = read_topic(infra, CONTROL, lambda v: f'"ack_timeout_s":{mark}}}'.encode()
                                in v)
            change = msgspec.json.decode(record.value, type=ConfigChange)
            assert (change.key, change.value, change.actor) == ("alerts", value, "运维李")
            assert record.key == b"alerts"


async def test_a_command_is_stamped_with_the_person_the_token_names(
        infra: Settings, prefix: str) -> None:
    alert_id = f"G07.{prefix[1:-1]}.1750000000000"
    async with running_hub(infra) as hub, HubClient(hub.url, "person-token-01") as duty:
        assert duty.welcome is not None and duty.welcome.actor == "CC-duty"
        named = await duty.request({"type": "command", "kind": "ack", "alert_id": alert_id,
                                    "actor": "值班员王"})
        assert isinstance(named, ErrorMsg) and named.field == "actor"  # a client cannot
        ack = await duty.command("ack", alert_id=alert_id)
        assert isinstance(ack, AckMsg)
        record = read_topic(infra, COMMANDS, lambda v: ack.command_id.encode() in v)
        command = msgspec.json.decode(record.value, type=Command)
        assert (command.actor, command.role, command.alert_id) == ("CC-duty", "officer",
                                                                   alert_id)


# --- slow clients -----------------------------------------------------------------------


async def slow_connection(url: str) -> HubClient:
    """A client whose socket is never read after it subscribed (tiny receive buffer)."""
    host, port = url.removeprefix("ws://").rstrip("/").rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.setblocking(False)
    return HubClient(url, "viewer-token-1", sock=sock, max_queue=1)


async def test_a_slow_client_does_not_delay_a_fast_one(infra: Settings, writer: KafkaWriter,
                                                       prefix: str) -> None:
    batch, rounds = 100, 0
    async with running_hub(infra, client_queue=64, poll_max_records=16) as hub, \
            HubClient(hub.url, "viewer-token-1") as fast, \
            await slow_connection(hub.url) as slow:
        for client in (fast, slow):
            await client.subscribe(["registers"])
            await until(client, lambda c=client: "registers" in c.view.channels)  # type: ignore[misc]
        slow.ws.transport.pause_reading()  # from now on the slow client reads nothing

        # Kernel socket buffers absorb an unknown amount first: produce rounds of updates
        # until the slow client's queue has overflowed; the fast one must get every one.
        delivered: set[str] = set()
        while (await hub.figures())["overflows"] == 0:
            rounds += 1
            assert rounds <= 40, "the slow client never overflowed"
            produce(writer, WALL_UPDATES,
                    updates(f"{prefix}{rounds}-", "registers", batch, pad=4000))
            async with asyncio.timeout(30):
                while len(delivered) < rounds * batch:
                    msg = await fast.recv()
                    assert not (isinstance(msg, SnapshotMsg) and msg.reason == "resync")
                    if isinstance(msg, DeltasMsg):
                        delivered |= {i.key for i in msg.items if i.key.startswith(prefix)}
        assert fast.view.resyncs == 0
        n = rounds * batch

        slow.ws.transport.resume_reading()
        await until(slow, lambda: slow.view.resyncs >= 1
                    and len(mine(slow, "registers", prefix)) == n)
        assert mine(slow, "registers", prefix).keys() == mine(fast, "registers", prefix).keys()


async def test_shutdown_closes_clients_with_going_away(infra: Settings) -> None:
    hub = Hub(infra, TokenBook.from_mapping(TOKENS), HubConfig(host="127.0.0.1", port=0))
    await hub.start()
    try:
        client = await HubClient(hub.url, "viewer-token-1").__aenter__()
    finally:
        await hub.stop()
    with pytest.raises(ConnectionClosed) as info:
        await client.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1001
