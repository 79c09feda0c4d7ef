"""The big screen and the leaders' view at 1920×1080 and 3840×2160: every card inside the
viewport, none cut (its content no taller than its box), with live tiers, emergencies and
escalations on the wall. Screenshots go to ``artifacts/screenshots/``.

Data: reports posted to the real gateway (some emergencies, which start at the street tier),
some of them escalated; the real worker applies them and the real hub feeds the wall.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

from domain.geo import street
from domain.vocab import CATEGORIES
from tests.e2e.conftest import Stack, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
SIZES = ((1920, 1080), (3840, 2160))
TIMEOUT_MS = 60_000


def post(url: str, token: str, body: object) -> int:
    """POST JSON with a bearer token; the status, or the refusal's body in the failure."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{exc.code}: {exc.read()[:500]!r} for {body}") from None


def event(case_id: str, action: str, **more: Any) -> dict[str, Any]:
    return {"event_id": f"ev-{case_id}-{action}-{uuid.uuid4().hex[:6]}", "case_id": case_id,
            "action": action, "ts": int(time.time() * 1000), "source": "command_centre",
            **more}


@pytest.fixture(scope="module")
def busy(stack: Stack) -> dict[str, list[str]]:
    """Twelve reports over the street (three emergencies, seven categories); four escalated,
    one twice; one resolved on the spot (closed at the grid tier); five smoke alarms (alerts
    for the ticker)."""
    grids = street().grid_ids
    url, token = f"{stack.gateway_url}/v1/cases/events", stack.tokens["feed"]
    cases = [f"SCR-{uuid.uuid4().hex[:8]}" for _ in range(12)]
    grid_of = {case_id: grids[(n * 7) % len(grids)] for n, case_id in enumerate(cases)}
    for n, case_id in enumerate(cases):
        priority = "emergency" if n < 3 else "high" if n < 6 else "normal"
        assert post(url, token, event(case_id, "report", category=CATEGORIES[n % 7],
                                      grid_id=grid_of[case_id], priority=priority,
                                      description="screen")) == 202
    escalated = cases[6:10]
    for case_id in (*escalated, escalated[0]):
        assert post(url, token, event(case_id, "escalate", actor="值班员",
                                      grid_id=grid_of[case_id])) == 202
    on_spot = f"SCR-{uuid.uuid4().hex[:8]}"  # closed at once, at the grid tier
    assert post(url, token, event(on_spot, "resolve_on_spot", category="greening",
                                  grid_id=grids[0], actor="网格员")) == 202
    smoke = sorted((k, p) for k, p in street().sensors.items() if p.sensor_kind == "smoke")
    readings = [{"sensor_id": sensor_id, "kind": "smoke", "value": 9.5,
                 "ts": int(time.time() * 1000), "grid_id": sensor.grid_id}
                for sensor_id, sensor in smoke[:5]]
    assert post(f"{stack.gateway_url}/v1/sensors/readings", token,
                {"readings": readings}) == 202
    return {"cases": cases, "emergencies": cases[:3], "escalated": escalated}


CARDS_JS = """() => Array.from(document.querySelectorAll('.gw-card'), (e, i) => {
    const r = e.getBoundingClientRect();
    return {name: e.getAttribute('data-testid') || `card${i}`, x: r.x, y: r.y,
            width: r.width, height: r.height, drawn: e.getClientRects().length > 0,
            tall: e.scrollHeight, high: e.clientHeight, wide: e.scrollWidth,
            broad: e.clientWidth};
})"""


def clipped_cards(page: Any) -> list[str]:
    """Cards outside the viewport or whose content is taller than their box.

    Every card is measured in one script run: the wall re-renders its columns every second,
    and measuring card by card could catch a card between its removal and its replacement.
    """
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    out = []
    for c in page.evaluate(CARDS_JS):
        if not c["drawn"]:
            out.append(f"{c['name']}: not drawn")
        elif c["y"] < 0 or c["y"] + c["height"] > height + 1 or c["x"] < 0 or \
                c["x"] + c["width"] > width + 1 or c["tall"] > c["high"] + 1 or \
                c["wide"] > c["broad"] + 1:
            out.append(f"{c['name']}: box {c['x']},{c['y']} {c['width']}x{c['height']}, "
                       f"content {c['wide']}x{c['tall']} in {c['broad']}x{c['high']}")
    return out


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_no_wall_card_is_clipped_with_the_mechanism_live(browser: Any, stack: Stack,
                                                         busy: dict[str, list[str]],
                                                         size: tuple[int, int]) -> None:
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    try:
        page.goto(f"{stack.wall_url}/wall")
        page.locator("[data-testid=freshness][data-level=live]").wait_for(timeout=TIMEOUT_MS)
        for case_id in busy["emergencies"][:1]:
            page.locator(f"[data-testid=emergency-row][data-case='{case_id}']").wait_for(
                timeout=TIMEOUT_MS)
        # newest first, three rows: the posted escalations, or the SLA timer's newer ones
        rows = page.locator("[data-testid=escalation-row]")
        rows.nth(2).wait_for(timeout=TIMEOUT_MS)
        shown = {rows.nth(i).get_attribute("data-case") for i in range(rows.count())}
        assert shown <= set(busy["escalated"]) | set(busy["emergencies"])
        row = page.locator("[data-testid=countdown-row][data-priority=emergency]").first
        row.wait_for(timeout=TIMEOUT_MS)
        # emergencies start at the street (3); the SLA timer may since have escalated one (4)
        assert row.get_attribute("data-tier") in ("3", "4")
        tiers = page.locator("[data-testid=tier-bars]").inner_text()
        assert "街道" in tiers and "社区" in tiers
        # the resolution levels are read from ClickHouse in the background once a minute
        page.locator("[data-testid=resolution-row]:not([data-today='0'])").first.wait_for(
            timeout=150_000)
        page.wait_for_timeout(1500)  # the map's layers settle
        screenshot(page, f"wall-{size[0]}x{size[1]}")
        assert clipped_cards(page) == []
        assert page.evaluate("document.documentElement.scrollHeight") <= size[1] + 1
    finally:
        context.close()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_leaders_view_signs_in_and_lists_the_escalated_cases(
        browser: Any, stack: Stack, busy: dict[str, list[str]], size: tuple[int, int]) -> None:
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    try:
        page.goto(f"{stack.wall_url}/leader")
        page.locator("input[type=password]").fill(stack.tokens["viewer"])
        page.locator("button", has_text="登录").click()
        page.locator("[data-testid=login-error]").wait_for(timeout=TIMEOUT_MS)
        page.locator("input[type=password]").fill(stack.tokens["officer"])
        page.locator("button", has_text="登录").click()
        page.locator(f"[data-testid=escalated-row][data-case='{busy['escalated'][0]}']"
                     ).wait_for(timeout=TIMEOUT_MS)
        assert page.locator("[data-testid=escalated-row]").count() >= len(busy["escalated"])
        page.locator("[data-testid=leader-supervision]").wait_for(timeout=TIMEOUT_MS)
        screenshot(page, f"leader-{size[0]}x{size[1]}")
        assert clipped_cards(page) == []
    finally:
        context.close()
