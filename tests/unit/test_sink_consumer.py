"""The ClickHouse sink exposes its live consumer read-only; job health reads it there."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from domain.sink_config import SinkConfig
from streams.jobs.health import consumers
from streams.sink import ClickHouseSink


def sink() -> ClickHouseSink:
    return ClickHouseSink("127.0.0.1:1", "g", {}, lambda: None, "db", SinkConfig)


def test_sink_consumer_is_none_until_run_and_read_only() -> None:
    s = sink()
    assert s.consumer is None
    with pytest.raises(AttributeError):
        s.consumer = object()  # type: ignore[misc]


def ext_with(sink_: Any, loops: dict[str, Any] | None = None) -> Any:
    return SimpleNamespace(app=SimpleNamespace(_consumer="faust"), handles=loops or {},
                           runtime=SimpleNamespace(sink=sink_))


def test_job_health_reads_the_sinks_consumer_through_its_property() -> None:
    s = sink()
    assert consumers(ext_with(s)) == {"agents": "faust"}  # not started: left out
    s._consumer = "live"  # type: ignore[assignment]  # what run() sets
    loops = {"sensors_loop": SimpleNamespace(consumer="sensors"), "street": object()}
    assert consumers(ext_with(s, loops)) == {"agents": "faust", "sensors": "sensors",
                                             "sink": "live"}
    assert consumers(ext_with(None)) == {"agents": "faust"}  # a worker without a sink


def test_sink_consumer_is_the_running_loops_and_none_after_it_stopped(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    s = sink()
    stopping = asyncio.Event()

    class FakeConsumer:
        def __init__(self, *_: Any, **__: Any) -> None:
            self.stopped = False

        async def start(self) -> None:
            pass

        async def stop(self) -> None:
            self.stopped = True

        async def getmany(self, **_: Any) -> dict[Any, Any]:
            seen.append(s.consumer)
            stopping.set()
            return {}

    monkeypatch.setattr("streams.sink.AIOKafkaConsumer", FakeConsumer)

    async def main() -> None:
        await s.run(stopping)

    asyncio.run(main())
    assert len(seen) == 1 and isinstance(seen[0], FakeConsumer)
    assert s.consumer is None and seen[0].stopped


def test_collect_yields_to_the_event_loop_between_slices_of_rows() -> None:
    """A fetch of many readings is decoded in slices of SLICE_ROWS rows, so the worker's
    other jobs run in between; every row and offset is still collected."""
    from aiokafka import TopicPartition

    from streams.sink import SLICE_ROWS
    from tests.unit.loop_ticks import ticks_during

    tp = TopicPartition("readings", 0)
    per_record, n_records = 500, 4 * SLICE_ROWS // 500
    s = ClickHouseSink("127.0.0.1:1", "g",
                       {"readings": lambda value, _p, _o: [("t", value)] * per_record},
                       lambda: None, "db", SinkConfig)

    class OneFetch:
        async def getmany(self, **_: Any) -> dict[Any, Any]:
            await asyncio.sleep(0)
            return {tp: [SimpleNamespace(value=b"x", offset=o) for o in range(n_records)]}

    (rows_, offsets), ticks = asyncio.run(
        ticks_during(s._collect(OneFetch(), asyncio.Event())))  # type: ignore[arg-type]
    rows = len(rows_)
    assert rows == per_record * n_records and offsets == {tp: n_records}
    assert ticks >= 4  # the fetch's own await, then once per slice
