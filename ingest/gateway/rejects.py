"""Why the gateway refuses an input: one exception type carrying status, code, field, reason.

Every refusal raised while handling a write is a :class:`Rejected`; the intake pipeline turns
it into the HTTP answer and a dead-letter record. ``code`` is a small closed set (it labels
metrics, so it must never carry client data); ``reason`` is the human-readable detail.
"""

from __future__ import annotations

from typing import Literal

RejectCode = Literal["invalid", "malformed", "outside_street", "unknown_grid", "too_large",
                     "unauthorized", "forbidden", "unsupported_media_type", "not_found",
                     "rate_limited", "body_timeout", "client_disconnected", "conflict"]
# Refusals whose input is not kept as a dead letter: an unauthenticated client's (anyone can
# send them, so they would fill storage), too many refusals (429), and bodies that never
# arrived whole (408, 499). They are counted in the rejects metric.
NOT_STORED = frozenset({401, 408, 429, 499})


class Rejected(Exception):
    """An input the gateway refuses: HTTP ``status``, ``code``, offending ``field``, ``reason``."""

    def __init__(self, status: int, code: RejectCode, reason: str,
                 field: str | None = None) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.status = status
        self.code: RejectCode = code
        self.reason = reason
        self.field = field

    def body(self) -> dict[str, str | None]:
        """The JSON error body: ``{"error": code, "field": field, "reason": reason}``."""
        return {"error": self.code, "field": self.field, "reason": self.reason}


def invalid(field: str | None, reason: str) -> Rejected:
    """A payload that does not fit its schema (422)."""
    return Rejected(422, "invalid" if field else "malformed", reason, field)


def unauthorized(reason: str) -> Rejected:
    """No token, or a token the book does not know (401)."""
    return Rejected(401, "unauthorized", reason, "authorization")


def rate_limited(retry_after_s: int) -> Rejected:
    """Too many refusals from this client (429); retry after ``retry_after_s`` seconds."""
    return Rejected(429, "rate_limited", f"too many refused requests; retry after "
                    f"{retry_after_s} s", "client")


def forbidden(field: str | None, reason: str) -> Rejected:
    """A known token that may not write this input (403)."""
    return Rejected(403, "forbidden", reason, field)
