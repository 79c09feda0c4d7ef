-- Streams II, grid registers: aggregated counts per grid and figure (population,
-- households, special groups, buildings, compounds, enterprises, party organisations,
-- incidents). Counts only: no personal data. The latest version per (grid, figure) wins.
-- forwards
CREATE TABLE IF NOT EXISTS {db}.grid_registers (
    updated_date Date,
    updated_at DateTime,
    updated_ms UInt64,
    grid_id LowCardinality(String),
    figure LowCardinality(String),
    value Int64,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(updated_date)
ORDER BY (grid_id, figure);
-- backwards
DROP TABLE IF EXISTS {db}.grid_registers;
