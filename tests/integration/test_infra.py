"""The real parts: Kafka (KRaft) and ClickHouse as `gridwall infra` runs them."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from clickhouse_driver import Client
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.partitioner.default import murmur2

from core.settings import Settings, settings_from
from domain.contracts.topics import CASE_EVENTS, CATALOG, CONTROL
from infra.clickhouse_server import ClickHouseServer
from infra.kafka_server import KafkaServer
from infra.migrate import applied, discover, migrate, rollback
from infra.topics import ensure_topics, topic_configs

pytestmark = pytest.mark.integration


def _consume_all(settings: Settings, topic: str, expected: int,
                 group: str | None = None) -> list[object]:
    consumer = KafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap,
                             auto_offset_reset="earliest", group_id=group,
                             enable_auto_commit=False, consumer_timeout_ms=10_000)
    records = []
    for record in consumer:
        records.append(record)
        if len(records) >= expected:
            break
    if group:
        consumer.commit()
    consumer.close()
    return records


def _fresh_topics(infra: Settings) -> Settings:
    """Settings with a prefix of its own, so no other test's records share the topics."""
    fresh = settings_from({"GRIDWALL_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
                           "GRIDWALL_TOPIC_PREFIX": f"t{uuid.uuid4().hex[:8]}."})
    ensure_topics(fresh)
    return fresh


def test_keys_land_on_the_partition_of_their_grid(infra: Settings) -> None:
    infra = _fresh_topics(infra)
    topic = CASE_EVENTS.name(infra.topic_prefix)
    producer = KafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")
    grids = [f"PL0{c}-{g:02d}" for c in range(1, 10) for g in range(1, 6)]
    for grid in grids:
        producer.send(topic, key=grid.encode(), value=grid.encode())
    producer.flush()
    producer.close()
    records = _consume_all(infra, topic, len(grids))
    assert sorted(r.key.decode() for r in records) == sorted(grids)  # type: ignore[attr-defined]
    partitions = len(KafkaConsumer(bootstrap_servers=infra.kafka_bootstrap)
                     .partitions_for_topic(topic) or ())
    assert partitions == infra.topic_partitions
    for record in records:
        expected = (murmur2(record.key) & 0x7FFFFFFF) % partitions  # type: ignore[attr-defined]
        assert record.partition == expected  # type: ignore[attr-defined]
        assert record.value == record.key  # type: ignore[attr-defined]


def test_control_topic_is_compacted_on_the_broker(infra: Settings) -> None:
    configs = topic_configs(infra, CONTROL)
    assert configs["cleanup.policy"] == "compact"
    other = topic_configs(infra, CASE_EVENTS)
    assert other.get("cleanup.policy", "delete") == "delete"  # broker default: delete


def test_topics_ensure_is_idempotent(infra: Settings) -> None:
    assert ensure_topics(infra) == []
    fresh = settings_from({"GRIDWALL_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
                           "GRIDWALL_TOPIC_PREFIX": f"t{uuid.uuid4().hex[:8]}."})
    created = ensure_topics(fresh)
    assert sorted(created) == sorted(spec.name(fresh.topic_prefix) for spec in CATALOG)
    assert ensure_topics(fresh) == []


def test_up_twice_reuses_running_servers(infra: Settings) -> None:
    assert KafkaServer(infra).up() == "running"
    assert ClickHouseServer(infra).up() == "running"
    status = subprocess.run([sys.executable, "-m", "gridwall.cli", "infra", "status"],
                            capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.count("healthy") == 2


def test_clickhouse_round_trip(ch: Client, infra: Settings) -> None:
    table = f"{infra.clickhouse_database}.round_trip"
    ch.execute(f"CREATE TABLE {table} (grid_id String, n UInt64, at DateTime) "
               "ENGINE = MergeTree ORDER BY grid_id")
    rows = [(f"PL01-{i:02d}", i, 1_700_000_000 + i) for i in range(1, 1001)]
    ch.execute(f"INSERT INTO {table} (grid_id, n, at) VALUES",
               [(g, n, datetime.fromtimestamp(t, UTC)) for g, n, t in rows])
    assert ch.execute(f"SELECT count(), sum(n) FROM {table}") == [(1000, 500500)]
    ch.execute(f"DROP TABLE {table}")


def test_migrations_are_idempotent_and_reversible(ch: Client) -> None:
    db = f"gw_mig_{uuid.uuid4().hex[:8]}"
    try:
        first = [m.number for m in migrate(ch, db)]
        assert first == [m.number for m in discover()]
        assert list(migrate(ch, db)) == []
        assert ch.execute(f"EXISTS TABLE {db}.raw_events") == [(1,)]
        last = first[-1]
        rollback(ch, db, last)
        assert last not in applied(ch, db)
        assert [m.number for m in migrate(ch, db)] == [last]
    finally:
        ch.execute(f"DROP DATABASE IF EXISTS {db}")


def test_migrate_command_twice_applies_nothing_the_second_time(gw_env: dict[str, str],
                                                               infra: Settings) -> None:
    cmd = [sys.executable, "-m", "gridwall.cli", "migrate"]
    env = {**os.environ, **gw_env}
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert second.returncode == 0, second.stderr
    assert "nothing to apply" in second.stdout


def test_broker_restart_keeps_committed_data(tmp_path: Path) -> None:
    """A broker of its own (other ports, own data dir): stop and start it, data survives."""
    own = settings_from({"GRIDWALL_DATA_DIR": str(tmp_path),
                         "GRIDWALL_KAFKA_BOOTSTRAP": "127.0.0.1:19092",
                         "GRIDWALL_KAFKA_CONTROLLER_PORT": "19093",
                         "GRIDWALL_KAFKA_HEAP_MB": "512", "GRIDWALL_TOPIC_PARTITIONS": "2"})
    server = KafkaServer(own)
    try:
        assert server.up() == "started"
        ensure_topics(own, [CASE_EVENTS])
        topic = CASE_EVENTS.name(own.topic_prefix)
        producer = KafkaProducer(bootstrap_servers=own.kafka_bootstrap, acks="all")
        for i in range(100):
            producer.send(topic, key=b"PL01-01", value=str(i).encode())
        producer.flush()
        producer.close()
        assert len(_consume_all(own, topic, 40, group="restart-check")) == 40
        assert server.down() is True
        assert not server.process.is_running()
        assert server.up() == "started"
        records = _consume_all(own, topic, 100)
        assert [int(r.value) for r in records] == list(range(100))  # type: ignore[attr-defined]
        consumer = KafkaConsumer(bootstrap_servers=own.kafka_bootstrap, group_id="restart-check")
        partition = TopicPartition(topic, records[0].partition)  # type: ignore[attr-defined]
        assert consumer.committed(partition) == 40
        consumer.close()
    finally:
        server.down()


def test_storage_formats_with_a_cluster_id_that_starts_with_a_dash(tmp_path: Path) -> None:
    """A base64url cluster id starting with "-" (1 in 32) used to be taken for an option."""
    own = settings_from({"GRIDWALL_DATA_DIR": str(tmp_path),
                         "GRIDWALL_KAFKA_BOOTSTRAP": "127.0.0.1:19192",
                         "GRIDWALL_KAFKA_CONTROLLER_PORT": "19193"})
    server = KafkaServer(own)
    server.home.mkdir(parents=True, exist_ok=True)
    server.resolve_jars()
    (server.home / "cluster.id").write_text("-" + uuid.uuid4().hex[:21])
    server._format_once(server._write_config())
    assert (server.home / "data" / "meta.properties").exists()
