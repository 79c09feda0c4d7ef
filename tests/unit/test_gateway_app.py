"""The gateway end to end in-process (ASGI) with an in-memory writer instead of Kafka."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
import pytest
from fastapi import FastAPI

from core.settings import settings_from
from domain.schemas import CaseEvent, DeadLetter, DepartmentRecord, SensorBatch
from ingest.gateway.app import create_app
from ingest.gateway.case_view import MemoryCaseView
from tests.unit.test_gateway_support import (
    FEED,
    SENSOR_ONLY,
    MemoryWriter,
    bearer,
    department_record,
    inside,
    reading,
    report,
    token_book,
)

EVENTS = "/v1/cases/events"
READINGS = "/v1/sensors/readings"
MAX_BODY = 200_000


@dataclass
class Gateway:
    client: httpx.AsyncClient
    writer: MemoryWriter
    app: FastAPI

    def dead_letters(self) -> list[DeadLetter]:
        return [msgspec.json.decode(r.value, type=DeadLetter)
                for r in self.writer.on("gridwall.deadletter")]

    async def post(self, path: str, body: Any, token: str | None = FEED) -> httpx.Response:
        headers = bearer(token) if token else {}
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return await self.client.post(path, content=content, headers=headers)


@pytest.fixture()
async def gw() -> AsyncIterator[Gateway]:
    writer = MemoryWriter()
    s = settings_from({"GRIDWALL_MAX_BODY_BYTES": str(MAX_BODY)})
    app = create_app(s, tokens=token_book(), writer=writer, view=MemoryCaseView())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield Gateway(client, writer, app)
    app.state.gateway.producer.close()


async def test_a_report_is_produced_keyed_by_its_grid_with_the_grid_filled_in(gw: Gateway
                                                                              ) -> None:
    response = await gw.post(EVENTS, report("e1", 4))
    assert response.status_code == 202
    assert response.json()["ids"] == ["e1"] and response.json()["duplicate"] is False
    [record] = gw.writer.on("gridwall.cases.events")
    event = msgspec.json.decode(record.value, type=CaseEvent)
    assert record.key == event.grid_id == inside(4)[2]


async def test_a_batch_is_all_or_nothing(gw: Gateway) -> None:
    response = await gw.post(EVENTS, [report("a"), report("b", category="nope")])
    assert response.status_code == 422
    assert response.json()["field"] == "events[1].category"
    assert gw.writer.on("gridwall.cases.events") == []


async def test_a_duplicate_is_answered_as_such_and_not_produced_again(gw: Gateway) -> None:
    d1 = report("d1")  # a retry sends the same body
    assert (await gw.post(EVENTS, d1)).status_code == 202
    again = await gw.post(EVENTS, d1)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    mixed = await gw.post(EVENTS, [d1, report("d2")])
    assert mixed.status_code == 202
    assert mixed.json()["ids"] == ["d2"] and mixed.json()["duplicate_ids"] == ["d1"]
    assert len(gw.writer.on("gridwall.cases.events")) == 2
    other_source = await gw.post(EVENTS, report("d1", source="grid_worker_app"))
    assert other_source.status_code == 202  # dedup is per source


@pytest.mark.parametrize(("body", "status", "code", "field"), [
    (b"{oops", 422, "malformed", None),
    (report("r1", category="nope"), 422, "invalid", "category"),
    (report("r1", lon=100.0, lat=30.0), 422, "outside_street", "lon"),
    (report("r1", lon=None, lat=None, grid_id="ZZ00"), 422, "unknown_grid", "grid_id"),
    ({"event_id": "v", "case_id": "c", "action": "verify", "ts": 1, "source": "resident_app"},
     422, "invalid", "grid_id"),
    (b"[]", 422, "invalid", "events"),
    (b"x" * (MAX_BODY + 1), 413, "too_large", "body"),
])
async def test_every_refusal_names_field_and_reason_and_is_dead_lettered(
        gw: Gateway, body: Any, status: int, code: str, field: str | None) -> None:
    response = await gw.post(EVENTS, body)
    assert response.status_code == status
    assert response.json()["error"] == code and response.json()["field"] == field
    assert response.json()["reason"]
    [letter] = gw.dead_letters()
    assert letter.source == "cases" and letter.stage == "gateway" and letter.field == field
    assert letter.reason.startswith(code)
    assert gw.writer.on("gridwall.cases.events") == []


async def test_an_oversized_body_keeps_only_a_capped_raw_copy(gw: Gateway) -> None:
    response = await gw.post(EVENTS, b"y" * (MAX_BODY * 3))
    assert response.status_code == 413
    [letter] = gw.dead_letters()
    assert letter.raw_truncated and len(letter.raw) == 65536


async def test_a_chunked_body_is_cut_off_once_it_passes_the_limit(gw: Gateway) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(50):  # 50 x 10 kB, never declared: read only until the limit passes
            yield b"z" * 10_000

    response = await gw.client.post(EVENTS, content=chunks(), headers=bearer(FEED))
    assert response.status_code == 413 and response.json()["field"] == "body"
    [letter] = gw.dead_letters()
    assert letter.raw_truncated


@pytest.mark.parametrize(("token", "status", "field"), [
    (None, 401, "authorization"),
    ("not-a-known-token", 401, "authorization"),
    ("viewer-token-00000003", 403, "authorization"),
    (SENSOR_ONLY, 403, "source"),
])
async def test_auth_refusals_are_dead_lettered_unless_unauthenticated(
        gw: Gateway, token: str | None, status: int, field: str) -> None:
    response = await gw.post(EVENTS, report("a1"), token=token)
    assert response.status_code == status and response.json()["field"] == field
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    assert len(gw.dead_letters()) == (0 if status == 401 else 1)  # a 401 is only counted


async def test_a_non_ascii_api_key_is_just_unknown(gw: Gateway) -> None:
    lon, lat, _ = inside(0)
    response = await gw.client.post("/open311/v2/requests.json", data={
        "api_key": "令牌令牌令牌令牌", "service_code": "noise", "lat": str(lat), "long": str(lon)})
    assert response.status_code == 401 and response.json()[0]["field"] == "authorization"
    assert gw.dead_letters() == []  # unauthenticated: counted, not stored


async def test_kafka_down_answers_503_and_the_retry_is_produced(gw: Gateway) -> None:
    gw.writer.fail = True
    down = await gw.post(EVENTS, report("k1"))
    assert down.status_code == 503 and down.headers["retry-after"].isdigit()
    refused = await gw.post(EVENTS, report("k2", category="nope"))
    assert refused.status_code == 422  # the dead-letter copy failed; the answer stands
    gw.writer.fail = False
    retry = await gw.post(EVENTS, report("k1"))
    assert retry.status_code == 202 and retry.json()["duplicate"] is False
    assert len(gw.writer.on("gridwall.cases.events")) == 1


async def test_readings_become_one_message_per_grid(gw: Gateway) -> None:
    readings = [reading(i) for i in range(40)]
    response = await gw.post(READINGS, {"request_id": "req-1", "readings": readings})
    assert response.status_code == 202 and response.json()["readings"] == 40
    batches = [msgspec.json.decode(r.value, type=SensorBatch)
               for r in gw.writer.on("gridwall.sensors.readings")]
    assert sum(len(b.readings) for b in batches) == 40
    assert len({b.grid_id for b in batches}) == len(batches)
    assert all(r.key == b.grid_id for r, b in zip(gw.writer.on("gridwall.sensors.readings"),
                                                    batches, strict=True))
    assert all(b.batch_id.startswith("req-1:") for b in batches)
    again = await gw.post(READINGS, {"request_id": "req-1", "readings": readings})
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert len(gw.writer.on("gridwall.sensors.readings")) == len(batches)


async def test_a_bad_reading_is_named_by_its_index(gw: Gateway) -> None:
    response = await gw.post(READINGS, [reading(0), reading(1, sensor_id="GHOST")])
    assert response.status_code == 422 and response.json()["field"] == "readings[1].grid_id"
    assert gw.dead_letters()[0].source == "sensors"


async def test_a_sensor_token_may_write_sensors_only(gw: Gateway) -> None:
    assert (await gw.post(READINGS, [reading(0)], token=SENSOR_ONLY)).status_code == 202
    simulated = await gw.post(READINGS, {"source": "simulator", "readings": [reading(0)]},
                              token=SENSOR_ONLY)
    assert simulated.status_code == 403 and simulated.json()["field"] == "source"


async def test_department_records_take_the_department_from_the_url(gw: Gateway) -> None:
    response = await gw.post("/v1/departments/police/records",
                             [department_record("p1", 2), department_record("p2", 3)])
    assert response.status_code == 202
    records = [msgspec.json.decode(r.value, type=DepartmentRecord)
               for r in gw.writer.on("gridwall.departments.records")]
    assert [r.department for r in records] == ["police", "police"]
    assert [r.grid_id for r in records] == [inside(2)[2], inside(3)[2]]
    mismatch = await gw.post("/v1/departments/police/records",
                             department_record("p3", department="fire"))
    assert mismatch.status_code == 422 and mismatch.json()["field"] == "department"
    unknown = await gw.post("/v1/departments/army/records", department_record("p4"))
    assert unknown.status_code == 422 and unknown.json()["field"] == "department"
    assert [d.source for d in gw.dead_letters()] == ["departments.police", "departments"]


async def test_metrics_count_requests_rejects_and_produce_latency(gw: Gateway) -> None:
    await gw.post(EVENTS, report("m1"))
    await gw.post(EVENTS, report("m2", category="nope"))
    text = (await gw.client.get("/metrics")).text
    assert ('gridwall_gateway_requests_total{route="/v1/cases/events",method="POST",'
            'status="202"} 1') in text
    assert 'gridwall_gateway_rejects_total{feed="cases",reason="invalid"} 1' in text
    assert "gridwall_gateway_produce_seconds_count 1" in text


async def test_the_openapi_document_describes_every_body(gw: Gateway) -> None:
    document = (await gw.client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    for path, media in ((EVENTS, "application/json"), (READINGS, "application/json"),
                        ("/v1/departments/{department}/records", "application/json"),
                        ("/open311/v2/requests.json", "application/x-www-form-urlencoded")):
        body = document["paths"][path]["post"]["requestBody"]["content"][media]["schema"]
        for ref in _refs(body):
            assert ref.rsplit("/", 1)[1] in schemas
    assert "CaseEvent" in schemas and "event_id" in schemas["CaseEvent"]["properties"]


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [node["$ref"]] if "$ref" in node else [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []
