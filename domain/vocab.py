"""The closed vocabularies of the street: sources, categories, priorities, steps, tiers.

They are ``Literal`` types so that msgspec rejects an unknown value with the field's name,
and tuples of the same values for code that iterates over them. Sensor kinds, case
categories, departments and record types come from the catalog
(:mod:`domain.contracts.vocabulary`, one record each); for mypy they are plain ``str``,
for msgspec the ``Literal`` of the catalog's names.

The measured things carry their plausible limits, one record per entry: each sensor kind
its unit and value range (:data:`SENSORS`, from the catalog), each department record type
its closed set of attributes with the type and range or choices of each
(:data:`RECORD_ATTRIBUTES`). :mod:`domain.plausible` checks inputs against them; nothing
else keeps a second copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

from domain.contracts.vocabulary import (
    CATEGORY_CATALOG,
    DEPARTMENT_CATALOG,
    RECORD_TYPES,
    SENSOR_CATALOG,
)

Source = Literal["grid_worker_app", "resident_app", "property_app", "department", "sensor",
                 "open311", "simulator", "command_centre"]
Priority = Literal["low", "normal", "high", "emergency"]
# The six-step closed loop, plus the terminal "rejected".
Step = Literal["reported", "verified", "dispatched", "handled", "closed", "evaluated",
               "rejected"]
CaseAction = Literal["report", "verify", "reject", "dispatch", "handle", "close", "reopen",
                     "evaluate", "escalate", "resolve_on_spot"]
Severity = Literal["info", "warning", "critical"]

CATEGORIES: tuple[str, ...] = tuple(c.name for c in CATEGORY_CATALOG)
SENSOR_KINDS: tuple[str, ...] = tuple(s.name for s in SENSOR_CATALOG)
DEPARTMENTS: tuple[str, ...] = tuple(d.name for d in DEPARTMENT_CATALOG)

if TYPE_CHECKING:
    Category = str
    SensorKind = str
    Department = str
    RecordType = str
else:
    Category = Literal[CATEGORIES]
    SensorKind = Literal[SENSOR_KINDS]
    Department = Literal[DEPARTMENTS]
    RecordType = Literal[RECORD_TYPES]

SOURCES: tuple[str, ...] = get_args(Source)
PRIORITIES: tuple[str, ...] = get_args(Priority)
STEPS: tuple[str, ...] = get_args(Step)
CASE_ACTIONS: tuple[str, ...] = get_args(CaseAction)

# Steps whose clock runs: a case waiting in one of these can breach its SLA.
OPEN_STEPS: tuple[str, ...] = ("reported", "verified", "dispatched", "handled")
TERMINAL_STEPS: tuple[str, ...] = ("evaluated", "rejected")

# Escalation tiers: 1 grid worker, 2 community, 3 street command centre, 4 district department.
TIER_NAMES: dict[int, str] = {1: "grid_worker", 2: "community", 3: "street_centre",
                              4: "district_department"}
MAX_TIER = 4


# -- plausible limits ---------------------------------------------------------------------


@dataclass(frozen=True)
class SensorSpec:
    """A sensor kind: the unit of its values and the range a working sensor can report."""

    unit: str
    low: float
    high: float


# From the catalog: the range is what the physical quantity can be, far wider than the alert
# bands of config/thresholds.yaml; a value outside is a broken sensor or a forged reading.
SENSORS: dict[str, SensorSpec] = {s.name: SensorSpec(s.unit, s.low, s.high)
                                  for s in SENSOR_CATALOG}


@dataclass(frozen=True)
class AttributeSpec:
    """One department attribute: its JSON type and plausible values.

    ``kind`` is ``int`` (a whole number from ``low`` to ``high``), ``float`` (a number in that
    range), ``bool``, or ``str`` (at most ``max_length`` characters, one of ``choices`` when
    they are given).
    """

    kind: Literal["int", "float", "bool", "str"]
    low: float = 0
    high: float = 0
    choices: tuple[str, ...] = ()
    max_length: int = 128


def _count(high: int) -> AttributeSpec:
    return AttributeSpec("int", 0, high)


def _text(max_length: int = 128) -> AttributeSpec:
    return AttributeSpec("str", max_length=max_length)


def _one_of(*choices: str) -> AttributeSpec:
    return AttributeSpec("str", choices=choices)


# Special groups and incident kinds become figure names on the wall (group.<g>,
# incident.<kind>), so their values are closed sets too.
SPECIAL_GROUPS: tuple[str, ...] = (
    "elderly_living_alone", "disabled", "low_income",
    "community_corrections", "drug_rehabilitation", "severe_mental_illness",
    "left_behind_child", "veteran", "other")
INCIDENT_KINDS: tuple[str, ...] = (
    "theft", "traffic_accident", "fire_alarm", "gas_leak", "pollution_complaint",
    "workplace_injury", "public_health_event", "other")

_PERSON: dict[str, AttributeSpec] = {
    "gender": _one_of("male", "female", "other"),
    "birth_year": AttributeSpec("int", 1880, 2100),
    "age": AttributeSpec("int", 0, 130),
    "elderly": AttributeSpec("bool"),
    "household_id": _text(64),
    "address": _text(200),
    "residence": _one_of("registered", "floating"),
}
_PLACE: dict[str, AttributeSpec] = {"name": _text(), "address": _text(200), "code": _text(64)}

RECORD_ATTRIBUTES: dict[str, dict[str, AttributeSpec]] = {
    "resident": _PERSON,
    "special_group": {**_PERSON, "group": _one_of(*SPECIAL_GROUPS),
                      "care_level": _text(16), "days_since_visit": _count(36_500)},
    "building": {**_PLACE, "number": _count(100_000), "floors": _count(300),
                 "units": _count(1_000), "households": _count(100_000),
                 "year_built": AttributeSpec("int", 1000, 2100), "structure": _text(32),
                 "has_elevator": AttributeSpec("bool")},
    "compound": {**_PLACE, "households": _count(100_000), "buildings": _count(10_000),
                 "property_company": _text()},
    "enterprise": {**_PLACE, "credit_code": _text(32), "industry": _text(64),
                   "employees": _count(1_000_000), "hazardous_chemicals": AttributeSpec("bool"),
                   "days_since_inspection": _count(36_500)},
    "party_org": {**_PLACE, "members": _count(1_000_000)},
    "incident": {"kind": _one_of(*INCIDENT_KINDS),
                 "severity": _one_of("minor", "moderate", "major", "critical"),
                 "casualties": _count(10_000), "address": _text(200), "note": _text(500)},
}
MAX_ATTRIBUTES = 32  # per record: more than any record type defines

# Every record type has its attributes (checked at import: a new type needs limits).
assert tuple(RECORD_ATTRIBUTES) == RECORD_TYPES, "RECORD_ATTRIBUTES must list every RecordType"
