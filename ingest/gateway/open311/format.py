"""How Open311 answers look: error arrays, W3C datetimes, service request objects.

A service request names as ``agency_responsible`` the unit the case was last dispatched to
(by its name in ``agencies``, the organisation's units; its id if unnamed), the street
command centre before any dispatch; ``expected_datetime`` is the current step's SLA
deadline (null when no clock runs or it is not known yet); ``media_url`` the case's first
attachment (null without one).
"""

from __future__ import annotations

from collections.abc import Mapping
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


def agency(case: CaseRecord, agencies: Mapping[str, str]) -> str:
    """Who is responsible: the dispatched unit's name, else the street command centre."""
    unit = case.dispatched_unit
    if not unit:
        return agencies.get("CC", AGENCY)
    return agencies.get(unit, unit)


def service_request(case: CaseRecord, agencies: Mapping[str, str] | None = None
                    ) -> dict[str, object]:
    """The GeoReport service request object of ``case`` (no personal data)."""
    names = agencies or {}
    return {
        "service_request_id": case.case_id,
        "status": case.status,
        "status_notes": case.status_notes,
        "service_name": SERVICE_NAMES.get(case.category, case.category),
        "service_code": case.category,
        "description": case.description,
        "agency_responsible": agency(case, names),
        "service_notice": "",
        "requested_datetime": w3c(case.opened_ms),
        "updated_datetime": w3c(case.updated_ms),
        "expected_datetime": w3c(case.deadline_ms) if case.deadline_ms else None,
        "address": "",
        "address_id": case.grid_id,
        "zipcode": None,
        "lat": case.lat,
        "long": case.lon,
        "media_url": case.attachments[0] if case.attachments else None,
    }
