-- tests/core/60_indicators.sql - the quality indicators on a hand-built population.
--
-- Period end 2023-12-31 in Europe/Oslo: the period is [2023-01-01 00:00,
-- 2024-01-01 00:00) Oslo time = [2022-12-31 23:00, 2023-12-31 23:00) UTC.
-- Every expected figure below is worked out from the patients, one by one.
BEGIN;
SELECT plan(31);

SET LOCAL careflags.timezone = 'Europe/Oslo';
-- Exact arithmetic on a hand-built population of a few patients: the
-- small-cell rule is off here (k = 1) and tested in 61_disclosure.sql.
SET LOCAL careflags.min_cell_size = 1;
SET LOCAL TimeZone = 'UTC';

INSERT INTO careflags.unit (unit_id, name, setting) VALUES
    ('W1', 'Ward 1', 'nursing_home_long_term'), ('W2', 'Ward 2', 'nursing_home_long_term'),
    ('H1', 'Home nursing north', 'home_nursing'), ('S1', 'Short-term ward', 'nursing_home_short_term');

-- Patient ids 9001..9015 stand for p1..p15 of the comments.
INSERT INTO careflags.patient (patient_id, display_name, birth_date, deceased, deceased_at) VALUES
    (9001, 'p1',  '1940-05-05', false, NULL),
    (9002, 'p2',  '1950-01-01', false, NULL),
    (9003, 'p3',  '1956-12-31', false, NULL),   -- turns 67 on the period end: in
    (9004, 'p4',  '1957-01-01', false, NULL),   -- turns 67 the day after: out
    (9005, 'p5',  NULL,         false, NULL),   -- no birth date: not recorded
    (9006, 'p6',  '1940-01-01', false, NULL),
    (9007, 'p7',  '1940-01-01', false, NULL),
    (9008, 'p8',  '1940-01-01', false, NULL),
    (9009, 'p9',  '1940-01-01', false, NULL),
    (9010, 'p10', '1940-01-01', false, NULL),
    (9011, 'p11', '1940-01-01', true, '2023-12-01 12:00+00'),
    (9012, 'p12', '1940-01-01', false, NULL),
    (9013, 'p13', '1940-01-01', false, NULL),
    (9014, 'p14', '1940-01-01', false, NULL);

INSERT INTO careflags.episode (patient_id, setting, unit_id, started_at, ended_at) VALUES
    (9001, 'nursing_home_long_term', 'W1', '2020-01-01', NULL),
    (9002, 'nursing_home_long_term', 'W2', '2021-01-01', NULL),
    (9003, 'nursing_home_long_term', 'W1', '2021-01-01', NULL),
    (9004, 'nursing_home_long_term', 'W1', '2021-01-01', NULL),
    (9005, 'nursing_home_long_term', 'W1', '2021-01-01', NULL),
    (9006, 'nursing_home_long_term', 'W1', '2021-01-01', NULL),
    (9007, 'nursing_home_long_term', 'W1', '2021-01-01', NULL),
    (9008, 'home_nursing', 'H1', '2023-10-01', NULL),                       -- starts within the period
    (9009, 'nursing_home_long_term', 'W1', '2021-01-01', '2023-11-30 12:00+00'), -- ends within it: out
    (9010, 'nursing_home_long_term', 'W1', '2024-01-01 10:00+00', NULL),    -- starts after it: out
    (9011, 'nursing_home_long_term', 'W1', '2021-01-01', NULL),             -- died 1 Dec: out at year end
    (9012, 'nursing_home_long_term', 'W1', '2021-01-01', NULL),
    (9013, 'home_nursing', 'H1', '2019-01-01', NULL),                       -- paused by the later stay
    (9013, 'nursing_home_short_term', 'S1', '2023-12-20', NULL),            -- current setting (§7.14)
    (9014, 'nursing_home_long_term', 'W1', '2021-01-01', NULL);

INSERT INTO careflags.assessment (patient_id, instrument, assessed_at, total, at_risk) VALUES
    (9001, 'mst', '2023-03-01 10:00+00', 3, true),
    (9003, 'mst', '2022-12-15 10:00+00', 0, false),             -- before the period
    (9007, 'mst', '2023-12-31 22:30+00', 0, false),             -- 23:30 Oslo on the last day: in
    (9008, 'mst', '2023-10-05 10:00+00', 2, true),
    (9009, 'mst', '2023-06-01 10:00+00', 0, false),
    (9012, 'nutrition_unspecified', '2023-05-01 10:00+00', NULL, NULL),  -- screened, no result
    (9013, 'mst', '2023-08-01 10:00+00', 2, true),
    (9014, 'mst', '2023-02-01 10:00+00', 3, true),
    (9001, 'morse', '2023-06-01 10:00+00', 50, true),
    (9007, 'morse', '2023-07-01 10:00+00', 10, false),
    (9008, 'fall_risk_unspecified', '2023-11-01 10:00+00', NULL, NULL),
    (9013, 'stratify', '2023-09-01 10:00+00', 3, true),
    (9003, 'morse', '2022-12-31 23:30+00', 0, false),           -- 00:30 Oslo on 1 Jan: in
    (9014, 'morse', '2022-12-31 22:59+00', 0, false);           -- 23:59 Oslo on 31 Dec 2022: out

INSERT INTO careflags.care_plan (patient_id, kind, started_at, ended_at) VALUES
    (9001, 'nutrition', '2023-03-05', NULL),
    (9013, 'nutrition', '2023-01-01', '2023-07-01'),            -- ended before the risk was found
    (9001, 'fall_prevention', '2023-06-03', '2023-08-01');      -- in force after the high score

INSERT INTO careflags.medication_review (patient_id, reviewed_at) VALUES
    (9001, '2023-04-01'), (9002, '2022-11-01'), (9006, '2023-09-01');

INSERT INTO careflags.exemption (patient_id, scope, reason, valid_from, valid_until) VALUES
    (9006, 'nutrition', 'end of life', '2023-06-01', NULL),
    (9007, '*', 'expired', '2023-01-01', '2023-06-30'),
    (9014, 'nutrition.plan', 'declines a plan', '2023-02-02', NULL),
    (9012, 'medication_review', 'reviewed at hospital', '2023-01-01', NULL),
    (9002, 'fall_risk', 'bedridden', '2023-12-31 12:00+00', NULL);


-- 1. Nutrition screening, all settings.  Population: p1 p2 p3 p5 p6 p7 p8 p12
-- p13 p14 (p4 is 66, p9 left, p10 came later, p11 died).  not relevant: p6;
-- not recorded: p5; assessed: p1 p7 p8 p12 p13 p14; not assessed: p2 p3.
SELECT results_eq(
    $$SELECT numerator, denominator, share, assessed, not_assessed, not_relevant, not_recorded, population
      FROM careflags.indicator_nutrition_screening('2023-12-31')$$,
    $$VALUES (6::bigint, 9::bigint, 66.7::numeric, 6::bigint, 2::bigint, 1::bigint, 1::bigint, 10::bigint)$$,
    'nutrition screening: 6 of 9, with 1 not relevant and 1 not recorded');
SELECT results_eq(
    $$SELECT numerator, denominator, share FROM careflags.indicator('nutrition_screening', '2023-12-31')$$,
    $$VALUES (6::bigint, 9::bigint, 66.7::numeric)$$,
    'the generic indicator() gives the same');
SELECT results_eq(
    $$SELECT patient_id, category FROM careflags.indicator_patients('nutrition_screening', '2023-12-31', 67, NULL, NULL) ORDER BY 1$$,
    $$VALUES (9001::bigint, 'assessed'), (9002, 'not_assessed'), (9003, 'not_assessed'), (9005, 'not_recorded'),
             (9006, 'not_relevant'), (9007, 'assessed'), (9008, 'assessed'), (9012, 'assessed'),
             (9013, 'assessed'), (9014, 'assessed')$$,
    'nutrition screening: each patient in the right category');

-- By setting: long-term p1 p2 p3 p5 p6 p7 p12 p14; short-term p13 (its later
-- episode); home nursing p8.
SELECT results_eq(
    $$SELECT numerator, denominator, share, not_relevant, not_recorded, population
      FROM careflags.indicator_nutrition_screening('2023-12-31', 67, 'nursing_home_long_term')$$,
    $$VALUES (4::bigint, 7::bigint, 57.1::numeric, 1::bigint, 1::bigint, 8::bigint)$$,
    'nutrition screening, long-term residents: 4 of 7');
SELECT results_eq(
    $$SELECT numerator, denominator FROM careflags.indicator_nutrition_screening('2023-12-31', 67, 'nursing_home_short_term')$$,
    $$VALUES (1::bigint, 1::bigint)$$,
    'overlapping episodes: the later short-term stay is the current setting');
SELECT results_eq(
    $$SELECT numerator, denominator FROM careflags.indicator_nutrition_screening('2023-12-31', 67, 'home_nursing')$$,
    $$VALUES (1::bigint, 1::bigint)$$,
    'home nursing: only p8, whose episode started within the period');
-- A lower minimum age lets p4 in (66 at the period end, never screened).
SELECT results_eq(
    $$SELECT denominator, not_assessed FROM careflags.indicator_nutrition_screening('2023-12-31', 66)$$,
    $$VALUES (10::bigint, 3::bigint)$$,
    'min_age 66 counts p4 too');

-- By unit: W1 has p1 p3 p5 p6 p7 p12 p14; W2 has p2.
SELECT results_eq(
    $$SELECT unit_id, unit_name, numerator, denominator, share, population
      FROM careflags.indicator_by_unit('nutrition_screening', '2023-12-31', 67, 'nursing_home_long_term')$$,
    $$VALUES ('W1', 'Ward 1', 4::bigint, 6::bigint, 66.7::numeric, 7::bigint),
             ('W2', 'Ward 2', 0::bigint, 1::bigint, 0.0::numeric, 1::bigint)$$,
    'per-unit comparison');
SELECT results_eq(
    $$SELECT numerator, denominator, population
      FROM careflags.indicator_nutrition_screening('2023-12-31', 67, 'nursing_home_long_term', 'W2')$$,
    $$VALUES (0::bigint, 1::bigint, 1::bigint)$$,
    'one unit');
SELECT results_eq(
    $$SELECT numerator, denominator, share, population
      FROM careflags.indicator_nutrition_screening('2023-12-31', 67, 'gp')$$,
    $$VALUES (0::bigint, 0::bigint, NULL::numeric, 0::bigint)$$,
    'an empty population: zeros and no share');

-- 2. Nutrition plan among those at risk.  Population: at risk p1 p8 p13 p14,
-- and p12 (its only screening has no result).  p14 exempt from plans; p12 not
-- recorded; p1 has a plan; p8 none; p13's plan ended before the risk.
SELECT results_eq(
    $$SELECT numerator, denominator, share, assessed, not_assessed, not_relevant, not_recorded, population
      FROM careflags.indicator_nutrition_plan('2023-12-31')$$,
    $$VALUES (1::bigint, 4::bigint, 25.0::numeric, 1::bigint, 2::bigint, 1::bigint, 1::bigint, 5::bigint)$$,
    'nutrition plan: 1 of 4 at risk');
SELECT results_eq(
    $$SELECT patient_id, category FROM careflags.indicator_patients('nutrition_plan', '2023-12-31', 67, NULL, NULL) ORDER BY 1$$,
    $$VALUES (9001::bigint, 'assessed'), (9008, 'not_assessed'), (9012, 'not_recorded'),
             (9013, 'not_assessed'), (9014, 'not_relevant')$$,
    'nutrition plan: each patient in the right category');

-- 3. Medication review, long-term residents by default: p1 p2 p3 p5 p6 p7
-- p12 p14.  p12 exempt; p5 not recorded; reviewed p1 p6 (p2's is too old).
SELECT results_eq(
    $$SELECT setting::text, numerator, denominator, share, assessed, not_assessed, not_relevant, not_recorded, population
      FROM careflags.indicator_medication_review('2023-12-31')$$,
    $$VALUES ('nursing_home_long_term', 2::bigint, 7::bigint, 28.6::numeric, 2::bigint, 4::bigint, 1::bigint, 1::bigint, 8::bigint)$$,
    'medication review: 2 of 7 long-term residents');
SELECT results_eq(
    $$SELECT numerator, denominator FROM careflags.indicator('medication_review', '2023-12-31')$$,
    $$VALUES (2::bigint, 7::bigint)$$,
    'indicator(''medication_review'') defaults to long-term residents too');

-- 4a. Fall-risk assessment, all settings: the 10 of indicator 1.  p2 exempt
-- from 12:00 UTC on the last day; p5 not recorded; assessed p1 p3 (00:30 Oslo
-- on 1 Jan) p7 p8 (no result still counts) p13; p14's is a minute too early.
SELECT results_eq(
    $$SELECT numerator, denominator, share, assessed, not_assessed, not_relevant, not_recorded, population
      FROM careflags.indicator_fall_risk_assessment('2023-12-31')$$,
    $$VALUES (5::bigint, 9::bigint, 55.6::numeric, 5::bigint, 3::bigint, 1::bigint, 1::bigint, 10::bigint)$$,
    'fall-risk assessment: 5 of 9');
SELECT results_eq(
    $$SELECT patient_id, category FROM careflags.indicator_patients('fall_risk_assessment', '2023-12-31', 67, NULL, NULL)
      WHERE patient_id IN (9002, 9003, 9014) ORDER BY 1$$,
    $$VALUES (9002::bigint, 'not_relevant'), (9003, 'assessed'), (9014, 'not_assessed')$$,
    'the period''s edges are midnights in careflags.timezone; an exemption valid at the end counts');

-- 4b. Fall-prevention plan among those at high risk: p1 (plan in force after
-- the score), p13 (none), p8 (no result: not recorded).
SELECT results_eq(
    $$SELECT numerator, denominator, share, assessed, not_assessed, not_relevant, not_recorded, population
      FROM careflags.indicator_fall_risk_plan('2023-12-31')$$,
    $$VALUES (1::bigint, 3::bigint, 33.3::numeric, 1::bigint, 1::bigint, 0::bigint, 1::bigint, 3::bigint)$$,
    'fall-prevention plan: 1 of 3');

-- All five at once, in report order.
SELECT results_eq(
    $$SELECT indicator, numerator, denominator FROM careflags.indicators('2023-12-31')$$,
    $$VALUES ('nutrition_screening', 6::bigint, 9::bigint), ('nutrition_plan', 1, 4), ('medication_review', 2, 7),
             ('fall_risk_assessment', 5, 9), ('fall_risk_plan', 1, 3)$$,
    'indicators() returns the five in order');

-- Monthly series.  At 2023-11-30: p3 is 66 (out), p11 is alive (in, not
-- screened), p7's screening has not happened, p13 is still in home nursing:
-- population p1 p2 p5 p6 p7 p8 p11 p12 p13 p14; assessed p1 p8 p12 p13 p14.
SELECT results_eq(
    $$SELECT period_end, numerator, denominator, share, population
      FROM careflags.indicator_series('nutrition_screening', '2023-12-31', 2)$$,
    $$VALUES ('2023-11-30'::date, 5::bigint, 9::bigint, 55.6::numeric, 10::bigint),
             ('2023-12-31'::date, 6::bigint, 9::bigint, 66.7::numeric, 10::bigint)$$,
    'monthly series: month ends, oldest first');
SELECT results_eq(
    $$SELECT period_end FROM careflags.indicator_series('nutrition_screening', '2024-03-15', 3)$$,
    $$VALUES ('2023-12-31'::date), ('2024-01-31'::date), ('2024-02-29'::date)$$,
    'a mid-month period end: taken to the month end before it; month ends only');
SELECT is((SELECT count(*) FROM careflags.indicator_series('fall_risk_plan', '2023-12-31')), 12::bigint,
          'the series has 12 points by default');
SELECT throws_ok($$SELECT * FROM careflags.indicator_series('nutrition_screening', '2023-12-31', 0)$$,
                 '22023', NULL, 'months must be positive');
SELECT throws_ok($$SELECT * FROM careflags.indicator('nutrition', '2023-12-31')$$,
                 '22023', NULL, 'an unknown indicator is refused with its list');

-- Response times: three flags of p1 done in the period (0, 2 and 10 days
-- after due; one by its deadline), one cleared, one done the year before.
-- The flags the population's own facts resolved (their actions dated in
-- 2023) are set aside so that the hand-built ones are counted alone.
DELETE FROM careflags.flag WHERE resolution = 'done';
INSERT INTO careflags.flag (patient_id, flag_id, rule_id, domain, unit_id, setting, severity, raised_at,
                            due_from, due_at, due_soon_window, reason, resolved_at, resolution)
VALUES
 (9001, 990001, 'nutrition.screening.repeat', 'nutrition', 'W1', 'nursing_home_long_term', 2, '2023-02-01',
  '2023-03-01', '2023-03-01', '7 days', 'test', '2023-03-03', 'done'),
 (9001, 990002, 'nutrition.screening.repeat', 'nutrition', 'W1', 'nursing_home_long_term', 2, '2023-04-01',
  '2023-05-01', '2023-05-01', '7 days', 'test', '2023-05-11', 'done'),
 (9001, 990003, 'nutrition.screening.repeat', 'nutrition', 'W1', 'nursing_home_long_term', 2, '2023-03-20',
  '2023-04-05', '2023-04-05', '7 days', 'test', '2023-04-01', 'done'),
 (9001, 990004, 'nutrition.screening.repeat', 'nutrition', 'W1', 'nursing_home_long_term', 2, '2023-06-01',
  '2023-07-01', '2023-07-01', '7 days', 'test', '2023-07-20', 'cleared'),
 (9001, 990005, 'nutrition.screening.repeat', 'nutrition', 'W1', 'nursing_home_long_term', 2, '2022-06-01',
  '2022-07-01', '2022-07-01', '7 days', 'test', '2022-07-20', 'done');
SELECT results_eq(
    $$SELECT domain::text, rule_id, resolved, median_days, p90_days, on_time_share
      FROM careflags.flag_response_times('2023-12-31') ORDER BY domain NULLS LAST, rule_id NULLS FIRST$$,
    $$VALUES ('nutrition', NULL, 3::bigint, 2.0::numeric, 8.4::numeric, 33.3::numeric),
             ('nutrition', 'nutrition.screening.repeat', 3, 2.0, 8.4, 33.3),
             (NULL, NULL, 3, 2.0, 8.4, 33.3)$$,
    'response times: median 2 days, 90th percentile 8.4 days, one in three on time');
SELECT is((SELECT resolved FROM careflags.flag_response_times('2023-12-31', 67, NULL, 'W2') WHERE domain IS NULL),
          0::bigint, 'response times of another unit: none');

-- Who may call what.
SELECT ok(has_function_privilege('careflags_quality', 'careflags.indicators(date, integer, careflags.care_setting, text)', 'EXECUTE'),
          'careflags_quality may run the indicators');
SELECT ok(NOT has_function_privilege('careflags_quality',
          'careflags.indicator_patients(text, date, integer, careflags.care_setting, text)', 'EXECUTE'),
          'careflags_quality may not list patients per category');
SELECT ok(NOT has_function_privilege('careflags_nurse', 'careflags.indicators(date, integer, careflags.care_setting, text)', 'EXECUTE'),
          'careflags_nurse may not run the indicators');
SET LOCAL ROLE careflags_quality;
SELECT results_eq(
    $$SELECT numerator, denominator FROM careflags.indicator_nutrition_plan('2023-12-31')$$,
    $$VALUES (1::bigint, 4::bigint)$$,
    'careflags_quality gets the indicators without reading careflags.patient');
SELECT throws_ok($$SELECT birth_date FROM careflags.patient$$, '42501', NULL,
                 '... which it cannot read itself');
RESET ROLE;
SELECT is((SELECT count(*) FROM pg_catalog.pg_proc p
           WHERE p.pronamespace = 'careflags'::regnamespace AND p.prosecdef
             AND (p.proname LIKE 'indicator%' OR p.proname IN ('flag_response_times', 'extract', 'rotate_pseudonym_key', 'pseudonym_key_info'))
             AND NOT coalesce(p.proconfig, '{}') @> ARRAY['search_path=pg_catalog, pg_temp']),
          0::bigint, 'every SECURITY DEFINER report function pins search_path = pg_catalog, pg_temp');
SELECT * FROM finish();
ROLLBACK;
