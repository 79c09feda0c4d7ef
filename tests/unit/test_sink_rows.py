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
