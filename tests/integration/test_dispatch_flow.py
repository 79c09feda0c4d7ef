"""Dispatch and routing end to end: real ``gridwall worker`` and ``gateway`` processes (with
the hub, :func:`live_stack`), real Kafka and ClickHouse.

A resident reports through Open311 with a photo URL; the centre verifies, dispatches to a
unit with a person, the unit declines with a reason, the dispatcher reassigns to another
unit, whose handler accepts; then Open311 names that unit as agency responsible, the SLA
deadline of the step (started by the reassign) as expected datetime and the photo as media
URL; the case is handled and closed. The ClickHouse case row holds the holding unit,
assignee, dispatched unit and attachment; the transitions (the timeline) hold every holder
before and after, the assignee and the decline's reason.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from domain.routing import OnTime
from domain.sla import load_policy
from ingest.gateway.open311.format import w3c
from readside.units import unit_loads, unit_records
from tests.integration.helpers_live import LiveStack, clickhouse, live_stack
from tests.integration.test_streams_support import wait_for
from tests.unit.test_gateway_support import inside

pytestmark = pytest.mark.integration
PHOTO = "https://img.example.org/kerb/123.jpg"
SLA = load_policy(Path(__file__).resolve().parents[2] / "config" / "sla.yaml")


@pytest.fixture(scope="module")
def stack(run_id: str, tmp_path_factory: pytest.TempPathFactory, infra: Any
          ) -> Iterator[LiveStack]:
    servers = {"GRIDWALL_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
               "GRIDWALL_CLICKHOUSE_PORT": str(infra.clickhouse_port)}  # the session's
    with live_stack(run_id, tmp_path_factory.mktemp("dispatch"), "disp", **servers) as live:
        yield live


def case_row(stack: LiveStack, case_id: str) -> dict[str, Any] | None:
    """The case's ClickHouse row (FINAL), or None."""
    ch, db = clickhouse(stack.settings), stack.settings.clickhouse_database
    try:
        names = ("step", "unit", "assignee", "dispatched_unit", "attachments", "deadline_ms",
                 "version")
        rows = ch.execute(f"SELECT {', '.join(names)} FROM {db}.cases FINAL "
                          "WHERE case_id = %(id)s", {"id": case_id})
        return dict(zip(names, rows[0], strict=True)) if rows else None
    finally:
        ch.disconnect()


def timeline(stack: LiveStack, case_id: str) -> list[tuple[Any, ...]]:
    """(action, from_step, to_step, from_unit, to_unit, assignee, reason) in event time."""
    ch, db = clickhouse(stack.settings), stack.settings.clickhouse_database
    try:
        return [tuple(r) for r in ch.execute(
            f"SELECT action, from_step, to_step, from_unit, to_unit, assignee, reason "
            f"FROM {db}.case_transitions FINAL WHERE case_id = %(id)s ORDER BY ts_ms, version",
            {"id": case_id})]
    finally:
        ch.disconnect()


def routing_inputs(stack: LiveStack) -> tuple[dict[str, int], dict[str, OnTime]]:
    """The units' open loads and on-time records from ClickHouse."""
    ch, db = clickhouse(stack.settings), stack.settings.clickhouse_database
    try:
        return unit_loads(ch, db), unit_records(ch, db)
    finally:
        ch.disconnect()


def open311_report(client: httpx.Client, stack: LiveStack, lon: float, lat: float) -> str:
    form = {"service_code": "road_facility", "lat": str(lat), "long": str(lon),
            "description": "broken kerb", "media_url": PHOTO, "api_key": stack.tokens["feed"]}
    answer = client.post("/open311/v2/requests.json", content=urlencode(form).encode(),
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()[0]["service_request_id"])


def step(client: httpx.Client, stack: LiveStack, case_id: str, grid: str, n: int,
         action: str, ts: int, **fields: Any) -> None:
    """Post one workflow event of ``case_id`` with the feed token; 202 expected."""
    body = {"event_id": f"{case_id}-{n}", "case_id": case_id, "action": action, "ts": ts,
            "source": "command_centre", "grid_id": grid, **fields}
    answer = client.post("/v1/cases/events", json=body,
                         headers={"Authorization": f"Bearer {stack.tokens['feed']}"})
    assert answer.status_code == 202, (action, answer.status_code, answer.text)


def test_decline_reassign_accept_hold_the_case_and_open311_names_the_unit(
        stack: LiveStack) -> None:
    lon, lat, grid = inside(11)
    viewer = {"Authorization": f"Bearer {stack.tokens['viewer']}"}
    with httpx.Client(base_url=stack.gateway, timeout=30) as client:
        case_id = open311_report(client, stack, lon, lat)
        wait_for("the report in ClickHouse", lambda: case_row(stack, case_id), 90)
        t0 = int(time.time() * 1000)
        flow: list[tuple[str, dict[str, Any]]] = [
            ("verify", {"actor": "CC-duty"}),
            ("dispatch", {"actor": "CC-duty", "target_unit": "SO-urban",
                          "target_person": "H-SO-urban-2"}),
            ("decline", {"actor": "H-SO-urban-2", "reason": "a water main, not a kerb"}),
            ("reassign", {"actor": "CC-duty", "target_unit": "DD-water"}),
            ("accept", {"actor": "H-DD-water-1"}),
        ]
        for n, (action, fields) in enumerate(flow, 1):
            step(client, stack, case_id, grid, n, action, t0 + n * 1000, **fields)
        accepted = wait_for("the accept in ClickHouse", lambda: (
            row if (row := case_row(stack, case_id)) and row["assignee"] == "H-DD-water-1"
            else None), 90)
        reassigned_ms = t0 + 4 * 1000
        deadline = SLA.deadline_ms("road_facility", "normal", "dispatched", reassigned_ms)
        assert accepted == {"step": "dispatched", "unit": "DD-water",
                            "assignee": "H-DD-water-1", "dispatched_unit": "DD-water",
                            "attachments": [PHOTO], "deadline_ms": deadline,
                            "version": 6}
        assert routing_inputs(stack) == ({"DD-water": 1}, {})
        again = client.post("/v1/cases/events", json={
            "event_id": f"{case_id}-again", "case_id": case_id, "action": "accept",
            "ts": t0 + 5_500, "source": "command_centre", "grid_id": grid,
            "actor": "H-DD-water-2"}, headers={"Authorization": f"Bearer {stack.tokens['feed']}"})
        assert again.status_code == 409 and "already accepted" in again.text, again.text
        [shown] = client.get(f"/open311/v2/requests/{case_id}.json", headers=viewer).json()
        assert shown["agency_responsible"] == "区水务局 District water authority"
        assert shown["expected_datetime"] == w3c(deadline)  # type: ignore[arg-type]
        assert shown["media_url"] == PHOTO
        [public] = client.get(f"/open311/v2/requests/{case_id}.json").json()
        assert public["media_url"] == PHOTO and public["agency_responsible"] == \
            shown["agency_responsible"]
        step(client, stack, case_id, grid, 6, "handle", t0 + 6_000, actor="H-DD-water-1")
        step(client, stack, case_id, grid, 7, "close", t0 + 7_000, actor="CC-chief")
        wait_for("the close in ClickHouse", lambda: (
            (case_row(stack, case_id) or {}).get("step") == "closed"), 90)
    queue = f"grid.{grid}"
    assert timeline(stack, case_id) == [
        ("report", "", "reported", "", queue, "", ""),
        ("verify", "reported", "verified", queue, queue, "", ""),
        ("dispatch", "verified", "dispatched", queue, "SO-urban", "H-SO-urban-2", ""),
        ("decline", "dispatched", "verified", "SO-urban", queue, "",
         "a water main, not a kerb"),
        ("reassign", "verified", "dispatched", queue, "DD-water", "", ""),
        ("accept", "dispatched", "dispatched", "DD-water", "DD-water", "H-DD-water-1", ""),
        ("handle", "dispatched", "handled", "DD-water", queue, "", ""),
        ("close", "handled", "closed", queue, queue, "", ""),
    ]
    assert routing_inputs(stack) == ({}, {"DD-water": OnTime(1, 1)})
    closed = case_row(stack, case_id)
    assert closed is not None and (closed["unit"], closed["dispatched_unit"]) == (
        queue, "DD-water")
    [final] = httpx.get(f"{stack.gateway}/open311/v2/requests/{case_id}.json",
                        timeout=30).json()
    assert final["status"] == "closed" and final["expected_datetime"] is None
    assert final["agency_responsible"] == "区水务局 District water authority"
