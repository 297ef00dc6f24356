-- Reliability 6: security review.
-- (a) Functions and operators planted in public that shadow pg_catalog's
--     (lower, btrim, now, jsonb_typeof, length, = on bigint and text, < on
--     timestamptz, || on text, ~ on text, + on timestamptz/interval), with
--     public put first in search_path: no careflags code path calls them -
--     writes (guard, scoring, evaluation, deferred evaluation), rule edits,
--     recompute, consistency check, worker tick, nurse actions, audit
--     verification, worklist, reports, extract.  Each planted object records
--     its call; the trap is shown armed first.
-- (b) A nurse cannot escalate: every SECURITY DEFINER function pins its
--     search_path and is not executable by PUBLIC; a nurse can execute none
--     of them but the ones meant for her (none) and is refused by the admin
--     and internal ones; she cannot act on another unit's flag, set the
--     superuser-only settings or write careflags objects.
-- (c) The quality role cannot recover identifiers from the extract: no read
--     of patients, facts, flags, audit or the secret, no HMAC function; the
--     extract has no name, birth date, source key or internal id, and its
--     pseudonym is no unkeyed hash of the source key.
-- (d) NOTIFY careflags (issue 13, item 4a): a login with no careflags role
--     LISTENs (any login may) while another session admits a patient and
--     the worker's pass makes flags overdue: every payload is a bare event
--     id, which the stranger cannot read; the events are in the outbox
--     careflags.flag_event under those ids.
\c careflags_reliability
\set QUIET 1
SET client_min_messages = warning;
DROP ROLE IF EXISTS rel_listener;
CREATE ROLE rel_listener LOGIN;   -- committed: a second session logs in as it
RESET client_min_messages;
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(45);

CREATE ROLE rel_attacker NOLOGIN;
CREATE ROLE rel_nurse NOLOGIN IN ROLE careflags_nurse;
CREATE ROLE rel_quality NOLOGIN IN ROLE careflags_quality;
GRANT CREATE, USAGE ON SCHEMA public TO rel_attacker;
CREATE TABLE public.trap (called text, by_role name DEFAULT current_user, context text);
GRANT INSERT, SELECT ON public.trap TO PUBLIC;

-- ---- (a) the planted objects (owned by an unprivileged role) ----
SET LOCAL ROLE rel_attacker;
DO $plant$
DECLARE
    f record;
BEGIN
    FOR f IN SELECT * FROM (VALUES
        ('lower', 'text', 'text', 'pg_catalog.lower($1)'),
        ('btrim', 'text', 'text', 'pg_catalog.btrim($1)'),
        ('jsonb_typeof', 'jsonb', 'text', 'pg_catalog.jsonb_typeof($1)'),
        ('length', 'bytea', 'integer', 'pg_catalog.length($1)'),
        ('cardinality', 'anyarray', 'integer', 'pg_catalog.cardinality($1)')) AS v(name, arg, ret, body)
    LOOP
        EXECUTE format($f$CREATE FUNCTION public.%I(%s) RETURNS %s LANGUAGE plpgsql SET search_path = pg_catalog AS
                          $b$ DECLARE c text; BEGIN GET DIAGNOSTICS c = PG_CONTEXT; INSERT INTO public.trap (called, context) VALUES (%L, c); RETURN %s; END $b$$f$,
                       f.name, f.arg, f.ret, f.name || '(' || f.arg || ')', f.body);
    END LOOP;
    EXECUTE $f$CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE plpgsql SET search_path = pg_catalog AS
               $b$ DECLARE c text; BEGIN GET DIAGNOSTICS c = PG_CONTEXT; INSERT INTO public.trap (called, context) VALUES ('now()', c); RETURN pg_catalog.now(); END $b$$f$;
    FOR f IN SELECT * FROM (VALUES
        ('=', 'bigint', 'bigint', 'boolean', 'int8eq'),
        ('=', 'text', 'text', 'boolean', 'texteq'),
        ('<', 'timestamptz', 'timestamptz', 'boolean', 'timestamptz_lt'),
        ('||', 'text', 'text', 'text', 'textcat'),
        ('~', 'text', 'text', 'boolean', 'textregexeq'),
        ('+', 'timestamptz', 'interval', 'timestamptz', 'timestamptz_pl_interval')) AS v(op, l, r, ret, impl)
    LOOP
        EXECUTE format($f$CREATE FUNCTION public.%I(%s, %s) RETURNS %s LANGUAGE plpgsql SET search_path = pg_catalog AS
                          $b$ DECLARE c text; BEGIN GET DIAGNOSTICS c = PG_CONTEXT; INSERT INTO public.trap (called, context) VALUES (%L, c); RETURN pg_catalog.%I($1, $2); END $b$$f$,
                       'evil_' || f.impl, f.l, f.r, f.ret, f.op || '(' || f.l || ',' || f.r || ')', f.impl);
        EXECUTE format('CREATE OPERATOR public.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = public.%I)',
                       f.op, f.l, f.r, 'evil_' || f.impl);
    END LOOP;
END
$plant$;
RESET ROLE;
SET LOCAL search_path = public, pg_catalog;
SELECT ok(1::bigint = 1::bigint AND lower('X') = 'x' AND now() IS NOT NULL, 'sanity: with public first, unqualified calls hit the planted objects');
SELECT ok((SELECT count(DISTINCT called) FROM public.trap) >= 3, 'the trap is armed: planted calls are recorded');
DELETE FROM public.trap;

-- everything careflags does, under the poisoned search_path
-- (the statements below qualify their own operators: only careflags' code
-- may reach the planted ones)
SET LOCAL careflags.frozen_now = '2026-05-04 10:00+02';
INSERT INTO careflags.unit (unit_id, name, setting) VALUES ('sec-a', 'Security ward A', 'nursing_home_long_term'),
                                                           ('sec-b', 'Security ward B', 'nursing_home_long_term');
INSERT INTO careflags.unit_access (unit_id, role) VALUES ('sec-a', 'rel_nurse');
INSERT INTO careflags.patient (source_system, source_key, display_name, birth_date)
VALUES ('sec', 'secret-key-1', 'Ada Lovelace', '1931-12-10'), ('sec', 'secret-key-2', 'Bob Other', '1935-01-01');
CREATE TEMP TABLE sp AS SELECT patient_id, source_key FROM careflags.patient WHERE source_system OPERATOR(pg_catalog.=) 'sec';
GRANT SELECT ON sp TO PUBLIC;
INSERT INTO careflags.episode (patient_id, source_system, setting, unit_id, started_at)
SELECT patient_id, 'sec', 'nursing_home_long_term', CASE WHEN source_key OPERATOR(pg_catalog.=) 'secret-key-1' THEN 'sec-a' ELSE 'sec-b' END, '2026-04-20 09:00+02' FROM sp;
INSERT INTO careflags.assessment (patient_id, source_system, instrument, assessed_at, items)
SELECT patient_id, 'sec', 'mna_sf', '2026-04-25 09:00+02',
       '{"food_intake": "no_decrease", "weight_loss": "none", "mobility": "goes_out", "psychological_stress_or_acute_disease": false, "neuropsychological_problems": "none", "bmi": 22}' FROM sp;
INSERT INTO careflags.assessment (patient_id, source_system, instrument, assessed_at, items)
SELECT patient_id, 'sec', 'mst', '2026-04-25 09:00+02', '{"bogus": true}' FROM sp LIMIT 1;   -- quarantined by the guard
INSERT INTO careflags.measurement (patient_id, source_system, kind, value, measured_at)
SELECT patient_id, 'sec', 'weight', 61 OPERATOR(pg_catalog.-) k, '2026-01-01'::timestamptz OPERATOR(pg_catalog.+) (k OPERATOR(pg_catalog.*) interval '1 month') FROM sp, generate_series(0, 3) k;
INSERT INTO careflags.medication (patient_id, source_system, atc, started_at)
SELECT patient_id, 'sec', atc, '2026-01-01' FROM sp, unnest(ARRAY['N05CF01', 'C03CA01', 'A02BC01', 'B01AC06', 'N02BE01']) atc;
INSERT INTO careflags.fall (patient_id, source_system, fell_at) SELECT patient_id, 'sec', '2026-05-01 03:00+02' FROM sp;
SET LOCAL careflags.defer_evaluation = on;
INSERT INTO careflags.medication_review (patient_id, source_system, reviewed_at) SELECT patient_id, 'sec', '2026-05-02 12:00+02' FROM sp;
SELECT careflags.evaluate_deferred();
SET LOCAL careflags.defer_evaluation = off;
UPDATE careflags.rule SET severity = 2 WHERE rule_id OPERATOR(pg_catalog.=) 'fall_risk.assessment.after_fall';
UPDATE careflags.patient SET deceased = false WHERE source_system OPERATOR(pg_catalog.=) 'sec';
SELECT careflags.recompute_patient(patient_id) FROM sp;
SELECT count(*) FROM careflags.check_consistency();
SELECT * FROM careflags.tick();
SELECT careflags.acknowledge(min(flag_id), 'seen') FROM careflags.flag WHERE patient_id OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT patient_id FROM sp)) AND resolved_at IS NULL;
SELECT careflags.snooze(max(flag_id), careflags.clock() OPERATOR(pg_catalog.+) interval '1 hour') FROM careflags.flag WHERE patient_id OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT patient_id FROM sp)) AND resolved_at IS NULL;
SELECT careflags.exempt(max(flag_id), 'palliative') FROM careflags.flag WHERE patient_id OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT patient_id FROM sp)) AND resolved_at IS NULL;
SELECT * FROM careflags.verify_audit();
SELECT count(*) FROM careflags.worklist;
SELECT count(*) FROM careflags.indicators();
SELECT count(*) FROM careflags.extract();
SELECT count(*) FROM careflags.flag_response_times();
SET LOCAL ROLE rel_nurse;
SELECT count(*) FROM careflags.worklist;
SELECT careflags.acknowledge(min(flag_id), 'nurse saw it') FROM careflags.worklist;
RESET ROLE;
SET LOCAL ROLE rel_quality;
SELECT count(*) FROM careflags.indicators();
SELECT count(*) FROM careflags.extract();
RESET ROLE;
RESET search_path;
SELECT is((SELECT count(*) FROM careflags.flag WHERE patient_id OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT patient_id FROM sp))) OPERATOR(pg_catalog.>) 0, true, 'the operations ran: flags were raised');
SELECT is((SELECT count(*) FROM careflags.quarantine WHERE source_system OPERATOR(pg_catalog.=) 'sec' AND payload->>'items' OPERATOR(pg_catalog.~) 'bogus'), 1::bigint,
          'the guard ran (the bogus screening quarantined)');
SELECT is((SELECT string_agg(DISTINCT pg_catalog.concat(called, ' by ', by_role), ', ') FROM public.trap), NULL,
          'no planted function or operator was called by any careflags code path');

-- ---- (b) no escalation through SECURITY DEFINER ----
SELECT is((SELECT string_agg(p.oid::regprocedure::text, ', ') FROM pg_proc p
            WHERE p.pronamespace = 'careflags'::regnamespace AND p.prosecdef
              AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=pg_catalog, pg_temp')),
          NULL, 'every SECURITY DEFINER function pins search_path = pg_catalog, pg_temp');
SELECT is((SELECT string_agg(p.oid::regprocedure::text, ', ') FROM pg_proc p
            WHERE p.pronamespace = 'careflags'::regnamespace AND p.prosecdef
              AND has_function_privilege('public', p.oid, 'EXECUTE')),
          NULL, 'no SECURITY DEFINER function is executable by PUBLIC');
SELECT is((SELECT string_agg(p.oid::regprocedure::text, ', ') FROM pg_proc p
            WHERE p.pronamespace = 'careflags'::regnamespace AND p.prosecdef
              AND has_function_privilege('rel_nurse', p.oid, 'EXECUTE')),
          NULL, 'a nurse can execute no SECURITY DEFINER function (her actions check visibility as her)');
SELECT is((SELECT string_agg(p.proname, ', ' ORDER BY p.proname) FROM pg_proc p
            WHERE p.pronamespace = 'careflags'::regnamespace AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c')
              AND has_function_privilege('rel_nurse', p.oid, 'EXECUTE')
              AND p.proname NOT IN ('clock', 'version', 'preloaded')),
          'acknowledge, acknowledge_action, action_label, action_of, action_text, bmi, due_soon_from, evaluate_deferred, exempt, exempt_action, flag_restored_row_wins, flag_state, language, my_flag_events_rows, my_flags_rows, my_patients_rows, my_units, reads_every_unit, reason_text, score, score, score_total, score_total, snooze, snooze_action, state_text, worklist_rows',
          'the C functions a nurse can execute: her three actions on a flag and on a row of careflags.actions (these check visibility as her), the pure scoring functions, the pure text renderers of her language (action_label, action_text, language, reason_text, state_text), the pure state and action functions of her views (flag_state, due_soon_from, action_of), her own units (my_units: her rows of unit_access only, as my_unit_access shows them), whether she reads every unit (reads_every_unit: as has_table_privilege()), her rows of her views on Citus (my_flags_rows, worklist_rows, my_patients_rows, my_flag_events_rows: her units only, decided as her), a trigger function and evaluate_deferred (her own deferrals only)');
SELECT is((SELECT count(*) FROM pg_proc p WHERE p.pronamespace = 'careflags'::regnamespace
             AND p.proowner <> (SELECT extowner FROM pg_extension WHERE extname = 'careflags')), 0::bigint,
          'every careflags function is owned by the extension owner');
CREATE TEMP TABLE other_flag AS SELECT min(f.flag_id) AS id FROM careflags.flag f JOIN sp USING (patient_id)
 WHERE sp.source_key = 'secret-key-2' AND f.resolved_at IS NULL;
GRANT SELECT ON other_flag TO PUBLIC;
SET LOCAL ROLE rel_nurse;
SELECT throws_ok(format('SELECT careflags.acknowledge(%s)', (SELECT id FROM other_flag)), 'P0002', NULL,
                 'nurse: acknowledging another unit''s flag is refused as if it did not exist');
SELECT throws_ok(format('SELECT careflags.exempt(%s, %L)', (SELECT id FROM other_flag), 'x'), 'P0002', NULL,
                 'nurse: exempting another unit''s patient is refused');
SELECT throws_ok($$SELECT careflags.recompute_all()$$, '42501', NULL, 'nurse: recompute_all() refused');
SELECT throws_ok($$SELECT careflags.set_trigger_mode('row')$$, '42501', NULL, 'nurse: set_trigger_mode() refused');
SELECT throws_ok($$SELECT careflags.rotate_pseudonym_key()$$, '42501', NULL, 'nurse: rotating the pseudonym secret refused');
SELECT throws_ok($$SELECT * FROM careflags.extract()$$, '42501', NULL, 'nurse: the extract refused');
SELECT throws_ok($$SELECT careflags.pseudonym_hmac('\x00'::bytea, 'x')$$, '42501', NULL, 'nurse: the HMAC function refused');
SELECT throws_ok($$SELECT * FROM careflags.pseudonym_key$$, '42501', NULL, 'nurse: the secret unreadable');
SELECT throws_ok($$SET careflags.frozen_now = '2020-01-01'$$, '42501', NULL, 'nurse: cannot move careflags'' clock (superuser-only setting)');
SELECT throws_ok($$SET careflags.strict = on$$, '42501', NULL, 'nurse: cannot change careflags.strict');
SELECT throws_ok($$UPDATE careflags.rule SET enabled = false$$, '42501', NULL, 'nurse: cannot edit rules');
SELECT throws_ok($$INSERT INTO careflags.unit_access VALUES ('sec-b', 'rel_nurse')$$, '42501', NULL, 'nurse: cannot give herself another unit');
SELECT throws_ok($$CREATE FUNCTION careflags.x() RETURNS int LANGUAGE sql AS 'SELECT 1'$$, '42501', NULL, 'nurse: cannot create objects in schema careflags');
SELECT throws_ok($$SELECT careflags.snooze((SELECT min(flag_id) FROM careflags.worklist), careflags.clock() + interval '1 year')$$,
                 '22023', NULL, 'nurse: snoozing past the rule''s max_snooze refused');
SELECT is((SELECT count(*) FROM careflags.worklist WHERE unit_id <> 'sec-a' OR unit_id IS NULL), 0::bigint, 'nurse: her worklist holds her unit only');
RESET ROLE;
SELECT is((SELECT detail->>'note' FROM careflags.audit ORDER BY audit_id DESC LIMIT 1), 'nurse saw it', 'the nurse''s action is in the audit under her name');

-- ---- (c) the quality role and identifiers ----
-- one resident in ward A: the small-class rule of the extract (k) is tested in
-- tests/core/61_disclosure.sql; here k = 1, to look at that one row
SET LOCAL careflags.min_cell_size = 1;
SET LOCAL ROLE rel_quality;
SELECT throws_ok($$SELECT * FROM careflags.patient$$, '42501', NULL, 'quality: patients unreadable');
SELECT throws_ok($$SELECT * FROM careflags.episode$$, '42501', NULL, 'quality: episodes unreadable');
SELECT throws_ok($$SELECT * FROM careflags.flag$$, '42501', NULL, 'quality: flags (with patient ids) unreadable');
SELECT throws_ok($$SELECT * FROM careflags.audit$$, '42501', NULL, 'quality: audit unreadable');
SELECT throws_ok($$SELECT * FROM careflags.pseudonym_key$$, '42501', NULL, 'quality: the secret unreadable');
SELECT throws_ok($$SELECT careflags.pseudonym_hmac('\x00'::bytea, 'x')$$, '42501', NULL, 'quality: cannot compute pseudonyms herself');
SELECT is((SELECT count(*) FROM careflags.pseudonym_key_info() WHERE generation > 0), 1::bigint, 'quality: sees the secret''s generation, not the secret');
CREATE TEMP TABLE ex AS SELECT * FROM careflags.extract('2026-05-04', 1, '1 year', 67, NULL, 'sec-a');
SELECT is((SELECT count(*) FROM ex), 1::bigint, 'quality: one extract row for ward A''s resident');
SELECT is((SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'ex'::regclass AND attnum > 0
             AND attname ~ '(name|birth|source|patient_id|key$|display)'), NULL, 'quality: no identifying column in the extract');
RESET ROLE;
SELECT is((SELECT count(*) FROM ex, sp WHERE row_to_json(ex)::text LIKE '%' || sp.source_key || '%'
              OR row_to_json(ex)::text LIKE '%Lovelace%' OR row_to_json(ex)::text LIKE '%1931-12-10%'), 0::bigint,
          'no source key, name or birth date anywhere in the extract row');
SELECT is((SELECT count(*) FROM ex, sp WHERE ex.pseudonym IN (md5(sp.source_key), encode(sha256(convert_to(sp.source_key, 'UTF8')), 'hex'),
                                                              encode(sha256(convert_to('sec' || chr(31) || sp.source_key, 'UTF8')), 'hex'),
                                                              sp.patient_id::text)), 0::bigint,
          'the pseudonym is no unkeyed hash of the source key, nor the internal id');
SELECT is((SELECT age_band FROM ex), '90+', 'a 94-year-old is top-coded 90+');

-- ---- (d) NOTIFY careflags: what a stranger's LISTEN receives ----
SELECT format('host=%s port=%s dbname=%s', split_part(current_setting('unix_socket_directories'), ',', 1),
              current_setting('port'), current_database()) AS conn \gset
SELECT dblink_connect('listener', :'conn' || ' user=rel_listener'), dblink_connect('writer', :'conn' || ' user=' || current_user) \g /dev/null
SELECT dblink_exec('listener', 'LISTEN careflags') \g /dev/null
SELECT dblink_exec('writer', $w$INSERT INTO careflags.unit (unit_id, name, setting) VALUES ('sec-n', 'Notify ward', 'nursing_home_long_term')$w$) \g /dev/null
SELECT dblink_exec('writer', $w$WITH p AS (INSERT INTO careflags.patient (source_system, source_key, display_name, birth_date)
                                          VALUES ('sec-notify', 'n1', 'Nora Notify', '1931-02-03') RETURNING patient_id)
                               INSERT INTO careflags.episode (patient_id, source_system, setting, unit_id, started_at)
                               SELECT patient_id, 'sec-notify', 'nursing_home_long_term', 'sec-n', pg_catalog.now() FROM p$w$) \g /dev/null
-- the worker's pass, two months on: the admission flags are overdue
SELECT dblink_exec('writer', $w$SET careflags.frozen_now = '$w$ || (now() + interval '2 months')::text || $w$'$w$) \g /dev/null
SELECT * FROM dblink('writer', 'SELECT patients_reevaluated, flags_notified FROM careflags.tick()') AS t(p integer, n bigint) \g /dev/null
SELECT pg_sleep(0.3) \g /dev/null
CREATE TEMP TABLE heard AS SELECT * FROM dblink_get_notify('listener');
CREATE TEMP TABLE nora AS SELECT * FROM dblink('writer', $w$SELECT e.event_id, e.kind, e.patient_id FROM careflags.flag_event e
                                                             JOIN careflags.patient p USING (patient_id) WHERE p.source_system = 'sec-notify'$w$)
                          AS t(event_id bigint, kind text, patient_id bigint);
SELECT cmp_ok((SELECT count(*) FROM heard WHERE notify_name = 'careflags'), '>=', 6::bigint,
              'a login with no careflags role receives NOTIFY careflags (3 raised, 3 overdue)');
SELECT is((SELECT string_agg(extra, ', ') FROM heard WHERE extra !~ '^[0-9]{1,19}$'), NULL,
          'every payload it receives is a bare number: no flag, patient, rule or unit');
SELECT is((SELECT count(*) FROM heard h WHERE NOT EXISTS (SELECT FROM nora n WHERE n.event_id::text = h.extra)), 0::bigint,
          'each number is the id of the event in careflags.flag_event');
SELECT is((SELECT array_agg(DISTINCT kind ORDER BY kind) FROM nora WHERE event_id::text IN (SELECT extra FROM heard)), '{overdue,raised}'::text[],
          '... for the raised flags and for the worker''s overdue notifications alike');
SELECT throws_ok($$SELECT * FROM dblink('listener', 'SELECT event_id FROM careflags.my_flag_events') AS t(e bigint)$$, '42501', NULL,
                 'the stranger cannot read the events behind the numbers through the view');
SELECT throws_ok($$SELECT * FROM dblink('listener', 'SELECT event_id FROM careflags.flag_event') AS t(e bigint)$$, '42501', NULL,
                 '... nor from the table');
SET LOCAL ROLE rel_nurse;
SELECT is_empty($$SELECT * FROM careflags.my_flag_events WHERE unit_id = 'sec-n'$$, 'a nurse of another unit reads none of them');
RESET ROLE;
SELECT dblink_exec('writer', $w$DELETE FROM careflags.patient WHERE source_system = 'sec-notify'$w$) \g /dev/null
SELECT dblink_exec('writer', $w$DELETE FROM careflags.flag_event WHERE unit_id = 'sec-n'$w$) \g /dev/null
SELECT dblink_exec('writer', $w$DELETE FROM careflags.unit WHERE unit_id = 'sec-n'$w$) \g /dev/null
SELECT dblink_disconnect('listener'), dblink_disconnect('writer') \g /dev/null
SELECT * FROM finish();
ROLLBACK;
DROP ROLE rel_listener;
