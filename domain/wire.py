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

    An empty array is rejected: a request that carries nothing is a client bug.
    """
    try:
        probe = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise WireError(None, f"malformed JSON: {exc}") from None
    if isinstance(probe, list):
        if not probe:
            raise WireError(root, "empty batch")
        return decode(raw, list[schema], root)  # type: ignore[valid-type]
    if isinstance(probe, dict):
        return [decode(raw, schema)]
    raise WireError(None, "expected a JSON object or an array of objects")


def encode(value: Any) -> bytes:
    """Encode a Struct (or plain data) as compact JSON bytes."""
    return _encoder.encode(value)
