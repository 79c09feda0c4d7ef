"""Decoding and geocoding: field-naming refusals, one-or-many bodies, the placement rules;
plausible values, attributes and times; ids reused for another payload."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import yaml

from core.settings import Settings, settings_from
from domain.geo import street
from domain.schemas import CaseEvent, DepartmentRecord, SensorReading
from domain.vocab import SENSOR_KINDS, SENSORS
from ingest.gateway.app import create_app
from ingest.gateway.case_view import MemoryCaseView
from ingest.gateway.payloads import decode_items, decode_readings, first_byte
from ingest.gateway.placement import Placer
from ingest.gateway.rejects import Rejected
from tests.unit.test_gateway_app import EVENTS, READINGS, Gateway
from tests.unit.test_gateway_support import (
    MemoryWriter,
    department_record,
    inside,
    reading,
    report,
    token_book,
)


def raw(value: object) -> bytes:
    return json.dumps(value).encode()


def test_first_byte_skips_json_whitespace() -> None:
    assert first_byte(b" \n\t[1]") == b"["
    assert first_byte(b"   ") == b""


def test_one_object_or_an_array() -> None:
    one = decode_items(raw(report("e1")), CaseEvent, "events")
    assert one.single and one.prefix(0) == "" and one.items[0].event_id == "e1"
    many = decode_items(raw([report("e1"), report("e2")]), CaseEvent, "events")
    assert not many.single and many.prefix(1) == "events[1]" and len(many.items) == 2


@pytest.mark.parametrize(("body", "field", "words"), [
    (raw([report("e1"), report("e2", category="nope")]), "events[1].category", "enum"),
    (raw(report("e1", unknown=1)), "unknown", "unknown field"),
    (raw({k: v for k, v in report("e1").items() if k != "ts"}), "ts", "required"),
    (raw([]), "events", "empty batch"),
    (b"{not json", None, "malformed"),
    (b"42", None, "object or an array"),
    (b"", None, "object or an array"),
    (b'{"event_id": "\xff"}', None, "UTF-8"),
    (raw(report("e1", action="evaluate")), "rating", "required"),
])
def test_bad_bodies_name_the_field(body: bytes, field: str | None, words: str) -> None:
    with pytest.raises(Rejected) as caught:
        decode_items(body, CaseEvent, "events")
    assert caught.value.status == 422
    assert caught.value.field == field
    assert words in caught.value.reason


def test_readings_object_and_bare_array_name_fields_alike() -> None:
    assert len(decode_readings(raw({"readings": [reading()]})).readings) == 1
    assert decode_readings(raw([reading()])).source == "sensor"
    for body in (raw({"readings": [reading(), reading(kind="x")]}),
                 raw([reading(), reading(kind="x")])):
        with pytest.raises(Rejected) as caught:
            decode_readings(body)
        assert caught.value.field == "readings[1].kind"


@pytest.fixture(scope="module")
def placer() -> Placer:
    return Placer(street())


def test_coordinates_choose_the_grid(placer: Placer) -> None:
    lon, lat, grid = inside(5)
    assert placer.grid_of(CaseEvent(**report("e", 5))) == grid
    assert placer.grid_of(DepartmentRecord(record_id="r", record_type="incident", ts=1,
                                           lon=lon, lat=lat)) == grid


def test_an_explicit_grid_wins_but_must_exist(placer: Placer) -> None:
    _, _, grid = inside(3)
    assert placer.grid_of(CaseEvent(**report("e", 7, grid_id=grid))) == grid
    with pytest.raises(Rejected) as caught:
        placer.grid_of(CaseEvent(**report("e", grid_id="XX99")), "events[2]")
    assert (caught.value.code, caught.value.field) == ("unknown_grid", "events[2].grid_id")


def test_points_outside_the_street_are_refused(placer: Placer) -> None:
    min_lon, min_lat, _, _ = street().bbox
    for event in (report("e", lon=min_lon - 0.01, lat=min_lat),
                  report("e", lon=min_lon - 0.01, lat=min_lat, grid_id=inside(0)[2])):
        with pytest.raises(Rejected) as caught:
            placer.grid_of(CaseEvent(**event))
        assert (caught.value.status, caught.value.code) == (422, "outside_street")
        assert caught.value.field == "lon"


def test_every_event_needs_a_place(placer: Placer) -> None:
    verify = CaseEvent(event_id="v", case_id="c", action="verify", ts=1,
                       source="grid_worker_app")
    with pytest.raises(Rejected) as caught:
        placer.grid_of(verify)
    assert caught.value.field == "grid_id" and "place is required" in caught.value.reason


def test_readings_fall_back_to_the_registered_sensor(placer: Placer) -> None:
    sensor = list(street().sensors.values())[0]
    assert placer.grid_of_reading(SensorReading(**reading(0))) == sensor.grid_id
    with pytest.raises(Rejected) as caught:
        placer.grid_of_reading(SensorReading(**reading(0, sensor_id="NOPE")), "readings[4]")
    assert caught.value.field == "readings[4].grid_id"


# -- plausibility: values, attributes, times (the gateway end to end, in-process) ----------

DEPARTMENT = "/v1/departments/civil_affairs/records"
NOW_MS = int(time.time() * 1000)


async def refused(gw: Gateway, path: str, body: object) -> tuple[str, str]:
    """Post ``body``; assert a 422 with its dead-letter copy and nothing produced."""
    before = {topic: len(gw.writer.on(topic)) for topic in PRODUCED}
    response = await gw.post(path, body)
    assert response.status_code == 422, response.text
    letter = gw.dead_letters()[-1]
    assert letter.field == response.json()["field"] and letter.stage == "gateway"
    assert {topic: len(gw.writer.on(topic)) for topic in PRODUCED} == before
    return response.json()["field"], response.json()["reason"]


PRODUCED = ("gridwall.cases.events", "gridwall.sensors.readings",
            "gridwall.departments.records")


@pytest.mark.parametrize(("attributes", "field", "words"), [
    ({"households": 1e18}, "records[1].attributes.households", "whole number"),
    ({"households": 10**19}, "records[1].attributes.households", "plausible range"),
    ({"households": -3}, "records[1].attributes.households", "plausible range"),
    ({"households": 2.5}, "records[1].attributes.households", "whole number"),
    ({"households": "12"}, "records[1].attributes.households", "whole number"),
    ({"floors": True}, "records[1].attributes.floors", "whole number"),
    ({"has_elevator": 1}, "records[1].attributes.has_elevator", "true or false"),
    ({"lovers_of_cats": 3}, "records[1].attributes.lovers_of_cats", "unknown attribute"),
    ({"structure": "x" * 100}, "records[1].attributes.structure", "longer than 32"),
    ({"name": "x" * 100_000}, "records[1].attributes[...]", "length <= 500"),
])
async def test_department_attributes_come_from_a_closed_plausible_set(
        gw: Gateway, attributes: dict[str, object], field: str, words: str) -> None:
    good = department_record("b1", record_type="building", attributes={"households": 24})
    bad = department_record("b2", record_type="building", attributes=attributes)
    got_field, reason = await refused(gw, DEPARTMENT, [good, bad])
    assert got_field == field and words in reason


async def test_figure_making_values_are_closed_too(gw: Gateway) -> None:
    field, reason = await refused(gw, DEPARTMENT, department_record(
        "i1", attributes={"kind": "<script>alert(1)</script>"}))
    assert field == "attributes.kind" and "theft" in reason
    field, _ = await refused(gw, DEPARTMENT, department_record(
        "s1", record_type="special_group", attributes={"group": "张三 13812345678"}))
    assert field == "attributes.group"
    ok = await gw.post(DEPARTMENT, department_record(
        "s2", record_type="special_group", attributes={"group": "veteran", "age": 91}))
    assert ok.status_code == 202


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"value": -1.7e308}, "readings[1].value", "outside the plausible range"),
    ({"value": 1e300}, "readings[1].value", "outside the plausible range"),
    ({"value": -0.5}, "readings[1].value", "outside the plausible range"),
    ({"ts": 1000}, "readings[1].ts", "before its receipt"),
    ({"ts": NOW_MS + 3_600_000}, "readings[1].ts", "after its receipt"),
])
async def test_sensor_values_and_times_must_be_plausible(
        gw: Gateway, change: dict[str, object], field: str, words: str) -> None:
    got_field, reason = await refused(gw, READINGS, [reading(0), reading(1, **change)])
    assert got_field == field and words in reason


def test_every_sensor_kind_has_limits_wider_than_its_alert_bands() -> None:
    bands = yaml.safe_load((Path(__file__).parents[2] / "config/thresholds.yaml")
                           .read_text())["kinds"]
    assert set(bands) == set(SENSORS) == set(SENSOR_KINDS)
    for kind, spec in SENSORS.items():
        assert spec.unit == bands[kind]["unit"]
        assert spec.low <= 0 < bands[kind]["warning_above"] < bands[kind]["critical_above"]
        assert bands[kind]["critical_above"] < spec.high


@pytest.mark.parametrize(("ts", "words"), [
    (1000, "more than 7 day(s) before its receipt"),
    (NOW_MS - 8 * 86_400_000, "more than 7 day(s) before its receipt"),
    (NOW_MS + 3_600_000, "more than 5 minute(s) after its receipt"),
])
async def test_event_times_outside_the_window_are_refused(gw: Gateway, ts: int,
                                                          words: str) -> None:
    field, reason = await refused(gw, EVENTS, [report("t1"), report("t2", ts=ts)])
    assert field == "events[1].ts" and words in reason
    assert (await gw.post(EVENTS, report("t3", ts=NOW_MS - 6 * 86_400_000))).status_code == 202


async def test_the_window_comes_from_the_settings() -> None:
    s = settings_from({"GRIDWALL_EVENT_MAX_AGE_S": "60", "GRIDWALL_EVENT_MAX_AHEAD_S": "1"})
    async with gateway(s) as gw:
        field, reason = await refused(gw, EVENTS, report("w1", ts=NOW_MS - 120_000))
        assert field == "ts" and "1 minute(s)" in reason
        field, _ = await refused(gw, EVENTS, report("w2", ts=int(time.time() * 1000) + 5_000))
        assert field == "ts"


async def test_a_department_version_may_be_old_but_not_in_the_future(gw: Gateway) -> None:
    assert (await gw.post(DEPARTMENT, department_record("v1", ts=1000))).status_code == 202
    field, reason = await refused(gw, DEPARTMENT,
                                  department_record("v2", ts=NOW_MS + 86_400_000))
    assert field == "ts" and "after its receipt" in reason


# -- the same id with another payload: 409, dead-lettered; the same payload: 200 ------------


async def test_an_event_id_reused_for_another_payload_is_a_conflict(gw: Gateway) -> None:
    first = report("c1")
    assert (await gw.post(EVENTS, first)).status_code == 202
    assert (await gw.post(EVENTS, first)).status_code == 200  # a retry: idempotent
    other = dict(first, description="something else entirely")
    response = await gw.post(EVENTS, [report("c2"), other])
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["error"] == "conflict" and body["field"] == "events[1].event_id"
    assert "'c1'" in body["reason"] and "different payload" in body["reason"]
    [letter] = gw.dead_letters()
    assert letter.field == "events[1].event_id" and letter.reason.startswith("conflict")
    assert "something else entirely" in letter.raw
    assert len(gw.writer.on("gridwall.cases.events")) == 1  # c2 not produced either
    assert (await gw.post(EVENTS, report("c2"))).status_code == 202  # c2 was left unseen


async def test_a_conflict_inside_one_request_is_refused(gw: Gateway) -> None:
    response = await gw.post(EVENTS, [report("x1"), report("x1", description="other")])
    assert response.status_code == 409 and response.json()["field"] == "events[1].event_id"
    same = await gw.post(EVENTS, [report("x2", ts=NOW_MS), report("x2", ts=NOW_MS)])
    assert same.status_code == 202 and same.json()["duplicate_ids"] == ["x2"]


async def test_request_ids_and_record_versions_conflict_too(gw: Gateway) -> None:
    readings = [reading(0), reading(1)]
    assert (await gw.post(READINGS, {"request_id": "q1", "readings": readings})
            ).status_code == 202
    assert (await gw.post(READINGS, {"request_id": "q1", "readings": readings})
            ).status_code == 200
    changed = await gw.post(READINGS, {"request_id": "q1", "readings": readings[:1]})
    assert changed.status_code == 409 and changed.json()["field"] == "request_id"
    record = department_record("r1", ts=NOW_MS)
    assert (await gw.post(DEPARTMENT, record)).status_code == 202
    assert (await gw.post(DEPARTMENT, record)).status_code == 200
    edited = await gw.post(DEPARTMENT, dict(record, attributes={"kind": "gas_leak"}))
    assert edited.status_code == 409 and edited.json()["field"] == "record_id"
    newer = await gw.post(DEPARTMENT, dict(record, ts=NOW_MS + 1, attributes={"kind": "gas_leak"}))
    assert newer.status_code == 202  # a new version is not a conflict


@contextlib.asynccontextmanager
async def gateway(s: Settings) -> AsyncIterator[Gateway]:
    """The gateway in-process with ``s``, an in-memory writer instead of Kafka."""
    writer = MemoryWriter()
    app = create_app(s, tokens=token_book(), writer=writer, view=MemoryCaseView())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield Gateway(client, writer, app)
    app.state.gateway.producer.close()


@pytest.fixture()
async def gw() -> AsyncIterator[Gateway]:
    async with gateway(settings_from({})) as g:
        yield g


def test_the_documented_sensor_ranges_are_the_vocabularys() -> None:
    doc = (Path(__file__).parents[2] / "docs/gateway.md").read_text()
    rows = re.findall(r"`(\w+)` (\S+)\s+to\s+(\S+)\s+(\S+?)[,;]", doc)
    documented = {kind: (unit.strip(), float(low.replace("−", "-").replace(",", "")),
                         float(high.replace(",", ""))) for kind, low, high, unit in rows}
    assert len(documented) == 3
    assert documented == {k: (s.unit, s.low, s.high) for k, s in SENSORS.items()
                          if k in documented}


async def test_a_record_holds_at_most_32_attributes(gw: Gateway) -> None:
    many = {f"a{i}": i for i in range(33)}
    field, reason = await refused(gw, DEPARTMENT, department_record("m1", attributes=many))
    assert field == "attributes" and "32" in reason
