-- careflags_fhir: a medicine stopped through FHIR is not a medication review
-- (issue 14, item 1; clinical-rules.md §7.16).
-- 11 regular medicines as MedicationRequests, no review, the
-- excessive_polypharmacy flag acknowledged; the record system sets one
-- request's status to 'stopped' (10 left): the same flag row stays open with
-- its acknowledgement and nothing is resolved as done.  A medication review
-- (Procedure, SNOMED CT 182836005) then resolves it as done, naming the
-- review.  (tests/core/40_resolutions.sql shows the same on the core tables.)
\c careflags_fhir_test
\set QUIET 1

BEGIN;
SET LOCAL client_min_messages = error;
SELECT plan(9);
SELECT lives_ok($$SELECT careflags_fhir.setup('tables', 'public')$$, 'setup: per-type tables');
INSERT INTO careflags_fhir.setting_map (match_kind, system, code, setting, unit_id)
VALUES ('type', 'urn:example:careflags-test:episode-type', 'nh-long', 'nursing_home_long_term', 'nh-test');
INSERT INTO careflags.unit (unit_id, name, setting) VALUES ('nh-test', 'Test unit nh-test', 'nursing_home_long_term') ON CONFLICT DO NOTHING;
SET careflags.frozen_now = '2021-06-01 12:00+00';

INSERT INTO public."Patient" (id, content) VALUES ('b1100000-0000-4000-8000-0000000000a1',
    '{"resourceType": "Patient", "id": "b1100000-0000-4000-8000-0000000000a1", "gender": "female", "birthDate": "1931-02-11"}');
INSERT INTO public."EpisodeOfCare" (id, content) VALUES ('b1100000-0000-4000-8000-0000000000e1',
    '{"resourceType": "EpisodeOfCare", "id": "b1100000-0000-4000-8000-0000000000e1", "status": "active",
      "type": [{"coding": [{"system": "urn:example:careflags-test:episode-type", "code": "nh-long"}]}],
      "patient": {"reference": "Patient/b1100000-0000-4000-8000-0000000000a1"}, "period": {"start": "2021-01-01"}}');
-- 11 regular medicines, one a day from 2 February (b1 is the earliest)
INSERT INTO public."MedicationRequest" (id, content)
SELECT format('b1100000-0000-4000-8000-0000000000b%s', to_hex(n::int))::uuid,
       format('{"resourceType": "MedicationRequest", "id": "b1100000-0000-4000-8000-0000000000b%s", "status": "active", "intent": "order",
                "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "%s"}]},
                "subject": {"reference": "Patient/b1100000-0000-4000-8000-0000000000a1"}, "authoredOn": "%s"}',
              to_hex(n::int), atc, ('2021-02-01'::date + n::int)::text)
FROM unnest(ARRAY['C09AA05', 'A10BA02', 'B01AC06', 'C10AA01', 'C07AB02', 'A02BC01', 'C03CA01',
                  'N06AB04', 'M01AE01', 'H03AA01', 'R03AC02']) WITH ORDINALITY AS v(atc, n);

CREATE TEMP VIEW poly AS
    SELECT f.* FROM careflags.flag AS f JOIN careflags.patient AS p USING (patient_id)
    WHERE p.source_key = 'Patient/b1100000-0000-4000-8000-0000000000a1'
      AND f.rule_id = 'medication_review.excessive_polypharmacy';
CREATE TEMP VIEW done_flags AS
    SELECT f.* FROM careflags.flag AS f JOIN careflags.patient AS p USING (patient_id)
    WHERE p.source_key = 'Patient/b1100000-0000-4000-8000-0000000000a1' AND f.resolution = 'done';

SELECT is((SELECT count(*) FROM careflags.medication WHERE source_key LIKE 'MedicationRequest/b1100000-%' AND status = 'active' AND NOT as_needed),
          11::bigint, '11 MedicationRequests are 11 active regular medicines');
CREATE TEMP TABLE poly_flag AS SELECT flag_id FROM poly WHERE resolved_at IS NULL;
SELECT is((SELECT count(*) FROM poly_flag), 1::bigint, 'one open excessive polypharmacy flag');
SELECT careflags.acknowledge((SELECT flag_id FROM poly_flag), 'seen') \g /dev/null

-- the record system stops the earliest request: status -> stopped, no end date
UPDATE public."MedicationRequest"
   SET content = jsonb_set(content::jsonb, '{status}', '"stopped"')::text
 WHERE id = 'b1100000-0000-4000-8000-0000000000b1';
SELECT is((SELECT status::text FROM careflags.medication WHERE source_key = 'MedicationRequest/b1100000-0000-4000-8000-0000000000b1'),
          'stopped', 'the request''s status reaches careflags: stopped (10 active left)');
SELECT results_eq($$SELECT flag_id, resolved_at IS NULL, acknowledged_at IS NOT NULL FROM poly ORDER BY flag_id$$,
                  $$SELECT flag_id, true, true FROM poly_flag$$,
                  'the same flag row, still open, the acknowledgement kept (no new flag)');
SELECT is_empty($$SELECT flag_id, rule_id FROM done_flags$$, 'nothing resolved as done: no review exists');

-- a medication review, as a Procedure
INSERT INTO public."Procedure" (id, content) VALUES ('b1100000-0000-4000-8000-0000000000c1',
    '{"resourceType": "Procedure", "id": "b1100000-0000-4000-8000-0000000000c1", "status": "completed",
      "code": {"coding": [{"system": "http://snomed.info/sct", "code": "182836005", "display": "Review of medication"}]},
      "subject": {"reference": "Patient/b1100000-0000-4000-8000-0000000000a1"}, "performedDateTime": "2021-05-25T10:00:00+02:00"}');
SELECT is((SELECT resolution::text FROM poly WHERE flag_id = (SELECT flag_id FROM poly_flag)), 'done',
          'the review resolves the flag as done');
SELECT is((SELECT row(action_table, action_id, action_at)::text FROM poly WHERE flag_id = (SELECT flag_id FROM poly_flag)),
          (SELECT row('medication_review', review_id, reviewed_at)::text FROM careflags.medication_review
            WHERE source_key = 'Procedure/b1100000-0000-4000-8000-0000000000c1'),
          'and names the review (Procedure/...c1) and its time');
SELECT is_empty($$SELECT flag_id FROM poly WHERE resolved_at IS NULL$$, 'no polypharmacy flag is open');

SELECT * FROM finish();
ROLLBACK;
