"""Live configuration of the stream jobs, changed through the compacted control topic.

:class:`LiveConfig` holds the values in force. :meth:`LiveConfig.apply` validates one
:class:`~domain.schemas.ConfigChange` as a whole: an unknown key or an invalid value is
rejected with the reason and the old value stays; an accepted change replaces the value and
notifies the listeners of that key. Either way it returns a :class:`ConfigVerdict` with the
value before and after, for the audit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domain.alerts import AlertConfig, AlertConfigError
from domain.schemas import ConfigChange
from domain.sla import PolicyError, SlaPolicy, load_policy


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


@dataclass(frozen=True)
class ConfigVerdict:
    """What became of one change: accepted or not, why, and the value before and after."""

    key: str
    accepted: bool
    reason: str
    before: dict[str, Any]
    after: dict[str, Any]


Parser = Callable[[Any], Any]
_PARSERS: dict[str, Parser] = {
    "sla": SlaPolicy.from_mapping,
    "alerts": AlertConfig.from_mapping,
    "sink": SinkConfig.from_mapping,
}
_ERRORS = (PolicyError, AlertConfigError, ConfigError)


def register_key(key: str, parser: Parser) -> None:
    """Make ``key`` a live config key validated by ``parser``.

    ``parser`` turns plain data into a value with ``to_mapping()`` or raises ``ValueError``
    naming the path; the accepted value becomes ``LiveConfig.<key>``. Register before the
    control topic is read (i.e. while the app is built), or start-up values are rejected.
    """
    _PARSERS.setdefault(key, parser)


@dataclass
class LiveConfig:
    """The values in force in this worker, and who wants to hear about changes."""

    sla: SlaPolicy
    alerts: AlertConfig = field(default_factory=AlertConfig)
    sink: SinkConfig = field(default_factory=SinkConfig)
    _listeners: dict[str, list[Callable[[], None]]] = field(default_factory=dict)

    @classmethod
    def from_config_dir(cls, config_dir: str | Path) -> LiveConfig:
        """Start-up values: the SLA policy from ``<config_dir>/sla.yaml``, defaults otherwise."""
        return cls(sla=load_policy(Path(config_dir) / "sla.yaml"))

    def on_change(self, key: str, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every accepted change of ``key``."""
        self._listeners.setdefault(key, []).append(listener)

    def current(self, key: str) -> dict[str, Any]:
        """The value of ``key`` as plain data (empty for an unknown key)."""
        value = getattr(self, key, None) if key in _PARSERS else None
        return value.to_mapping() if value is not None else {}

    def apply(self, change: ConfigChange) -> ConfigVerdict:
        """Validate and apply ``change``; see the module docstring."""
        before = self.current(change.key)
        parser = _PARSERS.get(change.key)
        if parser is None:
            return ConfigVerdict(change.key, False, f"unknown config key '{change.key}' "
                                 f"(known: {', '.join(_PARSERS)})", before, before)
        try:
            value = parser(change.value)
        except (*_ERRORS, ValueError) as exc:
            return ConfigVerdict(change.key, False, str(exc), before, before)
        setattr(self, change.key, value)
        for listener in self._listeners.get(change.key, []):
            listener()
        return ConfigVerdict(change.key, True, "", before, self.current(change.key))
