"""Kafka with SASL: every GridWall client speaks it, a client without it is refused.

This test starts ITS OWN broker (own ports and data dir, the shared broker's jars) whose
client listener is SASL_PLAINTEXT with the PLAIN mechanism (``gridwall infra up`` writes the
same config from the ``GRIDWALL_KAFKA_*`` settings). With those settings the topics are
created (kafka-python admin), the gateway's ``/healthz`` canary produce is acknowledged and a
report posted to it is accepted (the gateway's producer), and the worker (Faust and its plain
aiokafka loops) applies it and writes the case row to ClickHouse. A client with no SASL, or
with a wrong password, gets no metadata.
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from pathlib import Path

import httpx
import pytest

from bench.common import free_port
from core.auth import ensure_dev_tokens
from core.settings import Settings, settings_from
from tests.e2e.conftest import Proc, stack_env
from tests.integration.test_broker_crash import start_broker
from tests.unit.test_gateway_support import bearer, report

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]


def metadata_answered(s: Settings, **client: object) -> bool:
    """True if an admin client with these options lists the broker's topics."""
    from kafka import KafkaAdminClient

    try:
        admin = KafkaAdminClient(bootstrap_servers=s.kafka_bootstrap, request_timeout_ms=5000,
                                 **client)
    except Exception:  # noqa: BLE001 - refused while connecting: not answered
        return False
    try:
        admin.list_topics()
        return True
    except Exception:  # noqa: BLE001 - refused: not answered
        return False
    finally:
        admin.close()


def test_gateway_and_worker_run_over_sasl_and_others_are_refused(
        infra: Settings, run_id: str, tmp_path: Path) -> None:
    from clickhouse_driver import Client

    from infra.migrate import migrate
    from infra.topics import ensure_stream_topics

    password = secrets.token_urlsafe(12)
    env = stack_env(run_id, tmp_path, GRIDWALL_KAFKA_BOOTSTRAP=f"127.0.0.1:{free_port()}",
                    GRIDWALL_KAFKA_CONTROLLER_PORT=str(free_port()),
                    GRIDWALL_KAFKA_HEAP_MB="384", GRIDWALL_TOPIC_PREFIX=f"sasl{run_id}.",
                    GRIDWALL_CLICKHOUSE_DATABASE=f"gw_sasl_{run_id}",
                    GRIDWALL_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
                    GRIDWALL_KAFKA_SASL_MECHANISM="PLAIN",
                    GRIDWALL_KAFKA_USERNAME="gridwall", GRIDWALL_KAFKA_PASSWORD=password)
    s = settings_from({k: v for k, v in env.items() if k.startswith("GRIDWALL_")})
    broker = start_broker(s, infra)
    client = Client(s.clickhouse_host, port=s.clickhouse_port)
    procs: list[Proc] = []
    try:
        sasl = {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN",
                "sasl_plain_username": "gridwall"}
        assert metadata_answered(s, **sasl, sasl_plain_password=password)
        assert not metadata_answered(s, **sasl, sasl_plain_password=password + "x")
        assert not metadata_answered(s)  # PLAINTEXT to a SASL listener
        ensure_stream_topics(s)
        list(migrate(client, s.clickhouse_database))
        tokens = ensure_dev_tokens(s.resolved_tokens_file)
        procs.append(Proc("worker", ["worker", "--worker-id", "sasl-worker",
                                                  "--loglevel", "info"], env, tmp_path))
        procs.append(Proc("gateway", ["gateway"], env, tmp_path))
        gateway = f"http://127.0.0.1:{s.gateway_port}"
        procs[1].wait_http(f"{gateway}/healthz", 120)  # 200 only once a produce is acked
        procs[0].wait_log("Worker]: Ready", 180)
        event_id = f"sasl-{uuid.uuid4().hex[:8]}"
        answer = httpx.post(f"{gateway}/v1/cases/events", json=report(event_id),
                            headers=bearer(tokens["feed"]), timeout=30)
        assert answer.status_code == 202, answer.text
        deadline = time.monotonic() + 180  # a liveness bound
        rows: list[tuple[str, str]] = []
        while time.monotonic() < deadline and not rows:
            rows = client.execute(f"SELECT case_id, step FROM {s.clickhouse_database}.cases "
                                  f"FINAL WHERE case_id = 'case-{event_id}'")
            time.sleep(1)
        assert rows == [(f"case-{event_id}", "reported")], procs[0].tail()
    finally:
        for proc in reversed(procs):
            proc.stop()
        broker.down()
        if not os.environ.get("GRIDWALL_TEST_KEEP_DATA"):
            client.execute(f"DROP DATABASE IF EXISTS {s.clickhouse_database}")
        client.disconnect()
