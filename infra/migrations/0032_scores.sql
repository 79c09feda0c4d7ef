-- Streams II, scores and ranking: one row per subject (grid or worker) per minute with its
-- score, rank, trend and the explainable breakdown (JSON text: components, shares, weights,
-- points). ReplacingMergeTree by (kind, subject, minute) with a version: the latest score of
-- each minute wins, replays are harmless.
-- forwards
CREATE TABLE IF NOT EXISTS {db}.scores (
    score_date Date,
    ts DateTime,
    ts_ms UInt64,
    minute_ms UInt64,
    kind LowCardinality(String),
    subject String,
    score Float64,
    rank UInt32,
    cases UInt32,
    rank_change Int32,
    score_change Float64,
    breakdown String,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(score_date)
ORDER BY (kind, subject, minute_ms);
-- backwards
DROP TABLE IF EXISTS {db}.scores;
