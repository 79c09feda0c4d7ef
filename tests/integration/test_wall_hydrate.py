"""After a restart the wall's cases carry their holder as the worker's live updates did.

Real ClickHouse: the case events run through the worker's own logic
(:func:`streams.case_logic.process`), every version of the case row and every transition row
is written as the sink writes them (:mod:`streams.rows`), then the wall's hydration
(:func:`wall.app.hydrate.hydrate`) reads them back. Each hydrated case must carry the tier,
holding unit, assignee, dispatched unit and acceptance that the worker's last live update
(:func:`streams.jobs.cases.case_wall`) carried.
"""

from __future__ import annotations

from typing import Any

import pytest

from core.settings import Settings
from domain.schemas import CaseEvent
from streams.case_logic import CaseRecord, process
from streams.jobs.cases import case_wall
from streams.rows import COLUMNS, case_row, to_tuples, transition_row
from wall.app.hydrate import hydrate

pytestmark = pytest.mark.integration

T0 = 1_764_500_000_000
HOLDER_FIELDS = ("step", "tier", "priority", "unit", "assignee", "dispatched_unit",
                 "accepted_ms")


def _event(case: str, n: int, action: str, **extra: Any) -> CaseEvent:
    fields: dict[str, Any] = {"grid_id": "PL01-01", "source": "command_centre",
                              "actor": "CC-duty"}
    if action == "report":
        fields.update(category="environment", priority=extra.pop("priority", "normal"))
    fields.update(extra)
    return CaseEvent(event_id=f"{case}-{n}", case_id=case, action=action,
                     ts=T0 + n * 60_000, **fields)


def _lives(steps: dict[str, list[CaseEvent]]
           ) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """case -> the live wall data after its last event; every case row; every transition."""
    live, cases, transitions = {}, [], []
    for case_id, events in steps.items():
        record: CaseRecord | None = None
        for offset, event in enumerate(events):
            outcome = process(record, event, offset)
            assert outcome.record is not None, outcome.rejection
            transitions.append(transition_row(event, record, outcome.record, False))
            record = outcome.record
            cases.append(case_row(record, None))
        assert record is not None
        live[case_id] = case_wall(record, None, None)
    return live, cases, transitions


def test_hydrated_cases_carry_tier_holder_and_acceptance_as_live(infra: Settings,
                                                                   ch: Any) -> None:
    db = infra.clickhouse_database
    steps = {
        "HY-accepted": [_event("HY-accepted", 0, "report", priority="emergency"),
                        _event("HY-accepted", 1, "verify"),
                        _event("HY-accepted", 2, "dispatch", target_unit="SO-urban"),
                        _event("HY-accepted", 3, "accept", actor="D-handler")],
        "HY-waiting": [_event("HY-waiting", 0, "report", priority="emergency"),
                       _event("HY-waiting", 1, "verify"),
                       _event("HY-waiting", 2, "dispatch", target_unit="SO-fire",
                              target_person="H-SO-fire-1")],
        "HY-reassigned": [_event("HY-reassigned", 0, "report"),
                          _event("HY-reassigned", 1, "verify"),
                          _event("HY-reassigned", 2, "dispatch", target_unit="SO-env"),
                          _event("HY-reassigned", 3, "accept", actor="H-SO-env-1"),
                          _event("HY-reassigned", 4, "reassign", target_unit="SO-safety")],
        "HY-escalated": [_event("HY-escalated", 0, "report"),
                         _event("HY-escalated", 1, "escalate")],
        "HY-supervised": [_event("HY-supervised", 0, "report"),
                          _event("HY-supervised", 1, "verify"),
                          _event("HY-supervised", 2, "supervise", actor="L-secretary",
                                 target_unit="SO-fire", deadline_ms=T0 + 90 * 60_000,
                                 note="call 13812345678 first")],
    }
    live, cases, transitions = _lives(steps)
    for table, rows in (("cases", cases), ("case_transitions", transitions)):
        ch.execute(f"INSERT INTO {db}.{table} ({', '.join(COLUMNS[table])}) VALUES",
                   to_tuples(table, rows))

    hydrated = {u.key: u.data for u in hydrate(infra, T0) if u.channel == "cases"}

    for case_id, data in live.items():
        assert case_id in hydrated
        got = {f: hydrated[case_id].get(f) for f in HOLDER_FIELDS}
        assert got == {f: data.get(f) for f in HOLDER_FIELDS}, case_id
    # what those figures are, so that equal-but-empty could not pass
    assert hydrated["HY-accepted"]["unit"] == "SO-urban"
    assert hydrated["HY-accepted"]["assignee"] == "D-handler"
    assert hydrated["HY-accepted"]["accepted_ms"] == T0 + 3 * 60_000
    assert hydrated["HY-waiting"]["assignee"] == "H-SO-fire-1"
    assert hydrated["HY-waiting"].get("accepted_ms") is None
    assert hydrated["HY-reassigned"]["unit"] == "SO-safety"
    assert hydrated["HY-reassigned"].get("accepted_ms") is None
    assert hydrated["HY-escalated"]["tier"] == live["HY-escalated"]["tier"] > 1
    # the open supervision order as live, but its note (not stored in ClickHouse)
    order = live["HY-supervised"]["supervision"]
    assert order["unit"] == "SO-fire" and order["deadline_ms"] == T0 + 90 * 60_000
    assert hydrated["HY-supervised"]["supervision"] == {**order, "note": ""}
    assert hydrated["HY-accepted"]["supervision"] is None
