"""Shared fixtures.

Integration tests (``@pytest.mark.integration``) talk to the real Kafka broker and the
real ClickHouse server: the session fixture :func:`infra` starts them with ``gridwall infra
up`` (reusing running ones) and fails loudly if they cannot start; nothing is skipped.
Each test session gets its own topic prefix and ClickHouse database, so runs never see each
other's data; :func:`gw_settings` holds them and :func:`gw_env` the matching environment
for child processes.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from core.settings import Settings, settings_from


@pytest.fixture(scope="session")
def run_id() -> str:
    """A short id unique to this test session."""
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def gw_env(run_id: str) -> dict[str, str]:
    """Environment for GridWall processes of this test session (own topics and database)."""
    env = {k: v for k, v in os.environ.items() if k.startswith("GRIDWALL_")}
    env.setdefault("GRIDWALL_TOPIC_PREFIX", f"t{run_id}.")
    env.setdefault("GRIDWALL_CLICKHOUSE_DATABASE", f"gw_test_{run_id}")
    return env


@pytest.fixture(scope="session")
def gw_settings(gw_env: dict[str, str]) -> Settings:
    """Settings of this test session."""
    return settings_from(gw_env)


@pytest.fixture(scope="session")
def infra(gw_settings: Settings) -> Iterator[Settings]:
    """Real Kafka and ClickHouse, up, migrated, with this session's topics created."""
    from clickhouse_driver import Client

    from infra.clickhouse_server import ClickHouseServer
    from infra.kafka_server import KafkaServer
    from infra.migrate import migrate
    from infra.topics import ensure_topics

    for server in (KafkaServer(gw_settings), ClickHouseServer(gw_settings)):
        server.up()
    client = Client(gw_settings.clickhouse_host, port=gw_settings.clickhouse_port)
    list(migrate(client, gw_settings.clickhouse_database))
    ensure_topics(gw_settings)
    yield gw_settings
    if not os.environ.get("GRIDWALL_TEST_KEEP_DATA"):
        client.execute(f"DROP DATABASE IF EXISTS {gw_settings.clickhouse_database}")
        from infra.topics import delete_prefixed_topics

        # The session's topics (its own prefix, sub-prefixes and Faust changelogs included):
        # left behind, thousands of them reach the broker's open-files limit and stop it.
        delete_prefixed_topics(gw_settings)
    client.disconnect()


@pytest.fixture()
def ch(infra: Settings) -> Iterator[object]:
    """A clickhouse-driver Client on the test database's server."""
    from clickhouse_driver import Client

    client = Client(infra.clickhouse_host, port=infra.clickhouse_port)
    yield client
    client.disconnect()
