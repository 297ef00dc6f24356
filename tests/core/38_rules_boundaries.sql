-- The remaining boundary days and resolutions of the default rules: every
-- rule has a case where it fires, one where it does not, its boundary and a
-- later fact that resolves it (with 30-32).
BEGIN;
\ir fixtures.psql
SELECT plan(21);
SELECT cft.at('2026-03-10 12:00+01');

-- nutrition.screening.start_of_home_care: the 14-day deadline
CREATE TEMP TABLE h AS SELECT cft.patient('home_services', '2026-03-01 09:00+01') AS id;
SELECT cft.at('2026-03-15 08:59:59+01');
SELECT is(cft.state((SELECT id FROM h), 'nutrition.screening.start_of_home_care'), 'due', 'home care: due until 14 days after the start');
SELECT cft.at('2026-03-15 09:00+01');
SELECT is(cft.state((SELECT id FROM h), 'nutrition.screening.start_of_home_care'), 'overdue', 'overdue from 14 days after the start');

-- nutrition.screening.repeat_home_services: 6 months, 7-day window
SELECT cft.at('2026-03-15 12:00+01');
SELECT cft.screen((SELECT id FROM h), '2026-03-15 10:00+01', 0);
SELECT ok(NOT cft.is_open((SELECT id FROM h), 'nutrition.screening.start_of_home_care'), 'the screening resolves the start-of-care flag');
SELECT is(cft.due((SELECT id FROM h), 'nutrition.screening.repeat_home_services'),
          '2026-09-15 10:00:00 .. 2026-09-15 10:00:00', 'home services: next screening in 6 months');
SELECT cft.at('2026-09-08 09:59+02');
SELECT is(cft.state((SELECT id FROM h), 'nutrition.screening.repeat_home_services'), 'upcoming', 'upcoming until 7 days before');
SELECT cft.at('2026-09-08 10:00+02');
SELECT is(cft.state((SELECT id FROM h), 'nutrition.screening.repeat_home_services'), 'due_soon', 'due soon 7 days before');
SELECT cft.at('2026-09-15 10:00+02');
SELECT is(cft.state((SELECT id FROM h), 'nutrition.screening.repeat_home_services'), 'overdue', 'overdue at 6 months');
SELECT cft.at('2026-09-15 12:00+02');
SELECT cft.screen((SELECT id FROM h), '2026-09-15 11:00+02', 3);
SELECT ok(NOT cft.is_open((SELECT id FROM h), 'nutrition.screening.repeat_home_services'), 'at risk: no repeat flag');
SELECT is(cft.resolution((SELECT id FROM h), 'nutrition.screening.repeat_home_services'), 'done',
          'resolved as done: the screening it asked for was made (§7.17)');

-- nutrition.plan.evaluation_home_services: 6 months after the plan
SELECT cft.at('2026-09-20 12:00+02');
SELECT cft.plan((SELECT id FROM h), 'nutrition', '2026-09-16 10:00+02');
SELECT is(cft.due((SELECT id FROM h), 'nutrition.plan.evaluation_home_services'),
          '2027-03-16 10:00:00 .. 2027-03-16 10:00:00', 'home services: evaluate the plan within 6 months');
SELECT ok(NOT cft.is_open((SELECT id FROM h), 'nutrition.plan.evaluation'), 'the monthly plan rule does not apply');
UPDATE careflags.care_plan SET last_evaluated_at = '2026-09-20 10:00+02' WHERE patient_id = (SELECT id FROM h);
SELECT is(cft.due((SELECT id FROM h), 'nutrition.plan.evaluation_home_services'),
          '2027-03-20 10:00:00 .. 2027-03-20 10:00:00', 'an evaluation moves it 6 months on');
SELECT is(cft.resolution((SELECT id FROM h), 'nutrition.plan.evaluation_home_services'), 'done', 'the old flag resolved as done');

-- nutrition.plan.evaluation: boundary a month after the plan
SELECT cft.at('2026-03-10 12:00+01');
CREATE TEMP TABLE pl AS SELECT cft.patient('home_nursing', '2026-02-01 10:00+01') AS id;
SELECT cft.plan((SELECT id FROM pl), 'nutrition', '2026-02-10 10:00+01');
SELECT cft.at('2026-03-10 09:59+01');
SELECT is(cft.state((SELECT id FROM pl), 'nutrition.plan.evaluation'), 'due_soon', 'evaluation due soon the day before');
SELECT cft.at('2026-03-10 10:00+01');
SELECT is(cft.state((SELECT id FROM pl), 'nutrition.plan.evaluation'), 'overdue', 'overdue a month after the plan');

-- fall_risk.assessment.admission: the 7-day deadline to the second
SELECT cft.at('2026-03-10 12:00+01');
CREATE TEMP TABLE f AS SELECT cft.patient('nursing_home_short_term', '2026-03-05 12:00+01') AS id;
SELECT cft.at('2026-03-12 11:59:59+01');
SELECT is(cft.state((SELECT id FROM f), 'fall_risk.assessment.admission'), 'due', 'fall-risk assessment due until day 7');
SELECT cft.at('2026-03-12 12:00+01');
SELECT is(cft.state((SELECT id FROM f), 'fall_risk.assessment.admission'), 'overdue', 'overdue at day 7');

-- fall_risk.assessment.repeat: fires 6 months on, not while the admission flag is open, resolved by a new assessment
SELECT cft.at('2026-03-12 15:00+01');
SELECT ok(NOT cft.is_open((SELECT id FROM f), 'fall_risk.assessment.repeat'), 'no repeat flag before a first assessment');
SELECT cft.screen((SELECT id FROM f), '2026-03-12 13:00+01', 1, 'stratify');
SELECT is(cft.due((SELECT id FROM f), 'fall_risk.assessment.repeat'),
          '2026-09-12 13:00:00 .. 2026-09-12 13:00:00', 'repeat due 6 months after the assessment');
SELECT cft.screen((SELECT id FROM f), '2026-03-12 14:00+01', NULL, 'fall_risk_unspecified');
SELECT is(cft.due((SELECT id FROM f), 'fall_risk.assessment.repeat'),
          '2026-09-12 14:00:00 .. 2026-09-12 14:00:00', 'an assessment without a score counts too');
SELECT is(cft.resolution((SELECT id FROM f), 'fall_risk.assessment.repeat'), 'done', 'and resolves the earlier repeat flag as done');

SELECT * FROM finish();
ROLLBACK;
