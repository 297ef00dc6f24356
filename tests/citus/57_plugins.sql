-- tests/citus/57_plugins.sql - careflags_fhir through the Citus coordinator
-- (issue 19: plugins' upserts that still work).  The same FHIR resources
-- (tests/citus/fhir_scenario.psql: a Patient, an EpisodeOfCare, weights, a
-- MedicationStatement, a weight before its Patient, two quarantined
-- Observations; then the Patient, a weight and the medicine written again,
-- changed) give the same careflags facts, flags, resource_map outcomes and
-- quarantine rows on one server (the core suite's database) as on the
-- cluster, where each fact table's <table>_source_key includes patient_id
-- and the plugin's upserts name the constraint (ON CONFLICT ON CONSTRAINT).
-- A resource written again updates its facts; nothing is duplicated.  The
-- plugin's own tables and the store stay local tables on the coordinator;
-- on Citus no FHIR Flag is written back (setup() says so).
\set citus_status `cat "$PGHOST/careflags_citus.status" 2>/dev/null || echo 'not prepared: tests/citus/setup.sh did not run'`
SELECT :'citus_status' = 'ready' AS citus_ready \gset
\if :citus_ready
\set QUIET 1
-- 1. One server: the core suite's database, careflags_fhir created in the
-- transaction and rolled back with it.
BEGIN;
SET LOCAL client_min_messages = error;
CREATE EXTENSION careflags_fhir;
SELECT action AS single_flag_action FROM careflags_fhir.setup('tables', 'public') WHERE resource_type = 'Flag' \gset
\o /dev/null
\ir fhir_scenario.psql
\o
\set single_first :fhir_first
\set single_after :fhir_after
ROLLBACK;

-- 2. The Citus cluster, through its coordinator.
\set coord `. "$PGHOST/citus-suite/env" && echo "postgresql:///careflags_citus?host=$CITUS_HOST&port=$CITUS_COORD_PORT"`
\c :coord
BEGIN;
SET LOCAL client_min_messages = error;
CREATE EXTENSION careflags_fhir;
SELECT action AS citus_flag_action FROM careflags_fhir.setup('tables', 'public') WHERE resource_type = 'Flag' \gset
\set fhir_first ''
\set fhir_after ''
\o /dev/null
\ir fhir_scenario.psql
\o
SELECT count(*) AS patient_rows, max(display_name) AS patient_name, max(birth_date)::text AS patient_birth
  FROM careflags.patient WHERE source_system = 'fhir' AND source_key = 'Patient/c1a00000-0000-4000-8000-000000000001' \gset
SELECT count(*) AS weight_rows, max(value) AS weight_value
  FROM careflags.measurement WHERE source_system = 'fhir' AND source_key = 'Observation/c1a00000-0000-4000-8000-0000000000a2' \gset
SELECT count(*) AS medicine_rows, max(status::text) AS medicine_status
  FROM careflags.medication WHERE source_system = 'fhir' AND source_key = 'MedicationStatement/c1a00000-0000-4000-8000-0000000000b1' \gset
\unset QUIET
SELECT plan(9);
SELECT is((SELECT count(*)::int FROM pg_extension WHERE extname = 'careflags_fhir'), 1,
          'careflags_fhir installs on the coordinator of the cluster');
SELECT is(:'single_flag_action'::text, 'created, flags written here'::text, 'one server: setup() writes flags to the store''s Flag table');
SELECT is(:'citus_flag_action'::text, 'created, no flags written on Citus: read careflags.flag'::text,
          'the cluster: setup() says no FHIR Flag is written back there');
SELECT ok(:'single_first' ~ 'measurement Patient/c1a00000-0000-4000-8000-000000000001 Observation/c1a00000-0000-4000-8000-0000000000a2 weight 64'
          AND :'single_first' ~ 'medication Patient/\S+ MedicationStatement/\S+ N05CF01 active'
          AND :'single_first' ~ 'flag Patient/\S+ nutrition.weight_loss open'
          AND :'single_first' ~ 'patient Patient/c1a00000-0000-4000-8000-000000000002 Kari Hansen 1938-07-01'
          AND :'single_first' ~ 'quarantined Observation/\S+ Patient/\S+ weight 900',
          'the scenario maps a Patient, weights, a medicine and a placeholder patient, raises flags and quarantines a weight');
SELECT is(:'fhir_first'::text, :'single_first'::text,
          'first writes through the coordinator: the same patients, facts, flags, outcomes and quarantine rows as on one server');
SELECT is(:'fhir_after'::text, :'single_after'::text,
          'the same resources written again, changed: the same facts and flags as on one server');
SELECT is(format('%s %s %s', :patient_rows, :'patient_name', :'patient_birth'), '1 Kari Nordmann-Berg 1931-02-12',
          'the Patient written again updates its careflags patient, not a second one');
SELECT is(format('%s %s', :weight_rows, :'weight_value'), '1 63.500',
          'the Observation written again updates its weight (upsert on measurement_source_key), not a duplicate');
SELECT is(format('%s %s', :medicine_rows, :'medicine_status'), '1 completed',
          'the MedicationStatement written again updates its medicine, not a duplicate');
SELECT * FROM finish();
ROLLBACK;
\else
\echo 1..0 # SKIP Citus cluster unavailable: :citus_status
\endif
