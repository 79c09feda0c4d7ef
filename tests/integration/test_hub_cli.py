"""``gridwall hub`` as a process: it serves, answers /healthz, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml
from websockets.exceptions import ConnectionClosed

from bench.common import free_port, wait_for_http
from core.settings import Settings
from wall.hub.client import HubClient

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def test_without_a_tokens_file_it_exits_2(infra: Settings, gw_env: dict[str, str],
                                          tmp_path: Path) -> None:
    env = {**gw_env, "GRIDWALL_TOKENS_FILE": str(tmp_path / "missing.yaml")}
    done = subprocess.run([sys.executable, "-m", "gridwall.cli", "hub"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "tokens file not found" in done.stderr


async def test_serves_then_stops_with_going_away(infra: Settings, gw_env: dict[str, str],
                                                 tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(yaml.safe_dump({"viewer-token-9": {"name": "大屏", "role": "viewer"}}))
    tokens.chmod(0o600)  # a world-readable tokens file is refused outside GRIDWALL_DEV
    port = free_port()
    env = {**gw_env, "GRIDWALL_TOKENS_FILE": str(tokens)}
    child = subprocess.Popen([sys.executable, "-m", "gridwall.cli", "hub", "--port", str(port)],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert await asyncio.to_thread(wait_for_http, f"http://127.0.0.1:{port}/healthz", 60)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
            assert json.loads(resp.read())["feed"] == "running"
        async with HubClient(f"ws://127.0.0.1:{port}/", "viewer-token-9") as client:
            await client.subscribe(["alerts"])
            await client.recv()
            child.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosed) as info:
                while True:
                    await client.recv(30)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1001
        assert await asyncio.to_thread(child.wait, 30) == 0
    finally:
        if child.poll() is None:
            child.kill()
        output = child.communicate()[0].decode()
    assert "hub listening on" in output
