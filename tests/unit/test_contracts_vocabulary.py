"""The vocabulary catalog covers every place a sensor kind, category or department needs.

Recipes 1, 2 and 4 of docs/extending.md: each test fails when an entry misses one of its
places (thresholds, SLA, labels in both languages, alert category, plausible range, Open311
service, street sensors, simulated records).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from domain.contracts import vocabulary as catalog
from domain.contracts.checks import sensor_problems, sla_problems, vocabulary_problems
from domain.contracts.vocabulary import (
    CATEGORY_CATALOG,
    DEPARTMENT_BY_NAME,
    DEPARTMENT_CATALOG,
    SENSOR_CATALOG,
    CatalogError,
    CategorySpec,
    Labels,
    SensorKindSpec,
    Simulation,
    alert_category,
    check_catalog,
    department_label_key,
    mix,
    sensor_label_key,
)
from domain.geo import SENSOR_KINDS as STREET_KINDS
from domain.geo import street
from domain.geo_build import SENSOR_KINDS as BUILD_KINDS
from domain.plausible import reading_problem
from domain.sla import PolicyError, SlaPolicy
from domain.vocab import CATEGORIES, DEPARTMENTS, SENSOR_KINDS, SENSORS
from ingest.gateway.open311.services import service_list
from ingest.simulator.cases import CATEGORY_WEIGHTS
from ingest.simulator.phrases import DESCRIPTIONS
from ingest.simulator.places import Places
from ingest.simulator.records import RecordMaker
from ingest.simulator.sensors import PROFILES
from wall.app.i18n import LANGS, tr

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"


def _thresholds() -> dict:
    return yaml.safe_load((CONFIG / "thresholds.yaml").read_text())


def test_the_repository_config_covers_the_catalog() -> None:
    assert vocabulary_problems(CONFIG) == []


def test_every_sensor_kind_has_its_places() -> None:
    kinds = _thresholds()["kinds"]
    for spec in SENSOR_CATALOG:
        assert spec.name in SENSOR_KINDS and spec.name in SENSORS
        assert spec.name in kinds, f"{spec.name}: no threshold in config/thresholds.yaml"
        assert alert_category(spec.name) in CATEGORIES
        assert spec.name in PROFILES and spec.name in BUILD_KINDS and spec.name in STREET_KINDS
        assert reading_problem(spec.name, spec.high + 1) is not None
        assert reading_problem(spec.name, spec.simulation.anomaly_high) is None
        for lang in LANGS:
            assert tr(sensor_label_key(spec.name), lang) != sensor_label_key(spec.name)
            assert tr(spec.alert_category, lang) != spec.alert_category
    installed = {s.sensor_kind for s in street().sensors.values()}
    assert installed == set(SENSOR_KINDS), "regenerate the street: python -m domain.geo_build"
    assert tr(sensor_label_key("smoke"), "zh") == "烟感探测器"
    assert tr(sensor_label_key("smoke"), "en") == "Smoke detector"


def test_a_sensor_kind_without_a_threshold_is_named() -> None:
    kinds = dict(_thresholds()["kinds"])
    del kinds["gas"]
    assert sensor_problems(kinds) == [
        "thresholds.yaml: kinds.gas: missing (sensor kind gas has no alert bands)"]
    kinds["gas"] = {"unit": "%LEL", "warning_above": 1.0, "heartbeat_s": 300}
    assert "thresholds.yaml: kinds.gas.warning_above: 1.0 must lie above" in (
        sensor_problems(kinds)[0])
    kinds["gas"] = {"unit": "%LEL", "warning_above": 10.0, "critical_above": 250.0}
    assert sensor_problems(kinds) == [
        "thresholds.yaml: kinds.gas.critical_above: 250.0 is outside the plausible range "
        "0.0..100.0"]
    kinds["ponding"] = {"warning_above": 1.0}
    assert "kinds.ponding: not a sensor kind of the catalog" in sensor_problems(kinds)[0]


def test_an_unknown_kind_has_no_alert_category_rather_than_other() -> None:
    with pytest.raises(KeyError):
        alert_category("ponding")


def test_every_category_has_labels_an_sla_and_an_open311_service() -> None:
    policy = yaml.safe_load((CONFIG / "sla.yaml").read_text())
    assert sla_problems(policy) == []
    services = {s["service_code"]: s for s in service_list()}
    assert tuple(services) == CATEGORIES
    for spec in CATEGORY_CATALOG:
        assert services[spec.name]["service_name"] == f"{spec.service.zh} {spec.service.en}"
        assert services[spec.name]["group"] == spec.group
        zh, en = tr(spec.name, "zh"), tr(spec.name, "en")
        assert (zh, en) == (spec.label.zh, spec.label.en) and zh != en


def test_the_simulator_reports_every_category_with_its_phrases() -> None:
    reported = {name for weights in CATEGORY_WEIGHTS.values() for name in weights}
    assert reported == set(CATEGORIES)
    assert set(DESCRIPTIONS) == set(CATEGORIES)
    with pytest.raises(CatalogError, match="needs phrases"):
        check_catalog(SENSOR_CATALOG, (*CATEGORY_CATALOG, CategorySpec(
            "flooding", Labels("内涝", "Flooding"), Labels("内涝", "Flooding"),
            reports=mix(resident=1))), DEPARTMENT_CATALOG)


def test_a_category_without_a_deadline_is_named() -> None:
    policy = yaml.safe_load((CONFIG / "sla.yaml").read_text())
    del policy["defaults"]["handled"]
    problems = sla_problems(policy)
    assert "sla.yaml: category environment has no deadline for handled" in problems
    policy["categories"]["flooding"] = {"reported": 60}
    assert "sla.yaml: categories.flooding: not a category of the catalog" in sla_problems(
        policy)
    policy["defaults"]["handled"] = 3600
    with pytest.raises(PolicyError, match="categories.flooding: unknown key"):
        SlaPolicy.from_mapping(policy)


def test_every_department_has_labels_and_its_record_types() -> None:
    assert tuple(d.name for d in DEPARTMENT_CATALOG) == DEPARTMENTS
    for spec in DEPARTMENT_CATALOG:
        for lang in LANGS:
            assert tr(department_label_key(spec.name), lang) != department_label_key(spec.name)


def test_the_simulated_department_records_stay_inside_the_catalog() -> None:
    maker = RecordMaker(Places(street()), 2, "t", random.Random(2))
    seen = set()
    for i in range(3000):
        record = maker.next_record(1_767_225_600_000 + i)
        assert record.department is not None
        assert record.record_type in DEPARTMENT_BY_NAME[record.department].record_types, (
            f"{record.department} sends {record.record_type}: add it to the catalog")
        seen.add((record.department, record.record_type))
    declared = {(d.name, t) for d in DEPARTMENT_CATALOG for t in d.record_types}
    assert seen == declared  # every declared feed is exercised by the simulator


def test_the_catalog_refuses_a_kind_with_an_unknown_category_or_bad_simulation() -> None:
    ok = SensorKindSpec("ponding", "cm", 0.0, 300.0, "road_facility",
                        Labels("积水监测仪", "Ponding sensor"), 5,
                        Simulation(1.0, 0.5, 8.0, 12.0, 80.0))
    check_catalog((*SENSOR_CATALOG, ok), CATEGORY_CATALOG, DEPARTMENT_CATALOG)
    bad = SensorKindSpec("ponding", "cm", 0.0, 300.0, "flooding", ok.label, 5, ok.simulation)
    with pytest.raises(CatalogError, match="alert category 'flooding'"):
        check_catalog((*SENSOR_CATALOG, bad), CATEGORY_CATALOG, DEPARTMENT_CATALOG)
    wide = SensorKindSpec("ponding", "cm", 0.0, 50.0, "road_facility", ok.label, 5,
                          ok.simulation)
    with pytest.raises(CatalogError, match="simulated values"):
        check_catalog((*SENSOR_CATALOG, wide), CATEGORY_CATALOG, DEPARTMENT_CATALOG)
    with pytest.raises(CatalogError, match="unique"):
        check_catalog((*SENSOR_CATALOG, SENSOR_CATALOG[0]), CATEGORY_CATALOG,
                      DEPARTMENT_CATALOG)


def test_labels_come_from_the_catalog_alone() -> None:
    labels = catalog.vocabulary_labels()
    assert len(labels) == (len(CATEGORY_CATALOG) + len(SENSOR_CATALOG)
                           + len(DEPARTMENT_CATALOG) + len(catalog.RECORD_TYPE_CATALOG))
    for key, (zh, en) in labels.items():
        assert zh and en and tr(key, "zh") == zh and tr(key, "en") == en
