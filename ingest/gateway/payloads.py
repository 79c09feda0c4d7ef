"""Request bodies: the gateway's own request schemas and one-pass decoding of them.

Decoding reuses :func:`domain.wire.decode`, so a bad body fails with the offending field's
path (``events[3].category``) and the reason, turned into a 422 :class:`Rejected`. A body is
decoded once: its first significant byte says whether it is one object or an array.
:func:`implausible` turns a :class:`~domain.plausible.Problem` into the same 422;
:func:`check_readings` refuses the first reading with an implausible value or time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

import msgspec
from msgspec import Meta

from domain.plausible import Problem, TimeWindow, reading_problem
from domain.schemas import SensorReading
from domain.vocab import SENSORS, Source
from domain.wire import WireError, decode
from ingest.gateway.rejects import Rejected, invalid

T = TypeVar("T")
_LEADING_SPACE = re.compile(rb"[ \t\r\n]*")

# Short enough that the batch ids derived from it (``<id>:<grid>:<part>``) stay valid Ids.
RequestId = Annotated[str, Meta(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.:\-]+$")]


class SensorReadingsRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A batch of sensor readings; ``request_id`` makes a retried request a duplicate."""

    readings: Annotated[list[SensorReading], Meta(min_length=1)]
    request_id: RequestId | None = None
    source: Source = "sensor"


@dataclass(frozen=True)
class Items(Generic[T]):
    """Decoded items with the path prefix of each (``""`` for a lone object)."""

    items: list[T]
    root: str
    single: bool

    def prefix(self, index: int) -> str:
        """The field path prefix of item ``index``: ``""`` or ``root[index]``."""
        return "" if self.single else f"{self.root}[{index}]"


def as_rejected(error: WireError) -> Rejected:
    """The 422 refusal for a wire error, naming the same field."""
    return invalid(error.field, error.reason)


def not_utf8() -> Rejected:
    """The 422 refusal for a body whose strings are not valid UTF-8."""
    return invalid(None, "malformed JSON: strings must be valid UTF-8")


def first_byte(raw: bytes) -> bytes:
    """The first byte that is not JSON whitespace (``b""`` for a blank body)."""
    start = _LEADING_SPACE.match(raw)
    index = start.end() if start else 0
    return raw[index:index + 1]


def decode_items(raw: bytes, schema: type[T], root: str) -> Items[T]:
    """Decode one object or a non-empty array of ``schema``; raise 422 naming the field."""
    first = first_byte(raw)
    try:
        if first == b"[":
            items = decode(raw, list[schema], root)  # type: ignore[valid-type]
            if not items:
                raise invalid(root, "empty batch")
            return Items(items, root, single=False)
        if first == b"{":
            return Items([decode(raw, schema)], root, single=True)
    except WireError as exc:
        raise as_rejected(exc) from None
    except UnicodeDecodeError:
        raise not_utf8() from None
    raise invalid(None, "expected a JSON object or an array of objects")


def decode_readings(raw: bytes) -> SensorReadingsRequest:
    """Decode a readings request: the object form, or a bare array of readings."""
    try:
        if first_byte(raw) == b"[":
            readings = decode(raw, list[SensorReading], "readings")
            if not readings:
                raise invalid("readings", "empty batch")
            return SensorReadingsRequest(readings=readings)
        return decode(raw, SensorReadingsRequest)
    except WireError as exc:
        raise as_rejected(exc) from None
    except UnicodeDecodeError:  # msgspec raises it for invalid UTF-8 inside strings
        raise not_utf8() from None


def implausible(problem: Problem, prefix: str = "") -> Rejected:
    """The 422 refusal of an implausible input, its field under ``prefix``."""
    return invalid(f"{prefix}.{problem.field}" if prefix else problem.field, problem.reason)


_VALUE_RANGES = {kind: (spec.low, spec.high) for kind, spec in SENSORS.items()}


def check_readings(readings: list[SensorReading], received_ms: int, window: TimeWindow,
                   root: str = "readings") -> None:
    """Raise 422 naming ``readings[i].value`` or ``.ts`` for the first reading whose value is
    outside its kind's range (or not finite) or whose time is outside ``window``."""
    earliest = received_ms - window.max_age_ms
    latest = received_ms + window.max_ahead_ms
    ranges = _VALUE_RANGES
    for index, r in enumerate(readings):
        low, high = ranges[r.kind]
        if low <= r.value <= high and earliest <= r.ts <= latest:  # NaN fails the first
            continue
        problem = reading_problem(r.kind, r.value) or window.problem(r.ts, received_ms)
        if problem is not None:
            raise implausible(problem, f"{root}[{index}]")
