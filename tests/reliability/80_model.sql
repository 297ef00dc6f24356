-- Model-based test of flag histories (issue 14; clinical-rules.md §7.16,
-- §7.17): random sequences of inserts, updates and deletes of every fact
-- kind (and deaths recorded and taken back) for a few patients, the test clock (careflags.frozen_now) moving on
-- between steps and careflags.tick() doing what the worker does.  After every
-- step:
--   (a) the stored flags equal a fresh evaluation of the facts
--       (check_consistency(): open flags, and done flags whose action fact
--       no longer qualifies);
--   (b) every flag resolved done names an action fact that exists, of the
--       rule's kind, at action_at, inside the flag's window (at or after the
--       fact that raised it; strictly after it for repeat and plan-evaluation
--       rules);
--   (c) no flag is resolved done without one;
--   (d) acknowledgements survive while the gap persists: an acknowledged
--       flag is never closed and replaced by a newer flag of the same rule and
--       episode in one step unless it was done;
--   (e) the open flags (rule, due_from, due_at) equal those of an independent
--       evaluation, the benchmark's hand-written SQL (bench/baseline.sql);
--   (f) a write evaluates only the rules its table feeds (issue 18): a full
--       evaluation of every patient of the history (recompute_patient())
--       then changes no flag, and leaves the next check times as the
--       incremental path stored them (patient_state.next_check_at and
--       next_check_by_domain).
-- Bounded: CAREFLAGS_MODEL_SECONDS (default 45) of histories from seed
-- CAREFLAGS_MODEL_SEED (default 14); scripts/long/model.sh runs it longer.
\c careflags_reliability
\set QUIET 1
\getenv model_seconds CAREFLAGS_MODEL_SECONDS
\if :{?model_seconds}
\else
\set model_seconds 45
\endif
\getenv model_seed CAREFLAGS_MODEL_SEED
\if :{?model_seed}
\else
\set model_seed 14
\endif
SET client_min_messages = warning;
BEGIN;
SELECT plan(9);
-- the unit every history's episodes are in (an episode's unit must be known)
INSERT INTO careflags.unit (unit_id, name) VALUES ('ward-m', 'Model ward') ON CONFLICT DO NOTHING;
-- an independent evaluation: the hand-written SQL of the benchmark
\i bench/baseline.sql
SET client_min_messages = warning;

CREATE TEMP TABLE model_violation (history int, step int, kind text, detail text);
CREATE TEMP TABLE model_stats (histories int, steps int, full_steps int, writes int, failed_writes int,
                               raised bigint, done bigint, other_resolved bigint, reopened bigint);

-- A random element of an array.
CREATE FUNCTION pg_temp.pick(a anyarray) RETURNS anyelement LANGUAGE sql AS
$$ SELECT a[1 + floor(random() * array_length(a, 1))::int] $$;

-- A random time in the days before t.
CREATE FUNCTION pg_temp.before(t timestamptz, days int) RETURNS timestamptz LANGUAGE sql AS
$$ SELECT t - (random() * days) * interval '1 day' $$;

-- One random write of any fact kind for one of the patients; false if the
-- statement was refused (a constraint, nothing to change).
CREATE FUNCTION pg_temp.random_write(pids bigint[], now timestamptz) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    p bigint := pg_temp.pick(pids);
    op int := floor(random() * 30)::int;
    n int;
BEGIN
    CASE
    WHEN op < 4 THEN          -- assessment: nutrition or fall risk
        IF random() < 0.5 THEN
            INSERT INTO careflags.assessment (patient_id, instrument, assessed_at, total)
            VALUES (p, 'mst', pg_temp.before(now, 40), floor(random() * 6));
        ELSE
            INSERT INTO careflags.assessment (patient_id, instrument, assessed_at, total)
            VALUES (p, 'morse', pg_temp.before(now, 40), 5 * floor(random() * 26));
        END IF;
    WHEN op < 6 THEN
        UPDATE careflags.assessment SET assessed_at = pg_temp.before(now, 60)
         WHERE (patient_id, assessment_id) = (SELECT patient_id, assessment_id FROM careflags.assessment
                                               WHERE patient_id = p ORDER BY random() LIMIT 1);
    WHEN op < 7 THEN
        DELETE FROM careflags.assessment
         WHERE (patient_id, assessment_id) = (SELECT patient_id, assessment_id FROM careflags.assessment
                                               WHERE patient_id = p ORDER BY random() LIMIT 1);
    WHEN op < 9 THEN          -- weights
        INSERT INTO careflags.measurement (patient_id, kind, value, measured_at)
        VALUES (p, 'weight', 45 + random() * 35, pg_temp.before(now, 120));
    WHEN op < 10 THEN
        DELETE FROM careflags.measurement
         WHERE (patient_id, measurement_id) = (SELECT patient_id, measurement_id FROM careflags.measurement
                                                WHERE patient_id = p ORDER BY random() LIMIT 1);
    WHEN op < 13 THEN         -- medicines: regular or as needed, some fall-risk-increasing
        INSERT INTO careflags.medication (patient_id, atc, started_at, as_needed)
        VALUES (p, pg_temp.pick(ARRAY['C09AA05', 'A10BA02', 'B01AC06', 'C10AA01', 'C07AB02', 'A02BC01',
                                      'N06AB04', 'M01AE01', 'H03AA01', 'R03AC02', 'N05CD02', 'N05CF01',
                                      'C03CA01', 'N02AA01', 'A12AX', 'B03BB01']),
                pg_temp.before(now, 300), random() < 0.15);
    WHEN op < 14 THEN
        UPDATE careflags.medication SET stopped_at = GREATEST(started_at, pg_temp.before(now, 10))
         WHERE (patient_id, medication_id) = (SELECT patient_id, medication_id FROM careflags.medication
                                               WHERE patient_id = p AND stopped_at IS NULL ORDER BY random() LIMIT 1);
    WHEN op < 15 THEN
        UPDATE careflags.medication SET status = pg_temp.pick(ARRAY['entered_in_error', 'active', 'stopped']::careflags.medication_status[])
         WHERE (patient_id, medication_id) = (SELECT patient_id, medication_id FROM careflags.medication
                                               WHERE patient_id = p ORDER BY random() LIMIT 1);
    WHEN op < 16 THEN
        DELETE FROM careflags.medication
         WHERE (patient_id, medication_id) = (SELECT patient_id, medication_id FROM careflags.medication
                                               WHERE patient_id = p ORDER BY random() LIMIT 1);
    WHEN op < 18 THEN         -- medication reviews
        INSERT INTO careflags.medication_review (patient_id, reviewed_at) VALUES (p, pg_temp.before(now, 40));
    WHEN op < 19 THEN
        UPDATE careflags.medication_review SET reviewed_at = pg_temp.before(now, 60)
         WHERE (patient_id, review_id) = (SELECT patient_id, review_id FROM careflags.medication_review
                                           WHERE patient_id = p ORDER BY random() LIMIT 1);
    WHEN op < 20 THEN
        DELETE FROM careflags.medication_review
         WHERE (patient_id, review_id) = (SELECT patient_id, review_id FROM careflags.medication_review
                                           WHERE patient_id = p ORDER BY random() LIMIT 1);
    WHEN op < 21 THEN         -- care plans: made, evaluated, ended, deleted
        INSERT INTO careflags.care_plan (patient_id, kind, started_at)
        VALUES (p, pg_temp.pick(ARRAY['nutrition', 'fall_prevention']::careflags.plan_kind[]), pg_temp.before(now, 30));
    WHEN op < 22 THEN
        UPDATE careflags.care_plan SET last_evaluated_at = GREATEST(started_at, pg_temp.before(now, 10))
         WHERE (patient_id, plan_id) = (SELECT patient_id, plan_id FROM careflags.care_plan
                                         WHERE patient_id = p ORDER BY random() LIMIT 1);
    WHEN op < 23 THEN
        IF random() < 0.5 THEN
            UPDATE careflags.care_plan SET ended_at = GREATEST(started_at, COALESCE(last_evaluated_at, started_at), pg_temp.before(now, 5))
             WHERE (patient_id, plan_id) = (SELECT patient_id, plan_id FROM careflags.care_plan
                                             WHERE patient_id = p ORDER BY random() LIMIT 1);
        ELSE
            DELETE FROM careflags.care_plan
             WHERE (patient_id, plan_id) = (SELECT patient_id, plan_id FROM careflags.care_plan
                                             WHERE patient_id = p ORDER BY random() LIMIT 1);
        END IF;
    WHEN op < 25 THEN         -- falls
        INSERT INTO careflags.fall (patient_id, fell_at) VALUES (p, pg_temp.before(now, 30));
    WHEN op < 26 THEN
        IF random() < 0.5 THEN
            DELETE FROM careflags.fall
             WHERE (patient_id, fall_id) = (SELECT patient_id, fall_id FROM careflags.fall
                                             WHERE patient_id = p ORDER BY random() LIMIT 1);
        ELSE
            UPDATE careflags.fall SET fell_at = pg_temp.before(now, 60)
             WHERE (patient_id, fall_id) = (SELECT patient_id, fall_id FROM careflags.fall
                                             WHERE patient_id = p ORDER BY random() LIMIT 1);
        END IF;
    WHEN op < 27 THEN         -- episodes: a move to another setting, a corrected start, a deleted stay
        n := floor(random() * 3)::int;
        IF n = 0 THEN
            UPDATE careflags.episode SET ended_at = now - interval '1 hour'
             WHERE patient_id = p AND ended_at IS NULL AND started_at < now - interval '1 hour';
            INSERT INTO careflags.episode (patient_id, setting, unit_id, started_at)
            VALUES (p, pg_temp.pick(enum_range(NULL::careflags.care_setting)), 'ward-m', now - interval '30 minutes');
        ELSIF n = 1 THEN
            UPDATE careflags.episode SET started_at = pg_temp.before(now, 20)
             WHERE (patient_id, episode_id) = (SELECT patient_id, episode_id FROM careflags.episode
                                                WHERE patient_id = p AND ended_at IS NULL ORDER BY random() LIMIT 1);
        ELSE
            DELETE FROM careflags.episode
             WHERE (patient_id, episode_id) = (SELECT patient_id, episode_id FROM careflags.episode
                                                WHERE patient_id = p ORDER BY started_at DESC LIMIT 1);
        END IF;
    WHEN op < 28 THEN         -- an exemption, or its removal
        IF random() < 0.6 THEN
            INSERT INTO careflags.exemption (patient_id, scope, reason, valid_from, valid_until)
            VALUES (p, pg_temp.pick(ARRAY['nutrition', 'fall_risk.assessment', 'medication_review.fall_risk_drugs']),
                    'model test', pg_temp.before(now, 5), now + random() * interval '20 days');
        ELSE
            DELETE FROM careflags.exemption
             WHERE (patient_id, exemption_id) = (SELECT patient_id, exemption_id FROM careflags.exemption
                                                   WHERE patient_id = p ORDER BY random() LIMIT 1);
        END IF;
    WHEN op < 29 AND random() < 0.15 THEN  -- a death recorded, or taken back as recorded in error
        UPDATE careflags.patient SET deceased = NOT deceased,
               deceased_at = CASE WHEN deceased THEN NULL ELSE pg_temp.before(now, 3) END
         WHERE patient_id = p;
    ELSE                      -- a nurse acknowledges an open flag
        PERFORM careflags.acknowledge(f.flag_id, NULL)
           FROM careflags.flag f
          WHERE f.patient_id = p AND f.resolved_at IS NULL AND f.acknowledged_at IS NULL
          ORDER BY random() LIMIT 1;
    END CASE;
    RETURN true;
EXCEPTION WHEN check_violation OR not_null_violation OR foreign_key_violation OR unique_violation
               OR invalid_datetime_format OR datetime_field_overflow THEN
    RETURN false;
END $$;

-- The invariants (b) and (c) for the patients: one row per broken flag.
CREATE FUNCTION pg_temp.wrong_done(pids bigint[]) RETURNS TABLE (flag_id bigint, detail text) LANGUAGE sql AS $$
    SELECT f.flag_id, format('flag %s (%s) done by %s %s at %s, trigger %s', f.flag_id, f.rule_id,
                             f.action_table, f.action_id, f.action_at, f.trigger_at)
      FROM careflags.flag f JOIN careflags.rule r USING (rule_id)
     WHERE f.patient_id = ANY (pids) AND f.resolution = 'done'
       AND NOT (f.action_id IS NOT NULL AND f.action_at IS NOT NULL
                AND CASE WHEN r.anchor = 'episode_start'
                         THEN f.action_at >= (SELECT e.started_at FROM careflags.episode e
                                               WHERE e.patient_id = f.patient_id AND e.episode_id = f.episode_id)
                         ELSE (f.trigger_at IS NULL OR f.action_at > f.trigger_at
                               OR (f.action_at = f.trigger_at AND r.anchor NOT IN ('last_event', 'plan_evaluation')))
                    END
                AND CASE f.action_table
                    WHEN 'assessment' THEN EXISTS (
                        SELECT FROM careflags.assessment a
                         WHERE a.patient_id = f.patient_id AND a.assessment_id = f.action_id AND a.assessed_at = f.action_at
                           AND (a.instrument IN ('mst', 'mna_sf', 'must', 'nrs_2002', 'nutrition_unspecified'))
                               = (f.domain = 'nutrition'))
                    WHEN 'medication_review' THEN f.domain = 'medication_review' AND EXISTS (
                        SELECT FROM careflags.medication_review v
                         WHERE v.patient_id = f.patient_id AND v.review_id = f.action_id AND v.reviewed_at = f.action_at)
                    WHEN 'care_plan' THEN EXISTS (
                        SELECT FROM careflags.care_plan c
                         WHERE c.patient_id = f.patient_id AND c.plan_id = f.action_id
                           AND (c.kind = 'fall_prevention') = (f.domain = 'fall_risk')
                           AND (c.started_at = f.action_at OR c.last_evaluated_at = f.action_at
                                OR (r.anchor = 'risk_result' AND c.started_at <= f.action_at
                                    AND (c.ended_at IS NULL OR c.ended_at > f.action_at))))
                    ELSE false END)
$$;

CREATE FUNCTION pg_temp.model(seed float8, seconds int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    started timestamptz := clock_timestamp();
    h int := 0;
    steps int := 0;
    writes int := 0;
    failed int := 0;
    now_ timestamptz;
    pids bigint[];
    p bigint;
    acked bigint[];
    before_max bigint;
    full_changes bigint;
    model_full_steps int := 0;
    r record;
BEGIN
    PERFORM setseed(seed);
    WHILE clock_timestamp() - started < seconds * interval '1 second' LOOP
        h := h + 1;
        now_ := '2026-01-05 09:00+01'::timestamptz + random() * interval '300 days';
        PERFORM set_config('careflags.frozen_now', now_::text, true);
        pids := '{}';
        FOR i IN 1 .. 3 LOOP
            INSERT INTO careflags.patient (birth_date, display_name)
            VALUES (date '1930-01-01' + floor(random() * 11000)::int, 'Model ' || h || '.' || i)
            RETURNING patient_id INTO p;
            INSERT INTO careflags.episode (patient_id, setting, unit_id, started_at)
            VALUES (p, pg_temp.pick(enum_range(NULL::careflags.care_setting)), 'ward-m', pg_temp.before(now_, 200));
            pids := pids || p;
        END LOOP;
        FOR s IN 1 .. 40 LOOP
            steps := steps + 1;
            -- the clock moves on (often not at all, sometimes weeks); the worker's tick
            IF random() < 0.6 THEN
                now_ := now_ + random() * interval '12 days';
                PERFORM set_config('careflags.frozen_now', now_::text, true);
                PERFORM careflags.tick();
            END IF;
            acked := ARRAY(SELECT f.flag_id FROM careflags.flag f
                            WHERE f.patient_id = ANY (pids) AND f.resolved_at IS NULL AND f.acknowledged_at IS NOT NULL);
            SELECT COALESCE(max(f.flag_id), 0) INTO before_max FROM careflags.flag f WHERE f.patient_id = ANY (pids);
            IF pg_temp.random_write(pids, now_) THEN writes := writes + 1; ELSE failed := failed + 1; END IF;

            -- (a) stored flags = fresh evaluation
            INSERT INTO model_violation
            SELECT h, s, 'consistency', format('patient %s %s: %s', c.patient_id, c.rule_id, c.difference)
              FROM careflags.check_consistency() c WHERE c.patient_id = ANY (pids);
            -- (e) the open flags equal those of the hand-written baseline
            PERFORM set_config('baseline.now', now_::text, true);
            INSERT INTO model_violation
            SELECT h, s, 'baseline', format('patient %s %s: careflags %s .. %s, baseline %s .. %s', patient_id, rule_id,
                                            c.due_from, c.due_at, b.due_from, b.due_at)
              FROM (SELECT f.patient_id, f.rule_id, f.due_from, f.due_at FROM careflags.flag f
                     WHERE f.patient_id = ANY (pids) AND f.resolved_at IS NULL) c
              FULL JOIN (SELECT bf.patient_id, bf.rule_id, bf.due_from, bf.due_at FROM baseline.flag bf
                          WHERE bf.patient_id = ANY (pids)) b USING (patient_id, rule_id)
             WHERE c.due_at IS DISTINCT FROM b.due_at OR c.due_from IS DISTINCT FROM b.due_from;
            -- (f) the full evaluation agrees with what the write's incremental evaluation left
            CREATE TEMP TABLE IF NOT EXISTS model_state_before AS
                SELECT s.patient_id, s.next_check_at, s.next_check_by_domain FROM careflags.patient_state s LIMIT 0;
            TRUNCATE model_state_before;
            INSERT INTO model_state_before
            SELECT s.patient_id, s.next_check_at, s.next_check_by_domain
              FROM careflags.patient_state s WHERE s.patient_id = ANY (pids);
            SELECT COALESCE(sum(careflags.recompute_patient(x)), 0) INTO full_changes FROM unnest(pids) x;
            model_full_steps := model_full_steps + 1;
            IF full_changes <> 0 THEN
                INSERT INTO model_violation VALUES (h, s, 'full', format('a full evaluation changed %s flags', full_changes));
            END IF;
            INSERT INTO model_violation
            SELECT h, s, 'full', format('patient %s: next check %s %s after the write, %s %s by a full evaluation',
                                        patient_id, b.next_check_at, b.next_check_by_domain,
                                        a.next_check_at, a.next_check_by_domain)
              FROM model_state_before b
              FULL JOIN (SELECT st.patient_id, st.next_check_at, st.next_check_by_domain
                           FROM careflags.patient_state st WHERE st.patient_id = ANY (pids)) a USING (patient_id)
             WHERE a.next_check_at IS DISTINCT FROM b.next_check_at
                OR a.next_check_by_domain IS DISTINCT FROM b.next_check_by_domain;
            -- (b), (c) every done flag names a qualifying action fact
            INSERT INTO model_violation SELECT h, s, 'done', w.detail FROM pg_temp.wrong_done(pids) w;
            -- (d) an acknowledged flag closed this step without being done is not replaced
            INSERT INTO model_violation
            SELECT h, s, 'acknowledgement', format('flag %s (%s) closed as %s, replaced by flag %s', x.flag_id, x.rule_id,
                                                   x.resolution, y.flag_id)
              FROM careflags.flag x JOIN careflags.flag y
                ON y.patient_id = x.patient_id AND y.rule_id = x.rule_id AND y.episode_id = x.episode_id
               AND y.resolved_at IS NULL AND y.flag_id > before_max
             WHERE x.flag_id = ANY (acked) AND x.resolved_at IS NOT NULL AND x.resolution <> 'done';
            IF (SELECT count(*) FROM model_violation) > 200 THEN
                EXIT;
            END IF;
        END LOOP;
        IF (SELECT count(*) FROM model_violation) > 200 THEN
            EXIT;
        END IF;
    END LOOP;
    INSERT INTO model_stats
    SELECT h, steps, model_full_steps, writes, failed,
           (SELECT count(*) FROM careflags.flag f JOIN careflags.patient pt USING (patient_id) WHERE pt.display_name LIKE 'Model %'),
           (SELECT count(*) FROM careflags.flag f JOIN careflags.patient pt USING (patient_id) WHERE pt.display_name LIKE 'Model %' AND f.resolution = 'done'),
           (SELECT count(*) FROM careflags.flag f JOIN careflags.patient pt USING (patient_id) WHERE pt.display_name LIKE 'Model %' AND f.resolution <> 'done'),
           (SELECT count(*) FROM careflags.audit a JOIN careflags.patient pt USING (patient_id) WHERE pt.display_name LIKE 'Model %' AND a.action = 'reopen');
END $$;

SELECT pg_temp.model(:model_seed / 1000.0, :model_seconds);

SELECT diag(format('model test: seed %s, %s histories, %s steps (%s writes, %s refused by constraints); %s flags raised, %s resolved done, %s resolved otherwise, %s reopened',
               :model_seed, histories, steps, writes, failed_writes, raised, done, other_resolved, reopened)) FROM model_stats;
SELECT diag('resolutions: ' || string_agg(format('%s %s', resolution, n), ', ' ORDER BY n DESC))
  FROM (SELECT f.resolution, count(*) AS n FROM careflags.flag f JOIN careflags.patient pt USING (patient_id)
         WHERE pt.display_name LIKE 'Model %' AND f.resolution IS NOT NULL GROUP BY f.resolution) r;
SELECT diag(format('violation: history %s step %s %s: %s', history, step, kind, detail))
  FROM (SELECT * FROM model_violation ORDER BY history, step LIMIT 20) v;

SELECT cmp_ok((SELECT steps FROM model_stats), '>=', 100, 'at least 100 steps of histories ran');
SELECT cmp_ok((SELECT done FROM model_stats), '>', 0::bigint, 'flags were resolved as done along the way');
SELECT cmp_ok((SELECT other_resolved FROM model_stats), '>', 0::bigint, 'and closed for other reasons');
SELECT is((SELECT count(*) FROM model_violation WHERE kind = 'consistency'), 0::bigint,
          '(a) after every step the stored flags equal a fresh evaluation');
SELECT is((SELECT count(*) FROM model_violation WHERE kind = 'done'), 0::bigint,
          '(b, c) every done flag names an existing action fact inside its window');
SELECT is((SELECT count(*) FROM model_violation WHERE kind = 'acknowledgement'), 0::bigint,
          '(d) acknowledgements survive while the gap persists');
SELECT is((SELECT count(*) FROM model_violation WHERE kind = 'full'), 0::bigint,
          '(f) after every step a full evaluation changes no flag and no next check time');
SELECT is((SELECT count(*) FROM model_violation WHERE kind = 'baseline'), 0::bigint,
          '(e) the open flags equal the hand-written baseline''s after every step');
SELECT ok((careflags.verify_audit()).intact, 'the audit chain (with careflags'' reopenings) is intact');

SELECT * FROM finish();
ROLLBACK;
