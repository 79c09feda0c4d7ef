-- Scores per scoring period (day / week / month, config/scoring.yaml): one row per period,
-- subject kind and subject with its score, rank, trend against the previous period and
-- breakdown. ReplacingMergeTree by (period, period start, kind, subject) with a version:
-- while a period runs its row is replaced; once it is over nothing writes it again, so the
-- last row is the period's frozen result.
-- forwards
CREATE TABLE IF NOT EXISTS {db}.score_periods (
    period LowCardinality(String),
    period_start_ms UInt64,
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
ORDER BY (period, period_start_ms, kind, subject);
-- backwards
DROP TABLE IF EXISTS {db}.score_periods;
