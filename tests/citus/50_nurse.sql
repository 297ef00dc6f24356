-- tests/citus/50_nurse.sql - the nurse's views and actions through the
-- coordinator of the Citus cluster (issue 19 item 4; before, every nurse
-- view, my_units() and the actions were refused there).
-- (1) The flag scenarios of tests/citus/scenarios.psql and two residents of
--     another ward, on one server (the core suite's database) and on the
--     cluster: a nurse of ward A, a nurse of ward B and careflags_admin see
--     the same rows of worklist, actions, my_patients, my_flags and
--     my_flag_events on both (tests/citus/50_nurse_rows.psql); nurse B sees
--     none of ward A's; careflags_quality is refused the worklist on both.
-- (2) acknowledge, snooze, exempt and the same on a row of careflags.actions
--     (acknowledge_action, snooze_action, exempt_action) as nurse A
--     through the coordinator: the flag changes on its shard, each appends one
--     entry to the one audit chain (on the coordinator), verify_audit()
--     passes and finds a row changed afterwards, and a row put in a worker's
--     own chain (where shard triggers write reopen and correct_resolution);
--     a flag of ward B is refused.
\set citus_status `cat "$PGHOST/careflags_citus.status" 2>/dev/null || echo 'not prepared: tests/citus/setup.sh did not run'`
SELECT :'citus_status' = 'ready' AS citus_ready \gset
\if :citus_ready
\set QUIET 1
-- 1. One server: the core suite's database, rolled back afterwards.
BEGIN;
\ir ../core/fixtures.psql
SET client_min_messages = error;
\o /dev/null
\ir scenarios.psql
\ir 50_nurse_rows.psql
\o
\set single_a :rows_a
\set single_b :rows_b
\set single_admin :rows_admin
\set single_super :rows_super
\set single_quality :quality
ROLLBACK;

-- 2. The Citus cluster, through its coordinator.
\set coord `. "$PGHOST/citus-suite/env" && echo "postgresql:///careflags_citus?host=$CITUS_HOST&port=$CITUS_COORD_PORT"`
\c :coord
BEGIN;
-- the fixtures stay on the coordinator (their functions route each write)
SET LOCAL citus.enable_ddl_propagation = off;
\ir ../core/fixtures.psql
SET client_min_messages = error;
\o /dev/null
\ir scenarios.psql
\ir 50_nurse_rows.psql
\o
\unset QUIET
SELECT plan(28);
SELECT ok(:'single_a' ~ 'worklist admission' AND :'single_a' ~ 'actions fall' AND :'single_a' ~ 'my_patients'
          AND :'single_a' ~ 'my_flag_events' AND :'single_a' !~ ' b[12] ', 'one server: nurse A sees ward A''s worklist, actions, patients and events, none of ward B''s');
SELECT is(:'rows_a'::text, :'single_a'::text, 'the cluster: nurse A sees exactly the rows of worklist, actions, my_patients, my_flags and my_flag_events she sees on one server');
-- (the scenario's name is each line's second word)
CREATE TEMP TABLE seen (who text, view text, name text);
INSERT INTO seen SELECT w, split_part(l, ' ', 1), split_part(l, ' ', 2)
  FROM (VALUES ('b', :'rows_b'), ('admin', :'rows_admin'), ('super', :'rows_super')) v(w, t),
       regexp_split_to_table(v.t, E'\n') l;
SELECT is((SELECT array_agg(DISTINCT name ORDER BY name) FROM seen WHERE who = 'b'), '{b1,b2}'::text[],
          'nurse B sees ward B''s patients only');
SELECT is(:'rows_b'::text, :'single_b'::text, '... the same rows as on one server');
SELECT is(:b_sees_a::int, 0, '... none of ward A''s patients in any of the five views');
SELECT is((SELECT array_agg(DISTINCT view || ':' || (name ~ '^b') ORDER BY view || ':' || (name ~ '^b')) FROM seen WHERE who = 'admin'),
          '{my_flag_events:false,my_flag_events:true,my_flags:false,my_flags:true}'::text[],
          'careflags_admin sees both wards in my_flags and my_flag_events (the tables she may read), no worklist (she may not read careflags.patient)');
SELECT is(:'rows_admin'::text, :'single_admin'::text, '... the same rows as on one server');
SELECT is((SELECT array_agg(DISTINCT view || ':' || (name ~ '^b') ORDER BY view || ':' || (name ~ '^b')) FROM seen WHERE who = 'super'),
          '{actions:false,actions:true,my_flag_events:false,my_flag_events:true,my_flags:false,my_flags:true,my_patients:false,my_patients:true,worklist:false,worklist:true}'::text[],
          'a superuser sees both wards in all five views');
SELECT is(:'rows_super'::text, :'single_super'::text, '... the same rows as on one server');
SELECT is(:'quality'::text, :'single_quality'::text, 'careflags_quality is refused the worklist as on one server (' || :'single_quality' || ')');

-- 2. actions as nurse A
SELECT min(f.flag_id) AS ack_flag FROM careflags.flag f JOIN cfn_names n ON n.pid = f.patient_id
 WHERE n.name = 'fall' AND f.resolved_at IS NULL \gset
SELECT min(f.flag_id) AS snooze_flag FROM careflags.flag f JOIN cfn_names n ON n.pid = f.patient_id
 WHERE n.name = 'short_term' AND f.resolved_at IS NULL \gset
SELECT min(f.flag_id) AS exempt_flag FROM careflags.flag f JOIN cfn_names n ON n.pid = f.patient_id
 WHERE n.name = 'home_nursing' AND f.resolved_at IS NULL \gset
SELECT min(f.flag_id) AS b_flag FROM careflags.flag f JOIN cfn_names n ON n.pid = f.patient_id
 WHERE n.name = 'b1' AND f.resolved_at IS NULL \gset
SELECT pid AS b2 FROM cfn_names WHERE name = 'b2' \gset
SELECT count(*) AS audit_before FROM careflags.audit \gset
SET ROLE cfn_nurse_a;
SELECT careflags.acknowledge(:ack_flag, 'seen at the round') AS ack_audit \gset
SELECT careflags.snooze(:snooze_flag, '2026-04-21 10:00+02', 'after the weekend') AS snooze_audit \gset
SELECT careflags.exempt(:exempt_flag, 'end-of-life care') AS exempt_audit \gset
SELECT action AS row_action FROM careflags.actions a JOIN cfn_names n ON n.pid = a.patient_id WHERE n.name = 'admission' ORDER BY action LIMIT 1 \gset
SELECT pid AS admission FROM cfn_names WHERE name = 'admission' \gset
SELECT careflags.acknowledge_action(:admission, :'row_action', 'the whole row') AS row_audit \gset
SELECT a.patient_id AS snooze_row_pid, a.action AS snooze_row_action, a.flag_ids AS snooze_row_flags
  FROM careflags.actions a JOIN cfn_names n ON n.pid = a.patient_id WHERE n.name = 'mst_ok' ORDER BY a.action LIMIT 1 \gset
SELECT careflags.snooze_action(:snooze_row_pid, :'snooze_row_action', '2026-04-21 10:00+02') AS snooze_row_audit \gset
SELECT a.patient_id AS exempt_row_pid, a.action AS exempt_row_action, a.flag_ids AS exempt_row_flags
  FROM careflags.actions a JOIN cfn_names n ON n.pid = a.patient_id WHERE n.name = 'weight_loss' ORDER BY a.action LIMIT 1 \gset
SELECT careflags.exempt_action(:exempt_row_pid, :'exempt_row_action', 'declines') AS exempt_row_audit \gset
RESET ROLE;
SELECT acknowledged_by::text AS ack_by FROM careflags.flag WHERE flag_id = :ack_flag \gset
SELECT snoozed_until AS snoozed FROM careflags.flag WHERE flag_id = :snooze_flag \gset
SELECT resolution AS exempt_resolution FROM careflags.flag WHERE flag_id = :exempt_flag \gset
SELECT count(*) AS exemptions FROM careflags.exemption e JOIN cfn_names n ON n.pid = e.patient_id
 WHERE n.name = 'home_nursing' AND e.source_key = 'audit/' || :exempt_audit \gset
SELECT is(:'ack_by'::text, 'cfn_nurse_a', 'acknowledge() as nurse A through the coordinator: the flag on its shard is acknowledged by her');
SELECT is(:'snoozed'::timestamptz, '2026-04-21 10:00+02'::timestamptz, 'snooze(): snoozed on its shard');
SELECT is(:'exempt_resolution'::text, 'exempt', 'exempt(): the flag resolved as exempt');
SELECT is(:exemptions::int, 1, '... with the exemption recorded for the patient (keyed by the audit id)');
SELECT is((SELECT count(*) FROM careflags.audit) - :audit_before, 6::bigint, 'six actions, six audit entries, in the coordinator''s one audit chain');
SELECT is((SELECT array_agg(action || ':' || actor ORDER BY audit_id) FROM careflags.audit
            WHERE audit_id IN (:ack_audit, :snooze_audit, :exempt_audit, :row_audit, :snooze_row_audit, :exempt_row_audit)),
          '{acknowledge:cfn_nurse_a,snooze:cfn_nurse_a,exempt:cfn_nurse_a,acknowledge:cfn_nurse_a,snooze:cfn_nurse_a,exempt:cfn_nurse_a}'::text[],
          '... each naming the action and the nurse');
SELECT is((SELECT array_agg(DISTINCT (snoozed_until = '2026-04-21 10:00+02')::text || '/' || COALESCE(resolution, 'open'))
             FROM careflags.flag WHERE flag_id = ANY (:'snooze_row_flags'::bigint[])), '{true/open}'::text[],
          'snooze_action(): every flag of the row snoozed on its shard');
SELECT is((SELECT array_agg(DISTINCT COALESCE(resolution, 'open')) FROM careflags.flag WHERE flag_id = ANY (:'exempt_row_flags'::bigint[])),
          '{exempt}'::text[], 'exempt_action(): every flag of the row resolved as exempt');
SELECT is((SELECT count(*) FROM careflags.audit a WHERE a.audit_id IN (:ack_audit, :snooze_audit, :exempt_audit)
              AND a.flag_id IN (:ack_flag, :snooze_flag, :exempt_flag)), 3::bigint, '... and the flag acted on');
SELECT ok(NOT EXISTS (SELECT FROM careflags.worklist WHERE flag_id IN (:snooze_flag, :exempt_flag)),
          'the snoozed and the exempted flag are off the worklist');
SELECT is((SELECT row(intact, problem)::text FROM careflags.verify_audit()), '(t,)', 'verify_audit() on the coordinator: the chain is intact');
SET ROLE cfn_nurse_a;
SELECT throws_ok(format('SELECT careflags.acknowledge(%s)', :b_flag), 'P0002', NULL,
                 'nurse A cannot acknowledge a flag of ward B (no_data_found, as on one server)');
SELECT throws_ok(format('SELECT careflags.acknowledge_action(%s, %L)', :b2, 'fall_risk_assessment'), 'P0002', NULL,
                 '... nor a row of ward B''s actions');
RESET ROLE;
SAVEPOINT tamper;
ALTER TABLE careflags.audit DISABLE TRIGGER append_only;
UPDATE careflags.audit SET actor = 'someone else' WHERE audit_id = :snooze_audit;
SELECT is((SELECT row(intact, first_broken)::text FROM careflags.verify_audit()), format('(f,%s)', :snooze_audit),
          'an audit row changed afterwards: verify_audit() names it');
ROLLBACK TO SAVEPOINT tamper;
SELECT is((SELECT count(*) FROM run_command_on_workers('SELECT careflags.acknowledge(1)') WHERE NOT success AND result ~ 'coordinator only'),
          2::bigint, 'on a worker the actions are refused (the audit chain is the coordinator''s)');
-- a worker's own chain (entries its shard triggers write) is checked from the coordinator too
SELECT is((SELECT count(*) FROM run_command_on_workers($w$INSERT INTO careflags.audit (audit_id, patient_id, flag_id, action,
              actor, acted_at, detail, hash) VALUES (4611686018427387904, -1, -1, 'reopen', 'intruder', now(), '{}', '\x00')$w$) WHERE success), 2::bigint,
          '(a forged audit row written straight into each worker''s own chain)');
SELECT matches((SELECT problem FROM careflags.verify_audit()), '^worker [^ ]+: audit row 4611686018427387904 was changed',
               'verify_audit() on the coordinator finds it in the worker''s chain and names the worker');
SELECT is((SELECT count(*) FROM run_command_on_workers($w$DO $d$ BEGIN
              SET LOCAL session_replication_role = replica;
              DELETE FROM careflags.audit WHERE audit_id = 4611686018427387904; END $d$$w$) WHERE success), 2::bigint,
          '(removed again, past the append-only trigger: this transaction holds the workers'' audit tables)');
SELECT * FROM finish();
ROLLBACK;
\else
\echo 1..0 # SKIP Citus cluster unavailable: :citus_status
\endif
