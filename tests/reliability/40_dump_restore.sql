-- Reliability 4: pg_dump -Fc and pg_restore of a database with careflags,
-- customised rules, flags, audit and the pseudonym secret (site.psql), into
-- a new database.  Compared across the two (dblink): facts, flags (every
-- column, acknowledgements and snoozes included), rules, site changes, site
-- FRIDs, quarantine, audit rows and head, the secret and the extract's
-- pseudonyms.  After the restore the chain verifies, flags are consistent,
-- and the restored database works: a new fact raises a flag, a nurse action
-- extends the chain.
\c careflags_reliability
\set QUIET 1
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\! PGOPTIONS=-cclient_min_messages=warning psql -X -q -d postgres -c 'DROP DATABASE IF EXISTS careflags_rel_src' -c 'DROP DATABASE IF EXISTS careflags_rel_dst' -c 'CREATE DATABASE careflags_rel_src' -c 'CREATE DATABASE careflags_rel_dst' 2>&1
\! psql -X -q -d careflags_rel_src -c 'CREATE EXTENSION careflags' -f tests/reliability/site.psql >/dev/null 2>&1 && echo '# site database made'
\! pg_dump -Fc -d careflags_rel_src -f /tmp/careflags_rel_dump.$PPID && pg_restore --exit-on-error -d careflags_rel_dst /tmp/careflags_rel_dump.$PPID 2>&1 && echo '# restore exit 0' && rm -f /tmp/careflags_rel_dump.$PPID
SELECT format('host=%s port=%s user=%s dbname=', split_part(current_setting('unix_socket_directories'), ',', 1),
              current_setting('port'), current_user) AS conn \gset
SELECT dblink_connect('src', :'conn' || 'careflags_rel_src') \g /dev/null
SELECT dblink_connect('dst', :'conn' || 'careflags_rel_dst') \g /dev/null

-- md5 of a query's rows, in each database
CREATE FUNCTION pg_temp.digest(conn text, q text) RETURNS text LANGUAGE sql AS $$
    SELECT d FROM dblink(conn, format('SELECT md5(COALESCE(string_agg(t::text, %L ORDER BY t::text), %L)) FROM (%s) t', chr(10), '', q)) AS x(d text) $$;
CREATE FUNCTION pg_temp.same(q text, what text) RETURNS text LANGUAGE sql AS $$
    SELECT is(pg_temp.digest('dst', q), pg_temp.digest('src', q), what) $$;
CREATE FUNCTION pg_temp.one(conn text, q text) RETURNS text LANGUAGE sql AS $$
    SELECT v FROM dblink(conn, q) AS x(v text) $$;

BEGIN;
SELECT plan(27);
SELECT cmp_ok(pg_temp.one('src', 'SELECT count(*) FROM careflags.flag')::int, '>', 40, 'the site database has flags');
SELECT cmp_ok(pg_temp.one('src', 'SELECT count(*) FROM careflags.audit')::int, '>', 10, 'and an audit chain');
SELECT pg_temp.same('SELECT * FROM careflags.patient', 'patients restored');
SELECT pg_temp.same('SELECT * FROM careflags.episode', 'episodes restored');
SELECT pg_temp.same('SELECT * FROM careflags.assessment', 'assessments restored (with their computed totals)');
SELECT pg_temp.same('SELECT * FROM careflags.measurement UNION ALL SELECT patient_id, medication_id, source_system, source_key, NULL, 0, started_at FROM careflags.medication',
                    'measurements and medicines restored');
SELECT pg_temp.same('SELECT * FROM careflags.fall', 'falls restored');
SELECT pg_temp.same('SELECT * FROM careflags.exemption', 'exemptions made by nurses restored');
SELECT pg_temp.same('SELECT quarantine_id, fact_table, source_system, source_key, reason, payload FROM careflags.quarantine',
                    'quarantine restored');
-- pg_restore loads the extension's tables in name order (measurement,
-- medication and rule_site_change after flag): flags must come back exactly
-- as saved, not re-evaluated under the default rules on the way, and no flag
-- id may be handed out twice (docs/reliability.md, "restore order").
SELECT pg_temp.same('SELECT * FROM careflags.flag', 'flags restored row for row: ids, due times, acknowledgements, snoozes, resolutions');
SELECT is(pg_temp.one('dst', 'SELECT count(*) FROM (SELECT flag_id FROM careflags.flag GROUP BY 1 HAVING count(*) > 1) d'), '0',
          'no flag id is given to two flags');
SELECT pg_temp.same('SELECT * FROM careflags.rule', 'rules restored: the edit, the disabled rule and the site rule');
SELECT pg_temp.same('SELECT rule_id, rule FROM careflags.rule_site_change', 'the site''s rule changes restored');
SELECT pg_temp.same('SELECT * FROM careflags.frid_atc', 'the site FRID restored beside the defaults');
SELECT pg_temp.same('SELECT * FROM careflags.unit_access', 'unit access restored');
SELECT pg_temp.same('SELECT * FROM careflags.audit', 'audit rows restored');
SELECT pg_temp.same('SELECT * FROM careflags.audit_head', 'audit head restored');
SELECT pg_temp.same('SELECT secret, generation FROM careflags.pseudonym_key', 'the rotated pseudonym secret restored (one row, generation 2)');
SELECT pg_temp.same('SELECT pseudonym, age_band, sex, nutrition_screening FROM careflags.extract()',
                    'the extract gives the same pseudonyms after the restore');
SELECT is(pg_temp.one('dst', 'SELECT intact::text || checked FROM careflags.verify_audit()'),
          'true' || pg_temp.one('src', 'SELECT count(*) FROM careflags.audit'), 'the restored audit chain verifies, every row');
SELECT is(pg_temp.one('dst', 'SELECT count(*) FROM careflags.check_consistency()'), '0', 'restored flags are consistent');
-- time goes on after the restore: an exemption ends, the worker's tick must
-- reopen the flag (patient_state, which says when to look again, must
-- survive the restore or be rebuilt; 1.0 did not save it, 1.1 does).
SELECT dblink_exec(c, format('SET careflags.frozen_now = %L', now() + interval '45 days')) FROM unnest(ARRAY['src', 'dst']) c \g /dev/null
SELECT is(pg_temp.one('dst', 'SELECT patients_reevaluated FROM careflags.tick()'), pg_temp.one('src', 'SELECT patients_reevaluated FROM careflags.tick()'),
          '45 days on, the worker re-evaluates as many patients in the restored database as in the original');
SELECT is(pg_temp.one('dst', 'SELECT count(*) FROM careflags.check_consistency()'), '0',
          '45 days on, after the worker''s tick, the restored flags are consistent (the ended exemption''s flag reopened)');
SELECT dblink_exec(c, 'RESET careflags.frozen_now') FROM unnest(ARRAY['src', 'dst']) c \g /dev/null
-- recompute_all() after a restore changes nothing and leaves the flags consistent
SELECT cmp_ok(pg_temp.one('dst', 'SELECT careflags.recompute_all()')::int, '>=', 0, 'recompute_all() runs in the restored database');
SELECT is(pg_temp.one('dst', 'SELECT count(*) FROM careflags.check_consistency()'), '0', 'after recompute_all() the restored flags are consistent');
-- it works after the restore
SELECT is(pg_temp.one('dst', $$
    WITH p AS (SELECT min(patient_id) AS id FROM careflags.patient p JOIN careflags.episode e USING (patient_id)
                WHERE e.setting = 'nursing_home_long_term' AND NOT EXISTS (SELECT FROM careflags.flag f WHERE f.patient_id = p.patient_id
                      AND f.rule_id = 'fall_risk.assessment.after_fall' AND f.resolved_at IS NULL))
    SELECT count(*) FROM p, LATERAL (SELECT careflags.recompute_patient(p.id)) r$$), '1', 'recompute_patient works in the restored database');
SELECT is(pg_temp.one('dst', $$SELECT (SELECT count(*) FROM (SELECT careflags.acknowledge(min(flag_id), 'after restore')
                                         FROM careflags.flag WHERE resolved_at IS NULL AND acknowledged_at IS NULL) a)
                                 || '/' || (SELECT intact FROM careflags.verify_audit())$$), '1/true',
          'a nurse action after the restore extends the chain, which still verifies');
SELECT * FROM finish();
ROLLBACK;
SELECT dblink_disconnect('src'), dblink_disconnect('dst') \g /dev/null
\! psql -X -q -d postgres -c 'DROP DATABASE careflags_rel_src' -c 'DROP DATABASE careflags_rel_dst'
