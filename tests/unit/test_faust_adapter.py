"""Each Faust workaround of ``streams.faust_adapter`` against the installed faust-streaming.

These fail when a Faust upgrade removes or changes an internal the adapter relies on.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
import pytest
from faust.types import TP

from streams.faust_adapter import (
    PartitionedTable,
    changelogged_table,
    faust_consumer,
    faust_positions,
    mark_done,
)


def app() -> faust.App:
    return faust.App("unit-adapter", broker="kafka://127.0.0.1:1", store="memory://")


async def test_changelog_writes_return_only_when_the_broker_acknowledged_them() -> None:
    sent: list[tuple[str, bytes, bytes | None, int]] = []
    acks: list[asyncio.Future[None]] = []

    async def send_to(topic: str, key: bytes, value: bytes | None, partition: int) -> Any:
        sent.append((topic, key, value, partition))
        acks.append(asyncio.get_running_loop().create_future())
        return acks[-1]

    table = changelogged_table(app(), "cases", 4, send_to)
    table.put(b"c1", b"v1", 3)
    table.put(b"c2", b"v2", 1)
    writing = asyncio.ensure_future(table.write_changelog())
    await asyncio.sleep(0.01)
    assert [(k, v, p) for _, k, v, p in sent] == [(b"c1", b"v1", 3), (b"c2", b"v2", 1)]
    assert sent[0][0] == "unit-adapter-cases-changelog"
    assert not writing.done()  # sent, not acknowledged yet
    acks[0].set_result(None)
    await asyncio.sleep(0.01)
    assert not writing.done()
    acks[1].set_result(None)
    await asyncio.wait_for(writing, 1)
    # the memory store knows each key's partition, so a removal's tombstone goes there
    assert table.remove(b"c1") and not table.remove(b"absent")
    remover = asyncio.ensure_future(table.write_changelog())
    await asyncio.sleep(0.01)
    assert sent[-1][1:] == (b"c1", None, 3)
    acks[-1].set_result(None)
    await asyncio.wait_for(remover, 1)
    assert b"c1" not in table and table[b"c2"] == b"v2"


def test_a_write_without_a_partition_is_refused() -> None:
    async def send_to(*_: Any) -> Any:
        raise AssertionError("not sent")

    table = changelogged_table(app(), "alerts", 4, send_to)
    assert isinstance(table, PartitionedTable)
    with pytest.raises(RuntimeError, match="use put"):
        table.partition_for_key(b"k")


async def test_filled_offsets_are_marked_done_in_fausts_gap_bookkeeping() -> None:
    consumer = app().consumer
    await mark_done(consumer, [("t", 0, 2, 3), ("t", 1, 5, 5)])
    assert sorted((iv.begin, iv.end) for iv in consumer._gap[TP("t", 0)]) == [(2, 4)]
    assert sorted((iv.begin, iv.end) for iv in consumer._gap[TP("t", 1)]) == [(5, 6)]


def test_positions_read_the_offsets_faust_committed(monkeypatch: pytest.MonkeyPatch) -> None:
    consumer = app().consumer
    assert TP("t", 0) not in consumer._committed_offset  # Faust's own map, empty at start
    monkeypatch.setattr(consumer, "assignment",
                        lambda: {TP("t", 1), TP("t", 0), TP("other", 0)})
    consumer._committed_offset[TP("t", 0)] = 41
    owned, committed = faust_positions(consumer, "t")
    assert owned == [("t", 0), ("t", 1)]
    assert committed == {("t", 0): 41, ("t", 1): None}


def test_job_health_reads_the_consumer_without_creating_one() -> None:
    the_app = app()
    assert faust_consumer(the_app) is None  # app.consumer would have created it
    consumer = the_app.consumer
    assert faust_consumer(the_app) is consumer
