-- tests/install/20_fhir_cascade.sql - CREATE EXTENSION careflags_fhir CASCADE
-- on the server without preloading: careflags comes with it (one NOTICE),
-- and a FHIR store's resources become flags and FHIR Flag rows.
\set QUIET 1
\set create_out `tests/install/nopreload.sh psql -X -q -d postgres -c 'DROP DATABASE IF EXISTS careflags_np_fhir' -c 'CREATE DATABASE careflags_np_fhir' 2>&1 && tests/install/nopreload.sh psql -X -d careflags_np_fhir -c 'CREATE EXTENSION careflags_fhir CASCADE' -c "SELECT 'session alive'" 2>&1; echo "exit=$?"`
\set np_host `. "$PGHOST/install-suite/env"; echo "$NP_HOST"`
\set np_port `. "$PGHOST/install-suite/env"; echo "$NP_PORT"`
\c careflags_np_fhir postgres :np_host :np_port
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
BEGIN;
SELECT plan(6);

SELECT ok(:'create_out' ~ 'exit=0$' AND :'create_out' ~ 'session alive' AND :'create_out' !~ 'FATAL',
          'CREATE EXTENSION careflags_fhir CASCADE without preloading: created, and the session goes on');
SELECT is(regexp_count(:'create_out', 'NOTICE:  careflags is not in shared_preload_libraries'), 1,
          'careflags, created by CASCADE, says once what is missing');
SELECT set_eq($$SELECT extname::text FROM pg_extension WHERE extname LIKE 'careflags%'$$,
              ARRAY['careflags', 'careflags_fhir'], 'both extensions are installed');

SELECT lives_ok($$SELECT careflags_fhir.setup('tables', 'public')$$, 'setup: per-type tables');
INSERT INTO careflags_fhir.setting_map (match_kind, system, code, setting, unit_id)
VALUES ('type', 'urn:example:careflags-test:episode-type', 'nh-long', 'nursing_home_long_term', 'nh-test');
INSERT INTO careflags.unit (unit_id, name, setting) VALUES ('nh-test', 'Test unit nh-test', 'nursing_home_long_term') ON CONFLICT DO NOTHING;
INSERT INTO public."Patient" (id, content) VALUES ('5e1f0000-0000-4000-8000-000000000001',
    '{"resourceType": "Patient", "id": "5e1f0000-0000-4000-8000-000000000001", "gender": "female",
      "birthDate": "1931-02-11", "name": [{"use": "official", "family": "Nordmann", "given": ["Kari"]}]}');
INSERT INTO public."EpisodeOfCare" (id, content) VALUES ('5e1f0000-0000-4000-8000-0000000000e1',
    '{"resourceType": "EpisodeOfCare", "id": "5e1f0000-0000-4000-8000-0000000000e1", "status": "active",
      "type": [{"coding": [{"system": "urn:example:careflags-test:episode-type", "code": "nh-long"}]}],
      "patient": {"reference": "Patient/5e1f0000-0000-4000-8000-000000000001"},
      "period": {"start": "2021-05-01T10:00:00+02:00"}}');
SELECT cmp_ok((SELECT count(*)::int FROM careflags.flag f JOIN careflags.patient p USING (patient_id)
                WHERE p.source_key = 'Patient/5e1f0000-0000-4000-8000-000000000001' AND f.resolved_at IS NULL), '>=', 3,
              'the FHIR nursing-home resident has open flags');
SELECT is((SELECT count(*)::int FROM public."Flag" WHERE content::jsonb ->> 'status' = 'active'),
          (SELECT count(*)::int FROM careflags.flag WHERE resolved_at IS NULL),
          'each open flag is mirrored as an active FHIR Flag');

SELECT * FROM finish();
ROLLBACK;
