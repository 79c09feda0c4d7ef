"""The sink's row to tuple conversion: column order, derived Date/DateTime columns, and the
rows left as they were (a refused row is dead-lettered as it came)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from streams.rows import COLUMNS, TIME_COLUMNS, to_tuples

MS = 1_767_225_599_999  # 2025-12-31 23:59:59.999 UTC


def reference(table: str, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The conversion spelled out one row and one column at a time."""
    out = []
    for row in rows:
        full = dict(row)
        for date_col, time_col, ms_col in TIME_COLUMNS[table]:
            moment = datetime.fromtimestamp(int(full[ms_col]) // 1000, tz=UTC)
            if date_col:
                full[date_col] = date(moment.year, moment.month, moment.day)
            if time_col:
                full[time_col] = moment
        out.append(tuple(full[c] for c in COLUMNS[table]))
    return out


def sample_rows(table: str) -> list[dict[str, Any]]:
    derived = {c for d, t, _ in TIME_COLUMNS[table] for c in (d, t) if c}
    ms_cols = {m for _, _, m in TIME_COLUMNS[table]}
    return [{c: (MS + n * 1_000 if c in ms_cols else f"{c}-{n}")
             for c in COLUMNS[table] if c not in derived} | dict.fromkeys(ms_cols, MS + n)
            for n in range(3)]


@pytest.mark.parametrize("table", sorted(COLUMNS))
def test_tuples_are_the_columns_in_order_with_derived_times(table: str) -> None:
    rows = sample_rows(table)
    before = [dict(r) for r in rows]
    assert to_tuples(table, rows) == reference(table, rows)
    assert rows == before


def test_a_missing_column_raises_key_error() -> None:
    table = next(t for t in sorted(COLUMNS) if not TIME_COLUMNS[t])
    row = sample_rows(table)[0]
    del row[COLUMNS[table][0]]
    with pytest.raises(KeyError):
        to_tuples(table, [row])
    timed = next(t for t in sorted(COLUMNS) if TIME_COLUMNS[t])
    row = sample_rows(timed)[0]
    del row[TIME_COLUMNS[timed][0][2]]
    with pytest.raises(KeyError):
        to_tuples(timed, [row])


def test_reading_rows_leave_the_decoder_as_tuples_of_the_same_values() -> None:
    from streams.rows import row_dict
    from streams.rows_metrics import AS_TUPLES, sensor_readings_decoder
    from streams.sensors.rollup import reading_rows
    from tests.unit.test_sensors import T0, batch

    sample = batch([("a", "gas", 1.0, T0), ("b", "noise", 70.5, T0 + 1)], grid="G7")
    decode = sensor_readings_decoder(lambda kind, value: f"{kind}:{value}")
    rows = decode(__import__("msgspec").json.encode(sample), 0, 0)
    assert AS_TUPLES and all(isinstance(r, tuple) for _, r in rows)
    assert [row_dict(t, r) for t, r in rows] == reading_rows(sample, ["gas:1.0", "noise:70.5"])
    assert to_tuples("sensor_readings", [r for _, r in rows]) == reference(
        "sensor_readings", reading_rows(sample, ["gas:1.0", "noise:70.5"]))


def test_a_packed_readings_message_gives_the_rows_of_every_batch_in_order() -> None:
    import msgspec

    from streams.rows import row_dict
    from streams.rows_metrics import sensor_readings_decoder
    from streams.sensors.rollup import reading_rows
    from tests.unit.test_sensors import T0, batch

    first = batch([("a", "gas", 1.0, T0)], grid="G7")
    second = batch([("b", "noise", 70.5, T0 + 1), ("c", "gas", 2.0, T0 + 2)], grid="G9")
    decode = sensor_readings_decoder(lambda kind, value: "ok")
    rows = decode(msgspec.json.encode([first, second]), 0, 0)
    assert [row_dict(t, r) for t, r in rows] == (reading_rows(first, ["ok"])
                                                 + reading_rows(second, ["ok", "ok"]))
    assert decode(b"[{]", 0, 0) == []


def test_a_refused_tuple_row_is_dead_lettered_with_its_columns_named() -> None:
    import msgspec

    from domain.schemas import DeadLetter
    from tests.unit.test_sink_refusals import FakeClient, Sent, make_sink, write

    client, sent = FakeClient(), Sent()
    sink = make_sink(client, sent)
    good = (MS, "G1", "S1", "gas", 1.0, "normal", "b1")
    bad = (MS, "G2", "S2", "gas", 2**64, "normal", "b2")  # above Int64: refused
    write(sink, [("sensor_readings", good), ("sensor_readings", bad)])
    assert client.inserted["sensor_readings"] == [good]
    [(_, key, value)] = sent
    letter = msgspec.json.decode(value, type=DeadLetter)
    assert key == b"G2" and letter.grid_id == "G2"
    assert msgspec.json.decode(letter.raw) == dict(zip(COLUMNS["sensor_readings"], bad,
                                                       strict=True))
