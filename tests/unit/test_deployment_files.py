"""docker-compose.yml describes a deployable system (no Docker engine here to run it)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from core.settings import Settings
from gridwall.cli import build_parser

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


def test_compose_never_mounts_the_example_tokens_and_never_runs_in_dev_mode() -> None:
    compose = _compose()
    assert "example" not in compose["secrets"]["gridwall_tokens"]["file"]
    for name, service in compose["services"].items():
        assert "GRIDWALL_DEV" not in service.get("environment", {}), name


def test_clickhouse_in_compose_requires_a_password_shared_with_gridwall() -> None:
    services = _compose()["services"]
    server = services["clickhouse"]["environment"]
    client = services["gateway"]["environment"]
    assert server["CLICKHOUSE_USER"] == client["GRIDWALL_CLICKHOUSE_USER"]
    assert server["CLICKHOUSE_PASSWORD"] == client["GRIDWALL_CLICKHOUSE_PASSWORD"]
    assert client["GRIDWALL_CLICKHOUSE_PASSWORD"].startswith("${GRIDWALL_CLICKHOUSE_PASSWORD:?")
    assert "CLICKHOUSE_SKIP_USER_SETUP" not in server


def test_the_image_user_has_the_uid_the_docs_name_for_the_secret() -> None:
    assert "useradd --system --uid 10001 gridwall" in (ROOT / "Dockerfile").read_text()


def test_dockerignore_keeps_data_outputs_and_history_out_of_the_context() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    for entry in (".gridwall/", "artifacts/", ".git/", "*.egg-info/", "secrets/"):
        assert entry in ignored, entry
    dockerfile = (ROOT / "Dockerfile").read_text()
    for copied in re.findall(r"^COPY (\S+) ", dockerfile, re.MULTILINE):
        assert f"{copied}/" not in ignored, copied


def _deploy_doc() -> str:
    return (ROOT / "docs" / "deploy.md").read_text()


def test_every_setting_the_deploy_doc_names_exists() -> None:
    known = {f"GRIDWALL_{name.upper()}" for name in Settings.__struct_fields__}
    named = set(re.findall(r"GRIDWALL_[A-Z_]+[A-Z]", _deploy_doc()))
    assert named - known == {"GRIDWALL_PUBLISH_HOST"}  # a compose variable, not a setting


def test_the_deploy_doc_matches_compose_the_image_and_the_generator() -> None:
    from infra.cluster_ddl import cluster_ddl

    doc = _deploy_doc()
    compose = _compose()
    assert compose["secrets"]["gridwall_tokens"]["file"].lstrip("./") in doc
    assert "chown 10001:10001" in doc
    generated = [f"{s};" for s in cluster_ddl("gridwall_cluster", "gridwall")]
    examples = re.findall(r"```sql\n(.*?)\n```", doc, re.DOTALL)
    assert examples and all(example in generated for example in examples)


def test_compose_allows_backups_where_the_doc_writes_them() -> None:
    config = (ROOT / "infra" / "clickhouse" / "backups.compose.xml").read_text()
    allowed = re.search(r"<allowed_path>(.*)</allowed_path>", config)
    assert allowed is not None
    volumes = _compose()["services"]["clickhouse"]["volumes"]
    assert any(v.endswith(f":{allowed.group(1).rstrip('/')}") for v in volumes)
    assert any("backups.compose.xml:/etc/clickhouse-server/config.d/" in v for v in volumes)
    for path in re.findall(r"File\('([^']+)'\)", _deploy_doc()):
        assert path.startswith(allowed.group(1)), path


def test_the_wall_accepts_its_websocket_from_the_published_address() -> None:
    from bokeh.server.util import check_allowlist

    value = _compose()["services"]["wall"]["environment"]["BOKEH_ALLOW_WS_ORIGIN"]
    default = "${GRIDWALL_PUBLISH_HOST:-127.0.0.1}"
    assert default in value
    for published in ("127.0.0.1", "10.20.0.5"):
        allowed = value.replace(default, published).split(",")
        assert check_allowlist(f"{published}:5006", allowed)
        assert not check_allowlist("evil.example:5006", allowed)
    assert check_allowlist("localhost:5006", value.replace(default, "x").split(","))
