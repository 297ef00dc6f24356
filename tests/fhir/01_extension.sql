-- careflags_fhir: the extension itself.  Objects commented, search_path
-- pinned, nothing for PUBLIC; a FHIR application role without any right on
-- careflags writes its tables and the facts appear; setup() checks the store
-- shape; site edits of the mapping tables take effect with remap().
\c careflags_fhir_test
\set QUIET 1

BEGIN;
SET LOCAL client_min_messages = error;
SELECT plan(24);

SELECT is((SELECT requires FROM pg_available_extension_versions WHERE name = 'careflags_fhir' AND version = '1.0'),
          ARRAY['careflags']::name[], 'careflags_fhir requires careflags');
SELECT has_schema('careflags_fhir');

CREATE TEMP VIEW members AS
    SELECT d.classid, d.objid, pg_describe_object(d.classid, d.objid, 0) AS what
    FROM pg_depend AS d JOIN pg_extension AS e ON e.oid = d.refobjid
    WHERE e.extname = 'careflags_fhir' AND d.deptype = 'e';
SELECT is_empty($$SELECT what FROM members
                  WHERE classid IN ('pg_class'::regclass, 'pg_proc'::regclass, 'pg_type'::regclass)
                    AND obj_description(objid, classid::regclass::text) IS NULL
                    AND NOT (classid = 'pg_type'::regclass AND EXISTS (SELECT FROM pg_type WHERE oid = objid AND (typrelid <> 0 OR typelem <> 0)))
                    AND NOT (classid = 'pg_class'::regclass AND EXISTS (SELECT FROM pg_class WHERE oid = objid AND relkind IN ('i', 'S')))$$,
                'every table, view, function and type has a COMMENT');
SELECT is_empty($$SELECT p.oid::regprocedure FROM pg_proc AS p JOIN members AS m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
                  WHERE NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)$$,
                'every function pins search_path = pg_catalog, pg_temp');
SELECT is((SELECT array_agg(p.oid::regprocedure::text ORDER BY p.oid::regprocedure::text) FROM pg_proc AS p JOIN members AS m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
            WHERE p.prosecdef),
          ARRAY['careflags_fhir.flag_changed()', 'careflags_fhir.load_bundle(jsonb)', 'careflags_fhir.load_ndjson(text,text)',
                'careflags_fhir.remap(text)', 'careflags_fhir.resource_changed()', 'careflags_fhir.resources_changed()'],
          'SECURITY DEFINER only for the triggers (1.0''s row trigger kept for stores not set up again), the loaders and remap');
SELECT is_empty($$SELECT p.oid::regprocedure FROM pg_proc AS p JOIN members AS m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
                  WHERE has_function_privilege('public', p.oid, 'EXECUTE')$$,
                'no function is executable by PUBLIC');
SELECT ok((SELECT array_agg(c::regclass::text ORDER BY 1) FROM pg_extension AS e, unnest(e.extconfig) AS c WHERE e.extname = 'careflags_fhir')
          @> ARRAY['careflags_fhir.code_map', 'careflags_fhir.config', 'careflags_fhir.resource', 'careflags_fhir.resource_map',
                   'careflags_fhir.rxnorm_atc', 'careflags_fhir.setting_map', 'careflags_fhir.unit_conversion'],
          'site data and store tables are kept by pg_dump (pg_extension_config_dump)');
SELECT ok(NOT EXISTS (SELECT FROM careflags_fhir.rxnorm_atc WHERE source IS NULL OR source = ''),
          'every shipped RxNorm -> ATC row names its source');

-- setup() refuses what it cannot use.
SELECT throws_ok($$SELECT careflags_fhir.setup('mongo')$$, '22023', NULL, 'setup: unknown layout refused');
CREATE SCHEMA fhir_odd;
CREATE TABLE fhir_odd."Patient" (id text PRIMARY KEY, resource jsonb);
SELECT throws_ok($$SELECT careflags_fhir.setup('tables', 'fhir_odd', false)$$, '42809', NULL,
                 'setup: an existing table without the FHIR store shape is refused');

-- A FHIR application role with no right on careflags.
SELECT lives_ok($$SELECT careflags_fhir.setup('tables', 'public')$$, 'setup: per-type tables');
GRANT USAGE ON SCHEMA public TO careflags_fhir_test_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON public."Patient", public."Observation", public."Procedure" TO careflags_fhir_test_app;
SELECT ok(NOT has_schema_privilege('careflags_fhir_test_app', 'careflags', 'USAGE')
          AND NOT has_table_privilege('careflags_fhir_test_app', 'careflags.measurement', 'INSERT')
          AND NOT has_schema_privilege('careflags_fhir_test_app', 'careflags_fhir', 'USAGE'),
          'the application role has no right on careflags or careflags_fhir');
SET LOCAL ROLE careflags_fhir_test_app;
SELECT throws_ok($$SELECT count(*) FROM careflags.measurement$$, '42501', NULL, 'it cannot read careflags facts');
SELECT lives_ok($$INSERT INTO public."Patient" (id, content) VALUES ('a9900000-0000-4000-8000-000000000001',
    '{"resourceType": "Patient", "id": "a9900000-0000-4000-8000-000000000001", "birthDate": "1935-03-03", "gender": "female"}')$$,
                'the application role writes a Patient');
SELECT lives_ok($$INSERT INTO public."Observation" (id, content) VALUES ('a9900000-0000-4000-8000-000000000002',
    '{"resourceType": "Observation", "id": "a9900000-0000-4000-8000-000000000002", "status": "final",
      "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
      "subject": {"reference": "Patient/a9900000-0000-4000-8000-000000000001"},
      "effectiveDateTime": "2021-03-03T10:00:00Z", "valueQuantity": {"value": 58.2, "unit": "kg", "code": "kg"}}')$$,
                'the application role writes an Observation');
SELECT throws_ok($$SELECT careflags_fhir.load_bundle('{"resourceType": "Bundle", "type": "collection"}')$$, '42501', NULL,
                 'the loaders are not for the application role');
RESET ROLE;
SELECT results_eq($$SELECT p.birth_date, m.kind::text, m.value FROM careflags.measurement AS m JOIN careflags.patient AS p USING (patient_id)
                    WHERE m.source_system = 'fhir' AND m.source_key = 'Observation/a9900000-0000-4000-8000-000000000002'$$,
                  $$VALUES ('1935-03-03'::date, 'weight'::text, 58.2::numeric)$$,
                  'its writes became careflags facts (through the SECURITY DEFINER trigger)');

-- Site edits of the mapping tables.
INSERT INTO public."Observation" (id, content) VALUES ('a9900000-0000-4000-8000-000000000003',
    '{"resourceType": "Observation", "id": "a9900000-0000-4000-8000-000000000003", "status": "final",
      "code": {"coding": [{"system": "urn:example:site-codes", "code": "MST"}]},
      "subject": {"reference": "Patient/a9900000-0000-4000-8000-000000000001"},
      "effectiveDateTime": "2021-03-03T11:00:00Z", "valueInteger": 3}');
SELECT is((SELECT outcome FROM careflags_fhir.resource_map WHERE resource_id = 'a9900000-0000-4000-8000-000000000003'),
          'ignored', 'a site code careflags does not know yet: ignored');
INSERT INTO careflags_fhir.code_map (system, code, fact, instrument, description)
VALUES ('urn:example:site-codes', 'MST', 'assessment', 'mst', 'our MST total score');
SELECT results_eq($$SELECT * FROM careflags_fhir.remap('Observation')$$, $$VALUES ('mapped'::text, 2::bigint)$$,
                  'remap() after the site maps its MST code: both Observations mapped');
SELECT results_eq($$SELECT instrument::text, total, at_risk FROM careflags.assessment
                    WHERE source_key = 'Observation/a9900000-0000-4000-8000-000000000003'$$,
                  $$VALUES ('mst'::text, 3::numeric, true)$$,
                  'the site-coded MST total is an MST screening (3 points: at risk)');
INSERT INTO careflags_fhir.setting_map (resource_type, match_kind, code, setting, unit_id)
VALUES ('Encounter', 'location', 'Location/ward-7', 'nursing_home_short_term', 'ward-7');
-- careflags quarantines an episode whose unit is not in careflags.unit
INSERT INTO careflags.unit (unit_id, name, setting) VALUES ('ward-7', 'Test unit ward-7', 'nursing_home_short_term') ON CONFLICT DO NOTHING;
SELECT lives_ok($$SELECT careflags_fhir.load_bundle('{"resourceType": "Bundle", "type": "collection", "entry": [{"resource":
    {"resourceType": "Encounter", "id": "a9900000-0000-4000-8000-000000000004", "status": "in-progress",
     "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
     "subject": {"reference": "Patient/a9900000-0000-4000-8000-000000000001"},
     "location": [{"location": {"reference": "https://fhir.example.org/r4/Location/ward-7/_history/3"}}],
     "period": {"start": "2021-03-01T08:00:00Z"}}}]}')$$, 'an Encounter at a mapped location loads');
SELECT results_eq($$SELECT setting::text, unit_id, started_at FROM careflags.episode
                    WHERE source_key = 'Encounter/a9900000-0000-4000-8000-000000000004'$$,
                  $$VALUES ('nursing_home_short_term'::text, 'ward-7'::text, '2021-03-01 08:00+00'::timestamptz)$$,
                  'setting_map by location reference (absolute, versioned) gives setting and unit');

SELECT lives_ok($$SELECT careflags_fhir.detach()$$, 'detach()');
SELECT is_empty($$SELECT tgname FROM pg_trigger WHERE tgname LIKE 'careflags_fhir%'$$, 'detach() removes every careflags_fhir trigger');

SELECT * FROM finish();
ROLLBACK;
