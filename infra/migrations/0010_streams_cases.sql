-- Streams I, the case workflow: raw case events, every transition, current case state.
-- All three are ReplacingMergeTree so that a replay after a crash leaves one row per key in
-- FINAL reads: events by (case_id, event_id), transitions by (case_id, event_id), current
-- state by case_id with the case's version (number of events applied) as the version.
-- forwards
CREATE TABLE IF NOT EXISTS {db}.case_events (
    event_date Date,
    ts DateTime,
    ts_ms UInt64,
    event_id String,
    case_id String,
    grid_id LowCardinality(String),
    action LowCardinality(String),
    source LowCardinality(String),
    actor String,
    category LowCardinality(String),
    priority LowCardinality(String),
    kafka_partition UInt16,
    kafka_offset UInt64,
    payload String
) ENGINE = ReplacingMergeTree(kafka_offset)
PARTITION BY toYYYYMM(event_date)
ORDER BY (case_id, event_id);
CREATE TABLE IF NOT EXISTS {db}.case_transitions (
    event_date Date,
    ts DateTime,
    ts_ms UInt64,
    case_id String,
    event_id String,
    grid_id LowCardinality(String),
    action LowCardinality(String),
    from_step LowCardinality(String),
    to_step LowCardinality(String),
    from_tier UInt8,
    to_tier UInt8,
    actor String,
    source LowCardinality(String),
    breach UInt8,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(event_date)
ORDER BY (case_id, event_id);
CREATE TABLE IF NOT EXISTS {db}.cases (
    opened_date Date,
    opened_at DateTime,
    opened_ms UInt64,
    case_id String,
    grid_id LowCardinality(String),
    category LowCardinality(String),
    priority LowCardinality(String),
    step LowCardinality(String),
    tier UInt8,
    step_entered_ms UInt64,
    updated_at DateTime,
    updated_ms UInt64,
    deadline_ms UInt64,
    on_spot UInt8,
    reopen_count UInt16,
    escalations UInt16,
    breaches UInt16,
    rating UInt8,
    source LowCardinality(String),
    description String,
    actor String,
    last_event_id String,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(opened_date)
ORDER BY case_id;
-- backwards
DROP TABLE IF EXISTS {db}.case_events;
DROP TABLE IF EXISTS {db}.case_transitions;
DROP TABLE IF EXISTS {db}.cases;
