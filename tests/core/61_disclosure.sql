-- tests/core/61_disclosure.sql - what the quality role can learn, alone or by
-- combining calls: nothing finer than a month, no cell or class below k.
--
-- The attacks of issue 13, run as careflags_quality, now fail:
--  * a daily sweep of extract() over a year gave each pseudonym's admission
--    day (the day it first appears) and birthday (the day its age band
--    changes);
--  * indicator_by_unit() returned cells of one, and a unit's figures could be
--    had by difference (all units minus the others);
--  * extract() rows fell in (unit, sex, age band) classes of one.
-- And: a month not over yet, steps shorter than a month and other age limits
-- are refused; every extract is logged.
--
-- Population (period end 2023-12-31, all long-term residents):
--   KA  10 patients admitted on mid-month days of 2023 who turn 80 on
--       mid-month days of 2023 (5 women, 5 men); 5 screened, 5 not
--   KB   6 women of 93, screened
--   KC   1 man of 73, screened: the cell of one
--   one fall-risk assessment, of a KA patient: a category of one in KA
BEGIN;
SELECT plan(29);
SET LOCAL client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgcrypto;   -- to compute the pseudonyms an attacker would link
SET LOCAL careflags.timezone = 'Europe/Oslo';
SET LOCAL TimeZone = 'UTC';
RESET careflags.min_cell_size;

INSERT INTO careflags.unit (unit_id, name, setting) VALUES
    ('KA', 'Ward KA', 'nursing_home_long_term'), ('KB', 'Ward KB', 'nursing_home_long_term'),
    ('KC', 'Ward KC', 'nursing_home_long_term');
CREATE TEMP TABLE truth (patient_id bigint, unit text, sex careflags.sex, born date, admitted date, screened boolean);
INSERT INTO truth VALUES
    (9501, 'KA', 'female', '1943-02-11', '2023-01-12', true),
    (9502, 'KA', 'female', '1943-04-23', '2023-02-15', true),
    (9503, 'KA', 'female', '1943-06-14', '2023-03-08', true),
    (9504, 'KA', 'female', '1943-08-19', '2023-04-20', true),
    (9505, 'KA', 'female', '1943-10-07', '2023-05-11', true),
    (9506, 'KA', 'male',   '1943-03-09', '2023-01-25', false),
    (9507, 'KA', 'male',   '1943-05-26', '2023-02-07', false),
    (9508, 'KA', 'male',   '1943-07-13', '2023-03-21', false),
    (9509, 'KA', 'male',   '1943-09-22', '2023-04-04', false),
    (9510, 'KA', 'male',   '1943-11-16', '2023-05-17', false),
    (9511, 'KB', 'female', '1930-01-01', '2020-01-01', true),
    (9512, 'KB', 'female', '1930-01-01', '2020-01-01', true),
    (9513, 'KB', 'female', '1930-01-01', '2020-01-01', true),
    (9514, 'KB', 'female', '1930-01-01', '2020-01-01', true),
    (9515, 'KB', 'female', '1930-01-01', '2020-01-01', true),
    (9516, 'KB', 'female', '1930-01-01', '2020-01-01', true),
    (9517, 'KC', 'male',   '1950-06-15', '2020-01-01', true);
INSERT INTO careflags.patient (patient_id, source_system, source_key, display_name, birth_date, sex)
SELECT patient_id, 'disclosure', 'k' || patient_id, 'Patient ' || patient_id, born, sex FROM truth;
INSERT INTO careflags.episode (patient_id, setting, unit_id, started_at)
SELECT patient_id, 'nursing_home_long_term', unit, admitted + time '10:00' FROM truth;
INSERT INTO careflags.assessment (patient_id, instrument, assessed_at, total, at_risk)
SELECT patient_id, 'mst', '2023-06-01 10:00+00', 0, false FROM truth WHERE screened;
INSERT INTO careflags.assessment (patient_id, instrument, assessed_at, total, at_risk)
VALUES (9501, 'morse', '2023-07-01 10:00+00', 10, false);

SELECT is(careflags.min_cell_size(), 5, 'k is 5 by default (careflags.min_cell_size)');

-- ---- indicators: no cell of one, not even by difference ----
SET LOCAL ROLE careflags_quality;
SELECT throws_ok($$SET careflags.min_cell_size = 1$$, '42501', NULL, 'careflags_quality cannot lower k');
CREATE TEMP TABLE by_unit AS
SELECT * FROM careflags.indicator_by_unit('nutrition_screening', '2023-12-31');
SELECT is((SELECT count(*) FROM by_unit
           WHERE population BETWEEN 1 AND 4 OR numerator BETWEEN 1 AND 4 OR denominator BETWEEN 1 AND 4
              OR not_assessed BETWEEN 1 AND 4 OR not_relevant BETWEEN 1 AND 4 OR not_recorded BETWEEN 1 AND 4),
          0::bigint, 'indicator_by_unit publishes no count from 1 to 4 (the issue: cells of one)');
SELECT is((SELECT count(*) FROM by_unit WHERE unit_id = 'KC'), 0::bigint, 'the unit of one has no row of its own');
SELECT results_eq($$SELECT unit_id, units, numerator, denominator, population, disclosure IS NULL FROM by_unit ORDER BY unit_id NULLS LAST$$,
                  $$VALUES ('KA'::text, NULL::text[], 5::bigint, 10::bigint, 10::bigint, true),
                           (NULL, '{KB,KC}', 7, 7, 7, false)$$,
                  'KC is merged with the smallest other unit, KB, in one marked row; KA is published as counted');
SELECT alike((SELECT unit_name || ' / ' || disclosure FROM by_unit WHERE unit_id IS NULL),
            'units counted together: KB, KC / merged: units with fewer than 5 patients%', 'the merged row says so');
SELECT results_eq($$SELECT numerator, population, disclosure LIKE 'withheld%'
                    FROM careflags.indicator_nutrition_screening('2023-12-31', 67, NULL, 'KC')$$,
                  $$VALUES (NULL::bigint, NULL::bigint, true)$$, 'asked for alone, KC is withheld and marked');
SELECT results_eq($$SELECT numerator, population, disclosure LIKE 'withheld%'
                    FROM careflags.indicator_nutrition_screening('2023-12-31', 67, NULL, 'KB')$$,
                  $$VALUES (NULL::bigint, NULL::bigint, true)$$,
                  'so is KB, merged with it: all units minus KA minus KB would give KC');
SELECT results_eq($$SELECT numerator, denominator, population, disclosure FROM careflags.indicator_nutrition_screening('2023-12-31')$$,
                  $$VALUES (12::bigint, 17::bigint, 17::bigint, NULL::text)$$, 'all units: published as counted');
SELECT is((SELECT count(*) FROM careflags.indicators('2023-12-31')
           WHERE population BETWEEN 1 AND 4 OR numerator BETWEEN 1 AND 4 OR not_assessed BETWEEN 1 AND 4), 0::bigint,
          'indicators(): no count from 1 to 4 (the plan indicators, of a few patients, are withheld)');
-- a category of one (one fall-risk assessment in KA): withheld everywhere, as
-- it would follow from the total minus the other units
SELECT is((SELECT count(*) FROM careflags.indicator_by_unit('fall_risk_assessment', '2023-12-31')
           WHERE numerator IS NOT NULL OR not_assessed IS NOT NULL), 0::bigint,
          'fall-risk assessment: one patient assessed, so no unit''s categories are published');
SELECT results_eq($$SELECT numerator, not_assessed, population, disclosure LIKE 'categories withheld%'
                    FROM careflags.indicator_fall_risk_assessment('2023-12-31')$$,
                  $$VALUES (NULL::bigint, NULL::bigint, 17::bigint, true)$$,
                  '... nor the total''s (16 of 17 not assessed would give the one); the population is published');
-- populations are grouped alike in every indicator of the whole population,
-- so none follows by difference between two indicators
SELECT set_eq($$SELECT unit_id, units, population FROM careflags.indicator_by_unit('fall_risk_assessment', '2023-12-31')$$,
              $$SELECT unit_id, units, population FROM careflags.indicator_by_unit('nutrition_screening', '2023-12-31')$$,
              'the same units, merged alike, with the same populations in two indicators');
SELECT throws_ok($$SELECT * FROM careflags.indicator_nutrition_screening('2023-12-31', 68)$$, '22023',
                 'min_age must be 67 while small cells are suppressed',
                 'another age limit is refused: the difference of two would give the few between them');
SELECT is((SELECT count(*) FROM careflags.flag_response_times('2023-12-31') WHERE resolved BETWEEN 1 AND 4), 0::bigint,
          'flag_response_times: no count from 1 to 4');

-- ---- month level only ----
SELECT is((SELECT count(DISTINCT c.period_end) FROM generate_series(date '2023-12-01', date '2023-12-31', interval '1 day') d,
                  careflags.indicator_nutrition_screening(d::date) c), 2::bigint,
          'a daily sweep of the indicator over December gives two period ends, not 31');
SELECT is((SELECT array_agg(DISTINCT c.period_end ORDER BY c.period_end)
             FROM generate_series(date '2023-12-01', date '2023-12-31', interval '1 day') d,
                  careflags.indicator_nutrition_screening(d::date) c),
          '{2023-11-30,2023-12-31}'::date[], '... both month ends');
SELECT throws_ok(format('SELECT * FROM careflags.indicators(%L)',
                        (date_trunc('month', careflags.report_today()) + interval '1 month - 1 day')::date),
                 '22023', NULL, 'a period not over yet (this month) is refused');
SELECT throws_ok($$SELECT * FROM careflags.extract('2023-12-31', 30, '1 day')$$, '22023', NULL,
                 'an extract step shorter than a month is refused');
SELECT throws_ok($$SELECT * FROM careflags.extract('2023-12-31', 2, '1 month 1 day')$$, '22023', NULL,
                 'so is a step of a month and a day');

-- The sweep of the issue: extract() for every day of 2023.
CREATE TEMP TABLE sweep AS
SELECT d::date AS asked, x.*
FROM generate_series(date '2023-01-01', date '2023-12-31', interval '1 day') d,
     careflags.extract(d::date) x;
RESET ROLE;
CREATE TEMP TABLE pseudo AS
SELECT t.*, encode(hmac(convert_to('disclosure' || chr(31) || 'k' || t.patient_id, 'UTF8'), k.secret, 'sha256'), 'hex') AS pseudonym
FROM truth t, careflags.pseudonym_key k;
CREATE TEMP TABLE learned AS
SELECT p.patient_id, p.born, p.admitted,
       (SELECT min(s.asked) FROM sweep s WHERE s.pseudonym = p.pseudonym) AS first_seen,
       (SELECT min(s.asked) FROM sweep s WHERE s.pseudonym = p.pseudonym AND s.age_band IN ('80-84', '80+')) AS first_80
FROM pseudo p WHERE p.unit = 'KA';
SELECT is((SELECT count(*) FROM learned WHERE first_seen = admitted), 0::bigint,
          'the daily sweep recovers no admission day (the issue: 40 of 40)');
SELECT is((SELECT count(*) FROM learned WHERE first_80 = (born + interval '80 years')::date), 0::bigint,
          'the daily sweep recovers no birthday (the issue: 14 of 14)');
SELECT is((SELECT count(*) FROM sweep WHERE period_end <> (date_trunc('month', period_end) + interval '1 month - 1 day')::date),
          0::bigint, 'every period end in the sweep is a month end');
SELECT is((SELECT count(*) FROM learned WHERE first_seen IS NOT NULL
             AND first_seen < (date_trunc('month', admitted) + interval '1 month - 1 day')::date), 0::bigint,
          'no pseudonym appears before the end of its admission month: what is left is the month');

-- ---- extract classes of at least k, and the audit ----
SET LOCAL ROLE careflags_quality;
CREATE TEMP TABLE x AS SELECT * FROM careflags.extract('2023-12-31');
RESET ROLE;
SELECT is((SELECT min(n) FROM (SELECT count(*) AS n FROM x GROUP BY period_end, setting, unit_id, sex, age_band) c),
          5::bigint, 'every (setting, unit, sex, age band) class of the extract has at least k = 5 rows (the issue: 5 of 15 held one)');
SELECT is((SELECT count(*) FROM x, pseudo p WHERE x.pseudonym = p.pseudonym AND p.unit = 'KC'), 0::bigint,
          'the lone man of KC, in no class of 5 even widened, is left out');
SELECT is((SELECT format('%s %s %s %s', acting_role, arguments ->> 'period_end', rows_returned, rows_left_out)
             FROM careflags.extract_log ORDER BY log_id DESC LIMIT 1),
          'careflags_quality 2023-12-31 16 1', 'the extract is logged: who, the arguments, rows returned and left out');
SELECT is((SELECT count(*) FROM careflags.extract_log WHERE arguments ->> 'period_end' BETWEEN '2023-01-01' AND '2023-12-31'
             AND acting_role = 'careflags_quality'), 366::bigint, 'the sweep left 365 log rows, and this extract one');
SET LOCAL ROLE careflags_quality;
SELECT throws_ok($$DELETE FROM careflags.extract_log$$, '42501', NULL, 'careflags_quality cannot erase the log');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
