"""The mechanism on the big screen: tiers, escalations, emergencies, resolution levels (pure).

One function per figure, each total over any case data (missing or odd fields read as
defaults, see ``wall/app/fields.py``), returning rows in a stable order (ties broken by case
or grid id) and never mutating its input:

- :func:`open_by_tier` -- open cases per tier (1 grid, 2 community, 3 street, 4 district);
- :func:`grid_top_tiers` -- per grid, the highest tier of its open cases;
- :func:`recent_escalations` -- cases whose tier rose within a window, with who holds them;
- :func:`pinned_emergencies` -- open emergency cases no unit has accepted yet;
- :func:`sla_rows` -- SLA countdowns with priority and tier;
- :func:`resolution_shares` -- per community, the share of closed cases closed at each tier.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from wall.app.fields import integer, text
from wall.app.kpis import is_open

TIERS: tuple[int, ...] = (1, 2, 3, 4)
PRIORITY_ORDER: dict[str, int] = {"emergency": 0, "high": 1, "normal": 2, "low": 3}
CLOSED_STEPS: frozenset[str] = frozenset({"closed", "evaluated"})


def tier_of(case: Mapping[str, Any]) -> int:
    """The case's tier clamped into 1..4 (a missing tier reads as 1, the grid)."""
    return min(max(integer(case, "tier", 1), 1), TIERS[-1])


def open_by_tier(cases: Iterable[Mapping[str, Any]]) -> list[tuple[str, int]]:
    """``[("tier.1", n), ... ("tier.4", n)]``: open cases per tier, every tier present."""
    counts = dict.fromkeys(TIERS, 0)
    for case in cases:
        if is_open(case):
            counts[tier_of(case)] += 1
    return [(f"tier.{tier}", n) for tier, n in counts.items()]


def grid_top_tiers(cases: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Grid id -> the highest tier among its open cases (grids with none are absent)."""
    out: dict[str, int] = {}
    for case in cases:
        grid_id = text(case, "grid_id")
        if grid_id and is_open(case):
            out[grid_id] = max(out.get(grid_id, 0), tier_of(case))
    return out


@dataclass(frozen=True)
class Escalation:
    """A case that moved up a tier: when, to which tier, and who holds it now."""

    case_id: str
    grid_id: str
    tier: int
    at_ms: int
    unit: str
    assignee: str


def recent_escalations(rises: Mapping[str, int], cases: Mapping[str, Mapping[str, Any]],
                       now_ms: int, window_ms: int = 3_600_000,
                       limit: int = 6) -> list[Escalation]:
    """Cases whose tier rose within ``window_ms`` before ``now_ms`` (``rises``: case id ->
    when its tier last rose), newest first, with their current tier and holder."""
    rows = []
    for case_id, at_ms in rises.items():
        case = cases.get(case_id)
        if case is None or not now_ms - window_ms <= at_ms <= now_ms:
            continue
        rows.append(Escalation(case_id, text(case, "grid_id"), tier_of(case), at_ms,
                               text(case, "unit"), text(case, "assignee")))
    rows.sort(key=lambda r: (-r.at_ms, r.case_id))
    return rows[:limit]


def pinned_emergencies(cases: Iterable[tuple[str, Mapping[str, Any]]]
                       ) -> list[tuple[str, Mapping[str, Any]]]:
    """Open emergency cases that no unit has accepted yet (``accepted_ms`` unset and not
    handled), oldest first: they stay pinned until acknowledged."""
    rows = [(text(case, "case_id", key), case) for key, case in cases
            if text(case, "priority") == "emergency" and is_open(case)
            and text(case, "step") != "handled" and not integer(case, "accepted_ms")]
    rows.sort(key=lambda kv: (integer(kv[1], "opened_ms"), kv[0]))
    return rows


@dataclass(frozen=True)
class SlaRow:
    """An open case's countdown: seconds left in its step (negative: overdue), priority,
    tier and holding unit."""

    case_id: str
    grid_id: str
    step: str
    priority: str
    tier: int
    unit: str
    remaining_s: float


def sla_rows(cases: Iterable[tuple[str, Mapping[str, Any]]], now_ms: int,
             limit: int = 6) -> list[SlaRow]:
    """Open cases with a deadline, nearest deadline first (the most overdue on top); at the
    same deadline the higher priority first."""
    rows = []
    for key, case in cases:
        deadline = integer(case, "deadline_ms")
        if deadline <= 0 or not is_open(case):
            continue
        rows.append(SlaRow(text(case, "case_id", key), text(case, "grid_id"),
                           text(case, "step"), text(case, "priority", "normal"),
                           tier_of(case), text(case, "unit"), (deadline - now_ms) / 1000))
    rows.sort(key=lambda r: (r.remaining_s, PRIORITY_ORDER.get(r.priority, 9), r.case_id))
    return rows[:limit]


@dataclass(frozen=True)
class Resolution:
    """One community's closed cases and the share closed at each tier (sums to 1)."""

    community: str
    total: int
    shares: tuple[float, ...]


def resolution_shares(counts: Mapping[str, Mapping[int, int]],
                      community_of: Mapping[str, str]) -> list[Resolution]:
    """Per community (``community_of``: grid id -> community), the cases closed and the
    share of them closed at tiers 1..4, from ``counts`` (grid id -> tier -> cases closed);
    communities in id order, every community of ``community_of`` present (total 0, shares
    0 when none closed); grids of no community are left out."""
    totals = {c: dict.fromkeys(TIERS, 0) for c in sorted(set(community_of.values()))}
    for grid_id, by_tier in counts.items():
        community = community_of.get(grid_id)
        if community is None:
            continue
        for tier, n in by_tier.items():
            totals[community][min(max(int(tier), 1), TIERS[-1])] += max(0, int(n))
    out = []
    for community, by_tier in totals.items():
        total = sum(by_tier.values())
        out.append(Resolution(community, total,
                              tuple(by_tier[t] / total if total else 0.0 for t in TIERS)))
    return out


def closed_counts(cases: Iterable[Mapping[str, Any]], since_ms: int
                  ) -> dict[str, dict[int, int]]:
    """Grid id -> tier -> cases closed (closed or evaluated) last updated at or after
    ``since_ms``: the resolution levels of the cases the wall holds."""
    out: dict[str, dict[int, int]] = {}
    for case in cases:
        if text(case, "step") in CLOSED_STEPS and integer(case, "updated_ms") >= since_ms:
            by_tier = out.setdefault(text(case, "grid_id"), {})
            by_tier[tier_of(case)] = by_tier.get(tier_of(case), 0) + 1
    return out
