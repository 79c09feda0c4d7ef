"""Workaround 4 of ``streams.faust_adapter`` against the real broker: a topic's partition
count through the aiokafka producer inside a started Faust producer, for a topic this
producer never sent to (its metadata not fetched yet), equal to what the broker holds."""

from __future__ import annotations

import uuid

import faust
import pytest

from core.settings import Settings
from domain.contracts.topics import TopicSpec
from infra.topics import ensure_topics
from streams.faust_adapter import topic_partition_count

pytestmark = pytest.mark.integration


async def test_partition_count_of_an_unsent_topic_is_the_brokers(infra: Settings) -> None:
    spec = TopicSpec(f"adapter.count.{uuid.uuid4().hex[:6]}", "partition count probe",
                     partitions=5)
    ensure_topics(infra, [spec])
    app = faust.App(f"adapter-count-{uuid.uuid4().hex[:6]}",
                    broker=f"kafka://{infra.kafka_bootstrap}", store="memory://")
    with pytest.raises(RuntimeError):
        await topic_partition_count(app, spec.name(infra.topic_prefix))
    await app.producer.start()
    try:
        assert await topic_partition_count(app, spec.name(infra.topic_prefix)) == 5
        assert await topic_partition_count(app, spec.name(infra.topic_prefix)) == 5
    finally:
        await app.producer.stop()
