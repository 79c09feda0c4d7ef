"""Open311 pieces: form to report, the 90-day window, steps mapped onto open/closed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from starlette.datastructures import QueryParams

from ingest.gateway.open311.post import form_fields, report_of
from ingest.gateway.open311.reads import MAX_SPAN_MS, case_query, date_window
from ingest.gateway.open311.services import service_definition, service_list
from ingest.gateway.rejects import Rejected

NOW = int(datetime(2024, 6, 1, tzinfo=UTC).timestamp() * 1000)
DAY = 24 * 3600 * 1000


def form(**fields: str) -> dict[str, str]:
    base = {"service_code": "noise", "lat": "37.38", "long": "117.96"}
    base.update(fields)
    return base


def test_services_cover_every_category_and_definitions_have_no_attributes() -> None:
    codes = [s["service_code"] for s in service_list()]
    assert "noise" in codes and len(codes) == len(set(codes))
    assert service_definition("noise") == {"service_code": "noise", "attributes": []}
    assert service_definition("nope") is None


def test_a_form_becomes_a_report() -> None:
    event = report_of(form(description="loud", first_name="张", last_name="三", phone="138",
                           address_string="3 Hill Rd", event_id="client-1"))
    assert (event.action, event.source, event.category) == ("report", "open311", "noise")
    assert (event.lon, event.lat) == (117.96, 37.38)
    assert event.reporter_name == "张 三" and event.note == "3 Hill Rd"
    assert event.event_id == "client-1"
    assert report_of(form(event_id="client-1")).case_id == event.case_id  # retry, same id


@pytest.mark.parametrize(("fields", "field"), [
    ({"service_code": ""}, "service_code"),
    ({"service_code": "potholes"}, "service_code"),
    ({"lat": ""}, "lat"),
    ({"long": "east"}, "long"),
    ({"lat": "nan"}, "lat"),
    ({"description": "x" * 3000}, "description"),
    ({"event_id": "has spaces"}, "event_id"),
    ({"account_id": "a" * 200}, "account_id"),
])
def test_form_errors_name_the_form_field(fields: dict[str, str], field: str) -> None:
    with pytest.raises(Rejected) as caught:
        report_of(form(**fields))
    assert caught.value.status == 422 and caught.value.field == field


def test_form_fields_first_value_wins_and_bad_forms_are_refused() -> None:
    assert form_fields(b"a=1&a=2&b=%E5%BC%A0") == {"a": "1", "b": "张"}
    with pytest.raises(Rejected):
        form_fields(b"\xff\xfe=1")
    with pytest.raises(Rejected):
        form_fields(b"&".join(b"f%d=1" % i for i in range(100)))


def test_the_date_window_defaults_to_the_last_90_days() -> None:
    assert date_window(QueryParams(""), NOW) == (NOW - MAX_SPAN_MS, NOW)
    start, end = date_window(QueryParams("start_date=2024-01-01T00:00:00Z"), NOW)
    assert end - start == MAX_SPAN_MS
    start, end = date_window(QueryParams("end_date=2024-03-01T00:00:00+08:00"), NOW)
    assert end - start == MAX_SPAN_MS
    start, end = date_window(QueryParams("start_date=2024-01-01&end_date=2024-03-30"), NOW)
    assert end - start == 89 * DAY
    spaced, _ = date_window(QueryParams("start_date=2024-01-01 10:00:00"), NOW)
    assert spaced == int(datetime(2024, 1, 1, 10, tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(("query", "field"), [
    ("start_date=2024-01-01T00:00:00Z&end_date=2024-05-01T00:00:00Z", "end_date"),
    ("start_date=2024-02-01&end_date=2024-01-01", "end_date"),
    ("start_date=yesterday", "start_date"),
    ("end_date=2024-13-01", "end_date"),
    ("status=pending", "status"),
])
def test_bad_read_parameters_are_400_naming_them(query: str, field: str) -> None:
    with pytest.raises(Rejected) as caught:
        case_query(QueryParams(query), NOW)
    assert caught.value.status == 400 and caught.value.field == field
