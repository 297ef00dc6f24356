-- tests/core/60_extract.sql - the pseudonymised extract, its secret and who may touch them.
BEGIN;
SELECT plan(29);
SET LOCAL client_min_messages = warning;

CREATE EXTENSION IF NOT EXISTS pgcrypto;   -- an independent HMAC-SHA256, for comparison
SET LOCAL careflags.timezone = 'Europe/Oslo';
SET LOCAL TimeZone = 'UTC';
-- Three patients: the small-class rule is off here (k = 1) and tested in
-- 61_disclosure.sql.
SET LOCAL careflags.min_cell_size = 1;

INSERT INTO careflags.unit (unit_id, name, setting) VALUES ('X1', 'Ward X', 'nursing_home_long_term');
INSERT INTO careflags.patient (patient_id, source_system, source_key, display_name, birth_date, sex) VALUES
    (9101, 'fhir', 'pat-1', 'Kari Nordmann', '1935-03-14', 'female'),
    (9102, 'fhir', 'pat-2', 'Ola Nordmann', '1948-07-01', 'male'),
    (9103, 'gnumed', 'pat-1', 'Per Hansen', '1956-06-30', 'male');   -- same key, other system
INSERT INTO careflags.episode (patient_id, setting, unit_id, started_at) VALUES
    (9101, 'nursing_home_long_term', 'X1', '2020-01-01'),
    (9102, 'nursing_home_long_term', 'X1', '2020-01-01'),
    (9103, 'nursing_home_long_term', 'X1', '2020-01-01');
INSERT INTO careflags.assessment (patient_id, instrument, assessed_at, total, at_risk) VALUES
    (9101, 'mst', '2023-05-01 10:00+00', 3, true),
    (9102, 'mst', '2023-05-01 10:00+00', 0, false);
INSERT INTO careflags.care_plan (patient_id, kind, started_at) VALUES (9101, 'nutrition', '2023-05-02');
INSERT INTO careflags.medication_review (patient_id, reviewed_at) VALUES (9102, '2023-02-01');

-- The secret: made at CREATE EXTENSION from the CSPRNG, one row, 32 bytes.
SELECT is((SELECT count(*) FROM careflags.pseudonym_key), 1::bigint, 'one pseudonym secret');
SELECT is((SELECT length(secret) FROM careflags.pseudonym_key), 32, 'the secret has 32 bytes');
SELECT isnt((SELECT secret FROM careflags.pseudonym_key), '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea,
            'the secret is not zeros');
CREATE TEMP TABLE old_secret AS SELECT secret, generation FROM careflags.pseudonym_key;
SELECT generation AS gen0 FROM old_secret \gset

-- Nobody but the owner reads it.
SELECT ok(NOT has_table_privilege('careflags_quality', 'careflags.pseudonym_key', 'SELECT'), 'careflags_quality has no SELECT on the secret');
SELECT ok(NOT has_table_privilege('careflags_admin', 'careflags.pseudonym_key', 'SELECT'), 'careflags_admin has no SELECT on the secret');
SELECT ok(NOT has_table_privilege('careflags_nurse', 'careflags.pseudonym_key', 'SELECT'), 'careflags_nurse has no SELECT on the secret');

SET LOCAL ROLE careflags_quality;
SELECT throws_ok($$SELECT secret FROM careflags.pseudonym_key$$, '42501', NULL, 'careflags_quality cannot select the secret');
SELECT throws_ok($$SELECT display_name FROM careflags.patient$$, '42501', NULL, 'careflags_quality cannot read names');
SELECT throws_ok($$SELECT birth_date FROM careflags.patient$$, '42501', NULL, 'careflags_quality cannot read birth dates');
SELECT throws_ok($$SELECT source_key FROM careflags.patient$$, '42501', NULL, 'careflags_quality cannot read source keys');
SELECT throws_ok($$SELECT careflags.rotate_pseudonym_key()$$, '42501', NULL, 'careflags_quality cannot rotate the secret');
SELECT throws_ok($$SELECT careflags.pseudonym_hmac('\x00'::bytea, 'x')$$, '42501', NULL, 'careflags_quality cannot call the HMAC itself');
SELECT throws_ok($$SELECT * FROM careflags.extract_rows('2023-12-31', 1, '1 year', 67, NULL, NULL)$$, '42501', NULL,
                 'nor the internal extract function');
SELECT lives_ok($$CREATE TEMP TABLE x1 AS SELECT * FROM careflags.extract('2023-12-31')$$, 'careflags_quality runs the extract');
-- extract() logs every call in careflags.extract_log: a read-only
-- transaction (or a standby) cannot run it (docs/reports.md says so)
SAVEPOINT read_only;
SET LOCAL transaction_read_only = on;
SELECT throws_ok($$SELECT * FROM careflags.extract('2023-12-31')$$, '25006', 'cannot execute INSERT in a read-only transaction',
                 'extract() fails in a read-only transaction: it writes careflags.extract_log');
ROLLBACK TO SAVEPOINT read_only;
SELECT is((SELECT generation FROM careflags.pseudonym_key_info()), :gen0,
          'careflags_quality sees the key generation, not the key');
RESET ROLE;

SELECT is((SELECT count(*) FROM x1), 3::bigint, 'one row per patient of the population');
SELECT is((SELECT count(*) FROM pg_attribute
           WHERE attrelid = 'x1'::regclass AND attnum > 0
             AND attname IN ('patient_id', 'display_name', 'birth_date', 'source_key', 'source_system', 'name')),
          0::bigint, 'no identifier columns');
SELECT is((SELECT count(*) FROM x1, careflags.patient p
           WHERE p.patient_id IN (9101, 9102, 9103)
             AND (strpos(row_to_json(x1)::text, p.source_key) > 0
                  OR strpos(row_to_json(x1)::text, p.display_name) > 0
                  OR strpos(row_to_json(x1)::text, p.birth_date::text) > 0
                  OR strpos(row_to_json(x1)::text, p.patient_id::text) > 0)),
          0::bigint, 'no value carries a source key, name, birth date or patient id');

-- The pseudonym is HMAC-SHA256 of the source key under the secret (checked
-- with pgcrypto), and each row carries the right facts.
CREATE TEMP TABLE expected AS
SELECT p.patient_id,
       encode(hmac(convert_to(p.source_system || chr(31) || p.source_key, 'UTF8'), k.secret, 'sha256'), 'hex') AS pseudonym
FROM careflags.patient p, careflags.pseudonym_key k WHERE p.patient_id IN (9101, 9102, 9103);
SELECT results_eq(
    $$SELECT e.patient_id, x.age_band, x.sex::text, x.unit_id, x.nutrition_screening, x.nutrition_at_risk,
             x.nutrition_plan, x.medication_review, x.fall_risk_assessment, x.key_generation
      FROM x1 x JOIN expected e ON e.pseudonym = x.pseudonym ORDER BY 1$$,
    $$VALUES (9101::bigint, '85-89', 'female', 'X1', 'assessed', true, 'assessed', 'not_assessed', 'not_assessed', (SELECT generation FROM careflags.pseudonym_key)),
             (9102, '75-79', 'male', 'X1', 'assessed', false, NULL, 'assessed', 'not_assessed', (SELECT generation FROM careflags.pseudonym_key)),
             (9103, '67-69', 'male', 'X1', 'not_assessed', NULL, NULL, 'not_assessed', 'not_assessed', (SELECT generation FROM careflags.pseudonym_key))$$,
    'pseudonyms equal an independent HMAC-SHA256; age bands, not birth dates');
SELECT isnt((SELECT pseudonym FROM expected WHERE patient_id = 9101), (SELECT pseudonym FROM expected WHERE patient_id = 9103),
            'the same source key in two systems gives two pseudonyms');
SELECT set_eq($$SELECT pseudonym FROM careflags.extract('2023-12-31')$$, $$SELECT pseudonym FROM x1$$,
              'same key, same input: same pseudonyms');
SELECT results_eq(
    $$SELECT period_end, count(*) FROM careflags.extract('2023-12-31', 2) GROUP BY 1 ORDER BY 1$$,
    $$VALUES ('2022-12-31'::date, 2::bigint), ('2023-12-31'::date, 3::bigint)$$,
    'two periods: at the end of 2022 the youngest was 66');
SELECT is((SELECT count(DISTINCT period_end) FROM careflags.extract('2023-12-31', 2)
           WHERE pseudonym = (SELECT pseudonym FROM expected WHERE patient_id = 9101)),
          2::bigint, 'a patient keeps the pseudonym across periods');

-- Rotation by the admin role: a fresh secret, unrelated pseudonyms.
SET LOCAL ROLE careflags_admin;
SELECT is(careflags.rotate_pseudonym_key(), :gen0 + 1, 'careflags_admin rotates the secret');
SELECT throws_ok($$SELECT secret FROM careflags.pseudonym_key$$, '42501', NULL, '... but cannot read it');
RESET ROLE;
SELECT isnt((SELECT secret FROM careflags.pseudonym_key), (SELECT secret FROM old_secret), 'the new secret differs');
SELECT is((SELECT count(*) FROM careflags.extract('2023-12-31') x JOIN x1 USING (pseudonym)), 0::bigint,
          'after rotation no pseudonym matches an old one');
SELECT set_eq(
    $$SELECT pseudonym, key_generation FROM careflags.extract('2023-12-31')$$,
    $$SELECT encode(hmac(convert_to(p.source_system || chr(31) || p.source_key, 'UTF8'), k.secret, 'sha256'), 'hex'), k.generation
      FROM careflags.patient p, careflags.pseudonym_key k WHERE p.patient_id IN (9101, 9102, 9103)$$,
    'the new pseudonyms are the HMAC under the new secret, with the new generation');

SELECT * FROM finish();
ROLLBACK;
