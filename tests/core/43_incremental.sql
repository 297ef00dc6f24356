-- Incremental evaluation and the fact reader as a table (issue 18).
--   - the reader's description of every table it reads names an index of
--     the shape it relies on (careflags.fact_reader_indexes() against
--     pg_index), and those shapes are pinned here;
--   - a fact write reads only the tables of the rules its table feeds
--     (index scans counted in pg_stat_xact_user_tables), and of an
--     assessment or a care plan only those of the domain its instrument or
--     kind concerns; a write of a table every rule reads reads them all;
--   - a write that changes no flag writes nothing but the fact (no
--     patient_state or flag row inserted or updated);
--   - the next check is kept per domain, next_check_at the earliest;
--   - the flags are those of a full evaluation (check_consistency()).
BEGIN;
\ir fixtures.psql
SET client_min_messages = warning;
SELECT plan(24);

-- the index shapes the reader relies on, pinned
SELECT results_eq(
    $$SELECT table_name, index_name, key_columns, partial FROM careflags.fact_reader_indexes()
       ORDER BY table_name, index_name$$,
    $$VALUES ('assessment', 'assessment_patient_time', '{patient_id,assessed_at}'::text[], false),
             ('care_plan', 'care_plan_patient', '{patient_id}', false),
             ('episode', 'episode_pkey', '{patient_id,episode_id}', false),
             ('exemption', 'exemption_patient', '{patient_id}', false),
             ('fall', 'fall_patient_time', '{patient_id,fell_at}', false),
             ('flag', 'flag_done_action', '{patient_id,flag_id}', true),
             ('flag', 'flag_one_open', '{patient_id,rule_id}', true),
             ('measurement', 'measurement_patient_time', '{patient_id,kind,measured_at}', false),
             ('medication', 'medication_patient_stop', '{patient_id,stopped_at}', false),
             ('medication_review', 'medication_review_patient_time', '{patient_id,reviewed_at}', false),
             ('patient', 'patient_pkey', '{patient_id}', false),
             ('patient_state', 'patient_state_pkey', '{patient_id}', false)$$,
    'the reader reads each table through the index pinned here');
SELECT is_empty(
    $$SELECT d.table_name, d.index_name, d.key_columns, k.cols, d.partial
        FROM careflags.fact_reader_indexes() d
        LEFT JOIN LATERAL (
             SELECT ARRAY(SELECT a.attname::text FROM unnest(i.indkey[0:i.indnkeyatts - 1]) WITH ORDINALITY u(att, n)
                            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = u.att ORDER BY u.n) AS cols,
                    i.indpred IS NOT NULL AS partial, ic.relname AS index_name, t.relname AS table_name
               FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
              WHERE ic.relnamespace = 'careflags'::regnamespace AND ic.relname = d.index_name) k ON true
       WHERE k.cols IS DISTINCT FROM d.key_columns OR k.partial IS DISTINCT FROM d.partial
          OR k.table_name IS DISTINCT FROM d.table_name$$,
    'every index the reader uses exists, on its table, with the key columns (and WHERE clause or none) it relies on');
SELECT is((SELECT count(*) FROM careflags.fact_reader_indexes() d
            WHERE d.table_name IN ('episode', 'assessment', 'measurement', 'medication', 'medication_review',
                                   'care_plan', 'fall', 'exemption')), 8::bigint,
          'every fact table is described once');

-- index scans per table in this transaction, before and after a statement
CREATE TEMP TABLE scans_before AS SELECT relname, idx_scan, n_tup_ins, n_tup_upd FROM pg_stat_xact_user_tables WHERE false;
CREATE FUNCTION pg_temp.mark() RETURNS void LANGUAGE sql AS $$
    TRUNCATE scans_before;
    INSERT INTO scans_before SELECT relname, idx_scan, n_tup_ins, n_tup_upd FROM pg_stat_xact_user_tables
     WHERE schemaname = 'careflags' $$;
CREATE FUNCTION pg_temp.read_since(tables text[]) RETURNS text[] LANGUAGE sql AS $$
    SELECT COALESCE(array_agg(t ORDER BY t), '{}') FROM unnest(tables) t
     WHERE (SELECT COALESCE(s.idx_scan, 0) FROM pg_stat_xact_user_tables s WHERE s.schemaname = 'careflags' AND s.relname = t)
         > COALESCE((SELECT b.idx_scan FROM scans_before b WHERE b.relname = t), 0) $$;
CREATE FUNCTION pg_temp.written_since(tables text[]) RETURNS bigint LANGUAGE sql AS $$
    SELECT COALESCE(sum(s.n_tup_ins + s.n_tup_upd - COALESCE(b.n_tup_ins + b.n_tup_upd, 0)), 0)::bigint
      FROM pg_stat_xact_user_tables s LEFT JOIN scans_before b USING (relname)
     WHERE s.schemaname = 'careflags' AND s.relname = ANY (tables) $$;

SELECT cft.at('2026-05-04 12:00+02');
SELECT cft.patient('nursing_home_long_term', '2026-01-10 10:00+01') AS pid \gset
SELECT cft.screen(:pid, '2026-01-11 10:00+01', 0);
SELECT cft.screen(:pid, '2026-01-11 11:00+01', 10, 'morse');
SELECT cft.review(:pid, '2026-01-12 10:00+01');
SELECT cft.weight(:pid, '2026-04-01 10:00+02', 70);
SELECT cft.weight(:pid, '2026-04-20 10:00+02', 70);
SELECT cft.medicine(:pid, 'C09AA05', '2026-02-01 10:00+01');
SELECT cft.fall(:pid, '2025-06-01 10:00+02');

-- the per-domain next check times
SELECT is((SELECT array_length(next_check_by_domain, 1) FROM careflags.patient_state WHERE patient_id = :pid), 3,
          'patient_state keeps a next check per domain');
SELECT ok((SELECT next_check_at IS NOT DISTINCT FROM (SELECT min(t) FROM unnest(next_check_by_domain) t)
             FROM careflags.patient_state WHERE patient_id = :pid),
          'next_check_at is the earliest of them');

-- a weight feeds the nutrition rules only
SELECT pg_temp.mark();
SELECT cft.weight(:pid, '2026-04-25 10:00+02', 70);
SELECT is(pg_temp.read_since('{measurement,assessment,care_plan,medication,medication_review,fall}'),
          '{assessment,care_plan,measurement}'::text[],
          'a weight: the nutrition rules'' tables are read, not the medicines, reviews or falls');
SELECT is(pg_temp.written_since('{flag,patient_state}'), 0::bigint,
          'a weight that changes no flag writes nothing but the fact (no flag, no patient_state row)');

-- a fall feeds the fall-risk rules and the fall-risk-drug review
SELECT pg_temp.mark();
SELECT cft.fall(:pid, '2026-05-02 10:00+02');
SELECT is(pg_temp.read_since('{measurement,assessment,care_plan,medication,medication_review,fall}'),
          '{assessment,care_plan,fall,medication,medication_review}'::text[],
          'a fall: not the weights');
SELECT ok(cft.is_open(:pid, 'fall_risk.assessment.after_fall'), 'and the after-fall flag is raised');

-- a medicine: the medication-review rules (count and fall-risk drugs)
SELECT pg_temp.mark();
SELECT cft.medicine(:pid, 'N05CF01', '2026-05-03 10:00+02');
SELECT is(pg_temp.read_since('{measurement,medication}'), '{medication}'::text[], 'a medicine: not the weights');
SELECT ok(cft.is_open(:pid, 'medication_review.fall_risk_drugs'), 'and the fall-risk-drug flag is raised');

-- an assessment or a care plan: only the domains its instrument or kind concerns
SELECT pg_temp.mark();
SELECT cft.screen(:pid, '2026-05-03 11:00+02', 1);
SELECT is(pg_temp.read_since('{measurement,assessment,care_plan,medication,medication_review,fall}'),
          '{assessment,care_plan,measurement}'::text[],
          'an MST screening: the nutrition rules'' tables, not the medicines, reviews or falls');
SELECT pg_temp.mark();
SELECT cft.screen(:pid, '2026-05-03 12:00+02', 50, 'morse');
SELECT is(pg_temp.read_since('{measurement,assessment,care_plan,medication,medication_review,fall}'),
          '{assessment,care_plan,fall,medication,medication_review}'::text[],
          'a Morse assessment: the fall-risk rules and the fall-risk-drug review, not the weights');
SELECT pg_temp.mark();
INSERT INTO careflags.care_plan (patient_id, kind, started_at) VALUES (:pid, 'nutrition', '2026-05-03 13:00+02');
SELECT is(pg_temp.read_since('{measurement,assessment,care_plan,medication,medication_review,fall}'),
          '{assessment,care_plan,measurement}'::text[],
          'a nutrition plan: the nutrition rules only');
SELECT pg_temp.mark();
UPDATE careflags.assessment SET instrument = 'downton', total = 3
 WHERE patient_id = :pid AND assessed_at = '2026-05-03 11:00+02';
SELECT is(pg_temp.read_since('{measurement,assessment,care_plan,medication,medication_review,fall}'),
          '{assessment,care_plan,fall,measurement,medication,medication_review}'::text[],
          'an MST screening changed into a Downton: the old row''s domain and the new one''s');
SELECT is_empty($$SELECT * FROM careflags.check_consistency() WHERE patient_id = $$ || :pid,
                'after these, the flags equal a full evaluation''s');

-- a table every rule reads: the whole patient
SELECT pg_temp.mark();
UPDATE careflags.episode SET unit_id = 'ward-1' WHERE patient_id = :pid;
SELECT is(pg_temp.read_since('{measurement,assessment,care_plan,medication,medication_review,fall}'),
          '{assessment,care_plan,fall,measurement,medication,medication_review}'::text[],
          'an episode: every table is read');
SELECT is((SELECT count(*) FROM careflags.flag WHERE patient_id = :pid AND resolved_at IS NULL AND unit_id <> 'ward-1'),
          0::bigint, 'and every open flag moves to the new unit');

-- a many-row statement for one patient: evaluated once
SELECT pg_temp.mark();
INSERT INTO careflags.measurement (patient_id, kind, value, measured_at)
SELECT :pid, 'weight', 70, '2026-04-26 10:00+02'::timestamptz + n * interval '1 hour' FROM generate_series(1, 20) n;
SELECT is((SELECT s.idx_scan - b.idx_scan FROM pg_stat_xact_user_tables s JOIN scans_before b USING (relname)
            WHERE s.schemaname = 'careflags' AND s.relname = 'patient_state'), 1::bigint,
          'twenty weights of one patient in one statement: the patient is evaluated once');

-- the same in row mode (Citus): the rows' patients are evaluated once, at the end of the statement
SELECT careflags.set_trigger_mode('row');
SELECT pg_temp.mark();
INSERT INTO careflags.measurement (patient_id, kind, value, measured_at)
SELECT :pid, 'weight', 70, '2026-04-27 10:00+02'::timestamptz + n * interval '1 hour' FROM generate_series(1, 20) n;
SELECT is((SELECT s.idx_scan - b.idx_scan FROM pg_stat_xact_user_tables s JOIN scans_before b USING (relname)
            WHERE s.schemaname = 'careflags' AND s.relname = 'patient_state'), 1::bigint,
          'row mode: twenty weights of one patient in one statement, the patient is evaluated once');
SELECT pg_temp.mark();
INSERT INTO careflags.fall (patient_id, fell_at)
SELECT :pid, '2026-05-03 20:00+02'::timestamptz + n * interval '1 minute' FROM generate_series(1, 3) n;
SELECT is(pg_temp.read_since('{measurement,fall}'), '{fall}'::text[],
          'row mode: and only the tables of the rules the written table feeds are read');
SELECT pg_temp.mark();
SELECT cft.screen(:pid, '2026-05-03 21:00+02', 1);
SELECT is(pg_temp.read_since('{measurement,assessment,care_plan,medication,medication_review,fall}'),
          '{assessment,care_plan,measurement}'::text[],
          'row mode: an MST screening, the nutrition rules'' tables only');
SELECT careflags.set_trigger_mode('statement');

-- the incremental path left what a full evaluation gives
SELECT is_empty($$SELECT * FROM careflags.check_consistency() WHERE patient_id = $$ || :pid,
                'the flags equal a full evaluation''s');
SELECT is(careflags.recompute_patient(:pid), 0::bigint, 'a full evaluation changes nothing');

SELECT * FROM finish();
ROLLBACK;
