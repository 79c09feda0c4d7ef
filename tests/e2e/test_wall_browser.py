"""The wall in a real browser: the map draws, the banner tells the truth, live data arrives.

Headless Debian Chromium via Playwright. Every wait polls the page for a condition (with a
generous timeout); nothing asserts how long something took.
"""

from __future__ import annotations

import io
import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from domain.geo import street
from tests.e2e.conftest import Proc, Stack, screenshot, stack_env

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
LIVE_TIMEOUT_MS = 30_000


def canvas_colours(page: Any) -> int:
    """Distinct colours in a screenshot of the map's canvas (1 for a blank canvas)."""
    canvas = page.locator("canvas").first
    canvas.wait_for(state="visible", timeout=LIVE_TIMEOUT_MS)
    image = Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")
    image.thumbnail((240, 240))
    return len(set(image.tobytes()[i:i + 3] for i in range(0, image.width * image.height * 3, 3)))


def wait_canvas_drawn(page: Any, min_colours: int = 8) -> int:
    """Poll until the canvas shows a drawing (the street, grids and sensors)."""
    deadline = time.monotonic() + LIVE_TIMEOUT_MS / 1000
    colours = 0
    while time.monotonic() < deadline:
        colours = canvas_colours(page)
        if colours >= min_colours:
            return colours
        page.wait_for_timeout(500)
    raise AssertionError(f"map canvas still blank ({colours} colours)")


def post(url: str, token: str, body: object) -> int:
    """POST JSON with a bearer token; return the status."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


@pytest.fixture()
def lonely_wall(run_id: str, tmp_path: Any) -> Iterator[str]:
    """A wall whose hub does not exist and whose ClickHouse database is empty."""
    env = stack_env(f"{run_id}x", tmp_path)
    proc = Proc("lonely-wall", ["wall"], env, tmp_path)
    url = f"http://127.0.0.1:{env['GRIDWALL_WALL_PORT']}"
    try:
        proc.wait_http(f"{url}/wall")
        yield url
    finally:
        proc.stop()


def test_wall_renders_offline_and_says_disconnected_without_a_hub(page: Any,
                                                                    lonely_wall: str) -> None:
    page.goto(f"{lonely_wall}/wall")
    banner = page.locator("[data-testid=banner]")
    banner.wait_for(timeout=LIVE_TIMEOUT_MS)
    assert banner.get_attribute("data-level") == "disconnected"
    assert "连接中断" in banner.inner_text() or "正在连接" in banner.inner_text()
    assert wait_canvas_drawn(page) >= 8
    screenshot(page, "wall-disconnected")


def test_live_wall_map_and_freshness(page: Any, stack: Stack) -> None:
    page.goto(f"{stack.wall_url}/wall")
    page.locator("[data-testid=freshness][data-level=live]").wait_for(timeout=60_000)
    assert page.locator("[data-testid=banner]").count() == 0
    assert wait_canvas_drawn(page) >= 8
    box = page.locator("canvas").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tooltip = page.locator(".deck-tooltip", has_text="户数")
    tooltip.wait_for(timeout=LIVE_TIMEOUT_MS)
    assert "人口" in tooltip.inner_text()


def report_case(stack: Stack) -> str:
    """Post a new case report to the gateway; return its case id."""
    case_id = f"E2E-{uuid.uuid4().hex[:8]}"
    event = {"event_id": f"ev-{case_id}", "case_id": case_id, "action": "report",
             "ts": int(time.time() * 1000), "source": "resident_app",
             "category": "environment", "grid_id": street().grid_ids[5], "description": "e2e"}
    assert post(f"{stack.gateway_url}/v1/cases/events", stack.tokens["feed"], event) == 202
    return case_id


def test_an_event_posted_to_the_gateway_shows_on_the_wall(page: Any, stack: Stack) -> None:
    page.goto(f"{stack.wall_url}/wall")
    page.locator("[data-testid=freshness][data-level=live]").wait_for(timeout=60_000)
    case_id = report_case(stack)
    page.locator(f"[data-testid=feed-row][data-key='{case_id}']").wait_for(
        timeout=LIVE_TIMEOUT_MS)
    assert page.locator("[data-testid='kpi.reported'] .v").inner_text() != "0"


def test_an_officer_acks_an_alert_and_the_wall_shows_it_acknowledged(browser: Any,
                                                                      stack: Stack) -> None:
    sensor_id, sensor = sorted((k, p) for k, p in street().sensors.items()
                               if p.sensor_kind == "smoke")[0]
    reading = {"sensor_id": sensor_id, "kind": "smoke", "value": 9.5,
               "ts": int(time.time() * 1000), "grid_id": sensor.grid_id}
    assert post(f"{stack.gateway_url}/v1/sensors/readings", stack.tokens["feed"],
                {"readings": [reading]}) == 202
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    duty, wall = context.new_page(), context.new_page()
    try:
        wall.goto(f"{stack.wall_url}/wall")
        duty.goto(f"{stack.wall_url}/duty")
        duty.locator("input[type=password]").fill(stack.tokens["officer"])
        duty.get_by_role("button", name="登录").click()
        duty.locator("[data-testid=queue-table]").wait_for(timeout=LIVE_TIMEOUT_MS)
        case_box = duty.locator("input[placeholder='输入案件编号查看轨迹']")
        case_box.fill(report_case(stack))
        case_box.press("Enter")
        duty.locator("[data-testid=timeline] .gw-step.current").wait_for(
            timeout=LIVE_TIMEOUT_MS)
        duty.locator("input[placeholder='筛选']").fill(sensor_id)
        duty.locator("input[placeholder='筛选']").press("Enter")
        select = duty.locator("select").first
        deadline = time.monotonic() + LIVE_TIMEOUT_MS / 1000
        alert_id = ""
        while time.monotonic() < deadline and not alert_id:
            options = [o for o in select.locator("option").all_inner_texts() if sensor_id in o]
            alert_id = options[0].rsplit(" · ", 1)[-1] if options else ""
            duty.wait_for_timeout(300)
        assert alert_id, "the sensor alert never reached the duty queue"
        select.select_option(label=options[0])
        duty.locator("[data-testid=alert-detail]").wait_for(timeout=LIVE_TIMEOUT_MS)
        screenshot(duty, "duty")
        duty.get_by_role("button", name="确认", exact=True).click()
        result = duty.locator("[data-testid=action-result]")
        result.wait_for(timeout=LIVE_TIMEOUT_MS)
        assert result.get_attribute("data-ok") == "True", result.inner_text()
        wall.locator(f"[data-testid=ticker-row][data-alert='{alert_id}']"
                     f"[data-status=acknowledged]").wait_for(timeout=LIVE_TIMEOUT_MS)
        assert "值班员" in wall.locator(f"[data-testid=ticker-row][data-alert='{alert_id}']"
                                      ).inner_text()
        wait_canvas_drawn(wall)
        screenshot(wall, "wall")
        wall.set_viewport_size({"width": 3840, "height": 2160})
        wall.wait_for_timeout(3000)  # let the map re-frame for the wider screen
        screenshot(wall, "wall-4k")
        wall.set_viewport_size({"width": 1920, "height": 1080})
        wall.goto(f"{stack.wall_url}/wall?lang=en")
        wall.locator("[data-testid=ticker-row]").first.wait_for(timeout=LIVE_TIMEOUT_MS)
        wait_canvas_drawn(wall)
        screenshot(wall, "wall-en")
    finally:
        context.close()


def test_ops_console_shows_job_health_and_validates_a_change(page: Any, stack: Stack) -> None:
    page.goto(f"{stack.wall_url}/ops")
    page.locator("input[type=password]").fill(stack.tokens["ops"])
    page.get_by_role("button", name="登录").click()
    page.locator("[data-testid=workers]").wait_for(timeout=LIVE_TIMEOUT_MS)
    editor = page.locator("textarea")
    page.locator("select").first.select_option("sink")
    page.wait_for_timeout(500)
    editor.fill("batch_size: 0\nflush_interval_s: 0.5\n")
    page.get_by_role("button", name="校验并对比").click()
    result = page.locator("[data-testid=tune-result]")
    result.wait_for(timeout=LIVE_TIMEOUT_MS)
    assert "batch_size" in result.inner_text()
    editor.fill("batch_size: 2000\nflush_interval_s: 0.5\n")
    page.get_by_role("button", name="校验并对比").click()
    page.locator("[data-testid=diff]").wait_for(timeout=LIVE_TIMEOUT_MS)
    page.get_by_role("button", name="应用").click()
    page.locator("[data-testid=audit] td", has_text="sink").first.wait_for(
        timeout=LIVE_TIMEOUT_MS)
    assert "运维" in page.locator("[data-testid=audit]").inner_text()
    screenshot(page, "ops")


def test_the_banner_appears_when_the_hub_stops_and_goes_when_it_is_back(page: Any,
                                                                         stack: Stack) -> None:
    page.goto(f"{stack.wall_url}/wall")
    page.locator("[data-testid=freshness][data-level=live]").wait_for(timeout=60_000)
    stack.procs["hub"].stop()
    banner = page.locator("[data-testid=banner][data-level=disconnected]")
    banner.wait_for(timeout=LIVE_TIMEOUT_MS)
    screenshot(page, "wall-hub-stopped")
    stack.procs["hub"] = hub = Proc("hub-again", ["hub"], stack.env, stack.logs)
    hub.wait_http(f"http://127.0.0.1:{stack.settings.hub_port}/healthz")
    page.locator("[data-testid=freshness][data-level=live]").wait_for(timeout=60_000)
    assert page.locator("[data-testid=banner]").count() == 0
