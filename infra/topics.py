"""Creating and configuring GridWall's Kafka topics: an idempotent ``ensure``.

The topics themselves (names, partitions, retention, compaction) are the catalog's,
:mod:`domain.contracts.topics`; this module only does the admin work for them. Names carry
``GRIDWALL_TOPIC_PREFIX`` so that tests and several deployments can share a broker.
"""

from __future__ import annotations

from collections.abc import Iterable

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import TopicAlreadyExistsError

from core.clients import kafka_client_options
from core.settings import Settings
from domain.contracts.topics import CATALOG, STREAM_TOPICS, TopicSpec


def _admin(settings: Settings) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap,
                            client_id="gridwall-topics", **kafka_client_options(settings))


def spec_configs(spec: TopicSpec, settings: Settings) -> dict[str, str]:
    """The configs GridWall sets on the topic: its spec's and ``min.insync.replicas``."""
    return {"min.insync.replicas": str(settings.topic_min_insync_replicas),
            **spec.configs}


def _new_topic(spec: TopicSpec, settings: Settings) -> NewTopic:
    return NewTopic(name=spec.name(settings.topic_prefix),
                    num_partitions=spec.partitions or settings.topic_partitions,
                    replication_factor=settings.topic_replication_factor,
                    topic_configs=spec_configs(spec, settings))


def ensure_topics(settings: Settings, specs: Iterable[TopicSpec] = CATALOG) -> list[str]:
    """Create the topics that do not exist yet; return the names created (empty if none).

    Running it again creates nothing. New topics get ``GRIDWALL_TOPIC_REPLICATION_FACTOR``
    replicas. An existing topic keeps its partitions and replicas; the configs its spec
    names and ``min.insync.replicas`` are set on it (incrementally: other settings stay).
    """
    specs = list(specs)
    admin = _admin(settings)
    try:
        existing = set(admin.list_topics())
        configured = [ConfigResource(ConfigResourceType.TOPIC, s.name(settings.topic_prefix),
                                     configs=spec_configs(s, settings))
                      for s in specs if s.name(settings.topic_prefix) in existing]
        if configured:
            admin.alter_configs(configured, incremental=True)
        missing = [s for s in specs if s.name(settings.topic_prefix) not in existing]
        created: list[str] = []
        for spec in missing:
            try:
                admin.create_topics([_new_topic(spec, settings)])
                created.append(spec.name(settings.topic_prefix))
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        admin.close()


def topic_configs(settings: Settings, spec: TopicSpec) -> dict[str, str]:
    """The topic's configuration as the broker reports it."""
    admin = _admin(settings)
    try:
        resource = ConfigResource(ConfigResourceType.TOPIC, spec.name(settings.topic_prefix))
        response = admin.describe_configs([resource])
        entries = response["topic"][spec.name(settings.topic_prefix)]
        return {name: entry["value"] for name, entry in entries.items()}
    finally:
        admin.close()


def ensure_stream_topics(settings: Settings) -> list[str]:
    """Create the catalog's and the stream jobs' missing topics; return the names created."""
    return ensure_topics(settings, CATALOG + STREAM_TOPICS)


def delete_prefixed_topics(settings: Settings) -> int:
    """Delete every topic whose name starts with ``settings.topic_prefix``; return how many.

    For throw-away prefixes (a test session's): each topic holds open files in the broker, and
    a broker that reaches its open-files limit shuts down. Refuses an empty prefix, which
    would name every topic of the cluster.
    """
    if not settings.topic_prefix:
        raise ValueError("refusing to delete topics without a prefix")
    admin = _admin(settings)
    try:
        names = [n for n in admin.list_topics() if n.startswith(settings.topic_prefix)]
        for start in range(0, len(names), 200):
            admin.delete_topics(names[start:start + 200], timeout_ms=30_000)
        return len(names)
    finally:
        admin.close()
