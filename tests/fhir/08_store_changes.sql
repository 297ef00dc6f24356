-- careflags_fhir: changes a FHIR store makes that careflags must follow
-- (issue 14, item 7 a-d).
--  (a) a Patient deleted (Medplum: deleted = true) and written back comes
--      back with its other resources' facts and flags; check_consistency()
--      lists mapped resources whose facts are missing;
--  (b) a MedicationRequest whose status is an array (or no code of its value
--      set) is quarantined, not counted as an active medicine;
--  (c) an UPDATE touching several rows of one patient evaluates the patient
--      once per statement: no short-lived extra flag (and FHIR Flag);
--  (d) setup() refuses store tables with NOT NULL columns it cannot fill.
\c careflags_fhir_test
\set QUIET 1

BEGIN;
SET LOCAL client_min_messages = error;
SELECT plan(20);
SELECT lives_ok($$SELECT careflags_fhir.setup('tables', 'public')$$, 'setup: per-type tables');
INSERT INTO careflags_fhir.setting_map (match_kind, system, code, setting, unit_id)
VALUES ('type', 'urn:example:careflags-test:episode-type', 'nh-long', 'nursing_home_long_term', 'nh-test');
INSERT INTO careflags.unit (unit_id, name, setting) VALUES ('nh-test', 'Test unit nh-test', 'nursing_home_long_term') ON CONFLICT DO NOTHING;
SET careflags.frozen_now = '2021-06-01 12:00+00';

CREATE FUNCTION pg_temp.weight(id text, patient text, at text, kg numeric) RETURNS text LANGUAGE sql AS $$
    SELECT format('{"resourceType": "Observation", "id": "%s", "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
                    "subject": {"reference": "Patient/%s"}, "effectiveDateTime": "%s",
                    "valueQuantity": {"value": %s, "unit": "kg", "code": "kg"}}', id, patient, at, kg) $$;
CREATE FUNCTION pg_temp.resident(pid text) RETURNS void LANGUAGE sql AS $$
    INSERT INTO public."Patient" (id, content) VALUES (pid::uuid,
        format('{"resourceType": "Patient", "id": "%s", "gender": "female", "birthDate": "1931-02-11"}', pid));
    INSERT INTO public."EpisodeOfCare" (id, content) VALUES (gen_random_uuid(),
        format('{"resourceType": "EpisodeOfCare", "status": "active",
                 "type": [{"coding": [{"system": "urn:example:careflags-test:episode-type", "code": "nh-long"}]}],
                 "patient": {"reference": "Patient/%s"}, "period": {"start": "2021-01-01"}}', pid));
$$;
CREATE VIEW pg_temp.facts_of AS
    SELECT p.source_key AS patient, (SELECT count(*) FROM careflags.episode AS e WHERE e.patient_id = p.patient_id) AS episodes,
           (SELECT count(*) FROM careflags.measurement AS m WHERE m.patient_id = p.patient_id) AS weights,
           (SELECT count(*) FROM careflags.flag AS f WHERE f.patient_id = p.patient_id AND f.resolved_at IS NULL) AS open_flags
    FROM careflags.patient AS p;

-- (a) Patient deleted and written back.
SELECT pg_temp.resident('a0a00000-0000-4000-8000-0000000000a1');
INSERT INTO public."Observation" (id, content) VALUES
    ('a0a00000-0000-4000-8000-000000000001', pg_temp.weight('a0a00000-0000-4000-8000-000000000001', 'a0a00000-0000-4000-8000-0000000000a1', '2021-02-01', 72)),
    ('a0a00000-0000-4000-8000-000000000002', pg_temp.weight('a0a00000-0000-4000-8000-000000000002', 'a0a00000-0000-4000-8000-0000000000a1', '2021-05-20', 62));
CREATE TEMP TABLE before AS SELECT * FROM pg_temp.facts_of WHERE patient = 'Patient/a0a00000-0000-4000-8000-0000000000a1';
SELECT ok((SELECT episodes = 1 AND weights = 2 AND open_flags >= 2 FROM before), 'a resident with an episode, two weights and open flags');
UPDATE public."Patient" SET deleted = true WHERE id = 'a0a00000-0000-4000-8000-0000000000a1';
SELECT is_empty($$SELECT * FROM pg_temp.facts_of WHERE patient = 'Patient/a0a00000-0000-4000-8000-0000000000a1'$$,
                'deleted = true: the careflags patient is gone');
SELECT is_empty($$SELECT * FROM careflags_fhir.check_consistency()$$,
                'check_consistency(): its other resources are no longer counted as mapped');
SELECT results_eq($$SELECT resource_type, outcome, reason FROM careflags_fhir.resource_map
                    WHERE patient_ref = 'a0a00000-0000-4000-8000-0000000000a1' AND resource_type = 'Observation' ORDER BY resource_id$$,
                  $$VALUES ('Observation'::text, 'ignored'::text, 'its Patient/a0a00000-0000-4000-8000-0000000000a1 is deleted'::text),
                           ('Observation', 'ignored', 'its Patient/a0a00000-0000-4000-8000-0000000000a1 is deleted')$$,
                  'its Observations say why they are not mapped');
UPDATE public."Patient" SET deleted = false WHERE id = 'a0a00000-0000-4000-8000-0000000000a1';
SELECT results_eq($$SELECT episodes, weights, open_flags FROM pg_temp.facts_of WHERE patient = 'Patient/a0a00000-0000-4000-8000-0000000000a1'$$,
                  $$SELECT episodes, weights, open_flags FROM before$$,
                  'written back (deleted = false): the patient comes back with its episode, weights and flags');
SELECT is_empty($$SELECT * FROM careflags_fhir.resource_map WHERE patient_ref = 'a0a00000-0000-4000-8000-0000000000a1' AND outcome <> 'mapped'$$,
                'every resource of the patient is mapped again');
SELECT is_empty($$SELECT * FROM careflags_fhir.check_consistency()$$, 'check_consistency() finds nothing wrong');
-- A fact removed behind the plugin's back is noticed.
DELETE FROM careflags.measurement WHERE source_key = 'Observation/a0a00000-0000-4000-8000-000000000002';
SELECT results_eq($$SELECT * FROM careflags_fhir.check_consistency()$$,
                  $$VALUES ('Observation'::text, 'a0a00000-0000-4000-8000-000000000002'::text,
                            'mapped, but its measurement fact Observation/a0a00000-0000-4000-8000-000000000002 is missing'::text)$$,
                  'check_consistency() lists a mapped resource whose fact is missing');
SELECT lives_ok($$SELECT careflags_fhir.remap('Observation')$$, 'remap()');
SELECT is_empty($$SELECT * FROM careflags_fhir.check_consistency()$$, 'remap() mends it');

-- (b) A status that is not a code.
CREATE FUNCTION pg_temp.medreq(id text, status text) RETURNS void LANGUAGE sql AS $$
    INSERT INTO public."MedicationRequest" (id, content) VALUES (id::uuid, format(
        '{"resourceType": "MedicationRequest", "id": "%s", %s "intent": "order",
          "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "N05BA01"}]},
          "subject": {"reference": "Patient/a0a00000-0000-4000-8000-0000000000a1"}, "authoredOn": "2021-03-01"}', id, status)) $$;
SELECT pg_temp.medreq('a0a00000-0000-4000-8000-0000000000b1', '"status": ["active"],');
SELECT pg_temp.medreq('a0a00000-0000-4000-8000-0000000000b2', '"status": "actve",');
SELECT pg_temp.medreq('a0a00000-0000-4000-8000-0000000000b3', '');
SELECT pg_temp.medreq('a0a00000-0000-4000-8000-0000000000b4', '"status": "active",');
SELECT results_eq($$SELECT resource_id, outcome, reason FROM careflags_fhir.resource_map WHERE resource_type = 'MedicationRequest' ORDER BY 1$$,
                  $$VALUES ('a0a00000-0000-4000-8000-0000000000b1'::text, 'quarantined'::text, 'status is a JSON array, not a code'::text),
                           ('a0a00000-0000-4000-8000-0000000000b2', 'quarantined', 'MedicationRequest status "actve" is not a code of its value set'),
                           ('a0a00000-0000-4000-8000-0000000000b3', 'quarantined', 'MedicationRequest has no status'),
                           ('a0a00000-0000-4000-8000-0000000000b4', 'mapped', NULL)$$,
                  'a status array, an unknown status and no status are quarantined with the reason; a real one is mapped');
SELECT results_eq($$SELECT source_key, status::text FROM careflags.medication WHERE source_system = 'fhir' ORDER BY 1$$,
                  $$VALUES ('MedicationRequest/a0a00000-0000-4000-8000-0000000000b4'::text, 'active'::text)$$,
                  'only the real one is a medicine (the array is not counted as active)');
SELECT is((SELECT count(*) FROM careflags.quarantine WHERE source_key LIKE 'MedicationRequest/a0a00000-0000-4000-8000-0000000000b_'),
          3::bigint, 'the three have quarantine rows');

-- (c) One UPDATE of two weights of one patient.  Row by row, the first row
-- alone (80 kg before 71 kg) would raise a weight-loss flag that the second
-- row (79 kg) clears again; once per statement, there never is one.
SELECT pg_temp.resident('a0c00000-0000-4000-8000-0000000000a1');
INSERT INTO public."Observation" (id, content) VALUES
    ('a0c00000-0000-4000-8000-000000000001', pg_temp.weight('a0c00000-0000-4000-8000-000000000001', 'a0c00000-0000-4000-8000-0000000000a1', '2021-02-01', 72)),
    ('a0c00000-0000-4000-8000-000000000002', pg_temp.weight('a0c00000-0000-4000-8000-000000000002', 'a0c00000-0000-4000-8000-0000000000a1', '2021-05-20', 71));
CREATE VIEW pg_temp.c_flags AS
    SELECT f.flag_id, f.rule_id, f.resolved_at FROM careflags.flag AS f JOIN careflags.patient AS p USING (patient_id)
    WHERE p.source_key = 'Patient/a0c00000-0000-4000-8000-0000000000a1';
CREATE TEMP TABLE c_before AS SELECT (SELECT count(*) FROM pg_temp.c_flags) AS flags, (SELECT count(*) FROM public."Flag") AS fhir_flags;
UPDATE public."Observation"
   SET content = pg_temp.weight(id::text, 'a0c00000-0000-4000-8000-0000000000a1',
                                CASE id WHEN 'a0c00000-0000-4000-8000-000000000001' THEN '2021-02-01' ELSE '2021-05-20' END,
                                CASE id WHEN 'a0c00000-0000-4000-8000-000000000001' THEN 80 ELSE 79 END)
 WHERE id IN ('a0c00000-0000-4000-8000-000000000001', 'a0c00000-0000-4000-8000-000000000002');
SELECT is((SELECT array_agg(value ORDER BY measured_at) FROM careflags.measurement WHERE source_key LIKE 'Observation/a0c00000%'),
          ARRAY[80, 79]::numeric[], 'both weights were updated');
SELECT is_empty($$SELECT * FROM pg_temp.c_flags WHERE rule_id = 'nutrition.weight_loss'$$,
                'no weight-loss flag was ever raised (not even one resolved at once)');
SELECT results_eq($$SELECT (SELECT count(*) FROM pg_temp.c_flags), (SELECT count(*) FROM public."Flag")$$,
                  $$SELECT flags, fhir_flags FROM c_before$$, 'no extra flag, no extra FHIR Flag');

-- (d) Store tables with NOT NULL columns careflags cannot fill.
CREATE SCHEMA medplum_like;
CREATE TABLE medplum_like."Flag" (id uuid PRIMARY KEY, content text NOT NULL, "lastUpdated" timestamptz NOT NULL,
                                  deleted boolean NOT NULL DEFAULT false, "projectId" uuid NOT NULL, compartments uuid[] NOT NULL,
                                  "__version" integer NOT NULL DEFAULT 1, note text);
SELECT throws_ok($$SELECT careflags_fhir.setup('tables', 'medplum_like')$$, '42809',
                 'table medplum_like."Flag" has NOT NULL columns careflags_fhir cannot fill: "projectId", compartments',
                 'setup() refuses a store table with NOT NULL columns without a default, naming them');
ALTER TABLE medplum_like."Flag" ALTER COLUMN "projectId" SET DEFAULT '00000000-0000-4000-8000-000000000000',
                                ALTER COLUMN compartments DROP NOT NULL;
SELECT lives_ok($$SELECT careflags_fhir.setup('tables', 'medplum_like')$$, 'with a default and a nullable column it is accepted');
SELECT ok((SELECT count(*) FROM medplum_like."Flag") > 0, 'and the Flags are written there');

SELECT * FROM finish();
ROLLBACK;
