"""docker-compose.yml's workers expose /metrics and /healthz, each on a host port of its own,
and every GridWall service logs in the one format the deploy doc names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from core.settings import SettingsError, settings_from

ROOT = Path(__file__).resolve().parents[2]


def _services() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"])


def _workers() -> dict[str, Any]:
    return {name: s for name, s in _services().items() if s.get("command", [""])[0] == "worker"}


def test_every_worker_listens_in_its_container_and_publishes_its_own_port() -> None:
    workers = _workers()
    assert len(workers) >= 2
    host_ports = []
    for name, service in workers.items():
        env = service["environment"]
        assert env["GRIDWALL_WORKER_METRICS_HOST"] == "0.0.0.0", name  # noqa: S104
        assert int(env["GRIDWALL_WORKER_METRICS_PORT"]) == 9464, name
        [published] = service["ports"]
        host_port, container_port = published.rsplit(":", 2)[-2:]
        assert container_port == "9464", name
        host_ports.append(host_port)
        assert "http://127.0.0.1:9464/healthz" in " ".join(service["healthcheck"]["test"])
    assert len(set(host_ports)) == len(host_ports)


def test_every_gridwall_service_logs_in_one_format_set_once() -> None:
    for name, service in _services().items():
        if "GRIDWALL_KAFKA_BOOTSTRAP" not in service.get("environment", {}):
            continue
        value = service["environment"]["GRIDWALL_LOG_FORMAT"]
        assert value == "${GRIDWALL_LOG_FORMAT:-text}", name


def test_a_log_format_outside_text_and_json_is_refused_at_start() -> None:
    assert settings_from({"GRIDWALL_LOG_FORMAT": "json"}).log_format == "json"
    with pytest.raises(SettingsError, match="GRIDWALL_LOG_FORMAT: one of text, json"):
        settings_from({"GRIDWALL_LOG_FORMAT": "xml"})
    with pytest.raises(SettingsError, match="GRIDWALL_WORKER_METRICS_PORT"):
        settings_from({"GRIDWALL_WORKER_METRICS_PORT": "70000"})


def test_every_worker_is_restarted_when_it_exits() -> None:
    """A worker exits when its sensors process dies (docs/deploy.md): compose restarts it."""
    for name, service in _workers().items():
        assert service["restart"] == "unless-stopped", name
        assert "--role" not in service["command"], name  # the default: two processes
