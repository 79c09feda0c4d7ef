"""The worker's HTTP endpoint: ``GET /metrics`` (Prometheus text) and ``GET /healthz`` (JSON).

:class:`MetricsServer` is a deliberately small HTTP/1.1 server on asyncio (the worker runs
Faust without its web server): one request per connection, ``GET`` or ``HEAD`` only, the
request head bounded to :data:`MAX_HEAD_BYTES` and :data:`HEAD_TIMEOUT_S`. Guarantees:

- the figures are computed when asked (``metrics()`` and ``health()`` are called per
  request), so a scrape never reads a stale copy;
- a bad request gets a 4xx and a failing figure function a 500 — never an exception out of
  the server, so the endpoint cannot take the worker down;
- if the address cannot be bound (a second worker on the same host and port), :meth:`run`
  logs an ERROR naming the setting and returns: the worker keeps running its jobs without
  the endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 8192
HEAD_TIMEOUT_S = 5.0
PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            500: "Internal Server Error", 503: "Service Unavailable"}


class MetricsServer:
    """``/metrics`` from ``metrics()``; ``/healthz`` from ``health()`` (status, figures)."""

    def __init__(self, host: str, port: int, metrics: Callable[[], str],
                 health: Callable[[], tuple[int, Mapping[str, Any]]]) -> None:
        self.host, self.port = host, port
        self.metrics, self.health = metrics, health
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> bool:
        """Listen; False (and an ERROR line) if the address cannot be bound."""
        try:
            self.server = await asyncio.start_server(self._serve, self.host, self.port,
                                                     limit=MAX_HEAD_BYTES)
        except OSError as exc:
            log.error("worker metrics: cannot listen on %s:%d (%s); /metrics and /healthz "
                      "are off for this worker (give each worker on a host its own "
                      "GRIDWALL_WORKER_METRICS_PORT)", self.host, self.port, exc.strerror)
            return False
        sockets = self.server.sockets or ()
        if sockets:
            self.port = sockets[0].getsockname()[1]
        log.info("worker metrics on http://%s:%d/metrics and /healthz", self.host, self.port)
        return True

    async def run(self, stopping: asyncio.Event) -> None:
        """Serve until ``stopping`` is set (the worker's service lifetime)."""
        if not await self.start():
            return
        try:
            await stopping.wait()
        finally:
            await self.close()

    async def close(self) -> None:
        """Stop listening."""
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2.0)
            self.server = None

    def respond(self, method: str, path: str) -> tuple[int, str, bytes]:
        """Status, content type and body for ``method path``."""
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", b"GET only\n"
        route = path.split("?", 1)[0]
        try:
            if route == "/metrics":
                return 200, PROMETHEUS, self.metrics().encode()
            if route == "/healthz":
                code, figures = self.health()
                return code, "application/json", json.dumps(figures).encode()
        except Exception:  # a figure that fails must not take the endpoint down
            log.exception("worker metrics: %s failed", route)
            return 500, "text/plain", b"figures unavailable\n"
        return 404, "text/plain", b"/metrics or /healthz\n"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                     ) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_S)
            parts = head.split(b"\r\n", 1)[0].decode("latin-1").split()
            if len(parts) != 3 or len(head) > MAX_HEAD_BYTES:
                code, kind, body = 400, "text/plain", b"bad request\n"
            else:
                code, kind, body = self.respond(parts[0], parts[1])
            writer.write(_response(code, kind, b"" if parts[:1] == ["HEAD"] else body,
                                   len(body)))
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
                ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def _response(code: int, kind: str, body: bytes, length: int) -> bytes:
    head = (f"HTTP/1.1 {code} {_REASONS.get(code, '')}\r\nContent-Type: {kind}\r\n"
            f"Content-Length: {length}\r\nConnection: close\r\n\r\n")
    return head.encode() + body
