"""Wire schemas: valid payloads decode; invalid ones fail naming the field."""

from __future__ import annotations

import msgspec
import pytest

from domain.schemas import CaseEvent, DepartmentRecord, SensorBatch, SensorReading
from domain.wire import WireError, decode, decode_one_or_many, encode

REPORT = {"event_id": "e-1", "case_id": "c-1", "action": "report", "ts": 1_700_000_000_000,
          "source": "resident_app", "category": "noise", "grid_id": "PL01-01"}


def _bytes(value: object) -> bytes:
    return msgspec.json.encode(value)


def test_valid_report_round_trips() -> None:
    event = decode(_bytes(REPORT), CaseEvent)
    assert event.category == "noise" and event.priority == "normal"
    assert decode(encode(event), CaseEvent) == event


def test_one_or_many() -> None:
    assert len(decode_one_or_many(_bytes(REPORT), CaseEvent)) == 1
    assert len(decode_one_or_many(_bytes([REPORT, REPORT]), CaseEvent)) == 2


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"category": None}, "category", "required"),
    ({"action": "fly"}, "action", "Invalid enum value"),
    ({"ts": -5}, "ts", ">= 0"),
    ({"event_id": ""}, "event_id", "length"),
    ({"event_id": "bad id with spaces"}, "event_id", "matching regex"),
    ({"lon": 117.9}, "lon", "together"),
    ({"surprise": 1}, "surprise", "unknown field"),
    ({"rating": 9, "action": "evaluate"}, "rating", "<= 5"),
    ({"grid_id": None}, "grid_id", "required"),
])
def test_invalid_report_names_the_field(change: dict[str, object], field: str,
                                        words: str) -> None:
    payload = {**REPORT, **change}
    payload = {k: v for k, v in payload.items() if v is not None}
    with pytest.raises(WireError) as info:
        decode(_bytes(payload), CaseEvent)
    assert info.value.field == field
    assert words in info.value.reason


def test_missing_required_field_is_named() -> None:
    payload = {k: v for k, v in REPORT.items() if k != "case_id"}
    with pytest.raises(WireError) as info:
        decode(_bytes(payload), CaseEvent)
    assert (info.value.field, info.value.reason) == ("case_id", "required field is missing")


def test_batch_error_names_the_index() -> None:
    with pytest.raises(WireError) as info:
        decode_one_or_many(_bytes([REPORT, {**REPORT, "source": "nobody"}]), CaseEvent)
    assert info.value.field == "events[1].source"


@pytest.mark.parametrize("raw", [b"{bad", b"42", b"[]", b""])
def test_malformed_bodies(raw: bytes) -> None:
    with pytest.raises(WireError):
        decode_one_or_many(raw, CaseEvent)


def test_sensor_batch_nested_error() -> None:
    batch = {"batch_id": "b1", "grid_id": "PL01-01", "received_ms": 1, "source": "sensor",
             "readings": [{"sensor_id": "S1", "kind": "smoke", "value": 0.1, "ts": 1},
                          {"sensor_id": "S2", "kind": "laser", "value": 0.1, "ts": 1}]}
    with pytest.raises(WireError) as info:
        decode(_bytes(batch), SensorBatch)
    assert info.value.field == "readings[1].kind"


def test_sensor_reading_and_department_record() -> None:
    reading = decode(b'{"sensor_id":"S1","kind":"gas","value":3.5,"ts":5}', SensorReading)
    assert reading.value == 3.5
    record = decode(_bytes({"record_id": "r1", "record_type": "resident", "ts": 1,
                            "grid_id": "PL01-01", "attributes": {"age": 81, "elderly": True},
                            "person_name": "张三"}), DepartmentRecord)
    assert record.attributes["age"] == 81
    with pytest.raises(WireError) as info:
        decode(_bytes({"record_id": "r1", "record_type": "alien", "ts": 1}), DepartmentRecord)
    assert info.value.field == "record_type"
