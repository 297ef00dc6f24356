-- Measures the rules read: careflags.bmi, weight_change_percent, frid_class,
-- active_regular_medicines and the Downton medicine items from ATC codes,
-- against hand-computed expectations; their grants.
BEGIN;
SELECT plan(43);

-- BMI: weight / (height in m)², one decimal.
SELECT is(careflags.bmi(70, 175), 22.9, 'bmi 70 kg 175 cm = 22.9 (22.857)');
SELECT is(careflags.bmi(45.5, 160.5), 17.7, 'bmi 45.5 kg 160.5 cm = 17.7 (17.663)');
SELECT is(careflags.bmi(24.05, 100), 24.1, 'bmi 24.05 exactly rounds half up to 24.1');
SELECT is(careflags.bmi(500, 300), 55.6, 'bmi at the plausible ends: 500 kg 300 cm = 55.6 (55.56)');
SELECT is(careflags.bmi(NULL, 170), NULL, 'bmi with a NULL weight is NULL');

-- Weight change.
INSERT INTO careflags.patient (patient_id, source_system, source_key, birth_date, sex)
VALUES (910001, 'scores_test', 'p1', '1940-05-01', 'female'),
       (910002, 'scores_test', 'p2', '1938-02-11', 'male'),
       (910003, 'scores_test', 'p3', '1935-09-30', 'female');
INSERT INTO careflags.measurement (patient_id, source_system, source_key, kind, value, measured_at) VALUES
 (910001, 'scores_test', 'w1', 'weight', 70.0, '2024-01-01 08:00+00'),
 (910001, 'scores_test', 'w2', 'weight', 66.5, '2024-03-01 08:00+00'),
 (910001, 'scores_test', 'w3', 'weight', 63.0, '2024-04-01 08:00+00'),
 (910001, 'scores_test', 'h1', 'height', 165, '2024-03-15 08:00+00'),
 (910002, 'scores_test', 'w4', 'weight', 60.0, '2024-01-10 08:00+00'),
 (910002, 'scores_test', 'w5', 'weight', 66.0, '2024-02-10 08:00+00');

SELECT is(careflags.weight_change_percent(910001, '3 months', '2024-04-15 00:00+00'), -10::numeric,
          '63.0 kg from 70.0 kg (exactly 3 months before) = -10 %');
SELECT is(round(careflags.weight_change_percent(910001, '2 months', '2024-04-15 00:00+00'), 4), -5.2632,
          'within 2 months: 63.0 from 66.5 = -5.2632 %');
SELECT is(careflags.weight_change_percent(910001, '3 months', '2024-03-15 00:00+00'), -5::numeric,
          'at 15 March the latest is 66.5: from 70.0 = -5 %');
SELECT is(careflags.weight_change_percent(910001, '3 months', '2024-04-01 08:00+00'), -10::numeric,
          'a weight exactly at "at" counts');
SELECT is(careflags.weight_change_percent(910001, '3 months', '2024-04-01 07:59+00'), -5::numeric,
          'a weight after "at" does not count');
SELECT is(careflags.weight_change_percent(910001, '89 days 23 hours', '2024-04-15 00:00+00'), -5.2631578947368421::numeric(20, 16),
          'the window is measured from the latest weight (70.0 falls just outside)');
SELECT is(careflags.weight_change_percent(910001, '3 months', '2024-02-01 00:00+00'), NULL,
          'one weight only: NULL');
SELECT is(careflags.weight_change_percent(910001, '0', '2024-04-15 00:00+00'), NULL,
          'empty window: NULL');
SELECT is(careflags.weight_change_percent(910001, '3 months', '2023-12-01 00:00+00'), NULL,
          'no weight before "at": NULL');
SELECT is(careflags.weight_change_percent(910003, '3 months', '2024-04-15 00:00+00'), NULL,
          'a patient without weights: NULL');
SELECT is(careflags.weight_change_percent(910002, '1 month', '2024-03-01 00:00+00'), 10::numeric,
          'a gain is positive: 66.0 from 60.0 = +10 %');
SET LOCAL careflags.frozen_now = '2024-04-15 00:00+00';
SELECT is(careflags.weight_change_percent(910001, '3 months'), -10::numeric, '"at" defaults to careflags.clock()');
RESET careflags.frozen_now;
SELECT throws_ok($$SELECT careflags.weight_change_percent(910001, '-1 month', '2024-04-15 00:00+00')$$, '22023',
                 NULL, 'a negative window is refused');

-- Fall-risk-increasing drugs: the longest matching prefix of careflags.frid_atc.
SELECT is(careflags.frid_class('N05CF01'), 'z-drugs', 'zopiclone N05CF01: z-drugs');
SELECT is(careflags.frid_class('N05BA12'), 'benzodiazepine anxiolytics', 'alprazolam N05BA12: benzodiazepine anxiolytics');
SELECT is(careflags.frid_class('C03CA01'), 'diuretics', 'furosemide C03CA01: diuretics');
SELECT is(careflags.frid_class('C07AB02'), NULL, 'metoprolol C07AB02: not a FRID');
SELECT is(careflags.frid_class('N05'), NULL, 'a code shorter than every prefix: NULL');
SELECT is(careflags.frid_class(NULL), NULL, 'NULL: NULL');
INSERT INTO careflags.frid_atc (atc_prefix, description, origin) VALUES ('N05AX', 'other antipsychotics (site)', 'site');
SELECT is(careflags.frid_class('N05AX08'), 'other antipsychotics (site)', 'the longest prefix wins');
SELECT is(careflags.frid_class('N05AH04'), 'antipsychotics', 'a shorter prefix still applies elsewhere');

-- Active regular medicines (clinical-rules.md §7.6).
INSERT INTO careflags.medication (patient_id, source_system, source_key, atc, code, name, started_at, stopped_at, as_needed, status) VALUES
 (910003, 'scores_test', 'a', 'N05CF01', NULL, 'zopiklon', '2024-01-01+00', NULL, false, 'active'),
 (910003, 'scores_test', 'b', 'N05CF01', NULL, 'zopiklon (other source)', '2024-02-01+00', NULL, false, 'active'),
 (910003, 'scores_test', 'c', 'C03CA01', NULL, 'furosemid', '2024-01-01+00', '2024-05-01+00', false, 'stopped'),
 (910003, 'scores_test', 'd', 'C07AB02', NULL, 'metoprolol', '2024-01-01+00', '2024-06-01+00', false, 'active'),
 (910003, 'scores_test', 'e', 'N02AA01', NULL, 'morfin ved behov', '2024-01-01+00', NULL, true, 'active'),
 (910003, 'scores_test', 'f', 'A10BA02', NULL, 'metformin', '2024-01-01+00', NULL, false, 'completed'),
 (910003, 'scores_test', 'g', 'B01AC06', NULL, 'acetylsalisylsyre', '2024-01-01+00', NULL, false, 'entered_in_error'),
 (910003, 'scores_test', 'h', NULL, 'rx:123', 'lokal kode', '2024-01-01+00', NULL, false, 'active'),
 (910003, 'scores_test', 'i', NULL, 'rx:123', 'lokal kode igjen', '2024-01-15+00', NULL, false, 'unknown'),
 (910003, 'scores_test', 'j', NULL, NULL, 'bare navn', '2024-01-01+00', NULL, false, 'active'),
 (910003, 'scores_test', 'k', 'C09AA05', NULL, 'ramipril', '2024-07-01+00', NULL, false, 'active'),
 (910003, 'scores_test', 'l', 'N06AB04', NULL, 'citalopram', '2024-01-01+00', NULL, false, 'on_hold'),
 (910003, 'scores_test', 'm', 'H03AA01', NULL, 'levotyroksin', '2024-01-01+00', NULL, false, 'cancelled'),
 (910003, 'scores_test', 'n', 'A02BC01', NULL, 'omeprazol', '2024-01-01+00', '2024-08-01+00', false, 'stopped');
SELECT is(careflags.active_regular_medicines(910003, '2024-06-01 00:00+00'), 6,
          'on 1 June: zopiklon (twice, one ATC), metoprolol (stops that instant), rx:123 (twice), the one with neither code, citalopram (on hold), omeprazol (stops 1 August)');
SELECT is(careflags.active_regular_medicines(910003, '2024-04-01 00:00+00'), 7,
          'on 1 April furosemid (status stopped, stop time 1 May) is still active');
SELECT is(careflags.active_regular_medicines(910003, '2024-07-02 00:00+00'), 6,
          'on 2 July: metoprolol stopped, ramipril started');
SELECT is(careflags.active_regular_medicines(910003, '2023-12-31 00:00+00'), 0, 'before any start: 0');
SELECT is(careflags.active_regular_medicines(910001, '2024-06-01 00:00+00'), 0, 'a patient without medicines: 0');

-- Downton medicine items from ATC codes.
SELECT is(careflags.downton_medicines('{N05BA01,C07AB02,C09AA05,N04BA02}'),
          '{"tranquillisers_sedatives": true, "diuretics": false, "antihypertensives": true, "antiparkinsonian": true, "antidepressants": false}'::jsonb,
          'diazepam, metoprolol, ramipril, levodopa: sedatives, antihypertensives, antiparkinsonian');
SELECT is(careflags.downton_medicines('{C03CA01,N06AB04,A10BA02,NULL}'),
          '{"tranquillisers_sedatives": false, "diuretics": true, "antihypertensives": false, "antiparkinsonian": false, "antidepressants": true}'::jsonb,
          'furosemide, citalopram, metformin (other medicine): diuretics, antidepressants');
SELECT is(careflags.downton_medicines('{}'),
          '{"tranquillisers_sedatives": false, "diuretics": false, "antihypertensives": false, "antiparkinsonian": false, "antidepressants": false}'::jsonb,
          'no medicines: all false');
SELECT is(careflags.downton(true, false, false, false, 'oriented', 'normal', atc => '{N05CD02,C03CA01}'),
          ROW(3, 'high', true)::careflags.score_result, 'downton with ATC: falls + sedative + diuretic = 3, high');
SELECT is(careflags.downton(true, false, false, false, 'oriented', 'normal', atc => '{A10BA02}'),
          ROW(1, 'low', false)::careflags.score_result, 'downton with an unrelated ATC: 1, low');
INSERT INTO careflags.downton_atc (atc_prefix, medicine_group, origin) VALUES ('C07', 'none', 'site'), ('N06AX', 'none', 'site');
SELECT is(careflags.downton_medicines('{C07AB02,N06AX16}') ->> 'antihypertensives', 'false',
          'a site row wins over the default row of the same prefix');
SELECT is(careflags.downton_medicines('{N06AX16}') ->> 'antidepressants', 'false', 'a longer site prefix excludes a subgroup');
SELECT is(careflags.downton_medicines('{N06AB04}') ->> 'antidepressants', 'true', '... and leaves the rest of the group');

-- Grants and dump configuration.
SELECT ok(has_function_privilege('careflags_nurse', 'careflags.weight_change_percent(bigint, interval, timestamptz)', 'EXECUTE')
          AND has_function_privilege('careflags_admin', 'careflags.active_regular_medicines(bigint, timestamptz)', 'EXECUTE'),
          'nurses and admins may call the functions that read patient facts');
SELECT ok(NOT has_function_privilege('careflags_quality', 'careflags.weight_change_percent(bigint, interval, timestamptz)', 'EXECUTE')
          AND NOT has_function_privilege('careflags_quality', 'careflags.active_regular_medicines(bigint, timestamptz)', 'EXECUTE'),
          'no one else may (not granted to PUBLIC)');
SELECT ok(has_function_privilege('careflags_quality', 'careflags.score(careflags.instrument, jsonb)', 'EXECUTE'),
          'the pure scoring functions are for everyone');
SELECT ok('careflags.downton_atc'::regclass = ANY (SELECT unnest(extconfig) FROM pg_extension WHERE extname = 'careflags'),
          'site rows of careflags.downton_atc are kept by pg_dump');

SELECT * FROM finish();
ROLLBACK;
