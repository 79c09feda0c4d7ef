"""Auth matrix: every write endpoint × no token / unknown / wrong role / wrong source / right."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from core.settings import Settings
from tests.integration.test_gateway_support import serve_gateway
from tests.unit.test_gateway_support import (
    ADMIN,
    FEED,
    OFFICER,
    SENSOR_ONLY,
    VIEWER,
    department_record,
    inside,
    reading,
    report,
)

pytestmark = pytest.mark.integration

# A request builder: token (or None) -> keyword arguments of httpx.Client.request.
Build = Callable[[str | None], dict[str, Any]]


def _json(path: str, body: Callable[[], Any]) -> Build:
    def build(token: str | None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return {"method": "POST", "url": path, "json": body(), "headers": headers}
    return build


def _open311(token: str | None) -> dict[str, Any]:
    lon, lat, _ = inside(9)
    form = {"service_code": "greening", "lat": str(lat), "long": str(lon),
            "event_id": uuid.uuid4().hex}
    if token:
        form["api_key"] = token
    return {"method": "POST", "url": "/open311/v2/requests.json", "data": form}


ENDPOINTS: dict[str, tuple[int, Build]] = {
    "cases": (202, _json("/v1/cases/events", lambda: report(uuid.uuid4().hex))),
    "sensors": (202, _json("/v1/sensors/readings", lambda: [reading(3)])),
    "departments": (202, _json("/v1/departments/health/records",
                               lambda: department_record(uuid.uuid4().hex))),
    "open311": (201, _open311),
}
# who -> (token, expected status or None for "the endpoint's accepted status")
WHO: dict[str, tuple[str | None, int | None]] = {
    "no token": (None, 401),
    "unknown token": ("definitely-not-a-token", 401),
    "viewer role": (VIEWER, 403),
    "officer role": (OFFICER, 403),
    "feed for another source": (SENSOR_ONLY, 403),
    "feed for every source": (FEED, None),
    "admin": (ADMIN, None),
}


@pytest.fixture(scope="module")
def client(infra: Settings) -> Iterator[httpx.Client]:
    with serve_gateway(infra) as served, httpx.Client(base_url=served.url, timeout=30) as c:
        yield c


@pytest.mark.parametrize("who", list(WHO))
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_auth_matrix(client: httpx.Client, endpoint: str, who: str) -> None:
    accepted, build = ENDPOINTS[endpoint]
    token, expected = WHO[who]
    if endpoint == "sensors" and token == SENSOR_ONLY:
        expected = None  # this feed token is exactly the sensors' one
    response = client.request(**build(token))
    assert response.status_code == (expected or accepted), response.text
    if response.status_code in (401, 403):
        body = response.json()
        error = body[0] if isinstance(body, list) else body  # Open311 answers in an array
        assert error["field"] and error["reason"]


def test_reads_need_no_token(client: httpx.Client) -> None:
    assert client.get("/open311/v2/services.json").status_code == 200
    assert client.get("/open311/v2/requests.json").status_code == 200
    assert client.get("/healthz").status_code == 200
