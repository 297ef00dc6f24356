-- Resolutions are true, one gap is one flag, readings §7.1-§7.18 (issue 14).
-- Each block is a defect reproduced on the code before issue 14; the
-- assertions say what clinical-rules.md §7 asks for instead.
BEGIN;
\ir fixtures.psql
SELECT plan(51);
-- response times of single flags: internal figures, no small-cell rule
SET LOCAL careflags.min_cell_size = 1;

-- the latest flag of a rule (open or resolved)
CREATE FUNCTION cft.last_flag(pid bigint, rule text) RETURNS careflags.flag LANGUAGE sql AS $$
    SELECT f FROM careflags.flag f WHERE patient_id = pid AND rule_id = rule ORDER BY flag_id DESC LIMIT 1 $$;
CREATE FUNCTION cft.n_flags(pid bigint, rule text) RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM careflags.flag WHERE patient_id = pid AND rule_id = rule $$;
-- response-time rows counted for a rule, period ending at date d
-- (reports end at month ends that are over: the 12 months ending with d's
-- month, read just after that month)
CREATE FUNCTION cft.responses(rule text, d date) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    saved text := current_setting('careflags.frozen_now');
    n bigint;
BEGIN
    PERFORM set_config('careflags.frozen_now', (date_trunc('month', d) + interval '1 month 1 day')::text, true);
    n := COALESCE((SELECT resolved FROM careflags.flag_response_times(
                       (date_trunc('month', d) + interval '1 month' - interval '1 day')::date, 18)
                    WHERE rule_id = rule), 0);
    PERFORM set_config('careflags.frozen_now', saved, true);
    RETURN n;
END $$;

SELECT cft.at('2026-03-10 12:00+01');

-- ---- 1. stopping a medicine is not a medication review (§7.16) ----
CREATE TEMP TABLE m AS SELECT cft.patient('home_nursing', '2025-01-01 10:00+01') AS id;
SELECT cft.medicine((SELECT id FROM m), atc, '2025-02-01 10:00+01'::timestamptz + n * interval '1 day')
  FROM unnest(ARRAY['C09AA05', 'A10BA02', 'B01AC06', 'C10AA01', 'C07AB02', 'A02BC01', 'C03CA01',
                    'N06AB04', 'M01AE01', 'H03AA01', 'R03AC02']) WITH ORDINALITY AS v(atc, n);
CREATE TEMP TABLE m_flag AS SELECT (cft.last_flag((SELECT id FROM m), 'medication_review.excessive_polypharmacy')).flag_id AS id;
SELECT ok(cft.is_open((SELECT id FROM m), 'medication_review.excessive_polypharmacy'), '11 regular medicines: excessive polypharmacy flag');
SELECT careflags.acknowledge((SELECT id FROM m_flag), 'seen');
UPDATE careflags.medication SET stopped_at = '2026-03-01 10:00+01'
 WHERE patient_id = (SELECT id FROM m) AND atc = 'C09AA05';
SELECT is((cft.last_flag((SELECT id FROM m), 'medication_review.excessive_polypharmacy')).flag_id, (SELECT id FROM m_flag),
          'stopping the earliest medicine (10 left) keeps the same flag');
SELECT ok((SELECT resolved_at IS NULL AND acknowledged_at IS NOT NULL FROM careflags.flag WHERE flag_id = (SELECT id FROM m_flag)),
          'still open, acknowledgement kept');
SELECT is((SELECT count(*) FROM careflags.flag WHERE patient_id = (SELECT id FROM m) AND resolution = 'done'), 0::bigint,
          'nothing resolved as done: no review exists');
-- a yearly renewal: the prescription is stopped and written again
SELECT cft.medicine((SELECT id FROM m), 'A10BA02', '2026-03-02 10:00+01');
UPDATE careflags.medication SET stopped_at = '2026-03-02 10:00+01'
 WHERE patient_id = (SELECT id FROM m) AND atc = 'A10BA02' AND started_at < '2026-01-01';
SELECT is(cft.n_flags((SELECT id FROM m), 'medication_review.excessive_polypharmacy'), 1::bigint,
          'a prescription renewal neither closes nor reopens it');
SELECT cft.review((SELECT id FROM m), '2026-03-05 10:00+01');
SELECT is((cft.last_flag((SELECT id FROM m), 'medication_review.excessive_polypharmacy')).resolution, 'done', 'a review resolves it as done');
SELECT is((SELECT row(action_table, action_id, action_at)::text FROM careflags.flag WHERE flag_id = (SELECT id FROM m_flag)),
          (SELECT row('medication_review', review_id, reviewed_at)::text FROM careflags.medication_review WHERE patient_id = (SELECT id FROM m)),
          'and names the review');
SELECT is(cft.responses('medication_review.excessive_polypharmacy', '2026-03-10'), 1::bigint, 'response times count it');
UPDATE careflags.medication SET stopped_at = '2026-03-06 10:00+01'
 WHERE patient_id = (SELECT id FROM m) AND atc IN ('B01AC06', 'C10AA01') AND stopped_at IS NULL;

-- the record system sets the status to stopped (FHIR MedicationRequest.status), no stop time
CREATE TEMP TABLE m3 AS SELECT cft.patient('home_nursing', '2025-01-01 10:00+01') AS id;
SELECT cft.medicine((SELECT id FROM m3), atc, '2025-02-01 10:00+01'::timestamptz + n * interval '1 day')
  FROM unnest(ARRAY['C09AA05', 'A10BA02', 'B01AC06', 'C10AA01', 'C07AB02', 'A02BC01', 'C03CA01',
                    'N06AB04', 'M01AE01', 'H03AA01', 'R03AC02']) WITH ORDINALITY AS v(atc, n);
CREATE TEMP TABLE m3_flag AS SELECT (cft.last_flag((SELECT id FROM m3), 'medication_review.excessive_polypharmacy')).flag_id AS id;
UPDATE careflags.medication SET status = 'stopped' WHERE patient_id = (SELECT id FROM m3) AND atc = 'C09AA05';
SELECT is((SELECT row(flag_id, resolved_at IS NULL)::text FROM careflags.flag
            WHERE patient_id = (SELECT id FROM m3) AND rule_id = 'medication_review.excessive_polypharmacy' ORDER BY flag_id DESC LIMIT 1),
          (SELECT row(id, true)::text FROM m3_flag), 'status stopped (10 left): the same flag, still open');

-- a stop below the threshold: cleared, not done
CREATE TEMP TABLE m2 AS SELECT cft.patient('home_nursing', '2025-01-01 10:00+01') AS id;
SELECT cft.medicine((SELECT id FROM m2), atc, '2025-02-01 10:00+01')
  FROM unnest(ARRAY['C09AA05', 'A10BA02', 'B01AC06', 'C10AA01', 'C07AB02', 'A02BC01', 'C03CA01', 'N06AB04', 'M01AE01', 'H03AA01']) atc;
UPDATE careflags.medication SET stopped_at = '2026-03-01 10:00+01' WHERE patient_id = (SELECT id FROM m2) AND atc = 'H03AA01';
SELECT is((cft.last_flag((SELECT id FROM m2), 'medication_review.excessive_polypharmacy')).resolution, 'cleared',
          '9 left: resolved as cleared');

-- ---- 2. a fall deleted as recorded in error: corrected, not done (§7.17) ----
CREATE TEMP TABLE f AS SELECT cft.patient('home_nursing', '2025-09-01 10:00+02') AS id;
SELECT cft.screen((SELECT id FROM f), '2025-10-22 10:00+02', 20, 'morse');
SELECT cft.fall((SELECT id FROM f), '2026-03-08 10:00+01');
SELECT ok(cft.is_open((SELECT id FROM f), 'fall_risk.assessment.after_fall'), 'a fall after the assessment: flag');
DELETE FROM careflags.fall WHERE patient_id = (SELECT id FROM f);
SELECT is((cft.last_flag((SELECT id FROM f), 'fall_risk.assessment.after_fall')).resolution, 'corrected',
          'the fall deleted: resolved as corrected');
SELECT ok((cft.last_flag((SELECT id FROM f), 'fall_risk.assessment.after_fall')).action_at IS NULL,
          'no action time from the assessment 137 days before the fall');
SELECT is(cft.responses('fall_risk.assessment.after_fall', '2026-03-10'), 0::bigint, 'response times do not count it');

-- ---- 9. a review before the trigger does not make a FRID flag done (§7.17) ----
CREATE TEMP TABLE d AS SELECT cft.patient('home_nursing', '2025-01-01 10:00+01') AS id;
SELECT cft.screen((SELECT id FROM d), '2025-12-01 10:00+01', 20, 'morse');
SELECT cft.medicine((SELECT id FROM d), 'N05CD02', '2025-06-01 10:00+02');
SELECT cft.at('2026-01-10 12:00+01');
SELECT cft.fall((SELECT id FROM d), '2026-01-10 10:00+01');
SELECT cft.review((SELECT id FROM d), '2026-01-15 10:00+01');
SELECT cft.at('2026-01-30 12:00+01');
SELECT cft.screen((SELECT id FROM d), '2026-01-30 10:00+01', 60, 'morse');
SELECT ok(cft.is_open((SELECT id FROM d), 'medication_review.fall_risk_drugs'), 'a high Morse score after the review: FRID flag');
SELECT cft.at('2026-01-31 12:00+01');
SELECT cft.screen((SELECT id FROM d), '2026-01-31 10:00+01', 20, 'morse');
SELECT is((cft.last_flag((SELECT id FROM d), 'medication_review.fall_risk_drugs')).resolution, 'cleared',
          'a low score the next day: cleared, not done by the review from before');
SELECT ok((cft.last_flag((SELECT id FROM d), 'medication_review.fall_risk_drugs')).action_id IS NULL, 'and names no action');

-- ---- a deleted action reopens the flag it resolved (same row, audited) ----
SELECT cft.at('2026-03-10 12:00+01');
CREATE TEMP TABLE r AS SELECT cft.patient('home_nursing', '2025-09-01 10:00+02') AS id;
SELECT cft.screen((SELECT id FROM r), '2025-10-22 10:00+02', 20, 'morse');
SELECT cft.fall((SELECT id FROM r), '2026-03-08 10:00+01');
CREATE TEMP TABLE r_flag AS SELECT (cft.last_flag((SELECT id FROM r), 'fall_risk.assessment.after_fall')).flag_id AS id;
SELECT careflags.acknowledge((SELECT id FROM r_flag), NULL);
INSERT INTO careflags.assessment (patient_id, instrument, assessed_at, total, source_key)
     VALUES ((SELECT id FROM r), 'morse', '2026-03-09 10:00+01', 30, 'r-after');
SELECT is((SELECT row(resolution, action_table)::text FROM careflags.flag WHERE flag_id = (SELECT id FROM r_flag)),
          '(done,assessment)', 'an assessment after the fall: done, naming it');
SELECT is((SELECT action_id FROM careflags.flag WHERE flag_id = (SELECT id FROM r_flag)),
          (SELECT assessment_id FROM careflags.assessment WHERE source_key = 'r-after'), 'the assessment''s id');
DELETE FROM careflags.assessment WHERE source_key = 'r-after';
SELECT ok((SELECT resolved_at IS NULL AND resolution IS NULL AND action_id IS NULL FROM careflags.flag WHERE flag_id = (SELECT id FROM r_flag)),
          'the assessment deleted: the same flag is open again');
SELECT is(cft.n_flags((SELECT id FROM r), 'fall_risk.assessment.after_fall'), 1::bigint, 'no second flag');
SELECT ok((SELECT acknowledged_at IS NOT NULL FROM careflags.flag WHERE flag_id = (SELECT id FROM r_flag)), 'with its acknowledgement');
SELECT is((SELECT action FROM careflags.audit WHERE flag_id = (SELECT id FROM r_flag) ORDER BY audit_id DESC LIMIT 1),
          'reopen', 'the reopening is in the audit');
SELECT ok((careflags.verify_audit()).intact, 'and the audit chain is intact');
-- an assessment corrected to a time before the fall does not count either
INSERT INTO careflags.assessment (patient_id, instrument, assessed_at, total, source_key)
     VALUES ((SELECT id FROM r), 'morse', '2026-03-09 11:00+01', 30, 'r-after2');
SELECT is((SELECT resolution FROM careflags.flag WHERE flag_id = (SELECT id FROM r_flag)), 'done', 'done again');
UPDATE careflags.assessment SET assessed_at = '2026-03-07 10:00+01' WHERE source_key = 'r-after2';
SELECT ok((SELECT resolved_at IS NULL FROM careflags.flag WHERE flag_id = (SELECT id FROM r_flag)),
          'its time corrected to before the fall: open again');
SELECT is((SELECT count(*) FROM careflags.check_consistency()), 0::bigint, 'check_consistency() finds nothing');

-- an episode start corrected to after the screening that resolved the admission flag
CREATE TEMP TABLE c AS SELECT cft.patient('home_nursing', '2026-03-01 10:00+01') AS id;
SELECT cft.screen((SELECT id FROM c), '2026-03-02 10:00+01', 0);
CREATE TEMP TABLE c_flag AS SELECT (cft.last_flag((SELECT id FROM c), 'nutrition.screening.start_of_home_care')).flag_id AS id;
SELECT is((SELECT resolution FROM careflags.flag WHERE flag_id = (SELECT id FROM c_flag)), 'done', 'a screening after the start: done');
UPDATE careflags.episode SET started_at = '2026-03-05 10:00+01' WHERE patient_id = (SELECT id FROM c);
SELECT is((SELECT row(resolved_at IS NULL, due_from)::text FROM careflags.flag WHERE flag_id = (SELECT id FROM c_flag)),
          (SELECT row(true, '2026-03-05 10:00+01'::timestamptz)::text),
          'the start corrected to after it: the same flag open again, due from the new start');

-- check_consistency() sees a wrong resolution (facts changed behind careflags' back)
INSERT INTO careflags.assessment (patient_id, instrument, assessed_at, total, source_key)
     VALUES ((SELECT id FROM r), 'morse', '2026-03-09 12:00+01', 30, 'r-after3');
SET LOCAL session_replication_role = replica;
DELETE FROM careflags.assessment WHERE source_key = 'r-after3';
RESET session_replication_role;
SELECT ok(EXISTS (SELECT FROM careflags.check_consistency() c
                   WHERE c.patient_id = (SELECT id FROM r) AND c.difference LIKE '%resolved done by assessment%'),
          'check_consistency() reports a done flag whose assessment is gone');
SELECT careflags.recompute_all();
SELECT is((SELECT count(*) FROM careflags.check_consistency()), 0::bigint, 'recompute_all() repairs it');

-- ---- 3. the state does not depend on the reader's time zone (§7.15) ----
SELECT is((SELECT provolatile::text FROM pg_proc WHERE oid = 'careflags.flag_state(timestamptz, timestamptz, interval, timestamptz)'::regprocedure),
          's', 'flag_state() is STABLE');
-- a repeat assessment due 30 March 2026 10:00 (summer time), window 7 calendar days in Oslo
CREATE TEMP TABLE z AS SELECT cft.patient('home_nursing', '2025-09-01 10:00+02', unit => 'ward-z') AS id;
INSERT INTO careflags.unit (unit_id, name) VALUES ('ward-z', 'Z') ON CONFLICT DO NOTHING;
SELECT cft.screen((SELECT id FROM z), '2025-09-30 10:00+02', 20, 'morse');
SELECT cft.at('2026-03-23 08:30+00');
SET LOCAL TimeZone = 'UTC';
CREATE TEMP TABLE zs AS SELECT 'UTC' AS tz, cft.state((SELECT id FROM z), 'fall_risk.assessment.repeat') AS state,
       (SELECT count(*) FROM careflags.worklist WHERE patient_id = (SELECT id FROM z) AND rule_id = 'fall_risk.assessment.repeat') AS rows;
SET LOCAL TimeZone = 'Europe/Oslo';
INSERT INTO zs SELECT 'Oslo', cft.state((SELECT id FROM z), 'fall_risk.assessment.repeat'),
       (SELECT count(*) FROM careflags.worklist WHERE patient_id = (SELECT id FROM z) AND rule_id = 'fall_risk.assessment.repeat');
SET LOCAL TimeZone = 'America/New_York';
INSERT INTO zs SELECT 'NY', cft.state((SELECT id FROM z), 'fall_risk.assessment.repeat'),
       (SELECT count(*) FROM careflags.worklist WHERE patient_id = (SELECT id FROM z) AND rule_id = 'fall_risk.assessment.repeat');
RESET TimeZone;
SELECT is((SELECT array_agg(DISTINCT state) FROM zs), ARRAY['upcoming'],
          '08:30 UTC, 7 Oslo days before 30 March 10:00: upcoming for readers in UTC, Oslo and New York');
SELECT is((SELECT array_agg(DISTINCT rows) FROM zs), ARRAY[0::bigint], 'and on no one''s worklist');
SELECT cft.at('2026-03-23 09:00+00');
SET LOCAL TimeZone = 'UTC';
SELECT is((SELECT count(*) FROM careflags.worklist WHERE patient_id = (SELECT id FROM z) AND rule_id = 'fall_risk.assessment.repeat'), 1::bigint, '09:00 UTC: on the worklist read in UTC');
SET LOCAL TimeZone = 'Europe/Oslo';
SELECT is((SELECT count(*) FROM careflags.worklist WHERE patient_id = (SELECT id FROM z) AND rule_id = 'fall_risk.assessment.repeat'), 1::bigint, 'and read in Oslo');
RESET TimeZone;

-- ---- 4. an event trigger before the episode start: 7 days from the start (§7.2) ----
SELECT cft.at('2026-03-02 12:00+01');
CREATE TEMP TABLE e AS SELECT cft.patient('home_nursing', '2026-03-01 10:00+01') AS id;
SELECT cft.screen((SELECT id FROM e), '2026-03-01 11:00+01', 20, 'morse');
SELECT cft.fall((SELECT id FROM e), '2026-03-01 10:30+01');
SELECT cft.fall((SELECT id FROM e), '2026-02-20 10:00+01');
CREATE TEMP TABLE e2 AS SELECT cft.patient('gp', '2026-03-01 10:00+01') AS id;
SELECT cft.fall((SELECT id FROM e2), '2026-02-20 10:00+01');
SELECT is(cft.due((SELECT id FROM e2), 'fall_risk.assessment.after_fall'),
          '2026-03-01 10:00:00 .. 2026-03-08 10:00:00', 'a fall before the episode: due from the start, 7 days to act');
SELECT is(cft.state((SELECT id FROM e2), 'fall_risk.assessment.after_fall'), 'due', 'due, not overdue on arrival');

-- ---- 5. defaults: 7-day window of the repeat assessment; as-needed FRIDs count (§7.2, §7.9) ----
SELECT is((SELECT due_soon_window FROM careflags.rule WHERE rule_id = 'fall_risk.assessment.repeat'), '7 days'::interval,
          'repeat fall-risk assessment: due soon 7 days ahead');
CREATE TEMP TABLE p AS SELECT cft.patient('home_nursing', '2025-01-01 10:00+01') AS id;
SELECT cft.screen((SELECT id FROM p), '2026-03-01 10:00+01', 60, 'morse');
SELECT cft.medicine((SELECT id FROM p), 'N05CD02', '2025-06-01 10:00+02', as_needed => true);
SELECT ok(cft.is_open((SELECT id FROM p), 'medication_review.fall_risk_drugs'), 'high fall risk and an as-needed hypnotic: FRID flag');

-- ---- 6. one gap, one flag: no repeat assessment while after-fall is open (§7.4, §7.18) ----
SELECT cft.at('2026-03-10 12:00+01');
CREATE TEMP TABLE g AS SELECT cft.patient('nursing_home_long_term', '2025-01-01 10:00+01') AS id;
SELECT cft.screen((SELECT id FROM g), '2025-06-01 10:00+02', 20, 'morse');
SELECT ok(cft.is_open((SELECT id FROM g), 'fall_risk.assessment.repeat'), 'assessment 9 months ago: repeat flag');
SELECT cft.fall((SELECT id FROM g), '2026-03-08 10:00+01');
SELECT is(array_to_string(ARRAY(SELECT rule_id FROM careflags.flag WHERE patient_id = (SELECT id FROM g) AND resolved_at IS NULL
                                 AND domain = 'fall_risk' ORDER BY rule_id), ','),
          'fall_risk.assessment.after_fall', 'a fall: one fall-risk flag (after the fall), not two');
SELECT cft.screen((SELECT id FROM g), '2026-03-09 10:00+01', 20, 'morse');
SELECT is(array_to_string(ARRAY(SELECT rule_id FROM careflags.flag WHERE patient_id = (SELECT id FROM g) AND resolved_at IS NULL
                                 AND domain = 'fall_risk' ORDER BY rule_id), ','),
          'fall_risk.assessment.repeat', 'assessed: the next repeat assessment is the only one');
SELECT is(cft.due((SELECT id FROM g), 'fall_risk.assessment.repeat'), '2026-09-09 10:00:00 .. 2026-09-09 10:00:00', 'due 6 months on');
SELECT is((cft.last_flag((SELECT id FROM g), 'fall_risk.assessment.after_fall')).resolution, 'done', 'the after-fall flag is done');

-- ---- 8. day-based due times across a daylight-saving change (§7.1) ----
SELECT cft.at('2026-03-28 13:00+01');
CREATE TEMP TABLE s AS SELECT cft.patient('nursing_home_short_term', '2026-03-28 12:00+01') AS id;
SELECT is(cft.due((SELECT id FROM s), 'nutrition.screening.admission_short_term'),
          '2026-03-28 12:00:00 .. 2026-03-29 12:00:00', 'within 1 day across the change to summer time: same local time');
SELECT is((SELECT due_at - due_from FROM careflags.flag WHERE patient_id = (SELECT id FROM s)
            AND rule_id = 'nutrition.screening.admission_short_term' AND resolved_at IS NULL), '23:00:00'::interval,
          'a day of 23 hours');
CREATE TEMP TABLE s2 AS SELECT cft.patient('gp', '2026-03-01 10:00+01') AS id;
SELECT cft.fall((SELECT id FROM s2), '2026-03-27 10:00+01');
SELECT is(cft.due((SELECT id FROM s2), 'fall_risk.assessment.after_fall'),
          '2026-03-27 10:00:00 .. 2026-04-03 10:00:00', '7 calendar days after a fall across the change');
SELECT cft.at('2026-10-20 12:00+02');
SET LOCAL TimeZone = 'UTC';
CREATE TEMP TABLE s3 AS SELECT cft.patient('gp', '2026-10-01 10:00+02') AS id;
SELECT cft.fall((SELECT id FROM s3), '2026-10-20 10:00+02');
RESET TimeZone;
SELECT is(cft.due((SELECT id FROM s3), 'fall_risk.assessment.after_fall'),
          '2026-10-20 10:00:00 .. 2026-10-27 10:00:00', 'across the change back to winter time (a 25-hour day), written in a UTC session');
SELECT is((SELECT due_at - due_from FROM careflags.flag WHERE patient_id = (SELECT id FROM s3)
            AND rule_id = 'fall_risk.assessment.after_fall' AND resolved_at IS NULL), '7 days 01:00:00'::interval,
          'seven calendar days of 169 hours');

SELECT is((SELECT count(*) FROM careflags.check_consistency()), 0::bigint, 'check_consistency() finds nothing at the end');

SELECT * FROM finish();
ROLLBACK;
