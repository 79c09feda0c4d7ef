"""The real hub over websockets: frames out of bounds and requests over the limits get an
``error`` naming why, and the connection stays usable.

Each test starts a hub in-process on a free port with this session's settings (real Kafka).
No assertion is about elapsed time: refill rates are set so low that no token comes back
during a test, which makes the number of requests taken exact.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from core.kafka_writer import KafkaWriter
from core.settings import Settings
from domain.contracts.topics import ALERTS, COMMANDS
from domain.wire import MAX_DEPTH, encode
from tests.integration.test_hub_live import alert, produce, running_hub
from wall.hub.client import HubClient
from wall.hub.protocol import (
    CHANNELS,
    AckMsg,
    ErrorMsg,
    HealthReplyMsg,
    SnapshotMsg,
    SubscribedMsg,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
NO_REFILL = 0.0001  # tokens per second: none come back during a test


@pytest.fixture(scope="module")
def writer(infra: Settings) -> Iterator[KafkaWriter]:
    w = KafkaWriter(infra, client_id="test-hub-limits")
    yield w
    w.close()


def deep_tune(levels: int = 1000) -> bytes:
    """The fuzzing finding: ~1,000 levels of nesting in 5-12 KB."""
    return (b'{"type":"tune","ref":"deep","key":"alerts","value":' + b'{"a":' * levels
            + b"1" + b"}" * (levels + 1))


async def replies_until(client: HubClient, ref: str) -> list[Any]:
    """Every message up to and including the reply with ``ref``."""
    seen: list[Any] = []
    async with asyncio.timeout(30):
        while not seen or getattr(seen[-1], "ref", None) != ref:
            seen.append(await client.recv())
    return seen


async def test_a_deep_first_frame_closes_4001_naming_why_not_1011(infra: Settings) -> None:
    async with running_hub(infra) as hub, connect(hub.url) as ws:
        await ws.send(deep_tune(), text=True)
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 10)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 4001
    assert info.value.rcvd.reason == f"not an auth message: frame too deep (limit {MAX_DEPTH})"


async def test_deep_and_large_frames_get_errors_and_the_connection_stays(
        infra: Settings) -> None:
    async with running_hub(infra, max_frame_bytes=16_384) as hub, \
            HubClient(hub.url, "ops-token-0001") as ops:
        await ops.ws.send(deep_tune(), text=True)
        deep = await ops.recv()
        assert isinstance(deep, ErrorMsg)
        assert (deep.code, deep.field, deep.reason) == (
            "bad_request", None, f"frame too deep (limit {MAX_DEPTH})")
        big = encode({"type": "health", "ref": "x" * 60, "pad": "y" * 20_000})
        await ops.ws.send(big, text=True)
        large = await ops.recv()
        assert isinstance(large, ErrorMsg)
        assert large.reason == f"frame too large ({len(big)} bytes, limit 16384)"
        assert large.ref is None  # not decoded, not even for its ref
        health = await ops.request({"type": "health"})
        assert isinstance(health, HealthReplyMsg)
        assert health.figures["frames_refused"] == 2
        assert (await hub.figures())["feed"] == "running"


async def count_commands(settings: Settings, needle: bytes) -> int:
    """Records of the commands topic, up to its end now, whose value holds ``needle``."""
    def scan() -> int:
        consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None,
                                 enable_auto_commit=False)
        try:
            topic = COMMANDS.name(settings.topic_prefix)
            parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
            consumer.assign(parts)
            consumer.seek_to_beginning(*parts)
            end = consumer.end_offsets(parts)
            found = 0
            while any(consumer.position(tp) < end[tp] for tp in parts):
                for records in consumer.poll(timeout_ms=500).values():
                    found += sum(needle in r.value for r in records)
            return found
        finally:
            consumer.close()

    return await asyncio.to_thread(scan)


async def test_commands_over_the_limit_are_refused_and_never_produced(
        infra: Settings, writer: KafkaWriter) -> None:
    alert_id = f"t{uuid.uuid4().hex[:6]}.lim.1"
    produce(writer, ALERTS, [("G05", encode(alert(alert_id)))])
    async with running_hub(infra, command_burst=5, commands_per_s=NO_REFILL) as hub, \
            HubClient(hub.url, "officer-token-1") as officer:
        for i in range(40):  # pipelined, as a flood would be
            await officer.send({"type": "command", "ref": f"c{i}", "kind": "comment",
                                "alert_id": alert_id, "args": {"comment": f"n{i}"}})
        replies = [m for m in await replies_until(officer, "c39")
                   if isinstance(m, AckMsg | ErrorMsg)]
        acks = [m for m in replies if isinstance(m, AckMsg)]
        refused = [m for m in replies if isinstance(m, ErrorMsg)]
        assert [m.ref for m in acks] == [f"c{i}" for i in range(5)]
        assert len(refused) == 35 and all(m.code == "rate_limited" for m in refused)
        assert refused[0].retry_ms is not None and refused[0].retry_ms > 0
        assert refused[0].reason == f"rate limited: commands, retry in {refused[0].retry_ms} ms"
        tune = await officer.request({"type": "tune", "key": "alerts", "value": {}})
        assert isinstance(tune, ErrorMsg) and tune.code == "rate_limited"  # same bucket
        health = await officer.request({"type": "health"})
        assert isinstance(health, HealthReplyMsg) and health.figures["rate_limited"] == 36
    assert await count_commands(infra, alert_id.encode()) == 5


async def test_a_repeat_subscribe_gets_no_snapshot_and_a_loop_of_them_is_refused(
        infra: Settings) -> None:
    async with running_hub(infra, subscribe_burst=len(CHANNELS),
                           subscribes_per_s=NO_REFILL) as hub, \
            HubClient(hub.url, "viewer-token-1") as viewer:
        await viewer.send({"type": "subscribe", "channels": list(CHANNELS), "ref": "s1"})
        complete: set[str] = set()
        async with asyncio.timeout(30):
            while complete != set(CHANNELS):
                msg = await viewer.recv()
                if isinstance(msg, SnapshotMsg) and msg.part == msg.parts:
                    complete.add(msg.channel)
        await viewer.send({"type": "subscribe", "channels": list(CHANNELS), "ref": "s2"})
        await viewer.send({"type": "health", "ref": "h"})
        repeat = await replies_until(viewer, "h")
        assert not [m for m in repeat if isinstance(m, SnapshotMsg)]
        (reply,) = [m for m in repeat if getattr(m, "ref", None) == "s2"]
        assert isinstance(reply, SubscribedMsg) and reply.channels == list(CHANNELS)

        unsub = await viewer.request({"type": "unsubscribe", "channels": list(CHANNELS)})
        assert isinstance(unsub, SubscribedMsg) and unsub.channels == []
        again = await viewer.request({"type": "subscribe", "channels": ["cases"]})
        assert isinstance(again, ErrorMsg) and again.code == "rate_limited"
        assert again.reason.startswith("rate limited: subscribes, retry in ")
        still = await viewer.request({"type": "health"})
        assert isinstance(still, HealthReplyMsg) and still.figures["rate_limited"] == 1
