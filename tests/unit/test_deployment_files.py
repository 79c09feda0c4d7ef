"""docker-compose.yml describes a deployable system (no Docker engine here to run it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gridwall.cli import build_parser
from gridwall.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_parts_with_healthchecks_and_volumes() -> None:
    services = _compose()["services"]
    for name in ("kafka", "clickhouse", "gateway", "worker-1", "worker-2", "hub", "wall"):
        assert name in services, name
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["clickhouse"]["image"].startswith("clickhouse/clickhouse-server:")
    for name in ("kafka", "clickhouse", "gateway"):
        assert "test" in services[name]["healthcheck"], name
    assert any("kafka-data" in v for v in services["kafka"]["volumes"])
    assert any("clickhouse-data" in v for v in services["clickhouse"]["volumes"])


def test_published_ports_stay_on_loopback_by_default() -> None:
    for service in _compose()["services"].values():
        for port in service.get("ports", []):
            assert port.startswith("${GRIDWALL_PUBLISH_HOST:-127.0.0.1}:"), port


def test_every_gridwall_service_runs_a_real_subcommand() -> None:
    parser = build_parser()
    subcommands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name, service in _compose()["services"].items():
        if service.get("image") == "gridwall:local":
            assert service["command"][0] in subcommands, f"{name}: {service['command']}"


def test_every_gridwall_variable_is_a_known_setting() -> None:
    known = {f"GRIDWALL_{name.upper()}" for name in Settings.__struct_fields__}
    for name, service in _compose()["services"].items():
        for variable in service.get("environment", {}):
            if variable.startswith("GRIDWALL_"):
                assert variable in known, f"{name}: {variable}"


def test_dockerfile_copies_every_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("gridwall", "domain", "ingest", "streams", "wall", "infra", "config"):
        assert f"COPY {package} " in dockerfile, package
