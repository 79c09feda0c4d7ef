"""docs/wall.md's *Sessions, sign-in and health* section states what the code does."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

from core.settings import Settings
from wall.app.gate import COOKIE, RETRY_AFTER_S, Gate
from wall.app.health import health
from wall.app.server import UNUSED_SESSION_LIFETIME_MS
from wall.app.store import WallStore

DOC = Path(__file__).resolve().parents[2] / "docs" / "wall.md"
SECTION = DOC.read_text().split("## Sessions, sign-in and health", 1)[1].split("\n## ", 1)[0]


class App:
    """What the gate reads of a BokehTornado: its page paths and their sessions."""

    app_paths = {"/wall", "/duty"}

    def get_sessions(self, path: str) -> list[object]:
        return [object()] * (2 if path == "/wall" else 1)


def test_defaults_and_constants_match_the_doc() -> None:
    assert f"(default {Settings().wall_max_sessions})" in SECTION
    assert Settings().wall_viewer_login is False and "default off" in SECTION
    assert f"`Retry-After: {RETRY_AFTER_S}`" in SECTION
    assert f"({UNUSED_SESSION_LIFETIME_MS // 1000} s after its websocket closed" in SECTION
    assert f"`{COOKIE}` cookie" in SECTION


def test_the_healthz_example_has_exactly_the_fields_served() -> None:
    (example,) = re.findall(r"```json\n(.*?)\n```", SECTION, flags=re.S)
    feed = SimpleNamespace(link="up", connects=1, failures=0, last_error="")
    ctx = SimpleNamespace(feed=feed, store=WallStore(), clock=lambda: 5_000, hydrated=3)
    gate = Gate(50, False, lambda _t: False)
    figures = health(ctx, gate, App())  # type: ignore[arg-type]
    assert set(figures) == set(json.loads(example))
    assert (figures["status"], figures["sessions"], figures["last_received_age_s"]) == (
        "ok", 3, None)


def test_the_gate_refuses_at_the_cap_counting_requests_in_flight() -> None:
    gate = Gate(4, False, lambda _t: False)
    assert gate.busy(App()) is None
    gate.inflight = 1
    page = gate.busy(App())
    assert page is not None and "Wall busy" in page and "4 of 4" in page
    assert gate.figures(App())["refused_busy"] == 1
