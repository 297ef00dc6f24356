-- Demo step 10: a generated municipality - four units, about 200 people in
-- care, months of facts, recorded more carefully on some units than others.
\set QUIET 1
SET client_min_messages = warning;
SELECT setseed(0.42) \g /dev/null

INSERT INTO careflags.unit (unit_id, name, setting) VALUES
    ('solsiden-lang', 'Solsiden sykehjem, langtidsavdeling', 'nursing_home_long_term'),
    ('solsiden-kort', 'Solsiden sykehjem, korttidsavdeling', 'nursing_home_short_term'),
    ('hjemmesykepleie-nord', 'Hjemmesykepleien nord', 'home_nursing'),
    ('hjemmetjenester-sor', 'Hjemmetjenester sør', 'home_services');

CREATE TEMP TABLE person AS
SELECT n,
       (ARRAY['Kari','Ola','Ingrid','Per','Solveig','Arne','Astrid','Knut','Marit','Olav','Berit','Svein',
              'Liv','Hans','Randi','Jon','Gerd','Nils','Ragnhild','Bjørn'])[1 + (random() * 19)::int] || ' ' ||
       (ARRAY['Hansen','Johansen','Olsen','Larsen','Andersen','Pedersen','Nilsen','Kristiansen','Jensen',
              'Karlsen','Johnsen','Pettersen','Eriksen','Berg','Haugen','Hagen','Johannessen','Andreassen'])[1 + (random() * 17)::int]
           AS name,
       date '1926-01-01' + (random() * 365 * 30)::int AS birth,
       CASE WHEN n <= 70 THEN 'solsiden-lang' WHEN n <= 90 THEN 'solsiden-kort'
            WHEN n <= 160 THEN 'hjemmesykepleie-nord' ELSE 'hjemmetjenester-sor' END AS unit,
       CASE WHEN n <= 70 THEN 'nursing_home_long_term' WHEN n <= 90 THEN 'nursing_home_short_term'
            WHEN n <= 160 THEN 'home_nursing' ELSE 'home_services' END::careflags.care_setting AS setting,
       CASE WHEN n <= 70 THEN now() - (30 + random() * 500) * interval '1 day'
            WHEN n <= 90 THEN now() - (random() * 20) * interval '1 day'
            ELSE now() - (10 + random() * 400) * interval '1 day' END AS started,
       CASE WHEN n <= 70 THEN 0.85 WHEN n <= 90 THEN 0.6 WHEN n <= 160 THEN 0.45 ELSE 0.3 END AS diligence
  FROM generate_series(1, 200) AS n;

INSERT INTO careflags.patient (source_system, source_key, display_name, birth_date, sex)
SELECT 'demo', 'p' || n, name, birth, CASE WHEN n % 3 = 0 THEN 'male' ELSE 'female' END::careflags.sex FROM person;

CREATE TEMP TABLE pp AS
SELECT p.*, c.patient_id FROM person p JOIN careflags.patient c ON c.source_system = 'demo' AND c.source_key = 'p' || p.n;

INSERT INTO careflags.episode (patient_id, source_system, source_key, setting, unit_id, started_at)
SELECT patient_id, 'demo', 'e' || n, setting, unit, started FROM pp;

-- nutrition screenings (MST), roughly monthly where the unit is diligent
INSERT INTO careflags.assessment (patient_id, source_system, source_key, instrument, assessed_at, items)
SELECT patient_id, 'demo', 'mst' || n || '-' || k, 'mst', t,
       jsonb_build_object('weight_loss', (ARRAY['no','no','no','unsure','1_to_5_kg','6_to_10_kg'])[1 + (random() * 5)::int],
                          'eating_less', random() < 0.3)
  FROM pp, LATERAL generate_series(0, 24) AS k,
       LATERAL (SELECT started + interval '2 days' + k * interval '1 month' AS t) AS s
 WHERE t < now() AND random() < diligence;

-- fall-risk assessments (Morse) twice a year on the nursing-home units and in home nursing
INSERT INTO careflags.assessment (patient_id, source_system, source_key, instrument, assessed_at, total)
SELECT patient_id, 'demo', 'morse' || n || '-' || k, 'morse', t, (ARRAY[0,15,25,35,45,50,55,70,85])[1 + (random() * 8)::int]
  FROM pp, LATERAL generate_series(0, 3) AS k, LATERAL (SELECT started + interval '5 days' + k * interval '6 months' AS t) AS s
 WHERE t < now() AND setting <> 'home_services' AND random() < diligence;

-- medicines: 2 to 11 regular, some as-needed
INSERT INTO careflags.medication (patient_id, source_system, source_key, atc, name, started_at, as_needed)
SELECT patient_id, 'demo', 'med' || n || '-' || k, atc, drug, started - (random() * 300) * interval '1 day', k > 9
  FROM pp, LATERAL (SELECT 2 + (random() * 9)::int AS m) AS mm,
       LATERAL unnest(ARRAY['C09AA05','A10BA02','B01AC06','C10AA01','N05CF01','C03CA01','N06AB04','A02BC01','N02BE01','N05BA04','R06AE07','N02AA01'],
                      ARRAY['ramipril','metformin','acetylsalicylic acid','simvastatin','zopiclone','furosemide','sertraline',
                            'omeprazole','paracetamol','oxazepam','cetirizine','morphine']) WITH ORDINALITY AS d(atc, drug, k)
 WHERE k <= m;

-- medication reviews: at admission (often) and yearly (sometimes)
INSERT INTO careflags.medication_review (patient_id, source_system, source_key, reviewed_at, code)
SELECT patient_id, 'demo', 'rev' || n || '-' || k, started + interval '3 days' + k * interval '11 months', '182836005'
  FROM pp, LATERAL generate_series(0, 1) AS k
 WHERE started + interval '3 days' + k * interval '11 months' < now() AND random() < diligence;

-- weights monthly; a few residents lose weight
INSERT INTO careflags.measurement (patient_id, source_system, source_key, kind, value, measured_at)
SELECT patient_id, 'demo', 'w' || n || '-' || k, 'weight',
       round((60 + (n % 25)) * (1 - CASE WHEN n % 17 = 0 THEN k * 0.025 ELSE 0 END)::numeric, 1),
       started + k * interval '1 month'
  FROM pp, LATERAL generate_series(0, 8) AS k
 WHERE started + k * interval '1 month' < now() AND setting IN ('nursing_home_long_term', 'home_nursing');
INSERT INTO careflags.measurement (patient_id, source_system, source_key, kind, value, measured_at)
SELECT patient_id, 'demo', 'h' || n, 'height', 150 + n % 35, started FROM pp WHERE setting IN ('nursing_home_long_term', 'home_nursing');

-- falls, plans
INSERT INTO careflags.fall (patient_id, source_system, source_key, fell_at)
SELECT patient_id, 'demo', 'fall' || n, now() - (random() * 60) * interval '1 day' FROM pp WHERE random() < 0.12;
INSERT INTO careflags.care_plan (patient_id, source_system, source_key, kind, started_at, last_evaluated_at)
SELECT patient_id, 'demo', 'plan' || n, 'nutrition', started + interval '10 days', now() - (random() * 40) * interval '1 day'
  FROM pp WHERE random() < 0.25 * diligence AND started + interval '50 days' < now();

-- one resident in end-of-life care: nutrition not relevant
INSERT INTO careflags.exemption (patient_id, source_system, source_key, scope, reason, valid_from)
SELECT patient_id, 'demo', 'ex' || n, 'nutrition', 'end-of-life care', now() - interval '3 days' FROM pp WHERE n = 7;

\echo
\echo '== careflags demo: a generated municipality =='
SELECT u.name AS unit, count(DISTINCT e.patient_id) AS people,
       (SELECT count(*) FROM careflags.flag f WHERE f.unit_id = u.unit_id AND f.resolved_at IS NULL) AS open_flags
  FROM careflags.unit u LEFT JOIN careflags.episode e ON e.unit_id = u.unit_id
 GROUP BY u.unit_id, u.name ORDER BY u.unit_id;
SELECT (SELECT count(*) FROM careflags.assessment) AS assessments, (SELECT count(*) FROM careflags.measurement) AS measurements,
       (SELECT count(*) FROM careflags.medication) AS medicines, (SELECT count(*) FROM careflags.medication_review) AS reviews,
       (SELECT count(*) FROM careflags.flag) AS flags_raised_while_loading;
