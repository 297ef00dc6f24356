-- The extension as a DBA meets it: create and drop in a fresh database,
-- everything owned by the extension, commented, search_path pinned, site
-- data kept by pg_dump.
\set ON_ERROR_STOP 1
\set QUIET 1
SET client_min_messages = warning;
SELECT current_database() AS home \gset
DROP DATABASE IF EXISTS careflags_fresh;
CREATE DATABASE careflags_fresh;
\c careflags_fresh
CREATE EXTENSION pgtap;
BEGIN;
SELECT plan(16);

SELECT lives_ok('CREATE EXTENSION careflags', 'CREATE EXTENSION careflags in a fresh database');
SELECT has_schema('careflags');
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'careflags'),
          (SELECT default_version FROM pg_available_extensions WHERE name = 'careflags'), 'installed at the default version');
SELECT is(careflags.version(), (SELECT extversion FROM pg_extension WHERE extname = 'careflags'), 'the library matches the SQL version');

SELECT is_empty($$
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'careflags' AND c.relkind IN ('r', 'v', 'S', 'c')
       AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                          AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e')
       AND c.relkind <> 'c'$$, 'every table, view and sequence belongs to the extension');
SELECT is_empty($$
    SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'careflags'
       AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                          AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e')$$,
    'every function belongs to the extension');
SELECT is_empty($$
    SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE n.nspname = 'careflags' AND t.typtype IN ('e', 'c', 'd') AND t.typrelid = 0
       AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid
                          AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e')$$,
    'every type belongs to the extension');

SELECT is_empty($$
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'careflags' AND c.relkind IN ('r', 'v') AND obj_description(c.oid, 'pg_class') IS NULL$$,
    'every table and view has a comment');
SELECT is_empty($$
    SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'careflags' AND p.prolang <> (SELECT oid FROM pg_language WHERE lanname = 'c')
       AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')$$,
    'every SQL and PL/pgSQL function pins search_path');
SELECT is_empty($$
    SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'careflags' AND p.prosecdef
       AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c = 'search_path=pg_catalog, pg_temp')$$,
    'every SECURITY DEFINER function pins search_path to pg_catalog, pg_temp');

SELECT set_has(
    $$SELECT c.relname::text FROM pg_extension e, unnest(e.extconfig) AS t(oid) JOIN pg_class c ON c.oid = t.oid
       WHERE e.extname = 'careflags'$$,
    $$VALUES ('unit'), ('unit_access'), ('patient'), ('episode'), ('assessment'), ('measurement'), ('medication'),
             ('medication_review'), ('care_plan'), ('fall'), ('exemption'), ('quarantine'), ('flag'),
             ('rule_site_change'), ('frid_atc'), ('audit'), ('audit_head'), ('flag_flag_id_seq'), ('audit_id_seq')$$,
    'site data (facts, flags, audit, rule changes) is kept by pg_dump');
SELECT is((SELECT count(*) FROM careflags.rule WHERE origin = 'default'), 19::bigint, 'the Norwegian default rules are installed');

SELECT has_role('careflags_nurse');
SELECT has_role('careflags_quality');

SELECT lives_ok('DROP EXTENSION careflags', 'DROP EXTENSION careflags');
SELECT hasnt_schema('careflags', 'and the schema is gone');

SELECT * FROM finish();
ROLLBACK;
\c :home
DROP DATABASE careflags_fresh;
