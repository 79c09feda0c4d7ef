"""Grid registers from department records: counts, updates replace, moves, no personal data."""

from __future__ import annotations

from typing import Any

from domain.schemas import DepartmentRecord
from streams.registers.book import RegisterBook, contribution


def rec(record_id: str, record_type: str, grid: str = "G1", **attributes: Any
        ) -> DepartmentRecord:
    return DepartmentRecord(record_id=record_id, record_type=record_type,  # type: ignore[arg-type]
                            ts=1, grid_id=grid, attributes=attributes,
                            person_name="张三丰", person_id_number="370102199001011234",
                            person_phone="13812345678")


def test_contributions_per_record_type() -> None:
    assert contribution(rec("r", "resident", household_id="G1-H1", residence="floating")) == (
        {"population": 1, "floating": 1}, "G1-H1")
    assert contribution(rec("s", "special_group", group="veteran")) == (
        {"group.veteran": 1}, "")
    assert contribution(rec("b", "building", households=24))[0] == {
        "buildings": 1, "building_households": 24}
    assert contribution(rec("e", "enterprise", employees=40, hazardous_chemicals=True))[0] == {
        "enterprises": 1, "employees": 40, "hazardous_enterprises": 1}
    assert contribution(rec("p", "party_org", members=12))[0] == {"party_orgs": 1,
                                                                  "party_members": 12}
    assert contribution(rec("i", "incident", kind="theft"))[0] == {"incident.theft": 1}


def test_counts_households_once_and_resync_replaces() -> None:
    book = RegisterBook()
    changed = book.update([
        rec("r1", "resident", household_id="G1-H1"),
        rec("r2", "resident", household_id="G1-H1"),
        rec("r3", "resident", household_id="G1-H2", residence="floating"),
        rec("c1", "compound", households=300),
        rec("r1", "resident", household_id="G1-H1"),  # synced again: no double count
    ])
    assert changed == {"G1"}
    assert book.snapshot("G1") == {"compound_households": 300, "compounds": 1, "floating": 1,
                                   "households": 2, "population": 3}
    book.update([rec("c1", "compound", households=320)])  # an update replaces
    assert book.snapshot("G1")["compound_households"] == 320


def test_record_moving_grid_leaves_the_old_one() -> None:
    book = RegisterBook()
    book.update([rec("r1", "resident", household_id="H1")])
    changed = book.update([rec("r1", "resident", "G2", household_id="H9")])
    assert changed == {"G1", "G2"}
    assert book.snapshot("G1") == {"households": 0}
    assert book.snapshot("G2") == {"households": 1, "population": 1}
    rows = book.rows(["G1"], version=5)
    assert {(r["figure"], r["value"]) for r in rows} == {("population", 0), ("households", 0)}


def test_no_personal_data_is_kept() -> None:
    book = RegisterBook()
    book.update([rec("r1", "resident", household_id="G1-H1"), rec("e", "enterprise")])
    held = repr(book.grids["G1"].__dict__) + repr(book.rows(["G1"], 1))
    for personal in ("张三丰", "370102199001011234", "13812345678", "张"):
        assert personal not in held


def test_implausible_records_from_kafka_are_bounded_and_never_overflow_the_column() -> None:
    """Records written straight to Kafka skip the gateway: the book bounds them itself."""
    book = RegisterBook()
    book.update([rec(f"b{i}", "building", households=10**18) for i in range(20)]
                + [rec("c1", "compound", households=-5), rec("e1", "enterprise",
                                                                employees=float("inf")),
                   rec("s1", "special_group", group="13812345678"),
                   rec("i1", "incident", kind="x" * 500)])
    figures = book.snapshot("G1")
    assert figures["building_households"] == 20 * 100_000  # each clamped to its range
    assert "compound_households" not in figures and "employees" not in figures  # 0: left out
    assert figures["group.other"] == 1 and figures["incident.other"] == 1
    assert all(len(name) < 40 for name in figures)
    register = book.grids["G1"]
    register.counts["building_households"] = 2**70  # a sum past Int64, however it came
    [row] = [r for r in book.rows(["G1"], 1) if r["figure"] == "building_households"]
    assert row["value"] == 2**63 - 1
