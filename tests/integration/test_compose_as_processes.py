"""docker-compose.yml run as plain processes: a report posted to the gateway reaches the
hub's feed (which the wall follows) and ClickHouse.

No Docker engine runs here, so each GridWall service's ``command`` runs as
``gridwall <command>`` with exactly the environment compose gives it (its ``environment``,
interpolated, plus the Dockerfile's ``ENV``). What a container network would provide is
mapped, nothing else:

- peer names (``kafka``, ``clickhouse``, ``hub``, ``gateway``, ``wall``) become 127.0.0.1,
  and the GridWall services' ports become free ones (as a port mapping would), passed as
  ``GRIDWALL_<SERVICE>_PORT``; ``--host 0.0.0.0`` binds loopback only;
- compose's ``kafka`` and ``clickhouse`` services are infrastructure: the shared broker and
  server stand in for them, with this test's own topic prefix and database, and the shared
  server's credentials (it has only its passwordless ``default`` user);
- ``/run/secrets/gridwall_tokens`` is a tokens file of the test's own (mode 600), ``/app``
  the repository, and each service's ``/tmp/gridwall`` its own directory.

The setup service runs first and must exit 0 (migrations and topics), as
``service_completed_successfully`` requires.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.common import free_port, wait_for_http
from core.settings import Settings
from domain.geo import street
from tests.processes import terminate
from wall.hub.client import HubClient

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PEERS = ("kafka", "clickhouse", "hub", "gateway", "wall")
GRIDWALL_PORTS = {"gateway": 8080, "hub": 8765, "wall": 5006}
_VARIABLE = re.compile(r"\$\{(\w+)(?::([-?])([^}]*))?\}")


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ``${X}``, ``${X:-default}``, ``${X:?error}`` and ``$$``."""
    def one(match: re.Match[str]) -> str:
        name, kind, arg = match.groups()
        found = variables.get(name, "")
        if kind == "?" and not found:
            raise AssertionError(f"compose needs {name}: {arg}")
        return found or (arg if kind == "-" else "")
    return _VARIABLE.sub(one, value).replace("$$", "$")


def dockerfile_env() -> dict[str, str]:
    """The ``ENV`` of the Dockerfile (one ``ENV`` with ``K=V`` pairs and continuations)."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    pairs: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            pairs.update(tuple(item.split("=", 1)) for item in line[4:].split())
    return pairs


class Mapping:
    """What the container network provides, as loopback addresses and free ports."""

    def __init__(self, infra: Settings) -> None:
        self.ports = {(name, port): free_port() for name, port in GRIDWALL_PORTS.items()}
        self.ports[("kafka", 9092)] = infra.kafka_port
        self.ports[("clickhouse", 9000)] = infra.clickhouse_port

    def address(self, value: str) -> str:
        """``value`` with every peer name (and its port) replaced by a loopback address."""
        def one(match: re.Match[str]) -> str:
            name, port = match.group(1), match.group(3)
            if port is None:
                return "127.0.0.1"
            return f"127.0.0.1:{self.ports.get((name, int(port)), int(port))}"
        return re.sub(rf"\b({'|'.join(PEERS)})\b(:(\d+))?", one, value)

    def port_settings(self) -> dict[str, str]:
        """``GRIDWALL_<SERVICE>_PORT`` for the remapped GridWall ports."""
        return {f"GRIDWALL_{name.upper()}_PORT": str(self.ports[(name, port)])
                for name, port in GRIDWALL_PORTS.items()}


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def service_env(service: dict[str, Any], mapping: Mapping, tokens: Path, home: Path,
                own: dict[str, str]) -> dict[str, str]:
    """The service's environment as compose gives it, with the network mapped."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWALL_")}
    variables = {"GRIDWALL_CLICKHOUSE_PASSWORD": "set-by-the-operator"}
    for key, value in {**dockerfile_env(), **service["environment"]}.items():
        value = interpolate(str(value), variables)
        if value.startswith("/app/"):
            value = str(ROOT / value[len("/app/"):])
        elif value == "/tmp/gridwall":
            value = str(home)
        elif value == "/run/secrets/gridwall_tokens":
            value = str(tokens)
        env[key] = mapping.address(value)
    env.update(mapping.port_settings())
    env.update(own)
    return env


class Service:
    """One compose service's command as a child process, logging to a file."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], logs: Path
                 ) -> None:
        self.name = name
        self.log_path = logs / f"{name}.log"
        argv = ["127.0.0.1" if arg == "0.0.0.0" else arg for arg in command]  # noqa: S104
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "gridwall.cli", *argv],
                                         cwd=ROOT, env=env, stdout=log,
                                         stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture()
def running(infra: Settings, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Every GridWall service of compose (not the demo profile) running as a process."""
    from clickhouse_driver import Client

    run = uuid.uuid4().hex[:8]
    own = {"GRIDWALL_TOPIC_PREFIX": f"c{run}.", "GRIDWALL_CLICKHOUSE_DATABASE": f"gw_c_{run}",
           "GRIDWALL_CLICKHOUSE_USER": "default", "GRIDWALL_CLICKHOUSE_PASSWORD": ""}
    viewer, feed = f"viewer-{secrets.token_hex(8)}", f"feed-{secrets.token_hex(8)}"
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(yaml.safe_dump({viewer: {"name": "wall", "role": "viewer"},
                                      feed: {"name": "feeds", "role": "feed",
                                             "sources": ["*"]}}))
    tokens.chmod(0o600)
    mapping = Mapping(infra)
    services = {name: sv for name, sv in compose()["services"].items()
                if sv.get("image") == "gridwall:local" and not sv.get("profiles")}
    started: dict[str, Service] = {}
    client = Client(infra.clickhouse_host, port=infra.clickhouse_port)
    try:
        envs = {name: service_env(sv, mapping, tokens, tmp_path / name, own)
                for name, sv in services.items()}
        setup = Service("setup", services.pop("setup")["command"], envs["setup"], tmp_path)
        assert setup.proc.wait(timeout=120) == 0, setup.log()
        for name, sv in services.items():
            started[name] = Service(name, sv["command"], envs[name], tmp_path)
        yield {"mapping": mapping, "services": started, "envs": envs, "feed": feed,
               "viewer": viewer, "database": own["GRIDWALL_CLICKHOUSE_DATABASE"],
               "client": client}
    finally:
        for service in started.values():
            terminate(service.proc)
        client.execute(f"DROP DATABASE IF EXISTS {own['GRIDWALL_CLICKHOUSE_DATABASE']}")
        client.disconnect()


def test_compose_environment_names_every_peer_by_service() -> None:
    for name, service in compose()["services"].items():
        if service.get("image") != "gridwall:local":
            continue
        env = {k: str(v) for k, v in service["environment"].items()}
        assert env["GRIDWALL_HUB_URL"] == "ws://hub:8765/", name
        assert env["GRIDWALL_GATEWAY_URL"] == "http://gateway:8080", name
        assert env["GRIDWALL_KAFKA_BOOTSTRAP"] == "kafka:9092", name
        assert env["GRIDWALL_CLICKHOUSE_HOST"] == "clickhouse", name
        assert "GRIDWALL_DEV" not in env, name
        assert not any("127.0.0.1" in v or "localhost" in v
                       for k, v in env.items() if k.startswith("GRIDWALL_")), name


def _wait(what: str, check: Any, service: Service, timeout_s: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        if service.proc.poll() is not None:
            raise AssertionError(f"{service.name} exited:\n{service.log()[-3000:]}")
        time.sleep(0.5)
    raise AssertionError(f"{what} within {timeout_s}s; {service.name}:\n"
                         f"{service.log()[-3000:]}")


def _post_report(gateway: str, token: str) -> str:
    case_id = f"COMPOSE-{uuid.uuid4().hex[:8]}"
    event = {"event_id": f"ev-{case_id}", "case_id": case_id, "action": "report",
             "ts": int(time.time() * 1000), "source": "resident_app",
             "category": "environment", "grid_id": street().grid_ids[3],
             "description": "compose as processes"}
    request = urllib.request.Request(f"{gateway}/v1/cases/events",
                                     data=json.dumps(event).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        assert response.status == 202
    return case_id


async def _case_on_hub(url: str, token: str, case_id: str, timeout_s: float) -> None:
    async with HubClient(url, token) as hub:
        await hub.subscribe(["cases"])
        async with asyncio.timeout(timeout_s):
            while case_id not in hub.view.channels.get("cases", {}):
                await hub.recv(timeout_s)


def test_a_report_reaches_the_hub_feed_and_clickhouse(running: dict[str, Any]) -> None:
    services, mapping = running["services"], running["mapping"]
    ports = {name: mapping.ports[(name, port)] for name, port in GRIDWALL_PORTS.items()}
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    for name, path in (("gateway", "/healthz"), ("hub", "/healthz"), ("wall", "/wall")):
        url = f"http://127.0.0.1:{ports[name]}{path}"
        assert wait_for_http(url, 90), f"{name} at {url}:\n{services[name].log()[-3000:]}"
    # The wall dials the hub named in its compose environment, not its own loopback.
    assert running["envs"]["wall"]["GRIDWALL_HUB_URL"] == f"ws://127.0.0.1:{ports['hub']}/"
    _wait("the wall's hub feed up", lambda: "hub feed up" in services["wall"].log(),
          services["wall"])
    case_id = _post_report(gateway, running["feed"])
    asyncio.run(_case_on_hub(f"ws://127.0.0.1:{ports['hub']}/", running["viewer"], case_id,
                             timeout_s=120))
    query = f"SELECT count() FROM {running['database']}.cases WHERE case_id = %(c)s"
    _wait("the case in ClickHouse",
          lambda: running["client"].execute(query, {"c": case_id})[0][0] > 0,
          services["worker-1"], timeout_s=60)
