"""The wall's lists: grid ranking, alert ticker, SLA countdowns, sparklines, live feed (pure).

Guarantees: every function is total over any store content, returns at most ``limit``
rows in a stable order (ties broken by key), and never mutates the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from wall.app.fields import integer, num, text
from wall.app.kpis import is_open
from wall.app.store import WallStore

SEVERITY_ORDER: dict[str, int] = {"critical": 0, "warning": 1, "info": 2}
SPARK_MINUTES = 15


@dataclass(frozen=True)
class RankRow:
    """One grid in the ranking: rank, id, score and movement (positive: moved up)."""

    rank: int
    grid_id: str
    score: float
    trend: int


@dataclass(frozen=True)
class AlertRow:
    """One alert as lists show it."""

    alert_id: str
    grid_id: str
    severity: str
    status: str
    title: str
    opened_ms: int
    updated_ms: int
    acked_by: str
    assignee: str
    silenced_until_ms: int
    case_id: str
    kind: str
    category: str
    tier: int

    @classmethod
    def of(cls, key: str, data: Mapping[str, Any]) -> AlertRow:
        """Build from an ``alerts`` item (``key`` is the alert id when data lacks one)."""
        return cls(alert_id=text(data, "alert_id", key), grid_id=text(data, "grid_id"),
                   severity=text(data, "severity", "info"), status=text(data, "status", "open"),
                   title=text(data, "title"), opened_ms=integer(data, "opened_ms"),
                   updated_ms=integer(data, "updated_ms"), acked_by=text(data, "acked_by"),
                   assignee=text(data, "assignee"),
                   silenced_until_ms=integer(data, "silenced_until_ms"),
                   case_id=text(data, "case_id"), kind=text(data, "kind"),
                   category=text(data, "category"), tier=integer(data, "tier", 1))

    def silenced(self, now_ms: int) -> bool:
        """True while a silence is in force."""
        return self.silenced_until_ms > now_ms


@dataclass(frozen=True)
class Countdown:
    """An open case and the seconds left in its step (negative: overdue by that much)."""

    case_id: str
    grid_id: str
    step: str
    category: str
    remaining_s: float


def _rank_row(entry: Mapping[str, Any], key: str) -> RankRow:
    rank = integer(entry, "rank")
    if "rank_change" in entry:
        trend = integer(entry, "rank_change")
    else:
        prev = integer(entry, "prev_rank", rank)
        trend = prev - rank if prev and rank else 0
    return RankRow(rank, text(entry, "subject", text(entry, "grid_id", key)),
                   num(entry, "score"), trend)


def ranking(store: WallStore, limit: int = 10) -> list[RankRow]:
    """Grids best first: the street item's ``ranking`` list, else one item per grid.

    Ranked subjects come by rank; unranked ones (rank missing or null: too few cases) after
    them by score, then id.
    """
    street = store.get("ranking", "street") or {}
    entries = street.get("ranking")
    if isinstance(entries, list):
        rows = [_rank_row(e, "") for e in entries if isinstance(e, Mapping)]
    else:
        rows = [_rank_row(item.data, key) for key, item in store.channel("ranking").items()
                if key != "street" and text(item.data, "kind", "grid") == "grid"]
    rows.sort(key=lambda r: (r.rank if r.rank > 0 else 10**9, -r.score, r.grid_id))
    return rows[:limit]


def alert_rows(store: WallStore) -> list[AlertRow]:
    """Every alert the wall holds, as rows (unordered)."""
    return [AlertRow.of(key, item.data) for key, item in store.channel("alerts").items()]


def ticker(store: WallStore, limit: int = 8) -> list[AlertRow]:
    """Alerts not resolved, most recently updated first."""
    rows = [row for row in alert_rows(store) if row.status != "resolved"]
    rows.sort(key=lambda r: (-r.updated_ms, r.alert_id))
    return rows[:limit]


def countdowns(cases: Iterable[tuple[str, Mapping[str, Any]]], now_ms: int,
               limit: int = 8) -> list[Countdown]:
    """Open cases with a deadline, nearest deadline first (the most overdue on top)."""
    rows = []
    for key, case in cases:
        deadline = integer(case, "deadline_ms")
        if deadline <= 0 or not is_open(case):
            continue
        rows.append(Countdown(text(case, "case_id", key), text(case, "grid_id"),
                              text(case, "step"), text(case, "category"),
                              (deadline - now_ms) / 1000))
    rows.sort(key=lambda r: (r.remaining_s, r.case_id))
    return rows[:limit]


def sparklines(store: WallStore, community_of: Mapping[str, str], now_ms: int,
               minutes: int = SPARK_MINUTES) -> dict[str, list[int]]:
    """Per community, the number of cases reported in each of the last ``minutes``.

    The last bucket is the current minute; every community of ``community_of``'s values
    gets a series (zeros when quiet). Times are the cases' ``opened_ms``, so a hydrated
    wall shows the same history as one that watched live.
    """
    series = {c: [0] * minutes for c in sorted(set(community_of.values()))}
    current = now_ms // 60_000
    for case in store.data("cases"):
        grid_id, ts = text(case, "grid_id"), integer(case, "opened_ms")
        community = community_of.get(grid_id)
        age = current - ts // 60_000
        if community is not None and 0 <= age < minutes:
            series[community][minutes - 1 - age] += 1
    return series


def live_feed(store: WallStore, now_ms: int, window_s: float = 600,
              limit: int = 8) -> list[tuple[str, str, Mapping[str, Any]]]:
    """Latest activity (channel, key, data) received within ``window_s``, newest first."""
    out: list[tuple[str, str, Mapping[str, Any]]] = []
    for activity in reversed(store.recent):
        if now_ms - activity.received_ms > window_s * 1000 or len(out) >= limit:
            break
        out.append((activity.channel, activity.key, activity.data))
    return out
