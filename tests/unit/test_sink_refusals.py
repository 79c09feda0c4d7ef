"""The sink never stalls on a row: refused rows are bisected out and dead-lettered, transient
failures are retried, each table of a batch is written once."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest
from clickhouse_driver.errors import NetworkError, ServerException, TypeMismatchError

from domain.schemas import DeadLetter
from domain.sink_config import SinkConfig
from streams.sink import ClickHouseSink, dead_letters_decoder, is_row_error, rows_decoder

INT64_MAX = 2**63 - 1


class FakeClient:
    """Refuses any batch holding a value above Int64 (as the driver does); can go down."""

    def __init__(self, down_for: int = 0) -> None:
        self.down_for = down_for
        self.inserted: dict[str, list[tuple[Any, ...]]] = {}
        self.attempts = 0

    def execute(self, query: str, rows: list[tuple[Any, ...]]) -> None:
        self.attempts += 1
        if self.down_for:
            self.down_for -= 1
            raise NetworkError("Connection refused (127.0.0.1:9000)")
        if any(isinstance(v, int) and v > INT64_MAX for row in rows for v in row):
            raise TypeMismatchError("Type mismatch in VALUES section. Column value: "
                                    "argument out of range")
        table = query.split(".")[1].split(" ")[0]
        self.inserted.setdefault(table, []).extend(rows)

    def disconnect(self) -> None:
        pass


class FakeConsumer:
    def __init__(self) -> None:
        self.paused = False
        self.resumed = 0

    def assignment(self) -> set[str]:
        return {"tp"}

    def pause(self, *_: Any) -> None:
        self.paused = True

    def resume(self, *_: Any) -> None:
        self.paused = False
        self.resumed += 1

    async def getmany(self, **_: Any) -> dict[Any, Any]:
        return {}


class Sent(list[tuple[str, bytes, bytes]]):
    """What the sink produced: (topic, key, value)."""


def register_row(grid: str, value: int) -> dict[str, Any]:
    return {"grid_id": grid, "figure": "building_households", "value": value,
            "updated_ms": 1_767_225_600_000, "version": 1}


def make_sink(client: FakeClient, sent: list[tuple[str, bytes, bytes]]) -> ClickHouseSink:
    async def send(topic: str, key: bytes, value: bytes) -> None:
        sent.append((topic, key, value))

    return ClickHouseSink("127.0.0.1:1", "g", {"t.rows": rows_decoder,
                                               "t.deadletter": dead_letters_decoder},
                          lambda: client, "db", SinkConfig, max_backoff_s=0.01, send=send)


def write(sink: ClickHouseSink, rows: list[tuple[str, dict[str, Any]]]) -> FakeConsumer:
    consumer = FakeConsumer()
    asyncio.run(sink._write_until_done(consumer, rows, asyncio.Event()))
    return consumer


def test_a_refused_row_is_bisected_out_and_dead_lettered_the_rest_is_written() -> None:
    client, sent = FakeClient(), Sent()
    sink = make_sink(client, sent)
    rows = [("grid_registers", register_row(f"G{i:02d}", i)) for i in range(64)]
    rows[37] = ("grid_registers", register_row("G37", 2**63 + 5))
    write(sink, rows)
    assert sorted(r[5] for r in client.inserted["grid_registers"]) == [
        i for i in range(64) if i != 37]
    [(topic, key, value)] = sent
    letter = msgspec.json.decode(value, type=DeadLetter)
    assert topic == "t.deadletter" and key == b"G37"
    assert (letter.stage, letter.source, letter.field) == ("sink", "sink.grid_registers",
                                                           "value")
    assert "ClickHouse refused the row" in letter.reason and str(2**63 + 5) in letter.raw
    assert sink.stats.refused_rows == 1 and sink.stats.batches == 1
    assert client.attempts <= 2 * 7 + 1  # bisection, not one insert per row


def test_every_row_refused_still_ends_the_batch() -> None:
    client, sent = FakeClient(), Sent()
    sink = make_sink(client, sent)
    write(sink, [("grid_registers", register_row(f"G{i}", 2**64)) for i in range(5)])
    assert len(sent) == 5 and "grid_registers" not in client.inserted


def test_a_transient_failure_is_retried_and_written_tables_are_not_written_again() -> None:
    client, sent = FakeClient(down_for=3), Sent()
    sink = make_sink(client, sent)
    rows = [("grid_registers", register_row("G1", 1)),
            ("dead_letters", {"ts_ms": 1_767_225_600_000, "dl_key": "k", "source": "s",
                              "stage": "x", "reason": "r", "field": "", "grid_id": "",
                              "raw": "", "raw_truncated": 0})]
    consumer = write(sink, rows)
    assert sent == [] and sink.stats.failures == 3
    assert consumer.resumed == 1 and not consumer.paused
    assert len(client.inserted["grid_registers"]) == 1
    assert len(client.inserted["dead_letters"]) == 1


def test_a_refused_dead_letter_row_is_not_dead_lettered_again() -> None:
    client, sent = FakeClient(), Sent()
    sink = make_sink(client, sent)
    write(sink, [("dead_letters", {"ts_ms": 2**64, "dl_key": "k"})])
    assert sent == [] and sink.stats.refused_rows == 1


def test_dead_letter_topic_defaults_to_the_one_read_as_dead_letters() -> None:
    assert make_sink(FakeClient(), Sent()).dead_topic == "t.deadletter"


@pytest.mark.parametrize(("exc", "row"), [
    (TypeMismatchError("Column a: argument out of range"), True),
    (ServerException("Cannot parse input", code=27), True),
    (ServerException("Memory limit exceeded", code=241), False),
    (ServerException("Table db.x doesn't exist", code=60), False),
    (NetworkError("Connection refused"), False),
    (ConnectionRefusedError(), False),
    (OverflowError("date value out of range"), True),
    (TimeoutError(), False),
])
def test_row_errors_are_told_from_transient_ones(exc: BaseException, row: bool) -> None:
    assert is_row_error(exc) is row
