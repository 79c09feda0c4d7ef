"""The ClickHouse sink's batching settings, a live config value (key ``sink``).

:meth:`SinkConfig.from_mapping` validates plain data as a whole and raises
:class:`ConfigError` naming the path; unknown keys and out-of-range values are errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class ConfigError(ValueError):
    """A configuration value that does not validate; the message names the key."""


@dataclass(frozen=True)
class SinkConfig:
    """ClickHouse sink batching: flush at ``batch_size`` rows or after ``flush_interval_s``."""

    batch_size: int = 5_000
    flush_interval_s: float = 0.5

    @classmethod
    def from_mapping(cls, data: Any) -> SinkConfig:
        """Validate plain data; unknown keys and out-of-range values are errors."""
        if not isinstance(data, Mapping):
            raise ConfigError("sink: expected a mapping")
        for key in data:
            if key not in ("batch_size", "flush_interval_s"):
                raise ConfigError(f"sink.{key}: unknown key (allowed: batch_size, "
                                  "flush_interval_s)")
        size = data.get("batch_size", cls.batch_size)
        interval = data.get("flush_interval_s", cls.flush_interval_s)
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 1_000_000:
            raise ConfigError("sink.batch_size: must be a whole number from 1 to 1000000")
        if (isinstance(interval, bool) or not isinstance(interval, int | float)
                or not 0.01 <= interval <= 60):
            raise ConfigError("sink.flush_interval_s: must be from 0.01 to 60 seconds")
        return cls(size, float(interval))

    def to_mapping(self) -> dict[str, Any]:
        """The config as plain data."""
        return {"batch_size": self.batch_size, "flush_interval_s": self.flush_interval_s}
