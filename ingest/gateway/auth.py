"""Who is writing: bearer tokens (Open311: ``api_key``) checked against the token book.

Guarantees: :func:`authorize` returns a principal only for a token the book knows whose role
grants ``ingest``; it raises 401 for a missing or unknown token and 403 for a known token
without the permission. Which *sources* a principal may write is checked per input with
:func:`check_source`, because one batch may claim several sources.

Whether the request being handled presented a token the book knows is kept per request
(:func:`begin_request`, :func:`authenticated`): a refusal of a request that did not is only
counted, never stored, so anybody without a token cannot fill storage.
"""

from __future__ import annotations

from contextvars import ContextVar, Token

from core.auth import Principal, TokenBook
from ingest.gateway.rejects import forbidden, unauthorized

_AUTHENTICATED: ContextVar[bool] = ContextVar("gridwall_gateway_authenticated",
                                              default=False)


def begin_request(known_token: bool) -> Token[bool]:
    """Start a request, authenticated if it already showed a known token; pass the result to
    :func:`end_request` when it is answered."""
    return _AUTHENTICATED.set(known_token)


def end_request(started: Token[bool]) -> None:
    """Forget the request's authentication."""
    _AUTHENTICATED.reset(started)


def authenticated() -> bool:
    """True if the request being handled presented a token the book knows."""
    return _AUTHENTICATED.get()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def authorize(book: TokenBook, token: str | None) -> Principal:
    """The principal holding ``token`` if it may ingest; raise a 401/403 :class:`Rejected`."""
    if not token:
        raise unauthorized("a bearer token is required")
    principal = book.check(token)
    if principal is None:
        raise unauthorized("unknown token")
    _AUTHENTICATED.set(True)
    if not principal.may("ingest"):
        raise forbidden("authorization", f"role '{principal.role}' may not ingest")
    return principal


def check_source(principal: Principal, source: str, field: str) -> None:
    """Raise 403 naming ``field`` unless ``principal`` may write input claiming ``source``."""
    if not principal.may_write_source(source):
        raise forbidden(field, f"'{principal.name}' may not write source '{source}'")

