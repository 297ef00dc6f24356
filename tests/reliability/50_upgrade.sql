-- Reliability 5: upgrade.  A database made with the 1.0 install script
-- (CREATE EXTENSION careflags VERSION '1.0'), populated and customised as a
-- site would (site.psql: rule edits, a site rule, a site FRID, flags,
-- acknowledgements, snoozes, exemptions, a rotated pseudonym secret), is
-- updated with ALTER EXTENSION careflags UPDATE TO the current version
-- (1.0 -> 1.1 -> 1.2 -> 1.3, through every upgrade script).  Kept: every
-- table's rows (digests before and after).  Alike: the upgraded database and
-- a fresh install of the current version, object by object: members,
-- comments, function definitions, columns, constraints, indexes, triggers,
-- policies, grants, config-dump tables; and behaviour (the same site script
-- gives the same flags).  The 1.0 script is the released one
-- (sql/careflags--1.0.sql), the fresh one is generated from sql/parts/: two
-- independent paths to the same extension.
\c careflags_reliability
\set QUIET 1
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\! PGOPTIONS=-cclient_min_messages=warning psql -X -q -d postgres -c 'DROP DATABASE IF EXISTS careflags_rel_old' -c 'DROP DATABASE IF EXISTS careflags_rel_new' -c 'CREATE DATABASE careflags_rel_old' -c 'CREATE DATABASE careflags_rel_new'
\! psql -X -q -d careflags_rel_old -c "CREATE EXTENSION careflags VERSION '1.0'" -f tests/reliability/site.psql >/dev/null 2>&1 && echo '# 1.0 site database made'
\! psql -X -q -d careflags_rel_new -c "CREATE EXTENSION careflags" -f tests/reliability/site.psql >/dev/null 2>&1 && echo '# current-version site database made'
SELECT format('host=%s port=%s user=%s dbname=', split_part(current_setting('unix_socket_directories'), ',', 1),
              current_setting('port'), current_user) AS conn \gset
SELECT dblink_connect('old', :'conn' || 'careflags_rel_old'), dblink_connect('new', :'conn' || 'careflags_rel_new') \g /dev/null
SELECT default_version AS latest FROM pg_available_extensions WHERE name = 'careflags' \gset

CREATE FUNCTION pg_temp.digest(conn text, q text) RETURNS text LANGUAGE sql AS $$
    SELECT d FROM dblink(conn, format('SELECT md5(COALESCE(string_agg(t::text, %L ORDER BY t::text), %L)) FROM (%s) t', chr(10), '', q)) AS x(d text) $$;
CREATE FUNCTION pg_temp.one(conn text, q text) RETURNS text LANGUAGE sql AS $$
    SELECT v FROM dblink(conn, q) AS x(v text) $$;
-- rows that list the differences of a catalogue query between the databases
CREATE FUNCTION pg_temp.diff(q text) RETURNS text LANGUAGE sql AS $$
    SELECT COALESCE(string_agg(s || ': ' || r, '; ' ORDER BY r), '') FROM (
        (SELECT 'only upgraded' AS s, r FROM dblink('old', q) AS a(r text)
         EXCEPT SELECT 'only upgraded', r FROM dblink('new', q) AS b(r text))
        UNION ALL
        (SELECT 'only fresh', r FROM dblink('new', q) AS b(r text)
         EXCEPT SELECT 'only fresh', r FROM dblink('old', q) AS a(r text))) d $$;

CREATE TEMP TABLE kept (what text PRIMARY KEY, q text, before text);
INSERT INTO kept (what, q) VALUES
    ('rules', 'SELECT * FROM careflags.rule'),
    ('site rule changes', 'SELECT rule_id, rule FROM careflags.rule_site_change'),
    ('FRIDs', 'SELECT * FROM careflags.frid_atc'),
    ('flags', 'SELECT * FROM careflags.flag'),
    ('audit', 'SELECT * FROM careflags.audit UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, last_hash, NULL FROM careflags.audit_head'),
    ('pseudonym secret', 'SELECT * FROM careflags.pseudonym_key'),
    ('facts', 'SELECT ''p'', patient_id, source_key FROM careflags.patient UNION ALL SELECT ''m'', measurement_id, source_key FROM careflags.measurement UNION ALL SELECT ''a'', assessment_id, source_key FROM careflags.assessment UNION ALL SELECT ''x'', exemption_id, source_key FROM careflags.exemption'),
    ('quarantine', 'SELECT * FROM careflags.quarantine'),
    ('units and access', 'SELECT u.*, a.role_name FROM careflags.unit u LEFT JOIN careflags.unit_access a USING (unit_id)');
UPDATE kept SET before = pg_temp.digest('old', q);

BEGIN;
SELECT plan(24);
SELECT is(pg_temp.one('old', $$SELECT extversion FROM pg_extension WHERE extname = 'careflags'$$), '1.0', 'installed from the 1.0 script');
SELECT cmp_ok(pg_temp.one('old', 'SELECT count(*) FROM careflags.audit')::int, '>', 10, 'populated: flags acted on, audit written');
SELECT is(pg_temp.one('old', format($$SELECT path FROM pg_extension_update_paths('careflags') WHERE source = '1.0' AND target = %L$$, :'latest')),
          '1.0--1.1--1.2--1.3', 'an update path 1.0 -> 1.1 -> 1.2 -> 1.3 is installed (' || :'latest' || ' is the current version)');
SELECT is(dblink_exec('old', $$ALTER EXTENSION careflags UPDATE$$), 'ALTER EXTENSION', 'ALTER EXTENSION careflags UPDATE on the populated database');
SELECT is(pg_temp.one('old', $$SELECT extversion FROM pg_extension WHERE extname = 'careflags'$$), :'latest', 'now at the current version');
SELECT is(pg_temp.digest('old', q), before, what || ' kept by the upgrade') FROM kept ORDER BY what;
SELECT is(pg_temp.one('old', 'SELECT intact::text FROM careflags.verify_audit()'), 'true', 'the audit chain verifies after the upgrade');
SELECT is(pg_temp.one('old', 'SELECT count(*) FROM careflags.check_consistency()'), '0', 'flags consistent after the upgrade');
SELECT is(pg_temp.one('old', $$SELECT count(*) FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'careflags'
                               WHERE d.deptype = 'e' AND d.classid IN ('pg_proc'::regclass, 'pg_class'::regclass, 'pg_type'::regclass)
                                 AND obj_description(d.objid, d.classid::regclass::name) IS NULL
                                 AND NOT EXISTS (SELECT FROM pg_type t WHERE d.classid = 'pg_type'::regclass AND t.oid = d.objid AND t.typrelid <> 0)$$),
          '0', 'every function, relation, sequence and type of the extension has a comment');

-- the upgraded and the fresh database are alike
SELECT is(pg_temp.diff($$SELECT pg_describe_object(d.classid, d.objid, d.objsubid) || ' = ' || COALESCE(ds.description, '(no comment)')
                         FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'careflags'
                         LEFT JOIN pg_description ds ON ds.objoid = d.objid AND ds.classoid = d.classid AND ds.objsubid = 0
                        WHERE d.deptype = 'e'$$), '', 'same member objects with the same comments');
SELECT is(pg_temp.diff($$SELECT p.oid::regprocedure || ' ' || md5(pg_get_functiondef(p.oid)) || ' ' || COALESCE(p.proacl::text, '')
                         FROM pg_proc p WHERE p.pronamespace = 'careflags'::regnamespace AND p.prokind <> 'a'$$), '', 'same function definitions and grants');
SELECT is(pg_temp.diff($$SELECT c.oid::regclass || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull
                               || ' ' || COALESCE(pg_get_expr(ad.adbin, ad.adrelid), '') || ' ' || a.attidentity::text || ' ' || COALESCE(col_description(c.oid, a.attnum), '')
                         FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                         LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
                        WHERE c.relnamespace = 'careflags'::regnamespace$$), '', 'same columns, types, defaults and column comments');
SELECT is(pg_temp.diff($$SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
                        WHERE connamespace = 'careflags'::regnamespace
                        UNION ALL SELECT pg_get_indexdef(indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                        WHERE c.relnamespace = 'careflags'::regnamespace$$), '', 'same constraints and indexes');
SELECT is(pg_temp.diff($$SELECT pg_get_triggerdef(t.oid) || ' ' || t.tgenabled::text FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                        WHERE c.relnamespace = 'careflags'::regnamespace AND NOT t.tgisinternal
                        UNION ALL SELECT 'policy ' || schemaname || '.' || tablename || ' ' || policyname || ' ' || roles::text || ' ' || cmd || ' ' || COALESCE(qual, '')
                        FROM pg_policies WHERE schemaname = 'careflags'
                        UNION ALL SELECT c.oid::regclass || ' acl ' || COALESCE(c.relacl::text, '') || ' rls ' || c.relrowsecurity
                        FROM pg_class c WHERE c.relnamespace = 'careflags'::regnamespace$$), '', 'same triggers, policies, table grants and row-level security');
SELECT is(pg_temp.diff($$SELECT c::regclass || ' ' || COALESCE(w, '') FROM pg_extension e,
                        unnest(e.extconfig, e.extcondition) AS u(c, w) WHERE e.extname = 'careflags'$$), '', 'same tables saved by pg_dump, with the same conditions');
SELECT is(pg_temp.diff($$SELECT k || ' ' || count(*) FROM (SELECT f.rule_id || ' ' || (f.resolved_at IS NULL) || ' ' || COALESCE(f.resolution, '') AS k
                         FROM careflags.flag f) x GROUP BY k$$), '',
          'same behaviour: the site script gave the same flags per rule and resolution in both');
SELECT * FROM finish();
ROLLBACK;
SELECT dblink_disconnect('old'), dblink_disconnect('new') \g /dev/null
\! PGOPTIONS=-cclient_min_messages=warning psql -X -q -d postgres -c 'DROP DATABASE careflags_rel_old' -c 'DROP DATABASE careflags_rel_new'
