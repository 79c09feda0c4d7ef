"""The catalog of GridWall's Kafka topics and an idempotent ``ensure``.

Every record is keyed by ``grid_id`` (the control topic by config key), so one grid's
records stay in one partition. Names carry ``GRIDWALL_TOPIC_PREFIX`` so that tests and
several deployments can share a broker.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import TopicAlreadyExistsError

from gridwall.clients import kafka_client_options
from gridwall.settings import Settings


@dataclass(frozen=True)
class TopicSpec:
    """One topic: its base name, partitions (``None``: the configured default), configs.

    ``packed``: producers may pack several records of one key into one message whose value
    is a JSON array of them (see :func:`gridwall.kafka_records.pack_records`); consumers decode a
    value as one record or an array of records. A Faust stream pays its cost per message,
    so packing is what lets one worker keep up with a busy street.
    """

    base: str
    doc: str
    partitions: int | None = None
    configs: dict[str, str] = field(default_factory=dict)
    packed: bool = False

    def name(self, settings: Settings) -> str:
        """The topic's full name under the configured prefix."""
        return f"{settings.topic_prefix}{self.base}"


_COMPACTED = {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.01",
              "segment.ms": "60000"}

CASE_EVENTS = TopicSpec("gridwall.cases.events", "case reports and workflow actions",
                        packed=True)
SENSOR_READINGS = TopicSpec("gridwall.sensors.readings",
                            "sensor readings, one message per grid per batch")
# Kept forever: the registers job rebuilds a partition's registers by re-reading it from
# its beginning (streams/jobs/registers.py); ``ensure_topics`` applies this to an existing
# topic too.
DEPARTMENT_RECORDS = TopicSpec("gridwall.departments.records", "department records",
                               configs={"retention.ms": "-1", "retention.bytes": "-1"})
DEAD_LETTER = TopicSpec("gridwall.deadletter",
                        "every rejected input with source, reason, time and raw body")
COMMANDS = TopicSpec("gridwall.commands", "duty and ops actions, stamped with the actor")
CONTROL = TopicSpec("gridwall.control", "live configuration, latest value per key",
                    partitions=1, configs=_COMPACTED)
ALERTS = TopicSpec("gridwall.alerts", "each alert change once, as an alerts-channel WallUpdate")
WALL_UPDATES = TopicSpec("gridwall.wall.updates", "coalesced deltas for the wall")
HEALTH = TopicSpec("gridwall.health", "canary records of the gateway's /healthz probes",
                   partitions=1, configs={"retention.ms": "3600000"})

CATALOG: tuple[TopicSpec, ...] = (CASE_EVENTS, SENSOR_READINGS, DEPARTMENT_RECORDS,
                                  DEAD_LETTER, COMMANDS, CONTROL, ALERTS, WALL_UPDATES, HEALTH)


def _admin(settings: Settings) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap,
                            client_id="gridwall-topics", **kafka_client_options(settings))


def spec_configs(spec: TopicSpec, settings: Settings) -> dict[str, str]:
    """The configs GridWall sets on the topic: its spec's and ``min.insync.replicas``."""
    return {"min.insync.replicas": str(settings.topic_min_insync_replicas),
            **spec.configs}


def _new_topic(spec: TopicSpec, settings: Settings) -> NewTopic:
    return NewTopic(name=spec.name(settings),
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
        configured = [ConfigResource(ConfigResourceType.TOPIC, s.name(settings),
                                     configs=spec_configs(s, settings))
                      for s in specs if s.name(settings) in existing]
        if configured:
            admin.alter_configs(configured, incremental=True)
        missing = [s for s in specs if s.name(settings) not in existing]
        created: list[str] = []
        for spec in missing:
            try:
                admin.create_topics([_new_topic(spec, settings)])
                created.append(spec.name(settings))
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        admin.close()


def topic_configs(settings: Settings, spec: TopicSpec) -> dict[str, str]:
    """The topic's configuration as the broker reports it."""
    admin = _admin(settings)
    try:
        resource = ConfigResource(ConfigResourceType.TOPIC, spec.name(settings))
        response = admin.describe_configs([resource])
        entries = response["topic"][spec.name(settings)]
        return {name: entry["value"] for name, entry in entries.items()}
    finally:
        admin.close()
