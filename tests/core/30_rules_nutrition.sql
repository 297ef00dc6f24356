-- Nutrition rules: for each, a case where it fires, one where it does not,
-- the boundary, and a later fact that resolves it (clinical-rules.md §2, §7).
BEGIN;
\ir fixtures.psql
SELECT plan(45);

SELECT cft.at('2026-03-10 12:00+01');

-- nutrition.screening.admission_long_term: within 7 days of the start
CREATE TEMP TABLE p AS SELECT cft.patient('nursing_home_long_term', '2026-03-03 10:00+01') AS id;
SELECT ok(cft.is_open((SELECT id FROM p), 'nutrition.screening.admission_long_term'), 'long-term stay without screening: flag');
SELECT is(cft.due((SELECT id FROM p), 'nutrition.screening.admission_long_term'),
          '2026-03-03 10:00:00 .. 2026-03-10 10:00:00', 'due from admission, deadline 7 days later');
SELECT is(cft.reason((SELECT id FROM p), 'nutrition.screening.admission_long_term'),
          'No nutrition screening since admission on 3 March 2026; due 10 March 2026', 'reason a nurse understands');
SELECT cft.at('2026-03-10 09:59:59+01');
SELECT is(cft.state((SELECT id FROM p), 'nutrition.screening.admission_long_term'), 'due', 'due just before the deadline');
SELECT cft.at('2026-03-10 10:00+01');
SELECT is(cft.state((SELECT id FROM p), 'nutrition.screening.admission_long_term'), 'overdue', 'overdue at the deadline');
SELECT cft.at('2026-03-12 12:00+01');
SELECT cft.screen((SELECT id FROM p), '2026-03-12 11:00+01', 0);
SELECT ok(NOT cft.is_open((SELECT id FROM p), 'nutrition.screening.admission_long_term'), 'a late screening still resolves it');
SELECT is(cft.resolution((SELECT id FROM p), 'nutrition.screening.admission_long_term'), 'done', 'resolved as done');
SELECT cft.at('2026-04-01 12:00+01');
CREATE TEMP TABLE late AS SELECT cft.patient('nursing_home_long_term', '2026-03-03 10:00+01') AS id;
SELECT cft.screen((SELECT id FROM late), '2026-03-08 09:00+01', 0);
SELECT is((SELECT row(action_at, resolved_at)::text FROM careflags.flag WHERE patient_id = (SELECT id FROM p)
            AND rule_id = 'nutrition.screening.admission_long_term'),
          row('2026-03-12 11:00+01'::timestamptz, '2026-03-12 12:00+01'::timestamptz)::text,
          'the action time is the screening''s own time; resolved_at is when careflags learned it');

-- screening before admission does not count; screening on the day does
SELECT cft.at('2026-03-10 12:00+01');
CREATE TEMP TABLE q AS SELECT cft.patient('nursing_home_long_term', '2026-03-03 10:00+01') AS id;
SELECT cft.screen((SELECT id FROM q), '2026-03-01 10:00+01', 0);
SELECT ok(cft.is_open((SELECT id FROM q), 'nutrition.screening.admission_long_term'), 'a screening before admission does not count');
SELECT cft.screen((SELECT id FROM q), '2026-03-03 10:00+01', 0);
SELECT ok(NOT cft.is_open((SELECT id FROM q), 'nutrition.screening.admission_long_term'), 'a screening at the admission time counts');

-- nutrition.screening.admission_short_term: within 1 day
CREATE TEMP TABLE s AS SELECT cft.patient('nursing_home_short_term', '2026-03-10 08:00+01') AS id;
SELECT is(cft.due((SELECT id FROM s), 'nutrition.screening.admission_short_term'),
          '2026-03-10 08:00:00 .. 2026-03-11 08:00:00', 'short-term stay: deadline 1 day after admission');
SELECT ok(NOT cft.is_open((SELECT id FROM s), 'nutrition.screening.admission_long_term'), 'the long-term rule does not apply to a short-term stay');
SELECT cft.at('2026-03-11 07:59+01');
SELECT is(cft.state((SELECT id FROM s), 'nutrition.screening.admission_short_term'), 'due', 'due one minute before the deadline');
SELECT cft.at('2026-03-11 08:00+01');
SELECT is(cft.state((SELECT id FROM s), 'nutrition.screening.admission_short_term'), 'overdue', 'overdue at the deadline');
SELECT cft.screen((SELECT id FROM s), '2026-03-11 08:00+01', 1, 'must');
SELECT ok(NOT cft.is_open((SELECT id FROM s), 'nutrition.screening.admission_short_term'), 'any nutrition instrument counts (MUST)');

-- nutrition.screening.start_of_home_care: within 14 days, home nursing and home services
SELECT cft.at('2026-03-10 12:00+01');
CREATE TEMP TABLE h AS SELECT cft.patient('home_nursing', '2026-03-01 09:00+01') AS id;
CREATE TEMP TABLE hs AS SELECT cft.patient('home_services', '2026-03-01 09:00+01') AS id;
SELECT is(cft.due((SELECT id FROM h), 'nutrition.screening.start_of_home_care'),
          '2026-03-01 09:00:00 .. 2026-03-15 09:00:00', 'home nursing: deadline 14 days after the start');
SELECT ok(cft.is_open((SELECT id FROM hs), 'nutrition.screening.start_of_home_care'), 'home services: same rule');
SELECT is(cft.state((SELECT id FROM h), 'nutrition.screening.start_of_home_care'), 'due', 'due on day 9');
SELECT cft.screen((SELECT id FROM h), '2026-03-09 09:00+01', 14, 'mna_sf');
SELECT ok(NOT cft.is_open((SELECT id FROM h), 'nutrition.screening.start_of_home_care'), 'MNA-SF counts as a screening');
CREATE TEMP TABLE g AS SELECT cft.patient('gp', '2026-03-01 09:00+01') AS id;
SELECT ok(NOT cft.is_open((SELECT id FROM g), 'nutrition.screening.start_of_home_care'), 'a GP patient has no screening rule');

-- nutrition.screening.repeat: monthly after a screening not at risk
CREATE TEMP TABLE r AS SELECT cft.patient('nursing_home_long_term', '2026-01-20 10:00+01') AS id;
SELECT cft.screen((SELECT id FROM r), '2026-01-31 10:00+01', 1);
SELECT is(cft.due((SELECT id FROM r), 'nutrition.screening.repeat'),
          '2026-02-28 10:00:00 .. 2026-02-28 10:00:00', 'calendar month after 31 January is 28 February');
SELECT is(cft.state((SELECT id FROM r), 'nutrition.screening.repeat'), 'overdue', 'overdue on 10 March');
SELECT cft.at('2026-02-21 09:59:59+01');
SELECT is(cft.state((SELECT id FROM r), 'nutrition.screening.repeat'), 'upcoming', 'upcoming before the 7-day window');
SELECT cft.at('2026-02-21 10:00+01');
SELECT is(cft.state((SELECT id FROM r), 'nutrition.screening.repeat'), 'due_soon', 'due soon 7 days before');
SELECT cft.at('2026-03-10 12:00+01');
SELECT cft.screen((SELECT id FROM r), '2026-03-10 11:00+01', 0);
SELECT is(cft.due((SELECT id FROM r), 'nutrition.screening.repeat'),
          '2026-04-10 11:00:00 .. 2026-04-10 11:00:00', 'a new screening moves the repeat flag a month on');
SELECT is(cft.resolution((SELECT id FROM r), 'nutrition.screening.repeat'), 'done', 'the old repeat flag is resolved as done');
SELECT cft.screen((SELECT id FROM r), '2026-03-10 11:30+01', 3);
SELECT ok(NOT cft.is_open((SELECT id FROM r), 'nutrition.screening.repeat'), 'at risk: no repeat screening flag (the plan rules take over)');

-- nutrition.screening.repeat_home_services: every 6 months
CREATE TEMP TABLE r6 AS SELECT cft.patient('home_services', '2025-06-01 10:00+02') AS id;
SELECT cft.screen((SELECT id FROM r6), '2025-06-10 10:00+02', 0);
SELECT is(cft.due((SELECT id FROM r6), 'nutrition.screening.repeat_home_services'),
          '2025-12-10 10:00:00 .. 2025-12-10 10:00:00', 'home services: 6 months after the screening, local time kept');
SELECT ok(NOT cft.is_open((SELECT id FROM r6), 'nutrition.screening.repeat'), 'the monthly rule does not apply to home services');

-- nutrition.plan.missing: at risk needs a plan within 7 days
CREATE TEMP TABLE pm AS SELECT cft.patient('nursing_home_long_term', '2026-03-01 10:00+01') AS id;
SELECT cft.screen((SELECT id FROM pm), '2026-03-02 10:00+01', 1);
SELECT ok(NOT cft.is_open((SELECT id FROM pm), 'nutrition.plan.missing'), 'MST 1 is not at risk: no plan needed');
SELECT cft.screen((SELECT id FROM pm), '2026-03-04 10:00+01', 2);
SELECT is(cft.due((SELECT id FROM pm), 'nutrition.plan.missing'),
          '2026-03-04 10:00:00 .. 2026-03-11 10:00:00', 'MST 2 is at risk: plan due within 7 days');
SELECT alike(cft.reason((SELECT id FROM pm), 'nutrition.plan.missing'), 'At risk of malnutrition (mst 2 on 4 March 2026)%', 'reason names the result');
SELECT cft.plan((SELECT id FROM pm), 'nutrition', '2026-03-06 10:00+01');
SELECT ok(NOT cft.is_open((SELECT id FROM pm), 'nutrition.plan.missing'), 'a nutrition plan resolves it');
SELECT is(cft.resolution((SELECT id FROM pm), 'nutrition.plan.missing'), 'done', 'resolved as done');

-- nutrition.plan.evaluation: monthly (long-term), weekly (short-term)
SELECT is(cft.due((SELECT id FROM pm), 'nutrition.plan.evaluation'),
          '2026-04-06 10:00:00 .. 2026-04-06 10:00:00', 'plan made 6 March: evaluation due 6 April');
UPDATE careflags.care_plan SET last_evaluated_at = '2026-03-09 10:00+01' WHERE patient_id = (SELECT id FROM pm);
SELECT is(cft.due((SELECT id FROM pm), 'nutrition.plan.evaluation'),
          '2026-04-09 10:00:00 .. 2026-04-09 10:00:00', 'an evaluation moves the next one a month on');
SELECT is(cft.resolution((SELECT id FROM pm), 'nutrition.plan.evaluation'), 'done', 'the evaluation resolves the old flag');
CREATE TEMP TABLE pe AS SELECT cft.patient('nursing_home_short_term', '2026-03-05 10:00+01') AS id;
SELECT cft.plan((SELECT id FROM pe), 'nutrition', '2026-03-06 10:00+01');
SELECT is(cft.due((SELECT id FROM pe), 'nutrition.plan.evaluation_short_term'),
          '2026-03-13 10:00:00 .. 2026-03-13 10:00:00', 'short-term stay: weekly evaluation');
SELECT ok(NOT cft.is_open((SELECT id FROM pe), 'nutrition.plan.evaluation'), 'the monthly rule does not apply to a short-term stay');
UPDATE careflags.care_plan SET ended_at = '2026-03-09 10:00+01' WHERE patient_id = (SELECT id FROM pe);
SELECT ok(NOT cft.is_open((SELECT id FROM pe), 'nutrition.plan.evaluation_short_term'), 'an ended plan needs no evaluation');

-- nutrition.weight_loss: > 10 % in 6 months (moderate), boundary at exactly 10 %
CREATE TEMP TABLE w AS SELECT cft.patient('nursing_home_long_term', '2025-09-01 10:00+02', '1960-05-01') AS id;
SELECT cft.weight((SELECT id FROM w), '2025-10-01 10:00+02', 70);
SELECT cft.weight((SELECT id FROM w), '2026-03-01 10:00+01', 63);
SELECT ok(NOT cft.is_open((SELECT id FROM w), 'nutrition.weight_loss'), 'exactly 10 % in 5 months: no flag');
SELECT cft.weight((SELECT id FROM w), '2026-03-08 10:00+01', 62.9);
SELECT is(cft.reason((SELECT id FROM w), 'nutrition.weight_loss'),
          'Signs of moderate malnutrition: weight 62.9 kg, 10.1 % below 70.0 kg on 1 October 2025 (over 10 % in 6 months)',
          '10.1 % in 6 months: moderate, with the figures');
SELECT is(cft.due((SELECT id FROM w), 'nutrition.weight_loss'),
          '2026-03-08 10:00:00 .. 2026-03-15 10:00:00', 'due from the weight, deadline 7 days later');
SELECT cft.weight((SELECT id FROM w), '2026-03-09 10:00+01', 68);
SELECT ok(NOT cft.is_open((SELECT id FROM w), 'nutrition.weight_loss'), 'a later weight without the loss clears it');
SELECT is(cft.resolution((SELECT id FROM w), 'nutrition.weight_loss'), 'cleared', 'resolved as cleared');

SELECT * FROM finish();
ROLLBACK;
