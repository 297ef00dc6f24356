-- careflags_fhir: every shared Synthea bundle and the Synthea Bulk Data
-- NDJSON load without error into the per-type tables store; every resource
-- is mapped or ignored with a reason (none of this data should be
-- quarantined); the expected counts are computed here from the raw files,
-- independently of the mapping code.
\c careflags_fhir_test
\set QUIET 1
\set b1 `zcat data/synthea-bundles/Annmarie_Doyle_b1756d32-c4c4-4fd2-9023-ff241b55bae0.json.gz`
\set b2 `zcat data/synthea-bundles/Gayla_Ferry_259bc6c6-9c1d-43e9-bd25-7539cf07f8ac.json.gz`
\set b3 `zcat data/synthea-bundles/Lavelle_Kuvalis_9f0fb46c-c9f5-4c50-a983-9f87bf591ce9.json.gz`
\set b4 `zcat data/synthea-bundles/Max_Dicki_d9f8849f-e4a7-4ced-b057-c618db16a117.json.gz`
\set b5 `zcat data/synthea-bundles/Trey_Berge_99153850-84f1-4de6-9e19-3e0d6eeedeb2.json.gz`
\set b6 `zcat data/synthea-bundles/Willia_Runolfsdottir_074c3873-c476-40e3-8046-f67372eb5e05.json.gz`
\set n_patient `zcat data/synthea-bulk-10/Patient.000.ndjson.gz`
\set n_encounter `zcat data/synthea-bulk-10/Encounter.000.ndjson.gz`
\set n_medreq `zcat data/synthea-bulk-10/MedicationRequest.000.ndjson.gz`
\set n_procedure `zcat data/synthea-bulk-10/Procedure.000.ndjson.gz`
\set n_condition `zcat data/synthea-bulk-10/Condition.000.ndjson.gz`
\set n_location `zcat data/synthea-bulk-10/Location.000.ndjson.gz`
\set n_organization `zcat data/synthea-bulk-10/Organization.000.ndjson.gz`

BEGIN;
SELECT plan(30);

-- The raw resources, read here without the plugin.
CREATE TEMP TABLE raw (r jsonb);
INSERT INTO raw SELECT e -> 'resource'
    FROM unnest(ARRAY[:'b1', :'b2', :'b3', :'b4', :'b5', :'b6']::jsonb[]) AS b, jsonb_array_elements(b -> 'entry') AS e;
INSERT INTO raw SELECT l::jsonb
    FROM unnest(ARRAY[:'n_patient', :'n_encounter', :'n_medreq', :'n_procedure', :'n_condition',
                      :'n_location', :'n_organization']) AS f, regexp_split_to_table(f, E'\n') AS l
    WHERE btrim(l) <> '';

SELECT is((SELECT count(*) FROM raw), 6877::bigint, 'the shared Synthea data holds 6877 resources');

SELECT lives_ok($$SELECT careflags_fhir.setup('tables', 'public')$$, 'setup: per-type tables in public');

CREATE TEMP TABLE loaded (src text, outcome text, resources bigint);
SELECT lives_ok(format('INSERT INTO loaded SELECT %L, * FROM careflags_fhir.load_bundle(%L)', 'Annmarie_Doyle', :'b1'), 'bundle Annmarie_Doyle loads');
SELECT lives_ok(format('INSERT INTO loaded SELECT %L, * FROM careflags_fhir.load_bundle(%L)', 'Gayla_Ferry', :'b2'), 'bundle Gayla_Ferry loads');
SELECT lives_ok(format('INSERT INTO loaded SELECT %L, * FROM careflags_fhir.load_bundle(%L)', 'Lavelle_Kuvalis', :'b3'), 'bundle Lavelle_Kuvalis loads');
SELECT lives_ok(format('INSERT INTO loaded SELECT %L, * FROM careflags_fhir.load_bundle(%L)', 'Max_Dicki', :'b4'), 'bundle Max_Dicki loads');
SELECT lives_ok(format('INSERT INTO loaded SELECT %L, * FROM careflags_fhir.load_bundle(%L)', 'Trey_Berge', :'b5'), 'bundle Trey_Berge loads');
SELECT lives_ok(format('INSERT INTO loaded SELECT %L, * FROM careflags_fhir.load_bundle(%L)', 'Willia_Runolfsdottir', :'b6'), 'bundle Willia_Runolfsdottir loads');
SELECT lives_ok(format('INSERT INTO loaded SELECT %L, * FROM careflags_fhir.load_ndjson(%L, %L)', 'bulk', 'Patient', :'n_patient'), 'NDJSON Patient loads');
SELECT lives_ok(format('INSERT INTO loaded SELECT %L, * FROM careflags_fhir.load_ndjson(%L, %L)', 'bulk', 'Encounter', :'n_encounter'), 'NDJSON Encounter loads');
SELECT lives_ok(format('INSERT INTO loaded SELECT %L, * FROM careflags_fhir.load_ndjson(%L, %L)', 'bulk', 'MedicationRequest', :'n_medreq'), 'NDJSON MedicationRequest loads');
SELECT lives_ok(format('INSERT INTO loaded SELECT %L, * FROM careflags_fhir.load_ndjson(%L, %L)', 'bulk', 'Procedure', :'n_procedure'), 'NDJSON Procedure loads');
SELECT lives_ok(format('INSERT INTO loaded SELECT %L, * FROM careflags_fhir.load_ndjson(%L, %L)', 'bulk', 'Condition', :'n_condition'), 'NDJSON Condition loads');
SELECT lives_ok(format('INSERT INTO loaded SELECT %L, * FROM careflags_fhir.load_ndjson(%L, %L)', 'bulk', 'Location', :'n_location'), 'NDJSON Location loads');
SELECT lives_ok(format('INSERT INTO loaded SELECT %L, * FROM careflags_fhir.load_ndjson(%L, %L)', 'bulk', 'Organization', :'n_organization'), 'NDJSON Organization loads');

-- Every resource accounted for, by the loaders and in resource_map.
SELECT is((SELECT sum(resources) FROM loaded), 6877::numeric, 'the loaders report an outcome for every resource');
SELECT is_empty($$SELECT r ->> 'resourceType', r ->> 'id' FROM raw
                  EXCEPT SELECT resource_type, resource_id FROM careflags_fhir.resource_map$$,
                'every resource has its outcome in resource_map');
SELECT is_empty($$SELECT * FROM careflags_fhir.resource_map WHERE outcome NOT IN ('mapped', 'ignored')
                     OR (outcome = 'ignored' AND coalesce(reason, '') = '')$$,
                'Synthea data: each resource is mapped, or ignored with a reason; none quarantined');
SELECT is((SELECT count(*) FROM careflags.quarantine WHERE source_system = 'fhir'), 0::bigint,
          'nothing from the Synthea data goes to quarantine');

-- Counts per type, from the raw data.
SELECT results_eq(
    $$SELECT resource_type, count(*) FROM careflags_fhir.resource_map WHERE outcome = 'mapped'
      GROUP BY 1 ORDER BY 1$$,
    $$SELECT r ->> 'resourceType', count(*) FROM raw
       WHERE r ->> 'resourceType' IN ('Patient', 'MedicationRequest')
          OR (r ->> 'resourceType' = 'Observation'
              AND r -> 'code' -> 'coding' -> 0 ->> 'code' IN ('29463-7', '8302-2', '39156-5'))
          OR (r ->> 'resourceType' = 'Procedure' AND r ->> 'status' = 'completed'
              AND r -> 'code' -> 'coding' -> 0 ->> 'code' IN ('430193006', '762993000'))
       GROUP BY 1 ORDER BY 1$$,
    'mapped: every Patient and MedicationRequest, weight/height/BMI Observations, reconciliation and Morse procedures');
SELECT is((SELECT count(*) FROM careflags_fhir.resource_map WHERE outcome = 'mapped'), 2081::bigint,
          '2081 resources mapped');
SELECT is((SELECT count(*) FROM careflags_fhir.resource_map WHERE outcome = 'ignored'), 4796::bigint,
          '4796 resources ignored (types and codes careflags does not use)');
SELECT results_eq(
    $$SELECT kind::text, count(*) FROM careflags.measurement WHERE source_system = 'fhir' GROUP BY 1 ORDER BY 1$$,
    $$SELECT CASE r -> 'code' -> 'coding' -> 0 ->> 'code' WHEN '29463-7' THEN 'weight' WHEN '8302-2' THEN 'height' ELSE 'bmi' END,
             count(*) FROM raw
       WHERE r ->> 'resourceType' = 'Observation' AND r -> 'code' -> 'coding' -> 0 ->> 'code' IN ('29463-7', '8302-2', '39156-5')
       GROUP BY 1 ORDER BY 1$$,
    'one measurement per weight, height and BMI Observation');
SELECT is((SELECT sum(value) FROM careflags.measurement WHERE kind = 'weight'),
          (SELECT sum(round((r -> 'valueQuantity' ->> 'value')::numeric, 3)) FROM raw
            WHERE r -> 'code' -> 'coding' -> 0 ->> 'code' = '29463-7' AND r -> 'valueQuantity' ->> 'code' = 'kg'),
          'weights are the kg values of the Observations');
SELECT is((SELECT count(*) FROM careflags.medication WHERE atc = 'C03AA03'),
          (SELECT count(*) FROM raw WHERE r ->> 'resourceType' = 'MedicationRequest'
              AND r -> 'medicationCodeableConcept' -> 'coding' -> 0 ->> 'code' IN ('310798', '316049')),
          'RxNorm hydrochlorothiazide (310798, 316049) maps to ATC C03AA03');
SELECT ok((SELECT bool_and(atc IS NULL) AND count(*) = 3 FROM careflags.medication WHERE code = 'rxnorm:1043400'),
          'an RxNorm code without ATC mapping is still a medicine: atc NULL, code rxnorm:<code>');

-- The reconciliation of Lavelle Kuvalis is a medication review.
SELECT results_eq(
    $$SELECT m.reviewed_at, m.code FROM careflags.medication_review AS m
        JOIN careflags.patient AS p USING (patient_id)
       WHERE p.source_system = 'fhir' AND p.source_key = 'Patient/71a8a403-9ec4-4677-96f6-5a1f53c89da0'$$,
    $$VALUES ('2014-04-07 16:54:01+00'::timestamptz, '430193006'::text)$$,
    'Lavelle Kuvalis: the medication reconciliation (SNOMED 430193006) is her medication review');
SELECT ok((SELECT count(*) FROM careflags.assessment AS a JOIN careflags.patient AS p USING (patient_id)
            WHERE p.source_key = 'Patient/a5cb8ce9-cec6-6b23-0990-cbaf753578a4' AND a.instrument = 'fall_risk_unspecified') > 0
          AND (SELECT count(*) FROM careflags.medication_review AS m JOIN careflags.patient AS p USING (patient_id)
                WHERE p.source_key = 'Patient/a5cb8ce9-cec6-6b23-0990-cbaf753578a4') > 0,
          'bulk patient a5cb8ce9 (born 1927): Morse assessment procedure and medication reconciliation both mapped');

-- Loading the same bundle again changes nothing.
CREATE TEMP TABLE before_reload AS
    SELECT (SELECT count(*) FROM careflags.measurement) AS m, (SELECT count(*) FROM careflags.patient) AS p;
SELECT results_eq(format('SELECT * FROM careflags_fhir.load_bundle(%L)', :'b3'),
                  $$VALUES ('ignored'::text, 192::bigint), ('mapped', 33)$$,
                  'reloading Lavelle_Kuvalis gives the same outcomes');
SELECT ok((SELECT m = (SELECT count(*) FROM careflags.measurement) AND p = (SELECT count(*) FROM careflags.patient)
             FROM before_reload),
          'reloading adds no facts and no patients');

SELECT * FROM finish();
ROLLBACK;
