-- careflags_fhir: size limits before parsing (issue 13, bad input).  A
-- 200 MB bundle is refused with a clear message before it is parsed (it used
-- to load with a 2.2 GB backend); a huge resource written into the store is
-- quarantined unparsed with its reason, and the application's write goes
-- through; NDJSON likewise; the limits are settable (careflags_fhir.limits,
-- kept by pg_dump).
\c careflags_fhir_test
\set QUIET 1

BEGIN;
SET LOCAL client_min_messages = error;
SELECT plan(17);
SELECT lives_ok($$SELECT careflags_fhir.setup('tables', 'public')$$, 'setup: per-type tables');

SELECT is(careflags_fhir.max_bytes('bundle'), 64 * 1024 * 1024::bigint, 'default: bundles and NDJSON texts up to 64 MB');
SELECT is(careflags_fhir.max_bytes('resource'), 8 * 1024 * 1024::bigint, 'default: resources up to 8 MB');
SELECT ok('careflags_fhir.limits'::regclass::oid = ANY ((SELECT extconfig FROM pg_extension WHERE extname = 'careflags_fhir')::oid[]),
          'the limits are site data kept by pg_dump');

-- A 200 MB bundle (generated here, about 4.2 million entries): refused
-- before parsing, quickly.
CREATE TEMP TABLE clock (t timestamptz);
INSERT INTO clock VALUES (clock_timestamp());
SELECT throws_ok(
    $$SELECT careflags_fhir.load_bundle('{"resourceType": "Bundle", "type": "collection", "entry": ['
              || repeat(repeat('{"resource": {"resourceType": "Basic", "id": "x"}},', 1000), 4200) || '{}]}')$$,
    '54000', NULL, 'a 200 MB bundle is refused (program_limit_exceeded)');
SELECT ok(clock_timestamp() - (SELECT t FROM clock) < interval '60 seconds', 'refused without being parsed (generating the text is what takes the seconds)');
SELECT is((SELECT count(*) FROM careflags_fhir.resource_map), 0::bigint, 'nothing of a refused bundle was loaded');

-- The limit is the site's: lower it, and a bundle given as jsonb is refused too.
INSERT INTO careflags_fhir.limits (max_bundle_bytes, max_resource_bytes) VALUES (100000, 50000);
SELECT throws_ok(
    $$SELECT careflags_fhir.load_bundle(('{"resourceType": "Bundle", "type": "collection", "entry": ['
              || repeat('{"resource": {"resourceType": "Basic", "id": "x"}},', 5000) || '{}]}')::jsonb)$$,
    '54000', NULL, 'a site limit of 100 kB: a 240 kB bundle given as jsonb is refused');
SELECT throws_ok(
    $$SELECT careflags_fhir.load_ndjson('Observation', repeat(E'{"resourceType": "Observation"}\n', 5000))$$,
    '54000', NULL, 'and a 160 kB NDJSON text');
SELECT throws_like(
    $$SELECT careflags_fhir.load_bundle('{"resourceType": "Bundle", "type": "collection", "entry": ['
              || repeat('{"resource": {"resourceType": "Basic", "id": "x"}},', 5000) || '{}]}')$$,
    'the bundle is 2550__ bytes, more than careflags_fhir accepts (100000 bytes)',
    'the message says how large the bundle is and what the limit is');

-- A huge resource written by the application into the store.
SET careflags.frozen_now = '2021-06-01 12:00+00';
SELECT lives_ok($$INSERT INTO public."Observation" (id, content) VALUES ('b1000000-0000-4000-8000-000000000001',
    '{"resourceType": "Observation", "id": "b1000000-0000-4000-8000-000000000001", "status": "final",
      "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
      "subject": {"reference": "Patient/b1000000-0000-4000-8000-0000000000a1"}, "effectiveDateTime": "2021-02-01",
      "valueQuantity": {"value": 72, "unit": "kg", "code": "kg"}, "note": [{"text": "' || repeat('x', 60000) || '"}]}')$$,
                'a 60 kB Observation (site limit 50 kB): the application''s write goes through');
SELECT results_eq($$SELECT outcome, reason FROM careflags_fhir.resource_map WHERE resource_id = 'b1000000-0000-4000-8000-000000000001'$$,
                  $$SELECT 'quarantined'::text, format('the resource is %s bytes, more than careflags_fhir accepts (limits.max_resource_bytes = 50000); not parsed',
                                                       octet_length(content))
                      FROM public."Observation" WHERE id = 'b1000000-0000-4000-8000-000000000001'$$,
                  'it is quarantined unparsed, with the reason');
SELECT results_eq($$SELECT fact_table, (payload ->> 'bytes')::int FROM careflags.quarantine WHERE source_key = 'Observation/b1000000-0000-4000-8000-000000000001'$$,
                  $$SELECT 'measurement'::text, octet_length(content) FROM public."Observation" WHERE id = 'b1000000-0000-4000-8000-000000000001'$$, 'with a careflags.quarantine row (its size, not its content)');
SELECT is((SELECT count(*) FROM careflags.measurement WHERE source_key = 'Observation/b1000000-0000-4000-8000-000000000001'),
          0::bigint, 'and no fact');
SELECT results_eq(
    $$SELECT * FROM careflags_fhir.load_ndjson('Observation', '{"resourceType": "Observation", "id": "b1000000-0000-4000-8000-000000000002", "note": "' || repeat('y', 60000) || '"}')$$,
    $$VALUES ('quarantined'::text, 1::bigint)$$, 'an NDJSON line over the limit is quarantined');
SELECT ok((SELECT reason LIKE 'line 1 is 600__ bytes, more than careflags_fhir accepts%not parsed' FROM careflags.quarantine
            WHERE source_key = 'Observation/ndjson-line-1'), 'with its line number and size');
SET careflags.strict = on;
SELECT throws_ok($$UPDATE public."Observation" SET content = content || ' ' WHERE id = 'b1000000-0000-4000-8000-000000000001'$$,
                 '54000', NULL, 'careflags.strict: the write of a resource over the limit fails instead');
RESET careflags.strict;

SELECT * FROM finish();
ROLLBACK;
