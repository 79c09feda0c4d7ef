"""Refusals are rate-limited per client: 429 with ``Retry-After`` once a client spent its budget.

A client is a token the book knows (``Authorization: Bearer`` or the ``api_key`` query
parameter), else the remote address: an unknown token never buys a fresh budget. Every 4xx a
write answers (other than 429 itself) spends one refusal from the client's bucket, which
refills at ``rate`` per second up to ``burst``. While the bucket is empty, every write from
that client is answered 429 before its body is read, counted in the rejects metric
(``reason="rate_limited"``) and not dead-lettered. Reads are not limited. At most
``max_clients`` buckets are kept, the least recently used forgotten first (a forgotten
client starts again with a full bucket), so memory stays bounded whatever the addresses.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from urllib.parse import parse_qsl

from starlette.responses import Response

from core.auth import TokenBook
from ingest.gateway.auth import bearer_token, begin_request, end_request
from ingest.gateway.metrics import ASGIApp, GatewayMetrics, Message, Receive, Scope, Send
from ingest.gateway.open311.format import error_response
from ingest.gateway.rejects import rate_limited
from ingest.gateway.responses import json_response

KNOWN = "token:"


class RefusalLimiter:
    """Token buckets of refusals per client key."""

    def __init__(self, rate: float, burst: int, max_clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._rate, self._burst, self._max = rate, float(burst), max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _level(self, key: str) -> float:
        now = self._clock()
        level, then = self._buckets.get(key, (self._burst, now))
        level = min(self._burst, level + (now - then) * self._rate)
        self._buckets[key] = (level, now)
        self._buckets.move_to_end(key)
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return level

    def retry_after(self, key: str) -> int | None:
        """Whole seconds until ``key`` may be refused again, or None if it may be now."""
        level = self._level(key)
        return None if level >= 1.0 else max(1, math.ceil((1.0 - level) / self._rate))

    def charge(self, key: str) -> None:
        """Spend one refusal of ``key``."""
        level = self._level(key)
        self._buckets[key] = (max(0.0, level - 1.0), self._clock())


def client_key(scope: Scope, book: TokenBook) -> str:
    """``token:<token>`` for a token the book knows, else ``addr:<remote address>``."""
    headers = dict(scope.get("headers") or ())
    token = bearer_token(headers.get(b"authorization", b"").decode("latin-1"))
    if token is None:
        token = _query_api_key(scope.get("query_string", b""))
    if token and book.check(token) is not None:
        return f"{KNOWN}{token}"
    client = scope.get("client")
    return f"addr:{client[0] if client else 'unknown'}"


def _query_api_key(query: bytes) -> str | None:
    try:
        pairs = parse_qsl(query.decode("latin-1"), max_num_fields=64)
    except ValueError:
        return None
    return next((v for k, v in pairs if k == "api_key" and v), None)


def feed_of(path: str) -> str:
    """The feed label of a write path (a closed set)."""
    for prefix, feed in (("/v1/cases/", "cases"), ("/v1/sensors/", "sensors"),
                         ("/v1/departments/", "departments"), ("/open311/", "open311")):
        if path.startswith(prefix):
            return feed
    return "other"


def too_many(path: str, wait_s: int) -> Response:
    """The 429 answer, in the feed's error form."""
    rejected = rate_limited(wait_s)
    headers = {"Retry-After": str(wait_s)}
    if path.startswith("/open311/"):
        return error_response(429, rejected.code, rejected.reason, rejected.field, headers)
    return json_response(rejected.body(), 429, headers)


class RefusalLimitMiddleware:
    """Pure ASGI middleware applying a :class:`RefusalLimiter` to every POST; it also starts
    the request's authentication state (:func:`~ingest.gateway.auth.begin_request`)."""

    def __init__(self, app: ASGIApp, book: TokenBook, metrics: GatewayMetrics,
                 limiter: RefusalLimiter) -> None:
        self.app, self.book, self.metrics, self.limiter = app, book, metrics, limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        key = client_key(scope, self.book)
        wait = self.limiter.retry_after(key)
        if wait is not None:
            self.metrics.rejects.inc(feed_of(scope["path"]), "rate_limited")
            await too_many(scope["path"], wait)(scope, receive, send)
            return
        status = 0

        async def watching_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = begin_request(key.startswith(KNOWN))
        try:
            await self.app(scope, receive, watching_send)
        finally:
            end_request(started)
        if 400 <= status < 500 and status != 429:
            self.limiter.charge(key)
