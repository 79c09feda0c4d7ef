"""Department records: residents, special groups, buildings, compounds, enterprises, party
organisations and incidents, as the departments' systems would sync them (pure).

Guarantees: every record validates as :class:`~domain.schemas.DepartmentRecord` with
``department`` and ``grid_id`` filled; records about a standing entity (a resident, a
building, a compound, …) have a stable ``record_id`` and the same content for that id under
the same seed, whatever the order they are drawn in — a later sync updates, it does not
duplicate; incidents are new records, their ids carry the run tag.
"""

from __future__ import annotations

import random

from domain.geo import Grid
from domain.schemas import DepartmentRecord, Scalar
from ingest.simulator import fakes
from ingest.simulator.cases import pick
from ingest.simulator.places import Places

TYPE_WEIGHTS = {"resident": 45, "special_group": 15, "building": 12, "compound": 5,
                "enterprise": 10, "party_org": 4, "incident": 9}
# special group -> the department that keeps its register
SPECIAL_GROUPS = {"elderly_living_alone": "civil_affairs", "disabled": "civil_affairs",
                  "low_income": "social_security", "community_corrections": "justice",
                  "drug_rehabilitation": "police", "severe_mental_illness": "health",
                  "left_behind_child": "civil_affairs", "veteran": "civil_affairs"}
INCIDENTS = {"theft": "police", "traffic_accident": "police", "fire_alarm": "fire",
             "gas_leak": "safety_supervision", "pollution_complaint": "environment",
             "workplace_injury": "safety_supervision", "public_health_event": "health"}
INDUSTRIES = ("餐饮", "零售", "物流", "机械制造", "化工", "建材", "汽修", "教育培训", "医疗")
STRUCTURES = ("砖混", "框架", "剪力墙", "钢结构")
PROPERTY_COMPANIES = ("滨州万家物业", "鲁北物业服务有限公司", "黄河物业", "渤海物业", "自管")
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code(rng: random.Random) -> str:
    """A unified social credit code (GB 32100) of a district enterprise, valid check char."""
    body = "91371602" + "".join(rng.choice(_USCC_CHARS) for _ in range(9))
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(body, _USCC_WEIGHTS, strict=True))
    return body + _USCC_CHARS[(31 - total % 31) % 31]


class RecordMaker:
    """Draws department records over the street (see the module docstring)."""

    def __init__(self, places: Places, seed: int, run_tag: str, rng: random.Random) -> None:
        self.places = places
        self.seed = seed
        self.run_tag = run_tag
        self._rng = rng
        self._incidents = 0

    def _stable(self, record_id: str) -> random.Random:
        """A generator fixed by the seed and the record id: same id, same content."""
        return random.Random(f"{self.seed}:{record_id}")

    def next_record(self, ts: int) -> DepartmentRecord:
        """A record of a type drawn from :data:`TYPE_WEIGHTS`, stamped ``ts``."""
        kind = pick(self._rng, TYPE_WEIGHTS)
        maker = getattr(self, f"_{kind}")
        record: DepartmentRecord = maker(ts)
        return record

    def _person(self, grid: Grid, index: int, ts: int, record_id: str, record_type: str,
                department: str, extra: dict[str, Scalar]) -> DepartmentRecord:
        """A record about resident ``index`` of ``grid`` (same person for the same index)."""
        rng = self._stable(f"person.{grid.grid_id}.{index}")
        male = rng.random() < 0.5
        year = fakes.birth_year(rng)
        compound = self.places.compound_in(rng, grid.grid_id)
        households = max(1, grid.households)
        attributes: dict[str, Scalar] = {
            "gender": "male" if male else "female", "birth_year": year,
            "household_id": f"{grid.grid_id}-H{index * households // max(1, grid.population):04d}",
            "address": f"{compound.name if compound else grid.name}{rng.randint(1, 30)}号楼"
                       f"{rng.randint(1, 4)}单元{rng.randint(1, 18)}0{rng.randint(1, 4)}室",
            "residence": "registered" if rng.random() < 0.78 else "floating",
            **extra,
        }
        return DepartmentRecord(
            record_id=record_id, record_type=record_type,
            ts=ts, department=department, grid_id=grid.grid_id,
            attributes=attributes, person_name=fakes.person_name(rng),
            person_id_number=fakes.id_number(rng, year, male),
            person_phone=fakes.mobile_phone(rng))

    def _resident(self, ts: int) -> DepartmentRecord:
        grid = self.places.grid_by_population(self._rng)
        index = self._rng.randrange(max(1, grid.population))
        department = "police" if self._rng.random() < 0.7 else "civil_affairs"
        return self._person(grid, index, ts, f"res.{grid.grid_id}.{index:05d}", "resident",
                            department, {})

    def _special_group(self, ts: int) -> DepartmentRecord:
        grid = self.places.grid_by_population(self._rng)
        # About one resident in twenty belongs to a special group; keep the index stable.
        index = self._rng.randrange(max(1, grid.population // 20)) * 20
        group = self._stable(f"group.{grid.grid_id}.{index}").choice(sorted(SPECIAL_GROUPS))
        extra: dict[str, Scalar] = {"group": group,
                                    "care_level": self._rng.choice(("A", "B", "C")),
                                    "days_since_visit": self._rng.randint(0, 45)}
        return self._person(grid, index, ts, f"sg.{grid.grid_id}.{index:05d}",
                            "special_group", SPECIAL_GROUPS[group], extra)

    def _building(self, ts: int) -> DepartmentRecord:
        grid = self.places.grid_by_population(self._rng)
        number = self._rng.randint(1, 30)
        record_id = f"bld.{grid.grid_id}.{number:03d}"
        rng = self._stable(record_id)
        lon, lat = self.places.point_in(rng, grid)
        floors = rng.choice((2, 3, 5, 6, 6, 7, 11, 18, 26, 33))
        units = rng.randint(1, 4)
        attributes: dict[str, Scalar] = {
            "number": number, "floors": floors, "units": units,
            "households": floors * units * 2, "year_built": rng.randint(1985, 2022),
            "structure": rng.choice(STRUCTURES), "has_elevator": floors > 7,
        }
        department = "fire" if self._rng.random() < 0.5 else "safety_supervision"
        return DepartmentRecord(record_id=record_id, record_type="building", ts=ts,
                                department=department,
                                grid_id=grid.grid_id, lon=lon, lat=lat, attributes=attributes)

    def _compound(self, ts: int) -> DepartmentRecord:
        poi = self.places.poi(self._rng, "compound")
        rng = self._stable(f"cmp.{poi.poi_id}")
        attributes: dict[str, Scalar] = {
            "name": poi.name, "households": rng.randint(120, 1600),
            "buildings": rng.randint(4, 40), "property_company": rng.choice(PROPERTY_COMPANIES),
        }
        return DepartmentRecord(record_id=f"cmp.{poi.poi_id}", record_type="compound", ts=ts,
                                department="civil_affairs", grid_id=poi.grid_id, lon=poi.lon,
                                lat=poi.lat, attributes=attributes)

    def _enterprise(self, ts: int) -> DepartmentRecord:
        poi = self.places.poi(self._rng, "enterprise")
        rng = self._stable(f"ent.{poi.poi_id}")
        industry = rng.choice(INDUSTRIES)
        attributes: dict[str, Scalar] = {
            "name": poi.name, "credit_code": credit_code(rng), "industry": industry,
            "employees": rng.randint(3, 600), "hazardous_chemicals": industry == "化工",
            "days_since_inspection": self._rng.randint(0, 365),
        }
        department = self._rng.choice(("safety_supervision", "environment", "fire"))
        return DepartmentRecord(record_id=f"ent.{poi.poi_id}", record_type="enterprise",
                                ts=ts, department=department,
                                grid_id=poi.grid_id, lon=poi.lon, lat=poi.lat,
                                attributes=attributes, person_name=fakes.person_name(rng),
                                person_phone=fakes.mobile_phone(rng))

    def _party_org(self, ts: int) -> DepartmentRecord:
        poi = self.places.poi(self._rng, "party_org")
        rng = self._stable(f"party.{poi.poi_id}")
        attributes: dict[str, Scalar] = {"name": poi.name, "members": rng.randint(3, 60)}
        return DepartmentRecord(record_id=f"party.{poi.poi_id}", record_type="party_org",
                                ts=ts, department="civil_affairs", grid_id=poi.grid_id,
                                lon=poi.lon, lat=poi.lat, attributes=attributes,
                                person_name=fakes.person_name(rng))

    def _incident(self, ts: int) -> DepartmentRecord:
        self._incidents += 1
        grid = self.places.grid_by_population(self._rng)
        lon, lat = self.places.point_in(self._rng, grid)
        kind = pick(self._rng, dict.fromkeys(INCIDENTS, 1.0))
        attributes: dict[str, Scalar] = {
            "kind": kind, "severity": self._rng.choice(("minor", "minor", "moderate", "major")),
            "casualties": 0 if self._rng.random() < 0.9 else self._rng.randint(1, 3),
        }
        return DepartmentRecord(record_id=f"inc.{self.run_tag}.{self._incidents:06d}",
                                record_type="incident", ts=ts,
                                department=INCIDENTS[kind],
                                grid_id=grid.grid_id, lon=lon, lat=lat, attributes=attributes)
