-- Supervision orders (督办): the open order of each case, the unit that must act on it,
-- its deadline, who issued it (masked like every free text) and when, and when its deadline
-- passed unmet. Empty string / 0: no open order.
-- IF [NOT] EXISTS: re-runnable after an interruption.
-- forwards
ALTER TABLE {db}.cases ADD COLUMN IF NOT EXISTS supervision_unit LowCardinality(String);
ALTER TABLE {db}.cases ADD COLUMN IF NOT EXISTS supervision_deadline_ms UInt64;
ALTER TABLE {db}.cases ADD COLUMN IF NOT EXISTS supervision_by String;
ALTER TABLE {db}.cases ADD COLUMN IF NOT EXISTS supervision_since_ms UInt64;
ALTER TABLE {db}.cases ADD COLUMN IF NOT EXISTS supervision_breached_ms UInt64
-- backwards
ALTER TABLE {db}.cases DROP COLUMN IF EXISTS supervision_unit;
ALTER TABLE {db}.cases DROP COLUMN IF EXISTS supervision_deadline_ms;
ALTER TABLE {db}.cases DROP COLUMN IF EXISTS supervision_by;
ALTER TABLE {db}.cases DROP COLUMN IF EXISTS supervision_since_ms;
ALTER TABLE {db}.cases DROP COLUMN IF EXISTS supervision_breached_ms
