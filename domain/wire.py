"""Decode and encode wire payloads with clear, field-naming errors.

:func:`decode_one_or_many` accepts a JSON object or an array of objects of a schema and
returns a list; any problem raises :class:`WireError` with the path of the offending field
(``events[3].category``) and a human-readable reason.

Bounds: :func:`check_bounds` refuses JSON nested deeper than a limit (default
:data:`MAX_DEPTH`) or larger than a size, with a :class:`WireError` naming the limit
(``frame too deep (limit 32)``), before anything is decoded; :func:`decode_bounded` is
:func:`decode` behind it. Every decoder of an untrusted frame or record (the hub's client
frames and Kafka feed, the wall's hub feed, the worker's control topic) goes through it.
:func:`decode` itself never lets a ``RecursionError`` out either: JSON nested deeper than
the interpreter's recursion limit is a :class:`WireError` too.
"""

from __future__ import annotations

import re
from itertools import accumulate
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")

MAX_DEPTH = 32  # arrays/objects inside each other; no GridWall message needs more than ~6
_encoder = msgspec.json.Encoder()
_SIGNS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_PATH = re.compile(r"\s*-\s*at `\$(?P<path>[^`]*)`$")


class WireError(ValueError):
    """A payload that does not fit its schema: ``field`` (dotted path or None) and ``reason``."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


class BoundsError(WireError):
    """JSON refused before decoding: larger or deeper than allowed (see :func:`check_bounds`)."""


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


def json_depth(data: bytes) -> int:
    """How deeply arrays and objects nest in JSON ``data`` (0 for a scalar).

    Brackets inside strings do not count. Meant for well-formed JSON; for malformed input
    the figure is only an estimate (the decoder refuses such input anyway). Linear in the
    size, done by bytes methods (no Python loop per byte).
    """
    if b'"' in data:
        if b"\\" in data:  # drop escaped backslashes, then escaped quotes
            data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
        data = b"".join(data.split(b'"')[::2])  # what lies between strings
    steps = data.translate(_SIGNS, _NOT_BRACKET)  # +1 per opening, -1 per closing bracket
    return max(accumulate(memoryview(steps).cast("b")), default=0)


def check_bounds(raw: bytes | str, *, max_depth: int = MAX_DEPTH,
                 max_bytes: int | None = None, what: str = "frame") -> bytes:
    """Return ``raw`` as bytes if it is at most ``max_bytes`` long and nests at most
    ``max_depth`` levels; else raise :class:`BoundsError` (no field) naming the limit, e.g.
    ``frame too deep (limit 32)`` or ``record too large (70000 bytes, limit 65536)``.

    JSON with at most ``max_depth`` brackets in all is accepted without scanning.
    """
    data = raw.encode() if isinstance(raw, str) else raw
    if max_bytes is not None and len(data) > max_bytes:
        raise BoundsError(None, f"{what} too large ({len(data)} bytes, limit {max_bytes})")
    if (data.count(b"[") + data.count(b"{") > max_depth
            and json_depth(data) > max_depth):
        raise BoundsError(None, f"{what} too deep (limit {max_depth})")
    return data


def decode(raw: bytes | str, schema: type[T], root: str = "") -> T:
    """Decode JSON into ``schema``; raise :class:`WireError` naming the field on failure."""
    try:
        return msgspec.json.decode(raw, type=schema)
    except msgspec.ValidationError as exc:
        raise _split(str(exc), root) from None
    except msgspec.DecodeError as exc:
        raise WireError(None, f"malformed JSON: {exc}") from None
    except RecursionError:
        raise WireError(None, "too deeply nested") from None


def decode_bounded(raw: bytes | str, schema: type[T], root: str = "", *,
                   max_depth: int = MAX_DEPTH, max_bytes: int | None = None,
                   what: str = "frame") -> T:
    """:func:`check_bounds`, then :func:`decode`: every problem is a :class:`WireError`."""
    return decode(check_bounds(raw, max_depth=max_depth, max_bytes=max_bytes, what=what),
                  schema, root)


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
    except RecursionError:
        raise WireError(None, "too deeply nested") from None
    except msgspec.DecodeError as exc:
        raise WireError(None, f"malformed JSON: {exc}") from None
    raise WireError(None, "expected a JSON object or an array of objects")


def encode(value: Any) -> bytes:
    """Encode a Struct (or plain data) as compact JSON bytes."""
    return _encoder.encode(value)
