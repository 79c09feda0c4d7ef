"""Producers: acknowledged or KafkaUnavailable, group commit joins concurrent requests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest
from kafka.errors import KafkaTimeoutError

from infra.topics import CASE_EVENTS
from ingest.gateway.producer import DirectProducer, GroupCommitProducer, LazyWriter
from ingest.kafka_out import KafkaUnavailable, OutRecord
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


def test_lazy_writer_refuses_fast_after_a_failed_connect_then_retries() -> None:
    attempts: list[int] = []
    created = MemoryWriter()

    def factory() -> MemoryWriter:
        attempts.append(1)
        if len(attempts) == 1:
            raise KafkaTimeoutError("Unable to bootstrap")
        return created

    lazy = LazyWriter(factory, retry_s=3600)
    with pytest.raises(KafkaUnavailable, match="cannot connect"):
        lazy.send_all(records(1))
    with pytest.raises(KafkaUnavailable, match="retrying"):
        lazy.send_all(records(1))  # within retry_s: no new attempt
    assert len(attempts) == 1
    lazy._failed_at = float("-inf")  # the retry interval has passed
    lazy.send_all(records(1))
    assert len(created.records) == 1 and len(attempts) == 2
    lazy.close()
    assert created.closed
