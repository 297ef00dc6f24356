-- The nurse's views at the cost of the read (issue 18 item 3).
-- (a) What the views compute per row and per query is C: reading the
--     worklist and the actions as a nurse calls no SQL or PL/pgSQL function
--     (each pins its search_path, so the planner can never inline one), and
--     my_units() once per query.
-- (b) The C functions answer as the SQL definitions they replace, on a grid
--     of times around a daylight-saving change, in another careflags.timezone,
--     and with NULLs.
-- (c) my_units() keeps its answer only while nothing it depends on changed:
--     a unit given or taken in the same transaction, another role (SET ROLE),
--     a membership granted or revoked, a change committed by another session
--     (READ COMMITTED: at the next statement; REPEATABLE READ: a membership
--     revoked elsewhere still takes effect); other units' rows and former
--     residents after their period stay hidden with the answer cached.
-- (d) The nurse's plan without the all-units branch (issue 18 item 3): a
--     nurse's worklist and actions are one index read of her units' flags,
--     no Append of the branch for roles that read every unit, no parallel
--     plan, no JIT; careflags_admin's plan keeps that branch, and a cached
--     plan is planned again for another role; careflags_admin and a
--     superuser still see every unit's rows, flags without a unit too.
BEGIN;
\ir fixtures.psql
SELECT plan(45);

SELECT cft.at('2026-03-10 12:00+01');
CREATE ROLE cfp_nurse_a LOGIN IN ROLE careflags_nurse;
CREATE ROLE cfp_nurse_b LOGIN IN ROLE careflags_nurse;
CREATE ROLE cfp_staff_a NOLOGIN;
GRANT cfp_staff_a TO cfp_nurse_a;
CREATE TEMP TABLE pa AS SELECT cft.patient('nursing_home_long_term', '2026-03-05 10:00+01', '1940-01-01', 'fp-a') AS id;
CREATE TEMP TABLE pb AS SELECT cft.patient('nursing_home_long_term', '2026-03-05 10:00+01', '1940-01-01', 'fp-b') AS id;
INSERT INTO careflags.unit_access (unit_id, role) VALUES ('fp-a', 'cfp_staff_a'), ('fp-b', 'cfp_nurse_b');
GRANT SELECT ON pa, pb TO PUBLIC;

-- ---- (a) no SQL function per row, my_units() once per query ----
SELECT is((SELECT string_agg(p.proname || ':' || l.lanname, ', ' ORDER BY p.proname) FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
            WHERE p.pronamespace = 'careflags'::regnamespace
              AND p.proname IN ('my_units', 'flag_state', 'due_soon_from', 'action_of')),
          'action_of:c, due_soon_from:c, flag_state:c, my_units:c',
          'my_units, flag_state, due_soon_from and action_of are C functions');
SET LOCAL track_functions = 'all';
CREATE TEMP TABLE calls_before AS SELECT funcid, calls FROM pg_stat_xact_user_functions WHERE schemaname = 'careflags';
SET LOCAL ROLE cfp_nurse_a;
SELECT * FROM careflags.worklist \g /dev/null
SELECT * FROM careflags.actions \g /dev/null
RESET ROLE;
CREATE TEMP TABLE calls AS
SELECT f.funcname, l.lanname, f.calls - COALESCE(b.calls, 0) AS calls
  FROM pg_stat_xact_user_functions f JOIN pg_proc p ON p.oid = f.funcid JOIN pg_language l ON l.oid = p.prolang
  LEFT JOIN calls_before b ON b.funcid = f.funcid
 WHERE f.schemaname = 'careflags' AND f.calls > COALESCE(b.calls, 0);
SELECT is((SELECT string_agg(funcname || ' (' || lanname || ')', ', ') FROM calls WHERE lanname <> 'c'), NULL,
          'reading the worklist and the actions as a nurse calls no SQL or PL/pgSQL function of careflags');
SELECT is((SELECT calls FROM calls WHERE funcname = 'my_units'), 2::bigint, '... and my_units() once per query');
SELECT cmp_ok((SELECT calls FROM calls WHERE funcname = 'flag_state'), '>=', 3::bigint, '... (the per-row C functions ran: flag_state)');
RESET track_functions;

-- ---- (b) the C functions answer as the SQL they replace ----
CREATE TEMP TABLE grid AS
SELECT d.due_from, d.due_from + a.after AS due_at, w.win, d.due_from + t.off AS at
  FROM (VALUES (timestamptz '2026-03-29 01:30+01'), ('2026-03-29 03:30+02'), ('2026-10-25 02:30+01'),
               ('2026-04-01 00:00+02'), ('2026-12-31 23:59:59+01')) d(due_from),
       (VALUES (interval '0'), ('1 day'), ('1 month'), ('30 days')) a(after),
       (VALUES (interval '0'), ('1 day'), ('7 days'), ('1 month'), ('2 hours')) w(win),
       (VALUES (interval '-40 days'), ('-31 days'), ('-7 days'), ('-1 day'), ('-1 hour'), ('-1 microsecond'),
               ('0'), ('1 microsecond'), ('12 hours'), ('1 day'), ('2 days'), ('31 days')) t(off);
-- the 1.2 definitions, written out
CREATE FUNCTION pg_temp.sql_due_soon_from(due_from timestamptz, win interval) RETURNS timestamptz LANGUAGE sql AS $$
    SELECT ((due_from AT TIME ZONE COALESCE(NULLIF(current_setting('careflags.timezone', true), ''), 'Europe/Oslo')) - win)
           AT TIME ZONE COALESCE(NULLIF(current_setting('careflags.timezone', true), ''), 'Europe/Oslo') $$;
CREATE FUNCTION pg_temp.sql_flag_state(due_from timestamptz, due_at timestamptz, win interval, at timestamptz) RETURNS text LANGUAGE sql AS $$
    SELECT CASE WHEN at >= due_at THEN 'overdue' WHEN at >= due_from THEN 'due'
                WHEN at >= pg_temp.sql_due_soon_from(due_from, win) THEN 'due_soon' ELSE 'upcoming' END $$;
SELECT is((SELECT count(*) FROM grid WHERE careflags.due_soon_from(due_from, win) IS DISTINCT FROM pg_temp.sql_due_soon_from(due_from, win)), 0::bigint,
          format('due_soon_from() equals the SQL definition on %s cases around the daylight-saving changes (Europe/Oslo)', (SELECT count(*) FROM grid)));
SELECT is((SELECT count(*) FROM grid WHERE careflags.flag_state(due_from, due_at, win, at) IS DISTINCT FROM pg_temp.sql_flag_state(due_from, due_at, win, at)), 0::bigint,
          'flag_state() equals the SQL definition on the same grid');
SELECT is((SELECT string_agg(DISTINCT careflags.flag_state(due_from, due_at, win, at), ',' ORDER BY careflags.flag_state(due_from, due_at, win, at)) FROM grid),
          'due,due_soon,overdue,upcoming', '... which reaches every state');
SET LOCAL careflags.timezone = 'America/New_York';
SELECT is((SELECT count(*) FROM grid WHERE careflags.due_soon_from(due_from, win) IS DISTINCT FROM pg_temp.sql_due_soon_from(due_from, win)
                                        OR careflags.flag_state(due_from, due_at, win, at) IS DISTINCT FROM pg_temp.sql_flag_state(due_from, due_at, win, at)), 0::bigint,
          'both equal the SQL definitions with careflags.timezone = America/New_York');
SELECT isnt(careflags.due_soon_from('2026-03-29 12:00+02', '1 day'), '2026-03-28 12:00+01'::timestamptz,
            '... where the day counted is New York''s, not Oslo''s (the zone is read)');
RESET careflags.timezone;
SELECT is(careflags.due_soon_from('2026-03-29 12:00+02', '1 day'), '2026-03-28 12:00+01'::timestamptz,
          'a day before noon on the day clocks go forward in Oslo is noon local time, 23 hours earlier');
SELECT is(ARRAY[careflags.flag_state(NULL, NULL, NULL, now()), careflags.flag_state(now(), NULL, NULL, NULL),
                careflags.flag_state(NULL, now() - interval '1 day', NULL, now()), careflags.flag_state(now() + interval '1 day', NULL, NULL, now()),
                careflags.flag_state(now() + interval '1 day', NULL, '2 days', now())],
          ARRAY[pg_temp.sql_flag_state(NULL, NULL, NULL, now()), pg_temp.sql_flag_state(now(), NULL, NULL, NULL),
                pg_temp.sql_flag_state(NULL, now() - interval '1 day', NULL, now()), pg_temp.sql_flag_state(now() + interval '1 day', NULL, NULL, now()),
                pg_temp.sql_flag_state(now() + interval '1 day', NULL, '2 days', now())],
          'flag_state() with NULLs answers as the SQL CASE did');
SELECT is(careflags.due_soon_from(NULL, '1 day'), NULL, 'due_soon_from() of NULL is NULL');
SELECT is((SELECT count(*) FROM (SELECT d, a FROM unnest(enum_range(NULL::careflags.domain) || NULL::careflags.domain) d,
                                                unnest(enum_range(NULL::careflags.rule_anchor) || NULL::careflags.rule_anchor) a) x
            WHERE careflags.action_of(d, a) IS DISTINCT FROM
                  CASE WHEN d = 'medication_review' THEN 'medication_review'
                       WHEN d = 'nutrition' AND a = ANY (ARRAY['risk_result', 'plan_evaluation']::careflags.rule_anchor[]) THEN 'nutrition_plan'
                       WHEN d = 'nutrition' THEN 'nutrition_screening'
                       WHEN a = ANY (ARRAY['risk_result', 'plan_evaluation']::careflags.rule_anchor[]) THEN 'fall_prevention_plan'
                       ELSE 'fall_risk_assessment' END), 0::bigint,
          'action_of() equals the SQL CASE for every domain and anchor (and NULL)');

-- ---- (c) my_units() and its cache ----
SET LOCAL ROLE cfp_nurse_a;
SELECT is(careflags.my_units(), '{fp-a}', 'nurse A: her unit, through a group role');
SELECT is((SELECT array_agg(DISTINCT unit_id) FROM careflags.worklist), '{fp-a}', '... and its worklist only');
SELECT is_empty($$SELECT FROM careflags.actions WHERE patient_id = (SELECT id FROM pb)$$, '... no action row of unit B''s patient');
SET LOCAL ROLE cfp_nurse_b;
SELECT is(careflags.my_units(), '{fp-b}', 'SET ROLE to nurse B in the same transaction: B''s unit, not A''s cached one');
SELECT is((SELECT array_agg(DISTINCT unit_id) FROM careflags.actions), '{fp-b}', '... in the actions too');
RESET ROLE;
INSERT INTO careflags.unit_access (unit_id, role) VALUES ('fp-b', 'cfp_staff_a');
SET LOCAL ROLE cfp_nurse_a;
SELECT is(careflags.my_units(), '{fp-a,fp-b}', 'a unit given to her group in the same transaction is hers at the next statement');
SELECT ok(EXISTS (SELECT FROM careflags.actions WHERE patient_id = (SELECT id FROM pb)), '... with its patient''s actions');
RESET ROLE;
DELETE FROM careflags.unit_access WHERE unit_id = 'fp-b' AND role = 'cfp_staff_a'::regrole;
SET LOCAL ROLE cfp_nurse_a;
SELECT is(careflags.my_units(), '{fp-a}', 'taken away again: gone at the next statement');
SELECT is_empty($$SELECT FROM careflags.worklist WHERE patient_id = (SELECT id FROM pb)$$, '... and unit B''s flags with it');
RESET ROLE;
GRANT cfp_staff_a TO cfp_nurse_b;
SET LOCAL ROLE cfp_nurse_b;
SELECT is(careflags.my_units(), '{fp-a,fp-b}', 'nurse B made a member of A''s group: both units');
RESET ROLE;
REVOKE cfp_staff_a FROM cfp_nurse_b;
SET LOCAL ROLE cfp_nurse_b;
SELECT is(careflags.my_units(), '{fp-b}', 'the membership revoked: her own unit only');
RESET ROLE;
-- former residents, with the answer cached across the statements
CREATE TEMP TABLE pc AS SELECT cft.patient('nursing_home_long_term', '2026-01-05 10:00+01', '1940-01-01', 'fp-a') AS id;
GRANT SELECT ON pc TO PUBLIC;
UPDATE careflags.episode SET ended_at = '2026-02-28 10:00+01' WHERE patient_id = (SELECT id FROM pc);
SET LOCAL ROLE cfp_nurse_a;
SELECT ok(EXISTS (SELECT FROM careflags.my_patients WHERE patient_id = (SELECT id FROM pc)), 'a resident who left 10 days ago: still visible (30 days)');
RESET ROLE;
SELECT cft.at('2026-04-10 12:00+02');
SET LOCAL ROLE cfp_nurse_a;
SELECT ok(NOT EXISTS (SELECT FROM careflags.my_patients WHERE patient_id = (SELECT id FROM pc)), '41 days after: hidden, my_units() cached or not');
RESET ROLE;
SELECT cft.at('2026-03-10 12:00+01');

-- changes committed by other sessions (dblink): roles, units and access
-- committed for the purpose, removed at the end
CREATE EXTENSION IF NOT EXISTS dblink SCHEMA public;
SELECT format('host=%s port=%s dbname=%s user=%s', split_part(current_setting('unix_socket_directories'), ',', 1),
              current_setting('port'), current_database(), current_user) AS conn \gset
SELECT dblink_connect('admin', :'conn') \g /dev/null
SELECT dblink_exec('admin', $$
    DROP ROLE IF EXISTS cfp_x_nurse; DROP ROLE IF EXISTS cfp_x_staff;
    CREATE ROLE cfp_x_staff NOLOGIN; CREATE ROLE cfp_x_nurse LOGIN IN ROLE careflags_nurse, cfp_x_staff;
    INSERT INTO careflags.unit (unit_id, name, setting) VALUES ('fpx-1', 'X 1', 'nursing_home_long_term'),
                                                              ('fpx-2', 'X 2', 'nursing_home_long_term') ON CONFLICT DO NOTHING;
    DELETE FROM careflags.unit_access WHERE unit_id IN ('fpx-1', 'fpx-2');
    INSERT INTO careflags.unit_access (unit_id, role) VALUES ('fpx-1', 'cfp_x_staff')$$) \g /dev/null
SET LOCAL ROLE cfp_x_nurse;
SELECT is(careflags.my_units(), '{fpx-1}', 'READ COMMITTED: a nurse''s units as committed');
SELECT dblink_exec('admin', $$INSERT INTO careflags.unit_access (unit_id, role) VALUES ('fpx-2', 'cfp_x_staff')$$) \g /dev/null
SELECT is(careflags.my_units(), '{fpx-1,fpx-2}', 'a unit given by another session: hers at her transaction''s next statement');
SELECT dblink_exec('admin', $$DELETE FROM careflags.unit_access WHERE unit_id = 'fpx-1'$$) \g /dev/null
SELECT is(careflags.my_units(), '{fpx-2}', 'a unit taken away by another session: gone at her next statement');
SELECT dblink_exec('admin', $$REVOKE cfp_x_staff FROM cfp_x_nurse$$) \g /dev/null
SELECT is(careflags.my_units(), '{}', 'her group membership revoked by another session: no unit at her next statement');
RESET ROLE;
SELECT dblink_exec('admin', $$GRANT cfp_x_staff TO cfp_x_nurse$$) \g /dev/null
-- REPEATABLE READ, in a session of the nurse herself
SELECT dblink_connect('rr', format('host=%s port=%s dbname=%s user=cfp_x_nurse', split_part(current_setting('unix_socket_directories'), ',', 1),
                                   current_setting('port'), current_database())) \g /dev/null
SELECT dblink_exec('rr', 'BEGIN ISOLATION LEVEL REPEATABLE READ') \g /dev/null
SELECT is((SELECT u FROM dblink('rr', 'SELECT careflags.my_units()') AS t(u text[])), '{fpx-2}',
          'REPEATABLE READ: her units at her snapshot');
SELECT dblink_exec('admin', $$INSERT INTO careflags.unit_access (unit_id, role) VALUES ('fpx-1', 'cfp_x_staff')$$) \g /dev/null
SELECT is((SELECT u FROM dblink('rr', 'SELECT careflags.my_units()') AS t(u text[])), '{fpx-2}',
          '... a unit given meanwhile is not in her snapshot (as any row committed later)');
SELECT dblink_exec('admin', $$REVOKE cfp_x_staff FROM cfp_x_nurse$$) \g /dev/null
SELECT is((SELECT u FROM dblink('rr', 'SELECT careflags.my_units()') AS t(u text[])), '{}',
          '... but a membership revoked meanwhile takes effect at once, as pg_has_role() does, the cached answer notwithstanding');
SELECT dblink_exec('rr', 'COMMIT') \g /dev/null
SELECT dblink_disconnect('rr') \g /dev/null
SELECT dblink_exec('admin', $$
    DELETE FROM careflags.unit_access WHERE unit_id IN ('fpx-1', 'fpx-2');
    DELETE FROM careflags.unit WHERE unit_id IN ('fpx-1', 'fpx-2');
    DROP ROLE cfp_x_nurse; DROP ROLE cfp_x_staff$$) \g /dev/null
SELECT dblink_disconnect('admin') \g /dev/null

-- ---- (d) one branch, one scan ----
CREATE ROLE cfp_admin_plan LOGIN IN ROLE careflags_admin;
-- the plan of a query as JSON, and its nodes
CREATE FUNCTION pg_temp.plan_of(q text, opts text DEFAULT 'COSTS OFF') RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE p json;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON, ' || opts || ') ' || q INTO p;
    RETURN p::jsonb;
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.plan_of(text, text) TO PUBLIC;
SET LOCAL ROLE cfp_nurse_a;
CREATE TEMP TABLE nurse_plan AS SELECT pg_temp.plan_of('SELECT * FROM careflags.worklist') AS p,
    pg_temp.plan_of('SELECT * FROM careflags.worklist', 'ANALYZE, COSTS OFF, TIMING OFF') AS a,
    pg_temp.plan_of('SELECT * FROM careflags.actions') AS act;
RESET ROLE;
SELECT is((SELECT count(*) FROM nurse_plan, jsonb_path_query(p, 'strict $.**."Node Type"') t
            WHERE t #>> '{}' IN ('Append', 'Gather', 'Gather Merge')), 0::bigint,
          'a nurse''s worklist plan has no Append (no second branch for every unit), no Gather (no parallel plan)');
SELECT is((SELECT count(*) FROM nurse_plan, jsonb_path_query(p, 'strict $.** ? (@."Relation Name" == "flag")') t), 1::bigint,
          '... and reads careflags.flag once');
SELECT ok((SELECT bool_or(t::text ~ 'unit_id = mu.unit_id') FROM nurse_plan, jsonb_path_query(p, 'strict $.** ? (@."Index Name" == "flag_open_unit")') t),
          '... by the index of her units (flag_open_unit, per unit of my_units())');
SELECT is((SELECT count(*) FROM nurse_plan, jsonb_path_query(act, 'strict $.** ? (@."Relation Name" == "flag")') t), 1::bigint,
          'the actions too: one read of careflags.flag');
SET LOCAL ROLE cfp_admin_plan;
SELECT is((SELECT count(*) FROM jsonb_path_query(pg_temp.plan_of('SELECT * FROM careflags.my_flags'), 'strict $.**."Node Type"') t
            WHERE t #>> '{}' = 'Append'), 1::bigint,
          'careflags_admin''s plan of my_flags keeps the branch for every unit (the plan is the role''s)');
SET LOCAL ROLE cfp_nurse_a;
SELECT is((SELECT count(*) FROM jsonb_path_query(pg_temp.plan_of('SELECT * FROM careflags.my_flags'), 'strict $.**."Node Type"') t
            WHERE t #>> '{}' = 'Append'), 0::bigint,
          '... a nurse''s has not');
RESET ROLE;
SELECT ok((SELECT NOT (a::text ~ '"JIT"') FROM nurse_plan), '... and nothing is JIT-compiled');
-- roles that read every unit: every unit's rows, flags of a patient without a unit too
CREATE TEMP TABLE pn AS SELECT cft.patient('nursing_home_long_term', '2026-03-05 10:00+01', '1940-01-01', 'fp-n') AS id;
UPDATE careflags.episode SET unit_id = NULL WHERE patient_id = (SELECT id FROM pn);
GRANT SELECT ON pn TO PUBLIC;
SELECT ok(EXISTS (SELECT FROM careflags.flag WHERE patient_id = (SELECT id FROM pn) AND resolved_at IS NULL AND unit_id IS NULL),
          'a patient without a unit has open flags without a unit');
CREATE TEMP TABLE seen_units AS
SELECT (SELECT array_agg(DISTINCT COALESCE(unit_id, '-') ORDER BY COALESCE(unit_id, '-')) FROM careflags.worklist
         WHERE patient_id IN ((SELECT id FROM pa), (SELECT id FROM pb), (SELECT id FROM pn))) AS worklist,
       (SELECT array_agg(DISTINCT COALESCE(unit_id, '-') ORDER BY COALESCE(unit_id, '-')) FROM careflags.my_flags
         WHERE patient_id IN ((SELECT id FROM pa), (SELECT id FROM pb), (SELECT id FROM pn))) AS my_flags;
SELECT is((SELECT ARRAY[worklist, my_flags]::text FROM seen_units), '{{-,fp-a,fp-b},{-,fp-a,fp-b}}',
          'a superuser sees every unit in the worklist and my_flags, the flags without a unit too (as before 1.3)');
CREATE ROLE cfp_admin LOGIN IN ROLE careflags_admin;
SET LOCAL ROLE cfp_admin;
SELECT is((SELECT array_agg(DISTINCT COALESCE(unit_id, '-') ORDER BY COALESCE(unit_id, '-')) FROM careflags.my_flags
            WHERE patient_id IN ((SELECT id FROM pa), (SELECT id FROM pb), (SELECT id FROM pn))), '{-,fp-a,fp-b}',
          'careflags_admin, with no unit of her own: every unit''s open flags, without a unit too');
RESET ROLE;
-- a cached plan is planned again for another role (generic plan: made once, kept)
SET LOCAL plan_cache_mode = force_generic_plan;
SET LOCAL ROLE cfp_nurse_a;
PREPARE units_seen AS SELECT array_agg(DISTINCT COALESCE(unit_id, '-') ORDER BY COALESCE(unit_id, '-')) AS u FROM careflags.my_flags
 WHERE patient_id IN ((SELECT id FROM pa), (SELECT id FROM pb), (SELECT id FROM pn));
CREATE TEMP TABLE seen_nurse AS EXECUTE units_seen;
SET LOCAL ROLE cfp_admin;
CREATE TEMP TABLE seen_admin AS EXECUTE units_seen;
RESET ROLE;
RESET plan_cache_mode;
DEALLOCATE units_seen;
SELECT is((SELECT (SELECT u FROM seen_nurse)::text || ' ' || (SELECT u FROM seen_admin)::text), '{fp-a} {-,fp-a,fp-b}',
          'a statement prepared by a nurse (generic plan, her branch only) and executed by careflags_admin is planned again: every unit');
SET LOCAL ROLE cfp_nurse_a;
SELECT is((SELECT array_agg(DISTINCT COALESCE(unit_id, '-')) FROM careflags.my_flags
            WHERE patient_id IN ((SELECT id FROM pa), (SELECT id FROM pb), (SELECT id FROM pn))), '{fp-a}',
          '... a nurse: her unit''s only, none without a unit');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
