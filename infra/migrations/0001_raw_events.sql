-- Every accepted input as it entered GridWall (case events, sensor batches, department
-- records), one row per event. ReplacingMergeTree on (grid_id, kind, event_id) with the
-- ingest time as version, so a replay leaves one row per event in FINAL reads.
-- forwards
CREATE TABLE IF NOT EXISTS {db}.raw_events (
    received_date Date,
    received_at DateTime,
    received_ms UInt64,
    source LowCardinality(String),
    kind LowCardinality(String),
    event_id String,
    grid_id LowCardinality(String),
    payload String
) ENGINE = ReplacingMergeTree(received_ms)
PARTITION BY toYYYYMM(received_date)
ORDER BY (grid_id, kind, event_id);
-- backwards
DROP TABLE IF EXISTS {db}.raw_events;
