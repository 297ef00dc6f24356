-- tests/gnumed/70_upgrade.sql - careflags_gnumed 1.0 + ALTER EXTENSION UPDATE
-- gives the same objects as a fresh 1.1 install (functions, tables,
-- triggers, default mapping, grants, comments), and the update keeps the
-- site's mapping and the flags' identity.
\set gm_status `cat "$PGHOST/careflags_gnumed.status" 2>/dev/null || echo 'not prepared: tests/gnumed/setup.sh did not run'`
SELECT :'gm_status' = 'ready' AS gm_ready \gset
\if :gm_ready
\c gnumed_v22
SET default_transaction_read_only = off;
SET client_min_messages = warning;
BEGIN;
SELECT plan(8);

-- Everything a DBA can see of the plugin, one row per object.
-- (a function: a view would depend on the plugin's tables)
CREATE FUNCTION pg_temp.plugin_objects() RETURNS TABLE (kind text, name text, def text) LANGUAGE plpgsql AS $f$
#variable_conflict use_column
BEGIN
    RETURN QUERY
SELECT 'function'::text AS kind, p.oid::regprocedure::text AS name,
       md5(pg_get_functiondef(p.oid)) || ' ' || coalesce(p.proacl::text, '') || ' ' || coalesce(obj_description(p.oid, 'pg_proc'), '') AS def
  FROM pg_proc p WHERE p.pronamespace = 'careflags_gnumed'::regnamespace
UNION ALL
SELECT 'relation', c.relname, c.relkind::text || ' ' || coalesce(c.relacl::text, '') || ' ' || coalesce(obj_description(c.oid, 'pg_class'), '') || ' '
       || (SELECT string_agg(a.attname || ':' || format_type(a.atttypid, a.atttypmod) || ':' || a.attnotnull || ':'
                             || coalesce(pg_get_expr(d.adbin, d.adrelid), ''), ',' ORDER BY a.attnum)
             FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
  FROM pg_class c WHERE c.relnamespace = 'careflags_gnumed'::regnamespace
UNION ALL
SELECT 'constraint', conrelid::regclass || '.' || conname, pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'careflags_gnumed'::regnamespace
UNION ALL
SELECT 'trigger', t.tgrelid::regclass || '.' || t.tgname, pg_get_triggerdef(t.oid) || ' ' || coalesce(obj_description(t.oid, 'pg_trigger'), '')
       || ' ' || EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_trigger'::regclass AND d.objid = t.oid AND d.deptype IN ('e', 'x'))
  FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
 WHERE NOT t.tgisinternal AND (p.pronamespace = 'careflags_gnumed'::regnamespace OR t.tgname ~ '^zzzz_careflags_')
UNION ALL
SELECT 'event trigger', evtname, evtevent || ' ' || evtfoid::regproc || ' ' || coalesce(evttags::text, '') FROM pg_event_trigger WHERE evtname ~ 'careflags_gnumed'
UNION ALL
SELECT 'schema grant', nspname, coalesce(nspacl::text, '') FROM pg_namespace WHERE nspname = 'careflags_gnumed'
UNION ALL
SELECT 'member', pg_describe_object(classid, objid, objsubid), deptype::text FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'careflags_gnumed')
UNION ALL
SELECT 'default ' || t, k, v FROM (
    SELECT 'setting_map' AS t, category_pattern AS k, setting || ' ' || priority AS v FROM careflags_gnumed.setting_map WHERE origin = 'default'
    UNION ALL SELECT 'test_type_map', coalesce(loinc, name_pattern), coalesce(measurement::text, instrument::text) FROM careflags_gnumed.test_type_map WHERE origin = 'default'
    UNION ALL SELECT 'unit_conversion', kind || ' ' || unit, factor::text FROM careflags_gnumed.unit_conversion WHERE origin = 'default'
    UNION ALL SELECT 'procedure_map', pattern, concat_ws(' ', fact, instrument, plan_kind, code, priority, comment) FROM careflags_gnumed.procedure_map WHERE origin = 'default'
    UNION ALL SELECT 'settings', name, value FROM careflags_gnumed.settings
    UNION ALL SELECT 'hint', action || ' ' || language, concat_ws(' ', title, hint, popup_type, highlight_as_priority) FROM careflags_gnumed.hint) x
UNION ALL
SELECT 'auto_hint', title, concat_ws(' ', query, recommendation_query, hint, is_active, source, lang, popup_type, highlight_as_priority)
  FROM ref.auto_hint WHERE source = 'careflags';
END
$f$;

CREATE TEMP TABLE fresh AS SELECT * FROM pg_temp.plugin_objects();
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'careflags_gnumed'), '1.1', 'installed fresh at 1.1');
SELECT ok((SELECT count(*) FROM fresh WHERE kind = 'function') > 25 AND (SELECT count(*) FROM fresh WHERE kind = 'trigger') = 22
          AND (SELECT count(*) FROM fresh WHERE kind = 'default procedure_map') = 10,
          'the comparison sees the plugin''s functions, its 22 triggers (16 on GNUmed''s tables, two of them careflags.note_keys(), 6 on its mapping tables) and its default patterns');

DROP EXTENSION careflags_gnumed;
DROP TABLE careflags_gnumed.kept_site_data;
CREATE EXTENSION careflags_gnumed VERSION '1.0';
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'careflags_gnumed'), '1.0', 'the released 1.0 installs');
-- a site's mapping and an acknowledged flag before the update
INSERT INTO careflags_gnumed.substance_atc (substance_pattern, atc) VALUES ('amitriptyline', 'N06AA09');
SELECT careflags.acknowledge(f.flag_id, 'seen') FROM careflags.flag f JOIN careflags.patient p USING (patient_id)
 WHERE p.source_system = 'gnumed' AND f.resolved_at IS NULL ORDER BY f.flag_id LIMIT 1;
CREATE TEMP TABLE flags_before AS
SELECT flag_id, rule_id, acknowledged_at FROM careflags.flag f JOIN careflags.patient p USING (patient_id)
 WHERE p.source_system = 'gnumed' AND f.resolved_at IS NULL;

ALTER EXTENSION careflags_gnumed UPDATE TO '1.1';
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'careflags_gnumed'), '1.1', 'ALTER EXTENSION UPDATE reaches 1.1');
SELECT is((SELECT string_agg(format('%s %s', kind, name), E'\n' ORDER BY kind, name)
             FROM ((SELECT kind, name, def FROM fresh EXCEPT SELECT kind, name, def FROM pg_temp.plugin_objects())
                   UNION ALL (SELECT kind, name, def FROM pg_temp.plugin_objects() EXCEPT SELECT kind, name, def FROM fresh
                               WHERE NOT (kind = 'default substance_atc'))) d),
          NULL, 'the updated plugin has exactly the objects of a fresh 1.1 (definitions, grants, comments, members, defaults, hints)');
SELECT is((SELECT atc FROM careflags_gnumed.substance_atc WHERE substance_pattern = 'amitriptyline'), 'N06AA09',
          'the update keeps the site''s mapping');
SELECT set_eq($$SELECT flag_id, rule_id, acknowledged_at FROM careflags.flag f JOIN careflags.patient p USING (patient_id)
                 WHERE p.source_system = 'gnumed' AND f.resolved_at IS NULL$$,
              $$SELECT * FROM flags_before$$, 'and the flags'' identity and acknowledgements');
SELECT is((SELECT count(*)::int FROM clin.get_hints_for_patient(13) WHERE title LIKE 'ERROR%'), 0, 'no hint fails after the update');

SET CONSTRAINTS ALL IMMEDIATE;
SELECT * FROM finish();
ROLLBACK;
\else
-- TAP "skip all": pg_prove reports the file as skipped, with the reason.
\echo 1..0 # SKIP GNUmed database unavailable: :gm_status
\endif
