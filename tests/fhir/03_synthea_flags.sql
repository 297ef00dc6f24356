-- careflags_fhir end to end on Synthea data (store: the one-table 'resource'
-- layout): with a nursing-home EpisodeOfCare added for the Synthea elderly,
-- careflags raises the missing nutrition screening, the missing fall-risk
-- assessment and the medication review according to the reconciliation
-- dates; a weight series with > 10 % loss raises the weight-loss flag; the
-- flags are mirrored as FHIR Flags.
\c careflags_fhir_test
\set QUIET 1
\set b1 `zcat data/synthea-bundles/Annmarie_Doyle_b1756d32-c4c4-4fd2-9023-ff241b55bae0.json.gz`
\set b2 `zcat data/synthea-bundles/Gayla_Ferry_259bc6c6-9c1d-43e9-bd25-7539cf07f8ac.json.gz`
\set b3 `zcat data/synthea-bundles/Lavelle_Kuvalis_9f0fb46c-c9f5-4c50-a983-9f87bf591ce9.json.gz`
\set b4 `zcat data/synthea-bundles/Max_Dicki_d9f8849f-e4a7-4ced-b057-c618db16a117.json.gz`
\set b5 `zcat data/synthea-bundles/Trey_Berge_99153850-84f1-4de6-9e19-3e0d6eeedeb2.json.gz`
\set b6 `zcat data/synthea-bundles/Willia_Runolfsdottir_074c3873-c476-40e3-8046-f67372eb5e05.json.gz`
\set n_patient `zcat data/synthea-bulk-10/Patient.000.ndjson.gz`
\set n_procedure `zcat data/synthea-bulk-10/Procedure.000.ndjson.gz`

BEGIN;
SELECT plan(16);

SELECT lives_ok($$SELECT careflags_fhir.setup('resource')$$, 'setup: the one-table store careflags_fhir.resource');
-- The site's mapping: its nursing-home EpisodeOfCare type is a long-term stay.
INSERT INTO careflags_fhir.setting_map (resource_type, match_kind, system, code, setting, unit_id, description)
VALUES ('EpisodeOfCare', 'type', 'urn:example:careflags-test:episode-type', 'nh-long', 'nursing_home_long_term', 'nh-test',
        'test nursing home, long-term ward');
-- careflags quarantines an episode whose unit is not in careflags.unit
INSERT INTO careflags.unit (unit_id, name, setting) VALUES ('nh-test', 'Test unit nh-test', 'nursing_home_long_term') ON CONFLICT DO NOTHING;

SET careflags.frozen_now = '2021-06-01 12:00+00';
SELECT lives_ok(format('SELECT careflags_fhir.load_bundle(b::jsonb) FROM unnest(ARRAY[%L, %L, %L, %L, %L, %L]) AS b',
                       :'b1', :'b2', :'b3', :'b4', :'b5', :'b6'), 'the six Synthea bundles load');
SELECT is((SELECT count(*) FROM careflags.flag), 0::bigint, 'no care episode yet: no flags');

-- A long-term nursing-home stay from 1 May 2021 for each of the six (born
-- 1913-1942), as a collection bundle.
CREATE TEMP TABLE elderly AS
    SELECT p.source_key, substr(p.source_key, 9) AS fhir_id, p.birth_date FROM careflags.patient AS p
    WHERE p.source_system = 'fhir';
SELECT is((SELECT count(*) FROM elderly WHERE birth_date < '1943-01-01'), 6::bigint, 'six elderly Synthea patients');
SELECT results_eq(
    $$SELECT * FROM careflags_fhir.load_bundle(jsonb_build_object('resourceType', 'Bundle', 'type', 'collection', 'entry',
        (SELECT jsonb_agg(jsonb_build_object('resource', jsonb_build_object(
            'resourceType', 'EpisodeOfCare', 'id', 'nh-' || left(fhir_id, 8), 'status', 'active',
            'type', jsonb_build_array(jsonb_build_object('coding', jsonb_build_array(jsonb_build_object(
                'system', 'urn:example:careflags-test:episode-type', 'code', 'nh-long')))),
            'patient', jsonb_build_object('reference', 'Patient/' || fhir_id),
            'period', jsonb_build_object('start', '2021-05-01T10:00:00+02:00'))))
         FROM elderly)))$$,
    $$VALUES ('mapped'::text, 6::bigint)$$,
    'six nursing-home EpisodeOfCare resources mapped');

CREATE TEMP VIEW open_flags AS
    SELECT e.fhir_id, f.rule_id, f.due_from, f.due_at, f.flag_id
    FROM careflags.flag AS f JOIN careflags.patient AS p USING (patient_id) JOIN elderly AS e USING (source_key)
    WHERE f.resolved_at IS NULL;
SELECT results_eq(
    $$SELECT count(DISTINCT fhir_id) FROM open_flags WHERE rule_id = 'nutrition.screening.admission_long_term'
        AND due_from = '2021-05-01 08:00+00' AND due_at = '2021-05-08 08:00+00'$$,
    ARRAY[6::bigint], 'all six: nutrition screening missing since admission (due within 7 days, now overdue)');
SELECT results_eq(
    $$SELECT count(DISTINCT fhir_id) FROM open_flags WHERE rule_id = 'fall_risk.assessment.admission'
        AND due_at = '2021-05-08 08:00+00'$$,
    ARRAY[6::bigint], 'all six: fall-risk assessment missing since admission');
SELECT results_eq(
    $$SELECT count(DISTINCT fhir_id) FROM open_flags WHERE rule_id = 'medication_review.admission'$$,
    ARRAY[6::bigint], 'all six: no medication review since admission (Lavelle''s reconciliation of 2014 is older)');
SELECT is_empty($$SELECT * FROM open_flags WHERE rule_id = 'nutrition.weight_loss'$$,
                'Synthea weights alone show no weight loss');

-- Gayla Ferry loses weight: 154.3 lb in January, 61.5 kg in May (12 % in
-- about four months).
SET careflags.frozen_now = '2021-05-25 12:00+00';
SELECT results_eq(
    $$SELECT * FROM careflags_fhir.load_bundle('{"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:0b1e5a10-0000-4000-8000-000000000001",
         "resource": {"resourceType": "Observation", "status": "final",
                      "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
                      "subject": {"reference": "urn:uuid:77155e2b-5d21-4b47-86f0-4004183d68b2"},
                      "effectiveDateTime": "2021-01-10T09:00:00+01:00",
                      "valueQuantity": {"value": 154.3, "unit": "lb", "system": "http://unitsofmeasure.org", "code": "[lb_av]"}},
         "request": {"method": "POST", "url": "Observation"}},
        {"fullUrl": "urn:uuid:0b1e5a10-0000-4000-8000-000000000002",
         "resource": {"resourceType": "Observation", "status": "final",
                      "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
                      "subject": {"reference": "Patient/77155e2b-5d21-4b47-86f0-4004183d68b2"},
                      "effectiveDateTime": "2021-05-20T09:00:00+02:00",
                      "valueQuantity": {"value": 61.5, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}},
         "request": {"method": "POST", "url": "Observation"}}]}')$$,
    $$VALUES ('mapped'::text, 2::bigint)$$,
    'two weight Observations (one in pounds) mapped');
SELECT results_eq(
    $$SELECT value FROM careflags.measurement WHERE source_key LIKE 'Observation/0b1e5a10-%' ORDER BY measured_at$$,
    $$VALUES (69.989::numeric), (61.500)$$,
    'pounds are converted to kg (154.3 [lb_av] x 0.45359237 = 69.989 kg)');
SELECT results_eq(
    $$SELECT fhir_id, due_from FROM open_flags WHERE rule_id = 'nutrition.weight_loss'$$,
    $$VALUES ('77155e2b-5d21-4b47-86f0-4004183d68b2'::text, '2021-05-20 07:00+00'::timestamptz)$$,
    'Gayla Ferry (and no one else): weight-loss flag from the latest weight');

-- Bulk patient a5cb8ce9 (born 1927): in the nursing home from 25 January
-- 2022; her reconciliations of 29 January 2022 and 4 February 2023 are her
-- admission and yearly medication reviews, her Morse assessments count as
-- fall-risk assessments (6 months counted in careflags.timezone, Europe/Oslo:
-- 05:41 CET in February is 05:41 CEST in August).
SET careflags.frozen_now = '2023-06-01 12:00+00';
SELECT lives_ok(format('SELECT careflags_fhir.load_ndjson(%L, %L), careflags_fhir.load_ndjson(%L, %L)',
                       'Patient', :'n_patient', 'Procedure', :'n_procedure'), 'bulk Patient and Procedure NDJSON load');
INSERT INTO careflags_fhir.resource (resource_type, id, content) VALUES ('EpisodeOfCare', 'nh-a5cb8ce9',
    '{"resourceType": "EpisodeOfCare", "id": "nh-a5cb8ce9", "status": "active",
      "type": [{"coding": [{"system": "urn:example:careflags-test:episode-type", "code": "nh-long"}]}],
      "patient": {"reference": "Patient/a5cb8ce9-cec6-6b23-0990-cbaf753578a4"},
      "period": {"start": "2022-01-25T08:00:00-05:00"}}');
SELECT results_eq(
    $$SELECT f.rule_id, f.due_from FROM careflags.flag AS f JOIN careflags.patient AS p USING (patient_id)
       WHERE p.source_key = 'Patient/a5cb8ce9-cec6-6b23-0990-cbaf753578a4' AND f.resolved_at IS NULL
         AND f.domain IN ('medication_review', 'fall_risk') ORDER BY 1$$,
    $$VALUES ('fall_risk.assessment.repeat'::text, '2023-08-05 03:41:21+00'::timestamptz),
             ('medication_review.annual', '2024-02-04 22:58:16-05'::timestamptz)$$,
    'a5cb8ce9: yearly review due 12 months after the last reconciliation, fall-risk reassessment 6 months after the last Morse; no admission flags');
SELECT ok(EXISTS (SELECT FROM careflags.flag AS f JOIN careflags.patient AS p USING (patient_id)
                   WHERE p.source_key = 'Patient/a5cb8ce9-cec6-6b23-0990-cbaf753578a4' AND f.resolved_at IS NULL
                     AND f.rule_id = 'nutrition.screening.admission_long_term'),
          'a5cb8ce9: no nutrition screening in the data, so it is flagged');

-- Every action of these FHIR patients is written back as one Flag in the
-- store: active while a flag of the action is open and at least due soon
-- (as careflags.actions), inactive once none is; an action with only a
-- flag for later has none yet.
SELECT set_eq(
    $$SELECT careflags_fhir.action_flag_uuid(f.patient_id, f.action)::text,
             CASE WHEN bool_or(f.due) THEN 'active' ELSE 'inactive' END
        FROM (SELECT f.*, careflags.action_of(f.domain, r.anchor) AS action,
                     f.resolved_at IS NULL AND careflags.clock() >= careflags.due_soon_from(f.due_from, f.due_soon_window) AS due
                FROM careflags.flag AS f JOIN careflags.rule AS r USING (rule_id)) AS f
       GROUP BY f.patient_id, f.action
      HAVING bool_or(f.due) OR bool_or(f.resolved_at IS NOT NULL)$$,
    $$SELECT id, content::jsonb ->> 'status' FROM careflags_fhir.resource WHERE resource_type = 'Flag' AND NOT deleted$$,
    'each patient''s action has one FHIR Flag in the store, active while the action is due');

SELECT * FROM finish();
ROLLBACK;
