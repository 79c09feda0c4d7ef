-- Streams I: where a case was reported and its latest note, for the Open311 read side
-- (GeoReport v2 answers with lat/long and status_notes). Null location: reported by grid.
-- IF [NOT] EXISTS: re-runnable after an interruption (infra/migrate.py checks the guard
-- itself on 18.16, which lacks it).
-- forwards
ALTER TABLE {db}.cases ADD COLUMN IF NOT EXISTS lon Nullable(Float64);
ALTER TABLE {db}.cases ADD COLUMN IF NOT EXISTS lat Nullable(Float64);
ALTER TABLE {db}.cases ADD COLUMN IF NOT EXISTS note String
-- backwards
ALTER TABLE {db}.cases DROP COLUMN IF EXISTS lon;
ALTER TABLE {db}.cases DROP COLUMN IF EXISTS lat;
ALTER TABLE {db}.cases DROP COLUMN IF EXISTS note
