"""The closed vocabularies of the street: sources, categories, priorities, steps, tiers.

They are ``Literal`` types so that msgspec rejects an unknown value with the field's name,
and tuples of the same values for code that iterates over them.
"""

from __future__ import annotations

from typing import Literal, get_args

Source = Literal["grid_worker_app", "resident_app", "property_app", "department", "sensor",
                 "open311", "simulator", "command_centre"]
Category = Literal["environment", "public_safety", "fire_hazard", "road_facility", "dispute",
                   "illegal_construction", "greening", "water_supply", "noise", "elderly_care",
                   "other"]
Priority = Literal["low", "normal", "high", "emergency"]
# The six-step closed loop, plus the terminal "rejected".
Step = Literal["reported", "verified", "dispatched", "handled", "closed", "evaluated",
               "rejected"]
CaseAction = Literal["report", "verify", "reject", "dispatch", "handle", "close", "reopen",
                     "evaluate", "escalate", "resolve_on_spot"]
SensorKind = Literal["smoke", "gas", "water_level", "manhole_cover", "noise", "air_quality"]
Department = Literal["police", "civil_affairs", "social_security", "justice", "health",
                     "safety_supervision", "environment", "fire"]
RecordType = Literal["resident", "special_group", "building", "compound", "enterprise",
                     "party_org", "incident"]
Severity = Literal["info", "warning", "critical"]

SOURCES: tuple[str, ...] = get_args(Source)
CATEGORIES: tuple[str, ...] = get_args(Category)
PRIORITIES: tuple[str, ...] = get_args(Priority)
STEPS: tuple[str, ...] = get_args(Step)
CASE_ACTIONS: tuple[str, ...] = get_args(CaseAction)
SENSOR_KINDS: tuple[str, ...] = get_args(SensorKind)
DEPARTMENTS: tuple[str, ...] = get_args(Department)
RECORD_TYPES: tuple[str, ...] = get_args(RecordType)

# Steps whose clock runs: a case waiting in one of these can breach its SLA.
OPEN_STEPS: tuple[str, ...] = ("reported", "verified", "dispatched", "handled")
TERMINAL_STEPS: tuple[str, ...] = ("evaluated", "rejected")

# Escalation tiers: 1 grid worker, 2 community, 3 street command centre, 4 district department.
TIER_NAMES: dict[int, str] = {1: "grid_worker", 2: "community", 3: "street_centre",
                              4: "district_department"}
MAX_TIER = 4
