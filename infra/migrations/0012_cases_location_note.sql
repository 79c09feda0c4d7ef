-- Streams I: where a case was reported and its latest note, for the Open311 read side
-- (GeoReport v2 answers with lat/long and status_notes). Null location: reported by grid.
-- forwards
ALTER TABLE {db}.cases ADD COLUMN lon Nullable(Float64);
ALTER TABLE {db}.cases ADD COLUMN lat Nullable(Float64);
ALTER TABLE {db}.cases ADD COLUMN note String
-- backwards
ALTER TABLE {db}.cases DROP COLUMN lon;
ALTER TABLE {db}.cases DROP COLUMN lat;
ALTER TABLE {db}.cases DROP COLUMN note
