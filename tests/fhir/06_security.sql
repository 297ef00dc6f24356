-- careflags_fhir: the store's code never runs with more rights than the
-- store's owner (issue 13, path 1).  A FHIR application role owns its store
-- (the Medplum layout) and puts code on it that tries ALTER ROLE ...
-- SUPERUSER: a trigger and a column default on "Flag" and "Observation", and
-- a view in the place of "MedicationRequest".  The paths through which
-- careflags writes or reads the store -- the application's own writes (Flag
-- mirror), setup() mirroring existing flags, a nurse's acknowledgement,
-- load_bundle() and remap() by careflags_admin -- run that code as the
-- owner: the role never becomes superuser, and the Flags are still written.
-- setup() refuses a store on which another role may create triggers.
\c careflags_fhir_test
\set QUIET 1

BEGIN;
SET LOCAL client_min_messages = error;
SELECT plan(24);

CREATE ROLE cff_fhirapp NOLOGIN;
CREATE ROLE cff_nurse NOLOGIN IN ROLE careflags_nurse;
CREATE ROLE cff_admin NOLOGIN IN ROLE careflags_admin;
INSERT INTO careflags.unit (unit_id, name, setting) VALUES ('cff-ward', 'FHIR ward', 'nursing_home_long_term');
INSERT INTO careflags.unit_access (unit_id, role) VALUES ('cff-ward', 'cff_nurse');
INSERT INTO careflags_fhir.setting_map (match_kind, system, code, setting, unit_id)
VALUES ('type', 'urn:example:careflags-test:episode-type', 'nh-long', 'nursing_home_long_term', 'cff-ward');

-- The application's store, created and owned by the application role.
CREATE SCHEMA fhirstore AUTHORIZATION cff_fhirapp;
SET LOCAL ROLE cff_fhirapp;
CREATE TABLE fhirstore.seen (what text, who name, was_super boolean);
CREATE FUNCTION fhirstore.escalate(what text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO fhirstore.seen VALUES (what, current_user, (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user));
    BEGIN
        ALTER ROLE cff_fhirapp SUPERUSER;
    EXCEPTION WHEN insufficient_privilege THEN
        NULL;               -- stay quiet, so the write goes on
    END;
    RETURN current_user;
END $$;
CREATE FUNCTION fhirstore.on_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fhirstore.escalate(TG_TABLE_NAME || ' trigger');
    RETURN NULL;
END $$;
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['Patient', 'EpisodeOfCare', 'Observation', 'MedicationRequest', 'Flag'] LOOP
        EXECUTE format('CREATE TABLE fhirstore.%I (id uuid PRIMARY KEY, content text NOT NULL,
                            "lastUpdated" timestamptz NOT NULL DEFAULT now(), deleted boolean NOT NULL DEFAULT false)', t);
    END LOOP;
END $$;
ALTER TABLE fhirstore."Flag" ADD COLUMN written_by text DEFAULT fhirstore.escalate('Flag default');
CREATE TRIGGER escalate AFTER INSERT OR UPDATE ON fhirstore."Flag" FOR EACH ROW EXECUTE FUNCTION fhirstore.on_write();
CREATE TRIGGER escalate AFTER INSERT OR UPDATE ON fhirstore."Observation" FOR EACH ROW EXECUTE FUNCTION fhirstore.on_write();
RESET ROLE;

-- A role that may create triggers on the store: setup() refuses.
GRANT TRIGGER ON fhirstore."Flag" TO cff_nurse;
SELECT throws_ok($$SELECT careflags_fhir.setup('tables', 'fhirstore', false)$$, '55000', NULL,
                 'setup() refuses a store table on which a role other than its owner may create triggers');
REVOKE TRIGGER ON fhirstore."Flag" FROM cff_nurse;

-- A resident with flags before careflags_fhir is attached: setup() mirrors them.
INSERT INTO careflags.patient (source_system, source_key, birth_date)
VALUES ('fhir', 'Patient/cf600000-0000-4000-8000-0000000000b1', '1930-01-01');
INSERT INTO careflags.episode (patient_id, source_system, source_key, setting, unit_id, started_at)
SELECT patient_id, 'fhir', 'EpisodeOfCare/cf600000-0000-4000-8000-0000000000b2', 'nursing_home_long_term', 'cff-ward', now() - interval '3 days'
  FROM careflags.patient WHERE source_key = 'Patient/cf600000-0000-4000-8000-0000000000b1';
SELECT lives_ok($$SELECT careflags_fhir.setup('tables', 'fhirstore', false)$$, 'setup() on the application''s own store');
SELECT ok(NOT (SELECT rolsuper FROM pg_roles WHERE rolname = 'cff_fhirapp'), 'setup() mirroring existing flags: the application role is not superuser');
SELECT ok((SELECT count(*) FROM fhirstore.seen WHERE what = 'Flag trigger') > 0, 'the store''s Flag trigger did run');
SELECT is((SELECT array_agg(DISTINCT who) FROM fhirstore.seen), ARRAY['cff_fhirapp']::name[], 'as the store''s owner');

-- 1. The application writes a Patient and an EpisodeOfCare.
DELETE FROM fhirstore.seen;
SET LOCAL ROLE cff_fhirapp;
INSERT INTO fhirstore."Patient" (id, content) VALUES ('cf600000-0000-4000-8000-000000000001',
    '{"resourceType": "Patient", "id": "cf600000-0000-4000-8000-000000000001", "gender": "female", "birthDate": "1931-02-11"}');
INSERT INTO fhirstore."EpisodeOfCare" (id, content) VALUES ('cf600000-0000-4000-8000-0000000000e1',
    '{"resourceType": "EpisodeOfCare", "id": "cf600000-0000-4000-8000-0000000000e1", "status": "active",
      "type": [{"coding": [{"system": "urn:example:careflags-test:episode-type", "code": "nh-long"}]}],
      "patient": {"reference": "Patient/cf600000-0000-4000-8000-000000000001"},
      "period": {"start": "2021-05-01T10:00:00+02:00"}}');
RESET ROLE;
CREATE TEMP VIEW app_flags AS
    SELECT f.flag_id, s.id AS fhir_id, s.content::jsonb AS r, s.written_by
    FROM careflags.flag AS f
    JOIN careflags.rule AS ru ON ru.rule_id = f.rule_id
    JOIN careflags.patient AS p ON p.patient_id = f.patient_id AND p.source_key = 'Patient/cf600000-0000-4000-8000-000000000001'
    LEFT JOIN fhirstore."Flag" AS s ON s.id = careflags_fhir.action_flag_uuid(f.patient_id, careflags.action_of(f.domain, ru.anchor));
SELECT ok(NOT (SELECT rolsuper FROM pg_roles WHERE rolname = 'cff_fhirapp'),
          'Patient and EpisodeOfCare written by the application: it is not superuser');
SELECT ok((SELECT count(*) FROM app_flags) >= 3, 'the resident has flags');
SELECT is_empty($$SELECT * FROM app_flags WHERE fhir_id IS NULL$$, 'and every flag is still behind a FHIR Flag (one per action)');
SELECT is_empty($$SELECT * FROM app_flags WHERE written_by IS DISTINCT FROM 'cff_fhirapp'$$,
                'the Flag column default ran as the store owner');
SELECT is((SELECT array_agg(DISTINCT who ORDER BY who) FROM fhirstore.seen), ARRAY['cff_fhirapp']::name[],
          'the Flag trigger and default ran as the store owner');
SELECT is_empty($$SELECT * FROM fhirstore.seen WHERE was_super$$, 'never as a superuser');

-- 2. A nurse acknowledges the resident's flag.
DELETE FROM fhirstore.seen;
CREATE TEMP TABLE one_flag AS SELECT min(flag_id) AS id FROM app_flags;
GRANT SELECT ON one_flag TO cff_nurse;
SET LOCAL ROLE cff_nurse;
SELECT lives_ok($$SELECT careflags.acknowledge((SELECT id FROM one_flag), 'seen')$$, 'a nurse acknowledges the flag');
RESET ROLE;
SELECT ok(NOT (SELECT rolsuper FROM pg_roles WHERE rolname = 'cff_fhirapp'), 'after the acknowledgement: not superuser');
SELECT ok((SELECT count(*) FROM fhirstore.seen) > 0 AND NOT EXISTS (SELECT FROM fhirstore.seen WHERE who <> 'cff_fhirapp'),
          'the Flag rewrite ran the store''s code as its owner');

-- 3. careflags_admin loads a bundle (a weight Observation) into the store.
DELETE FROM fhirstore.seen;
SET LOCAL ROLE cff_admin;
SELECT lives_ok($$SELECT careflags_fhir.load_bundle('{"resourceType": "Bundle", "type": "collection", "entry": [{"resource":
    {"resourceType": "Observation", "id": "cf600000-0000-4000-8000-000000000002", "status": "final",
     "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
     "subject": {"reference": "Patient/cf600000-0000-4000-8000-000000000001"},
     "effectiveDateTime": "2021-05-03T10:00:00Z", "valueQuantity": {"value": 61.5, "unit": "kg", "code": "kg"}}}]}')$$,
                'careflags_admin loads a bundle');
RESET ROLE;
SELECT ok(NOT (SELECT rolsuper FROM pg_roles WHERE rolname = 'cff_fhirapp'), 'after load_bundle: not superuser');
SELECT ok(EXISTS (SELECT FROM fhirstore.seen WHERE what = 'Observation trigger')
          AND NOT EXISTS (SELECT FROM fhirstore.seen WHERE who <> 'cff_fhirapp'),
          'load_bundle wrote the Observation table as its owner (its trigger ran as the owner)');
SELECT is((SELECT value FROM careflags.measurement WHERE source_key = 'Observation/cf600000-0000-4000-8000-000000000002'),
          61.5::numeric, 'and the weight became a fact');
-- A bundle DELETE entry.
DELETE FROM fhirstore.seen;
SET LOCAL ROLE cff_admin;
SELECT lives_ok($$SELECT careflags_fhir.load_bundle('{"resourceType": "Bundle", "type": "transaction", "entry": [
    {"request": {"method": "DELETE", "url": "Observation/cf600000-0000-4000-8000-000000000002"}}]}')$$, 'a bundle DELETE entry');
RESET ROLE;
SELECT ok(EXISTS (SELECT FROM fhirstore.seen) AND NOT EXISTS (SELECT FROM fhirstore.seen WHERE who <> 'cff_fhirapp')
          AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = 'cff_fhirapp'),
          'the DELETE entry marked the row deleted as the owner');

-- 4. remap() reads the store: a view in the place of a store table.
DELETE FROM fhirstore.seen;
SET LOCAL ROLE cff_fhirapp;
DROP TABLE fhirstore."MedicationRequest";
CREATE VIEW fhirstore."MedicationRequest" AS
    SELECT NULL::uuid AS id, NULL::text AS content, NULL::timestamptz AS "lastUpdated", NULL::boolean AS deleted
    WHERE fhirstore.escalate('view') IS NULL;
RESET ROLE;
SET LOCAL ROLE cff_admin;
SELECT lives_ok($$SELECT careflags_fhir.remap('MedicationRequest')$$, 'careflags_admin remaps MedicationRequest');
RESET ROLE;
SELECT ok(NOT (SELECT rolsuper FROM pg_roles WHERE rolname = 'cff_fhirapp'), 'after remap: not superuser');
SELECT is((SELECT array_agg(who) FROM fhirstore.seen WHERE what = 'view'), ARRAY['cff_fhirapp']::name[],
          'remap read the store as its owner (the view''s function ran as the owner)');

-- The functions that touch the store go through careflags.run_as_owner.
SELECT is_empty($$SELECT p.oid::regprocedure FROM pg_proc AS p
                  WHERE p.pronamespace = 'careflags_fhir'::regnamespace
                    AND p.proname IN ('put_flag', 'store_resource', 'delete_resource', 'remap', 'stored_resource')
                    AND p.prosrc NOT LIKE '%careflags.run_as_owner%'$$,
                'put_flag, store_resource, delete_resource, stored_resource and remap use careflags.run_as_owner');

SELECT * FROM finish();
ROLLBACK;
