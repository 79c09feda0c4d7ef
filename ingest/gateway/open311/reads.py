"""``GET /open311/v2/requests.json`` and ``/requests/{service_request_id}.json``.

Reads are public (GeoReport needs no ``api_key`` to read) and show no personal data: what a
reader sees goes through the :class:`~.publication.Publication` policy (free text masked;
for a public reader coordinates coarsened and hidden categories left out, an id of a hidden
case answered 404). A reader presenting a token whose role may ``view`` (bearer header or
``api_key`` parameter) is trusted: exact coordinates, every category. The list
honours ``start_date``/``end_date`` (W3C datetimes; a naive one is UTC): by default the last
90 days; the two may span at most 90 days; with only one given, the other is 90 days away.
It filters by ``service_request_id``, ``service_code`` and ``status`` (comma-separated) and
returns at most 1,000 requests, newest first. A bad parameter is a 400 naming it; reads write
nothing, so they leave no dead-letter copy.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from starlette.datastructures import QueryParams
from starlette.responses import Response

from core.auth import TokenBook
from domain.vocab import CATEGORIES
from ingest.gateway.auth import bearer_token
from ingest.gateway.case_view import CaseQuery, CaseView
from ingest.gateway.open311.format import refusal
from ingest.gateway.open311.publication import Publication
from ingest.gateway.rejects import Rejected
from ingest.gateway.responses import json_response

# An unencoded "+08:00" arrives as " 08:00" (form decoding); read it as the offset it was.
_UNESCAPED_PLUS = re.compile(r"^(.*T\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d(?::?\d\d)?)$")
MAX_SPAN_MS = 90 * 24 * 3600 * 1000
MAX_RESULTS = 1000
STATUSES = frozenset({"open", "closed"})


def bad_parameter(name: str, reason: str) -> Rejected:
    """A 400 naming query parameter ``name``."""
    return Rejected(400, "invalid", reason, name)


def w3c_ms(value: str | None, name: str) -> int | None:
    """A W3C datetime as epoch ms (naive means UTC); None if absent; 400 if unreadable."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(_UNESCAPED_PLUS.sub(r"\1+\2", value.strip()))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    except (ValueError, OverflowError):
        raise bad_parameter(name, "not a W3C datetime, e.g. 2024-05-01T08:00:00Z") from None


def date_window(params: QueryParams, now_ms: int) -> tuple[int, int]:
    """[start, end] in epoch ms from ``start_date``/``end_date`` under the 90-day rule."""
    start = w3c_ms(params.get("start_date"), "start_date")
    end = w3c_ms(params.get("end_date"), "end_date")
    if start is None and end is None:
        end = now_ms
    if start is None:
        start = end - MAX_SPAN_MS  # type: ignore[operator]
    if end is None:
        end = start + MAX_SPAN_MS
    if end < start:
        raise bad_parameter("end_date", "end_date is before start_date")
    if end - start > MAX_SPAN_MS:
        raise bad_parameter("end_date", "start_date to end_date may span at most 90 days")
    return start, end


def listed(params: QueryParams, name: str) -> frozenset[str] | None:
    """A comma-separated parameter as a set, or None when absent or empty."""
    values = frozenset(v.strip() for v in params.get(name, "").split(",") if v.strip())
    return values or None


def case_query(params: QueryParams, now_ms: int,
               hidden: frozenset[str] = frozenset()) -> CaseQuery:
    """The search a GeoReport query string asks for, without ``hidden`` categories; 400
    naming a bad parameter."""
    start, end = date_window(params, now_ms)
    statuses = listed(params, "status")
    if statuses is not None and not statuses <= STATUSES:
        raise bad_parameter("status", "status is open, closed or both")
    categories = listed(params, "service_code")
    if hidden:
        categories = (categories or frozenset(CATEGORIES)) - hidden
    return CaseQuery(start_ms=start, end_ms=end, case_ids=listed(params, "service_request_id"),
                     categories=categories, statuses=statuses, limit=MAX_RESULTS)


def trusted_reader(book: TokenBook, authorization: str | None, params: QueryParams) -> bool:
    """True if the reader presents a token whose role may ``view``."""
    principal = book.check(bearer_token(authorization) or params.get("api_key"))
    return principal is not None and principal.may("view")


async def list_requests(view: CaseView, params: QueryParams, publication: Publication,
                        trusted: bool = False) -> Response:
    """The matching service requests the reader may see, or a 400 error array."""
    hidden = frozenset() if trusted else publication.hidden
    try:
        query = case_query(params, int(time.time() * 1000), hidden)
    except Rejected as exc:
        return refusal(exc)
    if query.categories is not None and not query.categories:
        return json_response([])
    return json_response(publication.publish(await view.search(query), trusted))


async def one_request(view: CaseView, request_id: str, publication: Publication,
                      trusted: bool = False) -> Response:
    """A one-element array with the request, or a 404 error array (also for a case the
    reader may not see)."""
    case = await view.get(request_id)
    shown = publication.publish([case], trusted) if case is not None else []
    if not shown:
        return refusal(Rejected(404, "not_found", "no such service request",
                                "service_request_id"))
    return json_response(shown)
