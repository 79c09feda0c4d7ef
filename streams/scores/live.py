"""``scoring`` as a live config key: the policy on the control topic, applied at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.scoring_policy import ScoringPolicy


def live_scoring(config: Any, policy: ScoringPolicy,
                 apply: Callable[[ScoringPolicy], None]) -> None:
    """Register ``scoring`` (validated as a whole by :meth:`ScoringPolicy.from_mapping`),
    start from ``policy`` unless the control topic already set one, and call ``apply`` with
    every accepted change."""
    from streams.config import register_key

    register_key("scoring")
    if getattr(config, "scoring", None) is None:
        config.scoring = policy
    config.on_change("scoring", lambda: apply(config.scoring))
