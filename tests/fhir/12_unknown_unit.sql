-- careflags_fhir: an episode in a unit the site has not registered in
-- careflags.unit is quarantined with the reason, and mapped once the unit is
-- registered and remap() runs (plugins/fhir/README.md, Getting started).
\c careflags_fhir_test
\set QUIET 1

BEGIN;
SET LOCAL client_min_messages = error;
SELECT plan(6);
SELECT lives_ok($$SELECT careflags_fhir.setup('tables', 'public')$$, 'setup: per-type tables');
-- a setting_map row naming a unit that is not registered
INSERT INTO careflags_fhir.setting_map (match_kind, system, code, setting, unit_id)
VALUES ('type', 'urn:example:careflags-test:episode-type', 'nh-new', 'nursing_home_long_term', 'nh-unregistered');
SET careflags.frozen_now = '2021-06-01 12:00+00';
INSERT INTO public."Patient" (id, content) VALUES ('b1200000-0000-4000-8000-0000000000a1',
    '{"resourceType": "Patient", "id": "b1200000-0000-4000-8000-0000000000a1", "gender": "male", "birthDate": "1932-03-01"}');
INSERT INTO public."EpisodeOfCare" (id, content) VALUES ('b1200000-0000-4000-8000-0000000000e1',
    '{"resourceType": "EpisodeOfCare", "id": "b1200000-0000-4000-8000-0000000000e1", "status": "active",
      "type": [{"coding": [{"system": "urn:example:careflags-test:episode-type", "code": "nh-new"}]}],
      "patient": {"reference": "Patient/b1200000-0000-4000-8000-0000000000a1"}, "period": {"start": "2021-05-01"}}');

SELECT results_eq($$SELECT outcome, reason FROM careflags_fhir.resource_map WHERE resource_id = 'b1200000-0000-4000-8000-0000000000e1'$$,
                  $$VALUES ('quarantined'::text, 'unit "nh-unregistered" is not in careflags.unit (its flags would appear on no worklist)'::text)$$,
                  'an episode in an unregistered unit is quarantined, with the reason in resource_map');
SELECT is((SELECT count(*) FROM careflags.episode WHERE source_key = 'EpisodeOfCare/b1200000-0000-4000-8000-0000000000e1'), 0::bigint,
          'no careflags episode, so no flags');

INSERT INTO careflags.unit (unit_id, name, setting) VALUES ('nh-unregistered', 'Newly registered unit', 'nursing_home_long_term');
SELECT lives_ok($$SELECT careflags_fhir.remap('EpisodeOfCare')$$, 'the site registers the unit and calls remap(''EpisodeOfCare'')');
SELECT is((SELECT outcome FROM careflags_fhir.resource_map WHERE resource_id = 'b1200000-0000-4000-8000-0000000000e1'), 'mapped',
          'the episode is mapped now');
SELECT ok(EXISTS (SELECT FROM careflags.flag AS f JOIN careflags.episode AS e USING (patient_id)
                  WHERE e.source_key = 'EpisodeOfCare/b1200000-0000-4000-8000-0000000000e1' AND e.unit_id = 'nh-unregistered'
                    AND f.resolved_at IS NULL),
          'in its unit, with open flags');

SELECT * FROM finish();
ROLLBACK;
