-- Reliability 3 (SQL level): hostile input.
-- (a) 3000 randomised fact writes (fixed seed, reproducible) over 40
--     patients: impossible, boundary and junk values, random item JSON with
--     wrong types and nesting, far and infinite times, unknown codes.  Each
--     write is stored, quarantined with a reason (WARNING), or refused with a
--     data or constraint error; none fails with an internal error, none
--     breaks the evaluation, and the flags stay consistent.
-- (b) 100,000 medicines for one patient in one statement: handled, the flag
--     raised, within bounded memory (peak RSS of the backend, /proc) and time.
-- (d) bad input once accepted silently (issue 13): an episode in a unit
--     careflags does not know, 9,000-character identifiers (a NOTIFY payload
--     over 8,000 bytes made every evaluation of the patient, and
--     recompute_all() for the whole database, fail), implausible weights and
--     heights, 10 MB names and reasons: each quarantined with its reason, and
--     recompute_all() goes on past a patient it cannot evaluate (since the
--     NOTIFY payload is an event id, a long unit no longer fails; the failing
--     patient is made with a trigger refusing its flags).
-- (c) careflags_fhir with hostile input: random and malformed NDJSON lines,
--     and a 50 MB resource: refused with a clear message or loaded, within
--     bounded memory; the session survives.
\c careflags_reliability
\set QUIET 1
BEGIN;
SET LOCAL client_min_messages = error;
SELECT plan(45);
SET LOCAL careflags.frozen_now = '2026-06-01 12:00+02';
SELECT setseed(0.20260601);
SELECT set_config('client_min_messages', 'error', true) \g /dev/null

INSERT INTO careflags.patient (source_system, source_key, birth_date)
SELECT 'hostile', 'h' || g, DATE '1925-01-01' + g * 211 FROM generate_series(1, 40) g;
INSERT INTO careflags.episode (patient_id, source_system, setting, started_at)
SELECT patient_id, 'hostile', (enum_range(NULL::careflags.care_setting))[1 + patient_id % 5], '2026-05-20 08:00+02'
  FROM careflags.patient WHERE source_system = 'hostile';
CREATE TEMP TABLE hp AS SELECT array_agg(patient_id) AS ids FROM careflags.patient WHERE source_system = 'hostile';

CREATE FUNCTION pg_temp.pick(a anyarray) RETURNS anyelement LANGUAGE sql VOLATILE AS
$$ SELECT a[1 + floor(random() * cardinality(a))::int] $$;
CREATE FUNCTION pg_temp.rtime() RETURNS text LANGUAGE sql VOLATILE AS $$
    SELECT pg_temp.pick(ARRAY[
        (timestamptz '2026-06-01 12:00+02' + (random() - 0.8) * interval '800 days')::text,
        (timestamptz '2026-06-01 12:00+02' + (random() - 0.5) * interval '3 days')::text,
        'infinity', '-infinity', '1900-01-01', '2999-12-31', '4713-01-01 BC', '294276-12-31 23:59:59+00',
        '2026-03-29 02:30 Europe/Oslo', '2026-10-25 02:30 Europe/Oslo', 'epoch']) $$;
CREATE FUNCTION pg_temp.rnum() RETURNS text LANGUAGE sql VOLATILE AS $$
    SELECT pg_temp.pick(ARRAY[(random() * 200)::numeric(8,2)::text, (random() * 10)::int::text, '0', '-1', '-0.0001',
        'NaN', '1e300', '-1e300', '500.0000001', '3.5', '999999999999999999999999', '0.000000000001', '4', '125', '126']) $$;
CREATE FUNCTION pg_temp.rjson() RETURNS jsonb LANGUAGE sql VOLATILE AS $$
    SELECT COALESCE(jsonb_object_agg(k, v), '{}') FROM (
        SELECT DISTINCT ON (k) pg_temp.pick(ARRAY['weight_loss', 'eating_less', 'food_intake', 'mobility', 'bmi', 'calf',
                    'stress_or_acute_disease', 'neuropsychological', 'history_of_falling', 'secondary_diagnosis', 'ambulatory_aid',
                    'iv_or_heparin_lock', 'gait', 'mental_status', 'bmi_score', 'weight_loss_score', 'acute_disease',
                    'x', '', 'Weight_Loss', repeat('k', 300), E'\u00e6\u00f8\u00e5', '"; DROP TABLE x; --']) AS k,
               pg_temp.pick(ARRAY['true', 'false', 'null', '0', '1', '2', '3', '-1', '2.5', '1e9', '"yes"', '""', '[]', '{}',
                    '[1, 2, 3]', '{"a": {"b": [null]}}', '"unsure"', '15', '30', '20', '0.0']::jsonb[]) AS v
          FROM generate_series(1, (random() * 8)::int)) x $$;

CREATE TEMP TABLE attempt (n int, tbl text, outcome text, sqlstate text, message text);
DO $fuzz$
DECLARE
    ids bigint[] := (SELECT ids FROM hp);
    tbl text;
    q text;
    st text;
    msg text;
    before bigint;
    evals bigint;
BEGIN
    FOR i IN 1 .. 3000 LOOP
        tbl := pg_temp.pick(ARRAY['measurement', 'assessment', 'medication', 'episode', 'fall', 'care_plan', 'exemption', 'medication_review']);
        q := CASE tbl
            WHEN 'measurement' THEN format('INSERT INTO careflags.measurement (patient_id, source_system, kind, value, measured_at) VALUES (%s, %L, %L, %L, %L)',
                 pg_temp.pick(ids), 'hostile', pg_temp.pick(enum_range(NULL::careflags.measurement_kind)), pg_temp.rnum(), pg_temp.rtime())
            WHEN 'assessment' THEN format('INSERT INTO careflags.assessment (patient_id, source_system, instrument, assessed_at, items, total) VALUES (%s, %L, %L, %L, %L, %s)',
                 pg_temp.pick(ids), 'hostile', pg_temp.pick(enum_range(NULL::careflags.instrument)), pg_temp.rtime(),
                 CASE WHEN random() < 0.6 THEN pg_temp.rjson()::text END, CASE WHEN random() < 0.5 THEN quote_literal(pg_temp.rnum()) ELSE 'NULL' END)
            WHEN 'medication' THEN format('INSERT INTO careflags.medication (patient_id, source_system, atc, code, name, started_at, stopped_at, as_needed, status) VALUES (%s, %L, %L, %L, %L, %L, %s, %L, %L)',
                 pg_temp.pick(ids), 'hostile', pg_temp.pick(ARRAY['N05CF01', 'C03CA01', 'N02AA01', 'A02BC01', 'n05cf01', 'N05', 'ZZZ', '', 'N05CF01 ', NULL]),
                 pg_temp.pick(ARRAY['12345', NULL, repeat('9', 2000)]), pg_temp.pick(ARRAY['Zopiclone', NULL, E'\u202eevil', repeat('x', 10000)]),
                 pg_temp.rtime(), CASE WHEN random() < 0.3 THEN quote_literal(pg_temp.rtime()) ELSE 'NULL' END, (random() < 0.2)::text,
                 pg_temp.pick(enum_range(NULL::careflags.medication_status)))
            WHEN 'episode' THEN format('INSERT INTO careflags.episode (patient_id, source_system, setting, unit_id, started_at, ended_at) VALUES (%s, %L, %L, %L, %L, %s)',
                 pg_temp.pick(ids), 'hostile', pg_temp.pick(enum_range(NULL::careflags.care_setting)), pg_temp.pick(ARRAY[NULL, 'ward-x', '']),
                 pg_temp.rtime(), CASE WHEN random() < 0.4 THEN quote_literal(pg_temp.rtime()) ELSE 'NULL' END)
            WHEN 'fall' THEN format('INSERT INTO careflags.fall (patient_id, source_system, fell_at, code) VALUES (%s, %L, %L, %L)',
                 pg_temp.pick(ids), 'hostile', pg_temp.rtime(), pg_temp.pick(ARRAY['1912002', 'W19', NULL, 'junk']))
            WHEN 'care_plan' THEN format('INSERT INTO careflags.care_plan (patient_id, source_system, kind, started_at, ended_at, last_evaluated_at) VALUES (%s, %L, %L, %L, %s, %s)',
                 pg_temp.pick(ids), 'hostile', pg_temp.pick(enum_range(NULL::careflags.plan_kind)), pg_temp.rtime(),
                 CASE WHEN random() < 0.3 THEN quote_literal(pg_temp.rtime()) ELSE 'NULL' END, CASE WHEN random() < 0.5 THEN quote_literal(pg_temp.rtime()) ELSE 'NULL' END)
            WHEN 'exemption' THEN format('INSERT INTO careflags.exemption (patient_id, source_system, scope, reason, valid_from, valid_until) VALUES (%s, %L, %L, %L, %L, %s)',
                 pg_temp.pick(ids), 'hostile', pg_temp.pick(ARRAY['*', 'nutrition', 'fall_risk.assessment', 'nutrition.screening.repeat', 'Nutrition', '', 'a..b', '*.x']),
                 pg_temp.pick(ARRAY['palliative', ' ', 'x']), pg_temp.rtime(), CASE WHEN random() < 0.5 THEN quote_literal(pg_temp.rtime()) ELSE 'NULL' END)
            ELSE format('INSERT INTO careflags.medication_review (patient_id, source_system, reviewed_at, code) VALUES (%s, %L, %L, %L)',
                 pg_temp.pick(ids), 'hostile', pg_temp.rtime(), pg_temp.pick(ARRAY['182836005', NULL, '']))
        END;
        before := (SELECT count(*) FROM careflags.quarantine WHERE fact_table <> 'evaluation');
        evals := (SELECT count(*) FROM careflags.quarantine WHERE fact_table = 'evaluation');
        BEGIN
            EXECUTE q;
            INSERT INTO attempt VALUES (i, tbl,
                CASE WHEN (SELECT count(*) FROM careflags.quarantine WHERE fact_table <> 'evaluation') > before THEN 'quarantined'
                     WHEN (SELECT count(*) FROM careflags.quarantine WHERE fact_table = 'evaluation') > evals THEN 'stored, evaluation failed'
                     ELSE 'stored' END, NULL, q);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
            INSERT INTO attempt VALUES (i, tbl, 'refused', st, msg);
        END;
    END LOOP;
END
$fuzz$;
SELECT is((SELECT count(*) FROM attempt), 3000::bigint, '(a) 3000 random writes tried');
SELECT cmp_ok((SELECT count(*) FROM attempt WHERE outcome = 'stored'), '>', 300::bigint, '(a) many were stored');
SELECT cmp_ok((SELECT count(*) FROM attempt WHERE outcome = 'quarantined'), '>', 300::bigint, '(a) many were quarantined');
SELECT is((SELECT string_agg(DISTINCT sqlstate || ' ' || left(message, 80), '; ') FROM attempt
            WHERE outcome = 'refused' AND left(sqlstate, 2) NOT IN ('22', '23')), NULL,
          '(a) every refusal is a data or constraint error (class 22/23), never internal');
SELECT is((SELECT count(*) FROM attempt WHERE outcome = 'refused' AND (message IS NULL OR length(message) < 10)), 0::bigint,
          '(a) every refusal has a message');
SELECT is((SELECT count(*) FROM careflags.quarantine WHERE source_system = 'hostile' AND (reason IS NULL OR length(reason) < 10)), 0::bigint,
          '(a) every quarantined fact has a reason');
SELECT is((SELECT count(*) FROM attempt WHERE outcome = 'quarantined'),
          (SELECT count(*) FROM careflags.quarantine WHERE source_system = 'hostile'),
          '(a) quarantine rows = writes that went to quarantine');
SELECT is((SELECT (SELECT count(*) FROM careflags.measurement WHERE source_system = 'hostile') + (SELECT count(*) FROM careflags.assessment WHERE source_system = 'hostile')
                + (SELECT count(*) FROM careflags.medication WHERE source_system = 'hostile') + (SELECT count(*) FROM careflags.episode WHERE source_system = 'hostile') - 40
                + (SELECT count(*) FROM careflags.fall WHERE source_system = 'hostile') + (SELECT count(*) FROM careflags.care_plan WHERE source_system = 'hostile')
                + (SELECT count(*) FROM careflags.exemption WHERE source_system = 'hostile') + (SELECT count(*) FROM careflags.medication_review WHERE source_system = 'hostile')),
          (SELECT count(*) FROM attempt WHERE outcome LIKE 'stored%'), '(a) stored rows = writes that were stored: nothing lost');
-- Fact times the evaluator cannot compute with (+-infinity, 4713 BC, year
-- 294276) must be stopped by the guard: stored, they made every later
-- evaluation of the patient fail and check_consistency() stop with
-- "timestamp out of range" (docs/reliability.md, "extreme times").
CREATE FUNCTION pg_temp.check_or_error() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RETURN (SELECT count(*)::text FROM careflags.check_consistency() c, hp WHERE c.patient_id = ANY (hp.ids));
EXCEPTION WHEN OTHERS THEN
    RETURN SQLERRM;
END $$;
SELECT is((SELECT count(*) FROM careflags.quarantine q WHERE q.fact_table = 'evaluation' AND q.reason IS NOT NULL),
          (SELECT count(*) FROM attempt WHERE outcome = 'stored, evaluation failed'),
          '(a) every failed evaluation is in the quarantine with its reason (never silent)');
SELECT is((SELECT count(*) FROM attempt WHERE outcome = 'stored, evaluation failed'), 0::bigint,
          '(a) no evaluation failed on what the guard let through');
SELECT is(pg_temp.check_or_error(), '0', '(a) check_consistency() runs and the 40 patients'' flags are consistent');
SELECT is((SELECT count(*) FROM careflags.measurement WHERE source_system = 'hostile' AND NOT isfinite(measured_at)), 0::bigint,
          '(a) a fact at an infinite time is quarantined, not stored');

-- (b) 100,000 medicines for one patient, in one statement
SELECT pg_backend_pid() AS pid \gset
\set hwm0 `awk '/VmHWM/ {print $2}' /proc/:pid/status`
INSERT INTO careflags.patient (source_system, source_key, birth_date) VALUES ('hostile', 'many-meds', '1930-01-01') RETURNING patient_id AS big \gset
INSERT INTO careflags.episode (patient_id, source_system, setting, started_at) VALUES (:big, 'hostile', 'home_nursing', '2026-05-01');
SELECT clock_timestamp() AS t0 \gset
INSERT INTO careflags.medication (patient_id, source_system, atc, code, name, started_at)
SELECT :big, 'hostile', NULL, 'local-' || g, 'Medicine ' || g, '2026-01-01'::timestamptz + g * interval '1 minute'
  FROM generate_series(1, 100000) g;
SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) AS secs \gset
\set hwm1 `awk '/VmHWM/ {print $2}' /proc/:pid/status`
SELECT is((SELECT count(*) FROM careflags.medication WHERE patient_id = :big), 100000::bigint, '(b) 100,000 medicines stored for one patient');
SELECT ok(EXISTS (SELECT FROM careflags.flag WHERE patient_id = :big AND rule_id = 'medication_review.excessive_polypharmacy' AND resolved_at IS NULL),
          '(b) the excessive-polypharmacy flag is raised');
SELECT cmp_ok(:secs::numeric, '<', 120::numeric, format('(b) within 120 s (took %s s)', round(:secs::numeric, 1)));
SELECT cmp_ok((:hwm1 - :hwm0) / 1024, '<', 512, format('(b) backend peak memory grew by less than 512 MB (grew %s MB)', (:hwm1 - :hwm0) / 1024));

-- (d) bad input once accepted silently
INSERT INTO careflags.unit (unit_id, name, setting) VALUES ('hostile-ward', 'Hostile ward', 'nursing_home_long_term');
INSERT INTO careflags.patient (source_system, source_key, birth_date)
SELECT 'hostile-d', 'd' || g, DATE '1935-01-01' FROM generate_series(1, 5) g;
SELECT min(patient_id) AS d1, min(patient_id) + 1 AS d2, min(patient_id) + 2 AS d3, min(patient_id) + 3 AS d4,
       min(patient_id) + 4 AS d5
  FROM careflags.patient WHERE source_system = 'hostile-d' \gset
CREATE FUNCTION pg_temp.qreason(key text) RETURNS text LANGUAGE sql AS
$$ SELECT string_agg(reason, '; ') FROM careflags.quarantine WHERE source_system = 'hostile-d' AND source_key = key $$;

-- an episode in a unit careflags does not know
INSERT INTO careflags.episode (patient_id, source_system, source_key, setting, unit_id, started_at)
VALUES (:d1, 'hostile-d', 'e-unknown', 'nursing_home_long_term', 'no-such-ward', '2026-05-20 08:00+02');
SELECT is(pg_temp.qreason('e-unknown'), 'unit "no-such-ward" is not in careflags.unit (its flags would appear on no worklist)',
          '(d) an episode in an unknown unit is quarantined with the reason');
SELECT is((SELECT count(*) FROM careflags.episode WHERE source_key = 'e-unknown'), 0::bigint,
          '(d) ... not stored, so it raises no flag that no worklist shows');

-- identifiers of 9,000 characters
INSERT INTO careflags.episode (patient_id, source_system, source_key, setting, unit_id, started_at)
VALUES (:d2, 'hostile-d', 'e-long-unit', 'nursing_home_long_term', repeat('u', 9000), '2026-05-20 08:00+02');
SELECT is(pg_temp.qreason('e-long-unit'), 'unit_id is 9000 bytes long; at most 200 allowed (careflags.max_identifier_length)',
          '(d) a unit id of 9,000 characters is quarantined with the reason');
INSERT INTO careflags.measurement (patient_id, source_system, source_key, kind, value, measured_at)
VALUES (:d2, 'hostile-d', repeat('k', 9000), 'weight', 70, '2026-05-21 08:00+02');
SELECT is((SELECT reason FROM careflags.quarantine WHERE source_system = 'hostile-d' AND source_key LIKE 'kkkk%'),
          'source_key is 9000 bytes long; at most 200 allowed (careflags.max_identifier_length)',
          '(d) a source key of 9,000 characters is quarantined with the reason');
SELECT cmp_ok((SELECT length(source_key) FROM careflags.quarantine WHERE source_system = 'hostile-d' AND source_key LIKE 'kkkk%'),
              '<', 300, '(d) ... and the quarantine keeps a prefix of it, not all of it');
INSERT INTO careflags.exemption (patient_id, source_system, source_key, scope, reason, valid_from)
VALUES (:d2, 'hostile-d', 'x-long-scope', repeat('nutrition.', 900) || 'x', 'declines', '2026-05-21 08:00+02');
SELECT is(pg_temp.qreason('x-long-scope'), 'scope is 9001 bytes long; at most 200 allowed (careflags.max_identifier_length)',
          '(d) a rule scope of 9,000 characters is quarantined with the reason');

SELECT throws_ok($$INSERT INTO careflags.unit (unit_id, name, setting) VALUES (repeat('u', 9000), 'Long', 'home_nursing')$$,
                 '22001', 'unit too long', '(d) an administrator''s unit id of 9,000 characters is refused with a clear error');
SELECT throws_ok($$INSERT INTO careflags.rule (rule_id, domain, anchor, title, settings, due_interval)
                   VALUES ('nutrition.' || repeat('x', 9000), 'nutrition', 'episode_start', 'Long', '{home_nursing}', '1 day')$$,
                 '22001', 'rule too long', '(d) so is a rule id of 9,000 characters');

-- a long unit id stored before the bound (as a database from before 1.3 may
-- hold) no longer breaks the patient's evaluation: the NOTIFY payload is an
-- event id, not the unit (it used to exceed 8,000 bytes)
SET LOCAL careflags.max_identifier_length = 10000;
INSERT INTO careflags.unit (unit_id, name, setting) VALUES (repeat('u', 9000), 'Long', 'nursing_home_long_term');
INSERT INTO careflags.episode (patient_id, source_system, source_key, setting, unit_id, started_at)
VALUES (:d3, 'hostile-d', 'e-9000', 'nursing_home_long_term', repeat('u', 9000), '2026-05-20 08:00+02');
RESET careflags.max_identifier_length;
SELECT ok((SELECT count(*) FROM careflags.episode WHERE source_key = 'e-9000') = 1
          AND EXISTS (SELECT FROM careflags.flag WHERE patient_id = :d3 AND resolved_at IS NULL)
          AND NOT EXISTS (SELECT FROM careflags.quarantine WHERE fact_table = 'evaluation' AND patient_id = :d3),
          '(d) an episode with a 9,000-character unit id (bound raised for the test) is evaluated: flags, no failure');
-- a patient whose evaluation fails (here a site's trigger on careflags.flag
-- refuses that patient's flags) must not stop recompute_all() or tick() for
-- everyone else
INSERT INTO careflags.episode (patient_id, source_system, source_key, setting, unit_id, started_at)
VALUES (:d4, 'hostile-d', 'e-ok', 'nursing_home_long_term', 'hostile-ward', '2026-05-20 08:00+02');
CREATE FUNCTION pg_temp.refuse_flag() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'flag write refused (test trigger)'; END $$;
SELECT format('CREATE TRIGGER hostile_refuse BEFORE INSERT ON careflags.flag FOR EACH ROW WHEN (NEW.patient_id = %s) EXECUTE FUNCTION pg_temp.refuse_flag()', :d3) \gexec
DELETE FROM careflags.flag WHERE patient_id IN (:d3, :d4);  -- behind careflags' back: recompute_all() must mend it
DELETE FROM careflags.quarantine WHERE fact_table = 'evaluation' AND patient_id = :d3;
SELECT lives_ok('SELECT careflags.recompute_all()', '(d) recompute_all() goes on past a patient it cannot evaluate');
SELECT ok(EXISTS (SELECT FROM careflags.flag WHERE patient_id = :d4 AND resolved_at IS NULL),
          '(d) ... and rebuilds the other patients'' flags');
SELECT alike((SELECT string_agg(reason, '; ') FROM careflags.quarantine WHERE fact_table = 'evaluation' AND patient_id = :d3),
            '%flag write refused (test trigger)%', '(d) ... quarantining that patient with the reason');
INSERT INTO careflags.patient_state (patient_id, evaluated_at, next_check_at) VALUES (:d3, '2026-05-20', '2026-05-21')
    ON CONFLICT (patient_id) DO UPDATE SET next_check_at = EXCLUDED.next_check_at;
SELECT lives_ok('SELECT * FROM careflags.tick()', '(d) so does the worker''s pass, tick(), for the patients due a check');
DROP TRIGGER hostile_refuse ON careflags.flag;

-- weight, height and BMI outside plausible adult ranges
INSERT INTO careflags.episode (patient_id, source_system, source_key, setting, unit_id, started_at)
VALUES (:d5, 'hostile-d', 'e-d5', 'nursing_home_long_term', 'hostile-ward', '2026-01-05 08:00+01');
INSERT INTO careflags.measurement (patient_id, source_system, source_key, kind, value, measured_at) VALUES
    (:d5, 'hostile-d', 'w-tiny', 'weight', 0.0001, '2026-05-01 08:00+02'),
    (:d5, 'hostile-d', 'w-1kg', 'weight', 1, '2026-05-10 08:00+02'),
    (:d5, 'hostile-d', 'h-30cm', 'height', 30, '2026-05-10 08:00+02'),
    (:d5, 'hostile-d', 'b-3', 'bmi', 3, '2026-05-10 08:00+02');
SELECT is(pg_temp.qreason('w-tiny'), 'weight 0.0001 kg is not a plausible adult value (allowed: 20 to 350 kg; careflags.weight_min/weight_max)',
          '(d) a weight of 0.0001 kg is quarantined with the reason');
SELECT is(pg_temp.qreason('h-30cm'), 'height 30 cm is not a plausible adult value (allowed: 100 to 250 cm; careflags.height_min/height_max)',
          '(d) a height of 30 cm is quarantined with the reason');
SELECT ok(pg_temp.qreason('w-1kg') IS NOT NULL AND pg_temp.qreason('b-3') IS NOT NULL, '(d) so are 1 kg and a BMI of 3');
SELECT ok(NOT EXISTS (SELECT FROM careflags.flag WHERE patient_id = :d5 AND rule_id = 'nutrition.weight_loss'),
          '(d) no malnutrition flag from impossible figures');
SET LOCAL careflags.weight_min = 0.5;
INSERT INTO careflags.measurement (patient_id, source_system, source_key, kind, value, measured_at)
VALUES (:d5, 'hostile-d', 'w-1kg-allowed', 'weight', 1, '2026-05-11 08:00+02');
RESET careflags.weight_min;
SELECT is((SELECT count(*) FROM careflags.measurement WHERE source_key = 'w-1kg-allowed'), 1::bigint,
          '(d) the ranges are settings (careflags.weight_min)');

-- 10 MB names, notes and reasons
INSERT INTO careflags.medication (patient_id, source_system, source_key, name, started_at)
VALUES (:d4, 'hostile-d', 'm-10mb', repeat('x', 10485760), '2026-05-21 08:00+02');
SELECT is(pg_temp.qreason('m-10mb'), 'name is 10485760 bytes long; at most 65536 allowed (careflags.max_text_length)',
          '(d) a 10 MB medicine name is quarantined with the reason');
SELECT cmp_ok((SELECT pg_column_size(payload) FROM careflags.quarantine WHERE source_key = 'm-10mb'), '<', 10000,
              '(d) ... and not stored in the quarantine either');
INSERT INTO careflags.patient (source_system, source_key, display_name, birth_date)
VALUES ('hostile-d', 'p-10mb', repeat('n', 10485760), '1935-01-01');
SELECT is(pg_temp.qreason('p-10mb'), 'display_name is 10485760 bytes long; at most 65536 allowed (careflags.max_text_length)',
          '(d) a 10 MB patient name is quarantined with the reason');
INSERT INTO careflags.exemption (patient_id, source_system, source_key, scope, reason, valid_from)
VALUES (:d4, 'hostile-d', 'x-10mb', '*', repeat('r', 10485760), '2026-05-21 08:00+02');
SELECT is(pg_temp.qreason('x-10mb'), 'reason is 10485760 bytes long; at most 65536 allowed (careflags.max_text_length)',
          '(d) a 10 MB exemption reason is quarantined with the reason');
SET LOCAL careflags.strict = on;
SELECT throws_ok(format('INSERT INTO careflags.medication (patient_id, source_system, source_key, name, started_at) VALUES (%s, %L, %L, repeat(%L, 10485760), %L)',
                        :d4, 'hostile-d', 'm-10mb-strict', 'x', '2026-05-21 08:00+02'),
                 '23514', 'careflags: medication fact rejected: name is 10485760 bytes long; at most 65536 allowed (careflags.max_text_length)',
                 '(d) with careflags.strict, a clear error');
RESET careflags.strict;
SELECT flag_id AS d4_flag FROM careflags.flag WHERE patient_id = :d4 AND resolved_at IS NULL ORDER BY flag_id LIMIT 1 \gset
SELECT throws_ok(format('SELECT careflags.acknowledge(%s, repeat(%L, 10485760))', :d4_flag, 'n'),
                 '22001', 'note is too long', '(d) a 10 MB note to acknowledge() is refused with a clear error');
SELECT throws_ok(format('SELECT careflags.exempt(%s, repeat(%L, 10485760), NULL)', :d4_flag, 'r'),
                 '22001', 'reason is too long', '(d) so is a 10 MB reason to exempt()');
SET LOCAL careflags.max_text_length = 100;
INSERT INTO careflags.medication (patient_id, source_system, source_key, name, started_at)
VALUES (:d4, 'hostile-d', 'm-200', repeat('y', 200), '2026-05-21 08:00+02');
RESET careflags.max_text_length;
SELECT is(pg_temp.qreason('m-200'), 'name is 200 bytes long; at most 100 allowed (careflags.max_text_length)',
          '(d) the size limit is a setting (careflags.max_text_length)');

-- (c) careflags_fhir: malformed NDJSON and a 50 MB resource
CREATE EXTENSION careflags_fhir;
SELECT careflags_fhir.setup('tables', 'public') \g /dev/null
CREATE TEMP TABLE fhir_try (what text, outcome text, sqlstate text, message text);
DO $f$
DECLARE
    st text;
    msg text;
    lines text;
BEGIN
    FOR i IN 1 .. 30 LOOP
        SELECT string_agg(pg_temp.pick(ARRAY[
                   '{"resourceType": "Observation", "id": "' || gen_random_uuid() || '", "status": "final", "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]}, "subject": {"reference": "Patient/x"}, "valueQuantity": {"value": ' || pg_temp.rnum() || ', "unit": "kg"}, "effectiveDateTime": "' || pg_temp.rtime() || '"}',
                   '{"resourceType": "Observation", "id": ', 'not json at all', '', '[]', 'null', '{"resourceType": 7}',
                   '{"resourceType": "Observation", "id": "' || repeat('z', 5000) || '"}', '{"resourceType": "Observation", "id": "\u0000"}', '{"a":' || repeat('[', 5000) || repeat(']', 5000) || '}',
                   '{"resourceType": "Patient", "id": "p", "birthDate": "1930-02-30"}']), E'\n')
          INTO lines FROM generate_series(1, 1 + (random() * 20)::int);
        BEGIN
            PERFORM * FROM careflags_fhir.load_ndjson(pg_temp.pick(ARRAY['Observation', 'Patient', 'observation', 'Obs ervation']), lines);
            INSERT INTO fhir_try VALUES ('ndjson', 'loaded');
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
            INSERT INTO fhir_try VALUES ('ndjson', 'refused', st, msg);
        END;
    END LOOP;
END $f$;
SELECT is((SELECT string_agg(DISTINCT sqlstate || ' ' || left(message, 80), '; ') FROM fhir_try
            WHERE outcome = 'refused' AND (left(sqlstate, 2) NOT IN ('22', '23') OR length(message) < 10)), NULL,
          '(c) 30 random NDJSON loads: loaded, or refused with a data error and a message');
\set hwm2 `awk '/VmHWM/ {print $2}' /proc/:pid/status`
SELECT clock_timestamp() AS t0 \gset
DO $f$
DECLARE
    st text;
    msg text;
BEGIN
    PERFORM * FROM careflags_fhir.load_bundle(jsonb_build_object('resourceType', 'Bundle', 'type', 'collection', 'entry',
        jsonb_build_array(jsonb_build_object('resource', jsonb_build_object('resourceType', 'Patient', 'id', 'huge-1',
            'birthDate', '1930-01-01', 'text', jsonb_build_object('status', 'generated', 'div', repeat('x', 50 * 1024 * 1024)))))));
    INSERT INTO fhir_try VALUES ('50 MB', 'loaded');
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    INSERT INTO fhir_try VALUES ('50 MB', 'refused', st, msg);
END $f$;
SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) AS secs \gset
\set hwm3 `awk '/VmHWM/ {print $2}' /proc/:pid/status`
SELECT ok((SELECT outcome = 'loaded' OR (left(sqlstate, 2) IN ('22', '54') AND length(message) > 10) FROM fhir_try WHERE what = '50 MB'),
          format('(c) a 50 MB FHIR resource: %s in %s s', (SELECT outcome || COALESCE(' (' || sqlstate || ': ' || message || ')', '') FROM fhir_try WHERE what = '50 MB'), round(:secs::numeric, 1)));
SELECT cmp_ok((:hwm3 - :hwm2) / 1024, '<', 1024, format('(c) backend peak memory grew by less than 1 GB for it (grew %s MB)', (:hwm3 - :hwm2) / 1024));
SELECT * FROM finish();
ROLLBACK;
