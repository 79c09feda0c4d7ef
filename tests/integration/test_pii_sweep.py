"""Personal data posted everywhere, then searched for everywhere: only the allowlist holds it.

Against ``gridwall worker``, ``gateway`` and ``hub`` processes (:func:`live_stack`), records
full of a Chinese name, a Western name, phone numbers, an ID number and e-mail addresses in
every field a client can fill are posted through the gateway: a report (reporter fields,
description, note, actor), a workflow event's note on the same case, an Open311 request
(first/last name, phone, email, address_string, description, account_id), a department
record (person fields, address attribute), and refused bodies carrying the same (a 422 with
a bearer token, an Open311 422 with its api_key, a body that is not JSON, an
unauthenticated 401). Once the worker has handled them (the cases are in ClickHouse, the
refusals in ``dead_letters``, the case has reached the wall), the raw values -- and the feed
token -- are searched for in:

* every table of the test's ClickHouse database;
* every record of every Kafka topic of the test's prefix (inputs, outputs, dead letters,
  the worker's changelogs);
* every frame a viewer received from the hub, subscribed to every channel from before the
  first post;
* the public Open311 reads (list and each request) and a viewer's Open311 reads;
* the three processes' logs.

A place may hold a raw value only if :data:`ALLOWED` names it, with the reason; the feed
token may be nowhere. Not covered, because no pattern can find it: a name written inside
free text (a description naming someone) is not masked; names are masked in name fields.
``docs/gateway.md`` (Open311 reads and privacy, "Where personal data is kept") says the same.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition
from websockets.asyncio.client import ClientConnection, connect

from domain.contracts.channels import CHANNEL_NAMES
from domain.contracts.topics import CASE_EVENTS, DEPARTMENT_RECORDS
from domain.wire import encode
from tests.integration.helpers_live import LiveStack, clickhouse, live_stack
from tests.integration.test_streams_support import wait_for
from tests.unit.test_gateway_support import department_record, inside, report

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

CN_NAME, CN_GIVEN = "欧阳娜娜", "娜娜"  # masked: 欧阳**
O311_LAST, O311_FIRST = "诸葛", "亮亮"  # Open311 stores 诸葛亮亮, masked 诸葛**
WESTERN, WESTERN_GIVEN = "Wilhelmina Quackenbush", "Wilhelmina"
PHONE, PHONE_SPACED, LANDLINE = "13912345678", "139 1234 5678", "010-8765-4321"
ID_NUMBER = "11010519491231002X"
EMAIL, EMAIL_LOCAL = "nana.ouyang@example.org", "nana.ouyang"
# Free text: the patterns a masker can find (a name inside free text is not one of them,
# so names go in the name fields only).
PROSE = f"电话 {PHONE_SPACED} 或 {LANDLINE}, 身份证 {ID_NUMBER}, 邮箱 {EMAIL}"
# The raw values a reader must never see, by name (given names: a masked name keeps only
# the family name, so the given name alone shows an unmasked one).
NEEDLES: dict[str, str] = {
    "chinese given name": CN_GIVEN, "open311 given name": O311_FIRST,
    "western given name": WESTERN_GIVEN, "mobile": PHONE, "mobile, spaced": PHONE_SPACED,
    "landline": LANDLINE, "id number": ID_NUMBER, "e-mail": EMAIL_LOCAL,
}

# Places that may hold raw personal data, and why. A place is "kafka:<topic base>",
# "clickhouse:<table>", "hub", "open311" or "log:<process>".
ALLOWED: dict[str, str] = {
    f"kafka:{CASE_EVENTS.base}": "the accepted case events as posted: the worker's input, "
    "read by the worker (and its sink, which masks what it writes) only",
    f"kafka:{DEPARTMENT_RECORDS.base}": "the accepted department records as posted: the "
    "worker's input, read by the worker only",
    "kafka:gridwall-streams-cases-changelog": "the worker's state of the cases it follows "
    "(description and note as posted), read back only by the worker when it recovers",
}


def occurrences(text: str) -> set[str]:
    """Names of the needles (and the credential) found in ``text``."""
    found = {name for name, needle in NEEDLES.items() if needle in text}
    return found


class Collector:
    """Raw frames a viewer receives from the hub, subscribed to every channel."""

    def __init__(self, stack: LiveStack) -> None:
        self.stack = stack
        self.frames: list[str] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self, ws: ClientConnection) -> None:
        async for raw in ws:
            self.frames.append(raw if isinstance(raw, str) else raw.decode("utf-8", "replace"))

    async def __aenter__(self) -> Collector:
        self.ws = await connect(self.stack.hub, max_size=None)
        await self.ws.send(encode({"type": "auth", "token": self.stack.tokens["viewer"]}),
                           text=True)
        await self.ws.send(encode({"type": "subscribe", "channels": list(CHANNEL_NAMES)}),
                           text=True)
        self._task = asyncio.create_task(self._run(self.ws))
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.ws.close()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    def seen(self, needle: str) -> bool:
        """True once any frame holds ``needle``."""
        return any(needle in f for f in self.frames)


def now_ms() -> int:
    """Wall clock in epoch ms."""
    return int(time.time() * 1000)


def post_everything(stack: LiveStack, run: str) -> tuple[dict[str, int], str]:
    """Post every personal field, accepted and refused; return each post's status and the
    Open311 request's id."""
    feed = {"Authorization": f"Bearer {stack.tokens['feed']}"}
    lon, lat, _ = inside(3)
    case = f"{run}-case"
    posts: dict[str, tuple[str, Any, dict[str, str]]] = {
        "report": ("/v1/cases/events", report(
            f"{run}-r", 3, case_id=case, reporter_name=CN_NAME, reporter_phone=PHONE,
            description=PROSE, note=PROSE, actor=EMAIL), feed),
        "verify note": ("/v1/cases/events", report(
            f"{run}-v", 3, case_id=case, action="verify", note=PROSE, actor=EMAIL,
            description=PROSE, category=None, ts=now_ms() + 1), feed),
        "department record": ("/v1/departments/police/records", department_record(
            f"{run}-d", 3, record_type="resident", person_name=WESTERN,
            person_id_number=ID_NUMBER, person_phone=PHONE,
            attributes={"address": f"幸福路 8 号 {PHONE_SPACED}", "age": 82}), feed),
        "refused report": ("/v1/cases/events", report(
            f"{run}-x", 3, category="aliens", reporter_name=WESTERN, reporter_phone=PHONE,
            description=PROSE), feed),
        "unauthenticated report": ("/v1/cases/events", report(
            f"{run}-u", 3, reporter_name=CN_NAME, description=PROSE), {}),
    }
    status: dict[str, int] = {}
    open311_id = ""
    with httpx.Client(base_url=stack.gateway, timeout=30) as client:
        for name, (path, body, headers) in posts.items():
            status[name] = client.post(path, json=body, headers=headers).status_code
        status["not json"] = client.post("/v1/cases/events", headers=feed, content=(
            f'{{"reporter_name": "{CN_NAME}", "description": "{PROSE}", oops').encode()
        ).status_code
        form = {"service_code": "environment", "lat": str(lat), "long": str(lon),
                "first_name": O311_FIRST, "last_name": O311_LAST, "phone": PHONE,
                "email": EMAIL, "address_string": PROSE, "description": PROSE,
                "account_id": EMAIL, "event_id": f"{run}-o", "api_key": stack.tokens["feed"]}
        for name, fields in (("open311", form),
                             ("refused open311", dict(form, service_code="aliens",
                                                      event_id=f"{run}-ox"))):
            answer = client.post(
                "/open311/v2/requests.json", content=urlencode(fields).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"})
            status[name] = answer.status_code
            if answer.status_code == 201:
                open311_id = answer.json()[0]["service_request_id"]
    return status, open311_id


def kafka_places(stack: LiveStack) -> dict[str, str]:
    """Every record (key and value) of every topic of the stack's prefix, per topic."""
    prefix = stack.settings.topic_prefix
    consumer = KafkaConsumer(bootstrap_servers=stack.settings.kafka_bootstrap,
                             group_id=None, enable_auto_commit=False)
    try:
        out: dict[str, str] = {}
        for topic in sorted(t for t in consumer.topics() if t.startswith(prefix)):
            parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
            consumer.assign(parts)
            consumer.seek_to_beginning(*parts)
            end = consumer.end_offsets(parts)
            chunks: list[str] = []
            while any(consumer.position(tp) < end[tp] for tp in parts):
                for records in consumer.poll(timeout_ms=500).values():
                    chunks += [(r.key or b"").decode("utf-8", "replace") + " "
                               + (r.value or b"").decode("utf-8", "replace") for r in records]
            out[f"kafka:{topic[len(prefix):]}"] = "\n".join(chunks)
        return out
    finally:
        consumer.close()


def clickhouse_places(stack: LiveStack) -> dict[str, str]:
    """Every row of every table of the stack's database, per table."""
    ch, db = clickhouse(stack.settings), stack.settings.clickhouse_database
    try:
        tables = [t for (t,) in ch.execute(
            "SELECT name FROM system.tables WHERE database = %(db)s", {"db": db})]
        return {f"clickhouse:{t}": "\n".join(map(repr, ch.execute(f"SELECT * FROM {db}.`{t}`")))
                for t in tables}
    finally:
        ch.disconnect()


def open311_reads(stack: LiveStack, case_ids: list[str]) -> dict[str, str]:
    """The public and the viewer's Open311 reads: the list and each request."""
    out: dict[str, str] = {}
    with httpx.Client(base_url=stack.gateway, timeout=30) as client:
        for reader, headers in (("public", {}),
                                ("viewer", {"Authorization":
                                            f"Bearer {stack.tokens['viewer']}"})):
            texts = [client.get("/open311/v2/requests.json", headers=headers).text]
            texts += [client.get(f"/open311/v2/requests/{c}.json", headers=headers).text
                      for c in case_ids]
            out[f"open311:{reader}"] = "\n".join(texts)
    return out


def unescaped(text: str) -> str:
    """``text`` with JSON ``\\uXXXX`` escapes read back, so escaped values are found too."""
    if "\\u" not in text:
        return text
    return text + "\n" + text.encode("latin-1", "backslashreplace").decode(
        "unicode_escape", "replace")


def leaks(places: dict[str, str], credential: str) -> dict[str, set[str]]:
    """Place -> what it holds that it may not."""
    found: dict[str, set[str]] = {}
    for place, text in places.items():
        text = unescaped(text)
        held = occurrences(text) | ({"feed token"} if credential in text else set())
        if place in ALLOWED:
            held &= {"feed token"}
        if held:
            found[place] = held
    return found


@pytest.fixture(scope="module")
def stack(run_id: str, tmp_path_factory: pytest.TempPathFactory, infra: Any
          ) -> Iterator[LiveStack]:
    tmp: Path = tmp_path_factory.mktemp("pii")
    with live_stack(run_id, tmp, "pii", GRIDWALL_HUB_SUBSCRIBE_BURST="1000") as live:
        yield live


def wait_handled(stack: LiveStack, cases: list[str], frames: Callable[[str], bool]) -> None:
    """Until the worker has written the cases and dead letters and the wall saw the case."""
    ch, db = clickhouse(stack.settings), stack.settings.clickhouse_database
    try:
        wait_for("both cases in ClickHouse", lambda: ch.execute(
            f"SELECT count() FROM {db}.cases FINAL WHERE case_id IN %(ids)s",
            {"ids": tuple(cases)}) == [(2,)], 120)
        wait_for("the verify applied", lambda: ch.execute(
            f"SELECT step FROM {db}.cases FINAL WHERE case_id = %(id)s", {"id": cases[0]}
        ) == [("verified",)], 120)
        wait_for("the refusals in dead_letters", lambda: ch.execute(
            f"SELECT count() FROM {db}.dead_letters")[0][0] >= 3, 120)
        wait_for("the case on the wall", lambda: frames(cases[0]), 120)
    finally:
        ch.disconnect()


async def test_personal_data_only_where_allowed(stack: LiveStack) -> None:
    run = f"pii{uuid.uuid4().hex[:6]}"
    async with Collector(stack) as viewer:
        status, open311_id = await asyncio.to_thread(post_everything, stack, run)
        cases = [f"{run}-case", open311_id]
        assert status == {"report": 202, "verify note": 202, "department record": 202,
                          "refused report": 422, "unauthenticated report": 401,
                          "not json": 422, "open311": 201, "refused open311": 422}
        await asyncio.to_thread(wait_handled, stack, cases, viewer.seen)
        await asyncio.sleep(2)  # the frames of the last updates
    places = {**await asyncio.to_thread(kafka_places, stack),
              **await asyncio.to_thread(clickhouse_places, stack),
              "hub": "\n".join(viewer.frames),
              **open311_reads(stack, cases),
              **{f"log:{name}": proc.log_path.read_text(errors="replace")
                 for name, proc in stack.procs.items()}}
    # the sweep searches populated places: the reads and frames hold the cases themselves,
    # and the raw inputs hold every needle
    for place in ("hub", "open311:public", "open311:viewer", "clickhouse:case_events"):
        assert all(c in places[place] for c in cases), place
    assert occurrences(unescaped(places[f"kafka:{CASE_EVENTS.base}"] + places[
        f"kafka:{DEPARTMENT_RECORDS.base}"])) == set(NEEDLES)
    found = leaks(places, stack.tokens["feed"])
    assert not found, "\n".join(f"{place}: {sorted(what)}" for place, what in found.items())
    assert stack.unhealthy() == []
    held = {p: sorted(occurrences(unescaped(text))) for p, text in places.items()
            if p in ALLOWED}
    print("pii sweep:", len(places), "places searched; allowed places hold:", json.dumps(
        held, ensure_ascii=False))
