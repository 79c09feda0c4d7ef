"""Per-grid register counts from department records: people, groups, places, organisations.

Each record contributes a few counts to its grid (:func:`contribution`): a resident one
person (and their household, counted once per ``household_id``), a special-group record one
member of its group, a building or compound one place and its households, an enterprise one
enterprise and its employees, a party organisation one organisation and its members, an
incident one incident of its kind; a record of any other type of the catalog
(:mod:`domain.contracts.vocabulary`) one under ``record.<type>``.

Guarantees: the book keeps each record's latest version, keyed by department + record id
(:data:`RecordKey`); a version older (``ts``) than the one held is ignored, an equal or newer
one *replaces* it, so a grid's counts are always the sum of the contributions of the latest
versions of its records — a correction replaces, a re-sync never double counts, a record that
moved grid leaves its old grid, and the order in which partitions are replayed does not
matter. Counts are bounded per record (each attribute's plausible range) and the written values
saturate at the Int64 limits, so no record can make ClickHouse refuse a row.
:meth:`RegisterBook.drop_grids` forgets grids whole (a revoked partition); replaying
the same records rebuilds the same counts. Only counts and the grid-derived household id are
kept — names, ID numbers and phone numbers are never read, so no personal data is held here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from domain.contracts.vocabulary import record_figure_key
from domain.plausible import count_value, group_of, incident_kind_of
from domain.schemas import DepartmentRecord

INT64_MAX = 2**63 - 1  # the grid_registers value column is Int64
HOUSEHOLD_ID_MAX = 64


def contribution(record: DepartmentRecord) -> tuple[dict[str, int], str]:
    """The counts ``record`` adds to its grid, and its household id ("" if none).

    Whatever the record holds (it may come straight from Kafka, unchecked by the gateway),
    every count lies in its attribute's plausible range (:func:`domain.plausible.count_value`)
    and figure names come from closed sets (an unknown group or incident kind is ``other``).
    """
    a = record.attributes
    kind = record.record_type

    def count(name: str) -> int:
        return count_value(kind, name, a.get(name))

    if kind == "resident":
        counts = {"population": 1}
        if a.get("residence") == "floating":
            counts["floating"] = 1
        household = a.get("household_id")
        return counts, household[:HOUSEHOLD_ID_MAX] if isinstance(household, str) else ""
    if kind == "special_group":
        return {f"group.{group_of(a.get('group'))}": 1}, ""
    if kind == "building":
        return {"buildings": 1, "building_households": count("households")}, ""
    if kind == "compound":
        return {"compounds": 1, "compound_households": count("households")}, ""
    if kind == "enterprise":
        return {"enterprises": 1, "employees": count("employees"),
                "hazardous_enterprises": int(a.get("hazardous_chemicals") is True)}, ""
    if kind == "party_org":
        return {"party_orgs": 1, "party_members": count("members")}, ""
    if kind == "incident":
        return {f"incident.{incident_kind_of(a.get('kind'))}": 1}, ""
    return {record_figure_key(kind): 1}, ""


def saturated(value: int) -> int:
    """``value`` within Int64 (a sum never makes the column refuse a row)."""
    return max(-INT64_MAX, min(INT64_MAX, value))


RecordKey = tuple[str, str]  # department ("" if none), record_id


class GridRegister:
    """One grid's counts and the contributions they are made of."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.households: Counter[str] = Counter()
        self.records: dict[RecordKey, tuple[dict[str, int], str]] = {}

    def put(self, key: RecordKey, counts: dict[str, int], household: str) -> None:
        """Set the contribution of record ``key`` (replacing an earlier one)."""
        self.drop(key)
        self.records[key] = (counts, household)
        self.counts.update(counts)
        if household:
            self.households[household] += 1

    def drop(self, key: RecordKey) -> None:
        """Remove the contribution of record ``key``, if any."""
        old = self.records.pop(key, None)
        if old is None:
            return
        self.counts.subtract(old[0])
        if old[1]:
            self.households[old[1]] -= 1
            if self.households[old[1]] <= 0:
                del self.households[old[1]]

    def figures(self) -> dict[str, int]:
        """Every non-zero count, plus ``households`` (distinct households of residents)."""
        out = {k: v for k, v in sorted(self.counts.items()) if v}
        out["households"] = len(self.households)
        return out


class RegisterBook:
    """Registers of every grid seen; see the module docstring."""

    def __init__(self) -> None:
        self.grids: dict[str, GridRegister] = {}
        self._latest: dict[RecordKey, tuple[str, int]] = {}  # key -> (grid_id, ts)

    def __len__(self) -> int:
        return len(self._latest)

    def update(self, records: Iterable[DepartmentRecord]) -> set[str]:
        """Apply ``records`` (each with ``grid_id`` set); return the grids that changed.

        Records without a grid are skipped: the gateway geocodes before producing.
        """
        changed: set[str] = set()
        for record in records:
            grid_id = record.grid_id
            if not grid_id:
                continue
            key = (record.department or "", record.record_id)
            held = self._latest.get(key)
            if held is not None:
                old_grid, old_ts = held
                if record.ts < old_ts:
                    continue  # an older version than the one held
                if old_grid != grid_id:
                    self.grids[old_grid].drop(key)
                    changed.add(old_grid)
            counts, household = contribution(record)
            register = self.grids.get(grid_id)
            if register is None:
                register = self.grids[grid_id] = GridRegister()
            register.put(key, counts, household)
            self._latest[key] = (grid_id, record.ts)
            changed.add(grid_id)
        return changed

    def drop_grids(self, grid_ids: Iterable[str]) -> None:
        """Forget ``grid_ids`` and every record held in them."""
        for grid_id in grid_ids:
            register = self.grids.pop(grid_id, None)
            if register is None:
                continue
            for key in register.records:
                if self._latest.get(key, ("",))[0] == grid_id:
                    del self._latest[key]

    def snapshot(self, grid_id: str) -> dict[str, int]:
        """The figures of ``grid_id`` (empty if no record was seen)."""
        register = self.grids.get(grid_id)
        return register.figures() if register else {}

    def rows(self, grid_ids: Iterable[str], version: int) -> list[dict[str, Any]]:
        """``grid_registers`` rows (one per grid and figure) of ``grid_ids``.

        A figure that dropped to zero is written as 0 so the stored value follows it.
        """
        rows: list[dict[str, Any]] = []
        for grid_id in sorted(grid_ids):
            register = self.grids.get(grid_id)
            if register is None:
                continue
            figures = {k: 0 for k in register.counts}
            figures.update(register.figures())
            rows.extend({"grid_id": grid_id, "figure": name, "value": saturated(value),
                         "updated_ms": version, "version": version}
                        for name, value in sorted(figures.items()))
        return rows
