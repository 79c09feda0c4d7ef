"""The runner's order of effects: decode -> handle -> flush (acked) -> state (acked) -> count,
and the commit only after all of it (a BatchLoop commits after its handler returned)."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from domain.schemas import DeadLetter
from domain.wire import decode
from streams.health.job import JobHealth
from streams.outbox import Outbox
from streams.runner import Item, RawLoopJob, Record, Runner, Tally, Timer, faust_record


class Point(msgspec.Struct):
    x: int


class Log:
    """Every effect in order; sends are acknowledged only when ``ack`` is set."""

    def __init__(self) -> None:
        self.effects: list[str] = []
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.ack = asyncio.Event()

    async def send(self, topic: str, key: bytes, value: bytes) -> Any:
        self.sent.append((topic, key, value))
        self.effects.append(f"send {topic}")

        async def acked() -> None:
            await self.ack.wait()
            self.effects.append(f"ack {topic}")

        return asyncio.ensure_future(acked())

    def outbox(self) -> Outbox:
        return Outbox(self.send, "rows", "wall", "dead")


class PointsJob:
    name = "points"
    source = "test"
    keyed_dead_letters = True

    def __init__(self, log: Log, fail: bool = False) -> None:
        self.log = log
        self.fail = fail
        self.staged: list[int] = []
        self.state: list[int] = []

    def decode(self, record: Any) -> Point:
        return decode(record.value, Point)

    async def handle(self, batch: list[Item], out: Outbox) -> Tally:
        self.log.effects.append(f"handle {[item.value.x for item in batch]}")
        if self.fail:
            raise RuntimeError("handler failed")
        for item in batch:
            out.send("points.out", str(item.value.x), b"x")
        self.staged = [item.value.x for item in batch]
        return Tally()

    async def write_state(self) -> None:
        self.log.effects.append("state")
        self.state += self.staged

    def timers(self) -> list[Timer]:
        return []


def rec(offset: int, value: bytes) -> Record:
    return Record("points.in", 0, offset, b"G01", value, 1_000 + offset)


async def test_outputs_are_acknowledged_before_state_and_state_before_return() -> None:
    log = Log()
    health = JobHealth("w")
    job = PointsJob(log)
    runner = Runner(job, log.outbox, health)
    processing = asyncio.ensure_future(runner.process([rec(0, b'{"x": 1}'), rec(1, b"{no"),
                                                       rec(2, b'{"x": 2}')]))
    await asyncio.sleep(0.01)
    assert "state" not in log.effects and not processing.done()  # waiting for the acks
    log.ack.set()
    await asyncio.wait_for(processing, 1)
    assert log.effects[0] == "handle [1, 2]"  # the undecodable record is not handed over
    state_at = log.effects.index("state")
    assert all(log.effects.index(f"ack {t}") < state_at for t in ("points.out", "dead"))
    assert job.state == [1, 2]
    (letter,) = [msgspec.json.decode(v, type=DeadLetter) for t, _, v in log.sent
                 if t == "dead"]
    assert (letter.stage, letter.source, letter.grid_id, letter.ts) == (
        "points.decode", "test", "G01", 1_001)
    assert "malformed JSON" in letter.reason
    assert health.agents["points"].messages.total == 3  # undecodable ones count too


async def test_a_failing_handler_writes_nothing_and_raises() -> None:
    log = Log()
    log.ack.set()
    job = PointsJob(log, fail=True)
    with pytest.raises(RuntimeError):
        await Runner(job, log.outbox, JobHealth("w")).process([rec(0, b'{"x": 1}')])
    assert log.effects == ["handle [1]"] and job.state == []  # no output, no state


async def test_a_raw_job_gets_the_records_as_fetched() -> None:
    log = Log()
    got: list[Any] = []

    async def handler(records: Any) -> None:
        got.extend(records)

    job = RawLoopJob("raw", "topic", handler, None)
    records = [rec(0, b"{not json")]
    await Runner(job, log.outbox, JobHealth("w")).process(records)
    assert got == records and log.sent == []


def test_a_faust_message_becomes_a_record_with_its_time_in_ms() -> None:
    class Message:
        topic, partition, offset, key, value, timestamp = "t", 3, 7, b"k", b"v", 12.5

    assert faust_record(Message()) == Record("t", 3, 7, b"k", b"v", 12_500)
