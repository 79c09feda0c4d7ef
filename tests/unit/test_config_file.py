"""Reading config YAML files: a missing or malformed file and an unknown key are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.config_file import only_keys, read_yaml
from domain.organisation import OrganisationError, load_directory
from domain.routing import RoutingError, load_rules
from domain.sla import PolicyError, load_policy


def test_a_missing_file_names_the_file_and_what_it_holds(tmp_path: Path) -> None:
    with pytest.raises(RoutingError, match=r"nowhere\.yaml: routing file not found"):
        load_rules(tmp_path / "nowhere.yaml")
    with pytest.raises(OrganisationError, match="organisation file not found"):
        load_directory(tmp_path / "nowhere.yaml")


def test_malformed_yaml_is_the_callers_error_naming_the_path(tmp_path: Path) -> None:
    bad = tmp_path / "sla.yaml"
    bad.write_text("defaults: [unclosed\n")
    with pytest.raises(PolicyError, match=r"sla\.yaml: not valid YAML"):
        load_policy(bad)
    good = tmp_path / "ok.yaml"
    good.write_text("a: 1\n")
    assert read_yaml(good, PolicyError) == {"a": 1}


def test_the_first_unknown_key_is_named_with_the_allowed_ones() -> None:
    only_keys({"a": 1}, ("a", "b"), "section", PolicyError)
    with pytest.raises(PolicyError, match=r"section\.c: unknown key \(allowed: a, b\)"):
        only_keys({"d": 1, "c": 2, "a": 3}, ("a", "b"), "section", PolicyError)
