"""Producers: acknowledged or KafkaUnavailable, group commit joins concurrent requests."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

import pytest
from kafka.errors import KafkaTimeoutError

from core import kafka_writer
from core.kafka_records import KafkaUnavailable, OutRecord
from core.kafka_writer import HealingWriter
from core.settings import Settings
from domain.contracts.topics import CASE_EVENTS, HEALTH
from ingest.gateway.health import ProduceHealth, healthz
from ingest.gateway.producer import DirectProducer, GroupCommitProducer
from tests.unit.test_gateway_support import MemoryWriter


def records(n: int, tag: str = "r") -> list[OutRecord]:
    return [OutRecord(CASE_EVENTS, "PL01-01", f"{tag}{i}".encode()) for i in range(n)]


class GatedWriter(MemoryWriter):
    """Blocks each send until the test opens the gate, so requests pile up meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.entered = threading.Event()

    def send_all(self, batch: Sequence[OutRecord]) -> None:
        self.entered.set()
        self.gate.wait(timeout=10)
        super().send_all(batch)


async def test_group_commit_acknowledges_waiting_requests_in_one_round() -> None:
    writer = GatedWriter()
    producer = GroupCommitProducer(writer)
    try:
        first = asyncio.ensure_future(producer.produce(records(1, "first")))
        await asyncio.to_thread(writer.entered.wait, 10)  # round 1 is in flight
        rest = [asyncio.ensure_future(producer.produce(records(2, f"job{i}"))) for i in range(20)]
        await asyncio.sleep(0.05)  # the 20 jobs are queued behind round 1
        writer.gate.set()
        await asyncio.gather(first, *rest)
        assert len(writer.records) == 41
        assert writer.rounds == 2  # round 1, then all 20 waiting requests together
    finally:
        producer.close()
    assert writer.closed


async def test_a_failed_round_fails_every_request_in_it() -> None:
    writer = MemoryWriter()
    writer.fail = True
    producer = GroupCommitProducer(writer)
    try:
        results = await asyncio.gather(*(producer.produce(records(1)) for _ in range(5)),
                                       return_exceptions=True)
        assert all(isinstance(r, KafkaUnavailable) for r in results)
        writer.fail = False
        await producer.produce(records(1))  # the next round works again
        assert len(writer.records) == 1
    finally:
        producer.close()


async def test_a_writer_bug_becomes_kafka_unavailable_and_the_thread_survives() -> None:
    class Broken(MemoryWriter):
        calls = 0

        def send_all(self, batch: Sequence[OutRecord]) -> None:
            Broken.calls += 1
            if Broken.calls == 1:
                raise ValueError("bug")
            super().send_all(batch)

    writer = Broken()
    producer = GroupCommitProducer(writer)
    try:
        with pytest.raises(KafkaUnavailable):
            await producer.produce(records(1))
        await producer.produce(records(1))
        assert len(writer.records) == 1
    finally:
        producer.close()


async def test_produce_after_close_is_refused() -> None:
    producer = GroupCommitProducer(MemoryWriter())
    producer.close()
    with pytest.raises(KafkaUnavailable):
        await producer.produce(records(1))


async def test_direct_producer_sends_per_request_and_reports_failures() -> None:
    writer = MemoryWriter()
    producer = DirectProducer(writer, threads=2)
    try:
        await asyncio.gather(*(producer.produce(records(1)) for _ in range(4)))
        assert writer.rounds == 4
        writer.fail = True
        with pytest.raises(KafkaUnavailable):
            await producer.produce(records(1))
    finally:
        producer.close()


class FakeSession(MemoryWriter):
    """A session that remembers the timeout it was closed with."""

    def __init__(self) -> None:
        super().__init__()
        self.closed_with: list[float | None] = []

    def close(self, timeout_s: float | None = None) -> int:
        self.closed = True
        self.closed_with.append(timeout_s)
        return 0


def test_healing_writer_refuses_fast_after_a_failed_connect_then_retries() -> None:
    attempts: list[int] = []
    created = FakeSession()

    def factory() -> FakeSession:
        attempts.append(1)
        if len(attempts) == 1:
            raise KafkaTimeoutError("Unable to bootstrap")
        return created

    healing = HealingWriter(factory, retry_s=3600)
    with pytest.raises(KafkaUnavailable, match="cannot connect"):
        healing.send_all(records(1))
    with pytest.raises(KafkaUnavailable, match="retrying"):
        healing.send_all(records(1))  # within retry_s: no new attempt
    assert len(attempts) == 1
    healing._failed_at = float("-inf")  # the retry interval has passed
    healing.send_all(records(1))
    assert len(created.records) == 1 and len(attempts) == 2
    healing.close()
    assert created.closed


def test_an_unacknowledged_send_replaces_the_session() -> None:
    sessions: list[FakeSession] = []

    def factory() -> FakeSession:
        sessions.append(FakeSession())
        return sessions[-1]

    healing = HealingWriter(factory)
    healing.send_all(records(1))
    first_ack = healing.acked_at
    assert first_ack > float("-inf")
    sessions[0].fail = True  # wedged: it never acknowledges again
    with pytest.raises(KafkaUnavailable):
        healing.send_all(records(1))
    deadline = time.monotonic() + 5
    while not sessions[0].closed and time.monotonic() < deadline:
        time.sleep(0.01)  # discarded sessions are closed on a background thread
    assert sessions[0].closed_with == [0.0]  # force-closed: its pending records are aborted
    healing.send_all(records(2))  # a fresh session
    assert len(sessions) == 2 and len(sessions[1].records) == 2
    assert healing.replaced == 1 and healing.acked_at >= first_ack
    healing.close()
    with pytest.raises(KafkaUnavailable, match="closed"):
        healing.send_all(records(1))


class HangingWriter(MemoryWriter):
    """A broker that never answers: each send blocks until the writer is closed."""

    def __init__(self) -> None:
        super().__init__()
        self.released = threading.Event()
        self.entered = threading.Event()

    def send_all(self, batch: Sequence[OutRecord]) -> None:
        self.entered.set()
        self.released.wait(timeout=60)
        raise KafkaUnavailable("test: aborted by close")

    def close(self) -> None:
        self.closed = True
        self.released.set()


async def test_close_with_a_silent_broker_refuses_the_waiting_requests_promptly() -> None:
    writer = HangingWriter()
    producer = GroupCommitProducer(writer, grace_s=0.2)
    waiting = asyncio.ensure_future(producer.produce(records(1)))
    await asyncio.to_thread(writer.entered.wait, 10)
    await asyncio.to_thread(producer.close)
    with pytest.raises(KafkaUnavailable):
        await asyncio.wait_for(waiting, 5)  # a liveness bound: without close it waits 60 s
    assert writer.closed


async def test_acked_at_moves_only_on_acknowledged_produces() -> None:
    writer = MemoryWriter()
    producer = GroupCommitProducer(writer)
    try:
        assert producer.acked_at == float("-inf")
        await producer.produce(records(1))
        acked = producer.acked_at
        assert acked > float("-inf")
        writer.fail = True
        with pytest.raises(KafkaUnavailable):
            await producer.produce(records(1))
        assert producer.acked_at == acked
    finally:
        producer.close()


async def test_healthz_is_ok_after_a_recent_ack_without_a_canary() -> None:
    writer = MemoryWriter()
    producer = GroupCommitProducer(writer)
    try:
        await producer.produce(records(1))
        outcome = await ProduceHealth(producer, fresh_s=60).check()
        assert outcome.ok and writer.on(HEALTH.base) == []
    finally:
        producer.close()


async def test_healthz_produces_a_canary_when_no_recent_ack() -> None:
    writer = MemoryWriter()
    producer = GroupCommitProducer(writer)
    try:
        checks = ProduceHealth(producer, fresh_s=0)
        outcome = await checks.check()
        assert outcome.ok and outcome.body()["kafka"] == "acknowledged"
        assert len(writer.on(HEALTH.base)) == 1
        writer.fail = True
        outcome = await checks.check()
        assert not outcome.ok and "down" in outcome.reason
        response = await healthz(checks)
        assert response.status_code == 503 and int(response.headers["retry-after"]) > 0
    finally:
        producer.close()


async def test_healthz_answers_503_within_its_bound_when_kafka_never_answers() -> None:
    writer = HangingWriter()
    producer = GroupCommitProducer(writer, grace_s=0.2)
    checks = ProduceHealth(producer, fresh_s=0, timeout_s=0.3)
    try:
        outcome = await asyncio.wait_for(checks.check(), 10)
        assert not outcome.ok and outcome.body()["kafka"] == "not_acknowledged"
        assert outcome.last_ack_s is None
    finally:
        await checks.close()
        await asyncio.to_thread(producer.close)


class StuckFuture:
    """A kafka-python record future that the broker never completes."""

    is_done = False

    def failed(self) -> bool:
        return False


class StuckSender:
    """kafka-python's I/O thread, stopped only by force_close."""

    def __init__(self) -> None:
        self.forced = False

    def is_alive(self) -> bool:
        return not self.forced

    def force_close(self) -> None:
        self.forced = True

    def join(self, timeout: float | None = None) -> None:
        pass


class StuckKafkaProducer:
    """A kafka-python producer whose broker died: flushes time out, close(0) flushes again."""

    def __init__(self, **config: object) -> None:
        self._sender = StuckSender()
        self.closed = False

    def send(self, topic: str, key: bytes, value: bytes) -> StuckFuture:
        return StuckFuture()

    def flush(self, timeout: float | None = None) -> None:
        if not self._sender.forced:
            raise KafkaTimeoutError("Timeout waiting for future")

    def close(self, timeout: float | None = None) -> None:
        self.flush(timeout)
        self.closed = True


def test_a_session_closes_promptly_with_a_dead_broker_and_logs_what_was_lost(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(kafka_writer, "KafkaProducer", StuckKafkaProducer)
    session = kafka_writer.ProducerSession(Settings(), "test", ack_timeout_s=0.1, linger_ms=0)
    with pytest.raises(KafkaUnavailable):
        session.send_all(records(3, "lost"))
    assert session.close(0.1) == 1  # one packed message of the three records
    producer = session._producer
    assert isinstance(producer, StuckKafkaProducer)
    assert producer._sender.forced and producer.closed  # the I/O thread will not deliver later
    assert "1 message(s) not acknowledged" in caplog.text
