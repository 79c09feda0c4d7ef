-- Streams II, grid metrics per minute, written by the metrics agent (not a materialized
-- view: see docs/metrics.md for the measurement and the replay argument). One row per grid
-- and minute holding the minute's full aggregate; the agent rewrites a minute whenever it
-- changes, with a newer version, so FINAL reads see the latest and a replay is harmless.
-- Community and street figures are sums over grids (p90 is kept per grid only).
-- forwards
CREATE TABLE IF NOT EXISTS {db}.grid_metrics_1m (
    minute_date Date,
    minute DateTime,
    minute_ms UInt64,
    grid_id LowCardinality(String),
    community_id LowCardinality(String),
    reported UInt32,
    closed UInt32,
    completed UInt32,
    on_time UInt32,
    open_backlog UInt32,
    overdue UInt32,
    steps Array(String),
    step_n Array(UInt32),
    step_mean_ms Array(Float64),
    step_p90_ms Array(UInt64),
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(minute_date)
ORDER BY (grid_id, minute_ms);
-- backwards
DROP TABLE IF EXISTS {db}.grid_metrics_1m;
