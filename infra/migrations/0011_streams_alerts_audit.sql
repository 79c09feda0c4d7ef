-- Streams I, alerts and audits: alert state (ReplacingMergeTree by alert_id with the alert's
-- version), every alert action (accepted or rejected), every config change (accepted or
-- rejected, with before and after), and dead letters. Audit keys are deterministic (command
-- id, control-topic offset, dead-letter digest), so replays and several workers writing the
-- same audit leave one row per key in FINAL reads.
-- forwards
CREATE TABLE IF NOT EXISTS {db}.alerts (
    opened_date Date,
    opened_at DateTime,
    opened_ms UInt64,
    alert_id String,
    fingerprint String,
    group_key String,
    grid_id LowCardinality(String),
    kind LowCardinality(String),
    category LowCardinality(String),
    severity LowCardinality(String),
    status LowCardinality(String),
    title String,
    detail String,
    case_id String,
    sensor_id String,
    tier UInt8,
    assignee String,
    acked_by String,
    silenced_until_ms UInt64,
    silenced_by String,
    silence_comment String,
    shelved UInt8,
    updated_at DateTime,
    updated_ms UInt64,
    resolved_ms UInt64,
    occurrences UInt32,
    re_escalations UInt16,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(opened_date)
ORDER BY alert_id;
CREATE TABLE IF NOT EXISTS {db}.alert_actions (
    action_date Date,
    ts DateTime,
    ts_ms UInt64,
    action_id String,
    alert_id String,
    grid_id LowCardinality(String),
    action LowCardinality(String),
    actor String,
    role LowCardinality(String),
    outcome LowCardinality(String),
    detail String,
    status_before LowCardinality(String),
    status_after LowCardinality(String)
) ENGINE = ReplacingMergeTree(ts_ms)
PARTITION BY toYYYYMM(action_date)
ORDER BY (alert_id, action_id);
CREATE TABLE IF NOT EXISTS {db}.config_changes (
    change_date Date,
    ts DateTime,
    ts_ms UInt64,
    config_key LowCardinality(String),
    control_offset UInt64,
    actor String,
    accepted UInt8,
    reason String,
    before String,
    after String
) ENGINE = ReplacingMergeTree(ts_ms)
PARTITION BY toYYYYMM(change_date)
ORDER BY (config_key, control_offset);
CREATE TABLE IF NOT EXISTS {db}.dead_letters (
    dl_date Date,
    ts DateTime,
    ts_ms UInt64,
    dl_key String,
    source LowCardinality(String),
    stage LowCardinality(String),
    reason String,
    field String,
    grid_id String,
    raw String,
    raw_truncated UInt8
) ENGINE = ReplacingMergeTree(ts_ms)
PARTITION BY toYYYYMM(dl_date)
ORDER BY (stage, dl_key);
-- backwards
DROP TABLE IF EXISTS {db}.alerts;
DROP TABLE IF EXISTS {db}.alert_actions;
DROP TABLE IF EXISTS {db}.config_changes;
DROP TABLE IF EXISTS {db}.dead_letters;
