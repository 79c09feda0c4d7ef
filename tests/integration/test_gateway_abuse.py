"""Abuse that fills storage, floods, stalls or leaks, against a real gateway and real Kafka.

* unauthenticated refusals are counted on /metrics, not stored; authenticated ones are
  stored; both are rate-limited per client with 429 + Retry-After;
* dead letters hold no credential and no unmasked personal data;
* a client gone mid-body is a quiet 499 (no traceback); headers and bodies that never
  arrive are cut off, a head too large is refused (the real ``gridwall gateway`` process,
  its real uvicorn protocol);
* ``/docs`` loads nothing from another host.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from core.auth import ensure_dev_tokens
from core.settings import Settings
from domain.contracts.topics import DEAD_LETTER
from domain.schemas import DeadLetter
from infra.topics import ensure_topics
from tests.integration.test_gateway_support import read_topic, serve_gateway
from tests.unit.test_gateway_support import FEED, bearer, inside, report

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
MIB = 1_048_576


def own_settings(infra: Settings, **limits: Any) -> Settings:
    """This test's own topics (its dead letters can be counted exactly) and limits."""
    own = msgspec.structs.replace(infra, topic_prefix=f"{infra.topic_prefix}abuse"
                                  f"{uuid.uuid4().hex[:6]}.", **limits)
    ensure_topics(own)
    return own


def letters(s: Settings, at_least: int, marker: str = "") -> list[DeadLetter]:
    """The topic's dead letters, read until ``at_least`` are there (and ``marker`` in one)."""
    def enough(records: list[Any]) -> bool:
        return len(records) >= at_least and any(marker.encode() in r.value for r in records)

    return [msgspec.json.decode(r.value, type=DeadLetter)
            for r in read_topic(s, DEAD_LETTER, enough)]


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition text (0 if absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{want}}} "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_unauthenticated_floods_are_counted_not_stored_and_then_rate_limited(
        infra: Settings) -> None:
    own = own_settings(infra, gateway_refusal_burst=60, gateway_refusals_per_s=0.01)
    big = b'{"event_id": "' + b"x" * (MIB - 100) + b'"}'
    with serve_gateway(own) as gateway, httpx.Client(base_url=gateway.url, timeout=60) as c:
        statuses = [c.post("/v1/cases/events", content=big).status_code for _ in range(100)]
        limited = c.post("/v1/cases/events", content=b"{}")
        # An authenticated client has its own budget: its refusal is stored.
        marker = uuid.uuid4().hex
        stored = c.post("/v1/cases/events", json=report(marker, category="potholes"),
                        headers=bearer(FEED))
        text = c.get("/metrics").text
    assert statuses == [401] * 60 + [429] * 40
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert limited.json()["error"] == "rate_limited"
    assert stored.status_code == 422
    assert metric(text, "gridwall_gateway_rejects_total", feed="cases",
                  reason="unauthorized") == 60
    assert metric(text, "gridwall_gateway_rejects_total", feed="cases",
                  reason="rate_limited") == 41
    found = letters(own, 1, marker)  # one partition (keyed by feed): the 100 came before it
    assert len(found) == 1 and marker in found[0].raw  # none of the 100 was stored


def test_refusals_before_a_token_was_shown_are_not_stored(infra: Settings) -> None:
    own = own_settings(infra)
    marker = uuid.uuid4().hex
    too_big = b'{"event_id": "' + marker.encode() + b'", "x": "' + b"x" * MIB + b'"}'
    with serve_gateway(own) as gateway, httpx.Client(base_url=gateway.url, timeout=60) as c:
        anonymous = c.post("/v1/cases/events", content=b"[" + too_big[1:])
        multipart = c.post("/open311/v2/requests.json", files={"f": ("f", b"x")})
        known = c.post("/v1/cases/events", content=too_big, headers=bearer(FEED))
    assert (anonymous.status_code, multipart.status_code, known.status_code) == (413, 415, 413)
    found = letters(own, 1, marker)
    assert len(found) == 1 and found[0].raw_truncated  # only the one with a known token


def test_authenticated_refusals_are_stored_until_the_client_is_rate_limited(
        infra: Settings) -> None:
    own = own_settings(infra, gateway_refusal_burst=5, gateway_refusals_per_s=0.01)
    with serve_gateway(own) as gateway, httpx.Client(base_url=gateway.url, timeout=30) as c:
        accepted = [c.post("/v1/cases/events", json=report(uuid.uuid4().hex),
                           headers=bearer(FEED)).status_code for _ in range(3)]
        answers = [c.post("/v1/cases/events", json=report(f"bad-{i}", category="potholes"),
                          headers=bearer(FEED)) for i in range(8)]
        good = c.post("/v1/cases/events", json=report(uuid.uuid4().hex), headers=bearer(FEED))
        other_client = c.post("/v1/cases/events", json=report("x"))  # by address: unspent
        read = c.get("/open311/v2/requests.json", headers=bearer(FEED))
    assert accepted == [202] * 3  # successes spend nothing
    assert [a.status_code for a in answers] == [422] * 5 + [429] * 3
    assert read.status_code == 200  # reads are not limited
    assert answers[-1].headers["retry-after"].isdigit()
    assert good.status_code == 429  # the client, not only its bad inputs, waits
    assert other_client.status_code == 401
    found = letters(own, 5, "bad-4")
    assert len(found) == 5
    assert {m for letter in found for m in re.findall(r"bad-\d", letter.raw)} == {
        f"bad-{i}" for i in range(5)}


def test_dead_letters_hold_no_credential_and_no_unmasked_personal_data(
        infra: Settings) -> None:
    own = own_settings(infra)
    lon, lat, _ = inside(3)
    with serve_gateway(own) as gateway, httpx.Client(base_url=gateway.url, timeout=30) as c:
        form = c.post("/open311/v2/requests.json", data={
            "api_key": FEED, "service_code": "potholes", "lat": str(lat), "long": str(lon),
            "first_name": "三丰", "last_name": "张", "phone": "13812345678",
            "description": "打 13912345678，身份证 370102199001011234，zs@example.com"})
        event = report("pii-1", category="potholes")
        event.update(reporter_name="李四光", reporter_phone="13712345678",
                     description="联系 13612345678", meta={"password": "hunter2"})
        body = c.post("/v1/cases/events", json=event, headers=bearer(FEED))
    assert form.status_code == 422 and body.status_code == 422
    found = letters(own, 2)
    assert len(found) == 2
    everything = " ".join(f"{letter.raw} {letter.reason}" for letter in found)
    for secret in (FEED, "hunter2", "三丰", "13812345678", "13912345678", "370102199001011234",
                   "zs@example.com", "四光", "13712345678", "13612345678"):
        assert secret not in everything, secret
    assert "138****5678" in everything and "李**" in everything


@pytest.fixture()
def real_gateway(infra: Settings, gw_env: dict[str, str], tmp_path: Path
                 ) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``gridwall gateway`` as a process with 1 s header and body timeouts; stderr kept."""
    tokens = tmp_path / "tokens.yaml"
    ensure_dev_tokens(tokens)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**gw_env, "GRIDWALL_TOKENS_FILE": str(tokens), "GRIDWALL_GATEWAY_PORT": str(port),
           "GRIDWALL_GATEWAY_HEADER_TIMEOUT_S": "1", "GRIDWALL_GATEWAY_BODY_TIMEOUT_S": "1"}
    process = subprocess.Popen([sys.executable, "-m", "gridwall.cli", "gateway",
                                "--log-level", "info"], cwd=REPO, env=env,
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/metrics", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, "the gateway exited"
                assert time.monotonic() < deadline, "the gateway did not start"
                time.sleep(0.2)
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=15)


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.settimeout(30)  # a safety net only: the gateway must close first
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def test_disconnects_and_slow_clients_are_cut_off_quietly(
        real_gateway: tuple[str, subprocess.Popen[str]]) -> None:
    url, process = real_gateway
    head = (b"POST /v1/cases/events HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n")
    for _ in range(3):  # gone mid-body
        with connect(url) as sock:
            sock.sendall(head + b'{"event_id": "')
        time.sleep(0.2)
    slow_heads = [connect(url) for _ in range(100)]
    for sock in slow_heads:
        sock.sendall(b"POST /v1/cases/events HTTP/1.1\r\nHost: gw\r\n")  # never finished
    slow_body = connect(url)
    slow_body.sendall(head + b"{")
    answers = [read_until_closed(sock) for sock in slow_heads]
    body_answer = read_until_closed(slow_body)
    for sock in (*slow_heads, slow_body):
        sock.close()
    assert answers == [b""] * 100  # closed by the gateway, nothing answered
    assert body_answer.startswith(b"HTTP/1.1 408")
    with connect(url) as sock:  # a head over GRIDWALL_GATEWAY_MAX_HEADER_BYTES (16 KiB)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: gw\r\nX-Big: " + b"a" * 20_000
                     + b"\r\n\r\n")
        big_head = read_until_closed(sock)
    assert big_head.startswith(b"HTTP/1.1 400")
    text = httpx.get(f"{url}/metrics").text
    assert metric(text, "gridwall_gateway_rejects_total", feed="cases",
                  reason="client_disconnected") == 3
    assert metric(text, "gridwall_gateway_rejects_total", feed="cases",
                  reason="body_timeout") == 1
    process.terminate()
    _, stderr = process.communicate(timeout=15)
    assert "Traceback" not in stderr and "ClientDisconnect" not in stderr, stderr


def test_docs_page_and_its_assets_are_served_locally(infra: Settings) -> None:
    with serve_gateway(infra) as gateway, httpx.Client(base_url=gateway.url, timeout=30) as c:
        page = c.get("/docs")
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        fetched = {asset: c.get(asset) for asset in assets}
        spec = c.get("/openapi.json")
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    assert "//" not in " ".join(assets) and "cdn" not in page.text.lower()
    assert {a.rsplit("/", 1)[-1] for a in assets} >= {"swagger-ui-bundle.js", "swagger-ui.css"}
    assert all(r.status_code == 200 and r.content for r in fetched.values())
    assert "SwaggerUIBundle" in fetched[next(a for a in assets if a.endswith(".js"))].text
    assert spec.status_code == 200 and "/docs" not in spec.json()["paths"]
