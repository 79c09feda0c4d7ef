"""Reading wall update ``data`` defensively: producers may omit fields or send odd types.

Every helper returns the declared type whatever it is given (the default when the value is
missing or of the wrong type), so a malformed update can never break a page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The street's day starts at local midnight in China (UTC+8, no daylight saving).
DAY_OFFSET_MS = 8 * 3600 * 1000
DAY_MS = 24 * 3600 * 1000


def maybe_num(data: Mapping[str, Any], key: str) -> float | None:
    """``data[key]`` as a float, or None when it is missing, null or not a number (unknown)."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def num(data: Mapping[str, Any], key: str, default: float = 0.0) -> float:
    """``data[key]`` as a float (booleans and non-numbers give ``default``)."""
    value = maybe_num(data, key)
    return default if value is None else value


def integer(data: Mapping[str, Any], key: str, default: int = 0) -> int:
    """``data[key]`` as an int (see :func:`num`)."""
    return int(num(data, key, float(default)))


def text(data: Mapping[str, Any], key: str, default: str = "") -> str:
    """``data[key]`` as a str (None and non-strings give ``default``)."""
    value = data.get(key)
    return value if isinstance(value, str) else default


def mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """``data[key]`` if it is a mapping, else an empty one."""
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def day_start_ms(now_ms: int) -> int:
    """Epoch ms of the local (UTC+8) midnight that began the day containing ``now_ms``."""
    return (now_ms + DAY_OFFSET_MS) // DAY_MS * DAY_MS - DAY_OFFSET_MS
