-- Streams II, sensors: every reading (ReplacingMergeTree by sensor and reading time, so a
-- replay leaves one row per reading in FINAL reads) and a 1-minute rollup per grid and kind
-- written by the sensors agent as full aggregates with a version (rewrites are harmless).
-- The readings' Date/DateTime columns default from ts_ms, so the sink sends only ts_ms
-- (ClickHouse derives them in C++; in the sink it was a third of the per-row Python cost).
-- forwards
CREATE TABLE IF NOT EXISTS {db}.sensor_readings (
    ts_ms UInt64,
    reading_date Date DEFAULT toDate(toDateTime(intDiv(ts_ms, 1000))),
    ts DateTime DEFAULT toDateTime(intDiv(ts_ms, 1000)),
    grid_id LowCardinality(String),
    sensor_id String,
    kind LowCardinality(String),
    value Float64,
    level LowCardinality(String),
    batch_id String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(reading_date)
ORDER BY (grid_id, sensor_id, ts_ms);
CREATE TABLE IF NOT EXISTS {db}.sensor_rollup_1m (
    minute_date Date,
    minute DateTime,
    minute_ms UInt64,
    grid_id LowCardinality(String),
    kind LowCardinality(String),
    readings UInt32,
    value_sum Float64,
    value_min Float64,
    value_max Float64,
    value_mean Float64,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(minute_date)
ORDER BY (grid_id, kind, minute_ms);
-- backwards
DROP TABLE IF EXISTS {db}.sensor_readings;
DROP TABLE IF EXISTS {db}.sensor_rollup_1m;
