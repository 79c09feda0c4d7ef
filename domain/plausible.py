"""Plausibility of inputs, beyond their types: times, sensor values, department attributes.

Every check is pure and returns None for a plausible input, else a :class:`Problem` naming
the field (relative to the item: ``ts``, ``value``, ``attributes.households``) and the reason
in words. The limits come from :mod:`domain.vocab` (one record per sensor kind and per
record type) and, for times, from a :class:`TimeWindow` around the receive time
(``GRIDWALL_EVENT_MAX_AGE_S`` / ``GRIDWALL_EVENT_MAX_AHEAD_S``).

The gateway refuses an implausible input (422 naming the field, plus a dead letter); the
worker, which also reads records written straight to Kafka, uses the same limits to refuse
events (:func:`TimeWindow.problem`) or to clamp what it sums (:func:`count_value`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from domain.vocab import INCIDENT_KINDS, RECORD_ATTRIBUTES, SENSORS, SPECIAL_GROUPS, AttributeSpec

MINUTE_MS = 60_000
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Problem:
    """Why an input is implausible: the field (relative to the item) and the reason."""

    field: str
    reason: str


@dataclass(frozen=True)
class TimeWindow:
    """Event times must lie from ``max_age_ms`` before to ``max_ahead_ms`` after receipt."""

    max_age_ms: int = 7 * DAY_MS
    max_ahead_ms: int = 5 * MINUTE_MS

    @classmethod
    def of(cls, max_age_s: int, max_ahead_s: int) -> TimeWindow:
        """The window of the settings ``event_max_age_s`` / ``event_max_ahead_s``."""
        return cls(max_age_s * 1000, max_ahead_s * 1000)

    def problem(self, ts: int, received_ms: int, field: str = "ts") -> Problem | None:
        """None if ``ts`` lies in the window around ``received_ms``, else the reason."""
        if ts < received_ms - self.max_age_ms:
            return Problem(field, f"event time {ts} is more than {_span(self.max_age_ms)} "
                                  f"before its receipt ({received_ms})")
        if ts > received_ms + self.max_ahead_ms:
            return Problem(field, f"event time {ts} is more than {_span(self.max_ahead_ms)} "
                                  f"after its receipt ({received_ms})")
        return None

    def ahead_problem(self, ts: int, received_ms: int, field: str = "ts") -> Problem | None:
        """Only the future bound: for versions (a department record may be old)."""
        problem = self.problem(ts, received_ms, field)
        return problem if problem is not None and ts > received_ms else None


def _span(ms: int) -> str:
    if ms % DAY_MS == 0:
        return f"{ms // DAY_MS} day(s)"
    if ms % MINUTE_MS == 0:
        return f"{ms // MINUTE_MS} minute(s)"
    return f"{ms / 1000:g} s"


def reading_problem(kind: str, value: float) -> Problem | None:
    """None if ``value`` is a finite number within the range of sensor ``kind``."""
    spec = SENSORS[kind]
    if not math.isfinite(value) or not spec.low <= value <= spec.high:
        return Problem("value", f"{value!r} {spec.unit} is outside the plausible range of a "
                                f"{kind} sensor ({spec.low:g} to {spec.high:g})")
    return None


def attributes_problem(record_type: str, attributes: dict[str, Any]) -> Problem | None:
    """None if every attribute is one of ``record_type``'s, with a plausible value."""
    allowed = RECORD_ATTRIBUTES[record_type]
    for name, value in attributes.items():
        spec = allowed.get(name)
        if spec is None:
            return Problem(f"attributes.{name}",
                           f"unknown attribute for record_type '{record_type}' "
                           f"(allowed: {', '.join(sorted(allowed))})")
        reason = value_problem(spec, value)
        if reason is not None:
            return Problem(f"attributes.{name}", reason)
    return None


def value_problem(spec: AttributeSpec, value: Any) -> str | None:
    """None if ``value`` fits ``spec``, else the reason."""
    if spec.kind == "bool":
        return None if isinstance(value, bool) else "must be true or false"
    if spec.kind == "str":
        if not isinstance(value, str):
            return "must be a string"
        if spec.choices and value not in spec.choices:
            return f"must be one of {', '.join(spec.choices)}"
        if len(value) > spec.max_length:
            return f"longer than {spec.max_length} characters"
        return None
    whole = spec.kind == "int"
    if isinstance(value, bool) or not isinstance(value, int | float) or (
            whole and not isinstance(value, int)):
        return "must be a whole number" if whole else "must be a number"
    if not (math.isfinite(value) and spec.low <= value <= spec.high):
        return f"{value!r} is outside the plausible range {spec.low:g} to {spec.high:g}"
    return None


def count_value(record_type: str, name: str, value: Any) -> int:
    """A numeric attribute as a count to sum: clamped into its plausible range, 0 when it is
    not a number or not an attribute of ``record_type``. Never raises."""
    spec = RECORD_ATTRIBUTES.get(record_type, {}).get(name)
    if spec is None or spec.kind not in ("int", "float") or isinstance(value, bool) or (
            not isinstance(value, int | float)) or not math.isfinite(value):
        return 0
    return int(min(max(value, spec.low), spec.high))


def closed_value(value: Any, allowed: tuple[str, ...]) -> str:
    """``value`` if it is one of ``allowed``, else ``"other"`` (figure names stay closed)."""
    return value if isinstance(value, str) and value in allowed else "other"


def group_of(value: Any) -> str:
    """A special group's name for its figure (``other`` when unknown)."""
    return closed_value(value, SPECIAL_GROUPS)


def incident_kind_of(value: Any) -> str:
    """An incident kind for its figure (``other`` when unknown)."""
    return closed_value(value, INCIDENT_KINDS)
