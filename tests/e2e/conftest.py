"""Browser end-to-end fixtures: the whole stack as child processes, and headless Chromium.

:func:`stack` runs worker, gateway, hub and wall (``gridwall <cmd>``) with this session's
own topic prefix, ClickHouse database, tokens file and free ports; :func:`browser` is
Debian's Chromium driven by Playwright (never ``playwright install``). Screenshots go to
``artifacts/screenshots/`` (kept by CI). Waiting is always polling the page or an endpoint
for a condition with a timeout; no test asserts on wall-clock durations.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench.common import free_port, wait_for_http
from core.auth import ensure_dev_tokens
from core.settings import Settings, settings_from
from tests.processes import terminate

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


class Proc:
    """``gridwall ARGV`` as a child process logging to a file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.log_path = logs / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([sys.executable, "-m", "gridwall.cli", *argv], cwd=REPO,
                                     env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def tail(self, lines: int = 30) -> str:
        """The end of the log."""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_log(self, needle: str, timeout_s: float = 90.0) -> None:
        """Wait until the log contains ``needle``; fail with the log's tail."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if needle in self.log_path.read_text(errors="replace"):
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited:\n{self.tail()}")
            time.sleep(0.2)
        raise AssertionError(f"{self.name}: no {needle!r} in {timeout_s}s:\n{self.tail()}")

    def wait_http(self, url: str, timeout_s: float = 60.0) -> None:
        """Wait until ``url`` answers 200."""
        if not wait_for_http(url, timeout_s):
            raise AssertionError(f"{self.name}: {url} not up:\n{self.tail()}")

    def stop(self) -> None:
        """SIGTERM (then SIGKILL after 20 s)."""
        terminate(self.proc)
        self._log.close()


@dataclass
class Stack:
    """The running stack: settings, environment, dev tokens, processes, URLs."""

    settings: Settings
    env: dict[str, str]
    tokens: dict[str, str]
    procs: dict[str, Proc]
    logs: Path

    @property
    def wall_url(self) -> str:
        """Base URL of the wall server."""
        return f"http://127.0.0.1:{self.settings.wall_port}"

    @property
    def gateway_url(self) -> str:
        """Base URL of the gateway."""
        return f"http://127.0.0.1:{self.settings.gateway_port}"


def stack_env(run_id: str, tmp: Path, **extra: str) -> dict[str, str]:
    """An environment with its own prefix, database, tokens file, data dir and free ports."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWALL_")}
    env.update({"GRIDWALL_TOPIC_PREFIX": f"e{run_id}.",
                "GRIDWALL_CLICKHOUSE_DATABASE": f"gw_e2e_{run_id}",
                "GRIDWALL_TOPIC_PARTITIONS": "2",
                "GRIDWALL_DATA_DIR": str(tmp / "data"),
                "GRIDWALL_TOKENS_FILE": str(tmp / "tokens.yaml"),
                "GRIDWALL_GATEWAY_PORT": str(free_port()),
                "GRIDWALL_HUB_PORT": str(free_port()),
                "GRIDWALL_WALL_PORT": str(free_port())})
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def stack(infra: Settings, run_id: str, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Stack]:
    """Worker, gateway, hub and wall running against the real Kafka and ClickHouse."""
    from clickhouse_driver import Client

    from infra.migrate import migrate
    from infra.topics import ensure_stream_topics

    tmp = tmp_path_factory.mktemp("e2e")
    env = stack_env(run_id, tmp)
    settings = settings_from({k: v for k, v in env.items() if k.startswith("GRIDWALL_")})
    client = Client(settings.clickhouse_host, port=settings.clickhouse_port)
    list(migrate(client, settings.clickhouse_database))
    ensure_stream_topics(settings)
    tokens = ensure_dev_tokens(settings.resolved_tokens_file)
    procs: dict[str, Proc] = {}
    try:
        for name, argv in (("worker", ["worker", "--worker-id", "e2e-worker", "--loglevel",
                                       "info"]),
                           ("gateway", ["gateway"]), ("hub", ["hub"]), ("wall", ["wall"])):
            procs[name] = Proc(name, argv, env, tmp)
        procs["worker"].wait_log("Worker]: Ready")
        procs["gateway"].wait_http(f"http://127.0.0.1:{settings.gateway_port}/healthz")
        procs["hub"].wait_http(f"http://127.0.0.1:{settings.hub_port}/healthz")
        procs["wall"].wait_http(f"http://127.0.0.1:{settings.wall_port}/wall")
        yield Stack(settings, env, tokens, procs, tmp)
    finally:
        for proc in reversed(list(procs.values())):
            proc.stop()
        if not os.environ.get("GRIDWALL_TEST_KEEP_DATA"):
            client.execute(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
        client.disconnect()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium (Playwright's own browsers are never downloaded).

    Module-scoped on purpose: Playwright's sync API keeps an event loop running in the main
    thread while it is open, which would break every asyncio test collected after it.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    """A fresh 1920×1080 page."""
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    yield page
    context.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-viewport screenshot under ``artifacts/screenshots/``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
