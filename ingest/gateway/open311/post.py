"""``POST /open311/v2/requests.json``: a resident's report, form-encoded, with ``api_key``.

The form becomes a ``report`` :class:`~domain.schemas.CaseEvent` (source ``open311``) and goes
the way of every case event. ``lat``/``long`` are required (the street geocodes by
coordinates, not addresses); ``address_string`` travels as the report's note;
``first_name``/``last_name`` become one name in its own order (a Chinese one family name
first); ``media_url`` (an http(s) URL of a photo) becomes the report's attachment. Errors
name the form field. An optional ``event_id`` field (an extension) makes a retried post a
duplicate: the service request id is derived from it, so the retry gets the same id back.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from core.auth import Principal
from domain.schemas import CaseEvent
from domain.vocab import CATEGORIES
from domain.wire import WireError, decode, encode
from ingest.gateway.auth import bearer_token, check_source
from ingest.gateway.case_view import CaseView
from ingest.gateway.cases import events_submission, placed_event
from ingest.gateway.open311.format import error_response, refusal
from ingest.gateway.pipeline import Feed, Outcome, Submission
from ingest.gateway.placement import Placer
from ingest.gateway.rejects import Rejected, invalid
from ingest.gateway.responses import RETRY_AFTER_S, json_response

MAX_FIELDS = 64
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# CaseEvent field -> the form field a client wrote it in.
FORM_NAMES = {"lon": "long", "category": "service_code", "reporter_name": "first_name",
              "reporter_phone": "phone", "note": "address_string", "actor": "account_id",
              "attachments": "media_url"}


def form_fields(raw: bytes) -> dict[str, str]:
    """The fields of a urlencoded form (first value wins); 422 if it cannot be one."""
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True,
                          max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError:
        raise invalid(None, "the form is not UTF-8") from None
    except ValueError:
        raise invalid(None, f"more than {MAX_FIELDS} form fields") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def coordinate(form: dict[str, str], name: str) -> float:
    """A finite float from form field ``name``; 422 naming it otherwise."""
    text = form.get(name, "").strip()
    if not text:
        raise invalid(name, "required field is missing (this street geocodes by lat/long)")
    try:
        value = float(text)
    except ValueError:
        raise invalid(name, "not a number") from None
    if not math.isfinite(value):
        raise invalid(name, "not a finite number")
    return value


def request_ids(form: dict[str, str]) -> tuple[str, str]:
    """(event_id, case_id): derived from the client's ``event_id`` if given, else new."""
    event_id = form.get("event_id", "").strip()
    if event_id:
        digest = hashlib.blake2b(event_id.encode(), digest_size=10).hexdigest()
        return event_id, f"o311-{digest}"
    case_id = f"o311-{uuid.uuid4().hex[:20]}"
    return case_id, case_id


def reporter_name(first: str, last: str) -> str:
    """The reporter's full name in its own order: ``last`` (the family name) then ``first``
    for a Chinese name (张 + 三丰 → 张三丰), ``first last`` otherwise; masking then keeps the
    family name."""
    if _CJK.search(first + last):
        return last + first
    return " ".join(v for v in (first, last) if v)


def report_of(form: dict[str, str]) -> CaseEvent:
    """The report event a form describes; 422 naming the form field if it does not fit."""
    code = form.get("service_code", "").strip()
    if not code:
        raise invalid("service_code", "required field is missing")
    if code not in CATEGORIES:
        raise invalid("service_code", "unknown service_code; see services.json")
    lat, lon = coordinate(form, "lat"), coordinate(form, "long")
    media = form.get("media_url", "").strip()
    if media and not media.lower().startswith(("http://", "https://")):
        raise invalid("media_url", "must be an http(s) URL")
    event_id, case_id = request_ids(form)
    name = reporter_name(form.get("first_name", "").strip(), form.get("last_name", "").strip())
    data: dict[str, Any] = {
        "event_id": event_id, "case_id": case_id, "action": "report",
        "ts": int(time.time() * 1000), "source": "open311", "category": code,
        "lon": lon, "lat": lat, "description": form.get("description", ""),
        "note": form.get("address_string", ""),
        "actor": form.get("account_id") or form.get("device_id") or "",
        "reporter_name": name or None, "reporter_phone": form.get("phone") or None,
        "attachments": [media] if media else [],
    }
    try:
        return decode(encode(data), CaseEvent)
    except WireError as exc:
        raise invalid(form_name(exc.field), exc.reason) from None


def form_name(field: str | None) -> str | None:
    """The form field a client wrote CaseEvent field ``field`` in (``attachments[0]`` was
    ``media_url``)."""
    if field is None:
        return None
    return FORM_NAMES.get(field.split("[")[0], field)


class Open311RequestsFeed(Feed):
    """GeoReport v2 request posts."""

    name = "open311"

    def __init__(self, placer: Placer, view: CaseView) -> None:
        self._placer = placer
        self._view = view

    def _form(self, request: Request, raw: bytes) -> dict[str, str]:
        cached: dict[str, str] | None = getattr(request.state, "open311_form", None)
        if cached is None:
            if request.headers.get("content-type", "").startswith("multipart/"):
                raise Rejected(415, "unsupported_media_type",
                               "send application/x-www-form-urlencoded", "content-type")
            cached = form_fields(raw)
            request.state.open311_form = cached
        return cached

    def check_media(self, request: Request) -> None:
        """A form, checked where it is read (:meth:`_form`: multipart is a 415)."""

    def token(self, request: Request, raw: bytes) -> str | None:
        """``api_key`` from the query or the form; a bearer header also works."""
        return (request.query_params.get("api_key") or self._form(request, raw).get("api_key")
                or bearer_token(request.headers.get("authorization")))

    def parse(self, request: Request, raw: bytes, principal: Principal) -> Submission:
        """The form as one placed report."""
        check_source(principal, "open311", "api_key")
        event = report_of(self._form(request, raw))
        try:
            event = placed_event(self._placer, principal, event)
        except Rejected as exc:
            exc.field = form_name(exc.field)
            raise
        submission = events_submission([event], self._view)
        submission.extra["service_request_id"] = event.case_id
        return submission

    def accepted(self, outcome: Outcome) -> Response:
        """201 with the service request id; 200 and ``duplicate: true`` for a repeat."""
        element = {"service_request_id": outcome.submission.extra["service_request_id"],
                   "service_notice": "", "account_id": None,
                   "duplicate": outcome.all_duplicates}
        return json_response([element], 200 if outcome.all_duplicates else 201)

    def refused(self, rejected: Rejected) -> Response:
        """GeoReport's error array."""
        return refusal(rejected)

    def unavailable(self, reason: str) -> Response:
        """503 with Retry-After, as a GeoReport error array."""
        return error_response(503, "kafka_unavailable", reason,
                              headers={"Retry-After": str(RETRY_AFTER_S)})
