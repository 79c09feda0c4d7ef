"""The street's organisation: units, the people who act in the six-step loop, and their scope.

A :class:`Directory` holds the units (the street command centre, the community stations,
the street offices, the district departments) and the listed people, each with a role
(:data:`ROLES`) and a scope: the grids of a grid worker, the community of a community
officer (the community of their station), the unit of everybody. Residents are a role
without a list: :meth:`Directory.acting` treats anybody not listed as a resident.

:func:`load_directory` reads ``config/organisation.yaml``; :func:`apply_change` applies one
record of a department's staff feed (:class:`OrgChange`, record types ``org.unit`` and
``org.person``) and returns a new directory. Guarantees: a directory is never mutated; every
person's unit exists; a grid worker has at least one grid; a loading or change problem is an
:class:`OrganisationError` naming the entry and the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

from domain.config_file import read_yaml

Role = Literal["resident", "grid_worker", "community_officer", "unit_handler", "centre",
               "leader"]
ROLES: tuple[str, ...] = ("resident", "grid_worker", "community_officer", "unit_handler",
                          "centre", "leader")
UnitKind = Literal["centre", "community_station", "street_office", "district_department"]
UNIT_KINDS: tuple[str, ...] = ("centre", "community_station", "street_office",
                               "district_department")
WORKER_TYPES: tuple[str, ...] = ("area", "safety", "fire", "family_planning", "environment",
                                 "public_order")
ORGANISATION_FILE = "organisation.yaml"  # in the config directory
ORG_RECORD_TYPES: tuple[str, ...] = ("org.unit", "org.person")


class OrganisationError(ValueError):
    """The organisation file or a change is malformed; the message names the entry."""


class Unit(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A unit that may hold a case; a community station names its ``community``."""

    id: str
    name: str
    kind: UnitKind
    name_en: str = ""
    community: str | None = None


class Person(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Somebody who acts: role and scope (grids, community, unit)."""

    id: str
    name: str
    role: Role
    unit: str | None = None
    grids: tuple[str, ...] = ()
    community: str | None = None
    worker_type: str | None = None


class OrgChange(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One record of a department's staff feed: upsert or remove a unit or a person."""

    record_type: Literal["org.unit", "org.person"]
    ts: int
    unit: Unit | None = None
    person: Person | None = None
    remove: str | None = None  # the id to remove instead of an upsert


def resident(person_id: str) -> Person:
    """An unlisted person, acting as a resident."""
    return Person(id=person_id, name=person_id, role="resident")


class Directory:
    """Units and people by id, with the lookups the authority rules need."""

    def __init__(self, units: Iterable[Unit], people: Iterable[Person]) -> None:
        self.units: dict[str, Unit] = {u.id: u for u in units}
        self.people: dict[str, Person] = {}
        for person in people:
            self.people[person.id] = _scoped(person, self.units)

    def person(self, person_id: str) -> Person | None:
        """The listed person, or None."""
        return self.people.get(person_id)

    def acting(self, person_id: str) -> Person:
        """The listed person, or the unlisted id as a resident."""
        return self.people.get(person_id) or resident(person_id)

    def unit(self, unit_id: str) -> Unit | None:
        """The unit, or None."""
        return self.units.get(unit_id)

    def members(self, unit_id: str) -> list[Person]:
        """The people of a unit, by id."""
        return sorted((p for p in self.people.values() if p.unit == unit_id),
                      key=lambda p: p.id)

    def grid_workers(self, grid_id: str) -> list[Person]:
        """The grid workers whose grids include ``grid_id``, by id."""
        return sorted((p for p in self.people.values()
                       if p.role == "grid_worker" and grid_id in p.grids), key=lambda p: p.id)

    def station_of(self, community_id: str) -> Unit | None:
        """The community station of ``community_id``, or None."""
        return next((u for u in self.units.values()
                     if u.kind == "community_station" and u.community == community_id), None)


def _scoped(person: Person, units: Mapping[str, Unit]) -> Person:
    """``person`` checked against ``units``, with the community of their station filled in."""
    if person.role == "resident":
        raise OrganisationError(f"person {person.id}: residents are not listed")
    unit = units.get(person.unit or "")
    if unit is None:
        raise OrganisationError(f"person {person.id}: unit: unknown unit {person.unit!r}")
    if person.role == "grid_worker" and not person.grids:
        raise OrganisationError(f"person {person.id}: grids: a grid worker needs a grid")
    if person.community is None and unit.community is not None:
        return msgspec.structs.replace(person, community=unit.community)
    return person


def apply_change(directory: Directory, change: OrgChange) -> Directory:
    """A new directory with ``change`` applied (``directory`` is unchanged).

    Removing a unit that still has people is refused, as is a person in an unknown unit.
    """
    units, people = dict(directory.units), dict(directory.people)
    if change.remove is not None:
        if change.record_type == "org.unit":
            if any(p.unit == change.remove for p in people.values()):
                raise OrganisationError(f"unit {change.remove}: remove: it still has people")
            units.pop(change.remove, None)
        else:
            people.pop(change.remove, None)
    elif change.record_type == "org.unit" and change.unit is not None:
        units[change.unit.id] = change.unit
    elif change.record_type == "org.person" and change.person is not None:
        people[change.person.id] = change.person
    else:
        field = "unit" if change.record_type == "org.unit" else "person"
        raise OrganisationError(f"{change.record_type}: {field}: missing (or give remove)")
    return Directory(units.values(), people.values())


def directory_from(data: Any, where: str = "organisation") -> Directory:
    """Validate plain data (the YAML's shape) into a directory."""
    if not isinstance(data, dict):
        raise OrganisationError(f"{where}: expected a mapping with units and people")
    try:
        units = msgspec.convert(data.get("units") or [], list[Unit])
        people = msgspec.convert(data.get("people") or [], list[Person])
    except msgspec.ValidationError as exc:
        raise OrganisationError(f"{where}: {exc}") from None
    types = tuple(data.get("grid_worker_types") or WORKER_TYPES)
    people += list(_grid_workers(data.get("grid_workers") or {}, types, where))
    ids = [p.id for p in people]
    if len(set(ids)) != len(ids):
        raise OrganisationError(f"{where}: a person id is listed twice")
    return Directory(units, people)


def _grid_workers(by_community: Any, types: tuple[str, ...], where: str
                  ) -> Iterable[Person]:
    """People ``W-<grid>-<n>`` from ``{community: {grid: [names in type order]}}``."""
    if not isinstance(by_community, dict):
        raise OrganisationError(f"{where}: grid_workers: expected community -> grid -> names")
    for community, grids in by_community.items():
        for grid, names in (grids or {}).items():
            if not isinstance(names, list) or len(names) > len(types):
                raise OrganisationError(
                    f"{where}: grid_workers.{community}.{grid}: at most {len(types)} names")
            for n, name in enumerate(names, start=1):
                yield Person(id=f"W-{grid}-{n}", name=str(name), role="grid_worker",
                             unit=f"CS-{community}", grids=(str(grid),),
                             community=str(community), worker_type=types[n - 1])


def load_directory(path: Path) -> Directory:
    """Read ``config/organisation.yaml`` (or another file of its shape)."""
    return directory_from(read_yaml(path, OrganisationError, "organisation"), str(path))
