"""Each ClickHouse table's columns, replacing key and version, declared once.

The migrations (``infra/migrations``) create the tables; this module states what they
create, in migration order, and the code derives from it: the sink's column lists and its
Date/DateTime filling (:mod:`streams.rows`), the read side's column lists (:mod:`readside`,
through :meth:`TableSpec.pick`, which refuses a column the table lacks), and the migration
check (``tests/integration/test_table_contracts.py``: applying every migration yields exactly
these columns, types, keys and versions).

Every table is a ReplacingMergeTree: ``order_by`` is the key one row per FINAL read stands
for, ``version`` the column whose highest value wins (None: the last row inserted wins).
A column marked ``derived`` has a DEFAULT in ClickHouse; writers do not send it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """One column: name, ClickHouse type (as the server reports it), DEFAULT-derived or not."""

    name: str
    type: str
    derived: bool = False


# (Date column or "", DateTime column or "", the epoch-ms column they derive from)
TimeColumns = tuple[str, str, str]


@dataclass(frozen=True)
class TableSpec:
    """One table: columns in order, replacing key, version column, derived time columns.

    ``times``: the Date/DateTime columns a writer fills from an epoch-ms column, so a row's
    time is stated once, in milliseconds.
    """

    name: str
    columns: tuple[Column, ...]
    order_by: tuple[str, ...]
    version: str | None
    times: tuple[TimeColumns, ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        """Every column, in the table's order."""
        return tuple(c.name for c in self.columns)

    @property
    def insert_columns(self) -> tuple[str, ...]:
        """The columns a writer sends (the table's order, DEFAULT-derived ones left out)."""
        return tuple(c.name for c in self.columns if not c.derived)

    def pick(self, *names: str) -> tuple[str, ...]:
        """``names`` as a column list for a query; ValueError naming any the table lacks."""
        missing = [n for n in names if n not in self.column_names]
        if missing:
            raise ValueError(f"{self.name} has no column(s) {', '.join(missing)}")
        return names


def _columns(text: str) -> tuple[Column, ...]:
    """Columns from lines ``name Type`` (``name Type derived`` for a DEFAULT column)."""
    out = []
    for line in text.strip().splitlines():
        name, type_, *flag = line.split()
        out.append(Column(name, type_, derived=flag == ["derived"]))
    return tuple(out)


_LC = "LowCardinality(String)"

RAW_EVENTS = TableSpec("raw_events", _columns(f"""
    received_date Date
    received_at DateTime
    received_ms UInt64
    source {_LC}
    kind {_LC}
    event_id String
    grid_id {_LC}
    payload String
"""), order_by=("grid_id", "kind", "event_id"), version="received_ms",
    times=(("received_date", "received_at", "received_ms"),))

CASE_EVENTS = TableSpec("case_events", _columns(f"""
    event_date Date
    ts DateTime
    ts_ms UInt64
    event_id String
    case_id String
    grid_id {_LC}
    action {_LC}
    source {_LC}
    actor String
    category {_LC}
    priority {_LC}
    kafka_partition UInt16
    kafka_offset UInt64
    payload String
"""), order_by=("case_id", "event_id"), version="kafka_offset",
    times=(("event_date", "ts", "ts_ms"),))

CASE_TRANSITIONS = TableSpec("case_transitions", _columns(f"""
    event_date Date
    ts DateTime
    ts_ms UInt64
    case_id String
    event_id String
    grid_id {_LC}
    action {_LC}
    from_step {_LC}
    to_step {_LC}
    from_tier UInt8
    to_tier UInt8
    actor String
    source {_LC}
    breach UInt8
    version UInt64
    from_unit {_LC}
    to_unit {_LC}
    assignee String
    reason String
"""), order_by=("case_id", "event_id"), version="version",
    times=(("event_date", "ts", "ts_ms"),))

CASES = TableSpec("cases", _columns(f"""
    opened_date Date
    opened_at DateTime
    opened_ms UInt64
    case_id String
    grid_id {_LC}
    category {_LC}
    priority {_LC}
    step {_LC}
    tier UInt8
    step_entered_ms UInt64
    updated_at DateTime
    updated_ms UInt64
    deadline_ms UInt64
    on_spot UInt8
    reopen_count UInt16
    escalations UInt16
    breaches UInt16
    rating UInt8
    source {_LC}
    description String
    actor String
    last_event_id String
    version UInt64
    lon Nullable(Float64)
    lat Nullable(Float64)
    note String
    unit {_LC}
    assignee String
    dispatched_unit {_LC}
    attachments Array(String)
    supervision_unit {_LC}
    supervision_deadline_ms UInt64
    supervision_by String
    supervision_since_ms UInt64
    supervision_breached_ms UInt64
"""), order_by=("case_id",), version="version",
    times=(("opened_date", "opened_at", "opened_ms"), ("", "updated_at", "updated_ms")))

ALERTS = TableSpec("alerts", _columns(f"""
    opened_date Date
    opened_at DateTime
    opened_ms UInt64
    alert_id String
    fingerprint String
    group_key String
    grid_id {_LC}
    kind {_LC}
    category {_LC}
    severity {_LC}
    status {_LC}
    title String
    detail String
    case_id String
    sensor_id String
    tier UInt8
    assignee String
    acked_by String
    silenced_until_ms UInt64
    silenced_by String
    silence_comment String
    shelved UInt8
    updated_at DateTime
    updated_ms UInt64
    resolved_ms UInt64
    occurrences UInt32
    re_escalations UInt16
    version UInt64
"""), order_by=("alert_id",), version="version",
    times=(("opened_date", "opened_at", "opened_ms"), ("", "updated_at", "updated_ms")))

ALERT_ACTIONS = TableSpec("alert_actions", _columns(f"""
    action_date Date
    ts DateTime
    ts_ms UInt64
    action_id String
    alert_id String
    grid_id {_LC}
    action {_LC}
    actor String
    role {_LC}
    outcome {_LC}
    detail String
    status_before {_LC}
    status_after {_LC}
"""), order_by=("alert_id", "action_id"), version="ts_ms",
    times=(("action_date", "ts", "ts_ms"),))

CONFIG_CHANGES = TableSpec("config_changes", _columns(f"""
    change_date Date
    ts DateTime
    ts_ms UInt64
    config_key {_LC}
    control_offset UInt64
    actor String
    accepted UInt8
    reason String
    before String
    after String
"""), order_by=("config_key", "control_offset"), version="ts_ms",
    times=(("change_date", "ts", "ts_ms"),))

DEAD_LETTERS = TableSpec("dead_letters", _columns(f"""
    dl_date Date
    ts DateTime
    ts_ms UInt64
    dl_key String
    source {_LC}
    stage {_LC}
    reason String
    field String
    grid_id String
    raw String
    raw_truncated UInt8
"""), order_by=("stage", "dl_key"), version="ts_ms", times=(("dl_date", "ts", "ts_ms"),))

GRID_METRICS_1M = TableSpec("grid_metrics_1m", _columns(f"""
    minute_date Date
    minute DateTime
    minute_ms UInt64
    grid_id {_LC}
    community_id {_LC}
    reported UInt32
    closed UInt32
    completed UInt32
    on_time UInt32
    open_backlog UInt32
    overdue UInt32
    steps Array(String)
    step_n Array(UInt32)
    step_mean_ms Array(Float64)
    step_p90_ms Array(UInt64)
    version UInt64
"""), order_by=("grid_id", "minute_ms"), version="version",
    times=(("minute_date", "minute", "minute_ms"),))

# The readings' Date/DateTime default from ts_ms in ClickHouse (migration 0031): the sink
# sends only ts_ms.
SENSOR_READINGS = TableSpec("sensor_readings", _columns(f"""
    ts_ms UInt64
    reading_date Date derived
    ts DateTime derived
    grid_id {_LC}
    sensor_id String
    kind {_LC}
    value Float64
    level {_LC}
    batch_id String
"""), order_by=("grid_id", "sensor_id", "ts_ms"), version=None)

SENSOR_ROLLUP_1M = TableSpec("sensor_rollup_1m", _columns(f"""
    minute_date Date
    minute DateTime
    minute_ms UInt64
    grid_id {_LC}
    kind {_LC}
    readings UInt32
    value_sum Float64
    value_min Float64
    value_max Float64
    value_mean Float64
    version UInt64
"""), order_by=("grid_id", "kind", "minute_ms"), version="version",
    times=(("minute_date", "minute", "minute_ms"),))

_SCORE_COLUMNS = f"""
    score_date Date
    ts DateTime
    ts_ms UInt64
    minute_ms UInt64
    kind {_LC}
    subject String
    score Float64
    rank UInt32
    cases UInt32
    rank_change Int32
    score_change Float64
    breakdown String
    version UInt64
"""
SCORES = TableSpec("scores", _columns(_SCORE_COLUMNS), order_by=("kind", "subject", "minute_ms"),
                   version="version", times=(("score_date", "ts", "ts_ms"),))
SCORE_PERIODS = TableSpec("score_periods", _columns(f"""
    period {_LC}
    period_start_ms UInt64
""") + _columns(_SCORE_COLUMNS), order_by=("period", "period_start_ms", "kind", "subject"),
    version="version", times=(("score_date", "ts", "ts_ms"),))

GRID_REGISTERS = TableSpec("grid_registers", _columns(f"""
    updated_date Date
    updated_at DateTime
    updated_ms UInt64
    grid_id {_LC}
    figure {_LC}
    value Int64
    version UInt64
"""), order_by=("grid_id", "figure"), version="version",
    times=(("updated_date", "updated_at", "updated_ms"),))

TABLES: dict[str, TableSpec] = {t.name: t for t in (
    RAW_EVENTS, CASE_EVENTS, CASE_TRANSITIONS, CASES, ALERTS, ALERT_ACTIONS, CONFIG_CHANGES,
    DEAD_LETTERS, GRID_METRICS_1M, SENSOR_READINGS, SENSOR_ROLLUP_1M, SCORES, SCORE_PERIODS,
    GRID_REGISTERS)}
