"""The hardening issue's hand-made corpus against the real processes: refused with a reason,
nothing dies, nothing stalls the sink.

``gridwall worker``, ``gateway`` and ``hub`` run as child processes (:func:`live_stack`).
Every input the issue found (1e18 households, 1970 and future times, -1.7e308, negative
counts, 100 KB values, 1,000-level nesting, unknown attribute names, an id reused with
another payload, bodies over the limit, wrong content types, broken JSON...) goes to every
POST endpoint of the gateway, and its hub counterparts (deep, huge, mistyped, out of range)
to every command kind and ``tune`` of the hub:

* every gateway input is answered 4xx with a non-empty ``reason`` (Open311: ``description``),
  and the status and field named are the expected ones where the corpus says which;
* every hub input is answered with an ``error`` frame whose ``reason`` is non-empty (and
  the connection stays), a deep first frame closes 4001 naming why, a frame over the
  message limit closes 1009 and a new connection works;
* plausible inputs at the edges (the largest counts, a two-day-old report, the longest
  texts) are accepted, so the worker and its sink get real work from the corpus too;
* afterwards all three processes are alive with ``/healthz`` 200, no traceback is in any
  of their logs, a new report lands in ClickHouse's ``cases``, a ``tune`` is
  acknowledged, and the worker's sink lag is zero.

The schemathesis run on the OpenAPI document (with and without a token) is
``test_gateway_fuzz.py``.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import yaml
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from domain.contracts.commands import COMMAND_KINDS, COMMANDS
from domain.wire import MAX_DEPTH
from tests.integration.helpers_live import (
    LiveStack,
    clickhouse,
    live_stack,
    worker_sink_lag,
)
from tests.integration.test_streams_support import REPO, wait_for
from tests.unit.test_gateway_support import department_record, inside, reading, report
from wall.hub.protocol import ErrorMsg

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
CASES, SENSORS, OPEN311 = "/v1/cases/events", "/v1/sensors/readings", "/open311/v2/requests.json"
DEPARTMENTS = "/v1/departments/fire/records"
JSON, FORM = "application/json", "application/x-www-form-urlencoded"
BIG = "x" * 100_000  # a 100 KB value
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Input:
    """One corpus entry: what it is, where it goes, the raw body and what must come back."""

    name: str
    path: str
    body: bytes
    status: int | None = None  # None: any 4xx
    field: str | None = None  # the field the refusal must name, when the corpus knows it
    content_type: str = JSON


def deep_json(levels: int = 1000) -> bytes:
    """~1,000 levels of nesting in a few KB (the issue's RecursionError input)."""
    return b'{"a":' * levels + b"1" + b"}" * levels


def now_ms() -> int:
    """Wall clock in epoch ms."""
    return int(time.time() * 1000)


def js(value: Any) -> bytes:
    """JSON bytes."""
    return json.dumps(value).encode()


def open311_form(marker: str, **overrides: str) -> dict[str, str]:
    """A valid Open311 post (without its api_key) at the first grid's centroid."""
    lon, lat, _ = inside(0)
    form = {"service_code": "environment", "lat": str(lat), "long": str(lon),
            "description": f"{marker} overflowing bins", "event_id": f"{marker}-o311"}
    form.update(overrides)
    return form


def any_endpoint(run: str, feed_token: str) -> list[Input]:
    """Raw-body abuse sent to each of the four POST endpoints."""
    out: list[Input] = []
    form = urlencode({**open311_form(run), "api_key": feed_token}).encode()
    valid = {CASES: js(report(f"{run}-m")),
             SENSORS: js({"request_id": f"{run}-m", "readings": [reading(0)]}),
             DEPARTMENTS: js(department_record(f"{run}-m"))}
    for path in (CASES, SENSORS, DEPARTMENTS, OPEN311):
        out += [
            Input("body over the limit (2 MiB)", path, b"{" + b" " * 2_097_152 + b"}",
                  status=413),
            Input("1,000-level nested JSON", path, deep_json()),
            Input("not JSON", path, b"{'event_id': oops"),
            Input("not UTF-8", path, b'{"event_id": "\xff\xfe"}'),
            Input("empty body", path, b""),
            Input("JSON null", path, b"null"),
            Input("a bare number", path, b"1e999"),
            Input("XML", path, b"<report><ts>1000</ts></report>", content_type="application/xml"),
        ]
        if path == OPEN311:
            out.append(Input("multipart instead of a form", path,
                             b"--b\r\nContent-Disposition: form-data; name=lat\r\n\r\n1\r\n--b--",
                             content_type="multipart/form-data; boundary=b", status=415,
                             field="content-type"))
        else:
            out.append(Input("a form sent to a JSON feed", path, form, status=415,
                             field="content-type", content_type=FORM))
            out += [Input(f"valid JSON labelled {media}", path, valid[path], status=415,
                          field="content-type", content_type=media)
                    for media in ("text/plain", "application/xml",
                                  "multipart/form-data; boundary=b")]
    return out


def case_inputs(run: str) -> list[Input]:
    """Case events: times, coordinates, vocabulary, sizes, a storm in one request."""
    r = f"{run}-c"
    return [
        Input("ts 1000 (1970)", CASES, js(report(f"{r}1", ts=1000)), 422, "ts"),
        Input("ts an hour ahead", CASES, js(report(f"{r}2", ts=now_ms() + 3_600_000)),
              422, "ts"),
        Input("ts -1.7e308", CASES, js(report(f"{r}3", ts=-1.7e308)), 422, "ts"),
        Input("25 reports dated 1970 in one request", CASES,
              js([report(f"{r}s{i}", ts=1000) for i in range(25)]), 422),
        Input("longitude 1e308", CASES, js(report(f"{r}4", lon=1e308)), 422, "lon"),
        Input("outside the street", CASES, js(report(f"{r}5", lon=0.0, lat=0.0)), 422),
        Input("unknown category", CASES, js(report(f"{r}6", category="aliens")), 422,
              "category"),
        Input("unknown action", CASES, js(report(f"{r}7", action="explode")), 422, "action"),
        Input("unknown field", CASES, js(report(f"{r}8", mood="angry")), 422, "mood"),
        Input("100 KB description", CASES, js(report(f"{r}9", description=BIG)), 422,
              "description"),
        Input("100 KB event id", CASES, js(report(BIG)), 422, "event_id"),
        Input("a back-dated verify an hour before the window", CASES,
              js(report(f"{r}10", action="verify", ts=now_ms() - 8 * DAY_MS)), 422, "ts"),
    ]


def sensor_inputs(run: str) -> list[Input]:
    """Sensor readings: implausible values, times, unknown sensors, batch size."""
    def batch(n: str, *readings: dict[str, Any]) -> bytes:
        return js({"request_id": f"{run}-q{n}", "readings": list(readings)})

    return [
        Input("value -1.7e308", SENSORS, batch("1", reading(0, value=-1.7e308)), 422,
              "readings[0].value"),
        Input("value 1.7e308", SENSORS, batch("2", reading(0), reading(1, value=1.7e308)), 422,
              "readings[1].value"),
        Input("negative count", SENSORS, batch("3", reading(0, value=-5)), 422,
              "readings[0].value"),
        Input("ts 1000 (1970)", SENSORS, batch("4", reading(0, ts=1000)), 422,
              "readings[0].ts"),
        Input("unknown sensor", SENSORS, batch("5", reading(0, sensor_id=f"{run}-nope")), 422),
        Input("wrong kind for the sensor", SENSORS, batch("6", reading(0, kind="aliens")),
              422),
        Input("100 KB sensor id", SENSORS, batch("7", reading(0, sensor_id=BIG)), 422),
        Input("unknown field", SENSORS, batch("8", reading(0, colour="red")), 422),
        Input("no readings", SENSORS, batch("9"), 422),
    ]


def department_inputs(run: str) -> list[Input]:
    """Department records: the households overflow, negative counts, open attribute names."""
    def rec(n: str, **overrides: Any) -> bytes:
        return js(department_record(f"{run}-d{n}", **overrides))

    def building(n: str, **attributes: Any) -> bytes:
        return rec(n, record_type="building", attributes=attributes)

    return [
        Input("households 1e18", DEPARTMENTS, building("1", households=1e18), 422,
              "attributes.households"),
        Input("households 10**18", DEPARTMENTS, building("2", households=10**18), 422,
              "attributes.households"),
        Input("households 2**64", DEPARTMENTS, building("3", households=2**64), 422),
        Input("negative households", DEPARTMENTS, building("4", households=-5), 422,
              "attributes.households"),
        Input("unknown attribute name", DEPARTMENTS, building("5", favourite_colour="red"),
              422, "attributes.favourite_colour"),
        Input("100 KB attribute value", DEPARTMENTS, building("6", structure=BIG), 422),
        Input("100 KB attribute name", DEPARTMENTS, building("7", **{BIG: 1}), 422),
        Input("attributes nested", DEPARTMENTS, building("8", households={"a": {"b": 1}}), 422,
              "attributes[...]"),
        Input("ts an hour ahead (a version shadowing later ones)", DEPARTMENTS,
              rec("9", ts=now_ms() + 3_600_000), 422, "ts"),
        Input("unknown record type", DEPARTMENTS, rec("10", record_type="spaceship"), 422,
              "record_type"),
        Input("unknown department", "/v1/departments/aliens/records", rec("11"), 422),
    ]


def open311_inputs(run: str, feed_token: str) -> list[Input]:
    """Open311 posts: coordinates, codes, sizes, field counts."""
    def post(n: str, **overrides: str) -> bytes:
        form = open311_form(f"{run}-o{n}", **overrides)
        return urlencode({**form, "api_key": feed_token}).encode()

    fields = {f"f{i}": "1" for i in range(100)}
    return [
        Input("lat 1e308", OPEN311, post("1", lat="1e308"), 422, "lat"),
        Input("long -1.7e308", OPEN311, post("2", long="-1.7e308"), 422, "long"),
        Input("lat NaN", OPEN311, post("3", lat="nan"), 422, "lat"),
        Input("unknown service code", OPEN311, post("4", service_code="aliens"), 422,
              "service_code"),
        Input("100 KB description", OPEN311, post("5", description=BIG), 422),
        Input("100 KB address_string", OPEN311, post("6", address_string=BIG), 422),
        Input("100 form fields", OPEN311, post("7", **fields), 422),
        Input("missing lat", OPEN311, urlencode({
            k: v for k, v in open311_form(f"{run}-o8").items() if k != "lat"}
            | {"api_key": feed_token}).encode(), 422, "lat"),
    ]


def send(stack: LiveStack, item: Input) -> httpx.Response:
    """POST the input's raw body with the feed token."""
    headers = {"Authorization": f"Bearer {stack.tokens['feed']}",
               "Content-Type": item.content_type}
    return httpx.post(f"{stack.gateway}{item.path}", content=item.body, headers=headers,
                      timeout=60)


def refusal_of(response: httpx.Response) -> tuple[str | None, str]:
    """(field, reason) of a refusal in the feeds' or Open311's error form."""
    body = response.json()
    if isinstance(body, list):  # Open311: [{code, description, error, field}]
        return body[0].get("field"), str(body[0].get("description") or "")
    return body.get("field"), str(body.get("reason") or "")


def check_refused(stack: LiveStack, item: Input) -> str | None:
    """None if the input is answered 4xx, with the expected status and field, naming a
    reason; else what was wrong."""
    response = send(stack, item)
    label = f"{item.path} {item.name}: {response.status_code} {response.text[:300]}"
    if not 400 <= response.status_code < 500 or (
            item.status is not None and response.status_code != item.status):
        return label
    field, reason = refusal_of(response)
    if not reason or (item.field is not None and field != item.field):
        return label
    return None


def accepted_edges(run: str) -> list[Input]:
    """Plausible inputs at the bounds: accepted, so the worker and the sink do real work."""
    def building(n: int) -> dict[str, Any]:
        return department_record(f"{run}-e{n}", record_type="building",
                                 attributes={"households": 100_000, "floors": 300,
                                             "structure": "y" * 32})

    return [
        Input("the largest households, 20 times", DEPARTMENTS,
              js([building(n) for n in range(20)]), 202),
        Input("a report two days old", CASES, js(report(f"{run}-old",
                                                        ts=now_ms() - 2 * DAY_MS)), 202),
        Input("a report four minutes ahead", CASES, js(report(f"{run}-ahead",
                                                              ts=now_ms() + 240_000)), 202),
        Input("a department record dated 1970 (its ts is a version, may be old)",
              DEPARTMENTS, js(department_record(f"{run}-e1970", ts=1000)), 202),
        Input("the longest description", CASES, js(report(f"{run}-long",
                                                          description="z" * 2000)), 202),
    ]


@pytest.fixture(scope="module")
def stack(run_id: str, tmp_path_factory: pytest.TempPathFactory, infra: Any
          ) -> Iterator[LiveStack]:
    """The three processes, with refusal and command limits out of the corpus's way."""
    tmp: Path = tmp_path_factory.mktemp("fuzz-corpus")
    with live_stack(run_id, tmp, "fz", GRIDWALL_GATEWAY_REFUSAL_BURST="1000000",
                    GRIDWALL_HUB_COMMAND_BURST="1000000",
                    GRIDWALL_HUB_SUBSCRIBE_BURST="1000000") as live:
        yield live


def test_every_gateway_input_is_refused_naming_why_and_the_edges_are_accepted(
        stack: LiveStack) -> None:
    run, feed = f"fz{uuid.uuid4().hex[:6]}", stack.tokens["feed"]
    corpus = [*any_endpoint(run, feed), *case_inputs(run), *sensor_inputs(run),
              *department_inputs(run), *open311_inputs(run, feed)]
    wrong: list[str | None] = [check_refused(stack, item) for item in corpus]
    first = report(f"{run}-dup")
    assert send(stack, Input("first", CASES, js(first))).status_code == 202
    assert send(stack, Input("again", CASES, js(first))).status_code == 200
    wrong.append(check_refused(stack, Input("same id, different payload", CASES, js(
        dict(first, description=f"{run} other")), 409, "event_id")))
    problems = [w for w in wrong if w is not None]
    assert not problems, "\n".join(problems)
    edges = accepted_edges(run)
    for item in edges:
        response = send(stack, item)
        assert response.status_code == item.status, f"{item.name}: {response.text[:300]}"
    print(f"gateway corpus: {len(corpus) + 1} refused inputs, {len(edges)} edge inputs "
          "accepted")
    assert stack.unhealthy() == []


# -- the hub -----------------------------------------------------------------------------


def command_frames(kind: str) -> list[tuple[str, bytes]]:
    """Bad frames of one command kind: (what, raw frame)."""
    target = "case_id" if COMMANDS[kind].targets == ("case_id",) else "alert_id"
    base = {"type": "command", "kind": kind, "ref": f"{kind}-x", target: "G01.fz.1"}

    def frame(**changes: Any) -> bytes:
        return js({**base, **changes})

    return [
        ("no target", js({k: v for k, v in base.items() if k != target})),
        ("args 1,000 levels deep", frame()[:-1] + b',"args":' + deep_json() + b"}"),
        ("unknown arg", frame(args={"favourite_colour": "red"})),
        ("args a list", frame(args=[1, 2])),
        ("a 40 KB comment (over the frame limit)", frame(args={"comment": "c" * 40_000})),
        ("a 10 KB target id", frame(**{target: "i" * 10_000})),
        ("silence for -1 s", frame(args={"duration_s": -1, "comment": "x"})),
        ("silence for 1e18 s", frame(args={"duration_s": 10**18, "comment": "x"})),
        ("silence for -1.7e308 s", frame(args={"duration_s": -1.7e308, "comment": "x"})),
        ("unknown field", frame(mood="angry")),
    ] + ([] if "case_id" in COMMANDS[kind].targets else [
        ("a case id for an alert-only kind", frame(case_id="c1"))])


SLA: dict[str, Any] = yaml.safe_load((REPO / "config" / "sla.yaml").read_text())
THRESHOLDS: dict[str, Any] = yaml.safe_load((REPO / "config" / "thresholds.yaml").read_text())


def sla_with(**changes: Any) -> dict[str, Any]:
    """The shipped SLA policy with ``changes``: every other part of it valid."""
    return {**SLA, **changes}


def hub_frames() -> list[tuple[str, bytes]]:
    """Every bad frame: per command kind, per tune, and of no kind at all."""
    frames = [(f"{kind}: {what}", raw) for kind in COMMAND_KINDS
              for what, raw in command_frames(kind)]
    tune = {"type": "tune", "ref": "tune-x", "key": "alerts"}
    frames += [
        ("tune: value 1,000 levels deep", js(tune)[:-1] + b',"value":' + deep_json() + b"}"),
        ("tune: value a number", js({**tune, "value": -1.7e308})),
        ("tune: key not a key", js({**tune, "key": "Bad Key!", "value": {}})),
        ("tune: 20 KB key", js({**tune, "key": "k" * 20_000, "value": {}})),
        ("tune: 40 KB value", js({**tune, "value": {"pad": "p" * 40_000}})),
        ("tune: unknown key", js({**tune, "key": "aliens", "value": {"x": 1}})),
        ("tune: negative timeout", js({**tune, "value": {"ack_timeout_s": -5}})),
        ("tune: timeout 1e30", js({**tune, "value": {"ack_timeout_s": 10**30}})),
        ("tune: negative batch size", js({**tune, "key": "sink",
                                          "value": {"batch_size": -1}})),
        ("tune: unknown setting", js({**tune, "value": {"favourite_colour": "red"}})),
        ("tune: an SLA of 10**30 s", js({**tune, "key": "sla", "value": sla_with(
            defaults={**SLA["defaults"], "reported": 10**30})})),
        ("tune: a priority factor of 1e308", js({**tune, "key": "sla", "value": sla_with(
            priority_factor={"high": 1e308})})),
        ("tune: a heartbeat of 10**30 s", js({**tune, "key": "thresholds", "value": {
            **THRESHOLDS, "kinds": {**THRESHOLDS["kinds"], "smoke": {
                **THRESHOLDS["kinds"]["smoke"], "heartbeat_s": 10**30}}}})),
        ("tune: an anomaly window of 10**30 readings", js({**tune, "key": "thresholds",
                                                         "value": {**THRESHOLDS, "anomaly": {
                                                             "window": 10**30}}})),
        ("unknown type", js({"type": "explode", "ref": "u"})),
        ("not JSON", b"{'type': oops"),
        ("a JSON list", b"[1, 2, 3]"),
        ("empty frame", b""),
        ("subscribe to an unknown channel", js({"type": "subscribe", "channels": ["aliens"]})),
        ("subscribe 1,000 levels deep", b'{"type":"subscribe","channels":' + deep_json()
         + b"}"),
    ]
    return frames


async def refused_frames(stack: LiveStack, role: str, frames: list[tuple[str, bytes]]
                         ) -> int:
    """Send each frame on one connection; each must get an error naming a reason."""
    async with stack.hub_client(role) as client:
        for what, raw in frames:
            await client.ws.send(raw.decode("utf-8", "replace"), text=True)
            async with asyncio.timeout(20):
                while not isinstance(reply := await client.recv(20), ErrorMsg):
                    pass  # deltas of channels this client did not ask for never come
            assert reply.reason, f"{what}: {reply}"
    return len(frames)


async def closes(stack: LiveStack, frame: bytes, role: str | None) -> tuple[int, str]:
    """(close code, reason) after sending ``frame`` (first, or after auth as ``role``)."""
    async with connect(stack.hub, max_size=None) as ws:
        if role is not None:
            await ws.send(js({"type": "auth", "token": stack.tokens[role]}), text=True)
            await ws.recv()
        await ws.send(frame.decode(), text=True)
        with pytest.raises(ConnectionClosed) as info:
            while True:
                await asyncio.wait_for(ws.recv(), 20)
    assert info.value.rcvd is not None
    return info.value.rcvd.code, info.value.rcvd.reason


async def test_every_hub_input_gets_an_error_frame_and_nothing_dies(stack: LiveStack) -> None:
    frames = hub_frames()
    taken = await refused_frames(stack, "ops", frames)
    code, reason = await closes(stack, deep_json(), None)
    assert (code, reason) == (4001, f"not an auth message: frame too deep (limit {MAX_DEPTH})")
    code, _ = await closes(stack, js({"type": "health", "pad": "p" * 100_000}), "ops")
    assert code == 1009  # over the message limit: closed, and the hub carries on
    print(f"hub corpus: {taken} frames answered with an error, 2 closing frames")
    assert await asyncio.to_thread(stack.tune_acked)
    assert await asyncio.to_thread(stack.unhealthy) == []


def test_afterwards_everything_is_alive_and_the_sink_lag_returns_to_zero(
        stack: LiveStack) -> None:
    """Runs after the corpus tests (file order): new input still lands, no lag remains."""
    run = f"fz{uuid.uuid4().hex[:6]}"
    after = Input("after the corpus", CASES, js(report(f"{run}-after")))
    assert send(stack, after).status_code == 202
    ch, db = clickhouse(stack.settings), stack.settings.clickhouse_database
    try:
        wait_for("the report after the corpus in ClickHouse", lambda: ch.execute(
            f"SELECT count() FROM {db}.cases FINAL WHERE case_id = 'case-{run}-after'"
        ) == [(1,)], 120)
        wait_for("the sink's lag at zero", lambda: worker_sink_lag(stack.settings) == 0, 120)
    finally:
        ch.disconnect()
    assert stack.unhealthy() == []
    for name in ("gateway", "hub", "worker"):
        log = stack.procs[name].log_path.read_text(errors="replace")
        assert "Traceback" not in log, f"{name}:\n{stack.procs[name].tail()}"
