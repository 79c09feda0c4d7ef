"""The audit trails in ClickHouse: case transitions, alert actions, live config changes.

Every function is synchronous (call it in a thread) and total (see
:func:`readside.connection.rows`): with ClickHouse down it returns an empty result.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from core.settings import Settings
from domain.contracts.tables import ALERT_ACTIONS, CASE_TRANSITIONS, CONFIG_CHANGES
from readside.connection import rows

# (ts_ms, action, from_step, to_step, to_tier, actor)
TransitionRow = tuple[int, str, str, str, int, str]
_TRANSITION = CASE_TRANSITIONS.pick("ts_ms", "action", "from_step", "to_step", "to_tier",
                                    "actor")
# (ts_ms, alert_id, action, actor, outcome, detail)
AlertActionRow = tuple[int, str, str, str, str, str]
_ALERT_ACTION = ALERT_ACTIONS.pick("ts_ms", "alert_id", "action", "actor", "outcome", "detail")
# (ts_ms, key, actor, accepted, reason, before, after)
ConfigChangeRow = tuple[int, str, str, bool, str, str, str]
_CONFIG_CHANGE = CONFIG_CHANGES.pick("ts_ms", "config_key", "actor", "accepted", "reason",
                                     "before", "after")


def case_transitions(settings: Settings, case_id: str) -> list[TransitionRow]:
    """Every recorded transition of a case, oldest first (at most 1000)."""
    found = rows(settings, f"SELECT {', '.join(_TRANSITION)} "
                           "FROM {db}.case_transitions FINAL WHERE case_id = %(c)s "
                           "ORDER BY ts_ms LIMIT 1000", {"c": case_id})
    return [(int(ts), str(action), str(src), str(dst), int(tier), str(actor))
            for ts, action, src, dst, tier, actor in found]


def alert_actions(settings: Settings, alert_id: str | None = None, limit: int = 50
                  ) -> list[AlertActionRow]:
    """Actions on ``alert_id`` (all alerts if None), newest first."""
    where = "WHERE alert_id = %(a)s " if alert_id else ""
    found = rows(settings, f"SELECT {', '.join(_ALERT_ACTION)} "
                           f"FROM {{db}}.alert_actions FINAL {where}"
                           f"ORDER BY ts_ms DESC LIMIT {int(limit)}", {"a": alert_id or ""})
    return [(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5])) for r in found]


def config_audit(settings: Settings, limit: int = 50) -> list[ConfigChangeRow]:
    """Config changes (accepted or not), newest first."""
    found = rows(settings, f"SELECT {', '.join(_CONFIG_CHANGE)} "
                           "FROM {db}.config_changes FINAL "
                           f"ORDER BY ts_ms DESC LIMIT {int(limit)}")
    return [(int(ts), str(k), str(a), bool(ok), str(r), str(b), str(af))
            for ts, k, a, ok, r, b, af in found]


def current_config(audit: Sequence[ConfigChangeRow]) -> dict[str, dict[str, Any]]:
    """The value in force per key: the ``after`` of the newest accepted change (pure)."""
    out: dict[str, dict[str, Any]] = {}
    for _ts, key, _actor, accepted, _reason, _before, after in audit:
        if accepted and key not in out:
            try:
                value = json.loads(after)
            except ValueError:
                continue
            if isinstance(value, dict):
                out[key] = value
    return out
