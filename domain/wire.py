"""Decode and encode wire payloads with clear, field-naming errors.

:func:`decode_one_or_many` accepts a JSON object or an array of objects of a schema and
returns a list; any problem raises :class:`WireError` with the path of the offending field
(``events[3].category``) and a human-readable reason.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")

_encoder = msgspec.json.Encoder()
_PATH = re.compile(r"\s*-\s*at `\$(?P<path>[^`]*)`$")


class WireError(ValueError):
    """A payload that does not fit its schema: ``field`` (dotted path or None) and ``reason``."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


def _split(message: str, root: str) -> WireError:
    """Turn msgspec's ``reason - at `$path``` into a field path and a reason."""
    match = _PATH.search(message)
    reason = message[: match.start()] if match else message
    path = match.group("path") if match else ""
    named = _NAMED.search(reason)
    if named:  # the reason names a field inside the object at `path`
        path = f"{path}.{named.group(1)}"
    field = root + path if path.startswith("[") or not root else f"{root}{path}"
    return WireError(field.lstrip(".") or None, _humane(reason))


_NAMED = re.compile(r"(?:field `|^`)([A-Za-z_][A-Za-z0-9_]*)`")


def _humane(reason: str) -> str:
    if reason.startswith("Object missing required field"):
        return "required field is missing"
    if reason.startswith("Object contains unknown field"):
        return "unknown field"
    return reason


def decode(raw: bytes | str, schema: type[T], root: str = "") -> T:
    """Decode JSON into ``schema``; raise :class:`WireError` naming the field on failure."""
    try:
        return msgspec.json.decode(raw, type=schema)
    except msgspec.ValidationError as exc:
        raise _split(str(exc), root) from None
    except msgspec.DecodeError as exc:
        raise WireError(None, f"malformed JSON: {exc}") from None


def decode_one_or_many(raw: bytes | str, schema: type[T], root: str = "events") -> list[T]:
    """Decode one object or an array of objects of ``schema`` into a list.

    The first non-blank character decides, so the body is decoded once. An empty array is
    rejected: a request that carries nothing is a client bug. This is also how a message of
    a packed topic (one record, or an array of records of one key) is read.
    """
    data = raw.encode() if isinstance(raw, str) else raw
    first = data.lstrip()[:1]
    if first == b"[":
        items = decode(data, list[schema], root)  # type: ignore[valid-type]
        if not items:
            raise WireError(root, "empty batch")
        return items
    if first == b"{":
        return [decode(data, schema)]
    if not first:
        raise WireError(None, "malformed JSON: empty body")
    try:
        msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise WireError(None, f"malformed JSON: {exc}") from None
    raise WireError(None, "expected a JSON object or an array of objects")


def encode(value: Any) -> bytes:
    """Encode a Struct (or plain data) as compact JSON bytes."""
    return _encoder.encode(value)
