-- Roles, row-level security, actions and the tamper-evident audit.
BEGIN;
\ir fixtures.psql
SELECT plan(31);

SELECT cft.at('2026-03-10 12:00+01');
CREATE ROLE cft_nurse_a LOGIN IN ROLE careflags_nurse;
CREATE ROLE cft_nurse_b LOGIN IN ROLE careflags_nurse;
CREATE ROLE cft_quality LOGIN IN ROLE careflags_quality;
CREATE ROLE cft_admin LOGIN IN ROLE careflags_admin;
CREATE ROLE cft_ward_a_staff NOLOGIN;
GRANT cft_ward_a_staff TO cft_nurse_a;
INSERT INTO careflags.unit (unit_id, name, setting) VALUES
    ('ward-a', 'Ward A', 'nursing_home_long_term'), ('ward-b', 'Ward B', 'nursing_home_long_term');
INSERT INTO careflags.unit_access (unit_id, role_name) VALUES ('ward-a', 'cft_ward_a_staff'), ('ward-b', 'cft_nurse_b');

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
SELECT is_empty($$SELECT * FROM careflags.patient WHERE patient_id = (SELECT id FROM pb)$$, 'she cannot read ward B''s patient');
SELECT is_empty($$SELECT * FROM careflags.flag WHERE patient_id = (SELECT id FROM pb)$$, 'nor ward B''s flags');
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

-- ---- quality lead ----
SET LOCAL ROLE cft_quality;
SELECT throws_ok($$SELECT display_name FROM careflags.patient$$, '42501', NULL, 'the quality role cannot read names');
SELECT throws_ok($$SELECT birth_date FROM careflags.patient$$, '42501', NULL, 'nor birth dates');
SELECT throws_ok($$SELECT * FROM careflags.worklist$$, '42501', NULL, 'nor the worklist');
RESET ROLE;

-- ---- admin ----
SET LOCAL ROLE cft_admin;
SELECT lives_ok($$UPDATE careflags.rule SET due_interval = '5 days' WHERE rule_id = 'medication_review.admission'$$, 'the admin edits a rule');
SELECT is((SELECT count(DISTINCT unit_id) FROM careflags.flag WHERE resolved_at IS NULL), 2::bigint, 'and sees all units'' flags');
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
