-- Deferred evaluation: a bulk loader evaluates each patient once, at commit.
\set ON_ERROR_STOP 1
\set QUIET 1
SET client_min_messages = warning;
SELECT plan(9);

-- inside one transaction: nothing until evaluate_deferred()
BEGIN;
SELECT set_config('careflags.frozen_now', '2026-03-10 12:00+01', true);
SET LOCAL careflags.defer_evaluation = on;
INSERT INTO careflags.patient (source_system, source_key, birth_date) VALUES ('defer-test', 'a', '1940-01-01');
INSERT INTO careflags.episode (patient_id, setting, started_at)
     SELECT patient_id, 'nursing_home_long_term', '2026-03-05 10:00+01' FROM careflags.patient WHERE source_system = 'defer-test';
INSERT INTO careflags.assessment (patient_id, instrument, assessed_at, total)
     SELECT patient_id, 'mst', '2026-03-06 10:00+01', 0 FROM careflags.patient WHERE source_system = 'defer-test';
SELECT is((SELECT count(*) FROM careflags.flag f JOIN careflags.patient p USING (patient_id) WHERE p.source_system = 'defer-test'),
          0::bigint, 'deferred: no flags after the statements');
SELECT is((SELECT count(*) FROM careflags.deferred_evaluation), 1::bigint, 'one marker queues the evaluation at commit');
SELECT is(careflags.evaluate_deferred(), 1, 'evaluate_deferred() evaluates the one patient written three times');
SELECT is((SELECT array_agg(rule_id ORDER BY rule_id) FROM careflags.flag f JOIN careflags.patient p USING (patient_id)
            WHERE p.source_system = 'defer-test' AND f.resolved_at IS NULL),
          '{fall_risk.assessment.admission,medication_review.admission,nutrition.screening.repeat}'::text[],
          'and its flags are those of the final facts (never the screening flag in between)');
ROLLBACK;

-- committed: evaluated at commit
SET careflags.defer_evaluation = on;
BEGIN;
INSERT INTO careflags.patient (source_system, source_key, birth_date)
     SELECT 'defer-test', n::text, '1940-01-01' FROM generate_series(1, 50) n;
INSERT INTO careflags.episode (patient_id, setting, started_at)
     SELECT patient_id, 'home_nursing', now() - interval '3 days' FROM careflags.patient WHERE source_system = 'defer-test';
SELECT is((SELECT count(*) FROM careflags.flag f JOIN careflags.patient p USING (patient_id) WHERE p.source_system = 'defer-test'),
          0::bigint, 'before commit: none yet');
COMMIT;
RESET careflags.defer_evaluation;
SELECT is((SELECT count(DISTINCT patient_id) FROM careflags.flag f JOIN careflags.patient p USING (patient_id)
            WHERE p.source_system = 'defer-test' AND f.resolved_at IS NULL), 50::bigint, 'after commit: all 50 patients have their flags');
SELECT is((SELECT count(*) FROM careflags.deferred_evaluation), 0::bigint, 'the marker is gone');
SELECT is_empty($$SELECT * FROM careflags.check_consistency() c JOIN careflags.patient p USING (patient_id)
                   WHERE p.source_system = 'defer-test'$$, 'and the flags are consistent');

-- an aborted deferred transaction leaves nothing behind
SET careflags.defer_evaluation = on;
BEGIN;
INSERT INTO careflags.patient (source_system, source_key, birth_date) VALUES ('defer-test', 'x', '1940-01-01');
ROLLBACK;
RESET careflags.defer_evaluation;
SELECT is((SELECT count(*) FROM careflags.deferred_evaluation), 0::bigint, 'a rolled-back deferral leaves no marker');

DELETE FROM careflags.patient WHERE source_system = 'defer-test';
SELECT * FROM finish();
