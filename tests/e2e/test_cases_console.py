"""The case console in a real browser: the six-step loop run by named people in ``/cases``.

Real worker, gateway, hub and wall processes (real Kafka and ClickHouse), headless Debian
Chromium via Playwright. A resident reports through Open311 with a photo URL; the community
officer verifies in ``/cases``; the centre's duty officer dispatches to the unit the routing
proposes (preselected); that unit's handler first tries to close (refused, the rule shown),
then declines with a reason, which the dispatcher sees on the timeline; the dispatcher
reassigns, the other unit's handler accepts and handles with a photo; the centre's chief
closes; the resident evaluates. Every step is taken with that person's own token and shows
on the timeline with who and when. Waits poll the page; nothing asserts on durations.
Screenshots of the dispatcher's console at 1920×1080 (no card's content cut; the page may
scroll) and 3840×2160 (every card on screen, none cut) go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import yaml

from core.auth import ensure_dev_tokens
from core.settings import settings_from
from domain.organisation import ORGANISATION_FILE, Directory, load_directory
from domain.routing import FILE as ROUTING_FILE
from domain.routing import load_rules, propose
from tests.e2e.conftest import REPO, Proc, Stack, screenshot, stack_env
from tests.e2e.test_wall_screens import CARDS_JS, clipped_cards
from tests.unit.test_gateway_support import inside

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
WAIT_MS = 45_000
PHOTO = "https://img.example.org/kerb/report.jpg"
FIXED = "https://img.example.org/kerb/fixed.jpg"
RESIDENT = "R-e2e-resident"
DIRECTORY: Directory = load_directory(REPO / "config" / ORGANISATION_FILE)


def handler_of(unit: str) -> str:
    """The first unit handler of ``unit``."""
    return next(p.id for p in DIRECTORY.members(unit) if p.role == "unit_handler")


def people_tokens(grid: str, first: str, second: str) -> dict[str, str]:
    """person id -> token, for everybody who acts in the test."""
    people = [RESIDENT, f"C-{grid.split('-')[0]}", "CC-duty", handler_of(first),
              handler_of(second), "CC-chief"]
    return {p: f"e2e-{p}-{os.urandom(6).hex()}" for p in people}


@pytest.fixture(scope="module")
def cases_stack(run_id: str, infra: Any, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[tuple[Stack, dict[str, str]]]:
    """The stack with tokens that name the people of the loop."""
    from clickhouse_driver import Client

    from infra.migrate import migrate
    from infra.topics import ensure_stream_topics

    tmp = tmp_path_factory.mktemp("cases")
    env = stack_env(f"{run_id}c", tmp, GRIDWALL_KAFKA_BOOTSTRAP=infra.kafka_bootstrap,
                    GRIDWALL_CLICKHOUSE_PORT=str(infra.clickhouse_port))  # the session's
    settings = settings_from({k: v for k, v in env.items() if k.startswith("GRIDWALL_")})
    client = Client(settings.clickhouse_host, port=settings.clickhouse_port)
    list(migrate(client, settings.clickhouse_database))
    ensure_stream_topics(settings)
    tokens = ensure_dev_tokens(settings.resolved_tokens_file)
    lon, lat, grid = inside(11)
    first, second = proposed(grid), "DD-water"
    people = people_tokens(grid, first, second)
    book = yaml.safe_load(settings.resolved_tokens_file.read_text())
    book.update({token: {"name": person, "role": "feed", "sources": ["*"], "person": person}
                 for person, token in people.items()})
    settings.resolved_tokens_file.write_text(yaml.safe_dump(book, allow_unicode=True))
    procs: dict[str, Proc] = {}
    try:
        for name, argv in (("worker", ["worker", "--worker-id", "e2e-cases", "--loglevel",
                                       "info"]),
                           ("gateway", ["gateway"]), ("hub", ["hub"]), ("wall", ["wall"])):
            procs[name] = Proc(name, argv, env, tmp)
        procs["worker"].wait_log("Worker]: Ready")
        procs["gateway"].wait_http(f"http://127.0.0.1:{settings.gateway_port}/healthz")
        procs["wall"].wait_http(f"http://127.0.0.1:{settings.wall_port}/wall")
        yield Stack(settings, env, tokens, procs, tmp), people
    finally:
        for proc in reversed(list(procs.values())):
            proc.stop()
        client.execute(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
        client.disconnect()


def proposed(grid: str) -> str:
    """The unit the routing proposes first for a road-facility case of ``grid``."""
    class Case:
        category, grid_id, tier = "road_facility", grid, 1

    rules = load_rules(REPO / "config" / ROUTING_FILE)
    return propose(Case(), rules, {}, {})[0].unit


def report(stack: Stack, token: str) -> str:
    """The resident's Open311 report with a photo; its case id."""
    lon, lat, _ = inside(11)
    form = {"service_code": "road_facility", "lat": str(lat), "long": str(lon),
            "description": "broken kerb", "media_url": PHOTO, "account_id": RESIDENT,
            "api_key": token}
    answer = httpx.post(f"{stack.gateway_url}/open311/v2/requests.json",
                        content=urlencode(form).encode(), timeout=30,
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()[0]["service_request_id"])


class Console:
    """One person's ``/cases`` in its own browser context."""

    def __init__(self, browser: Any, stack: Stack, token: str) -> None:
        self.context = browser.new_context(viewport={"width": 1920, "height": 1080})
        self.page = self.context.new_page()
        self.presses = 0
        self.page.goto(f"{stack.wall_url}/cases?lang=en")
        self.page.locator("input[type=password]").fill(token)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.locator("[data-testid=cases-whoami]").wait_for(timeout=WAIT_MS)

    def open(self, case_id: str) -> None:
        """Select ``case_id`` once it is in the queue."""
        select = self.page.locator("select").first
        deadline = time.monotonic() + WAIT_MS / 1000
        while time.monotonic() < deadline:
            labels = [t for t in select.locator("option").all_text_contents() if case_id in t]
            if labels:
                select.select_option(label=labels[0])
                return
            self.page.wait_for_timeout(500)
        raise AssertionError(f"{case_id} never reached the queue")

    def press(self, action: str, ok: bool = True, **fields: str) -> str:
        """Fill the fields (placeholder -> text), press ``action``; the outcome's text."""
        for placeholder, value in fields.items():
            self.page.get_by_placeholder(placeholder).fill(value)
        self.presses += 1
        self.page.get_by_role("button", name=action, exact=True).click()
        result = self.page.locator(f"[data-testid=case-result][data-seq='{self.presses}']")
        result.wait_for(timeout=WAIT_MS)
        assert result.get_attribute("data-ok") == str(ok), result.inner_text()
        return str(result.inner_text())

    def timeline_has(self, *texts: str) -> str:
        """Wait until the timeline shows every text; the timeline's text."""
        table = self.page.locator("[data-testid=case-timeline]")
        deadline = time.monotonic() + WAIT_MS / 1000
        text = ""
        while time.monotonic() < deadline:
            text = table.inner_text() if table.count() else ""
            if all(t in text for t in texts):
                return text
            self.page.wait_for_timeout(500)
        raise AssertionError(f"timeline lacks {texts}:\n{text}")

    def chosen_unit(self, wanted: str) -> str:
        """The unit list's value once it is ``wanted`` (else its last value)."""
        units = self.page.locator("select").nth(1)
        deadline = time.monotonic() + WAIT_MS / 1000
        value = ""
        while time.monotonic() < deadline:
            value = str(units.input_value())
            if value == wanted:
                break
            self.page.wait_for_timeout(300)
        return value

    def close(self) -> None:
        """Close the browser context."""
        self.context.close()


def test_six_steps_by_six_people_in_the_case_console(
        browser: Any, cases_stack: tuple[Stack, dict[str, str]]) -> None:
    stack, tokens = cases_stack
    _, _, grid = inside(11)
    first, second = proposed(grid), "DD-water"
    officer, first_handler = f"C-{grid.split('-')[0]}", handler_of(first)
    second_handler = handler_of(second)
    case_id = report(stack, tokens[RESIDENT])

    wall = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
    wall.goto(f"{stack.wall_url}/wall")
    grid_tier_open = "[data-testid=tier-bars] [data-tier-key='tier.1'] > div"
    wall_shows(wall, grid_tier_open, "1")  # the report: one open case at the grid tier
    step(browser, stack, tokens[officer], case_id, "Verify", RESIDENT)
    dispatcher = Console(browser, stack, tokens["CC-duty"])
    dispatcher.open(case_id)
    unit_name = DIRECTORY.units[first].name_en
    assert dispatcher.chosen_unit(unit_name) == unit_name  # the routing's proposal preselected
    dispatcher.press("Dispatch")
    dispatcher.timeline_has(officer, "CC-duty", unit_name)

    handler = Console(browser, stack, tokens[first_handler])
    handler.open(case_id)
    refused = handler.press("Close", ok=False)
    assert "403" in refused and "unit_handler.may-not-close" in refused, refused
    handler.press("Decline", Reason="a water main, not a kerb")
    handler.close()
    dispatcher.timeline_has(first_handler, "a water main, not a kerb")
    dispatcher.page.evaluate("window.scrollTo(0, 0)")
    screenshot(dispatcher.page, "cases-1920x1080")  # the decline's reason, to the dispatcher
    assert cut_cards(dispatcher.page) == []  # the page may scroll at this size, not cut
    dispatcher.page.set_viewport_size({"width": 3840, "height": 2160})
    dispatcher.timeline_has(first_handler, "a water main, not a kerb")
    dispatcher.page.wait_for_timeout(1500)  # the layout settles at the new size
    screenshot(dispatcher.page, "cases-3840x2160")
    assert clipped_cards(dispatcher.page) == []  # every card inside the screen, none cut
    dispatcher.page.set_viewport_size({"width": 1920, "height": 1080})
    dispatcher.page.locator("select").nth(1).select_option(
        label=DIRECTORY.units[second].name_en)
    dispatcher.press("Reassign")
    dispatcher.close()

    taker = Console(browser, stack, tokens[second_handler])
    taker.open(case_id)
    taker.press("Accept")
    taker.press("Handle", Note="kerb reset", **{"Photo URL": FIXED})
    taker.close()
    step(browser, stack, tokens["CC-chief"], case_id, "Close", second_handler)

    resident = Console(browser, stack, tokens[RESIDENT])
    resident.open(case_id)
    resident.press("Evaluate")
    text = resident.timeline_has(RESIDENT, officer, "CC-duty", first_handler,
                                 second_handler, "CC-chief", "Evaluate")
    for action in ("Verify", "Dispatch", "Decline", "Reassign", "Accept", "Handle", "Close",
                   "Evaluate"):
        assert action in text, (action, text)
    community = grid.split("-")[0]
    wall_shows(wall, f"[data-testid=resolution-row][data-community='{community}']"
                     "[data-today='1']")  # closed, and counted in the resolution figures
    wall_shows(wall, grid_tier_open, "0")
    wall.context.close()
    photos = resident.page.locator("[data-testid=case-photo]")
    assert sorted(p.get_attribute("src") for p in photos.all()) == sorted([PHOTO, FIXED])
    resident.page.evaluate("window.scrollTo(0, 0)")
    screenshot(resident.page, "cases-evaluated-1920x1080")
    resident.close()


def cut_cards(page: Any) -> list[str]:
    """Cards wider than the viewport or whose content does not fit their box (a page that
    scrolls vertically is fine; :func:`clipped_cards` also wants every card on screen)."""
    width = page.viewport_size["width"]
    return [f"{c['name']}: box {c['x']},{c['y']} {c['width']}x{c['height']}, content "
            f"{c['wide']}x{c['tall']} in {c['broad']}x{c['high']}"
            for c in page.evaluate(CARDS_JS)
            if not c["drawn"] or c["x"] < 0 or c["x"] + c["width"] > width + 1
            or c["tall"] > c["high"] + 1 or c["wide"] > c["broad"] + 1]


def wall_shows(page: Any, selector: str, text: str | None = None) -> None:
    """Wait until the wall has an element matching ``selector`` (whose text is ``text``)."""
    found = page.locator(selector)
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        if found.count() and (text is None or found.first.inner_text().strip() == text):
            return
        page.wait_for_timeout(500)
    raise AssertionError(f"the wall never showed {selector} {text or ''}")


def step(browser: Any, stack: Stack, token: str, case_id: str, action: str,
         earlier: str) -> None:
    """One person opens the case (whose timeline shows ``earlier``) and presses ``action``."""
    console = Console(browser, stack, token)
    try:
        console.open(case_id)
        console.timeline_has(earlier)
        console.press(action)
    finally:
        console.close()

