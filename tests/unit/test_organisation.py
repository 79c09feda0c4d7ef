"""The organisation: the seed file against the geography and the simulator's actors, the
lookups, and a department feed's changes."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from domain.geo import load_street
from domain.organisation import (
    WORKER_TYPES,
    Directory,
    OrganisationError,
    OrgChange,
    Person,
    Unit,
    apply_change,
    directory_from,
    load_directory,
)
from ingest.simulator.cases import COMMAND_CENTRE

SEED = Path(__file__).resolve().parents[2] / "config" / "organisation.yaml"


@pytest.fixture(scope="module")
def seed() -> Directory:
    return load_directory(SEED)


def test_the_seed_covers_the_street(seed: Directory) -> None:
    street = load_street()
    kinds = {u.kind for u in seed.units.values()}
    assert kinds == {"centre", "community_station", "street_office", "district_department"}
    for community_id, community in street.communities.items():
        station = seed.station_of(community_id)
        assert station is not None
        officers = [p for p in seed.members(station.id) if p.role == "community_officer"]
        assert officers and all(p.community == community_id for p in officers)
        for grid_id in community.grid_ids:
            workers = seed.grid_workers(grid_id)
            assert [p.worker_type for p in workers] == list(WORKER_TYPES)
            assert all(p.community == community_id for p in workers)
    assert {p.role for p in seed.people.values()} == {
        "grid_worker", "community_officer", "unit_handler", "centre", "leader"}


def test_the_simulators_actors_are_people_of_the_directory(seed: Directory) -> None:
    street = load_street()
    grid = next(iter(street.grids))
    community = street.community_of(grid)
    assert seed.person(COMMAND_CENTRE).role == "centre"  # type: ignore[union-attr]
    assert seed.person(f"C-{community}").role == "community_officer"  # type: ignore[union-attr]
    for n in (1, 2):
        assert seed.person(f"W-{grid}-{n}").grids == (grid,)  # type: ignore[union-attr]
    assert seed.person("D-handler").role == "unit_handler"  # type: ignore[union-attr]
    assert seed.acting("resident-app-user").role == "resident"


def test_a_department_feed_adds_moves_and_removes(seed: Directory) -> None:
    unit = Unit(id="DD-traffic", name="区交通局", kind="district_department")
    added = apply_change(seed, OrgChange(record_type="org.unit", ts=1, unit=unit))
    person = Person(id="H-DD-traffic-1", name="赵强", role="unit_handler", unit="DD-traffic")
    added = apply_change(added, OrgChange(record_type="org.person", ts=2, person=person))
    assert added.person("H-DD-traffic-1") == person and seed.person("H-DD-traffic-1") is None
    moved = apply_change(added, OrgChange(record_type="org.person", ts=3, person=Person(
        id="W-PL01-01-1", name="新人", role="grid_worker", unit="CS-PL01",
        grids=("PL01-01", "PL01-02"))))
    assert moved.person("W-PL01-01-1").grids == ("PL01-01", "PL01-02")  # type: ignore[union-attr]
    assert moved.person("W-PL01-01-1").community == "PL01"  # type: ignore[union-attr]
    with pytest.raises(OrganisationError, match="still has people"):
        apply_change(moved, OrgChange(record_type="org.unit", ts=4, remove="DD-traffic"))
    gone = apply_change(moved, OrgChange(record_type="org.person", ts=5,
                                         remove="H-DD-traffic-1"))
    assert gone.acting("H-DD-traffic-1").role == "resident"


def test_a_change_decodes_from_a_feed_record() -> None:
    raw = (b'{"record_type": "org.person", "ts": 1, "person": {"id": "H-x", "name": "x",'
           b' "role": "unit_handler", "unit": "SO-fire"}}')
    change = msgspec.json.decode(raw, type=OrgChange)
    assert change.person is not None and change.person.unit == "SO-fire"
    with pytest.raises(msgspec.ValidationError, match="role"):
        msgspec.json.decode(raw.replace(b"unit_handler", b"mayor"), type=OrgChange)


@pytest.mark.parametrize("data, field", [
    ({"units": [], "people": [{"id": "x", "name": "x", "role": "centre", "unit": "CC"}]},
     "unit"),
    ({"units": [{"id": "CC", "name": "c", "kind": "centre"}],
      "people": [{"id": "x", "name": "x", "role": "grid_worker", "unit": "CC"}]}, "grids"),
    ({"units": [{"id": "CC", "name": "c", "kind": "palace"}]}, "kind"),
    ({"units": [{"id": "CC", "name": "c", "kind": "centre"}],
      "people": [{"id": "x", "name": "x", "role": "resident", "unit": "CC"}]}, "residents"),
])
def test_a_broken_file_names_the_field(data: dict, field: str) -> None:
    with pytest.raises(OrganisationError, match=field):
        directory_from(data)


def test_a_change_without_its_entry_is_refused(seed: Directory) -> None:
    with pytest.raises(OrganisationError, match="person: missing"):
        apply_change(seed, OrgChange(record_type="org.person", ts=1))
