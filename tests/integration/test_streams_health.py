"""Job health against the real broker: every consumer's lag, and true table recovery.

A first worker writes cases (changelog records on every partition) and stops; a second
worker recovers them. Its ``job_health`` items must name every consumer of the worker with
its own lag: its workflow process's (Faust's agents, the registers loop, the ClickHouse
sink of rows and case events) as ``<worker id>``, its sensors process's (the sensors loop,
the readings' sink) as ``<worker id>-sensors``; and report, per table and changelog
partition, the highwater the broker has and that all of it was read.
"""

from __future__ import annotations

import pytest

from domain.contracts.topics import CASE_EVENTS, DEPARTMENT_RECORDS, ROWS, SENSOR_READINGS
from streams.app import app_id
from tests.integration.test_streams_support import (
    StreamEnv,
    WallLog,
    WorkerProc,
    event,
    final_count,
    stream_env,
    wait_for,
)

__all__ = ["stream_env"]
pytestmark = pytest.mark.integration
GRIDS = [f"PL0{c}-0{g}" for c in range(1, 5) for g in range(1, 4)]


def _changelog_ends(senv: StreamEnv, table: str) -> dict[int, int]:
    from kafka import KafkaConsumer, TopicPartition

    topic = f"{app_id(senv.settings)}-{table}-changelog"
    consumer = KafkaConsumer(bootstrap_servers=senv.settings.kafka_bootstrap)
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in parts])
    finally:
        consumer.close()
    return {tp.partition: end for tp, end in ends.items()}


def test_job_health_has_every_consumers_lag_and_the_true_recovery(stream_env: StreamEnv
                                                                  ) -> None:
    from clickhouse_driver import Client

    senv = stream_env
    s = senv.settings
    first = WorkerProc(senv, "writer")
    try:
        first.wait_ready()
        senv.send_events(*(event(f"H{n}", "report", grid, 1)
                           for n, grid in enumerate(GRIDS * 3)))
        ch = Client(s.clickhouse_host, port=s.clickhouse_port)
        wait_for("cases stored", lambda: final_count(ch, s.clickhouse_database, "cases")
                 == len(GRIDS) * 3)
    finally:
        first.stop()
    ends = _changelog_ends(senv, "cases")
    assert len(ends) == 4 and all(end > 0 for end in ends.values()), ends

    wall = WallLog(senv)
    second = WorkerProc(senv, "reader")
    try:
        second.wait_ready()

        def health(key: str, consumers: set[str]) -> dict | None:  # type: ignore[type-arg]
            update = wall.latest.get(("job_health", key))
            if update is None or not consumers <= set(update.data["lag"]):
                return None
            return update.data

        sensors = wait_for("the sensors process's job health",
                           lambda: health("reader-sensors", {"sensors", "sink"}))
        assert SENSOR_READINGS.name(s.topic_prefix) in sensors["lag"]["sensors"]
        assert set(sensors["lag"]["sink"]) == {SENSOR_READINGS.name(s.topic_prefix)}
        data = wait_for("job health naming every consumer",
                        lambda: health("reader", {"agents", "registers", "sink"}))
        lag = data["lag"]
        assert "sensors" not in lag
        assert CASE_EVENTS.name(s.topic_prefix) in lag["agents"]
        assert DEPARTMENT_RECORDS.name(s.topic_prefix) in lag["registers"]
        assert ROWS.name(s.topic_prefix) in lag["sink"]
        assert CASE_EVENTS.name(s.topic_prefix) in lag["sink"]
        assert SENSOR_READINGS.name(s.topic_prefix) not in lag["sink"]
        for figures in (data, sensors):
            assert figures["lag_total"] == sum(
                v for topics in figures["lag"].values() for parts in topics.values()
                for v in parts.values())

        cases = data["recovery"]["cases"]
        assert {int(p): f["highwater"] for p, f in cases["partitions"].items()} == {
            p: end - 1 for p, end in ends.items()}  # Faust's highwater: the last offset
        for figures in cases["partitions"].values():
            assert (figures["offset"], figures["remaining"], figures["progress"]) == (
                figures["highwater"], 0, 1.0)
        assert (cases["progress"], cases["remaining"]) == (1.0, 0)
        assert set(data["recovery"]["alerts"]["partitions"]) == {"0", "1", "2", "3"}
    finally:
        wall.stop()
        second.stop()
