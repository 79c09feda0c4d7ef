"""One registry of live config keys (domain.contracts.live_config): the ops console and the
workers validate with the same parsers, and every key has a start-up value that parses."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from domain.contracts.live_config import LIVE_KEYS, live_key
from domain.schemas import ConfigChange
from streams import config as streams_config
from streams.config import LiveConfig, register_key
from wall.app.opsview import VALIDATORS, check_change, startup_config

ROOT = Path(__file__).resolve().parents[2]


def test_every_key_has_one_start_up_value_that_parses() -> None:
    for spec in LIVE_KEYS.values():
        assert (spec.config_file is None) != (spec.default is None), spec.key
        if spec.config_file is not None:
            value = yaml.safe_load((ROOT / "config" / spec.config_file).read_text())
        else:
            assert spec.default is not None
            value = spec.default().to_mapping()
        assert spec.parse(value).to_mapping() is not None
    assert set(startup_config(ROOT / "config")) == set(LIVE_KEYS)


def test_the_console_validates_every_key_with_the_workers_parser() -> None:
    assert {k: s.parse for k, s in LIVE_KEYS.items()} == VALIDATORS
    for key in LIVE_KEYS:
        assert check_change(key, {"no_such_field": 1}) is not None, key


def test_a_worker_accepts_what_the_console_accepts_and_refuses_what_it_refuses(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streams_config, "_PARSERS", dict(streams_config._PARSERS))
    for key in LIVE_KEYS:
        register_key(key)
    config = LiveConfig.from_config_dir(ROOT / "config")
    start = startup_config(ROOT / "config")
    for key in LIVE_KEYS:
        good = config.apply(ConfigChange(key=key, value=start[key], actor="t", ts=1))
        assert good.accepted and check_change(key, start[key]) is None, key
        bad = config.apply(ConfigChange(key=key, value={"no_such_field": 1}, actor="t", ts=2))
        assert not bad.accepted and bad.reason == check_change(key, {"no_such_field": 1})


def test_an_unknown_key_is_named() -> None:
    with pytest.raises(KeyError, match="known: sla"):
        live_key("colour")


def test_the_wall_loads_no_module_by_name() -> None:
    users = [p for p in (ROOT / "wall").rglob("*.py") if "importlib" in p.read_text()]
    assert users == []
