"""KPI tiles, the six-step funnel and the category breakdown, from the wall's state (pure).

Figures are derived from the ``cases`` and ``alerts`` items the wall holds (hydrated from
ClickHouse, then kept current by the hub), not from the street-level ``grid_metrics`` item:
each worker computes that one over the grids it owns only, so with several workers it is
partial. "Today" is the local (UTC+8) day containing ``now_ms``.

Guarantees: every function is total over any store content and never mutates it; counts
are non-negative; the funnel is non-increasing from step 1 to step 6.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from domain.vocab import OPEN_STEPS
from wall.app.fields import day_start_ms, integer, text
from wall.app.store import WallStore

Tone = Literal["ok", "warn", "bad", "neutral"]
SIX_STEPS: tuple[str, ...] = ("reported", "verified", "dispatched", "handled", "closed",
                              "evaluated")
DONE_STEPS = frozenset({"closed", "evaluated"})
DEAD_SENSOR_KINDS = frozenset({"sensor_dead", "dead_sensor", "heartbeat", "sensor_offline"})
ON_TIME_WARN = 0.9
ON_TIME_BAD = 0.75


@dataclass
class CaseCounts:
    """Figures over the cases the wall holds."""

    reported_today: int = 0
    closed_today: int = 0
    closed_on_time_today: int = 0
    open: int = 0
    overdue: int = 0
    reached: Counter[str] = field(default_factory=Counter)
    open_by_category: Counter[str] = field(default_factory=Counter)

    @property
    def on_time_rate(self) -> float | None:
        """Share of today's closures without a breach; None before the first closure."""
        if not self.closed_today:
            return None
        return self.closed_on_time_today / self.closed_today


@dataclass(frozen=True)
class Tile:
    """One KPI tile: label key (see :mod:`wall.app.i18n`), display value, tone."""

    key: str
    value: str
    tone: Tone = "neutral"


def is_open(case: Mapping[str, Any]) -> bool:
    """True if the case waits in a step whose SLA clock runs."""
    return text(case, "step") in OPEN_STEPS


def is_overdue(case: Mapping[str, Any], now_ms: int) -> bool:
    """True if the case is open and past its current step's deadline."""
    deadline = integer(case, "deadline_ms")
    return is_open(case) and 0 < deadline <= now_ms


def breached(case: Mapping[str, Any]) -> bool:
    """True if the case ever breached an SLA (``breaches``, else ``escalations`` by timer)."""
    return integer(case, "breaches", integer(case, "escalations")) > 0


def count_cases(cases: Iterable[Mapping[str, Any]], now_ms: int) -> CaseCounts:
    """Count the figures of :class:`CaseCounts` over ``cases``."""
    start = day_start_ms(now_ms)
    out = CaseCounts()
    for case in cases:
        step = text(case, "step")
        today = integer(case, "opened_ms") >= start
        if today:
            out.reported_today += 1
        if step in DONE_STEPS and integer(case, "updated_ms") >= start:
            out.closed_today += 1
            out.closed_on_time_today += not breached(case)
        if step in OPEN_STEPS:
            out.open += 1
            out.overdue += is_overdue(case, now_ms)
            out.open_by_category[text(case, "category", "other")] += 1
        if (today or step in OPEN_STEPS) and step in SIX_STEPS:
            for reached in SIX_STEPS[: SIX_STEPS.index(step) + 1]:
                out.reached[reached] += 1
    return out


def _rate_tone(rate: float | None) -> Tone:
    if rate is None:
        return "neutral"
    return "ok" if rate >= ON_TIME_WARN else "warn" if rate >= ON_TIME_BAD else "bad"


def percent(rate: float | None) -> str:
    """``93.5%``, or ``—`` when there is no rate."""
    return "—" if rate is None else f"{rate * 100:.1f}%"


def sensors_online(store: WallStore, sensor_total: int) -> tuple[int, int]:
    """(online, total): the street's sensors minus those with an open dead-sensor alert."""
    dead = {text(a, "sensor_id") for a in store.data("alerts")
            if text(a, "kind") in DEAD_SENSOR_KINDS and text(a, "status") != "resolved"}
    dead.discard("")
    return max(0, sensor_total - len(dead)), sensor_total


def alert_counts(alerts: Iterable[Mapping[str, Any]], now_ms: int) -> tuple[int, int]:
    """(not resolved, open and unacknowledged and not silenced)."""
    open_, unacked = 0, 0
    for alert in alerts:
        status = text(alert, "status")
        if status == "resolved":
            continue
        open_ += 1
        silenced = integer(alert, "silenced_until_ms") > now_ms
        unacked += status == "open" and not silenced
    return open_, unacked


def kpi_tiles(store: WallStore, counts: CaseCounts, sensor_total: int,
              now_ms: int) -> list[Tile]:
    """The eight KPI tiles, in display order."""
    rate, overdue = counts.on_time_rate, counts.overdue
    online, total = sensors_online(store, sensor_total)
    open_alerts, unacked = alert_counts(store.data("alerts"), now_ms)
    return [
        Tile("kpi.reported", str(counts.reported_today)),
        Tile("kpi.closed", str(counts.closed_today)),
        Tile("kpi.on_time", percent(rate), _rate_tone(rate)),
        Tile("kpi.open", str(counts.open)),
        Tile("kpi.overdue", str(overdue), "bad" if overdue else "ok"),
        Tile("kpi.sensors", f"{online}/{total}",
             "ok" if online == total else "warn" if online >= 0.95 * total else "bad"),
        Tile("kpi.alerts", str(open_alerts), "warn" if open_alerts else "ok"),
        Tile("kpi.unacked", str(unacked), "bad" if unacked else "ok"),
    ]


def funnel(counts: CaseCounts) -> list[tuple[str, int]]:
    """(step, cases that reached it) for the six steps, today's and still-open cases."""
    return [(step, counts.reached[step]) for step in SIX_STEPS]


def categories(counts: CaseCounts, limit: int = 8) -> list[tuple[str, int]]:
    """Open cases per category, largest first (ties by name), at most ``limit``."""
    return sorted(counts.open_by_category.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
