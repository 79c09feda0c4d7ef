"""The OpenAPI description of the gateway, with request bodies derived from the msgspec schemas.

Write handlers read raw bodies (no FastAPI body models) and are plain Starlette routes, so
their operations are declared here (:data:`WRITES`); :func:`install` adds them, the
msgspec-generated component schemas and the security schemes to the generated document.
Fuzzers (schemathesis) read it from ``/openapi.json``.
"""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from domain.schemas import CaseEvent, DepartmentRecord, SensorReading
from domain.vocab import CATEGORIES, DEPARTMENTS
from ingest.gateway.payloads import SensorReadingsRequest

REF = "#/components/schemas/{name}"
_, COMPONENTS = msgspec.json.schema_components(
    (CaseEvent, SensorReading, SensorReadingsRequest, DepartmentRecord), ref_template=REF)
COMPONENTS.update({
    "Error": {"type": "object", "required": ["error", "reason"], "properties": {
        "error": {"type": "string"}, "field": {"type": ["string", "null"]},
        "reason": {"type": "string"}}},
    "Accepted": {"type": "object", "required": ["accepted", "duplicate"], "properties": {
        "accepted": {"type": "integer"}, "duplicates": {"type": "integer"},
        "duplicate": {"type": "boolean"},
        "ids": {"type": "array", "items": {"type": "string"}},
        "duplicate_ids": {"type": "array", "items": {"type": "string"}}}},
    "Open311Error": {"type": "array", "items": {"type": "object", "properties": {
        "code": {"type": "integer"}, "description": {"type": "string"}}}},
})
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer"},
    "api_key": {"type": "apiKey", "in": "query", "name": "api_key"},
}
OPEN311_FORM = {
    "type": "object", "required": ["api_key", "service_code", "lat", "long"],
    "properties": {
        "api_key": {"type": "string"},
        "service_code": {"type": "string", "enum": list(CATEGORIES)},
        "lat": {"type": "number"}, "long": {"type": "number"},
        "description": {"type": "string", "maxLength": 2000},
        "address_string": {"type": "string", "maxLength": 2000},
        "first_name": {"type": "string"}, "last_name": {"type": "string"},
        "phone": {"type": "string"}, "email": {"type": "string"},
        "device_id": {"type": "string"}, "account_id": {"type": "string"},
        "event_id": {"type": "string", "description": "GridWall extension: retry-safe id"},
    },
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(name=name)}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def one_or_many(name: str) -> dict[str, Any]:
    """A schema accepting one ``name`` object or a non-empty array of them."""
    return {"anyOf": [_ref(name), {"type": "array", "items": _ref(name), "minItems": 1}]}


def write_operation(body: dict[str, Any], media: str = "application/json",
                    error: str = "Error", created: str = "202",
                    parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A write operation: its body, bearer security and every answer it gives."""
    error_content = _json(_ref(error))
    answers = {
        created: {"description": "acknowledged by Kafka", "content": _json(_ref("Accepted"))},
        "200": {"description": "a duplicate: nothing produced again",
                "content": _json(_ref("Accepted"))},
        **{code: {"description": words, "content": error_content} for code, words in (
            ("401", "no or unknown token"), ("403", "this token may not write this input"),
            ("409", "an id accepted before with another payload"),
            ("413", "body too large"), ("415", "unsupported media type"),
            ("422", "invalid input: the field and the reason"),
            ("503", "Kafka did not acknowledge; retry after Retry-After"))},
    }
    extra: dict[str, Any] = {
        "requestBody": {"required": True, "content": {media: {"schema": body}}},
        "security": [{"bearer": []}, {"api_key": []}], "responses": answers,
    }
    if parameters:
        extra["parameters"] = parameters
    return extra


DEPARTMENT_PARAMETER = {"name": "department", "in": "path", "required": True,
                        "schema": {"type": "string", "enum": list(DEPARTMENTS)}}
# The write operations are plain Starlette routes (no per-request FastAPI machinery on the
# hot path), so their operations are declared here, whole, by path.
WRITES: dict[str, dict[str, Any]] = {
    "/v1/cases/events": {
        "operationId": "post_cases", "summary": "Case reports and workflow actions: one event "
        "or a batch", **write_operation(one_or_many("CaseEvent"))},
    "/v1/sensors/readings": {
        "operationId": "post_sensors", "summary": "Sensor readings, produced as one message "
        "per grid", **write_operation({"anyOf": [
            _ref("SensorReadingsRequest"),
            {"type": "array", "items": _ref("SensorReading"), "minItems": 1}]})},
    "/v1/departments/{department}/records": {
        "operationId": "post_departments", "summary": "Department records: one record or a "
        "batch", **write_operation(one_or_many("DepartmentRecord"),
                                   parameters=[DEPARTMENT_PARAMETER])},
    "/open311/v2/requests.json": {
        "operationId": "post_open311", "summary": "Open311 GeoReport v2: post a service "
        "request (form)", **write_operation(OPEN311_FORM,
                                            media="application/x-www-form-urlencoded",
                                            error="Open311Error", created="201")},
}


def query_parameter(name: str, description: str, fmt: str | None = None) -> dict[str, Any]:
    """An optional string query parameter."""
    schema: dict[str, Any] = {"type": "string"}
    if fmt:
        schema["format"] = fmt
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


OPEN311_LIST = {"parameters": [
    query_parameter("start_date", "earliest requested_datetime (W3C)", "date-time"),
    query_parameter("end_date", "latest requested_datetime (W3C), at most 90 days later",
                    "date-time"),
    query_parameter("status", "open, closed or both, comma-separated"),
    query_parameter("service_code", "comma-separated service codes"),
    query_parameter("service_request_id", "comma-separated ids"),
]}
OPEN311_ONE = {"parameters": [{"name": "service_request_id", "in": "path", "required": True,
                               "schema": {"type": "string"}}]}
OPEN311_SERVICE = {"parameters": [{"name": "service_code", "in": "path", "required": True,
                                   "schema": {"type": "string"}}]}


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` include the component schemas and security schemes."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version,
                                   description=app.description, routes=app.routes)
            components = document.setdefault("components", {})
            components.setdefault("schemas", {}).update(COMPONENTS)
            components["securitySchemes"] = SECURITY_SCHEMES
            for path, operation in WRITES.items():
                document.setdefault("paths", {}).setdefault(path, {})["post"] = operation
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
