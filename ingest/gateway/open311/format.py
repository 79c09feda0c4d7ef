"""How Open311 answers look: error arrays, W3C datetimes, service request objects."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.responses import Response

from ingest.gateway.case_view import CaseRecord
from ingest.gateway.open311.services import SERVICE_NAMES
from ingest.gateway.rejects import Rejected
from ingest.gateway.responses import challenge, json_response

AGENCY = "GridWall street command centre"


def error_response(status: int, error: str, reason: str, field: str | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    """GeoReport's error array: one element with code and description (plus our fields)."""
    description = f"{field}: {reason}" if field else reason
    element = {"code": status, "description": description, "error": error, "field": field,
               "reason": reason}
    return json_response([element], status, headers)


def refusal(rejected: Rejected) -> Response:
    """The error array of a refused input, with its status."""
    return error_response(rejected.status, rejected.code, rejected.reason, rejected.field,
                          challenge(rejected.status))


def w3c(ms: int) -> str:
    """Epoch milliseconds as a W3C (ISO 8601) datetime in UTC, to the second."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def service_request(case: CaseRecord) -> dict[str, object]:
    """The GeoReport service request object of ``case`` (no personal data)."""
    return {
        "service_request_id": case.case_id,
        "status": case.status,
        "status_notes": case.status_notes,
        "service_name": SERVICE_NAMES.get(case.category, case.category),
        "service_code": case.category,
        "description": case.description,
        "agency_responsible": AGENCY,
        "service_notice": "",
        "requested_datetime": w3c(case.opened_ms),
        "updated_datetime": w3c(case.updated_ms),
        "expected_datetime": None,
        "address": "",
        "address_id": case.grid_id,
        "zipcode": None,
        "lat": case.lat,
        "long": case.lon,
        "media_url": None,
    }
