-- tests/gnumed/80_mapping_lifecycle.sql - the site's mapping outlives the
-- plugin: DROP EXTENSION careflags_gnumed and CREATE again keep the mapping,
-- the flags' ids and their acknowledgements; careflags_admin and gm-dbo edit
-- the mapping; the default patterns know the usual Norwegian names of
-- nutrition and fall-prevention plans (issue 17, problem 3).
\set gm_status `cat "$PGHOST/careflags_gnumed.status" 2>/dev/null || echo 'not prepared: tests/gnumed/setup.sh did not run'`
SELECT :'gm_status' = 'ready' AS gm_ready \gset
\if :gm_ready
\c gnumed_v22
SET default_transaction_read_only = off;
SET client_min_messages = warning;
BEGIN;
SELECT plan(16);
\ir fixture.psql
RESET ROLE;

-- A second ward of the nursing home is short-term: the site maps it by pk.
SET LOCAL ROLE "any-doc";
INSERT INTO dem.org_unit (description, fk_org) VALUES ('Korttid', (SELECT fk_org FROM dem.org_unit WHERE pk = :unit))
RETURNING pk AS short_unit \gset
RESET ROLE;

-- careflags_admin (a careflags administrator without superuser) edits the mapping
CREATE ROLE cf_test_admin IN ROLE careflags_admin;
SET LOCAL ROLE cf_test_admin;
SELECT lives_ok(format($$INSERT INTO careflags_gnumed.setting_map (fk_org_unit, setting, unit_id, comment)
                         VALUES (%s, 'nursing_home_short_term', 'solbakken-korttid', 'short-term ward')$$, :short_unit),
                'careflags_admin adds a unit to the mapping');
SELECT lives_ok($$UPDATE careflags_gnumed.setting_map SET comment = 'Korttid: short-term ward' WHERE unit_id = 'solbakken-korttid'$$,
                'and edits it');
SELECT lives_ok($$INSERT INTO careflags_gnumed.substance_atc (substance_pattern, atc) VALUES ('amitriptyline', 'N06AA09')$$,
                'and maps a substance''s ATC');
RESET ROLE;
SET LOCAL ROLE "gm-dbo";
SELECT lives_ok($$INSERT INTO careflags_gnumed.procedure_map (pattern, fact, plan_kind, priority, comment)
                  VALUES ('\mbehandlingsplan ernæring\M', 'care_plan', 'nutrition', 15, 'our own form')$$,
                'GNUmed''s database owner gm-dbo edits the mapping too');
RESET ROLE;
SET LOCAL ROLE "any-doc";
SELECT throws_ok($$DELETE FROM careflags_gnumed.setting_map$$, '42501', NULL, 'GNUmed''s staff cannot');
RESET ROLE;

-- A resident admitted to the short-term ward: short-term flags, from the site's mapping.
SET LOCAL ROLE "any-doc";
INSERT INTO clin.hospital_stay (fk_encounter, fk_episode, fk_org_unit) VALUES (:enc, :epi, :short_unit) RETURNING pk AS stay2 \gset
UPDATE clin.hospital_stay SET clin_when = now() - interval '3 days', discharge = NULL WHERE pk = :stay2;
UPDATE clin.hospital_stay SET discharge = now() - interval '4 days' WHERE pk = :stay;
RESET ROLE;
SELECT is((SELECT setting::text FROM careflags.episode WHERE source_system = 'gnumed' AND source_key = 'hospital_stay/' || :stay2),
          'nursing_home_short_term', 'the stay on the site-mapped ward is a short-term episode');

-- An acknowledged flag, then the flags as they are.
SELECT careflags.acknowledge(f.flag_id, 'seen at the ward round') FROM careflags.flag f JOIN careflags.patient p USING (patient_id)
 WHERE p.source_system = 'gnumed' AND p.source_key = :'pat' AND f.resolved_at IS NULL
 ORDER BY f.flag_id LIMIT 1;
CREATE TEMP TABLE flags_before AS
SELECT f.flag_id, f.rule_id, f.acknowledged_at, f.acknowledged_by FROM careflags.flag f JOIN careflags.patient p USING (patient_id)
 WHERE p.source_system = 'gnumed' AND f.resolved_at IS NULL;
CREATE TEMP TABLE mapping_before AS
SELECT 'setting_map' AS t, fk_org_unit::text AS k, setting::text AS v FROM careflags_gnumed.setting_map WHERE origin = 'site'
UNION ALL SELECT 'substance_atc', substance_pattern, atc FROM careflags_gnumed.substance_atc
UNION ALL SELECT 'procedure_map', pattern, plan_kind::text FROM careflags_gnumed.procedure_map WHERE origin = 'site';
SELECT ok((SELECT count(*) FROM flags_before WHERE acknowledged_at IS NOT NULL) = 1 AND (SELECT count(*) FROM mapping_before) = 3,
          'before: one acknowledged flag, three site mapping rows');

DROP EXTENSION careflags_gnumed;
SELECT is((SELECT count(*)::int FROM careflags_gnumed.kept_site_data WHERE tbl IN ('setting_map', 'substance_atc', 'procedure_map')), 3,
          'DROP EXTENSION keeps the site''s mapping rows aside');
CREATE EXTENSION careflags_gnumed;
SELECT is((SELECT to_regclass('careflags_gnumed.kept_site_data')::text), NULL, 'CREATE EXTENSION took them back');
SELECT set_eq($$SELECT 'setting_map', fk_org_unit::text, setting::text FROM careflags_gnumed.setting_map WHERE origin = 'site'
               UNION ALL SELECT 'substance_atc', substance_pattern, atc FROM careflags_gnumed.substance_atc
               UNION ALL SELECT 'procedure_map', pattern, plan_kind::text FROM careflags_gnumed.procedure_map WHERE origin = 'site'$$,
              $$SELECT * FROM mapping_before$$,
              'after DROP and CREATE EXTENSION the site''s mapping is the same');
SELECT is((SELECT setting::text FROM careflags.episode WHERE source_system = 'gnumed' AND source_key = 'hospital_stay/' || :stay2),
          'nursing_home_short_term', 'the short-term ward is still short-term');
SELECT set_eq($$SELECT f.flag_id, f.rule_id, f.acknowledged_at, f.acknowledged_by FROM careflags.flag f JOIN careflags.patient p USING (patient_id)
                 WHERE p.source_system = 'gnumed' AND f.resolved_at IS NULL$$,
              $$SELECT * FROM flags_before$$,
              'the same open flags with the same ids, and the acknowledgement kept');

-- Norwegian plan names are care plans.
SELECT set_eq($$SELECT t, (careflags_gnumed.procedure_target(t)).plan_kind::text FROM unnest(ARRAY[
                    'Fallforebyggende tiltaksplan', 'Fallforebyggende tiltak iverksatt', 'Tiltaksplan fall', 'Tiltaksplan: fallforebygging',
                    'Plan for fallforebygging', 'Fallforebyggingsplan', 'Fall prevention plan',
                    'Ernæringsplan', 'Individuell ernæringsplan', 'Ernæringstiltak', 'Tiltaksplan ernæring', 'Plan for ernæring',
                    'Ernaeringsplan', 'Kostplan', 'Nutrition care plan']) t$$,
              $$VALUES ('Fallforebyggende tiltaksplan', 'fall_prevention'), ('Fallforebyggende tiltak iverksatt', 'fall_prevention'),
                       ('Tiltaksplan fall', 'fall_prevention'), ('Tiltaksplan: fallforebygging', 'fall_prevention'),
                       ('Plan for fallforebygging', 'fall_prevention'), ('Fallforebyggingsplan', 'fall_prevention'),
                       ('Fall prevention plan', 'fall_prevention'),
                       ('Ernæringsplan', 'nutrition'), ('Individuell ernæringsplan', 'nutrition'), ('Ernæringstiltak', 'nutrition'),
                       ('Tiltaksplan ernæring', 'nutrition'), ('Plan for ernæring', 'nutrition'), ('Ernaeringsplan', 'nutrition'),
                       ('Kostplan', 'nutrition'), ('Nutrition care plan', 'nutrition')$$,
              'the usual Norwegian (and English) names of fall-prevention and nutrition plans are care plans');
SELECT is((careflags_gnumed.procedure_target('Ernæringsscreening (MST) utført')).fact, 'assessment',
          'a nutrition screening is still an assessment, not a plan');
SELECT is((careflags_gnumed.procedure_target('Pasienten falt på badet')).fact, NULL,
          '(a free-text fall in Norwegian is not recognised by the defaults: "falt" is not in the fall pattern)');

-- A fall-prevention plan written the Norwegian way clears "no plan".
SET LOCAL ROLE "any-doc";
INSERT INTO clin.procedure (fk_encounter, fk_episode, narrative, fk_org_unit)
VALUES (:enc, :epi, 'Fallforebyggende tiltaksplan', :unit) RETURNING pk AS plan \gset
UPDATE clin.procedure SET clin_when = now() - interval '1 day' WHERE pk = :plan;
RESET ROLE;
SELECT is((SELECT kind::text FROM careflags.care_plan WHERE source_system = 'gnumed' AND source_key = 'procedure/' || :plan),
          'fall_prevention', '"Fallforebyggende tiltaksplan" written in GNUmed is a fall-prevention care plan');

SET CONSTRAINTS ALL IMMEDIATE;
SELECT * FROM finish();
ROLLBACK;
\else
-- TAP "skip all": pg_prove reports the file as skipped, with the reason.
\echo 1..0 # SKIP GNUmed database unavailable: :gm_status
\endif
