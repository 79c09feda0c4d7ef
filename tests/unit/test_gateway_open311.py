"""Open311 pieces: form to report, the 90-day window, steps mapped onto open/closed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.datastructures import QueryParams

from core.auth import TokenBook
from domain.privacy import mask_name
from ingest.gateway.case_view import CaseRecord
from ingest.gateway.open311.post import form_fields, report_of
from ingest.gateway.open311.publication import Publication, PublicationError
from ingest.gateway.open311.reads import MAX_SPAN_MS, case_query, date_window, trusted_reader
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
    event = report_of(form(description="loud", first_name="三丰", last_name="张", phone="138",
                           address_string="3 Hill Rd", event_id="client-1"))
    assert (event.action, event.source, event.category) == ("report", "open311", "noise")
    assert (event.lon, event.lat) == (117.96, 37.38)
    assert event.reporter_name == "张三丰" and event.note == "3 Hill Rd"
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
    ({"media_url": "javascript:alert(1)"}, "media_url"),
    ({"media_url": "https://img.example/a b.jpg"}, "media_url"),
    ({"media_url": "https://img.example/" + "p" * 600}, "media_url"),
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


@pytest.mark.parametrize(("first", "last", "full", "masked"), [
    ("三丰", "张", "张三丰", "张**"), ("娜娜", "欧阳", "欧阳娜娜", "欧阳**"),
    ("John", "Smith", "John Smith", "**** Smith"), ("", "张", "张", "张"),
])
def test_an_open311_name_keeps_its_family_name_when_masked(first: str, last: str, full: str,
                                                           masked: str) -> None:
    event = report_of(form(first_name=first, last_name=last))
    assert event.reporter_name == full and mask_name(event.reporter_name) == masked


def case(category: str = "noise", **fields: object) -> CaseRecord:
    values: dict[str, object] = {
        "case_id": f"c-{category}", "category": category, "step": "reported", "grid_id": "G1",
        "opened_ms": NOW, "updated_ms": NOW, "lon": 117.012345, "lat": 37.381234,
        "description": "call 13812345678 or a@b.cn, id 370102199001011234",
        "note": "at 138-1234-5678"}
    values.update(fields)
    return CaseRecord(**values)  # type: ignore[arg-type]


def test_public_reads_mask_free_text_coarsen_coordinates_and_hide_sensitive_categories(
        ) -> None:
    policy = Publication()
    shown = policy.publish([case(), case("elderly_care"), case("dispute")], trusted=False)
    assert [r["service_code"] for r in shown] == ["noise"]
    [request] = shown
    assert (request["lat"], request["long"]) == (37.381, 117.012)
    assert request["description"] == "call 138****5678 or a***@b.cn, id 3701************34"
    assert "138****5678" in str(request["status_notes"])
    for raw in ("13812345678", "370102199001011234", "1234-5678", "a@b.cn"):
        assert raw not in str(request)


def test_trusted_reads_see_every_category_exactly_but_free_text_stays_masked() -> None:
    shown = Publication().publish([case(), case("elderly_care")], trusted=True)
    assert [r["service_code"] for r in shown] == ["noise", "elderly_care"]
    assert shown[0]["lat"] == 37.381234 and "13812345678" not in str(shown[0])


def test_public_queries_leave_hidden_categories_out() -> None:
    query = case_query(QueryParams("service_code=dispute,noise"), NOW, frozenset({"dispute"}))
    assert query.categories == {"noise"}
    query = case_query(QueryParams(""), NOW, frozenset({"dispute"}))
    assert query.categories is not None and "dispute" not in query.categories


def test_publication_policy_from_config(tmp_path: Path) -> None:
    assert Publication.load(tmp_path) == Publication()  # no files: defaults
    (tmp_path / "publication.yaml").write_text(
        "coordinate_decimals: 2\ncategories: {noise: hidden, dispute: public}\n")
    policy = Publication.load(tmp_path)
    assert policy.coordinate_decimals == 2 and policy.hidden == {"noise"}
    assert Publication.load(Path(__file__).parents[2] / "config").hidden == {
        "elderly_care", "dispute"}
    for bad in ({"coordinate_decimals": 9}, {"categories": {"potholes": "hidden"}},
                {"categories": {"noise": "secret"}}, ["x"]):
        with pytest.raises(PublicationError):
            Publication.from_mapping(bad)


def test_a_reader_is_trusted_only_with_a_token_that_may_view() -> None:
    book = TokenBook.from_mapping({"viewer-token-1": {"role": "viewer"},
                                   "feed-token-12": {"role": "feed"}})
    assert trusted_reader(book, "Bearer viewer-token-1", QueryParams(""))
    assert trusted_reader(book, None, QueryParams("api_key=viewer-token-1"))
    assert not trusted_reader(book, "Bearer feed-token-12", QueryParams(""))
    assert not trusted_reader(book, None, QueryParams("api_key=nope-nope-nope"))


def test_a_form_media_url_becomes_the_reports_attachment() -> None:
    event = report_of(form(media_url=" https://img.example/scene.jpg "))
    assert event.attachments == ["https://img.example/scene.jpg"]
    assert report_of(form()).attachments == []


def open_case(**extra: object) -> CaseRecord:
    fields: dict[str, object] = {"case_id": "c1", "category": "noise", "step": "dispatched",
                                 "grid_id": "PL01-01", "opened_ms": NOW, "updated_ms": NOW}
    fields.update(extra)
    return CaseRecord(**fields)  # type: ignore[arg-type]


def test_a_request_names_the_dispatched_unit_its_deadline_and_its_photo() -> None:
    config = Publication.load(Path(__file__).parents[2] / "config")
    case = open_case(unit="SO-fire", dispatched_unit="SO-fire", deadline_ms=NOW + DAY,
                     attachments=("https://img.example/a.jpg", "https://img.example/b.jpg"))
    [shown] = config.publish([case], trusted=False)
    assert shown["agency_responsible"] == "街道消防站 Fire station"
    assert shown["expected_datetime"] == "2024-06-02T00:00:00Z"
    assert shown["media_url"] == "https://img.example/a.jpg"


def test_before_dispatch_the_street_centre_answers_without_deadline_or_photo() -> None:
    config = Publication.load(Path(__file__).parents[2] / "config")
    [shown] = config.publish([open_case(step="reported", unit="grid.PL01-01")], trusted=True)
    assert shown["agency_responsible"] == "街道综合指挥中心 Street command centre"
    assert (shown["expected_datetime"], shown["media_url"]) == (None, None)
    [bare] = Publication().publish([open_case(dispatched_unit="SO-x")], trusted=True)
    assert bare["agency_responsible"] == "SO-x"  # no organisation file: the unit's id
    [none] = Publication().publish([open_case()], trusted=True)
    assert none["agency_responsible"] == "GridWall street command centre"


def test_a_malformed_organisation_file_fails_the_publication(tmp_path: Path) -> None:
    (tmp_path / "organisation.yaml").write_text("units: [{id: X}]\n")
    with pytest.raises(PublicationError, match="organisation"):
        Publication.load(tmp_path)


async def test_the_memory_view_knows_the_unit_and_photo_but_not_the_deadline() -> None:
    from domain.schemas import CaseEvent
    from ingest.gateway.case_view import MemoryCaseView

    view = MemoryCaseView()
    base = {"case_id": "c9", "source": "command_centre", "grid_id": "PL01-01"}
    view.apply([CaseEvent(event_id="r", action="report", ts=NOW, category="noise",
                          attachments=["https://img.example/a.jpg"], **base),  # type: ignore[arg-type]
                CaseEvent(event_id="v", action="verify", ts=NOW + 1, **base),  # type: ignore[arg-type]
                CaseEvent(event_id="d", action="dispatch", ts=NOW + 2, target_unit="SO-env",
                          **base)])  # type: ignore[arg-type]
    case = await view.get("c9")
    assert case is not None
    [shown] = Publication.load(Path(__file__).parents[2] / "config").publish([case], True)
    assert shown["agency_responsible"] == "环卫所 Sanitation office"
    assert (shown["media_url"], shown["expected_datetime"]) == ("https://img.example/a.jpg", None)
