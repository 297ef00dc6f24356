-- careflags_fhir: bad input.  Malformed JSON, a resource without subject, an
-- unknown code, an impossible value, a unit that cannot be converted: the
-- FHIR row is still written, the fact goes to careflags.quarantine with the
-- resource id and the reason.  A code careflags does not use is "ignored",
-- not quarantined.  Deleting a resource (deleted = true, DELETE, a bundle
-- DELETE entry) removes its facts and updates the flags.
\c careflags_fhir_test
\set QUIET 1

BEGIN;
SET LOCAL client_min_messages = error;
SELECT plan(29);
SELECT lives_ok($$SELECT careflags_fhir.setup('tables', 'public')$$, 'setup: per-type tables');
SET careflags.frozen_now = '2021-06-01 12:00+00';

CREATE FUNCTION pg_temp.obs(id text, body text) RETURNS void LANGUAGE sql AS
$$ INSERT INTO public."Observation" (id, content) VALUES (id::uuid, body) $$;
CREATE VIEW pg_temp.outcome AS SELECT resource_id, outcome, reason FROM careflags_fhir.resource_map;

-- An Observation before its Patient: a placeholder patient.
SELECT pg_temp.obs('ba000000-0000-4000-8000-000000000001',
    '{"resourceType": "Observation", "id": "ba000000-0000-4000-8000-000000000001", "status": "final",
      "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
      "subject": {"reference": "Patient/ba000000-0000-4000-8000-0000000000a1"},
      "effectiveDateTime": "2021-01-10", "valueQuantity": {"value": 70500, "unit": "g", "system": "http://unitsofmeasure.org", "code": "g"}}');
SELECT results_eq($$SELECT birth_date, value FROM careflags.patient JOIN careflags.measurement USING (patient_id)
                    WHERE careflags.patient.source_key = 'Patient/ba000000-0000-4000-8000-0000000000a1'$$,
                  $$VALUES (NULL::date, 70.5::numeric)$$,
                  'a weight for a patient not loaded yet: placeholder patient (no birth date), 70500 g = 70.5 kg');
INSERT INTO public."Patient" (id, content) VALUES ('ba000000-0000-4000-8000-0000000000a1',
    '{"resourceType": "Patient", "id": "ba000000-0000-4000-8000-0000000000a1", "birthDate": "1930-07-01", "gender": "male"}');
SELECT results_eq($$SELECT count(*), min(birth_date) FROM careflags.patient
                    WHERE source_key = 'Patient/ba000000-0000-4000-8000-0000000000a1'$$,
                  $$VALUES (1::bigint, '1930-07-01'::date)$$,
                  'the Patient fills in the placeholder (same careflags patient)');

-- 1. Malformed JSON.
SELECT lives_ok($$SELECT pg_temp.obs('ba000000-0000-4000-8000-000000000002', '{"resourceType": "Observation", "id": ')$$,
                'malformed JSON: the write succeeds');
SELECT is((SELECT count(*) FROM public."Observation" WHERE id = 'ba000000-0000-4000-8000-000000000002'), 1::bigint,
          'malformed JSON: the FHIR row is written');
SELECT results_eq($$SELECT outcome, reason LIKE 'malformed JSON%' FROM pg_temp.outcome WHERE resource_id = 'ba000000-0000-4000-8000-000000000002'$$,
                  $$VALUES ('quarantined'::text, true)$$, 'malformed JSON: outcome quarantined');
SELECT results_eq($$SELECT fact_table, reason LIKE 'malformed JSON%', payload ->> 'id' FROM careflags.quarantine
                    WHERE source_system = 'fhir' AND source_key = 'Observation/ba000000-0000-4000-8000-000000000002'$$,
                  $$VALUES ('measurement'::text, true, 'ba000000-0000-4000-8000-000000000002'::text)$$,
                  'malformed JSON: in careflags.quarantine with the resource id and the reason');

-- 2. No subject.
SELECT pg_temp.obs('ba000000-0000-4000-8000-000000000003',
    '{"resourceType": "Observation", "id": "ba000000-0000-4000-8000-000000000003", "status": "final",
      "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
      "effectiveDateTime": "2021-02-10", "valueQuantity": {"value": 70, "unit": "kg", "code": "kg"}}');
SELECT results_eq($$SELECT fact_table, reason FROM careflags.quarantine WHERE source_key = 'Observation/ba000000-0000-4000-8000-000000000003'$$,
                  $$VALUES ('measurement'::text, 'Observation with code 29463-7 has no subject'::text)$$,
                  'no subject: quarantined with the reason');
-- A subject that is not a Patient.
SELECT pg_temp.obs('ba000000-0000-4000-8000-000000000004',
    '{"resourceType": "Observation", "id": "ba000000-0000-4000-8000-000000000004", "status": "final",
      "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]}, "subject": {"reference": "Group/ward-3"},
      "effectiveDateTime": "2021-02-10", "valueQuantity": {"value": 70, "unit": "kg", "code": "kg"}}');
SELECT results_eq($$SELECT outcome, reason FROM pg_temp.outcome WHERE resource_id = 'ba000000-0000-4000-8000-000000000004'$$,
                  $$VALUES ('quarantined'::text, 'the subject is a Group, not a Patient'::text)$$,
                  'a Group as subject: quarantined');

-- 3. Unknown codes.
SELECT pg_temp.obs('ba000000-0000-4000-8000-000000000005',
    '{"resourceType": "Observation", "id": "ba000000-0000-4000-8000-000000000005", "status": "final",
      "subject": {"reference": "Patient/ba000000-0000-4000-8000-0000000000a1"}, "effectiveDateTime": "2021-02-10",
      "valueQuantity": {"value": 70, "unit": "kg"}}');
SELECT results_eq($$SELECT outcome, reason FROM pg_temp.outcome WHERE resource_id = 'ba000000-0000-4000-8000-000000000005'$$,
                  $$VALUES ('quarantined'::text, 'Observation has no code'::text)$$,
                  'an Observation without any code: quarantined');
INSERT INTO public."MedicationRequest" (id, content) VALUES ('ba000000-0000-4000-8000-000000000006',
    '{"resourceType": "MedicationRequest", "id": "ba000000-0000-4000-8000-000000000006", "status": "active", "intent": "order",
      "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "N05-BA01"}]},
      "subject": {"reference": "Patient/ba000000-0000-4000-8000-0000000000a1"}, "authoredOn": "2021-03-01"}');
SELECT results_eq($$SELECT fact_table, reason, patient_id IS NOT NULL FROM careflags.quarantine
                    WHERE source_key = 'MedicationRequest/ba000000-0000-4000-8000-000000000006'$$,
                  $$VALUES ('medication'::text, 'unknown ATC code "N05-BA01"'::text, true)$$,
                  'an ATC coding that is no ATC code: quarantined, with the patient');
SELECT pg_temp.obs('ba000000-0000-4000-8000-000000000007',
    '{"resourceType": "Observation", "id": "ba000000-0000-4000-8000-000000000007", "status": "final",
      "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
      "subject": {"reference": "Patient/ba000000-0000-4000-8000-0000000000a1"}, "effectiveDateTime": "2021-02-10",
      "valueQuantity": {"value": 72, "unit": "/min"}}');
SELECT results_eq($$SELECT outcome, reason FROM pg_temp.outcome WHERE resource_id = 'ba000000-0000-4000-8000-000000000007'$$,
                  $$VALUES ('ignored'::text, 'code not used by careflags: http://loinc.org|8867-4'::text)$$,
                  'a vital sign careflags does not use: ignored with the reason, not quarantined');
SELECT is((SELECT count(*) FROM careflags.quarantine WHERE source_key = 'Observation/ba000000-0000-4000-8000-000000000007'), 0::bigint,
          'an ignored resource leaves no quarantine row');

-- 4. Impossible values and units.
SELECT pg_temp.obs('ba000000-0000-4000-8000-000000000008',
    '{"resourceType": "Observation", "id": "ba000000-0000-4000-8000-000000000008", "status": "final",
      "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
      "subject": {"reference": "Patient/ba000000-0000-4000-8000-0000000000a1"}, "effectiveDateTime": "2021-02-10",
      "valueQuantity": {"value": 900, "unit": "kg", "code": "kg"}}');
SELECT results_eq($$SELECT outcome FROM pg_temp.outcome WHERE resource_id = 'ba000000-0000-4000-8000-000000000008'$$,
                  $$VALUES ('quarantined'::text)$$, 'a weight of 900 kg: quarantined');
SELECT ok(EXISTS (SELECT FROM careflags.quarantine WHERE source_key = 'Observation/ba000000-0000-4000-8000-000000000008'
                                                    AND fact_table = 'measurement' AND reason <> '')
          AND NOT EXISTS (SELECT FROM careflags.measurement WHERE source_key = 'Observation/ba000000-0000-4000-8000-000000000008'),
          'a weight of 900 kg: a quarantine row with its reason, no measurement');
SELECT pg_temp.obs('ba000000-0000-4000-8000-000000000009',
    '{"resourceType": "Observation", "id": "ba000000-0000-4000-8000-000000000009", "status": "final",
      "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
      "subject": {"reference": "Patient/ba000000-0000-4000-8000-0000000000a1"}, "effectiveDateTime": "2021-02-10",
      "valueQuantity": {"value": 11, "unit": "stone"}}');
SELECT results_eq($$SELECT reason FROM careflags.quarantine WHERE source_key = 'Observation/ba000000-0000-4000-8000-000000000009'$$,
                  $$VALUES ('unit "stone" cannot be converted for weight'::text)$$,
                  'a unit that cannot be converted: quarantined');
SELECT pg_temp.obs('ba000000-0000-4000-8000-00000000000a',
    '{"resourceType": "Observation", "id": "ba000000-0000-4000-8000-00000000000a", "status": "final",
      "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
      "subject": {"reference": "Patient/ba000000-0000-4000-8000-0000000000a1"}, "effectiveDateTime": "2021-02-30",
      "valueQuantity": {"value": 70, "unit": "kg", "code": "kg"}}');
SELECT results_eq($$SELECT outcome, reason LIKE '%2021-02-30%' FROM pg_temp.outcome WHERE resource_id = 'ba000000-0000-4000-8000-00000000000a'$$,
                  $$VALUES ('quarantined'::text, true)$$, 'an impossible date (30 February): quarantined');

-- A mapped resource that turns bad loses its fact.
UPDATE public."Observation" SET content = '{"resourceType": "Observation", broken' WHERE id = 'ba000000-0000-4000-8000-000000000001';
SELECT is((SELECT count(*) FROM careflags.measurement WHERE source_key = 'Observation/ba000000-0000-4000-8000-000000000001'), 0::bigint,
          'a mapped Observation rewritten as malformed JSON: its measurement is gone');

-- careflags.strict: the write fails instead.
SET careflags.strict = on;
SELECT throws_ok($$SELECT pg_temp.obs('ba000000-0000-4000-8000-00000000000b', '{"resourceType": ')$$, '22P02', NULL,
                 'careflags.strict = on: malformed JSON makes the write fail');
RESET careflags.strict;

-- NDJSON: bad lines.
SELECT results_eq(
    $$SELECT * FROM careflags_fhir.load_ndjson('Observation', E'{"resourceType": "Observation", "id": "ba000000-0000-4000-8000-00000000000c", "status": \n{"resourceType": "Observation", "status": "final"}\n{"resourceType": "Patient", "id": "ba000000-0000-4000-8000-00000000000d"}\nnot json at all\n')$$,
    $$VALUES ('quarantined'::text, 4::bigint)$$,
    'NDJSON: a malformed line, a line without id, a Patient in an Observation file, a non-JSON line: 4 quarantined');
SELECT is((SELECT count(*) FROM public."Observation" WHERE id = 'ba000000-0000-4000-8000-00000000000c'), 1::bigint,
          'NDJSON: a malformed line whose id can be read is still stored');
SELECT is((SELECT count(*) FROM careflags.quarantine WHERE source_key ~ '^Observation/(ndjson-line-[234]|ba000000-0000-4000-8000-00000000000c)$'),
          4::bigint, 'NDJSON: each bad line has its quarantine row (resource id, else line number)');

-- Deleting: facts go, flags follow.
INSERT INTO careflags_fhir.setting_map (match_kind, system, code, setting)
VALUES ('type', 'urn:example:careflags-test:episode-type', 'nh-long', 'nursing_home_long_term');
INSERT INTO public."EpisodeOfCare" (id, content) VALUES ('ba000000-0000-4000-8000-0000000000e1',
    '{"resourceType": "EpisodeOfCare", "id": "ba000000-0000-4000-8000-0000000000e1", "status": "active",
      "type": [{"coding": [{"system": "urn:example:careflags-test:episode-type", "code": "nh-long"}]}],
      "patient": {"reference": "Patient/ba000000-0000-4000-8000-0000000000a1"}, "period": {"start": "2021-01-01"}}');
SELECT pg_temp.obs('ba000000-0000-4000-8000-000000000011',
    '{"resourceType": "Observation", "id": "ba000000-0000-4000-8000-000000000011", "status": "final",
      "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
      "subject": {"reference": "Patient/ba000000-0000-4000-8000-0000000000a1"}, "effectiveDateTime": "2021-02-01",
      "valueQuantity": {"value": 72, "unit": "kg", "code": "kg"}}');
SELECT pg_temp.obs('ba000000-0000-4000-8000-000000000012',
    '{"resourceType": "Observation", "id": "ba000000-0000-4000-8000-000000000012", "status": "final",
      "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
      "subject": {"reference": "Patient/ba000000-0000-4000-8000-0000000000a1"}, "effectiveDateTime": "2021-05-20",
      "valueQuantity": {"value": 62, "unit": "kg", "code": "kg"}}');
-- the weight-loss flag is one of the flags behind the patient's nutrition-screening Flag
CREATE VIEW pg_temp.weight_flag AS
    SELECT f.flag_id, f.resolved_at, s.content::jsonb ->> 'status' AS fhir_status,
           s.content::jsonb -> 'identifier' @> jsonb_build_array(jsonb_build_object('system', 'urn:careflags:flag', 'value', f.flag_id::text)) AS named,
           EXISTS (SELECT FROM careflags.flag AS o JOIN careflags.rule AS r USING (rule_id)
                    WHERE o.patient_id = f.patient_id AND o.flag_id <> f.flag_id AND o.resolved_at IS NULL
                      AND careflags.action_of(o.domain, r.anchor) = 'nutrition_screening') AS others_open
    FROM careflags.flag AS f JOIN careflags.patient AS p USING (patient_id)
    LEFT JOIN public."Flag" AS s ON s.id = careflags_fhir.action_flag_uuid(f.patient_id, 'nutrition_screening')
    WHERE p.source_key = 'Patient/ba000000-0000-4000-8000-0000000000a1' AND f.rule_id = 'nutrition.weight_loss';
SELECT results_eq($$SELECT resolved_at IS NULL, fhir_status, named FROM pg_temp.weight_flag$$,
                  $$VALUES (true, 'active'::text, true)$$, '72 kg -> 62 kg in under 4 months: weight-loss flag, behind an active Flag');
DELETE FROM public."Observation" WHERE id = 'ba000000-0000-4000-8000-000000000012';
SELECT is((SELECT count(*) FROM careflags.measurement WHERE source_key = 'Observation/ba000000-0000-4000-8000-000000000012'), 0::bigint,
          'DELETE of the Observation removes its measurement');
SELECT results_eq($$SELECT resolved_at IS NULL, fhir_status, named FROM pg_temp.weight_flag$$,
                  $$SELECT false, CASE WHEN others_open THEN 'active' ELSE 'inactive' END, false FROM pg_temp.weight_flag$$,
                  'the weight-loss flag resolves: the Flag no longer names it (inactive when no other flag of the action is open)');
SELECT results_eq($$SELECT outcome FROM pg_temp.outcome WHERE resource_id = 'ba000000-0000-4000-8000-000000000012'$$,
                  $$VALUES ('deleted'::text)$$, 'the deleted resource''s outcome is deleted');
-- A transaction bundle's DELETE entry.
SELECT results_eq($$SELECT * FROM careflags_fhir.load_bundle('{"resourceType": "Bundle", "type": "transaction", "entry": [
                      {"request": {"method": "DELETE", "url": "Observation/ba000000-0000-4000-8000-000000000011"}}]}')$$,
                  $$VALUES ('deleted'::text, 1::bigint)$$, 'a bundle DELETE entry');
SELECT ok((SELECT deleted FROM public."Observation" WHERE id = 'ba000000-0000-4000-8000-000000000011')
          AND NOT EXISTS (SELECT FROM careflags.measurement WHERE source_key = 'Observation/ba000000-0000-4000-8000-000000000011'),
          'bundle DELETE: the row is marked deleted, its measurement removed');
-- Deleting the Patient removes the patient and its flags; the Flags are marked deleted.
DELETE FROM public."Patient" WHERE id = 'ba000000-0000-4000-8000-0000000000a1';
SELECT ok(NOT EXISTS (SELECT FROM careflags.patient WHERE source_key = 'Patient/ba000000-0000-4000-8000-0000000000a1')
          AND NOT EXISTS (SELECT FROM public."Flag" WHERE NOT deleted AND content::jsonb -> 'subject' ->> 'reference' = 'Patient/ba000000-0000-4000-8000-0000000000a1'),
          'DELETE of the Patient: careflags patient gone, its Flags marked deleted');

SELECT * FROM finish();
ROLLBACK;
