"""Resolution levels from ClickHouse: at which tier the street's cases were closed.

:func:`resolution_counts` counts, per grid and tier, the cases closed (``closed`` or
``evaluated``) whose latest version was written at or after ``since_ms`` (``updated_ms``:
a case closed then evaluated counts once, at its tier). It reads ``FINAL`` (one row per
case) and is total like every wall read (:func:`readside.connection.rows`): with ClickHouse
down it returns ``{}``. The SQL runs on ClickHouse 18.16 and current servers.
"""

from __future__ import annotations

from core.settings import Settings
from domain.contracts.tables import CASES
from readside.connection import rows

CLOSED_STEPS: tuple[str, ...] = ("closed", "evaluated")
_GRID, _TIER, _STEP, _UPDATED = CASES.pick("grid_id", "tier", "step", "updated_ms")


def resolution_sql() -> str:
    """The query (``{db}`` and ``%(since)s``/``%(closed)s`` left to fill)."""
    return (f"SELECT {_GRID}, {_TIER}, count() FROM {{db}}.cases FINAL "
            f"WHERE {_STEP} IN %(closed)s AND {_UPDATED} >= %(since)s "
            f"GROUP BY {_GRID}, {_TIER} ORDER BY {_GRID}, {_TIER}")


def resolution_counts(settings: Settings, since_ms: int) -> dict[str, dict[int, int]]:
    """Grid id -> tier -> cases closed since ``since_ms`` ({} when ClickHouse fails)."""
    out: dict[str, dict[int, int]] = {}
    found = rows(settings, resolution_sql(), {"closed": CLOSED_STEPS, "since": int(since_ms)})
    for grid_id, tier, n in found:
        out.setdefault(str(grid_id), {})[int(tier)] = int(n)
    return out
