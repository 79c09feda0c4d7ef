"""Open311 GeoReport v2 conformance: services, posting by form with api_key, status reads,
date-range limits."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from core.settings import Settings
from domain.contracts.topics import CASE_EVENTS
from domain.schemas import CaseEvent
from domain.wire import decode_one_or_many
from tests.integration.test_gateway_support import read_topic, serve_gateway
from tests.unit.test_gateway_support import FEED, bearer, inside

pytestmark = pytest.mark.integration
V2 = "/open311/v2"


@pytest.fixture(scope="module")
def client(infra: Settings) -> Iterator[httpx.Client]:
    with serve_gateway(infra) as served, httpx.Client(base_url=served.url, timeout=30) as c:
        yield c


def post_request(client: httpx.Client, **fields: str) -> httpx.Response:
    lon, lat, _ = inside(20)
    form = {"api_key": FEED, "service_code": "road_facility", "lat": str(lat),
            "long": str(lon), "description": "broken kerb", "address_string": "5 River St"}
    form.update(fields)
    return client.post(f"{V2}/requests.json", data=form)


def test_service_list_and_definitions(client: httpx.Client) -> None:
    services = client.get(f"{V2}/services.json").json()
    assert {"service_code", "service_name", "description", "metadata", "type", "keywords",
            "group"} <= set(services[0])
    assert all(s["metadata"] is False and s["type"] == "realtime" for s in services)
    code = services[0]["service_code"]
    assert client.get(f"{V2}/services/{code}.json").json() == {"service_code": code,
                                                                "attributes": []}
    missing = client.get(f"{V2}/services/potholes.json")
    assert missing.status_code == 404 and missing.json()[0]["code"] == 404


def test_post_by_form_with_api_key_lands_in_kafka(infra: Settings, client: httpx.Client) -> None:
    response = post_request(client)
    assert response.status_code == 201
    [created] = response.json()
    request_id = created["service_request_id"]
    assert {"service_request_id", "service_notice", "account_id"} <= set(created)
    found = read_topic(infra, CASE_EVENTS,
                       lambda rs: any(request_id.encode() in r.value for r in rs))
    [(record, event)] = [(r, e) for r in found if request_id.encode() in r.value
                         for e in decode_one_or_many(r.value, CaseEvent)
                         if request_id in e.case_id or request_id in e.event_id]
    assert (event.source, event.action, event.category) == ("open311", "report",
                                                             "road_facility")
    assert record.key == inside(20)[2].encode()


def test_api_key_in_the_query_string_works_too(client: httpx.Client) -> None:
    lon, lat, _ = inside(1)
    response = client.post(f"{V2}/requests.json", params={"api_key": FEED},
                           data={"service_code": "noise", "lat": str(lat), "long": str(lon)})
    assert response.status_code == 201


def test_errors_use_the_georeport_error_array(client: httpx.Client) -> None:
    no_key = post_request(client, api_key="")
    assert no_key.status_code == 401
    assert no_key.json()[0]["code"] == 401 and no_key.json()[0]["description"]
    outside = post_request(client, lat="10.0", long="10.0")
    assert outside.status_code == 422 and outside.json()[0]["field"] == "long"


def test_a_retried_post_with_event_id_gets_the_same_request_back(client: httpx.Client) -> None:
    event_id = uuid.uuid4().hex
    first = post_request(client, event_id=event_id)
    again = post_request(client, event_id=event_id)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()[0]["service_request_id"] == again.json()[0]["service_request_id"]
    assert again.json()[0]["duplicate"] is True


def test_status_follows_the_six_steps(client: httpx.Client) -> None:
    request_id = post_request(client).json()[0]["service_request_id"]
    one = client.get(f"{V2}/requests/{request_id}.json")
    assert one.status_code == 200
    assert one.json()[0]["status"] == "open" and one.json()[0]["service_code"] == "road_facility"
    grid = inside(20)[2]
    for step, action in enumerate(("verify", "dispatch", "handle", "close")):
        event = {"event_id": f"{request_id}-{step}", "case_id": request_id, "action": action,
                 "ts": int(datetime.now(UTC).timestamp() * 1000) + step,
                 "source": "grid_worker_app", "grid_id": grid, "note": f"step {action}"}
        assert client.post("/v1/cases/events", json=event,
                           headers=bearer(FEED)).status_code == 202
    closed = client.get(f"{V2}/requests/{request_id}.json").json()[0]
    assert closed["status"] == "closed" and closed["status_notes"].endswith("step close")
    assert client.get(f"{V2}/requests/no-such-id.json").status_code == 404


def test_list_reads_honour_the_date_window_and_filters(client: httpx.Client) -> None:
    request_id = post_request(client, service_code="greening").json()[0]["service_request_id"]
    now = datetime.now(UTC)

    def listed(**params: str) -> list[str]:
        response = client.get(f"{V2}/requests.json", params=params)
        assert response.status_code == 200, response.text
        return [r["service_request_id"] for r in response.json()]

    assert request_id in listed()  # default: the last 90 days
    assert request_id in listed(service_code="greening", status="open")
    assert request_id not in listed(status="closed")
    assert request_id in listed(service_request_id=f"x,{request_id}")
    old_start = (now - timedelta(days=200)).isoformat()
    old_end = (now - timedelta(days=120)).isoformat()
    assert request_id not in listed(start_date=old_start, end_date=old_end)
    assert request_id in listed(start_date=(now - timedelta(days=1)).isoformat())
    too_wide = client.get(f"{V2}/requests.json", params={
        "start_date": (now - timedelta(days=91)).isoformat(), "end_date": now.isoformat()})
    assert too_wide.status_code == 400 and too_wide.json()[0]["field"] == "end_date"
    reversed_ = client.get(f"{V2}/requests.json", params={
        "start_date": now.isoformat(), "end_date": (now - timedelta(days=1)).isoformat()})
    assert reversed_.status_code == 400


def test_reads_come_from_the_cases_the_streams_wrote(infra: Settings, ch: Any,
                                                     client: httpx.Client) -> None:
    posted = post_request(client, service_code="noise").json()[0]["service_request_id"]
    only_in_clickhouse = f"ch-{uuid.uuid4().hex[:10]}"
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    rows = [(only_in_clickhouse, "handled", "fixed the lamp", now_ms - 5000),
            (posted, "verified", "checked on site", now_ms)]  # the streams moved it on
    ch.execute(
        f"INSERT INTO {infra.clickhouse_database}.cases (opened_date, opened_at, opened_ms, "
        "case_id, grid_id, category, priority, step, tier, updated_at, updated_ms, note, "
        "lon, lat, version) VALUES",
        [(datetime.fromtimestamp(ms / 1000, UTC).date(),
          datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None), ms, case_id,
          inside(20)[2], "noise", "normal", step, 2,
          datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None), ms, note, None, None, 1)
         for case_id, step, note, ms in rows])
    one = client.get(f"{V2}/requests/{only_in_clickhouse}.json").json()[0]
    assert one["status"] == "open"
    assert one["status_notes"] == "handled, waiting for the check: fixed the lamp"
    assert client.get(f"{V2}/requests/{posted}.json").json()[0]["status_notes"] == (
        "verified and registered: checked on site")
    listed = client.get(f"{V2}/requests.json", params={"service_code": "noise"}).json()
    steps = {r["service_request_id"]: r["status_notes"] for r in listed}
    assert steps[only_in_clickhouse].startswith("handled")
    assert steps[posted].startswith("verified")
