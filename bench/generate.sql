-- bench/generate.sql - a deterministic generator of a municipality's records.
--
-- Run by bench/load.sh (psql variables: patients, seed, anchor, years).  It
-- creates the schema bench with
--   bench.param       the run's parameters (one row)
--   bench.person      one row per patient: setting, unit, episode starts, the
--                     patient's habits (diligence of the unit, weight trend)
--   bench.gen_*       views that generate the rows of each careflags fact
--                     table from bench.person; load.sh streams each with
--                     COPY (SELECT ...) TO STDOUT into COPY ... FROM STDIN
-- Randomness is a hash of (seed, patient, fact number, purpose), so the same
-- parameters give the same facts whatever the plan or the number of backends.
--
-- The municipality (defaults): 4 % long-term and 1 % short-term nursing-home
-- residents in 30-bed units, 9 % home nursing and 6 % other home services in
-- districts, the rest on GP lists; `years` of history before the anchor
-- time: weights (and BMI, heights), nutrition screenings (MST, some MNA-SF,
-- some recorded without a score), fall-risk assessments (Morse), medicine
-- starts and stops (regular and as-needed, FRIDs among them), medication
-- reviews, care plans, falls, exemptions and deaths.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
COMMENT ON SCHEMA bench IS 'benchmark generator and results (bench/)';

CREATE TABLE bench.param AS
SELECT :patients::integer AS patients, :seed::bigint AS seed, :'anchor'::timestamptz AS anchor,
       :years::integer AS years;
COMMENT ON TABLE bench.param IS 'parameters of the generated municipality';

-- A uniform number in [0, 1) from (seed, key).
CREATE FUNCTION bench.r(seed bigint, k bigint) RETURNS float8
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (pg_catalog.hashint8extended(k, seed) & 2147483647)::float8 / 2147483648.0;
COMMENT ON FUNCTION bench.r(bigint, bigint) IS 'deterministic pseudo-random number in [0,1) for a seed and a key';

-- Patients: setting, unit and habits.
CREATE TABLE bench.person AS
WITH base AS (
    SELECT n::bigint AS n, pr.seed, pr.anchor, pr.years,
           bench.r(pr.seed, n * 64 + 1) AS u_setting,
           bench.r(pr.seed, n * 64 + 2) AS u_age,
           bench.r(pr.seed, n * 64 + 3) AS u_start,
           bench.r(pr.seed, n * 64 + 4) AS u_prev,
           bench.r(pr.seed, n * 64 + 5) AS u_dil,
           bench.r(pr.seed, n * 64 + 6) AS u_w,
           bench.r(pr.seed, n * 64 + 7) AS u_loss,
           bench.r(pr.seed, n * 64 + 8) AS u_dead,
           bench.r(pr.seed, n * 64 + 9) AS u_h,
           bench.r(pr.seed, n * 64 + 10) AS u_bmi,
           bench.r(pr.seed, n * 64 + 11) AS u_sex
    FROM bench.param pr, pg_catalog.generate_series(1, pr.patients) AS n
), s AS (
    SELECT b.*,
           CASE WHEN u_setting < 0.04 THEN 'nursing_home_long_term'
                WHEN u_setting < 0.05 THEN 'nursing_home_short_term'
                WHEN u_setting < 0.14 THEN 'home_nursing'
                WHEN u_setting < 0.20 THEN 'home_services'
                ELSE 'gp' END::careflags.care_setting AS setting
    FROM base b
), numbered AS (
    SELECT s.*, pg_catalog.row_number() OVER (PARTITION BY setting ORDER BY n) - 1 AS rank_in_setting
    FROM s
)
SELECT n AS patient_id, seed, anchor, years, setting,
       CASE setting
           WHEN 'nursing_home_long_term' THEN pg_catalog.format('nh-lt-%s', pg_catalog.lpad((rank_in_setting / 30 + 1)::text, 3, '0'))
           WHEN 'nursing_home_short_term' THEN pg_catalog.format('nh-st-%s', pg_catalog.lpad((rank_in_setting / 30 + 1)::text, 3, '0'))
           WHEN 'home_nursing' THEN pg_catalog.format('hn-%s', pg_catalog.lpad((rank_in_setting / 250 + 1)::text, 3, '0'))
           WHEN 'home_services' THEN pg_catalog.format('hs-%s', pg_catalog.lpad((rank_in_setting / 250 + 1)::text, 3, '0'))
           ELSE pg_catalog.format('gp-%s', pg_catalog.lpad((rank_in_setting / 1000 + 1)::text, 3, '0'))
       END AS unit_id,
       -- start of the current episode
       CASE setting
           WHEN 'nursing_home_long_term' THEN anchor - (CASE WHEN u_start < 0.1 THEN u_start * 140
                                                             ELSE 1 + u_start * 1460 END) * interval '1 day'
           WHEN 'nursing_home_short_term' THEN anchor - (u_start * 20) * interval '1 day'
           WHEN 'gp' THEN anchor - (365 * years + u_start * 1825) * interval '1 day'
           ELSE anchor - (2 + u_start * 1800) * interval '1 day'
       END AS care_start,
       -- an earlier episode: home nursing before a nursing home (ended at
       -- admission), or a GP episode left open under home care (overlap)
       CASE WHEN setting = 'gp' THEN NULL
            WHEN setting = 'nursing_home_short_term' AND u_prev < 0.5 THEN 'home_nursing'
            WHEN setting = 'nursing_home_long_term' AND u_prev < 0.6 THEN 'home_nursing'
            WHEN setting IN ('home_nursing', 'home_services') AND u_prev < 0.7 THEN 'gp'
       END::careflags.care_setting AS prev_setting,
       u_prev < 0.3 AS prev_open,
       -- how diligently the unit records (0.35 .. 0.95)
       0.35 + 0.6 * u_dil AS diligence,
       CASE WHEN u_age < 0.005 THEN NULL
            WHEN setting = 'gp' THEN (anchor AT TIME ZONE 'Europe/Oslo')::date - ((18 + u_age * 82) * 365.25)::integer
            ELSE (anchor AT TIME ZONE 'Europe/Oslo')::date - ((62 + u_age * 38) * 365.25)::integer
       END AS birth_date,
       CASE WHEN u_sex < 0.58 THEN 'female' ELSE 'male' END::careflags.sex AS sex,
       CASE WHEN u_dead < 0.01 THEN anchor - (u_dead * 100 * 90) * interval '1 day' END AS deceased_at,
       round((48 + u_w * 50)::numeric, 1) AS w0,
       CASE WHEN u_h < 0.85 THEN round((150 + u_h / 0.85 * 40)::numeric, 0) END AS height,
       u_bmi < 0.3 AS bmi_recorded,
       -- one in ten loses weight over the last months
       CASE WHEN u_loss < 0.10 THEN 0.0004 + u_loss * 0.012 ELSE 0 END AS loss_per_day
FROM numbered;
ALTER TABLE bench.person ADD PRIMARY KEY (patient_id);
COMMENT ON TABLE bench.person IS 'the generated patients and their habits';
ANALYZE bench.person;

CREATE VIEW bench.gen_patient AS
SELECT patient_id, 'bench' AS source_system, 'p' || patient_id AS source_key,
       'Patient ' || patient_id AS display_name, birth_date, sex,
       deceased_at IS NOT NULL AS deceased, deceased_at, anchor - interval '1 day' AS updated_at
FROM bench.person;

CREATE VIEW bench.gen_episode AS
SELECT patient_id, 'bench' AS source_system, 'e' || patient_id AS source_key, setting,
       unit_id, care_start AS started_at, NULL::timestamptz AS ended_at
FROM bench.person
UNION ALL
SELECT patient_id, 'bench', 'e0-' || patient_id, prev_setting,
       CASE prev_setting WHEN 'home_nursing' THEN 'hn-' || pg_catalog.lpad((patient_id % 36 + 1)::text, 3, '0')
                         ELSE 'gp-' || pg_catalog.lpad((patient_id % 80 + 1)::text, 3, '0') END,
       care_start - (200 + bench.r(seed, patient_id * 64 + 20) * 1000) * interval '1 day',
       CASE WHEN prev_open THEN NULL ELSE care_start END
FROM bench.person WHERE prev_setting IS NOT NULL;

-- Every unit an episode names (earlier episodes too: an episode's unit must
-- be in careflags.unit), with the setting of its first episode.
CREATE VIEW bench.gen_unit AS
SELECT DISTINCT ON (unit_id) unit_id,
       CASE WHEN unit_id LIKE 'nh-lt-%' THEN 'Nursing home, long-term ward ' || pg_catalog.substr(unit_id, 7)
            WHEN unit_id LIKE 'nh-st-%' THEN 'Nursing home, short-term ward ' || pg_catalog.substr(unit_id, 7)
            WHEN unit_id LIKE 'hn-%' THEN 'Home nursing district ' || pg_catalog.substr(unit_id, 4)
            WHEN unit_id LIKE 'hs-%' THEN 'Home services district ' || pg_catalog.substr(unit_id, 4)
            ELSE 'GP list ' || pg_catalog.substr(unit_id, 4) END AS name,
       setting
FROM bench.gen_episode
ORDER BY unit_id, setting;

-- Per patient cadences (days between facts) by setting.
CREATE VIEW bench.cadence AS
SELECT p.*,
       anchor - years * interval '1 year' AS hist_start,
       CASE setting WHEN 'gp' THEN 40 WHEN 'home_services' THEN 25 WHEN 'home_nursing' THEN 14 ELSE 10 END AS weight_days,
       CASE setting WHEN 'gp' THEN 365 WHEN 'home_services' THEN 182 ELSE 30 END AS screen_days,
       CASE setting WHEN 'gp' THEN 365 WHEN 'home_services' THEN 365 ELSE 180 END AS fall_days
FROM bench.person p;

-- Weights along the whole history; some lose weight over the last 200 days.
CREATE VIEW bench.gen_measurement AS
WITH w AS (
    SELECT c.patient_id, c.seed, c.anchor, c.w0, c.loss_per_day, c.height, c.bmi_recorded, k,
           c.hist_start + (k * c.weight_days + bench.r(c.seed, c.patient_id * 100000 + k * 8 + 1) * c.weight_days * 0.7) * interval '1 day'
               + (bench.r(c.seed, c.patient_id * 100000 + k * 8 + 2) * 36000)::integer * interval '1 second' AS t
    FROM bench.cadence c,
         pg_catalog.generate_series(0, (c.years * 365 / c.weight_days) - 1) AS k
), v AS (
    SELECT w.*,
           pg_catalog.round((w0 * (1 + 0.03 * pg_catalog.sin(k / 5.0) + 0.04 * (bench.r(seed, patient_id * 100000 + k * 8 + 3) - 0.5))
                 * (1 - loss_per_day * GREATEST(0, 200 - extract(epoch FROM anchor - t) / 86400)))::numeric, 1) AS kg
    FROM w WHERE t <= anchor
)
SELECT patient_id, 'bench' AS source_system, 'w' || patient_id || '-' || k AS source_key,
       'weight'::careflags.measurement_kind AS kind, kg AS value, t AS measured_at
FROM v
UNION ALL
SELECT patient_id, 'bench', 'b' || patient_id || '-' || k, 'bmi',
       GREATEST(5, pg_catalog.round(kg / 2.89, 1)), t + interval '1 hour'
FROM v WHERE bmi_recorded AND t + interval '1 hour' <= anchor
UNION ALL
SELECT patient_id, 'bench', 'h' || patient_id, 'height', height, hist_start + interval '1 day'
FROM bench.cadence WHERE height IS NOT NULL;

-- Nutrition screenings and fall-risk assessments: the first after the
-- start of the current episode (late or missing on less diligent units),
-- then regularly with gaps; GP patients seldom.
CREATE VIEW bench.gen_assessment AS
WITH nut AS (
    SELECT c.patient_id, c.seed, c.anchor, c.diligence, c.setting, k,
           c.care_start + CASE WHEN k = 0 THEN bench.r(c.seed, c.patient_id * 100000 + 90001) * (CASE WHEN bench.r(c.seed, c.patient_id * 100000 + 90002) < c.diligence THEN 1.5 ELSE 25 END)
                               ELSE k * c.screen_days + bench.r(c.seed, c.patient_id * 100000 + k * 8 + 4) * c.screen_days * 0.5 END * interval '1 day'
               + interval '7 hours' AS t,
           bench.r(c.seed, c.patient_id * 100000 + k * 8 + 5) AS u_keep,
           bench.r(c.seed, c.patient_id * 100000 + k * 8 + 6) AS u_val
    FROM bench.cadence c,
         pg_catalog.generate_series(0, GREATEST(0, (extract(epoch FROM c.anchor - c.care_start) / 86400 / c.screen_days)::integer)) AS k
    WHERE c.setting <> 'gp' OR bench.r(c.seed, c.patient_id * 64 + 30) < 0.3
), fall AS (
    SELECT c.patient_id, c.seed, c.anchor, c.diligence, k,
           c.care_start + (3 + k * c.fall_days + bench.r(c.seed, c.patient_id * 100000 + k * 8 + 7) * (CASE WHEN k = 0 THEN 12 ELSE c.fall_days * 0.3 END)) * interval '1 day'
               + interval '13 hours' AS t,
           bench.r(c.seed, c.patient_id * 100000 + k * 8 + 8 + 50000) AS u_keep,
           bench.r(c.seed, c.patient_id * 100000 + k * 8 + 9 + 50000) AS u_val
    FROM bench.cadence c,
         pg_catalog.generate_series(0, GREATEST(0, (extract(epoch FROM c.anchor - c.care_start) / 86400 / c.fall_days)::integer)) AS k
    WHERE c.setting IN ('nursing_home_long_term', 'nursing_home_short_term', 'home_nursing')
       OR bench.r(c.seed, c.patient_id * 64 + 31) < 0.15
)
SELECT patient_id, 'bench' AS source_system, 'n' || patient_id || '-' || k AS source_key,
       CASE WHEN u_val < 0.04 THEN 'nutrition_unspecified' WHEN u_val < 0.09 THEN 'mna_sf' ELSE 'mst' END::careflags.instrument AS instrument,
       t AS assessed_at,
       CASE WHEN u_val < 0.04 THEN NULL
            WHEN u_val < 0.09 THEN (6 + (u_val * 1000)::integer % 9)::numeric
            ELSE ((ARRAY[0, 0, 0, 1, 1, 0, 2, 3, 1, 4])[1 + (u_val * 10000)::integer % 10])::numeric END AS total
FROM nut WHERE t <= anchor AND (k = 0 OR u_keep < diligence)
UNION ALL
SELECT patient_id, 'bench', 'f' || patient_id || '-' || k,
       CASE WHEN u_val < 0.03 THEN 'fall_risk_unspecified' ELSE 'morse' END::careflags.instrument,
       t,
       CASE WHEN u_val < 0.03 THEN NULL
            ELSE ((ARRAY[0, 15, 25, 35, 45, 50, 55, 70, 85, 20])[1 + (u_val * 10000)::integer % 10])::numeric END
FROM fall WHERE t <= anchor AND u_keep < diligence + 0.1;

-- Medicines: started over the history, many stopped, some as needed, some
-- cancelled or without an ATC code.
CREATE VIEW bench.gen_medication AS
WITH m AS (
    SELECT c.patient_id, c.seed, c.anchor, c.hist_start, k,
           bench.r(c.seed, c.patient_id * 100000 + 70000 + k * 8 + 1) AS u_atc,
           bench.r(c.seed, c.patient_id * 100000 + 70000 + k * 8 + 2) AS u_start,
           bench.r(c.seed, c.patient_id * 100000 + 70000 + k * 8 + 3) AS u_stop,
           bench.r(c.seed, c.patient_id * 100000 + 70000 + k * 8 + 4) AS u_kind
    FROM bench.cadence c,
         pg_catalog.generate_series(1, CASE WHEN c.setting = 'gp' THEN 6 + (bench.r(c.seed, c.patient_id * 64 + 40) * 18)::integer
                                            ELSE 14 + (bench.r(c.seed, c.patient_id * 64 + 40) * 30)::integer END) AS k
), a AS (
    SELECT m.*,
           (ARRAY['C09AA05', 'A10BA02', 'B01AC06', 'C10AA01', 'A02BC01', 'N02BE01', 'H03AA01', 'B03BA01',
                  'A12AX', 'C07AB02', 'C08CA01', 'M05BA04', 'A06AD11', 'R03AC02', 'S01ED51', 'D07AC01',
                  'N05CF01', 'C03CA01', 'N06AB04', 'N05BA04', 'N02AA01', 'N03AX16', 'C03AA03', 'N05AH04',
                  'R06AE07', 'G04CA02', 'C01DA02', 'N06AX11', 'G04BD08', 'N05CD02'])[1 + (u_atc * 30)::integer % 30] AS atc,
           hist_start + u_start * (anchor - hist_start) AS started
    FROM m
)
SELECT patient_id, 'bench' AS source_system, 'm' || patient_id || '-' || k AS source_key,
       CASE WHEN u_kind < 0.02 THEN NULL ELSE atc END AS atc,
       CASE WHEN u_kind < 0.02 THEN 'VARE' || (u_atc * 40)::integer END AS code,
       'medicine ' || atc AS name,
       started AS started_at,
       CASE WHEN u_stop < 0.55 THEN started + u_stop / 0.55 * (anchor - started) END AS stopped_at,
       u_kind >= 0.85 AS as_needed,
       CASE WHEN u_stop < 0.50 THEN 'stopped'
            WHEN u_stop < 0.55 THEN 'completed'
            WHEN u_kind BETWEEN 0.02 AND 0.04 THEN 'completed'
            WHEN u_kind BETWEEN 0.04 AND 0.05 THEN 'entered_in_error'
            WHEN u_kind BETWEEN 0.05 AND 0.06 THEN 'on_hold'
            ELSE 'active' END::careflags.medication_status AS status
FROM a;

-- Medication reviews: yearly for long-term residents (with gaps), every
-- two years for others now and then.
CREATE VIEW bench.gen_medication_review AS
SELECT c.patient_id, 'bench' AS source_system, 'r' || c.patient_id || '-' || k AS source_key,
       c.care_start + (2 + k * 365 + bench.r(c.seed, c.patient_id * 100000 + 80000 + k) * 40) * interval '1 day' + interval '10 hours' AS reviewed_at,
       '182836005' AS code
FROM bench.cadence c,
     pg_catalog.generate_series(0, (extract(epoch FROM c.anchor - c.care_start) / 86400 / 365)::integer) AS k
WHERE c.care_start + (2 + k * 365 + bench.r(c.seed, c.patient_id * 100000 + 80000 + k) * 40) * interval '1 day' + interval '10 hours' <= c.anchor
  AND bench.r(c.seed, c.patient_id * 100000 + 81000 + k) < CASE WHEN c.setting = 'nursing_home_long_term' THEN c.diligence
                                                             WHEN c.setting = 'gp' THEN 0.1 ELSE 0.35 END;

-- Care plans: nutrition plans and fall-prevention plans for some, some ended,
-- most evaluated now and then.
CREATE VIEW bench.gen_care_plan AS
WITH p AS (
    SELECT c.patient_id, c.seed, c.anchor, c.care_start, kind,
           bench.r(c.seed, c.patient_id * 64 + 50 + kind_no) AS u_has,
           bench.r(c.seed, c.patient_id * 64 + 52 + kind_no) AS u_start,
           bench.r(c.seed, c.patient_id * 64 + 54 + kind_no) AS u_end,
           bench.r(c.seed, c.patient_id * 64 + 56 + kind_no) AS u_eval,
           c.setting
    FROM bench.cadence c,
         (VALUES (0, 'nutrition'::careflags.plan_kind), (1, 'fall_prevention')) AS k(kind_no, kind)
), s AS (
    SELECT p.*, care_start + u_start * (anchor - care_start) AS started
    FROM p WHERE u_has < CASE WHEN setting = 'gp' THEN 0.01 ELSE 0.3 END
)
SELECT patient_id, 'bench' AS source_system, 'c' || patient_id || '-' || kind AS source_key, kind,
       started AS started_at,
       CASE WHEN u_end < 0.2 THEN started + u_end / 0.2 * (anchor - started) END AS ended_at,
       CASE WHEN u_eval < 0.75 THEN started + u_eval / 0.75 * (anchor - started) END AS last_evaluated_at
FROM s;

-- Falls: some in care, a few on GP lists.
CREATE VIEW bench.gen_fall AS
SELECT c.patient_id, 'bench' AS source_system, 'x' || c.patient_id || '-' || k AS source_key,
       c.anchor - (bench.r(c.seed, c.patient_id * 100000 + 85000 + k) * 730) * interval '1 day' AS fell_at,
       '1912002' AS code
FROM bench.cadence c,
     pg_catalog.generate_series(1, 1 + (bench.r(c.seed, c.patient_id * 64 + 60) * 3)::integer) AS k
WHERE bench.r(c.seed, c.patient_id * 64 + 61) < CASE WHEN c.setting = 'gp' THEN 0.04 ELSE 0.15 END;

-- Exemptions: one in a hundred, of several scopes, some expired.
CREATE VIEW bench.gen_exemption AS
SELECT c.patient_id, 'bench' AS source_system, 'y' || c.patient_id AS source_key,
       (ARRAY['*', 'nutrition', 'fall_risk.assessment', 'medication_review.annual', 'nutrition.screening.repeat'])
           [1 + (bench.r(c.seed, c.patient_id * 64 + 62) * 5)::integer % 5] AS scope,
       'end-of-life care' AS reason,
       c.anchor - (bench.r(c.seed, c.patient_id * 64 + 63) * 365) * interval '1 day' AS valid_from,
       CASE WHEN bench.r(c.seed, c.patient_id * 64 + 65) < 0.6
            THEN c.anchor - (bench.r(c.seed, c.patient_id * 64 + 63) * 365) * interval '1 day'
                 + (1 + bench.r(c.seed, c.patient_id * 64 + 66) * 500) * interval '1 day' END AS valid_until,
       'bench' AS recorded_by
FROM bench.cadence c
WHERE bench.r(c.seed, c.patient_id * 64 + 64) < 0.01;
