-- careflags_fhir: careflags flags written back as FHIR R4 Flag resources in
-- the per-type tables store, one per patient and action (issue 15,
-- clinical-rules.md §7.18): required elements, value sets and datatypes of
-- R4 Flag checked here; the shape compared with the HL7 example
-- data/fhir-r4-examples/Flag-example.json; the code text is the action row
-- in careflags.language (at most 140 characters); the same Flag id is
-- updated, and marked inactive when the action row goes away.
\c careflags_fhir_test
\set QUIET 1
\set example `cat data/fhir-r4-examples/Flag-example.json`

BEGIN;
SELECT plan(28);

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

-- One row per patient and action: due while a flag of the action is open
-- and at least due soon (as careflags.actions), else resolved (a flag for
-- later, e.g. the next screening, does not count yet).
CREATE TEMP VIEW mirrored AS
    SELECT a.patient_id, a.action, a.due_from, a.resolved_at, a.flag_ids, s.id, s.content::jsonb AS r, s."lastUpdated", s.deleted
    FROM (SELECT f.patient_id, f.action,
                 min(f.due_from) FILTER (WHERE f.due) AS due_from,
                 CASE WHEN NOT bool_or(f.due) THEN max(f.resolved_at) END AS resolved_at,
                 array_agg(f.flag_id ORDER BY f.flag_id) FILTER (WHERE f.due) AS flag_ids
            FROM (SELECT f.*, careflags.action_of(f.domain, ru.anchor) AS action,
                         f.resolved_at IS NULL AND careflags.clock() >= careflags.due_soon_from(f.due_from, f.due_soon_window) AS due
                    FROM careflags.flag AS f JOIN careflags.rule AS ru USING (rule_id)
                    JOIN careflags.patient AS p ON p.patient_id = f.patient_id AND p.source_key = 'Patient/5e1f0000-0000-4000-8000-000000000001') AS f
           GROUP BY 1, 2
          HAVING bool_or(f.due) OR bool_or(f.resolved_at IS NOT NULL)) AS a
    LEFT JOIN public."Flag" AS s ON s.id = careflags_fhir.action_flag_uuid(a.patient_id, a.action);

SELECT ok((SELECT count(*) FROM mirrored) >= 3, 'the nursing-home resident has actions due');
SELECT is_empty($$SELECT * FROM mirrored WHERE id IS NULL$$, 'every action of hers has its FHIR Flag row');
SELECT is((SELECT count(*) FROM public."Flag"), (SELECT count(*) FROM mirrored), 'one Flag row per patient and action, not one per flag');

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
                     OR NOT jsonb_path_exists(r, '$.code.coding[*] ? (@.system == "urn:careflags:action" && @.code.type() == "string" && @.display.type() == "string")')
                     OR r -> 'code' -> 'coding' -> 0 ->> 'code' <> action$$,
                'code (1..1): a careflags code system coding with the action and a display');
SELECT is_empty($$SELECT m.id FROM mirrored AS m JOIN careflags.actions AS a ON a.patient_id = m.patient_id AND a.action = m.action
                  WHERE m.r -> 'code' ->> 'text' IS DISTINCT FROM a.why OR char_length(m.r -> 'code' ->> 'text') > 140
                     OR m.r -> 'code' -> 'coding' -> 0 ->> 'display' IS DISTINCT FROM a.title OR m.r ->> 'language' <> 'nb'$$,
                'code text: the row of careflags.actions (what, why, by when; at most 140 characters), in bokmål (language nb)');
SELECT is((SELECT r -> 'code' ->> 'text' FROM mirrored WHERE action = 'nutrition_screening'),
          'Ernæringsscreening: ved innkomst 1. mai. Frist 8. mai.', 'e.g. "Ernæringsscreening: ved innkomst 1. mai. Frist 8. mai."');
SELECT is_empty($$SELECT id FROM mirrored
                  WHERE NOT r -> 'identifier' @> jsonb_build_array(jsonb_build_object('system', 'urn:careflags:action', 'value', patient_id || '/' || action))
                     OR (SELECT array_agg((i ->> 'value')::bigint ORDER BY (i ->> 'value')::bigint)
                           FROM jsonb_array_elements(r -> 'identifier') AS i WHERE i ->> 'system' = 'urn:careflags:flag') IS DISTINCT FROM flag_ids$$,
                'identifier: the action row and every flag behind it');
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
CREATE TEMP TABLE before AS SELECT action, id, r FROM mirrored WHERE action = 'nutrition_screening';
SET careflags.frozen_now = '2021-06-02 12:00+00';
INSERT INTO public."Observation" (id, content) VALUES ('5e1f0000-0000-4000-8000-00000000000b',
    '{"resourceType": "Observation", "id": "5e1f0000-0000-4000-8000-00000000000b", "status": "final",
      "code": {"coding": [{"system": "http://loinc.org", "code": "107114-1", "display": "MNA-SF total score"}]},
      "subject": {"reference": "Patient/5e1f0000-0000-4000-8000-000000000001"},
      "effectiveDateTime": "2021-06-02T09:30:00+02:00", "valueInteger": 13}');
SELECT results_eq(
    $$SELECT m.id, m.r ->> 'status', m.r -> 'period' ->> 'end' FROM mirrored AS m JOIN before AS b USING (action)$$,
    $$SELECT id, 'inactive', '2021-06-02T12:00:00Z' FROM before$$,
    'screening done, the action row gone: the same Flag id becomes inactive, period.end = resolution time');
SELECT is((SELECT count(*) FROM public."Flag"), (SELECT count(*) FROM mirrored), 'still one Flag row per patient and action');
SELECT is_empty($$SELECT id FROM mirrored WHERE r ->> 'status' IS DISTINCT FROM CASE WHEN resolved_at IS NULL THEN 'active' ELSE 'inactive' END$$,
                'Flag status follows the action row: a flag of the action due = active, none = inactive');
SET LOCAL careflags.language = 'en';
SELECT matches(careflags_fhir.action_flag_resource((SELECT patient_id FROM mirrored LIMIT 1), 'medication_review',
                                                   '5e1f0000-0000-4000-8000-000000000001') -> 'code' ->> 'text',
               '^Medication review: on admission 1 May\. Due 8 May\.$', 'written by an English session: the text in English');
RESET careflags.language;

-- The stay is deleted (Medplum style: deleted = true): its flags resolve.
SET careflags.frozen_now = '2021-06-03 12:00+00';
UPDATE public."EpisodeOfCare" SET deleted = true, "lastUpdated" = now() WHERE id = '5e1f0000-0000-4000-8000-0000000000e1';
SELECT is((SELECT count(*) FROM careflags.episode WHERE source_key = 'EpisodeOfCare/5e1f0000-0000-4000-8000-0000000000e1'),
          0::bigint, 'deleted = true removes the episode fact');
SELECT is_empty($$SELECT * FROM mirrored WHERE resolved_at IS NULL OR r ->> 'status' <> 'inactive'$$,
                'no stay, no open flags: every mirrored Flag is inactive');

-- The Flag id is a fixed function of the patient and the action.
SELECT is(careflags_fhir.action_flag_uuid(42, 'medication_review'), careflags_fhir.action_flag_uuid(42, 'medication_review'),
          'action_flag_uuid is deterministic');
SELECT matches(careflags_fhir.action_flag_uuid(42, 'medication_review')::text, '^[0-9a-f]{8}-[0-9a-f]{4}-3[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$',
               'action_flag_uuid has the name-based (version 3) uuid layout');

-- A Flag 1.0 wrote (one per flag) is marked deleted when the actions are mirrored.
INSERT INTO public."Flag" (id, content, "lastUpdated", deleted)
SELECT careflags_fhir.flag_uuid(f.flag_id), careflags_fhir.flag_resource(f, '5e1f0000-0000-4000-8000-000000000001')::text, now(), false
  FROM careflags.flag f JOIN careflags.patient p USING (patient_id)
 WHERE p.source_key = 'Patient/5e1f0000-0000-4000-8000-000000000001' ORDER BY f.flag_id LIMIT 1
RETURNING id AS old_flag \gset
SELECT careflags_fhir.mirror_actions() AS mirrored_actions \gset
SELECT ok(:mirrored_actions >= 3 AND (SELECT deleted FROM public."Flag" WHERE id = :'old_flag'),
          'mirror_actions() writes the action Flags and marks a per-flag Flag of 1.0 deleted');

-- Issue 17 item 5: the Flag's text names every fall-risk drug a resident
-- takes (longest in use first), not only one.
SET careflags.frozen_now = '2021-06-10 12:00+00';
INSERT INTO careflags.patient (birth_date, display_name) VALUES ('1935-03-01', 'Test Frid') RETURNING patient_id AS frid_pid \gset
INSERT INTO careflags.episode (patient_id, setting, unit_id, started_at) VALUES (:frid_pid, 'nursing_home_long_term', 'nh-test', '2020-01-01 10:00+01');
INSERT INTO careflags.medication_review (patient_id, reviewed_at) VALUES (:frid_pid, '2021-03-01 10:00+01');
INSERT INTO careflags.medication (patient_id, atc, name, started_at) VALUES
    (:frid_pid, 'N05BA04', 'Oxazepam 10 MG Oral Tablet', '2020-09-01 10:00+02'),
    (:frid_pid, 'C03CA01', 'Furosemide 40 MG Oral Tablet', '2020-03-01 10:00+01');
INSERT INTO careflags.fall (patient_id, fell_at) VALUES (:frid_pid, '2021-06-08 10:00+02');
SELECT is(careflags_fhir.action_flag_resource(:frid_pid, 'medication_review', 'frid-test') -> 'code' ->> 'text',
          'Legemiddelgjennomgang: bruker furosemide og oxazepam etter fall. Frist 15. juni.',
          'the Flag''s text names both fall-risk drugs, furosemide and oxazepam');

SELECT * FROM finish();
ROLLBACK;
