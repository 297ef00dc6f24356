-- Rules are data: every default rule of clinical-rules.md is a row; sites edit
-- them with UPDATE; edits are remembered for pg_dump and re-applied on
-- restore; disabling a rule resolves its flags; no SQL text anywhere.
BEGIN;
\ir fixtures.psql
SELECT plan(16);
SELECT cft.at('2026-03-10 12:00+01');

SELECT set_eq($$SELECT rule_id FROM careflags.rule WHERE origin = 'default'$$,
    $$VALUES ('nutrition.screening.admission_short_term'), ('nutrition.screening.admission_long_term'),
             ('nutrition.screening.start_of_home_care'), ('nutrition.screening.repeat'),
             ('nutrition.screening.repeat_home_services'), ('nutrition.plan.missing'), ('nutrition.plan.evaluation'),
             ('nutrition.plan.evaluation_short_term'), ('nutrition.plan.evaluation_home_services'),
             ('nutrition.weight_loss'), ('medication_review.admission'), ('medication_review.annual'),
             ('medication_review.polypharmacy'), ('medication_review.fall_risk_drugs'),
             ('medication_review.excessive_polypharmacy'), ('fall_risk.assessment.admission'),
             ('fall_risk.assessment.repeat'), ('fall_risk.assessment.after_fall'), ('fall_risk.high.no_plan')$$,
    'every default rule of the spec is a row (plan evaluation split by setting interval)');
SELECT is_empty($$SELECT column_name FROM information_schema.columns
                   WHERE table_schema = 'careflags' AND table_name = 'rule'
                     AND data_type IN ('text', 'character varying')
                     AND column_name NOT IN ('rule_id', 'title', 'origin', 'description')$$,
    'rules hold no free text the engine would run (no SQL, no expressions)');
SELECT is((SELECT row(due_interval, due_soon_window, threshold)::text FROM careflags.rule WHERE rule_id = 'medication_review.polypharmacy'),
          '("1 year","30 days",4)', 'polypharmacy: 4 medicines, 12 months, 30-day window');

-- a site edits a rule with plain UPDATE
CREATE TEMP TABLE p AS SELECT cft.patient('nursing_home_long_term', '2026-03-05 10:00+01') AS id;
UPDATE careflags.rule SET due_interval = '3 days' WHERE rule_id = 'medication_review.admission';
SELECT is((SELECT rule->>'due_interval' FROM careflags.rule_site_change WHERE rule_id = 'medication_review.admission'),
          '3 days', 'the edit is remembered in careflags.rule_site_change');
SELECT careflags.recompute_patient((SELECT id FROM p));
SELECT is(cft.due((SELECT id FROM p), 'medication_review.admission'), '2026-03-05 10:00:00 .. 2026-03-08 10:00:00',
          're-evaluation uses the edited interval');

-- the evaluator's cached rules follow a rolled-back edit back
SAVEPOINT edit;
UPDATE careflags.rule SET due_interval = '1 day' WHERE rule_id = 'medication_review.admission';
SELECT careflags.recompute_patient((SELECT id FROM p));
SELECT is(cft.due((SELECT id FROM p), 'medication_review.admission'), '2026-03-05 10:00:00 .. 2026-03-06 10:00:00',
          'an edit is used at once');
ROLLBACK TO SAVEPOINT edit;
SELECT careflags.recompute_patient((SELECT id FROM p));
SELECT is(cft.due((SELECT id FROM p), 'medication_review.admission'), '2026-03-05 10:00:00 .. 2026-03-08 10:00:00',
          'and a rolled-back edit is forgotten');

-- what pg_restore does: defaults come back with CREATE EXTENSION, then the saved change is loaded
CREATE TEMP TABLE saved AS SELECT * FROM careflags.rule_site_change;
DELETE FROM careflags.rule_site_change;
UPDATE careflags.rule SET due_interval = '7 days' WHERE rule_id = 'medication_review.admission';
DELETE FROM careflags.rule_site_change;
INSERT INTO careflags.rule_site_change SELECT * FROM saved;
SELECT is((SELECT due_interval FROM careflags.rule WHERE rule_id = 'medication_review.admission'), '3 days'::interval,
          'loading a saved change re-applies it to careflags.rule');

-- a site rule, added with INSERT
INSERT INTO careflags.rule (rule_id, domain, anchor, title, settings, due_interval)
VALUES ('nutrition.screening.admission_day_centre', 'nutrition', 'episode_start', 'Screening at day centre start',
        '{home_services}', '21 days');
SELECT ok(EXISTS (SELECT FROM careflags.rule_site_change WHERE rule_id = 'nutrition.screening.admission_day_centre'),
          'a new site rule is remembered too');
SELECT throws_ok($$DELETE FROM careflags.rule WHERE rule_id = 'nutrition.weight_loss'$$, '0A000', NULL,
                 'a default rule cannot be deleted (disable it instead)');
SELECT throws_ok($$UPDATE careflags.rule SET due_interval = '-1 day' WHERE rule_id = 'nutrition.weight_loss'$$, '23514', NULL,
                 'a negative interval is refused');
SELECT throws_ok($$UPDATE careflags.rule SET settings = '{hospital}' WHERE rule_id = 'nutrition.weight_loss'$$, '22P02', NULL,
                 'an unknown setting is refused');

-- disabling a rule resolves its open flags at the next evaluation
UPDATE careflags.rule SET enabled = false WHERE rule_id = 'fall_risk.assessment.admission';
SELECT careflags.recompute_patient((SELECT id FROM p));
SELECT ok(NOT cft.is_open((SELECT id FROM p), 'fall_risk.assessment.admission'), 'a disabled rule''s flag is resolved');
SELECT is(cft.resolution((SELECT id FROM p), 'fall_risk.assessment.admission'), 'rule_disabled', 'as rule_disabled');

-- the FRID table is data as well
DELETE FROM careflags.frid_atc WHERE atc_prefix = 'N05CF';
CREATE TEMP TABLE f AS SELECT cft.patient('home_nursing', '2025-01-01 10:00+01') AS id;
SELECT cft.medicine((SELECT id FROM f), 'N05CF01', '2025-02-01 10:00+01');
SELECT cft.fall((SELECT id FROM f), '2026-03-01 10:00+01');
SELECT ok(NOT cft.is_open((SELECT id FROM f), 'medication_review.fall_risk_drugs'), 'a site that removes z-drugs from the FRID list gets no flag for them');
INSERT INTO careflags.frid_atc (atc_prefix, description) VALUES ('N05CF', 'z-drugs (site)');
SELECT careflags.recompute_patient((SELECT id FROM f));
SELECT ok(cft.is_open((SELECT id FROM f), 'medication_review.fall_risk_drugs'), 'and gets it back when re-added');

SELECT * FROM finish();
ROLLBACK;
