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


class FakeGaps:
    """The gap filler's interface: one skipped record before offset 2; a tail at offset 3."""

    def __init__(self, log: Log, moving: bool = False) -> None:
        self.log = log
        self.moving = moving

    async def complete(self, messages: list[Any]) -> list[Any]:
        out = []
        for m in messages:
            if m.offset == 2:
                out.append(message(1, b'{"x": 10}'))
            out.append(m)
        return out

    def positions(self) -> Any:
        return None if self.moving else ([("points.in", 0)], {("points.in", 0): 2})

    async def missing_tails(self, owned: Any, committed: Any) -> list[Any]:
        return [message(3, b'{"x": 30}')]

    async def done(self) -> None:
        self.log.effects.append("gaps done")


def message(offset: int, value: bytes) -> Any:
    class Message:
        topic, partition, key, timestamp = "points.in", 0, b"G01", 1.0

    m = Message()
    m.offset, m.value = offset, value  # type: ignore[attr-defined]
    return m


async def test_a_faust_batch_is_completed_by_the_gap_filler_and_marked_done_after() -> None:
    from streams.runner import FaustAgent

    log = Log()
    log.ack.set()
    job = PointsJob(log)
    engine = FaustAgent(Runner(job, log.outbox, JobHealth("w")), FakeGaps(log))  # type: ignore[arg-type]
    await engine.batch([message(0, b'{"x": 0}'), message(2, b'{"x": 2}')])
    assert job.state == [0, 10, 2]  # the skipped record, in offset order
    assert log.effects[-2:] == ["state", "gaps done"]
    assert await engine.fill_tails() == 1 and job.state[-1] == 30
    moving = FaustAgent(Runner(job, log.outbox, JobHealth("w")), FakeGaps(log, moving=True))  # type: ignore[arg-type]
    assert await moving.fill_tails() == 0  # a rebalance runs: nothing fetched
