-- careflags_fhir: upgrade 1.0 -> 1.1.  A database with careflags_fhir 1.0
-- and a configured store (row triggers of 1.0) is updated with ALTER
-- EXTENSION careflags_fhir UPDATE: the store gets the statement-level
-- triggers of 1.1, its writes still map, and the extension's objects are
-- those of a fresh 1.1 install (a fresh install runs 1.0 and the same
-- upgrade script; compared here with the catalogue of this database's fresh
-- install).
\c careflags_fhir_test
\set QUIET 1

BEGIN;
SET LOCAL client_min_messages = error;
SELECT plan(8);

CREATE TEMP TABLE fresh AS
    SELECT pg_describe_object(d.classid, d.objid, 0) AS what,
           CASE WHEN d.classid = 'pg_proc'::regclass THEN pg_get_functiondef(d.objid) END AS def
    FROM pg_depend AS d JOIN pg_extension AS e ON e.oid = d.refobjid
    WHERE e.extname = 'careflags_fhir' AND d.deptype = 'e';

DROP EXTENSION careflags_fhir;
CREATE EXTENSION careflags_fhir VERSION '1.0';
SELECT lives_ok($$SELECT careflags_fhir.setup('tables', 'public')$$, '1.0: setup');
SELECT is((SELECT array_agg(tgname::text ORDER BY tgname) FROM pg_trigger WHERE tgrelid = 'public."Patient"'::regclass),
          ARRAY['careflags_fhir_map'], '1.0: a row trigger on the store');
INSERT INTO public."Patient" (id, content) VALUES ('d1000000-0000-4000-8000-000000000001',
    '{"resourceType": "Patient", "id": "d1000000-0000-4000-8000-000000000001", "birthDate": "1930-01-01"}');

SELECT lives_ok($$ALTER EXTENSION careflags_fhir UPDATE TO '1.1'$$, 'ALTER EXTENSION careflags_fhir UPDATE TO 1.1');
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'careflags_fhir'), '1.1', 'now 1.1');
SELECT is((SELECT array_agg(tgname::text ORDER BY tgname) FROM pg_trigger WHERE tgrelid = 'public."Patient"'::regclass),
          ARRAY['careflags_fhir_map_delete', 'careflags_fhir_map_insert', 'careflags_fhir_map_update'],
          'the configured store has the statement-level triggers of 1.1');
UPDATE public."Patient" SET content = replace(content, '1930-01-01', '1931-01-01') WHERE id = 'd1000000-0000-4000-8000-000000000001';
SELECT is((SELECT birth_date FROM careflags.patient WHERE source_key = 'Patient/d1000000-0000-4000-8000-000000000001'),
          '1931-01-01'::date, 'writes to the store still map');
SELECT is_empty($$SELECT pg_describe_object(d.classid, d.objid, 0) FROM pg_depend AS d JOIN pg_extension AS e ON e.oid = d.refobjid
                   WHERE e.extname = 'careflags_fhir' AND d.deptype = 'e'
                  EXCEPT SELECT what FROM fresh$$, 'no object that a fresh install lacks');
SELECT is_empty($$SELECT what, def FROM fresh
                  EXCEPT SELECT pg_describe_object(d.classid, d.objid, 0),
                                CASE WHEN d.classid = 'pg_proc'::regclass THEN pg_get_functiondef(d.objid) END
                           FROM pg_depend AS d JOIN pg_extension AS e ON e.oid = d.refobjid
                          WHERE e.extname = 'careflags_fhir' AND d.deptype = 'e'$$,
                'every object and function definition of a fresh install, alike');

SELECT * FROM finish();
ROLLBACK;
