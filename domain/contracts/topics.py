"""The catalog of GridWall's Kafka topics, declared once.

Every record is keyed by ``grid_id`` (the control topic by config key), so one grid's
records stay in one partition. A topic's full name is its base name under a prefix
(``GRIDWALL_TOPIC_PREFIX``: tests and several deployments share a broker):
``spec.name(settings.topic_prefix)``. Each spec states its partitions (None: the configured
default), its retention and whether it is compacted; :mod:`infra.topics` creates and
configures the topics from these specs and nothing else.

:data:`CATALOG` is what ``gridwall topics ensure`` creates; :data:`STREAM_TOPICS` are the
stream jobs' own topics, created by the worker (Faust creates its changelog topics itself).
"""

from __future__ import annotations

from dataclasses import dataclass

# Compaction keeps the latest record per key; the dirty ratio and segment age let the
# cleaner run within a minute, so a reader rebuilding from the topic reads little.
_COMPACTION = {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.01",
               "segment.ms": "60000"}
FOREVER = -1  # retention_ms: never delete (and no size limit)


@dataclass(frozen=True)
class TopicSpec:
    """One topic: base name, what it carries, partitions, retention, compaction.

    ``partitions``: None for the configured default. ``retention_ms``: None for the broker's
    default, :data:`FOREVER` to keep every record. ``compacted``: keep the latest record per
    key. ``packed``: producers may pack several records of one key into one message whose
    value is a JSON array of them; consumers decode a value as one record or an array of
    records (a Faust stream pays its cost per message, so packing is what lets one worker
    keep up with a busy street). ``pack_per_partition``: a packed message may hold records of
    several keys, all of one partition (the partition of every record's own key; the message
    is keyed by its first record's key), so a city of small per-grid records costs a few
    messages per partition, not one per grid; a consumer must take each record's grid from
    the record, not from the message key.
    """

    base: str
    doc: str
    partitions: int | None = None
    retention_ms: int | None = None
    compacted: bool = False
    packed: bool = False
    pack_per_partition: bool = False

    def name(self, prefix: str) -> str:
        """The topic's full name under ``prefix``."""
        return f"{prefix}{self.base}"

    @property
    def configs(self) -> dict[str, str]:
        """The broker configs this spec sets (retention, compaction)."""
        configs = dict(_COMPACTION) if self.compacted else {}
        if self.retention_ms is not None:
            configs["retention.ms"] = str(self.retention_ms)
            if self.retention_ms == FOREVER:
                configs["retention.bytes"] = "-1"
        return configs


CASE_EVENTS = TopicSpec("gridwall.cases.events", "case reports and workflow actions",
                        packed=True)
SENSOR_READINGS = TopicSpec("gridwall.sensors.readings",
                            "sensor readings: SensorBatch messages, one grid's batch or an "
                            "array of batches of grids of one partition",
                            packed=True, pack_per_partition=True)
# Kept forever: the registers job rebuilds a partition's registers by re-reading it from
# its beginning (streams/jobs/registers.py); ``ensure_topics`` applies this to an existing
# topic too.
DEPARTMENT_RECORDS = TopicSpec("gridwall.departments.records", "department records",
                               retention_ms=FOREVER)
DEAD_LETTER = TopicSpec("gridwall.deadletter",
                        "every rejected input with source, reason, time and raw body")
COMMANDS = TopicSpec("gridwall.commands", "duty and ops actions, stamped with the actor")
CONTROL = TopicSpec("gridwall.control", "live configuration, latest value per key",
                    partitions=1, compacted=True)
ALERTS = TopicSpec("gridwall.alerts", "each alert change once, as an alerts-channel WallUpdate")
WALL_UPDATES = TopicSpec("gridwall.wall.updates", "coalesced deltas for the wall")
HEALTH = TopicSpec("gridwall.health", "canary records of the gateway's /healthz probes",
                   partitions=1, retention_ms=3_600_000)
# The worker's verdict on each case event (applied, or refused with the reason), which the
# gateway's GET /v1/cases/events/{event_id} answers from (domain/verdicts.py).
CASE_VERDICTS = TopicSpec("gridwall.cases.verdicts",
                          "the worker's verdict on each case event: applied or refused",
                          retention_ms=86_400_000)

CATALOG: tuple[TopicSpec, ...] = (CASE_EVENTS, SENSOR_READINGS, DEPARTMENT_RECORDS,
                                  DEAD_LETTER, COMMANDS, CONTROL, ALERTS, WALL_UPDATES, HEALTH,
                                  CASE_VERDICTS)

# The stream jobs' own topics. ``alert-ops`` carries every operation on alerts keyed by grid
# (signals, routed commands, timer ticks), so one grid's alerts change in one partition in
# order; ``rows`` carries ClickHouse rows from the agents to the sink.
ALERT_OPS = TopicSpec("gridwall.streams.alert-ops",
                      "alert operations (signals, commands, ticks) keyed by grid: one op, or "
                      "an array of ops of grids of one partition",
                      packed=True, pack_per_partition=True)
ROWS = TopicSpec("gridwall.streams.rows", "ClickHouse rows from the agents to the sink")
# Each grid owner's latest per-grid figures for the one street-wide stage (two-stage
# aggregation). One partition: the street stage has exactly one owner among the workers;
# compacted, so the latest partial of every grid is there to rebuild from when that owner
# changes.
GRID_PARTIALS = TopicSpec("gridwall.streams.grid-partials",
                          "latest per-grid partial figures, keyed by source/grid, for the "
                          "street-wide stage", partitions=1, compacted=True)
STREAM_TOPICS: tuple[TopicSpec, ...] = (ALERT_OPS, ROWS, GRID_PARTIALS)
