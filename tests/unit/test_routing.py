"""domain.routing: rules by category x community x tier, candidates ranked by rule,
open load and on-time record, each with its reasons; the shipped rules load."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from domain.routing import OnTime, RoutingError, Rules, load_rules, propose, rules_from

CONFIG = Path(__file__).resolve().parents[2] / "config" / "routing.yaml"


@dataclass(frozen=True)
class Case:
    category: str
    grid_id: str = "PL03-02"
    tier: int = 1


def rules(*items: dict[str, object], load_half: float = 10) -> Rules:
    return rules_from({"rules": list(items), "load_half": load_half})


def test_the_most_specific_rule_comes_first_whatever_the_load() -> None:
    table = rules({"category": "*", "units": ["SO-urban"]},
                  {"category": "noise", "units": ["SO-police"]},
                  {"category": "noise", "communities": ["PL03"], "tiers": [1],
                   "units": ["CS-{community}"]})
    got = propose(Case("noise"), table, {"CS-PL03": 50}, {})
    assert [c.unit for c in got] == ["CS-PL03", "SO-police", "SO-urban"]
    assert got[0].reasons[0] == "rule: noise in PL03 at tier 1"


def test_equal_rules_rank_by_load_and_on_time_record() -> None:
    table = rules({"category": "greening", "units": ["A", "B", "C"]})
    loads = {"A": 10, "B": 0, "C": 0}
    records = {"A": OnTime(10, 10), "B": OnTime(9, 10), "C": OnTime(3, 10)}
    got = propose(Case("greening"), table, loads, records)
    assert [c.unit for c in got] == ["B", "A", "C"]  # A: 1.0 - 0.5; B: 0.9; C: 0.3
    assert got[0].reasons[1:] == ("open load 0", "on time 9 of 10 (90%)")
    more = propose(Case("greening"), table, {"B": 30, "C": 0}, records)
    assert [c.unit for c in more][0] == "A"  # B now carries 30 open cases


def test_a_unit_without_a_record_counts_half_on_time_and_ties_go_by_id() -> None:
    got = propose(Case("greening"), rules({"category": "greening", "units": ["Z", "Y"]}),
                  {}, {})
    assert [(c.unit, c.score) for c in got] == [("Y", 0.5), ("Z", 0.5)]
    assert got[0].reasons[2] == "no on-time record yet"


def test_tiers_and_communities_filter_and_placeholders_fill_in() -> None:
    table = rules({"category": "dispute", "tiers": [1, 2], "units": ["CS-{community}"]},
                  {"category": "dispute", "tiers": [3, 4], "units": ["SO-civil"]},
                  {"category": "*", "communities": ["PL09"], "units": ["grid.{grid}"]})
    assert [c.unit for c in propose(Case("dispute", tier=2), table, {}, {})] == ["CS-PL03"]
    assert [c.unit for c in propose(Case("dispute", tier=3), table, {}, {})] == ["SO-civil"]
    far = propose(Case("dispute", grid_id="PL09-04"), table, {}, {})
    assert [c.unit for c in far] == ["CS-PL09", "grid.PL09-04"]


def test_a_unit_offered_twice_appears_once_with_its_most_specific_rule() -> None:
    table = rules({"category": "*", "units": ["SO-urban"]},
                  {"category": "road_facility", "tiers": [1], "units": ["SO-urban"]})
    got = propose(Case("road_facility"), table, {}, {})
    assert [(c.unit, c.specificity) for c in got] == [("SO-urban", 2)]


def test_no_matching_rule_proposes_nobody() -> None:
    assert propose(Case("noise"), rules({"category": "greening", "units": ["A"]}), {}, {}) == []


@pytest.mark.parametrize(("data", "names"), [
    ({"rules": []}, "rules"),
    ({"rules": [{"category": "meteor", "units": ["A"]}]}, "rules[0].category"),
    ({"rules": [{"category": "noise", "units": []}]}, "rules[0].units"),
    ({"rules": [{"category": "noise", "units": ["{street}"]}]}, "rules[0].units"),
    ({"rules": [{"category": "noise", "units": ["A"], "tiers": [5]}]}, "rules[0].tiers"),
    ({"rules": [{"category": "noise", "units": ["A"], "when": 1}]}, "rules[0].when"),
    ({"rules": [{"category": "noise", "units": ["A"]}], "load_half": 0}, "load_half"),
])
def test_malformed_rules_name_the_rule_and_field(data: dict[str, object], names: str) -> None:
    with pytest.raises(RoutingError, match=names.replace("[", r"\[").replace("]", r"\]")):
        rules_from(data)


def test_the_shipped_rules_load_and_route_every_category() -> None:
    from domain.vocab import CATEGORIES

    table = load_rules(CONFIG)
    for category in CATEGORIES:
        for tier in (1, 2, 3, 4):
            assert propose(Case(category, tier=tier), table, {}, {}), (category, tier)
    fire = propose(Case("fire_hazard", tier=3), table, {}, {})
    assert fire[0].unit == "SO-fire"


def test_the_shipped_units_exist_in_the_organisation() -> None:
    from domain.organisation import load_directory

    directory = load_directory(CONFIG.parent / "organisation.yaml")
    table = load_rules(CONFIG)
    for rule in table.rules:
        for unit in rule.units:
            if unit.startswith("grid."):
                continue
            filled = unit.format(community="PL01", grid="PL01-01")
            assert directory.unit(filled) is not None, unit
