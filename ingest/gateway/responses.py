"""JSON answers encoded with msgspec (the hot path never goes through ``json.dumps``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from domain.wire import encode

RETRY_AFTER_S = 5


def json_response(data: Any, status: int = 200,
                  headers: Mapping[str, str] | None = None) -> Response:
    """``data`` as an ``application/json`` response with ``status``."""
    return Response(encode(data), status_code=status, headers=headers,
                    media_type="application/json")


def retry_later(data: Any) -> Response:
    """A 503 answer telling the client to retry after :data:`RETRY_AFTER_S` seconds."""
    return json_response(data, 503, {"Retry-After": str(RETRY_AFTER_S)})


def challenge(status: int) -> dict[str, str] | None:
    """The ``WWW-Authenticate`` header a 401 must carry (None for other statuses)."""
    return {"WWW-Authenticate": "Bearer"} if status == 401 else None
