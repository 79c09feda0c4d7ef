"""Inputs that stalled or stormed, against the real parts.

* The gateway (real uvicorn, real Kafka) refuses implausible values, unknown attributes,
  out-of-window times and ids reused for another payload with a 4xx naming the field, and
  each refusal is in the dead-letter topic.
* The ClickHouse sink (real Kafka, real ClickHouse) given a batch with a row the server
  refuses: the row ends in the dead letters (topic and table), the good rows land, a later
  batch lands too, and the sink's consumer lag returns to zero.
* The worker (a real ``gridwall worker`` process) given, straight on Kafka, department records
  with ``households = 10**18``, a report dated 1970 and one two days old: the register sum is
  bounded and written, the 1970 report is dead-lettered, the old case breaches once (stamped
  at the fire time), and later input lands.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from core.kafka_records import OutRecord
from core.settings import Settings
from domain.contracts.topics import DEAD_LETTER, DEPARTMENT_RECORDS, ROWS
from domain.schemas import CaseEvent, DeadLetter, DepartmentRecord
from domain.sink_config import SinkConfig
from domain.wire import encode
from streams.rows import RowBatch
from streams.sink import ClickHouseSink, dead_letters_decoder, rows_decoder
from tests.integration.helpers_live import sink_lag
from tests.integration.test_gateway_support import (
    ServedApp,
    feed_post,
    read_topic,
    serve_gateway,
)
from tests.integration.test_streams_support import (
    StreamEnv,
    WorkerProc,
    now_ms,
    stream_env,  # noqa: F401 - fixture
    wait_for,
)
from tests.unit.test_gateway_support import (
    department_record,
    reading,
    report,
)

pytestmark = pytest.mark.integration


# -- the gateway -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gateway(infra: Settings) -> Iterator[ServedApp]:
    with serve_gateway(infra) as served:
        yield served


post = feed_post


def test_implausible_inputs_are_refused_naming_the_field_and_dead_lettered(
        infra: Settings, gateway: ServedApp) -> None:
    run = f"bnd{uuid.uuid4().hex[:8]}"
    departments = "/v1/departments/civil_affairs/records"
    corpus: list[tuple[str, Any, int, str]] = [
        (departments, department_record(f"{run}-b1", record_type="building",
                                        attributes={"households": 10**18}),
         422, "attributes.households"),
        (departments, department_record(f"{run}-b2", record_type="building",
                                        attributes={"households": 1e18}),
         422, "attributes.households"),
        (departments, department_record(f"{run}-b3", record_type="building",
                                        attributes={"favourite_colour": "red"}),
         422, "attributes.favourite_colour"),
        (departments, department_record(f"{run}-b4", record_type="building",
                                        attributes={"structure": "x" * 100_000}),
         422, "attributes[...]"),
        ("/v1/sensors/readings", {"request_id": f"{run}-q",
                                  "readings": [reading(0), reading(1, value=-1.7e308)]},
         422, "readings[1].value"),
        ("/v1/cases/events", report(f"{run}-r1", ts=1000), 422, "ts"),
        ("/v1/cases/events", report(f"{run}-r2", ts=now_ms() + 3_600_000), 422, "ts"),
    ]
    for path, body, status, field in corpus:
        response = post(gateway, path, body)
        assert response.status_code == status, (field, response.text)
        assert response.json()["field"] == field and response.json()["reason"]
    first = report(f"{run}-c1")
    assert post(gateway, "/v1/cases/events", first).status_code == 202
    assert post(gateway, "/v1/cases/events", first).status_code == 200  # idempotent
    conflict = post(gateway, "/v1/cases/events", dict(first, description=f"{run} other"))
    assert conflict.status_code == 409 and conflict.json()["field"] == "event_id"
    letters = dead_letters_of(infra, run, len(corpus) + 1)
    assert sorted(d.field or "" for d in letters) == sorted(
        [field for *_, field in corpus] + ["event_id"])


def dead_letters_of(s: Settings, marker: str, expected: int) -> list[DeadLetter]:
    def mine(records: list[Any]) -> list[DeadLetter]:
        letters = [msgspec.json.decode(r.value, type=DeadLetter) for r in records]
        return [d for d in letters if marker in d.raw]

    return mine(read_topic(s, DEAD_LETTER, lambda rs: len(mine(rs)) >= expected))


# -- the sink ----------------------------------------------------------------------------


def register_row(grid: str, value: int, version: int) -> dict[str, Any]:
    return {"grid_id": grid, "figure": "building_households", "value": value,
            "updated_ms": now_ms(), "version": version}


@contextlib.contextmanager
def running(sink: ClickHouseSink) -> Iterator[None]:
    """The sink's loop in a thread with its own event loop."""
    loop = asyncio.new_event_loop()
    stopping = asyncio.Event()
    done = threading.Event()

    def main() -> None:
        async def go() -> None:
            nonlocal stopping
            stopping = asyncio.Event()
            started.set()
            await sink.run(stopping)

        try:
            loop.run_until_complete(go())
        finally:
            done.set()

    started = threading.Event()
    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield
    finally:
        loop.call_soon_threadsafe(stopping.set)
        assert done.wait(30), "the sink did not stop"
        thread.join(10)


def test_a_refused_row_is_dead_lettered_the_good_rows_land_and_the_lag_returns_to_zero(
        stream_env: StreamEnv, ch: Any) -> None:  # noqa: F811 - fixture
    s, db = stream_env.settings, stream_env.settings.clickhouse_database
    rows_topic, dead_topic = ROWS.name(s.topic_prefix), DEAD_LETTER.name(s.topic_prefix)
    group = f"bounds-sink-{uuid.uuid4().hex[:6]}"

    def client() -> Any:
        from clickhouse_driver import Client

        return Client(s.clickhouse_host, port=s.clickhouse_port)

    sink = ClickHouseSink(s.kafka_bootstrap, group, {rows_topic: rows_decoder,
                                                     dead_topic: dead_letters_decoder},
                          client, db, lambda: SinkConfig(batch_size=500, flush_interval_s=0.3))
    good = [register_row(f"B{i:02d}", 10 + i, 1) for i in range(40)]
    bad = register_row("B99", 2**63 + 5, 1)  # above Int64: the driver refuses it
    stream_env.send_raw(ROWS, "grid_registers", encode(RowBatch(
        table="grid_registers", rows=[*good[:25], bad, *good[25:]])))
    with running(sink):
        wait_for("the good rows", lambda: count(ch, db, "grid_registers") == 40, 60)
        wait_for("the refused row in the dead letters table", lambda: ch.execute(
            f"SELECT source, stage, field, grid_id FROM {db}.dead_letters "
            f"WHERE stage = 'sink'") == [("sink.grid_registers", "sink", "value", "B99")], 60)
        stream_env.send_raw(ROWS, "grid_registers", encode(RowBatch(
            table="grid_registers", rows=[register_row("C01", 7, 1)])))
        wait_for("a later batch", lambda: count(ch, db, "grid_registers") == 41, 60)
        wait_for("the sink's lag back at zero",
                 lambda: sink_lag(s, group, [rows_topic, dead_topic]) == 0, 60)
    assert sink.stats.refused_rows == 1
    [(value,)] = ch.execute(f"SELECT value FROM {db}.grid_registers FINAL "
                            f"WHERE grid_id = 'B24'")
    assert value == 34


def count(ch: Any, db: str, table: str) -> int:
    return int(ch.execute(f"SELECT count() FROM {db}.{table} FINAL")[0][0])


# -- the worker --------------------------------------------------------------------------


def test_the_worker_bounds_counts_refuses_1970_and_an_old_report_breaches_once(
        stream_env: StreamEnv, ch: Any) -> None:  # noqa: F811 - fixture
    """Straight on Kafka (no gateway): the register sum stays bounded and written; a report
    dated 1970 is dead-lettered by the worker; a report two days old (inside the window)
    breaches once, stamped when it fired, not tier after tier."""
    senv, db = stream_env, stream_env.settings.clickhouse_database
    worker = WorkerProc(senv, "bounds")
    try:
        worker.wait_ready()
        senv.writer.send_all([OutRecord(DEPARTMENT_RECORDS, "G01", encode(DepartmentRecord(
            record_id=f"b{i}", record_type="building", ts=now_ms(), grid_id="G01",
            department="fire", attributes={"households": 10**18}))) for i in range(12)])
        senv.send_events(CaseEvent(event_id="y1970.r", case_id="y1970", action="report",
                                   ts=1000, source="simulator", grid_id="G01",
                                   category="noise"),
                         CaseEvent(event_id="old.r", case_id="old", action="report",
                                   ts=now_ms() - 2 * 86_400_000, source="simulator",
                                   grid_id="G01", category="noise"))
        wait_for("the bounded register", lambda: ch.execute(
            f"SELECT value FROM {db}.grid_registers FINAL WHERE grid_id = 'G01' "
            f"AND figure = 'building_households'") == [(12 * 100_000,)], 90)
        wait_for("the 1970 report in the dead letters", lambda: ch.execute(
            f"SELECT count() FROM {db}.dead_letters WHERE stage = 'cases' "
            f"AND reason LIKE 'ts: event time 1000 is more than 7 day(s) before%'"
        ) == [(1,)], 60)
        wait_for("the old case's first breach", lambda: breaches(ch, db, "old") >= 1, 60)
        time.sleep(3)  # 12 SLA timer ticks: a storm would have breached again meanwhile
        senv.send_events(CaseEvent(event_id="new.r", case_id="new", action="report",
                                   ts=now_ms(), source="simulator", grid_id="G01",
                                   category="noise"))
        wait_for("a later case", lambda: ch.execute(
            f"SELECT count() FROM {db}.cases FINAL WHERE case_id = 'new'") == [(1,)], 60)
        assert breaches(ch, db, "old") == 1
        assert ch.execute(f"SELECT tier FROM {db}.cases FINAL WHERE case_id = 'old'") == [(2,)]
        assert ch.execute(f"SELECT count() FROM {db}.cases FINAL "
                          f"WHERE case_id = 'y1970'") == [(0,)]
        [(breach_ts,)] = ch.execute(f"SELECT max(ts_ms) FROM {db}.case_transitions FINAL "
                                    f"WHERE case_id = 'old' AND breach = 1")
        assert breach_ts > now_ms() - 3_600_000  # stamped when it fired, not 2 days ago
    finally:
        worker.stop()


def breaches(ch: Any, db: str, case_id: str) -> int:
    rows = ch.execute(f"SELECT breaches FROM {db}.cases FINAL WHERE case_id = '{case_id}'")
    return int(rows[0][0]) if rows else 0
