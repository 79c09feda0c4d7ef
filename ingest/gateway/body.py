"""Reading a request body without ever holding more than the configured limit.

:func:`read_bounded` returns bodies of at most ``limit`` bytes. A longer body raises
:class:`TooLarge` (413) carrying the first bytes read, for the dead-letter copy: reading stops
as soon as the limit is passed, and a body whose ``Content-Length`` already declares more is
read only up to ``keep`` bytes. Memory held is bounded by the limit plus one network chunk.
"""

from __future__ import annotations

from starlette.requests import Request

from ingest.gateway.rejects import Rejected


class TooLarge(Rejected):
    """A body over the limit (413); ``partial`` holds what was read before stopping."""

    def __init__(self, limit: int, partial: bytes) -> None:
        super().__init__(413, "too_large", f"body exceeds {limit} bytes", "body")
        self.partial = partial


async def read_bounded(request: Request, limit: int, keep: int = 65536) -> bytes:
    """Return the whole body if it has at most ``limit`` bytes; raise :class:`TooLarge` if not."""
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
