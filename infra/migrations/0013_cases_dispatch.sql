-- Dispatch and routing: the unit holding each case and the person within it, the unit it
-- was last dispatched to, its attachments (http(s) URLs: Open311 media_url, photos); every
-- transition names the holder before and after, the person and the reason (a decline's),
-- so the timeline says who held the case at every moment. Empty string: none.
-- IF [NOT] EXISTS: re-runnable after an interruption (infra/migrate.py checks the guard
-- itself on 18.16, which lacks it).
-- forwards
ALTER TABLE {db}.cases ADD COLUMN IF NOT EXISTS unit LowCardinality(String);
ALTER TABLE {db}.cases ADD COLUMN IF NOT EXISTS assignee String;
ALTER TABLE {db}.cases ADD COLUMN IF NOT EXISTS dispatched_unit LowCardinality(String);
ALTER TABLE {db}.cases ADD COLUMN IF NOT EXISTS attachments Array(String);
ALTER TABLE {db}.case_transitions ADD COLUMN IF NOT EXISTS from_unit LowCardinality(String);
ALTER TABLE {db}.case_transitions ADD COLUMN IF NOT EXISTS to_unit LowCardinality(String);
ALTER TABLE {db}.case_transitions ADD COLUMN IF NOT EXISTS assignee String;
ALTER TABLE {db}.case_transitions ADD COLUMN IF NOT EXISTS reason String
-- backwards
ALTER TABLE {db}.cases DROP COLUMN IF EXISTS unit;
ALTER TABLE {db}.cases DROP COLUMN IF EXISTS assignee;
ALTER TABLE {db}.cases DROP COLUMN IF EXISTS dispatched_unit;
ALTER TABLE {db}.cases DROP COLUMN IF EXISTS attachments;
ALTER TABLE {db}.case_transitions DROP COLUMN IF EXISTS from_unit;
ALTER TABLE {db}.case_transitions DROP COLUMN IF EXISTS to_unit;
ALTER TABLE {db}.case_transitions DROP COLUMN IF EXISTS assignee;
ALTER TABLE {db}.case_transitions DROP COLUMN IF EXISTS reason
