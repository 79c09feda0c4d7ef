"""Kafka unreachable: 503 with Retry-After, never 202; once Kafka is back, the clients'
retries are produced and nothing that was acknowledged is lost or doubled.

The shared broker stays up (other sessions use it): "down" is a gateway pointed at a closed
port, and a writer that fails its first rounds before reaching the real broker. A real broker
crash (SIGKILL and SIGTERM of the test's own broker, then a restart) is
``test_broker_crash.py``.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import msgspec
import pytest

from core.kafka_writer import KafkaWriter
from core.settings import Settings
from domain.contracts.topics import CASE_EVENTS
from domain.schemas import CaseEvent
from domain.wire import decode_one_or_many
from tests.integration.test_gateway_support import read_topic, serve_gateway
from tests.unit.test_gateway_support import FEED, FlakyWriter, bearer, report

pytestmark = pytest.mark.integration
CLOSED = "127.0.0.1:1"


def post(url: str, body: Any) -> httpx.Response:
    return httpx.post(f"{url}/v1/cases/events", json=body, headers=bearer(FEED), timeout=30)


def counts(infra: Settings, ids: set[str]) -> dict[str, int]:
    """How many records of the case events topic carry each of ``ids``."""
    def tally(records: list[Any]) -> dict[str, int]:
        seen: dict[str, int] = {}
        for record in records:
            for event in decode_one_or_many(record.value, CaseEvent):
                event_id = event.event_id
                if event_id not in ids:
                    continue
                seen[event_id] = seen.get(event_id, 0) + 1
        return seen

    return tally(read_topic(infra, CASE_EVENTS, lambda rs: set(tally(rs)) >= ids))


def test_unreachable_kafka_answers_503_then_the_retries_land_once(infra: Settings) -> None:
    down = msgspec.structs.replace(infra, kafka_bootstrap=CLOSED)
    events = [report(f"out-{uuid.uuid4().hex[:10]}", index=i) for i in range(5)]
    with serve_gateway(down, ack_timeout_s=1.0) as gateway:
        for event in events:
            response = post(gateway.url, event)
            assert response.status_code == 503, response.text
            assert int(response.headers["retry-after"]) > 0
            assert response.json()["error"] == "kafka_unavailable"
        assert httpx.get(f"{gateway.url}/healthz").status_code == 503
        bad = post(gateway.url, report("bad", category="potholes"))
        assert bad.status_code == 422  # refused even though its dead-letter copy failed
    with serve_gateway(infra) as gateway:
        for event in events:
            response = post(gateway.url, event)
            assert response.status_code == 202 and response.json()["duplicate"] is False
    ids = {e["event_id"] for e in events}
    assert counts(infra, ids) == dict.fromkeys(ids, 1)


def test_kafka_coming_back_loses_nothing_acknowledged(infra: Settings) -> None:
    writer = FlakyWriter(KafkaWriter(infra, client_id="gateway-flaky-test"), failures=4)
    events = [report(f"flk-{uuid.uuid4().hex[:10]}", index=i) for i in range(12)]
    answers: dict[str, list[int]] = {}
    with serve_gateway(infra, writer=writer) as gateway:
        for event in events:
            for _ in range(10):  # a client retrying on 503
                status = post(gateway.url, event).status_code
                answers.setdefault(event["event_id"], []).append(status)
                if status != 503:
                    break
    assert any(503 in statuses for statuses in answers.values())
    assert all(statuses[-1] == 202 and set(statuses) <= {202, 503}
               for statuses in answers.values())
    ids = set(answers)
    assert counts(infra, ids) == dict.fromkeys(ids, 1)
