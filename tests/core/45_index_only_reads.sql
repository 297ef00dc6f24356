-- Index-only reads of a patient's facts (issue 18, cheaper single-row writes).
--   - assessment_patient_time and measurement_patient_time INCLUDE the
--     columns the evaluator reads (shapes pinned);
--   - on pages the visibility map marks all-visible the reader takes the
--     rows from the index alone (no heap fetch counted), and the evaluation
--     is the one the heap read made at commit (check_consistency() empty,
--     with flags that depend on the INCLUDEd values: a weight loss and an
--     at-risk screening);
--   - once a page is no longer all-visible (a row on it updated in this
--     transaction) the same rows are fetched from the heap, with the same
--     result;
--   - a row written in this transaction is seen (its page is never
--     all-visible to the reader);
--   - the transaction is SERIALIZABLE: a row read from the index alone
--     leaves a predicate lock on its heap page (a later change of the row
--     by another transaction, even one the index never sees, is a
--     read-write conflict), as an index-only scan does.
-- The patient is committed before the transaction and VACUUMed (pages can
-- only become all-visible outside it), and removed again at the end.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET careflags.frozen_now = '2026-03-10 12:00+01';
DELETE FROM careflags.patient WHERE source_key = 'ior-patient';
INSERT INTO careflags.unit (unit_id, name, setting) VALUES ('ior-1', 'Index-only test unit', 'nursing_home_long_term')
    ON CONFLICT DO NOTHING;
WITH p AS (INSERT INTO careflags.patient (birth_date, display_name, source_key)
           VALUES ('1940-01-15', 'Index-only Reads', 'ior-patient') RETURNING patient_id)
SELECT patient_id AS pid FROM p \gset
INSERT INTO careflags.episode (patient_id, setting, unit_id, started_at)
    VALUES (:pid, 'nursing_home_long_term', 'ior-1', '2025-09-01 10:00+02');
INSERT INTO careflags.assessment (patient_id, instrument, assessed_at, total)
    VALUES (:pid, 'mst', '2025-09-02 10:00+02', 0), (:pid, 'mst', '2026-03-04 10:00+01', 2);
INSERT INTO careflags.measurement (patient_id, kind, value, measured_at)
    VALUES (:pid, 'weight', 70, '2025-10-01 10:00+02'), (:pid, 'weight', 66, '2026-01-05 10:00+01'),
           (:pid, 'weight', 62.9, '2026-03-08 10:00+01');
VACUUM (FREEZE) careflags.assessment, careflags.measurement;

BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT plan(12);
SET LOCAL careflags.frozen_now = '2026-03-10 12:00+01';

SELECT is((SELECT array_agg(pg_get_indexdef(i.indexrelid) ORDER BY c.relname)
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE c.relnamespace = 'careflags'::regnamespace
              AND c.relname IN ('assessment_patient_time', 'measurement_patient_time')),
          ARRAY['CREATE INDEX assessment_patient_time ON careflags.assessment USING btree (patient_id, assessed_at) INCLUDE (assessment_id, instrument, total, at_risk)',
                'CREATE INDEX measurement_patient_time ON careflags.measurement USING btree (patient_id, kind, measured_at) INCLUDE (measurement_id, value)'],
          'the indexes the evaluator reads assessments and weights through INCLUDE the columns it reads');

-- what the flags are, raised by the heap read at commit
SELECT ok(EXISTS (SELECT FROM careflags.flag WHERE patient_id = :pid AND rule_id = 'nutrition.weight_loss' AND resolved_at IS NULL),
          'the weights (values) raised the weight-loss flag');
SELECT ok(EXISTS (SELECT FROM careflags.flag WHERE patient_id = :pid AND rule_id = 'nutrition.plan.missing' AND resolved_at IS NULL),
          'the at-risk screening (total, at_risk) raised the plan flag');

-- heap fetches and index entries read through the two indexes in this transaction
-- (the pg_stat_xact_* counters of the index relations)
CREATE TEMP TABLE ix_before (what text, n bigint);
CREATE FUNCTION pg_temp.counts() RETURNS TABLE (what text, n bigint) LANGUAGE sql AS $$
    SELECT 'read', sum(pg_stat_get_xact_tuples_returned(c.oid))::bigint FROM pg_class c
     WHERE c.relnamespace = 'careflags'::regnamespace AND c.relname IN ('assessment_patient_time', 'measurement_patient_time')
    UNION ALL
    SELECT 'fetch', sum(pg_stat_get_xact_tuples_fetched(c.oid))::bigint FROM pg_class c
     WHERE c.relnamespace = 'careflags'::regnamespace AND c.relname IN ('assessment_patient_time', 'measurement_patient_time') $$;
CREATE FUNCTION pg_temp.mark() RETURNS void LANGUAGE sql AS $$
    TRUNCATE ix_before; INSERT INTO ix_before SELECT * FROM pg_temp.counts() $$;
CREATE FUNCTION pg_temp.since(w text) RETURNS bigint LANGUAGE sql AS $$
    SELECT c.n - b.n FROM pg_temp.counts() c JOIN ix_before b USING (what) WHERE c.what = w $$;

-- all-visible pages: from the index alone, the same evaluation
SELECT pg_temp.mark();
SELECT is_empty($$SELECT * FROM careflags.check_consistency() WHERE patient_id = $$ || :pid,
                'all-visible pages: the evaluation read from the indexes alone equals the heap read''s flags');
SELECT cmp_ok(pg_temp.since('read'), '>=', 5::bigint, '... which read the patient''s index entries');
SELECT is(pg_temp.since('fetch'), 0::bigint, '... and fetched no row from the table');
SELECT is((SELECT array_agg(DISTINCT c.relname::text ORDER BY c.relname::text) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
            WHERE l.pid = pg_backend_pid() AND l.mode = 'SIReadLock' AND l.locktype IN ('page', 'relation')
              AND c.relname IN ('assessment', 'measurement') AND c.relnamespace = 'careflags'::regnamespace),
          '{assessment,measurement}'::text[],
          '... and left a predicate lock on the tables'' pages it did not visit (serializable)');
SELECT pg_temp.mark();
SELECT is(careflags.recompute_patient(:pid), 0::bigint, 'a full evaluation through the indexes changes no flag');

-- the pages no longer all-visible (a row on each updated here): fetched from the heap
UPDATE careflags.assessment SET band = band WHERE patient_id = :pid AND assessed_at = '2025-09-02 10:00+02';
UPDATE careflags.measurement SET value = value WHERE patient_id = :pid AND measured_at = '2025-10-01 10:00+02';
SELECT pg_temp.mark();
SELECT is_empty($$SELECT * FROM careflags.check_consistency() WHERE patient_id = $$ || :pid,
                'pages not all-visible: the heap read gives the same evaluation');
SELECT cmp_ok(pg_temp.since('fetch'), '>=', 2::bigint, '... with the rows of those pages fetched from the table');

-- a row written in this transaction is read (its page is not all-visible)
INSERT INTO careflags.measurement (patient_id, kind, value, measured_at) VALUES (:pid, 'weight', 69, '2026-03-09 10:00+01');
SELECT ok(NOT EXISTS (SELECT FROM careflags.flag WHERE patient_id = :pid AND rule_id = 'nutrition.weight_loss' AND resolved_at IS NULL),
          'a weight written now is read: the weight-loss flag is cleared');
INSERT INTO careflags.care_plan (patient_id, kind, started_at) VALUES (:pid, 'nutrition', '2026-03-09 11:00+01');
SELECT is_empty($$SELECT * FROM careflags.check_consistency() WHERE patient_id = $$ || :pid,
                'and the incremental path still equals a full evaluation');

SELECT * FROM finish();
ROLLBACK;

-- the committed patient and unit removed again
SET client_min_messages = warning;
DELETE FROM careflags.patient WHERE source_key = 'ior-patient';
DELETE FROM careflags.unit WHERE unit_id = 'ior-1' AND NOT EXISTS (SELECT FROM careflags.episode WHERE unit_id = 'ior-1');
