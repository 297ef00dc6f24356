-- tests/cli/population.sql - a small care population for the client tests
-- (and the demo): four units, 80 patients, facts spread over the last 18
-- months.  Deterministic for a given day (setseed); the tests compare the
-- client's output with the SQL functions, not with fixed numbers.
SELECT setseed(0.42);
INSERT INTO careflags.unit (unit_id, name, setting) VALUES
    ('LT-A', 'Long-term ward A', 'nursing_home_long_term'),
    ('LT-B', 'Long-term ward B', 'nursing_home_long_term'),
    ('ST-1', 'Short-term ward', 'nursing_home_short_term'),
    ('HN-N', 'Home nursing north', 'home_nursing');

INSERT INTO careflags.patient (patient_id, source_system, source_key, display_name, birth_date, sex)
SELECT i, 'demo', 'demo-' || i, 'Patient ' || i,
       CASE WHEN i % 40 = 0 THEN NULL ELSE date '1925-01-01' + (random() * 365 * 33)::int END,
       (ARRAY['female', 'male'])[1 + i % 2]::careflags.sex
FROM generate_series(1, 80) i;

INSERT INTO careflags.episode (patient_id, setting, unit_id, started_at)
SELECT i, u.setting, u.unit_id, now() - interval '20 months' + random() * interval '18 months'
FROM generate_series(1, 80) i
JOIN careflags.unit u ON u.unit_id = (ARRAY['LT-A', 'LT-B', 'ST-1', 'HN-N'])[1 + i % 4];

-- Nutrition screenings (MST) and fall-risk scores (Morse), with results.
INSERT INTO careflags.assessment (patient_id, instrument, assessed_at, items)
SELECT p, 'mst', now() - random() * interval '18 months',
       jsonb_build_object('weight_loss', (ARRAY['no', 'unsure', '1_to_5_kg'])[1 + (random() * 2)::int],
                          'eating_less', random() < 0.4)
FROM generate_series(1, 80) p, generate_series(1, 2) k
WHERE (p * 7 + k) % 5 <> 0;
INSERT INTO careflags.assessment (patient_id, instrument, assessed_at, total)
SELECT p, 'morse', now() - random() * interval '18 months', (ARRAY[0, 15, 30, 45, 50, 70])[1 + (random() * 5)::int]
FROM generate_series(1, 80) p
WHERE p % 3 <> 0;

INSERT INTO careflags.care_plan (patient_id, kind, started_at)
SELECT a.patient_id, 'nutrition', a.assessed_at + interval '2 days'
FROM careflags.assessment a
WHERE a.instrument = 'mst' AND a.at_risk AND a.patient_id % 2 = 0 AND a.assessed_at < now() - interval '3 days';
INSERT INTO careflags.care_plan (patient_id, kind, started_at)
SELECT a.patient_id, 'fall_prevention', a.assessed_at + interval '1 day'
FROM careflags.assessment a
WHERE a.instrument = 'morse' AND a.at_risk AND a.patient_id % 3 = 1 AND a.assessed_at < now() - interval '3 days';

INSERT INTO careflags.medication_review (patient_id, reviewed_at, code)
SELECT p, now() - random() * interval '16 months', '182836005'
FROM generate_series(1, 80) p
WHERE p % 4 IN (1, 2) AND p % 5 <> 0;

INSERT INTO careflags.exemption (patient_id, scope, reason, valid_from)
VALUES (13, '*', 'end-of-life care', now() - interval '2 months'),
       (26, 'nutrition', 'tube feeding managed by the hospital', now() - interval '5 months');
