"""The simulator's sinks and runner, with fake transports, writers and clocks (pure)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence

import httpx
import msgspec
import pytest

from core.kafka_records import KafkaUnavailable, OutRecord
from domain.schemas import CaseEvent, DepartmentRecord, SensorBatch, SensorReading
from domain.wire import decode
from ingest.simulator import generate
from ingest.simulator.engine import Event
from ingest.simulator.http_sink import HttpSink, json_arrays
from ingest.simulator.kafka_sink import KafkaSink, out_records
from ingest.simulator.runner import run
from ingest.simulator.sink import SinkFatal, SinkStats

START = 1_767_225_600_000


def _events(n: int = 3000) -> list[Event]:
    return list(generate(2, n, START, rate=100, speedup=600))


def test_json_arrays_respect_the_size_limit_and_keep_every_item() -> None:
    items = _events(500)
    bodies = list(json_arrays(items, 4000))
    assert sum(count for _, count in bodies) == 500
    assert all(len(body) <= 4000 for body, _ in bodies)
    decoded = [e for body, _ in bodies for e in json.loads(body)]
    assert decoded == [json.loads(msgspec.json.encode(e)) for e in items]


class Gateway:
    """A scripted gateway: answers from ``script`` first, then 202; records requests."""

    def __init__(self, *script: httpx.Response) -> None:
        self.script = list(script)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.script.pop(0) if self.script else httpx.Response(202, json={})


def _http_sink(gateway: Gateway, sleeps: list[float]) -> HttpSink:
    client = httpx.Client(base_url="http://gw", transport=httpx.MockTransport(gateway))
    return HttpSink("http://gw", "tok-123456", "tag", client=client, max_body_bytes=64_000,
                    sleep=sleeps.append)


def test_http_sink_posts_each_kind_to_its_endpoint() -> None:
    gateway, sleeps = Gateway(), []
    sink = _http_sink(gateway, sleeps)
    events = _events()
    sink.send(events)
    paths = {r.url.path for r in gateway.requests}
    assert "/v1/sensors/readings" in paths and "/v1/cases/events" in paths
    assert any(p.startswith("/v1/departments/") for p in paths)
    readings = cases = records = 0
    for request in gateway.requests:
        assert request.headers["authorization"] == "Bearer tok-123456"
        body = json.loads(request.content)
        if request.url.path == "/v1/sensors/readings":
            assert body["request_id"].startswith("tag-h") and body["source"] == "sensor"
            readings += len(decode(json.dumps(body["readings"]), list[SensorReading]))
        elif request.url.path == "/v1/cases/events":
            cases += len(decode(request.content, list[CaseEvent]))
        else:
            department = request.url.path.split("/")[3]
            batch = decode(request.content, list[DepartmentRecord])
            assert {r.department for r in batch} == {department}
            records += len(batch)
    assert readings + cases + records == len(events)
    assert sink.stats.accepted == len(events) and not sleeps


def test_http_sink_backs_off_and_retries_on_503_and_connection_errors() -> None:
    gateway, sleeps = Gateway(httpx.Response(503, headers={"Retry-After": "3"}),
                              httpx.Response(503)), []
    sink = _http_sink(gateway, sleeps)
    sink.send(_events(50))
    assert sleeps[:2] == [3.0, 1.0]  # the server's Retry-After, then doubling from 0.5
    assert sink.stats.retries == 2 and sink.stats.accepted == 50 and sink.stats.rejected == 0
    assert gateway.requests[0].content == gateway.requests[2].content  # the same request again

    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(202)

    retried: list[float] = []
    sink = HttpSink("http://gw", "tok-123456", "tag", sleep=retried.append,
                    client=httpx.Client(base_url="http://gw", transport=httpx.MockTransport(flaky)))
    sink.send(_events(10))
    assert retried == [0.5] and sink.stats.accepted == 10


def test_http_sink_counts_4xx_and_stops_on_a_refused_token() -> None:
    gateway, sleeps = Gateway(httpx.Response(422, json={"error": "invalid", "field": "x"})), []
    sink = _http_sink(gateway, sleeps)
    events = [e for e in _events() if isinstance(e, CaseEvent)][:5]
    sink.send(events)
    assert sink.stats.rejected == 5 and sink.stats.rejects_by_reason == {"HTTP 422 invalid": 5}
    assert not sleeps
    sink = _http_sink(Gateway(httpx.Response(401)), sleeps)
    with pytest.raises(SinkFatal):
        sink.send(events)


def test_http_sink_counts_duplicates_the_gateway_reports() -> None:
    gateway = Gateway(httpx.Response(200, json={"accepted": 3, "duplicates": 2}))
    sink = _http_sink(gateway, [])
    sink.send([e for e in _events() if isinstance(e, CaseEvent)][:5])
    assert sink.stats.duplicates == 2 and sink.stats.accepted == 3


def test_out_records_batch_readings_per_grid_and_key_everything_by_grid() -> None:
    events = _events()
    records = out_records(events, "req-1", START)
    readings = [e for e in events if isinstance(e, SensorReading)]
    batches = [decode(r.value, SensorBatch) for r in records
               if r.topic.base == "gridwall.sensors.readings"]
    assert len(batches) == len({r.grid_id for r in readings})
    for record, batch in zip([r for r in records if r.topic.base.endswith("readings")],
                             batches, strict=True):
        assert record.key == batch.grid_id
        assert {r.grid_id for r in batch.readings} == {batch.grid_id}
        assert batch.batch_id.startswith("req-1:") and batch.source == "sensor"
    assert sum(len(b.readings) for b in batches) == len(readings)
    for record in records:
        if not record.topic.base.endswith("readings"):
            assert record.key == json.loads(record.value)["grid_id"]
    assert len(records) - len(batches) == len(events) - len(readings)


class FakeWriter:
    """Fails the first ``failures`` sends, then keeps what it is given."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.sent: list[OutRecord] = []
        self.closed = False

    def send_all(self, records: Sequence[OutRecord]) -> None:
        if self.failures:
            self.failures -= 1
            raise KafkaUnavailable("down")
        self.sent.extend(records)

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("in_flight", [0, 2])
def test_kafka_sink_retries_until_acknowledged(in_flight: int) -> None:
    writer, sleeps = FakeWriter(failures=2), []
    sink = KafkaSink(writer, "tag", in_flight=in_flight, sleep=sleeps.append)
    events = _events(500)
    sink.send(events[:250])
    sink.send(events[250:])
    sink.close()
    assert writer.closed and sleeps == [0.5, 1.0]
    assert sink.stats.accepted == 500 and sink.stats.retries == 2
    ids = [json.loads(r.value).get("batch_id") for r in writer.sent]
    assert any(i and i.startswith("tag-d1:") for i in ids)
    assert any(i and i.startswith("tag-d2:") for i in ids)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class ListSink:
    def __init__(self, clock: FakeClock, cost_s: float = 0.0) -> None:
        self.stats = SinkStats()
        self.chunks: list[list[Event]] = []
        self.clock = clock
        self.cost_s = cost_s

    def send(self, events: Sequence[Event]) -> None:
        self.chunks.append(list(events))
        self.stats.sent += len(events)
        self.stats.accepted += len(events)
        self.clock.now += self.cost_s

    def close(self) -> None:
        pass


def test_runner_paces_to_the_rate_in_order() -> None:
    clock = FakeClock()
    sink = ListSink(clock)
    events = _events(1000)
    lines: list[str] = []
    result = run(iter(events), sink, 50.0, duration_s=10.0, clock=clock, sleep=clock.sleep,
                 report=lines.append, progress_every_s=2.0)
    sent = [e for chunk in sink.chunks for e in chunk]
    assert sent == events[:len(sent)]
    assert 499 <= result.events <= 501  # 50/s for 10 s of (fake) time
    assert len(lines) >= 4 and "events/s" in lines[0]


def test_runner_stops_at_max_events_and_goes_as_fast_as_a_slow_sink() -> None:
    clock = FakeClock()
    sink = ListSink(clock, cost_s=1.0)  # every send takes a second
    result = run(iter(_events(3000)), sink, 1e6, max_events=2500, max_chunk=1000,
                 clock=clock, sleep=clock.sleep, report=lambda _: None)
    assert result.events == 2500 and [len(c) for c in sink.chunks] == [1, 1000, 1000, 499]


class SlowWriter(FakeWriter):
    """A writer that blocks each send until released (a city push still being acked)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def send_all(self, records: Sequence[OutRecord]) -> None:
        assert self.release.wait(10)
        super().send_all(records)


def test_case_events_do_not_queue_behind_a_push_of_readings() -> None:
    """With an events writer, a chunk of case events is acknowledged while a readings chunk
    sent before it is still waiting."""
    events = _events(400)
    readings = [e for e in events if isinstance(e, SensorReading)]
    others = [e for e in events if not isinstance(e, SensorReading)]
    assert readings and others
    slow, fast = SlowWriter(), FakeWriter()
    sink = KafkaSink(slow, "tag", in_flight=2, events_writer=fast)
    sink.send(readings)
    sink.send(others)
    deadline = time.monotonic() + 10
    while sink.stats.accepted < len(others) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sink.stats.accepted == len(others) and not slow.sent  # the reports went first
    slow.release.set()
    sink.close()
    assert sink.stats.accepted == len(events) and slow.closed and fast.closed
    assert {r.topic.base for r in fast.sent} <= {"gridwall.cases.events",
                                                 "gridwall.departments.records"}
