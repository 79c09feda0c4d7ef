"""The cases agent's gap filler against the real broker: skipped offsets come back in order."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from core.settings import Settings
from domain.contracts.topics import TopicSpec
from infra.topics import ensure_topics
from streams.gapfill import GapFiller

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Delivered:
    """What Faust hands the agent: the fields the filler reads."""

    topic: str
    partition: int
    offset: int


async def test_skipped_offsets_are_fetched_before_the_record_after_them(infra: Settings
                                                                        ) -> None:
    from kafka import KafkaProducer

    spec = TopicSpec(f"gapfill-{uuid.uuid4().hex[:6]}", "gap filler test", partitions=1)
    ensure_topics(infra, [spec])
    topic = spec.name(infra.topic_prefix)
    producer = KafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")
    for n in range(6):
        producer.send(topic, key=b"G01", value=f"v{n}".encode(), partition=0).get(30)
    producer.close()
    filler = GapFiller(infra.kafka_bootstrap)
    got = []
    for offset in (0, 1, 4, 4, 2, 5):  # 2 and 3 skipped; then a re-delivery and a replay
        got.append([(m.offset, getattr(m, "value", None))
                    for m in await filler.complete(Delivered(topic, 0, offset))])
    assert got == [[(0, None)], [(1, None)], [(2, b"v2"), (3, b"v3"), (4, None)],
                   [(4, None)], [(2, None)], [(5, None)]]
    assert filler.filled == 2


async def test_after_a_rebalance_the_records_before_the_first_handed_over_are_fetched(
        infra: Settings) -> None:
    """A partition handed over from its fetch position (offset 4), not from where the group
    committed (after 1) or, with no commit, its beginning: the records before come first."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.structs import OffsetAndMetadata
    from kafka import KafkaProducer

    spec = TopicSpec(f"gaphead-{uuid.uuid4().hex[:6]}", "gap filler head test", partitions=1)
    ensure_topics(infra, [spec])
    topic = spec.name(infra.topic_prefix)
    producer = KafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")
    for n in range(6):
        producer.send(topic, key=b"G01", value=f"v{n}".encode(), partition=0).get(30)
    producer.close()
    group = f"gaphead-{uuid.uuid4().hex[:6]}"
    filler = GapFiller(infra.kafka_bootstrap, group)
    assert [(m.offset, getattr(m, "value", None)) for m in
            await filler.complete(Delivered(topic, 0, 4))] == [
        (0, b"v0"), (1, b"v1"), (2, b"v2"), (3, b"v3"), (4, None)]  # nothing committed
    assert filler.take_filled() == [(topic, 0, 0, 3)]
    committer = AIOKafkaConsumer(bootstrap_servers=infra.kafka_bootstrap, group_id=group,
                                 enable_auto_commit=False)
    await committer.start()
    tp0 = TopicPartition(topic, 0)
    committer.assign([tp0])
    await committer.commit({tp0: OffsetAndMetadata(2, "")})  # offsets 0 and 1 done
    await committer.stop()
    filler.reset()
    assert [m.offset for m in await filler.complete(Delivered(topic, 0, 4))] == [2, 3, 4]
    filler.reset()
    assert [m.offset for m in await filler.complete(Delivered(topic, 0, 1))] == [1]  # replay


async def test_a_tail_never_handed_over_is_fetched_once_the_partition_is_idle(
        infra: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from kafka import KafkaProducer

    from streams import gapfill

    spec = TopicSpec(f"gaptail-{uuid.uuid4().hex[:6]}", "gap filler tail test", partitions=2)
    ensure_topics(infra, [spec])
    topic = spec.name(infra.topic_prefix)
    producer = KafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")
    for n in range(5):
        producer.send(topic, key=b"G01", value=f"a{n}".encode(), partition=0).get(30)
    for n in range(3):
        producer.send(topic, key=b"G02", value=f"b{n}".encode(), partition=1).get(30)
    producer.close()
    filler = GapFiller(infra.kafka_bootstrap)
    for offset in (0, 1):  # Faust handed partition 0 up to offset 1, then nothing
        await filler.complete(Delivered(topic, 0, offset))
    owned = [(topic, 0), (topic, 1)]
    committed = {(topic, 0): 1, (topic, 1): 0}  # partition 1: offset 0 done before
    assert await filler.missing_tails(owned, committed) == []  # not idle yet
    monkeypatch.setattr(gapfill, "IDLE_S", 0.0)
    tails = await filler.missing_tails(owned, committed)
    assert [(m.partition, m.offset, m.value) for m in tails] == [
        (0, 2, b"a2"), (0, 3, b"a3"), (0, 4, b"a4"), (1, 1, b"b1"), (1, 2, b"b2")]
    assert await filler.missing_tails(owned, committed) == []  # handed over now
    fresh = GapFiller(infra.kafka_bootstrap)  # a new owner: nothing handed, nothing committed
    assert [(m.partition, m.offset) for m in await fresh.missing_tails(owned, {})] == [
        (0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (1, 0), (1, 1), (1, 2)]  # from the start
    # a new owner of a group that committed partition 0 up to offset 2 (next: 3)
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.structs import OffsetAndMetadata

    group = f"gaptail-{uuid.uuid4().hex[:6]}"
    committer = AIOKafkaConsumer(bootstrap_servers=infra.kafka_bootstrap, group_id=group,
                                 enable_auto_commit=False)
    await committer.start()
    tp0 = TopicPartition(topic, 0)
    committer.assign([tp0])
    await committer.commit({tp0: OffsetAndMetadata(3, "")})
    await committer.stop()
    owner = GapFiller(infra.kafka_bootstrap, group)
    assert [(m.partition, m.offset) for m in await owner.missing_tails(owned, {})] == [
        (0, 3), (0, 4), (1, 0), (1, 1), (1, 2)]  # partition 1: nothing committed
    # a record Faust hands over after all is a replay for the agent: taken as is, no refetch
    assert [m.offset for m in await filler.complete(Delivered(topic, 0, 3))] == [3]
