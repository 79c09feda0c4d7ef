"""A local ClickHouse server from Debian's ``clickhouse-server`` package.

Guarantees: ``up`` installs the package if it is missing (as root, with apt-get), writes
the config from ``infra/clickhouse/`` with every path under ``<data dir>/clickhouse`` and
the listener on the configured host (loopback by default), and returns only when the
server answers ``SELECT 1``. A server that is already running is reused.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from core.clients import clickhouse_client
from core.settings import Settings
from infra.process import ManagedProcess, StartError, port_open, wait_until

TEMPLATES = Path(__file__).resolve().parent / "clickhouse"


def ensure_installed() -> str:
    """Return the path of ``clickhouse-server``, installing Debian's package if needed."""
    found = shutil.which("clickhouse-server") or _sbin("clickhouse-server")
    if found:
        return found
    if os.geteuid() != 0:
        raise StartError("clickhouse: `clickhouse-server` is not installed; run as root or "
                         "`sudo apt-get install clickhouse-server`")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for argv in (["apt-get", "update", "-qq"],
                 ["apt-get", "install", "-y", "-qq", "clickhouse-server"]):
        result = subprocess.run(argv, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise StartError(f"clickhouse: {' '.join(argv)} failed:\n{result.stderr[-2000:]}")
    found = shutil.which("clickhouse-server") or _sbin("clickhouse-server")
    if not found:
        raise StartError("clickhouse: installed the package but found no clickhouse-server")
    return found


def _sbin(name: str) -> str | None:
    path = Path("/usr/sbin") / name
    return str(path) if path.exists() else None


def server_major_version(binary: str) -> int:
    """The server binary's major version; 18 for one that does not know ``--version``
    (18.x answers "Unknown option specified: version")."""
    result = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60)
    found = re.search(r"version (\d+)\.", result.stdout + result.stderr)
    return int(found.group(1)) if found else 18


def legacy_profile_settings(major: int) -> str:
    """Profile settings only an old server needs: LowCardinality was experimental before
    19.x; current servers refuse the setting's name."""
    return ("<allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>"
            if major < 19 else "")


class ClickHouseServer:
    """The server described by ``settings``, with its files under ``<data dir>/clickhouse``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.data_path / "clickhouse"
        self.process = ManagedProcess("clickhouse", self.home / "clickhouse.pid",
                                      self.home / "logs" / "stdout.log")

    @property
    def address(self) -> str:
        """``host:port`` of the native protocol."""
        return f"{self.settings.clickhouse_host}:{self.settings.clickhouse_port}"

    def _write_config(self, binary: str) -> Path:
        s = self.settings
        values = {"home": str(self.home), "host": s.clickhouse_host,
                  "tcp_port": s.clickhouse_port, "http_port": s.clickhouse_http_port,
                  "legacy_settings": legacy_profile_settings(server_major_version(binary))}
        for name in ("config.xml", "users.xml"):
            text = (TEMPLATES / name).read_text()
            for key, value in values.items():
                text = text.replace("{" + key + "}", str(value))
            (self.home / name).write_text(text)
        return self.home / "config.xml"

    def answers(self) -> bool:
        """True if the server answers ``SELECT 1`` over the native protocol."""
        client = clickhouse_client(self.settings, connect_timeout=2, send_receive_timeout=5)
        try:
            return bool(client.execute("SELECT 1") == [(1,)])
        finally:
            client.disconnect()

    def version(self) -> str:
        """The server's version string."""
        client = clickhouse_client(self.settings)
        try:
            return str(client.execute("SELECT version()")[0][0])
        finally:
            client.disconnect()

    def up(self, timeout_s: float = 60.0) -> str:
        """Start the server (or reuse a running one) and wait until it answers."""
        if self.process.is_running():
            wait_until(self.answers, timeout_s, "clickhouse", self.process)
            return "running"
        if port_open(self.settings.clickhouse_host, self.settings.clickhouse_port):
            raise StartError(f"clickhouse: {self.address} is taken by a process GridWall did "
                             "not start; stop it or set GRIDWALL_CLICKHOUSE_PORT")
        binary = ensure_installed()
        for sub in ("data", "logs"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        config = self._write_config(binary)
        self.process.start([binary, f"--config-file={config}"], cwd=self.home)
        wait_until(self.answers, timeout_s, "clickhouse", self.process)
        return "started"

    def down(self) -> bool:
        """Stop the server by PID; True if one was running."""
        return self.process.stop()
