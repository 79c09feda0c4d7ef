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


def seeded_topic(infra: Settings, name: str, *partitions: list[bytes]) -> str:
    """A new topic holding ``partitions[p]`` in partition ``p`` (acknowledged); its name."""
    from kafka import KafkaProducer

    spec = TopicSpec(f"{name}-{uuid.uuid4().hex[:6]}", "gap filler test",
                     partitions=len(partitions))
    ensure_topics(infra, [spec])
    topic = spec.name(infra.topic_prefix)
    producer = KafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")
    for partition, values in enumerate(partitions):
        for value in values:
            producer.send(topic, key=b"G", value=value, partition=partition).get(30)
    producer.close()
    return topic


def numbered(prefix: str, n: int) -> list[bytes]:
    """``prefix0`` .. ``prefix<n-1>`` as bytes."""
    return [f"{prefix}{i}".encode() for i in range(n)]


async def commit_offset(infra: Settings, group: str, topic: str, next_offset: int) -> None:
    """Commit ``next_offset`` for partition 0 of ``topic`` in ``group``."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.structs import OffsetAndMetadata

    committer = AIOKafkaConsumer(bootstrap_servers=infra.kafka_bootstrap, group_id=group,
                                 enable_auto_commit=False)
    await committer.start()
    tp0 = TopicPartition(topic, 0)
    committer.assign([tp0])
    await committer.commit({tp0: OffsetAndMetadata(next_offset, "")})
    await committer.stop()


async def test_skipped_offsets_are_fetched_before_the_record_after_them(infra: Settings
                                                                        ) -> None:
    topic = seeded_topic(infra, "gapfill", numbered("v", 6))
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
    topic = seeded_topic(infra, "gaphead", numbered("v", 6))
    group = f"gaphead-{uuid.uuid4().hex[:6]}"
    filler = GapFiller(infra.kafka_bootstrap, group)
    assert [(m.offset, getattr(m, "value", None)) for m in
            await filler.complete(Delivered(topic, 0, 4))] == [
        (0, b"v0"), (1, b"v1"), (2, b"v2"), (3, b"v3"), (4, None)]  # nothing committed
    assert filler.take_filled() == [(topic, 0, 0, 3)]
    await commit_offset(infra, group, topic, 2)  # offsets 0 and 1 done
    filler.reset()
    assert [m.offset for m in await filler.complete(Delivered(topic, 0, 4))] == [2, 3, 4]
    filler.reset()
    assert [m.offset for m in await filler.complete(Delivered(topic, 0, 1))] == [1]  # replay


async def test_a_tail_never_handed_over_is_fetched_once_the_partition_is_idle(
        infra: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from streams import gapfill

    topic = seeded_topic(infra, "gaptail", numbered("a", 5), numbered("b", 3))
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
    group = f"gaptail-{uuid.uuid4().hex[:6]}"
    await commit_offset(infra, group, topic, 3)
    owner = GapFiller(infra.kafka_bootstrap, group)
    assert [(m.partition, m.offset) for m in await owner.missing_tails(owned, {})] == [
        (0, 3), (0, 4), (1, 0), (1, 1), (1, 2)]  # partition 1: nothing committed
    # a record Faust hands over after all is a replay for the agent: taken as is, no refetch
    assert [m.offset for m in await filler.complete(Delivered(topic, 0, 3))] == [3]
