"""The worker's ``/healthz`` verdict (pure) and its small HTTP server on a real socket."""

from __future__ import annotations

import asyncio
import socket

import pytest

from streams.health.http import MetricsServer
from streams.health.status import http_status, worker_status

LAG = {"agents": {"t.cases": {0: 3, 1: 0}, "t.alerts": {0: 0}}, "sink": {"t.rows": {1: 7}}}


@pytest.mark.parametrize(("state", "last_tick", "expected"), [
    ("running", 95_000, "ok"),
    ("running", None, "starting"),
    ("init", 95_000, "starting"),
    ("running", 60_000, "stalled"),
    ("crashed", 95_000, "crashed"),
])
def test_status_is_ok_only_when_running_and_ticking(state: str, last_tick: int | None,
                                                    expected: str) -> None:
    figures = worker_status("w1", state, last_tick, 100_000, 30_000, LAG)
    assert figures["status"] == expected
    assert http_status(figures) == (200 if expected == "ok" else 503)
    assert figures["partitions"] == {"agents": 3, "sink": 1}


def test_a_worker_that_owns_no_partition_is_ok() -> None:
    figures = worker_status("w2", "running", 99_000, 100_000, 30_000, {"agents": {}})
    assert (figures["status"], figures["partitions"]) == ("ok", {"agents": 0})


async def _exchange(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    reply = await reader.read()
    writer.close()
    return reply


def test_server_answers_routes_and_refuses_the_rest() -> None:
    def failing() -> tuple[int, dict[str, str]]:
        raise RuntimeError("no figures")

    async def run() -> list[bytes]:
        server = MetricsServer("127.0.0.1", 0, lambda: "gridwall_x 1\n", failing)
        assert await server.start()
        try:
            return [await _exchange(server.port, req) for req in (
                b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
                b"GET /healthz HTTP/1.1\r\n\r\n",
                b"POST /metrics HTTP/1.1\r\n\r\n",
                b"GET /other HTTP/1.1\r\n\r\n",
                b"nonsense\r\n\r\n",
                b"GET /" + b"x" * 10_000 + b" HTTP/1.1\r\n\r\n")]
        finally:
            await server.close()

    replies = asyncio.run(run())
    assert replies[0].startswith(b"HTTP/1.1 200 ") and replies[0].endswith(b"gridwall_x 1\n")
    assert [r.split(b" ", 2)[1] for r in replies[1:5]] == [b"500", b"405", b"404", b"400"]
    assert replies[5] == b""  # a head over the limit: closed without an answer


def test_a_taken_port_leaves_the_worker_running_without_the_endpoint(
        caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        async def run() -> bool:
            stopping = asyncio.Event()
            stopping.set()
            server = MetricsServer("127.0.0.1", port, str, lambda: (200, {}))
            await server.run(stopping)  # returns instead of raising
            return server.server is None

        assert asyncio.run(run())
    assert f"cannot listen on 127.0.0.1:{port}" in caplog.text
