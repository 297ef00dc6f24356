-- Roles, what each reads, actions and the tamper-evident audit.
-- Issue 13 item 4 (cross-unit leaks): nurses read views, not base tables, and
-- EXPLAIN ANALYZE tells them nothing of other units (c); a former resident is
-- visible for the unit's visible_after_leaving only (d); unit_access is keyed
-- by the role's oid (e) and a nurse reads only her own rows of it (f); flag
-- events go to the outbox careflags.flag_event, read through
-- careflags.my_flag_events by unit (a; the NOTIFY payload itself is checked
-- in tests/reliability/60_security.sql, careflags watch in tests/cli/40_watch.sql).
BEGIN;
\ir fixtures.psql
SELECT plan(66);

SELECT cft.at('2026-03-10 12:00+01');
CREATE ROLE cft_nurse_a LOGIN IN ROLE careflags_nurse;
CREATE ROLE cft_nurse_b LOGIN IN ROLE careflags_nurse;
CREATE ROLE cft_quality LOGIN IN ROLE careflags_quality;
CREATE ROLE cft_admin LOGIN IN ROLE careflags_admin;
CREATE ROLE cft_ward_a_staff NOLOGIN;
CREATE ROLE cft_stranger LOGIN;
GRANT cft_ward_a_staff TO cft_nurse_a;
INSERT INTO careflags.unit (unit_id, name, setting) VALUES
    ('ward-a', 'Ward A', 'nursing_home_long_term'), ('ward-b', 'Ward B', 'nursing_home_long_term');
INSERT INTO careflags.unit_access (unit_id, role) VALUES ('ward-a', 'cft_ward_a_staff'), ('ward-b', 'cft_nurse_b');

CREATE TEMP TABLE pa AS SELECT cft.patient('nursing_home_long_term', '2026-03-05 10:00+01', '1940-01-01', 'ward-a') AS id;
CREATE TEMP TABLE pb AS SELECT cft.patient('nursing_home_long_term', '2026-03-05 10:00+01', '1940-01-01', 'ward-b') AS id;
UPDATE careflags.patient SET display_name = 'Anna A' WHERE patient_id = (SELECT id FROM pa);
UPDATE careflags.patient SET display_name = 'Bjørn B' WHERE patient_id = (SELECT id FROM pb);
CREATE TEMP TABLE b_flag AS SELECT min(flag_id) AS id FROM careflags.flag WHERE patient_id = (SELECT id FROM pb) AND resolved_at IS NULL;
GRANT SELECT ON pa, pb, b_flag TO PUBLIC;

-- ---- nurse of ward A ----
SET LOCAL ROLE cft_nurse_a;
SELECT is((SELECT array_agg(DISTINCT unit_id) FROM careflags.worklist), '{ward-a}'::text[], 'nurse A''s worklist shows ward A only (through a group role)');
SELECT is((SELECT count(*) FROM careflags.worklist), 3::bigint, 'the three admission flags of her patient');
SELECT is((SELECT patient FROM careflags.worklist LIMIT 1), 'Anna A', 'with the patient''s name');
SELECT is_empty($$SELECT * FROM careflags.my_patients WHERE patient_id = (SELECT id FROM pb)$$, 'she cannot read ward B''s patient');
SELECT is_empty($$SELECT * FROM careflags.my_flags WHERE patient_id = (SELECT id FROM pb)$$, 'nor ward B''s flags');
SELECT is((SELECT array_agg(patient_id) FROM careflags.my_patients), ARRAY[(SELECT id FROM pa)], 'her patients: ward A''s resident');
SELECT is((SELECT count(*) FROM careflags.my_flags), 3::bigint, 'her open flags: the three of her patient');
SELECT throws_ok($$SELECT * FROM careflags.audit$$, '42501', NULL, 'nor the audit table');
SELECT throws_ok($$SELECT * FROM careflags.assessment$$, '42501', NULL, 'nor the facts directly');
SELECT throws_ok($$UPDATE careflags.flag SET resolved_at = now(), resolution = 'done'$$, '42501', NULL, 'she cannot write flags directly');
SELECT throws_ok($$INSERT INTO careflags.audit VALUES (1, 1, 1, 'acknowledge', 'x', now(), '{}', NULL, '\x00')$$, '42501', NULL, 'nor forge audit rows');
SELECT throws_ok(format('SELECT careflags.acknowledge(%s)', (SELECT id FROM b_flag)),
                 'P0002', NULL, 'acting on ward B''s flag is refused as if it did not exist');
SELECT cmp_ok(careflags.acknowledge((SELECT flag_id FROM careflags.worklist WHERE rule_id = 'medication_review.admission'), 'doctor informed'),
              '>', 0::bigint, 'she acknowledges her patient''s flag');
SELECT is((SELECT acknowledged_by::text FROM careflags.worklist WHERE rule_id = 'medication_review.admission'), 'cft_nurse_a', 'the acknowledgement names her');
SELECT throws_ok(format('SELECT careflags.snooze(%s, %L)', (SELECT flag_id FROM careflags.worklist WHERE rule_id = 'fall_risk.assessment.admission'), '2026-03-30 12:00+01'),
                 '22023', NULL, 'snoozing beyond the rule''s maximum is refused');
SELECT lives_ok(format('SELECT careflags.snooze(%s, %L)', (SELECT flag_id FROM careflags.worklist WHERE rule_id = 'fall_risk.assessment.admission'), '2026-03-12 12:00+01'),
                'snoozing within the maximum works');
SELECT ok(NOT EXISTS (SELECT FROM careflags.worklist WHERE rule_id = 'fall_risk.assessment.admission'), 'the snoozed flag leaves the worklist');
SELECT throws_ok(format('SELECT careflags.exempt(%s, %L)', (SELECT flag_id FROM careflags.worklist WHERE rule_id = 'nutrition.screening.admission_long_term'), '  '),
                 '22023', NULL, 'an exemption needs a reason');
SELECT lives_ok(format('SELECT careflags.exempt(%s, %L, %L)', (SELECT flag_id FROM careflags.worklist WHERE rule_id = 'nutrition.screening.admission_long_term'),
                'end-of-life care', '2026-04-10 12:00+01'), 'she exempts a flag as not relevant');
SELECT ok(NOT EXISTS (SELECT FROM careflags.worklist WHERE rule_id LIKE 'nutrition.%'), 'the exempted flag is resolved');
SELECT throws_ok($$SELECT careflags.recompute_all()$$, '42501', NULL, 'she cannot run admin functions');
SELECT throws_ok($$SET careflags.frozen_now = '2030-01-01'$$, '42501', NULL, 'she cannot move careflags'' clock');
RESET ROLE;
SELECT cft.at('2026-03-10 12:00+01');

-- ---- nurse of ward B ----
SET LOCAL ROLE cft_nurse_b;
SELECT is((SELECT array_agg(DISTINCT unit_id) FROM careflags.worklist), '{ward-b}'::text[], 'nurse B sees ward B only');
RESET ROLE;

-- ---- (c) nurses read views, not base tables; EXPLAIN ANALYZE tells nothing of other units ----
SELECT is((SELECT string_agg(t, ', ' ORDER BY t) FROM unnest(ARRAY['flag', 'patient', 'episode', 'unit_access', 'flag_event', 'assessment']) t
            WHERE has_table_privilege('careflags_nurse', 'careflags.' || t, 'SELECT')), NULL,
          'careflags_nurse has no SELECT on a base table of flags, patients, episodes, unit access, events or facts');
SELECT is((SELECT string_agg(t, ', ' ORDER BY t) FROM unnest(ARRAY['worklist', 'my_flags', 'my_patients', 'my_flag_events', 'my_unit_access']) t
            WHERE NOT has_table_privilege('careflags_nurse', 'careflags.' || t, 'SELECT')), NULL,
          'she reads the views worklist, my_flags, my_patients, my_flag_events and my_unit_access');
-- EXPLAIN ANALYZE of a probe, with the probed value blanked out; 'refused'
-- when the role may not run it.  A leak is any difference between probing
-- a value another unit has and one that exists nowhere.
CREATE FUNCTION pg_temp.probe(q text, x text, opts text DEFAULT 'ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF') RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    l text;
    o text := '';
BEGIN
    FOR l IN EXECUTE 'EXPLAIN (' || opts || ') ' || format(q, x) LOOP
        o := o || replace(l, quote_literal(x), '?') || E'\n';
    END LOOP;
    RETURN o;
EXCEPTION WHEN insufficient_privilege THEN
    RETURN 'refused';
END $$;
CREATE TEMP TABLE probes (what text, q text, other text, nowhere text);
INSERT INTO probes VALUES
    ('the flag table by patient', 'SELECT * FROM careflags.flag WHERE patient_id = %L', (SELECT id FROM pb)::text, '-1'),
    ('the patient table by name', 'SELECT * FROM careflags.patient WHERE display_name = %L', 'Bjørn B', 'Nobody Anywhere'),
    ('the episode table by patient', 'SELECT * FROM careflags.episode WHERE patient_id = %L', (SELECT id FROM pb)::text, '-1'),
    ('the worklist by patient', 'SELECT * FROM careflags.worklist WHERE patient_id = %L', (SELECT id FROM pb)::text, '-1'),
    ('the worklist by patient and rule', 'SELECT * FROM careflags.worklist WHERE patient_id = %L AND rule_id = ''medication_review.admission''', (SELECT id FROM pb)::text, '-1'),
    ('my_flags by flag id', 'SELECT * FROM careflags.my_flags WHERE flag_id = %L', (SELECT id FROM b_flag)::text, '-1'),
    ('my_patients by name', 'SELECT * FROM careflags.my_patients WHERE display_name = %L', 'Bjørn B', 'Nobody Anywhere'),
    ('my_patients by patient', 'SELECT * FROM careflags.my_patients WHERE patient_id = %L', (SELECT id FROM pb)::text, '-1'),
    ('my_flag_events by patient', 'SELECT * FROM careflags.my_flag_events WHERE patient_id = %L', (SELECT id FROM pb)::text, '-1');
GRANT SELECT ON probes TO PUBLIC;
SET LOCAL ROLE cft_nurse_a;
CREATE TEMP TABLE probed AS SELECT what, pg_temp.probe(q, other) AS other, pg_temp.probe(q, nowhere) AS nowhere FROM probes;
RESET ROLE;
SELECT is((SELECT string_agg(what, '; ') FROM probed WHERE other IS DISTINCT FROM nowhere), NULL,
          'EXPLAIN ANALYZE as nurse A: probing ward B''s patient, name or flag looks exactly like probing one that does not exist');
-- the planner's estimates (plain EXPLAIN) come from the statistics of all
-- units: a name four of ward B's patients share is no more likely than none
INSERT INTO careflags.patient (display_name, birth_date) SELECT 'Dup Name', '1940-01-01' FROM generate_series(1, 4);
ANALYZE careflags.patient;
SET LOCAL ROLE cft_nurse_a;
SELECT is(pg_temp.probe('SELECT * FROM careflags.my_patients WHERE display_name = %L', 'Dup Name', 'COSTS ON'),
          pg_temp.probe('SELECT * FROM careflags.my_patients WHERE display_name = %L', 'Nobody Anywhere', 'COSTS ON'),
          'plain EXPLAIN as nurse A: a name shared by patients of other units is estimated like one that does not exist');
RESET ROLE;
SELECT is((SELECT string_agg(what, '; ' ORDER BY what) FROM probed WHERE other = 'refused'),
          'the episode table by patient; the flag table by patient; the patient table by name', '... the base tables are refused outright');
-- a leaky function of her own, made cheap so the planner would like to run it early
SET LOCAL ROLE cft_nurse_a;
CREATE TEMP TABLE seen (v text);
CREATE FUNCTION pg_temp.leak(v text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS
$$ BEGIN INSERT INTO pg_temp.seen VALUES (v); RETURN true; END $$;
SELECT count(*) FROM careflags.worklist WHERE pg_temp.leak(patient || ' ' || unit_id) \g /dev/null
SELECT count(*) FROM careflags.my_patients WHERE pg_temp.leak(display_name || ' ' || unit_id) \g /dev/null
SELECT count(*) FROM careflags.my_flags WHERE pg_temp.leak(reason || ' ' || unit_id) \g /dev/null
SELECT count(*) FROM careflags.my_flag_events WHERE pg_temp.leak(rule_id || ' ' || unit_id) \g /dev/null
SELECT count(*) FROM careflags.my_unit_access WHERE pg_temp.leak(unit_id || ' ' || role::text) \g /dev/null
SELECT is((SELECT count(*) FROM pg_temp.seen WHERE v ~ 'ward-b|Bjørn|cft_nurse_b'), 0::bigint,
          'a leaky function of hers in WHERE sees no row of ward B in any view');
SELECT cmp_ok((SELECT count(*) FROM pg_temp.seen), '>', 0::bigint, '... (it ran: it saw her own rows)');
RESET ROLE;

-- a unit of 30 beds among 20 others: the worklist is an index read, my_units() runs once
SET LOCAL careflags.isolate_evaluation = off;
INSERT INTO careflags.unit (unit_id, name, setting) SELECT 'big-' || u, 'Big ' || u, 'nursing_home_long_term' FROM generate_series(1, 21) u;
INSERT INTO careflags.patient (source_system, source_key, display_name, birth_date)
SELECT 'cft-big', 'big-' || i, 'Big ' || i, '1940-01-01' FROM generate_series(1, 630) i;
INSERT INTO careflags.episode (patient_id, setting, unit_id, started_at)
SELECT patient_id, 'nursing_home_long_term', 'big-' || (1 + patient_id % 21), '2026-03-01' FROM careflags.patient WHERE source_system = 'cft-big';
INSERT INTO careflags.unit_access (unit_id, role) VALUES ('big-1', 'cft_nurse_b');
ANALYZE careflags.flag, careflags.patient, careflags.episode, careflags.unit_access;
SET LOCAL ROLE cft_nurse_b;
CREATE TEMP TABLE plan_b AS SELECT pg_temp.probe('SELECT * FROM careflags.worklist WHERE unit_id <> %L', 'x') AS p;
RESET ROLE;
SELECT ok((SELECT p ~ 'Scan (using|on) flag_open_unit[^\n]*\(actual rows=[0-9]+ loops=[0-9]+\)\n *Index Cond: \(unit_id = mu.unit_id\)' FROM plan_b),
          'a 30-bed unit''s worklist reads the open flags of the nurse''s units by index (flag_open_unit, unit_id = each of her units)');
SELECT is((SELECT string_agg(l, ' | ') FROM plan_b, regexp_split_to_table(p, E'\n') l
            WHERE l ~ 'Seq Scan on (flag|patient|episode) ' AND l !~ 'never executed'), NULL,
          '... and scans no table of flags, patients or episodes whole');
SELECT ok((SELECT p ~ 'InitPlan [0-9]+ \(returns \$[0-9]+\)\n *->  Result \(actual rows=1 loops=1\)'
                  AND (SELECT count(*) FROM regexp_matches(p, 'InitPlan', 'g')) = 1 FROM plan_b),
          'my_units() is evaluated once for the whole query (one InitPlan, one loop), not per row');
SET LOCAL ROLE cft_nurse_b;
SELECT is((SELECT count(DISTINCT patient_id) FROM careflags.worklist WHERE unit_id = 'big-1'), 30::bigint, 'the 30 patients of that unit are on the worklist');
RESET ROLE;
DELETE FROM careflags.unit_access WHERE unit_id = 'big-1';

-- ---- (d) former residents: visible for the unit's period after leaving, not forever ----
CREATE TEMP TABLE pc AS SELECT cft.patient('nursing_home_long_term', '2026-01-05 10:00+01', '1940-01-01', 'ward-a') AS id;
CREATE TEMP TABLE pd AS SELECT cft.patient('nursing_home_long_term', '2025-10-05 10:00+01', '1940-01-01', 'ward-a') AS id;
GRANT SELECT ON pc, pd TO PUBLIC;
UPDATE careflags.episode SET ended_at = '2026-02-28 10:00+01' WHERE patient_id = (SELECT id FROM pc);  -- left 10 days ago
UPDATE careflags.episode SET ended_at = '2026-01-29 10:00+01' WHERE patient_id = (SELECT id FROM pd);  -- left 40 days ago
SET LOCAL ROLE cft_nurse_a;
SELECT ok(EXISTS (SELECT FROM careflags.my_patients WHERE patient_id = (SELECT id FROM pc)), 'a resident who left ward A 10 days ago is still visible to ward A (default 30 days)');
SELECT ok(NOT EXISTS (SELECT FROM careflags.my_patients WHERE patient_id = (SELECT id FROM pd)), 'one who left 40 days ago is not');
RESET ROLE;
SET LOCAL ROLE cft_admin;
UPDATE careflags.unit SET visible_after_leaving = '60 days' WHERE unit_id = 'ward-a';
RESET ROLE;
SET LOCAL ROLE cft_nurse_a;
SELECT ok(EXISTS (SELECT FROM careflags.my_patients WHERE patient_id = (SELECT id FROM pd)), 'the admin sets the period per unit: with 60 days she is visible again');
RESET ROLE;
UPDATE careflags.unit SET visible_after_leaving = '0' WHERE unit_id = 'ward-a';
SET LOCAL ROLE cft_nurse_a;
SELECT is((SELECT array_agg(patient_id) FROM careflags.my_patients), ARRAY[(SELECT id FROM pa)], 'with 0, current residents only');
RESET ROLE;
UPDATE careflags.unit SET visible_after_leaving = DEFAULT WHERE unit_id = 'ward-a';
SELECT throws_ok($$UPDATE careflags.unit SET visible_after_leaving = '-1 day'$$, '23514', NULL, 'a negative period is refused');

-- ---- (e) unit access is keyed by the role itself ----
SELECT is((SELECT format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = 'careflags.unit_access'::regclass AND attname = 'role'),
          'regrole', 'unit_access.role is a regrole (the role''s oid)');
CREATE ROLE cft_gone NOLOGIN;
INSERT INTO careflags.unit_access (unit_id, role) VALUES ('ward-b', 'cft_gone');
DROP ROLE cft_gone;
CREATE ROLE cft_gone LOGIN IN ROLE careflags_nurse;
SET LOCAL ROLE cft_gone;
SELECT is(careflags.my_units(), '{}'::text[], 'a new role with a dropped role''s name gets none of its units');
SELECT is_empty($$SELECT * FROM careflags.worklist$$, '... and no flags');
RESET ROLE;
SELECT is((SELECT count(*) FROM careflags.unit_access_named WHERE unit_id = 'ward-b' AND role_dropped AND role_name IS NULL), 1::bigint,
          'careflags.unit_access_named shows the dropped role''s row for the DBA to delete');
SELECT is((SELECT string_agg(role_name, ',' ORDER BY role_name) FROM careflags.unit_access_named WHERE NOT role_dropped AND unit_id IN ('ward-a', 'ward-b')),
          'cft_nurse_b,cft_ward_a_staff', '... and the others by name');
CREATE TEMP TABLE dumped AS SELECT 0::bigint AS n;
DO $$ BEGIN
    EXECUTE format('UPDATE dumped SET n = (SELECT count(*) FROM careflags.unit_access %s)',
                   (SELECT w FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS u(c, w)
                     WHERE e.extname = 'careflags' AND c = 'careflags.unit_access'::regclass));
END $$;
SELECT is((SELECT n FROM dumped), (SELECT count(*) FROM careflags.unit_access) - 1, 'pg_dump leaves the dropped role''s row out (its oid could name another role where the dump is restored)');

-- ---- (f) a nurse reads only her own unit_access rows ----
SET LOCAL ROLE cft_nurse_a;
SELECT throws_ok($$SELECT count(*) FROM careflags.unit_access$$, '42501', NULL, 'nurse A cannot read the whole unit_access table');
SELECT is((SELECT array_agg(unit_id::text || ' ' || role::text) FROM careflags.my_unit_access), '{"ward-a cft_ward_a_staff"}'::text[],
          'she reads her own row (through her group role) in careflags.my_unit_access');
RESET ROLE;

-- ---- (a) flag events: the outbox, read by unit ----
SELECT is((SELECT array_agg(DISTINCT kind) FROM careflags.flag_event WHERE patient_id = (SELECT id FROM pa)), '{raised,resolved}'::text[],
          'admitting and exempting ward A''s patient wrote raised and resolved events to careflags.flag_event');
SET LOCAL ROLE cft_nurse_a;
SELECT is((SELECT array_agg(DISTINCT unit_id) FROM careflags.my_flag_events), '{ward-a}'::text[], 'nurse A reads the events of ward A only');
SELECT is((SELECT count(*) FROM careflags.my_flag_events WHERE patient_id = (SELECT id FROM pa) AND kind = 'raised' AND title IS NOT NULL AND reason IS NOT NULL),
          3::bigint, '... with the flag''s title and reason');
RESET ROLE;
SET LOCAL ROLE cft_nurse_b;
SELECT is_empty($$SELECT * FROM careflags.my_flag_events WHERE unit_id = 'ward-a'$$, 'nurse B reads none of ward A''s events');
RESET ROLE;
SET LOCAL ROLE cft_stranger;
SELECT throws_ok($$SELECT * FROM careflags.flag_event$$, '42501', NULL, 'a login without a careflags role cannot read the events');
SELECT throws_ok($$SELECT * FROM careflags.my_flag_events$$, '42501', NULL, '... nor through the view');
RESET ROLE;
SELECT cft.at('2026-04-30 12:00+02');
SELECT cmp_ok((SELECT flags_notified FROM careflags.tick()), '>', 0::bigint, 'the worker''s pass finds flags that became overdue');
SELECT ok(EXISTS (SELECT FROM careflags.flag_event WHERE kind = 'overdue' AND unit_id = 'ward-b'),
          '... and writes them to the outbox as overdue events too');
SET LOCAL ROLE cft_nurse_a;
SELECT is_empty($$SELECT * FROM careflags.my_flag_events WHERE kind = 'overdue' AND unit_id <> 'ward-a'$$, 'nurse A sees no other unit''s overdue events');
RESET ROLE;
SELECT cft.at('2026-03-10 12:00+01');

-- ---- quality lead ----
SET LOCAL ROLE cft_quality;
SELECT throws_ok($$SELECT display_name FROM careflags.patient$$, '42501', NULL, 'the quality role cannot read names');
SELECT throws_ok($$SELECT birth_date FROM careflags.patient$$, '42501', NULL, 'nor birth dates');
SELECT throws_ok($$SELECT * FROM careflags.worklist$$, '42501', NULL, 'nor the worklist');
RESET ROLE;

-- ---- admin ----
SET LOCAL ROLE cft_admin;
SELECT lives_ok($$UPDATE careflags.rule SET due_interval = '5 days' WHERE rule_id = 'medication_review.admission'$$, 'the admin edits a rule');
SELECT is((SELECT count(DISTINCT unit_id) FROM careflags.flag WHERE resolved_at IS NULL AND unit_id IN ('ward-a', 'ward-b')), 2::bigint, 'and sees all units'' flags');
RESET ROLE;

-- ---- the audit chain ----
SELECT is((SELECT array_agg(action ORDER BY audit_id) FROM careflags.audit), '{acknowledge,snooze,exempt}'::text[], 'three actions audited in order');
SELECT is((SELECT intact FROM careflags.verify_audit()), true, 'the chain verifies');
SELECT throws_ok($$UPDATE careflags.audit SET actor = 'someone_else'$$, '42501', NULL, 'the audit is append-only, even for its owner');
-- a superuser who disables the protection is still found out
SET LOCAL session_replication_role = replica;
UPDATE careflags.audit SET detail = '{"note": "nothing to see"}' WHERE action = 'acknowledge';
SET LOCAL session_replication_role = origin;
SELECT is((SELECT row(intact, first_broken = (SELECT min(audit_id) FROM careflags.audit))::text FROM careflags.verify_audit()),
          '(f,t)', 'a changed row is reported as the first broken link');
SELECT is((SELECT problem FROM careflags.verify_audit()),
          format('audit row %s was changed after it was written', (SELECT min(audit_id) FROM careflags.audit)), 'with a clear message');

SELECT * FROM finish();
ROLLBACK;
