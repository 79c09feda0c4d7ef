"""Reading the wall's history from ClickHouse: hydration, timelines, action and config audits.

Every function here is synchronous (call it in a thread) and total: if ClickHouse is down,
the database or a table does not exist yet, or a query fails, it returns an empty result
and logs why; the wall then runs on the hub's deltas alone. Queries use only SQL that runs
on ClickHouse 18.16 and current servers (FINAL reads of ReplacingMergeTree tables).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from domain.privacy import mask_text
from domain.schemas import WallUpdate
from domain.vocab import OPEN_STEPS
from gridwall.settings import Settings
from wall.app.fields import day_start_ms
from wall.app.history import Transition

log = logging.getLogger("gridwall.wall.hydrate")
FREE_TEXT = frozenset({"description", "actor"})  # masked: phones, ID numbers, e-mails
LIMIT = 50_000
OPEN_IN = ", ".join(f"'{s}'" for s in OPEN_STEPS)

CASE_COLUMNS = ("case_id", "grid_id", "category", "priority", "step", "tier", "opened_ms",
                "step_entered_ms", "updated_ms", "deadline_ms", "on_spot", "reopen_count",
                "escalations", "breaches", "rating", "source", "description", "actor")
ALERT_COLUMNS = ("alert_id", "fingerprint", "grid_id", "kind", "category", "severity",
                 "status", "title", "detail", "case_id", "sensor_id", "tier", "assignee",
                 "acked_by", "silenced_until_ms", "silenced_by", "silence_comment",
                 "opened_ms", "updated_ms", "occurrences")


@contextmanager
def _client(settings: Settings) -> Iterator[Any]:
    from gridwall.clients import clickhouse_client

    client = clickhouse_client(settings, database=settings.clickhouse_database,
                               connect_timeout=2, send_receive_timeout=20,
                               sync_request_timeout=5)
    try:
        yield client
    finally:
        client.disconnect()


def query(settings: Settings, sql: str, params: dict[str, Any] | None = None
          ) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` (``{db}`` is the settings' database), or [] on any failure."""
    try:
        with _client(settings) as client:
            rows = client.execute(sql.format(db=settings.clickhouse_database), params or {})
    except Exception as exc:  # noqa: BLE001 - any failure means "no history", never a crash
        log.warning("ClickHouse query failed (%s): %s", type(exc).__name__,
                    str(exc).splitlines()[0] if str(exc) else "")
        return []
    return list(rows)


def _updates(channel: str, columns: Sequence[str], rows: list[tuple[Any, ...]],
             ts_column: str) -> list[WallUpdate]:
    out = []
    for row in rows:
        data = dict(zip(columns, row, strict=True))
        for name in FREE_TEXT & data.keys():  # as the worker's case_wall sends them
            data[name] = mask_text(data[name]) or ""
        out.append(WallUpdate(channel=channel, key=str(data[columns[0]]),
                              ts=int(data[ts_column]), data=data))
    return out


def hydrate(settings: Settings, now_ms: int) -> list[WallUpdate]:
    """Open cases and today's cases, unresolved alerts and today's alerts, as updates."""
    start = day_start_ms(now_ms)
    cases = query(settings, f"SELECT {', '.join(CASE_COLUMNS)} FROM {{db}}.cases FINAL "
                            f"WHERE step IN ({OPEN_IN}) OR updated_ms >= %(start)s "
                            f"ORDER BY updated_ms DESC LIMIT {LIMIT}", {"start": start})
    alerts = query(settings, f"SELECT {', '.join(ALERT_COLUMNS)} FROM {{db}}.alerts FINAL "
                             f"WHERE status != 'resolved' OR updated_ms >= %(start)s "
                             f"ORDER BY updated_ms DESC LIMIT {LIMIT}", {"start": start})
    # Oldest first, so the newest items end up most recently used in the bounded store.
    return (_updates("cases", CASE_COLUMNS, cases[::-1], "updated_ms")
            + _updates("alerts", ALERT_COLUMNS, alerts[::-1], "updated_ms"))


def case_transitions(settings: Settings, case_id: str) -> list[Transition]:
    """Every recorded transition of a case, oldest first."""
    rows = query(settings, "SELECT ts_ms, action, from_step, to_step, to_tier, actor "
                           "FROM {db}.case_transitions FINAL WHERE case_id = %(c)s "
                           "ORDER BY ts_ms LIMIT 1000", {"c": case_id})
    return [Transition(int(ts), action, src, dst, int(tier), actor)
            for ts, action, src, dst, tier, actor in rows]


def alert_actions(settings: Settings, alert_id: str | None = None, limit: int = 50
                  ) -> list[tuple[int, str, str, str, str, str]]:
    """(ts_ms, alert_id, action, actor, outcome, detail), newest first; all alerts if None."""
    where = "WHERE alert_id = %(a)s " if alert_id else ""
    rows = query(settings, "SELECT ts_ms, alert_id, action, actor, outcome, detail "
                           f"FROM {{db}}.alert_actions FINAL {where}"
                           f"ORDER BY ts_ms DESC LIMIT {int(limit)}", {"a": alert_id or ""})
    return [(int(r[0]), *map(str, r[1:])) for r in rows]  # type: ignore[misc]


def config_audit(settings: Settings, limit: int = 50
                 ) -> list[tuple[int, str, str, bool, str, str, str]]:
    """(ts_ms, key, actor, accepted, reason, before, after) of config changes, newest first."""
    rows = query(settings, "SELECT ts_ms, config_key, actor, accepted, reason, before, after "
                           "FROM {db}.config_changes FINAL "
                           f"ORDER BY ts_ms DESC LIMIT {int(limit)}")
    return [(int(ts), str(k), str(a), bool(ok), str(r), str(b), str(af))
            for ts, k, a, ok, r, b, af in rows]


def current_config(audit: Sequence[tuple[int, str, str, bool, str, str, str]]
                   ) -> dict[str, dict[str, Any]]:
    """The value in force per key: the ``after`` of the newest accepted change."""
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
