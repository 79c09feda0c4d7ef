"""Reading a request body without ever holding more than the configured limit or waiting
longer than the configured time.

:func:`read_bounded` returns bodies of at most ``limit`` bytes. A longer body raises
:class:`TooLarge` (413) carrying the first bytes read, for the dead-letter copy: reading stops
as soon as the limit is passed, and a body whose ``Content-Length`` already declares more is
read only up to ``keep`` bytes. Memory held is bounded by the limit plus one network chunk.
A client that disconnects mid-body raises :class:`ClientGone` (499, answered to no one,
no traceback). :class:`BodyTimeoutMiddleware` makes every body arrive whole within its time
from the request's start: a slower one raises :class:`BodyTimeout` (408) in the reader.
"""

from __future__ import annotations

import asyncio

from starlette.requests import ClientDisconnect, Request

from ingest.gateway.metrics import ASGIApp, Message, Receive, Scope, Send
from ingest.gateway.rejects import Rejected


class TooLarge(Rejected):
    """A body over the limit (413); ``partial`` holds what was read before stopping."""

    def __init__(self, limit: int, partial: bytes) -> None:
        super().__init__(413, "too_large", f"body exceeds {limit} bytes", "body")
        self.partial = partial


class BodyTimeout(Rejected):
    """A body that did not arrive whole in time (408)."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(408, "body_timeout", f"body not received within {timeout_s:g} s",
                         "body")


class ClientGone(Rejected):
    """The client closed the connection before its body was complete (499, nginx's code)."""

    def __init__(self) -> None:
        super().__init__(499, "client_disconnected", "the client disconnected mid-body", "body")


async def read_bounded(request: Request, limit: int, keep: int = 65536) -> bytes:
    """Return the whole body if it has at most ``limit`` bytes; raise :class:`TooLarge` if
    not, :class:`ClientGone` if the client left before the end."""
    try:
        return await _read(request, limit, keep)
    except ClientDisconnect:
        raise ClientGone() from None


async def _read(request: Request, limit: int, keep: int) -> bytes:
    declared = request.headers.get("content-length", "")
    refused = declared.isdigit() and int(declared) > limit
    stop_after = min(keep, limit) if refused else limit
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        if chunk:
            chunks.append(chunk)
            size += len(chunk)
            if size > stop_after:
                break
    if refused or size > limit:
        raise TooLarge(limit, b"".join(chunks))
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class BodyTimeoutMiddleware:
    """Pure ASGI middleware: the body of a request must arrive whole within ``timeout_s`` of
    the request's start, else the app's next read raises :class:`BodyTimeout`."""

    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        complete = False

        async def timed_receive() -> Message:
            nonlocal complete
            if complete:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout(self.timeout_s) from None
            complete = message["type"] != "http.request" or not message.get("more_body")
            return message

        await self.app(scope, timed_receive, send)
