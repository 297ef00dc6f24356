-- careflags_fhir: careflags flags mirrored as FHIR R4 Flag resources in the
-- per-type tables store: required elements, value sets and datatypes of R4
-- Flag checked here; the shape compared with the HL7 example
-- data/fhir-r4-examples/Flag-example.json; the same Flag id is
-- updated, and marked inactive when the condition clears.
\c careflags_fhir_test
\set QUIET 1
\set example `cat data/fhir-r4-examples/Flag-example.json`

BEGIN;
SELECT plan(22);

SELECT lives_ok($$SELECT careflags_fhir.setup('tables', 'public')$$, 'setup: per-type tables');
INSERT INTO careflags_fhir.setting_map (match_kind, system, code, setting, unit_id)
VALUES ('type', 'urn:example:careflags-test:episode-type', 'nh-long', 'nursing_home_long_term', 'nh-test');
-- careflags quarantines an episode whose unit is not in careflags.unit
INSERT INTO careflags.unit (unit_id, name, setting) VALUES ('nh-test', 'Test unit nh-test', 'nursing_home_long_term') ON CONFLICT DO NOTHING;

SET careflags.frozen_now = '2021-06-01 12:00+00';
INSERT INTO public."Patient" (id, content) VALUES ('5e1f0000-0000-4000-8000-000000000001',
    '{"resourceType": "Patient", "id": "5e1f0000-0000-4000-8000-000000000001", "gender": "female",
      "birthDate": "1931-02-11", "name": [{"use": "official", "family": "Nordmann", "given": ["Kari"]}]}');
INSERT INTO public."EpisodeOfCare" (id, content) VALUES ('5e1f0000-0000-4000-8000-0000000000e1',
    '{"resourceType": "EpisodeOfCare", "id": "5e1f0000-0000-4000-8000-0000000000e1", "status": "active",
      "type": [{"coding": [{"system": "urn:example:careflags-test:episode-type", "code": "nh-long"}]}],
      "patient": {"reference": "Patient/5e1f0000-0000-4000-8000-000000000001"},
      "period": {"start": "2021-05-01T10:00:00+02:00"}}');

CREATE TEMP VIEW mirrored AS
    SELECT f.flag_id, f.rule_id, f.resolved_at, f.due_from, s.id, s.content::jsonb AS r, s."lastUpdated", s.deleted
    FROM careflags.flag AS f
    JOIN careflags.patient AS p ON p.patient_id = f.patient_id AND p.source_key = 'Patient/5e1f0000-0000-4000-8000-000000000001'
    LEFT JOIN public."Flag" AS s ON s.id = careflags_fhir.flag_uuid(f.flag_id);

SELECT ok((SELECT count(*) FROM mirrored) >= 3, 'the nursing-home resident has flags');
SELECT is_empty($$SELECT * FROM mirrored WHERE id IS NULL$$, 'every flag has its FHIR Flag row');
SELECT is((SELECT count(*) FROM public."Flag"), (SELECT count(*) FROM mirrored), 'one Flag row per flag');

-- R4 Flag: elements, cardinalities, value sets, datatypes.
SELECT is_empty($$SELECT id FROM mirrored WHERE r ->> 'resourceType' <> 'Flag' OR r ->> 'id' <> id::text$$,
                'resourceType Flag, id = the row id');
SELECT is_empty($$SELECT id, k FROM mirrored, jsonb_object_keys(r) AS k
                  WHERE k NOT IN ('resourceType', 'id', 'meta', 'implicitRules', 'language', 'text', 'contained',
                                  'extension', 'modifierExtension', 'identifier', 'status', 'category', 'code',
                                  'subject', 'period', 'encounter', 'author')$$,
                'only elements R4 Flag defines');
SELECT is_empty($$SELECT id FROM mirrored WHERE NOT coalesce(r ->> 'status' IN ('active', 'inactive', 'entered-in-error'), false)$$,
                'status (1..1) from the required value set flag-status');
SELECT is_empty($$SELECT id FROM mirrored
                  WHERE jsonb_typeof(r -> 'code') <> 'object' OR jsonb_typeof(r -> 'code' -> 'coding') <> 'array'
                     OR NOT jsonb_path_exists(r, '$.code.coding[*] ? (@.system == "urn:careflags:rule" && @.code.type() == "string" && @.display.type() == "string")')
                     OR r -> 'code' -> 'coding' -> 0 ->> 'code' <> rule_id$$,
                'code (1..1): a careflags code system coding with the rule id and a display');
SELECT is_empty($$SELECT id FROM mirrored
                  WHERE r -> 'subject' ->> 'reference' IS DISTINCT FROM 'Patient/5e1f0000-0000-4000-8000-000000000001'$$,
                'subject (1..1) references the FHIR Patient');
SELECT is_empty($$SELECT id FROM mirrored
                  WHERE jsonb_typeof(r -> 'category') <> 'array'
                     OR NOT jsonb_path_exists(r, '$.category[*].coding[*] ? (@.system == "http://terminology.hl7.org/CodeSystem/flag-category")')
                     OR EXISTS (SELECT FROM jsonb_path_query(r, '$.category[*].coding[*] ? (@.system == "http://terminology.hl7.org/CodeSystem/flag-category")') AS c
                                WHERE c ->> 'code' NOT IN ('diet', 'drug', 'lab', 'admin', 'contact', 'clinical',
                                                           'behavioral', 'research', 'advance-directive', 'safety'))$$,
                'category: CodeableConcepts with a code of the flag-category code system');
SELECT is_empty($$SELECT id FROM mirrored
                  WHERE NOT (r -> 'period' ->> 'start') ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$'
                     OR (r -> 'period' ->> 'start')::timestamptz <> due_from
                     OR (r -> 'period' ? 'end' AND (r -> 'period' ->> 'end')::timestamptz < (r -> 'period' ->> 'start')::timestamptz)
                     OR NOT (r -> 'meta' ->> 'lastUpdated') ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$'$$,
                'period.start = due time as a FHIR dateTime, end not before start; meta.lastUpdated an instant');
SELECT is_empty($$SELECT id FROM mirrored, jsonb_array_elements(coalesce(r -> 'extension', '[]')) AS x
                  WHERE jsonb_typeof(x -> 'url') <> 'string'
                     OR (SELECT count(*) FROM jsonb_object_keys(x) AS k WHERE k LIKE 'value%') <> 1$$,
                'extensions have a url and exactly one value[x]');

-- The same shape as HL7's Flag example: each element both have is of the
-- same JSON type, nested elements use only keys the example uses there.
SELECT is_empty(format($$SELECT k FROM mirrored, jsonb_each(r) AS m(k, v), jsonb_each(%L::jsonb) AS e(ek, ev)
                         WHERE k = ek AND jsonb_typeof(v) <> jsonb_typeof(ev)$$, :'example'),
                'each element shared with Flag-example.json has the same JSON type');
SELECT is_empty(format($$SELECT p.path, k FROM mirrored,
                           (VALUES ('category,0'), ('category,0,coding,0'), ('code'), ('code,coding,0'), ('subject'), ('period')) AS p(path),
                           jsonb_object_keys(r #> string_to_array(p.path, ',')) AS k
                         WHERE NOT (%L::jsonb #> string_to_array(p.path, ',')) ? k$$, :'example'),
                'category, code, subject and period use only the keys of Flag-example.json');
SELECT ok((SELECT bool_and(r ?& ARRAY(SELECT jsonb_object_keys(:'example'::jsonb - 'text' - 'author' - 'identifier'))) FROM mirrored
            ),
          'every element of the example (but narrative, author, identifier) is present');

-- The condition clears: an MNA-SF screening (LOINC 107114-1, 13 points).
CREATE TEMP TABLE before AS SELECT flag_id, id, r FROM mirrored WHERE rule_id = 'nutrition.screening.admission_long_term';
SET careflags.frozen_now = '2021-06-02 12:00+00';
INSERT INTO public."Observation" (id, content) VALUES ('5e1f0000-0000-4000-8000-00000000000b',
    '{"resourceType": "Observation", "id": "5e1f0000-0000-4000-8000-00000000000b", "status": "final",
      "code": {"coding": [{"system": "http://loinc.org", "code": "107114-1", "display": "MNA-SF total score"}]},
      "subject": {"reference": "Patient/5e1f0000-0000-4000-8000-000000000001"},
      "effectiveDateTime": "2021-06-02T09:30:00+02:00", "valueInteger": 13}');
SELECT results_eq(
    $$SELECT m.id, m.r ->> 'status', m.r -> 'period' ->> 'end' FROM mirrored AS m JOIN before AS b USING (flag_id)$$,
    $$SELECT id, 'inactive', '2021-06-02T12:00:00Z' FROM before$$,
    'screening done: the same Flag id becomes inactive, period.end = resolution time');
SELECT is((SELECT count(*) FROM public."Flag"), (SELECT count(*) FROM mirrored), 'still one Flag row per flag');
SELECT ok((SELECT bool_and(r ->> 'status' = 'active') FROM mirrored WHERE resolved_at IS NULL)
          AND (SELECT bool_and(r ->> 'status' = 'inactive') FROM mirrored WHERE resolved_at IS NOT NULL),
          'Flag status follows resolution: open = active, resolved = inactive');

-- The stay is deleted (Medplum style: deleted = true): its flags resolve.
SET careflags.frozen_now = '2021-06-03 12:00+00';
UPDATE public."EpisodeOfCare" SET deleted = true, "lastUpdated" = now() WHERE id = '5e1f0000-0000-4000-8000-0000000000e1';
SELECT is((SELECT count(*) FROM careflags.episode WHERE source_key = 'EpisodeOfCare/5e1f0000-0000-4000-8000-0000000000e1'),
          0::bigint, 'deleted = true removes the episode fact');
SELECT is_empty($$SELECT * FROM mirrored WHERE resolved_at IS NULL OR r ->> 'status' <> 'inactive'$$,
                'no stay, no open flags: every mirrored Flag is inactive');

-- The Flag id is a fixed function of the careflags flag id.
SELECT is(careflags_fhir.flag_uuid(42), careflags_fhir.flag_uuid(42), 'flag_uuid is deterministic');
SELECT matches(careflags_fhir.flag_uuid(42)::text, '^[0-9a-f]{8}-[0-9a-f]{4}-3[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$',
               'flag_uuid has the name-based (version 3) uuid layout');

SELECT * FROM finish();
ROLLBACK;
