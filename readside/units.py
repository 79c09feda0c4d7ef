"""Routing's inputs from ClickHouse: each unit's open load and on-time record.

:func:`unit_loads` counts the open cases each unit holds now (the ``cases`` table's
``unit``, steps whose clock runs); :func:`unit_records` counts, per unit a case was last
dispatched to, the cases past handling (handled, closed, evaluated) and how many of them
never breached an SLA. Both read ``FINAL`` (one row per case); the caller passes a
clickhouse-driver ``Client`` and the database name. The results feed
:func:`domain.routing.propose`.
"""

from __future__ import annotations

from typing import Any

from domain.contracts.tables import CASES
from domain.routing import OnTime
from domain.vocab import OPEN_STEPS

DONE_STEPS: tuple[str, ...] = ("handled", "closed", "evaluated")
_UNIT, _DISPATCHED, _STEP, _BREACHES = CASES.pick("unit", "dispatched_unit", "step", "breaches")


def unit_loads(client: Any, database: str) -> dict[str, int]:
    """Unit id -> open cases it holds (units holding none are absent)."""
    rows = client.execute(
        f"SELECT {_UNIT}, count() FROM {database}.cases FINAL "
        f"WHERE {_STEP} IN %(open)s AND {_UNIT} != '' GROUP BY {_UNIT}", {"open": OPEN_STEPS})
    return {str(unit): int(n) for unit, n in rows}


def unit_records(client: Any, database: str) -> dict[str, OnTime]:
    """Unit id -> its on-time record over the cases last dispatched to it that were handled
    (a case counts on time when it never breached)."""
    rows = client.execute(
        f"SELECT {_DISPATCHED}, countIf({_BREACHES} = 0), count() FROM {database}.cases FINAL "
        f"WHERE {_STEP} IN %(done)s AND {_DISPATCHED} != '' GROUP BY {_DISPATCHED}",
        {"done": DONE_STEPS})
    return {str(unit): OnTime(int(on_time), int(total)) for unit, on_time, total in rows}
