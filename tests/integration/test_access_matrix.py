"""Every write path × every kind of credential, against one declared expectation.

The write paths: the gateway's four POST operations (case events, sensor readings, department
records, Open311 requests; Open311 also with its ``api_key`` form field), and through the
hub every command kind of :data:`domain.contracts.commands.COMMAND_KINDS` and ``tune`` (the
duty and ops consoles of the wall send exactly these under the signed-in user's own token).
The credentials: none, malformed, unknown, and a token of each role.

:data:`ALLOWED` is the one declaration of who may write what; it is written out here, not
derived from ``PERMISSIONS``, so a change of the access rules has to change this table.
From it and the credential kind, :func:`gateway_expectation` and :func:`hub_expectation`
say what must happen: the gateway answers 401 (no valid token), 403 (a known token whose
role may not) or 2xx; the hub closes 4001 (no valid token), closes 4003 (a role that may not
even view the wall), answers an ``error`` with code ``forbidden``, or an ``ack``.

A real uvicorn gateway and a real hub run in-process against the real broker (a write that
is allowed is acknowledged by Kafka).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from core.auth import TokenBook
from core.settings import Settings
from domain.contracts.commands import COMMAND_KINDS, COMMANDS
from domain.wire import encode
from ingest.gateway.app import create_app
from tests.integration.helpers_live import ROLE_TOKENS
from tests.integration.test_gateway_support import ServedApp
from tests.unit.test_gateway_support import department_record, inside, reading, report
from wall.hub import Hub, HubConfig
from wall.hub.protocol import AckMsg, ErrorMsg, WelcomeMsg, decode_hub

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

ROLES = ("viewer", "feed", "officer", "ops", "admin")
# The declaration: which write paths each role may use. Nobody else may write anything.
ALLOWED: dict[str, frozenset[str]] = {
    "viewer": frozenset(),
    "feed": frozenset({"gateway"}),
    "officer": frozenset({"command"}),
    "ops": frozenset({"command", "tune"}),
    "admin": frozenset({"gateway", "command", "tune"}),
}
# Roles that may look at the wall at all (the hub closes the others at once).
VIEWS_THE_WALL = frozenset({"viewer", "officer", "ops", "admin"})
# Credentials that are not a token of any role: what is sent as the token (None: nothing).
NOT_A_TOKEN: dict[str, str | None] = {
    "none": None,
    "malformed: empty": "",
    "malformed: 300 characters": "t" * 300,
    "malformed: not ASCII": "令牌令牌令牌令牌",
    "malformed: spaces and quotes": 'a b "c"',
    "unknown": "fz-unknown-token-0000001",
}
CREDENTIALS: tuple[str, ...] = (*NOT_A_TOKEN, *ROLES)


def token_of(credential: str) -> str | None:
    """What the client presents for ``credential``."""
    return NOT_A_TOKEN[credential] if credential in NOT_A_TOKEN else ROLE_TOKENS[credential]


def gateway_expectation(credential: str) -> int:
    """401, 403 or 202 for a gateway write under ``credential`` (from :data:`ALLOWED`)."""
    if credential in NOT_A_TOKEN:
        return 401
    return 202 if "gateway" in ALLOWED[credential] else 403


def hub_expectation(credential: str, path: str) -> str:
    """``close 4001``, ``close 4003``, ``forbidden`` or ``ack`` for a hub write."""
    if credential in NOT_A_TOKEN:
        return "close 4001"
    if credential not in VIEWS_THE_WALL:
        return "close 4003"
    return "ack" if path in ALLOWED[credential] else "forbidden"


def book() -> TokenBook:
    """One token per role (a feed may write every source)."""
    return TokenBook.from_mapping({token: {"name": f"{role}-tester", "role": role,
                                           **({"sources": ["*"]} if role == "feed" else {})}
                                   for role, token in ROLE_TOKENS.items()})


# -- the gateway -------------------------------------------------------------------------


def gateway_writes(marker: str) -> dict[str, tuple[str, dict[str, Any] | list[Any]]]:
    """One valid JSON write per operation: name -> (path, body)."""
    return {
        "case events": ("/v1/cases/events", report(f"{marker}-c")),
        "sensor readings": ("/v1/sensors/readings", {"request_id": f"{marker}-q",
                                                     "readings": [reading(0)]}),
        "department records": ("/v1/departments/fire/records",
                               department_record(f"{marker}-d")),
    }


def open311_form(marker: str) -> dict[str, str]:
    """A valid Open311 post without its key."""
    lon, lat, _ = inside(1)
    return {"service_code": "environment", "lat": str(lat), "long": str(lon),
            "description": "bins", "event_id": f"{marker}-o"}


def header(token: str | None) -> dict[str, str]:
    """The Authorization header carrying ``token`` (none for None)."""
    return {} if token is None else {"Authorization": f"Bearer {token}".strip()}


@pytest.fixture(scope="module")
def gateway(infra: Settings) -> Iterator[ServedApp]:
    with ServedApp(create_app(infra, tokens=book())) as served:
        yield served


def ascii_or_raw(headers: dict[str, str]) -> dict[str, Any]:
    """httpx wants str headers in latin-1: send a non-ASCII token as UTF-8 bytes."""
    return {k: v.encode() for k, v in headers.items()}


@pytest.mark.parametrize("credential", CREDENTIALS)
def test_gateway_writes(gateway: ServedApp, credential: str) -> None:
    marker, token = f"am{uuid.uuid4().hex[:8]}", token_of(credential)
    want = gateway_expectation(credential)
    got: dict[str, int] = {}
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        for name, (path, body) in gateway_writes(marker).items():
            got[name] = client.post(path, content=encode(body), headers=ascii_or_raw(
                {"Content-Type": "application/json", **header(token)})).status_code
        form = open311_form(marker)
        got["open311 (bearer)"] = client.post(
            "/open311/v2/requests.json", content=urlencode(form).encode(),
            headers=ascii_or_raw({"Content-Type": "application/x-www-form-urlencoded",
                                  **header(token)})).status_code
        keyed = dict(open311_form(f"{marker}k"), **({} if token is None else {"api_key": token}))
        got["open311 (api_key)"] = client.post(
            "/open311/v2/requests.json", content=urlencode(keyed).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code
    # Open311 answers a new request 201 (GeoReport), the JSON feeds 202
    normal = {name: 202 if code == 201 else code for name, code in got.items()}
    assert normal == dict.fromkeys(got, want), (credential, got)


# -- the hub -----------------------------------------------------------------------------


@asynccontextmanager
async def running_hub(s: Settings) -> AsyncIterator[Hub]:
    hub = Hub(s, book(), HubConfig(host="127.0.0.1", port=0, command_burst=10_000,
                                   auth_timeout_s=5.0))
    async with hub:
        yield hub


def hub_write(path: str, marker: str) -> dict[str, Any]:
    """A valid write of ``path`` (a command kind or ``tune``)."""
    if path == "tune":
        return {"type": "tune", "ref": marker, "key": "alerts",
                "value": {"ack_timeout_s": 600, "max_silence_s": 86400}}
    args: dict[str, Any] = {"comment": f"{marker} checked"}
    if path == "assign":
        args["assignee"] = "patrol-3"
    if path == "silence":
        args["duration_s"] = 600
    return {"type": "command", "ref": marker, "kind": path,
            "alert_id": f"{inside(2)[2]}.{marker}.{int(time.time() * 1000)}", "args": args}


async def outcome(url: str, token: str | None, write: dict[str, Any]) -> str:
    """What the hub did with ``write`` sent after authenticating with ``token``."""
    async with connect(url) as ws:
        try:
            if token is not None:
                await ws.send(encode({"type": "auth", "token": token}), text=True)
                welcome = decode_hub(await asyncio.wait_for(ws.recv(), 10))
                assert isinstance(welcome, WelcomeMsg), welcome
            await ws.send(encode(write), text=True)
            async with asyncio.timeout(20):
                while True:
                    reply = decode_hub(await ws.recv())
                    if getattr(reply, "ref", None) == write["ref"]:
                        break
        except ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.reason, closed
            return f"close {closed.rcvd.code}"
    if isinstance(reply, ErrorMsg):
        assert reply.reason, reply
        return str(reply.code)
    assert isinstance(reply, AckMsg), reply
    return "ack"


HUB_PATHS: tuple[str, ...] = (*COMMAND_KINDS, "tune")


def hub_path_class(path: str) -> str:
    """``tune``, or ``command`` for a command kind (each kind's own permission)."""
    if path == "tune":
        return "tune"
    assert COMMANDS[path].permission == "act", f"{path}: update ALLOWED for its permission"
    return "command"


@pytest.mark.parametrize("credential", CREDENTIALS)
async def test_hub_writes(infra: Settings, credential: str) -> None:
    got: dict[str, str] = {}
    want: dict[str, str] = {}
    async with running_hub(infra) as hub:
        for path in HUB_PATHS:
            marker = f"am{uuid.uuid4().hex[:8]}"
            got[path] = await outcome(hub.url, token_of(credential), hub_write(path, marker))
            want[path] = hub_expectation(credential, hub_path_class(path))
    assert got == want, credential


# The gateway's write operations the matrix sends (gateway_writes and the Open311 posts):
# a new write operation fails the coverage test until it is added to the matrix.
COVERED_WRITES = frozenset({"/v1/cases/events", "/v1/sensors/readings",
                            "/v1/departments/{department}/records", "/open311/v2/requests.json"})


def test_the_matrix_covers_every_role_and_denies_by_default() -> None:
    """Every role the tokens file accepts has a row, every write operation of the gateway is
    sent; a credential without a role writes nothing anywhere."""
    from ingest.gateway import openapi

    assert set(openapi.WRITES) == COVERED_WRITES
    from core.auth import ROLES as KNOWN_ROLES

    assert set(ALLOWED) == set(KNOWN_ROLES) == set(ROLES)
    for credential in NOT_A_TOKEN:
        assert gateway_expectation(credential) == 401
        assert {hub_expectation(credential, p) for p in ("command", "tune")} == {"close 4001"}
