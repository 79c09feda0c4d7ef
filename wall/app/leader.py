"""The leaders' view (``/leader``) as data (pure): who may open it, the rankings of a
scoring period, the overdue and the escalated cases, the open supervision orders (督办) and
the event that issues one.

Guarantees: every function is total over any store content (odd fields read as defaults),
returns rows in a stable order (ties broken by id) and at most ``limit`` of them, and never
mutates its input.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.auth import Principal
from domain.organisation import Directory
from wall.app.fields import integer, mapping, num, text
from wall.app.kpis import is_open, is_overdue
from wall.app.mechanism import PRIORITY_ORDER, tier_of

LEADER_ROLES: frozenset[str] = frozenset({"leader", "centre"})


def may_lead(who: Principal | None, directory: Directory) -> bool:
    """True for a token that may act (officer, ops, admin) or that names a person of the
    organisation whose role is ``leader`` or ``centre``."""
    if who is None:
        return False
    if who.may("act"):
        return True
    person = directory.person(who.person) if who.person else None
    return person is not None and person.role in LEADER_ROLES


@dataclass(frozen=True)
class Standing:
    """One subject's standing in a period: rank (0: too few cases), score, cases, movement."""

    subject: str
    rank: int
    score: float
    cases: int
    rank_change: int


def periods(items: Iterable[tuple[str, Mapping[str, Any]]], kind: str) -> list[str]:
    """The scoring periods the ranking items of ``kind`` carry, sorted."""
    found: set[str] = set()
    for _, data in items:
        if text(data, "kind") == kind:
            found.update(str(p) for p in mapping(data, "periods"))
            if text(data, "period"):
                found.add(text(data, "period"))
    return sorted(found)


def standings(items: Iterable[tuple[str, Mapping[str, Any]]], kind: str, period: str,
              limit: int = 10) -> list[Standing]:
    """Subjects of ``kind`` ("grid" or "worker") in ``period``, best first: ranked ones by
    rank, then the unranked by score and id. The street's top items are not subjects."""
    rows = []
    for key, data in items:
        if text(data, "kind") != kind or key.startswith("street"):
            continue
        entry = mapping(mapping(data, "periods"), period)
        if not entry and text(data, "period") == period:
            entry = data
        if not entry:
            continue
        rows.append(Standing(text(data, "subject", key), integer(entry, "rank"),
                             num(entry, "score"), integer(entry, "cases"),
                             integer(entry, "rank_change")))
    rows.sort(key=lambda r: (r.rank if r.rank > 0 else 10**9, -r.score, r.subject))
    return rows[:limit]


@dataclass(frozen=True)
class CaseLine:
    """An open case as the leader's lists show it."""

    case_id: str
    grid_id: str
    step: str
    priority: str
    tier: int
    unit: str
    overdue_s: float
    escalations: int


def _line(key: str, case: Mapping[str, Any], now_ms: int) -> CaseLine:
    deadline = integer(case, "deadline_ms")
    return CaseLine(text(case, "case_id", key), text(case, "grid_id"), text(case, "step"),
                    text(case, "priority", "normal"), tier_of(case), text(case, "unit"),
                    (now_ms - deadline) / 1000 if deadline > 0 else 0.0,
                    integer(case, "escalations"))


def overdue(cases: Iterable[tuple[str, Mapping[str, Any]]], now_ms: int,
            limit: int = 12) -> list[CaseLine]:
    """Open cases past their step deadline, the most overdue first."""
    rows = [_line(k, c, now_ms) for k, c in cases if is_overdue(c, now_ms)]
    rows.sort(key=lambda r: (-r.overdue_s, r.case_id))
    return rows[:limit]


def escalated(cases: Iterable[tuple[str, Mapping[str, Any]]], now_ms: int,
              limit: int = 12) -> list[CaseLine]:
    """Open cases that were escalated at least once: highest tier first, then the higher
    priority, then the most escalations, then id."""
    rows = [_line(k, c, now_ms) for k, c in cases
            if is_open(c) and integer(c, "escalations") > 0]
    rows.sort(key=lambda r: (-r.tier, PRIORITY_ORDER.get(r.priority, 9), -r.escalations,
                             r.case_id))
    return rows[:limit]


@dataclass(frozen=True)
class OrderLine:
    """An open supervision order as the leader's card shows it: ``left_s`` is negative once
    the deadline has passed; ``breached`` once the worker recorded the miss."""

    case_id: str
    grid_id: str
    unit: str
    deadline_ms: int
    by: str
    left_s: float
    breached: bool


def orders(cases: Iterable[tuple[str, Mapping[str, Any]]], now_ms: int,
           limit: int = 20) -> list[OrderLine]:
    """Open cases under a supervision order, the nearest deadline first."""
    rows = []
    for key, case in cases:
        order = mapping(case, "supervision")
        deadline = integer(order, "deadline_ms")
        if not is_open(case) or not text(order, "unit") or deadline <= 0:
            continue
        rows.append(OrderLine(text(case, "case_id", key), text(case, "grid_id"),
                              text(order, "unit"), deadline, text(order, "by"),
                              (deadline - now_ms) / 1000, integer(order, "breached_ms") > 0))
    rows.sort(key=lambda r: (r.deadline_ms, r.case_id))
    return rows[:limit]


def order_event(case: Mapping[str, Any], case_id: str, unit: str, minutes: int, note: str,
                actor: str, event_id: str, now_ms: int) -> dict[str, Any]:
    """The ``supervise`` event of the issue form: ``unit`` must act on the case within
    ``minutes`` (the gateway stamps the actor from the token and judges the rest)."""
    body: dict[str, Any] = {
        "event_id": event_id, "case_id": case_id, "action": "supervise", "ts": now_ms,
        "source": "command_centre", "grid_id": text(case, "grid_id"), "actor": actor,
        "target_unit": unit, "deadline_ms": now_ms + max(1, minutes) * 60_000}
    if note.strip():
        body["note"] = note.strip()
    return body
