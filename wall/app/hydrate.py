"""The wall's history from ClickHouse, through :mod:`readside` (which owns the queries).

Every function here is synchronous (call it in a thread) and total: if ClickHouse is down,
the database or a table does not exist yet, or a query fails, it returns an empty result
and logs why; the wall then runs on the hub's deltas alone. Hydrated cases carry their free
text masked, and their tier, holder (unit, assignee), dispatched unit and acceptance, as the
worker's live case updates do (:mod:`readside.wall_state`).
"""

from __future__ import annotations

from core.settings import Settings
from domain.schemas import WallUpdate
from readside import audits, wall_state
from wall.app.fields import day_start_ms
from wall.app.history import Transition


def hydrate(settings: Settings, now_ms: int) -> list[WallUpdate]:
    """Open cases and today's cases, unresolved alerts and today's alerts, as updates."""
    return wall_state.hydrate(settings, day_start_ms(now_ms))


def case_transitions(settings: Settings, case_id: str) -> list[Transition]:
    """Every recorded transition of a case, oldest first."""
    return [Transition(*row) for row in audits.case_transitions(settings, case_id)]
