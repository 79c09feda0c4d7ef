"""``gridwall wall`` as a process, fed by the real hub: the viewer login, the session cap
and ``/healthz``.

The wall runs with ``GRIDWALL_WALL_VIEWER_LOGIN=1`` and ``GRIDWALL_WALL_MAX_SESSIONS=2``.
Requests without a viewer token get 401 and build no session; two signed-in page loads
get 200, the third 503 "wall busy"; a page's own signed session token opens the session's
websocket, a forged one (a session the gate never admitted) does not; ``/healthz`` reports
the hub link and the sessions.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from bench.common import free_port
from core.settings import Settings
from tests.integration.test_hub_live import TOKENS, running_hub
from tests.processes import terminate

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
REPO = Path(__file__).resolve().parents[2]


def get(port: int, path: str, cookie: str | None = None) -> tuple[int, dict[str, str], str]:
    """One GET (redirects not followed): status, headers, body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        conn.close()


def healthz(port: int) -> dict[str, Any]:
    status, _, body = get(port, "/healthz")
    figures: dict[str, Any] = json.loads(body)
    assert status == (200 if figures["hub"] == "up" else 503)
    return figures


async def wait_health(port: int, child: subprocess.Popen[bytes], want: Any) -> dict[str, Any]:
    """Poll ``/healthz`` until ``want(figures)`` (the wall may still be starting)."""
    async with asyncio.timeout(120):
        while True:
            assert child.poll() is None, "the wall exited"
            try:
                figures = await asyncio.to_thread(healthz, port)
                if want(figures):
                    return figures
            except (OSError, http.client.HTTPException):
                pass
            await asyncio.sleep(0.3)


async def first_ws_message(port: int, token: str) -> str | None:
    """The first message on the page session's websocket (``HTTP <status>`` if the upgrade
    is refused, None if it is closed first)."""
    try:
        async with connect(f"ws://127.0.0.1:{port}/wall/ws", subprotocols=["bokeh", token],
                           origin=f"http://127.0.0.1:{port}") as ws:
            return str(await asyncio.wait_for(ws.recv(), 30))
    except InvalidStatus as exc:
        return f"HTTP {exc.response.status_code}"
    except ConnectionClosed:
        return None


def forged(token: str) -> str:
    """The page's session token with another session id and no valid signature."""
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    payload["session_id"] = "forged" + "x" * 38
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=") + ".AA"


async def test_login_cap_and_health(infra: Settings, gw_env: dict[str, str],
                                    tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(yaml.safe_dump(TOKENS, allow_unicode=True))
    tokens.chmod(0o600)
    port = free_port()
    env = {**gw_env, "GRIDWALL_TOKENS_FILE": str(tokens), "GRIDWALL_WALL_VIEWER_LOGIN": "1",
           "GRIDWALL_WALL_MAX_SESSIONS": "2"}
    log = (tmp_path / "wall.log").open("wb")
    async with running_hub(infra) as hub:
        child = subprocess.Popen([sys.executable, "-m", "gridwall.cli", "wall", "--port",
                                  str(port), "--hub-url", hub.url], cwd=REPO, env=env,
                                 stdout=log, stderr=subprocess.STDOUT)
        try:
            up = await wait_health(port, child, lambda f: f["hub"] == "up")
            assert (up["status"], up["sessions"], up["max_sessions"], up["viewer_login"]) == (
                "ok", 0, 2, True)

            for path in ("/wall", "/wall?token=not-a-token", "/wall?token=feed-token-0001",
                         "/duty"):
                status, _, body = await asyncio.to_thread(get, port, path)
                assert status == 401 and 'name="token"' in body, path
            status, headers, _ = await asyncio.to_thread(
                get, port, "/wall?lang=en&token=viewer-token-1")
            assert status == 302 and headers["Location"] == "/wall?lang=en"
            cookie = headers["Set-Cookie"].split(";", 1)[0]
            assert cookie == "gridwall_token=viewer-token-1"
            assert "httponly" in headers["Set-Cookie"].lower()

            pages = [await asyncio.to_thread(get, port, "/wall", cookie) for _ in range(3)]
            assert [p[0] for p in pages] == [200, 200, 503]
            assert "Wall busy" in pages[2][2] and pages[2][1]["Retry-After"] == "30"
            token = re.search(r'"token":\s*"([^"]+)"', pages[0][2])
            assert token is not None
            assert '"ACK"' in (await first_ws_message(port, token.group(1)) or "")
            assert await first_ws_message(port, forged(token.group(1))) == "HTTP 403"
            figures = await asyncio.to_thread(healthz, port)
            assert (figures["sessions"], figures["refused_busy"], figures["refused_login"]) == (
                2, 1, 4)
            status, headers, text = await asyncio.to_thread(get, port, "/metrics")
            assert status == 200 and headers["Content-Type"].startswith("text/plain")
            assert "gridwall_wall_refused_busy 1" in text.splitlines()
        finally:
            terminate(child)
            log.close()
    tail = (tmp_path / "wall.log").read_text(errors="replace")[-3000:]
    assert "Traceback" not in tail, tail
