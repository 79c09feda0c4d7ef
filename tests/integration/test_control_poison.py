"""A poisoned control record never stops a worker: at start or live, it is dead-lettered
and skipped, and the next change (a tune through the real hub) applies.

One real worker process, the real hub in-process, real Kafka and ClickHouse. The poisoned
records are written straight to the control topic, as a compromised or buggy producer
would (the hub itself refuses such a tune, which the test also checks).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from domain.contracts.topics import CONTROL
from domain.wire import MAX_DEPTH
from tests.integration.test_hub_live import running_hub
from tests.integration.test_streams_support import StreamEnv, WorkerProc, stream_env, wait_rows
from wall.hub.client import HubClient
from wall.hub.protocol import AckMsg, ErrorMsg

__all__ = ["stream_env"]
pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def poisoned(levels: int) -> bytes:
    """A ConfigChange whose value nests ``levels`` deep (5-12 KB for ~1,000 levels)."""
    return (b'{"key":"alerts","actor":"mallory","ts":1764200000000,"value":'
            + b'{"a":' * levels + b"1" + b"}" * (levels + 1))


async def tune_through_hub(senv: StreamEnv, value: dict[str, Any]) -> None:
    """Send a deep tune (refused) and then ``value`` for ``alerts`` (acked) as ops."""
    async with running_hub(senv.settings) as hub, HubClient(hub.url, "ops-token-0001") as ops:
        await ops.ws.send(b'{"type":"tune","key":"alerts","value":' + b'{"a":' * 1000
                          + b"1" + b"}" * 1001, text=True)
        refused = await ops.recv()
        assert isinstance(refused, ErrorMsg) and "too deep" in refused.reason
        acked = await ops.request({"type": "tune", "key": "alerts", "value": value})
        assert isinstance(acked, AckMsg), acked


def test_poisoned_control_records_are_dead_lettered_and_skipped(stream_env: StreamEnv,
                                                                ch: Any) -> None:
    senv = stream_env
    db = senv.settings.clickhouse_database
    senv.send_raw(CONTROL, "alerts", poisoned(1000))  # read by load_control at start
    senv.send_config("alerts", {"ack_timeout_s": 111})
    worker = WorkerProc(senv, "w1")
    try:
        worker.wait_ready()  # it used to die here, on every restart
        senv.send_raw(CONTROL, "alerts", poisoned(1200))  # read live by the follower
        asyncio.run(tune_through_hub(senv, {"ack_timeout_s": 222}))
        accepted = wait_rows(ch, db, "config_changes", 2, where="accepted = 1")
        letters = wait_rows(ch, db, "dead_letters", 2, where="source = 'control'")
        assert worker.proc.poll() is None, worker.tail()
    finally:
        worker.stop()
    assert (accepted, letters) == (2, 2), worker.tail()
    afters = [json.loads(r[0]) for r in ch.execute(
        f"SELECT after FROM {db}.config_changes FINAL WHERE accepted = 1 "
        "ORDER BY control_offset")]
    assert [a["ack_timeout_s"] for a in afters] == [111, 222]
    reasons = ch.execute(f"SELECT stage, reason FROM {db}.dead_letters FINAL "
                         "WHERE source = 'control'")
    assert sorted(reasons) == [("control.decode", f"record too deep (limit {MAX_DEPTH})")] * 2
