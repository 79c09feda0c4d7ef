"""Live configuration of the stream jobs, changed through the compacted control topic.

:class:`LiveConfig` holds the values in force. :meth:`LiveConfig.apply` validates one
:class:`~domain.schemas.ConfigChange` as a whole: an unknown key or an invalid value is
rejected with the reason and the old value stays; an accepted change replaces the value and
notifies the listeners of that key. Either way it returns a :class:`ConfigVerdict` with the
value before and after, for the audit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domain.alerts import AlertConfig, AlertConfigError
from domain.contracts.live_config import live_key
from domain.schemas import ConfigChange
from domain.sink_config import ConfigError, SinkConfig
from domain.sla import PolicyError, SlaPolicy, load_policy


@dataclass(frozen=True)
class ConfigVerdict:
    """What became of one change: accepted or not, why, and the value before and after."""

    key: str
    accepted: bool
    reason: str
    before: dict[str, Any]
    after: dict[str, Any]


Parser = Callable[[Any], Any]
# The keys every worker applies; a job registers its own (register_key). Parsers are the
# records of domain.contracts.live_config (the console validates with the same ones).
_PARSERS: dict[str, Parser] = {k: live_key(k).parse for k in ("sla", "alerts", "sink")}
_ERRORS = (PolicyError, AlertConfigError, ConfigError)


def register_key(key: str) -> None:
    """Make ``key`` (a record of :data:`domain.contracts.live_config.LIVE_KEYS`) a live
    config key of this worker, validated by the record's parser.

    The accepted value becomes ``LiveConfig.<key>``. Register before the control topic is
    read (i.e. while the app is built), or start-up values are rejected.
    """
    _PARSERS.setdefault(key, live_key(key).parse)


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
