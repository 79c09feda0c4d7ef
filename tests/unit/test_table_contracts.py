"""The sink and the read side take their column lists from the table contracts."""

from __future__ import annotations

import pytest

from domain.contracts.tables import TABLES
from readside import audits, cases, wall_state
from streams.rows import COLUMNS, TIME_COLUMNS


def test_the_sink_writes_every_declared_table_with_its_columns() -> None:
    assert set(COLUMNS) == set(TABLES)
    for name, spec in TABLES.items():
        assert COLUMNS[name] == spec.insert_columns
        assert TIME_COLUMNS[name] == spec.times
    assert "reading_date" not in COLUMNS["sensor_readings"]  # ClickHouse derives it


def test_time_columns_and_keys_are_declared_columns() -> None:
    for spec in TABLES.values():
        names = set(spec.column_names)
        assert set(spec.order_by) <= names, spec.name
        assert spec.version is None or spec.version in names, spec.name
        for date_col, time_col, ms_col in spec.times:
            assert {c for c in (date_col, time_col, ms_col) if c} <= names, spec.name


def test_pick_refuses_a_column_the_table_lacks() -> None:
    with pytest.raises(ValueError, match="cases has no column"):
        TABLES["cases"].pick("case_id", "colour")


def test_the_read_side_lists_declared_columns() -> None:
    lists = [(TABLES["cases"], cases._COLUMNS), (TABLES["cases"], wall_state.CASE_COLUMNS),
             (TABLES["alerts"], wall_state.ALERT_COLUMNS),
             (TABLES["case_transitions"], audits._TRANSITION),
             (TABLES["alert_actions"], audits._ALERT_ACTION),
             (TABLES["config_changes"], audits._CONFIG_CHANGE)]
    for spec, columns in lists:
        assert set(columns) <= set(spec.column_names)
