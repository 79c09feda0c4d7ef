"""uvicorn's HTTP protocols with a request-header timeout, and the server's limits.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) but never times out a
request whose headers arrive slowly or not at all, so a few hundred slow connections could
be held open for ever. :class:`HeaderTimeoutHttpTools` and :class:`HeaderTimeoutH11` close a
connection whose request headers are not complete ``gateway_header_timeout_s`` after it
opened or after its previous response; :class:`HeaderTimeoutHttpTools` also answers 400 and
closes a connection whose request head (URL and headers) passes ``gateway_max_header_bytes``
(uvicorn bounds it only for h11). The body has its own timeout in the app
(:class:`ingest.gateway.body.BodyTimeoutMiddleware`). :func:`server_options` holds the rest of the
limits for ``uvicorn.run``: keep-alive, the number of connections (503 beyond), the size of
the request head for h11.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from core.settings import Settings, settings

log = logging.getLogger(__name__)


class _HeaderTimeout:
    """Mixin arming a timer while a connection waits for request headers."""

    transport: asyncio.Transport
    _header_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        loop = asyncio.get_running_loop()
        self._header_timer = loop.call_later(settings().gateway_header_timeout_s,
                                             self._header_timeout)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            log.info("closing a connection whose request headers did not arrive in time")
            self.transport.close()


class HeaderTimeoutH11(_HeaderTimeout, H11Protocol):
    """uvicorn's h11 protocol with the header timeout."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start waiting for the first request's headers."""
        super().connection_made(transport)
        self._arm()

    def handle_events(self) -> None:
        """uvicorn's event handling; a new request cycle means its headers are complete."""
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:
            self._disarm()

    def on_response_complete(self) -> None:
        """Wait for the next request's headers."""
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the timer."""
        self._disarm()
        super().connection_lost(exc)


class HeaderTimeoutHttpTools(_HeaderTimeout, HttpToolsProtocol):
    """uvicorn's httptools protocol (the gateway's default) with the header timeout."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start waiting for the first request's headers."""
        super().connection_made(transport)
        self._arm()

    _head_bytes = 0

    def on_message_begin(self) -> None:
        """A new request: its head is counted from here."""
        self._head_bytes = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        """Count the URL into the head."""
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """Count the header into the head."""
        self._count_head(len(name) + len(value))
        super().on_header(name, value)

    def _count_head(self, size: int) -> None:
        # An exception in a parser callback becomes httptools' HttpParserCallbackError, which
        # uvicorn answers with 400 and a closed connection.
        self._head_bytes += size
        if self._head_bytes > settings().gateway_max_header_bytes:
            raise ValueError("request head too large")

    def on_headers_complete(self) -> None:
        """The headers are here."""
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        """Wait for the next request's headers."""
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the timer."""
        self._disarm()
        super().connection_lost(exc)


def server_options(s: Settings) -> dict[str, Any]:
    """``uvicorn.run`` keyword arguments for the gateway's limits (httptools, a dependency)."""
    return {"http": HeaderTimeoutHttpTools, "timeout_keep_alive": s.gateway_keep_alive_s,
            "limit_concurrency": s.gateway_max_connections,
            "h11_max_incomplete_event_size": s.gateway_max_header_bytes}
