"""The live configuration keys: one record per key, the only list of them.

A key's value is changed at run time through the compacted control topic: the ops console
validates a proposed value with :attr:`LiveKey.parse` before sending it, and every worker
validates it again with the same function before applying it (so a value the console
accepts is one the workers accept). ``parse`` turns plain data into a value with
``to_mapping()`` or raises a ``ValueError`` whose message names the path.

A key's start-up value is the YAML file :attr:`LiveKey.config_file` of the config directory
if it has one, else :attr:`LiveKey.default`. To add a key: add its record to
:data:`LIVE_KEYS` (its value type lives in :mod:`domain`), and read it in the job that uses
it (``streams.config.register_key``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from domain.alerts import AlertConfig
from domain.scoring_policy import ScoringPolicy
from domain.sensor_policy import SensorPolicy
from domain.sink_config import SinkConfig
from domain.sla import SlaPolicy


@dataclass(frozen=True)
class LiveKey:
    """One live config key: how a value is validated and where its start-up value is."""

    key: str
    parse: Callable[[Any], Any]
    config_file: str | None = None  # YAML file of the config directory
    default: Callable[[], Any] | None = None  # the built-in start-up value (no file)
    what: str = ""


LIVE_KEYS: dict[str, LiveKey] = {k.key: k for k in (
    LiveKey("sla", SlaPolicy.from_mapping, config_file="sla.yaml",
            what="seconds a case may wait in each step, by category and priority"),
    LiveKey("alerts", AlertConfig.from_mapping, default=AlertConfig,
            what="alert re-escalation and silence timings"),
    LiveKey("sink", SinkConfig.from_mapping, default=SinkConfig,
            what="ClickHouse sink batching"),
    LiveKey("thresholds", SensorPolicy.from_mapping, config_file="thresholds.yaml",
            what="sensor value bands, heartbeats and anomaly detection"),
    LiveKey("scoring", ScoringPolicy.from_mapping, config_file="scoring.yaml",
            what="grid and worker scoring weights, targets and periods"),
)}


def live_key(key: str) -> LiveKey:
    """The record of ``key``; raises KeyError naming the known keys."""
    try:
        return LIVE_KEYS[key]
    except KeyError:
        raise KeyError(f"unknown live config key {key!r} (known: {', '.join(LIVE_KEYS)})"
                       ) from None
