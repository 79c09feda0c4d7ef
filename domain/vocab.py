"""The closed vocabularies of the street: sources, categories, priorities, steps, tiers.

They are ``Literal`` types so that msgspec rejects an unknown value with the field's name,
and tuples of the same values for code that iterates over them. Sensor kinds, case
categories, departments and record types come from the catalog
(:mod:`domain.contracts.vocabulary`, one record each); for mypy they are plain ``str``,
for msgspec the ``Literal`` of the catalog's names.

The measured things carry their plausible limits, one catalog record per entry: each sensor
kind its unit and value range (:data:`SENSORS`), each department record type its closed set
of attributes with the type and range or choices of each (:data:`RECORD_ATTRIBUTES`).
:mod:`domain.plausible` checks inputs against them; nothing else keeps a second copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

from domain.contracts.vocabulary import (
    CATEGORY_CATALOG,
    DEPARTMENT_CATALOG,
    RECORD_TYPE_CATALOG,
    RECORD_TYPES,
    SENSOR_CATALOG,
)
from domain.contracts.vocabulary import INCIDENT_KINDS as INCIDENT_KINDS
from domain.contracts.vocabulary import MAX_ATTRIBUTES as MAX_ATTRIBUTES
from domain.contracts.vocabulary import SPECIAL_GROUPS as SPECIAL_GROUPS
from domain.contracts.vocabulary import AttributeSpec as AttributeSpec

Source = Literal["grid_worker_app", "resident_app", "property_app", "department", "sensor",
                 "open311", "simulator", "command_centre"]
Priority = Literal["low", "normal", "high", "emergency"]
# The six-step closed loop, plus the terminal "rejected".
Step = Literal["reported", "verified", "dispatched", "handled", "closed", "evaluated",
               "rejected"]
CaseAction = Literal["report", "verify", "reject", "dispatch", "handle", "close", "reopen",
                     "evaluate", "escalate", "resolve_on_spot", "accept", "decline",
                     "reassign", "supervise"]
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


# The record types' attributes, from the catalog (one RecordTypeSpec each).
RECORD_ATTRIBUTES: dict[str, dict[str, AttributeSpec]] = {
    r.name: dict(r.attributes) for r in RECORD_TYPE_CATALOG}
