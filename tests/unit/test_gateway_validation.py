"""Decoding and geocoding: field-naming refusals, one-or-many bodies, the placement rules."""

from __future__ import annotations

import json

import pytest

from domain.geo import street
from domain.schemas import CaseEvent, DepartmentRecord, SensorReading
from ingest.gateway.payloads import decode_items, decode_readings, first_byte
from ingest.gateway.placement import Placer
from ingest.gateway.rejects import Rejected
from tests.unit.test_gateway_support import inside, reading, report


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
