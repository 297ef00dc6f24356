-- bench/baseline.sql - the default careflags flags and indicators, by hand.
--
-- What a DBA or quality lead would write without careflags: plain views with
-- window functions over the raw fact tables (careflags.episode,
-- careflags.assessment, ... used as ordinary tables), no triggers, nothing
-- stored.  The rules' numbers (intervals, thresholds, settings) are written
-- into the view (baseline.rule) as a DBA would, the FRID list likewise
-- (baseline.frid_atc); the time zone of the calendar is Europe/Oslo.  The
-- clock is baseline.clock(): the setting baseline.now, else now(), so that
-- the benchmark can compare with careflags at one fixed instant.
--
-- It follows the readings of clinical-rules.md §7 as careflags does (windows,
-- one flag per gap, late is still done, active medicines, weight-loss
-- criteria, falls, death, overlapping episodes) for all 19 default rules.  It
-- has no snooze, acknowledgement or history: it answers "which flags are
-- open now", nothing else.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS baseline CASCADE;
CREATE SCHEMA baseline;
COMMENT ON SCHEMA baseline IS 'the hand-written SQL alternative to careflags (bench/baseline.sql)';

CREATE FUNCTION baseline.clock() RETURNS timestamptz
    LANGUAGE sql STABLE
    RETURN COALESCE(NULLIF(pg_catalog.current_setting('baseline.now', true), '')::timestamptz, pg_catalog.now());
COMMENT ON FUNCTION baseline.clock() IS 'the baseline''s now: the setting baseline.now, else now()';

-- Calendar arithmetic on the local (Europe/Oslo) calendar.
CREATE FUNCTION baseline.add(t timestamptz, iv interval) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE
    RETURN ((t AT TIME ZONE 'Europe/Oslo') + iv) AT TIME ZONE 'Europe/Oslo';
COMMENT ON FUNCTION baseline.add(timestamptz, interval) IS 't + iv on the Europe/Oslo calendar';

CREATE FUNCTION baseline.local_date(t timestamptz) RETURNS date
    LANGUAGE sql IMMUTABLE
    RETURN (t AT TIME ZONE 'Europe/Oslo')::date;
COMMENT ON FUNCTION baseline.local_date(timestamptz) IS 'the Europe/Oslo date of an instant';

CREATE VIEW baseline.rule (rule_id, domain, anchor, title, settings, min_age, due_interval,
                           due_soon_window, follow_up, threshold, severity) AS
VALUES
 ('nutrition.screening.admission_short_term', 'nutrition', 'episode_start', 'Nutrition screening at admission', '{nursing_home_short_term}'::text[], 18, interval '1 day', interval '7 days', interval '1 day', NULL::integer, 1),
 ('nutrition.screening.admission_long_term', 'nutrition', 'episode_start', 'Nutrition screening at admission', '{nursing_home_long_term}', 18, '7 days', '7 days', '7 days', NULL, 1),
 ('nutrition.screening.start_of_home_care', 'nutrition', 'episode_start', 'Nutrition screening at start of home care', '{home_nursing,home_services}', 18, '14 days', '7 days', '14 days', NULL, 1),
 ('nutrition.screening.repeat', 'nutrition', 'last_event', 'Repeat nutrition screening', '{nursing_home_long_term,nursing_home_short_term,home_nursing}', 18, '1 month', '7 days', '7 days', NULL, 2),
 ('nutrition.screening.repeat_home_services', 'nutrition', 'last_event', 'Repeat nutrition screening', '{home_services}', 18, '6 months', '7 days', '7 days', NULL, 3),
 ('nutrition.plan.missing', 'nutrition', 'risk_result', 'Nutrition plan missing', '{nursing_home_long_term,nursing_home_short_term,home_nursing,home_services}', 18, '0', '0', '7 days', NULL, 1),
 ('nutrition.plan.evaluation', 'nutrition', 'plan_evaluation', 'Evaluate nutrition plan', '{nursing_home_long_term,home_nursing}', 18, '1 month', '7 days', '7 days', NULL, 2),
 ('nutrition.plan.evaluation_short_term', 'nutrition', 'plan_evaluation', 'Evaluate nutrition plan', '{nursing_home_short_term}', 18, '7 days', '2 days', '1 day', NULL, 2),
 ('nutrition.plan.evaluation_home_services', 'nutrition', 'plan_evaluation', 'Evaluate nutrition plan', '{home_services}', 18, '6 months', '7 days', '7 days', NULL, 3),
 ('nutrition.weight_loss', 'nutrition', 'weight_series', 'Weight loss or low BMI', '{nursing_home_long_term,nursing_home_short_term,home_nursing,home_services}', 18, '0', '0', '7 days', NULL, 1),
 ('medication_review.admission', 'medication_review', 'episode_start', 'Medication review at admission', '{nursing_home_long_term}', 18, '7 days', '7 days', '7 days', NULL, 1),
 ('medication_review.annual', 'medication_review', 'last_event', 'Yearly medication review', '{nursing_home_long_term}', 18, '12 months', '30 days', '7 days', NULL, 2),
 ('medication_review.polypharmacy', 'medication_review', 'medicine_count', 'Medication review (4 or more medicines)', '{home_nursing,home_services,gp}', 18, '12 months', '30 days', '7 days', 4, 2),
 ('medication_review.fall_risk_drugs', 'medication_review', 'fall', 'Medication review: fall-risk-increasing drugs', '{nursing_home_long_term,nursing_home_short_term,home_nursing,home_services,gp}', 18, '0', '0', '7 days', NULL, 1),
 ('medication_review.excessive_polypharmacy', 'medication_review', 'medicine_count', 'Medication review (10 or more medicines)', '{nursing_home_long_term,nursing_home_short_term,home_nursing,home_services,gp}', 18, '0', '7 days', '7 days', 10, 1),
 ('fall_risk.assessment.admission', 'fall_risk', 'episode_start', 'Fall-risk assessment at admission', '{nursing_home_long_term,nursing_home_short_term,home_nursing}', 18, '7 days', '7 days', '7 days', NULL, 1),
 ('fall_risk.assessment.repeat', 'fall_risk', 'last_event', 'Repeat fall-risk assessment', '{nursing_home_long_term,nursing_home_short_term,home_nursing}', 18, '6 months', '7 days', '7 days', NULL, 2),
 ('fall_risk.assessment.after_fall', 'fall_risk', 'fall', 'Fall-risk assessment after a fall', '{nursing_home_long_term,nursing_home_short_term,home_nursing,home_services,gp}', 18, '0', '0', '7 days', NULL, 1),
 ('fall_risk.high.no_plan', 'fall_risk', 'risk_result', 'Fall-prevention plan missing', '{nursing_home_long_term,nursing_home_short_term,home_nursing,home_services,gp}', 18, '0', '0', '7 days', NULL, 1);
COMMENT ON VIEW baseline.rule IS 'the default rules, written out by hand';

CREATE VIEW baseline.frid_atc (atc_prefix) AS
VALUES ('N05A'), ('N05BA'), ('N05CD'), ('N05CF'), ('N06A'), ('N03A'), ('N02A'), ('C03'), ('C02A'),
       ('C02CA'), ('G04CA'), ('C01D'), ('R06A'), ('G04BD');
COMMENT ON VIEW baseline.frid_atc IS 'ATC prefixes of fall-risk-increasing drugs';

-- Each living patient's current episode: open now, the one that started last.
CREATE VIEW baseline.current_episode AS
SELECT DISTINCT ON (e.patient_id)
       e.patient_id, e.episode_id, e.setting::text AS setting, e.unit_id, e.started_at, p.birth_date, c.now
FROM careflags.episode e
JOIN careflags.patient p ON p.patient_id = e.patient_id
CROSS JOIN (SELECT baseline.clock() AS now) c
WHERE NOT p.deceased
  AND e.started_at <= c.now
  AND (e.ended_at IS NULL OR e.ended_at > c.now)
ORDER BY e.patient_id, e.started_at DESC, e.episode_id DESC;
COMMENT ON VIEW baseline.current_episode IS 'per living patient, the episode open now that started last';

-- (patient, rule) pairs in scope: setting, age, no exemption valid now.
CREATE VIEW baseline.in_scope AS
SELECT ce.*, r.rule_id, r.domain, r.anchor, r.due_interval, r.follow_up, r.due_soon_window,
       r.threshold, r.severity
FROM baseline.current_episode ce
JOIN baseline.rule r ON ce.setting = ANY (r.settings)
WHERE (ce.birth_date IS NULL
       OR ce.birth_date <= (baseline.local_date(ce.now) - r.min_age * interval '1 year')::date)
  AND NOT EXISTS (SELECT FROM careflags.exemption x
                  WHERE x.patient_id = ce.patient_id
                    AND x.valid_from <= ce.now
                    AND (x.valid_until IS NULL OR x.valid_until > ce.now)
                    AND (x.scope = '*' OR x.scope = r.rule_id OR pg_catalog.starts_with(r.rule_id, x.scope || '.')));
COMMENT ON VIEW baseline.in_scope IS 'patients and the rules that apply to them now';

-- Events of the three domains up to now, ranked latest first: over the
-- current episode (ep_rank) and over all time (all_rank, scored_rank).
CREATE VIEW baseline.event AS
SELECT x.*,
       pg_catalog.row_number() OVER (PARTITION BY x.patient_id, x.domain, x.in_episode ORDER BY x.at DESC) AS ep_rank,
       pg_catalog.row_number() OVER (PARTITION BY x.patient_id, x.domain ORDER BY x.at DESC) AS all_rank,
       pg_catalog.row_number() OVER (PARTITION BY x.patient_id, x.domain, x.scored, x.in_episode ORDER BY x.at DESC) AS scored_ep_rank,
       pg_catalog.row_number() OVER (PARTITION BY x.patient_id, x.domain, x.scored ORDER BY x.at DESC) AS scored_rank
FROM (SELECT a.patient_id,
             CASE WHEN a.instrument IN ('mst', 'mna_sf', 'must', 'nrs_2002', 'nutrition_unspecified')
                  THEN 'nutrition' ELSE 'fall_risk' END AS domain,
             a.assessed_at AS at, COALESCE(a.at_risk, false) AS at_risk, a.total IS NOT NULL AS scored,
             a.assessed_at >= ce.started_at AS in_episode
      FROM careflags.assessment a
      JOIN baseline.current_episode ce ON ce.patient_id = a.patient_id
      WHERE a.assessed_at <= ce.now
      UNION ALL
      SELECT m.patient_id, 'medication_review', m.reviewed_at, false, true, m.reviewed_at >= ce.started_at
      FROM careflags.medication_review m
      JOIN baseline.current_episode ce ON ce.patient_id = m.patient_id
      WHERE m.reviewed_at <= ce.now) x;
COMMENT ON VIEW baseline.event IS 'assessments and medication reviews up to now, ranked latest first within the episode and overall';

-- Per patient and domain: the latest event of the episode, the latest
-- scored one of the episode, the latest ever, the latest scored ever.
CREATE VIEW baseline.last_event AS
SELECT e.patient_id, e.domain,
       pg_catalog.max(e.at) FILTER (WHERE e.in_episode AND e.ep_rank = 1) AS ep_at,
       pg_catalog.bool_or(e.at_risk) FILTER (WHERE e.in_episode AND e.ep_rank = 1) AS ep_at_risk,
       pg_catalog.max(e.at) FILTER (WHERE e.in_episode AND e.scored AND e.scored_ep_rank = 1) AS ep_scored_at,
       pg_catalog.bool_or(e.at_risk) FILTER (WHERE e.in_episode AND e.scored AND e.scored_ep_rank = 1) AS ep_scored_at_risk,
       pg_catalog.max(e.at) FILTER (WHERE e.all_rank = 1) AS all_at,
       pg_catalog.max(e.at) FILTER (WHERE e.scored AND e.scored_rank = 1) AS scored_at,
       pg_catalog.bool_or(e.at_risk) FILTER (WHERE e.scored AND e.scored_rank = 1) AS scored_at_risk
FROM baseline.event e
WHERE e.ep_rank = 1 OR e.all_rank = 1 OR e.scored_ep_rank = 1 OR e.scored_rank = 1
GROUP BY e.patient_id, e.domain;
COMMENT ON VIEW baseline.last_event IS 'per patient and domain, the latest events that the rules look at';

-- Admission rules: no event of the domain since the episode started.
CREATE VIEW baseline.flag_episode_start AS
SELECT s.patient_id, s.rule_id, s.domain, s.started_at AS due_from,
       baseline.add(s.started_at, s.due_interval) AS due_at
FROM baseline.in_scope s
LEFT JOIN baseline.last_event l ON l.patient_id = s.patient_id AND l.domain = s.domain
WHERE s.anchor = 'episode_start' AND l.ep_at IS NULL;

-- A fall after the last fall-risk assessment (with none: in the episode or
-- the 12 months before it), unless the admission assessment is still open.
CREATE VIEW baseline.flag_after_fall AS
WITH a AS (
    SELECT s.patient_id, s.rule_id, s.domain, s.follow_up, s.now, l.all_at AS last_assessed,
           baseline.add(s.started_at, interval '-12 months') AS year_before
    FROM baseline.in_scope s
    LEFT JOIN baseline.last_event l ON l.patient_id = s.patient_id AND l.domain = 'fall_risk'
    LEFT JOIN baseline.flag_episode_start adm ON adm.patient_id = s.patient_id
                                             AND adm.rule_id = 'fall_risk.assessment.admission'
    WHERE s.rule_id = 'fall_risk.assessment.after_fall' AND adm.patient_id IS NULL
)
SELECT a.patient_id, a.rule_id, a.domain, pg_catalog.min(x.fell_at) AS due_from,
       baseline.add(pg_catalog.min(x.fell_at), a.follow_up) AS due_at
FROM a
JOIN careflags.fall x ON x.patient_id = a.patient_id AND x.fell_at <= a.now
                     AND CASE WHEN a.last_assessed IS NOT NULL THEN x.fell_at > a.last_assessed
                              ELSE x.fell_at >= a.year_before END
GROUP BY a.patient_id, a.rule_id, a.domain, a.follow_up;

-- Repeat rules: the interval after the last event of the episode (none: the
-- admission rule covers the gap; nutrition at risk: the plan rules take over;
-- fall risk: no repeat assessment while the after-fall one is open, §7.4).
CREATE VIEW baseline.flag_last_event AS
SELECT s.patient_id, s.rule_id, s.domain,
       baseline.add(l.ep_at, s.due_interval) AS due_from, baseline.add(l.ep_at, s.due_interval) AS due_at
FROM baseline.in_scope s
JOIN baseline.last_event l ON l.patient_id = s.patient_id AND l.domain = s.domain AND l.ep_at IS NOT NULL
WHERE s.anchor = 'last_event'
  AND NOT (s.domain = 'nutrition' AND l.ep_at_risk)
  AND NOT (s.domain = 'fall_risk' AND EXISTS (SELECT FROM baseline.flag_after_fall af WHERE af.patient_id = s.patient_id));

-- Plan rules: the last scored result of the episode is at risk and no plan
-- of the kind has been in force since.
CREATE VIEW baseline.flag_risk_result AS
SELECT s.patient_id, s.rule_id, s.domain, l.ep_scored_at AS due_from, baseline.add(l.ep_scored_at, s.follow_up) AS due_at
FROM baseline.in_scope s
JOIN baseline.last_event l ON l.patient_id = s.patient_id AND l.domain = s.domain AND l.ep_scored_at_risk
WHERE s.anchor = 'risk_result'
  AND NOT EXISTS (SELECT FROM careflags.care_plan c
                  WHERE c.patient_id = s.patient_id
                    AND c.kind = CASE s.domain WHEN 'nutrition' THEN 'nutrition' ELSE 'fall_prevention' END::careflags.plan_kind
                    AND c.started_at <= s.now
                    AND (c.ended_at IS NULL OR c.ended_at > l.ep_scored_at));

-- Plan evaluation: the interval after the last evaluation (or the start) of
-- the plan in force made or evaluated last.
CREATE VIEW baseline.flag_plan_evaluation AS
SELECT s.patient_id, s.rule_id, s.domain,
       baseline.add(p.last, s.due_interval) AS due_from, baseline.add(p.last, s.due_interval) AS due_at
FROM baseline.in_scope s
JOIN (SELECT c.patient_id, c.kind,
             CASE WHEN c.last_evaluated_at > c.started_at AND c.last_evaluated_at <= ce.now
                  THEN c.last_evaluated_at ELSE c.started_at END AS last,
             pg_catalog.row_number() OVER (PARTITION BY c.patient_id, c.kind
                                           ORDER BY CASE WHEN c.last_evaluated_at > c.started_at AND c.last_evaluated_at <= ce.now
                                                         THEN c.last_evaluated_at ELSE c.started_at END DESC,
                                                    c.started_at DESC) AS rn
      FROM careflags.care_plan c
      JOIN baseline.current_episode ce ON ce.patient_id = c.patient_id
      WHERE c.started_at <= ce.now AND (c.ended_at IS NULL OR c.ended_at > ce.now)) p
  ON p.patient_id = s.patient_id AND p.rn = 1
 AND p.kind = CASE s.domain WHEN 'nutrition' THEN 'nutrition' ELSE 'fall_prevention' END::careflags.plan_kind
WHERE s.anchor = 'plan_evaluation';

-- Weight loss or low BMI (clinical-rules.md §2, §7.7), from the latest weight.
CREATE VIEW baseline.weight_signs AS
WITH w AS (
    SELECT m.patient_id, m.value::float8 AS value, m.measured_at,
           pg_catalog.max(m.measured_at) OVER p AS last_at,
           pg_catalog.first_value(m.value::float8) OVER (p ORDER BY m.measured_at DESC) AS last_value
    FROM careflags.measurement m
    JOIN baseline.current_episode ce ON ce.patient_id = m.patient_id
    WHERE m.kind = 'weight' AND m.measured_at <= ce.now
    WINDOW p AS (PARTITION BY m.patient_id)
), series AS (
    SELECT patient_id, last_at, last_value,
           pg_catalog.max(value) FILTER (WHERE value > 0 AND measured_at < last_at
                                           AND measured_at >= baseline.add(last_at, interval '-6 months')) AS max6,
           pg_catalog.max(value) FILTER (WHERE value > 0 AND measured_at < last_at
                                           AND measured_at >= baseline.add(last_at, interval '-2 months')) AS max2
    FROM w
    GROUP BY patient_id, last_at, last_value
), other AS (
    SELECT DISTINCT ON (m.patient_id, m.kind) m.patient_id, m.kind, m.value::float8 AS value, m.measured_at
    FROM careflags.measurement m
    JOIN baseline.current_episode ce ON ce.patient_id = m.patient_id
    WHERE m.kind IN ('height', 'bmi') AND m.measured_at <= ce.now
    ORDER BY m.patient_id, m.kind, m.measured_at DESC
), x AS (
    SELECT s.patient_id, s.last_at AS measured_at, s.last_value AS value, s.max6, s.max2,
           CASE WHEN h.value > 0 THEN s.last_value / ((h.value / 100.0) * (h.value / 100.0))
                WHEN b.measured_at >= s.last_at THEN b.value END AS bmi,
           ce.birth_date IS NOT NULL
               AND ce.birth_date <= (baseline.local_date(s.last_at) - interval '70 years')::date AS over70
    FROM series s
    JOIN baseline.current_episode ce ON ce.patient_id = s.patient_id
    LEFT JOIN other h ON h.patient_id = s.patient_id AND h.kind = 'height'
    LEFT JOIN other b ON b.patient_id = s.patient_id AND b.kind = 'bmi'
)
SELECT patient_id, measured_at, value, bmi, over70,
       (max6 - value) / max6 * 100.0 AS loss6, (max2 - value) / max2 * 100.0 AS loss2
FROM x
WHERE bmi < CASE WHEN over70 THEN 20.0 ELSE 18.5 END
   OR (max6 - value) / max6 * 100.0 > 10.0
   OR (max2 - value) / max2 * 100.0 > 5.0
   OR ((max6 - value) / max6 * 100.0 > 5.0 AND bmi < CASE WHEN over70 THEN 22.0 ELSE 20.0 END);
COMMENT ON VIEW baseline.weight_signs IS 'patients whose latest weight meets a criterion of moderate or severe malnutrition';

CREATE VIEW baseline.flag_weight_series AS
SELECT s.patient_id, s.rule_id, s.domain, w.measured_at AS due_from, baseline.add(w.measured_at, s.follow_up) AS due_at
FROM baseline.in_scope s
JOIN baseline.weight_signs w ON w.patient_id = s.patient_id
WHERE s.anchor = 'weight_series';

-- Active regular medicines, distinct by ATC (or source code), and when the
-- n-th of them was started.
CREATE VIEW baseline.active_medicines AS
SELECT k.patient_id, k.first_start,
       pg_catalog.count(*) OVER w AS n,
       pg_catalog.nth_value(k.first_start, 4) OVER w AS reached_4,
       pg_catalog.nth_value(k.first_start, 10) OVER w AS reached_10
FROM (SELECT m.patient_id, COALESCE(m.atc, m.code, 'medication/' || m.medication_id) AS key,
             pg_catalog.min(m.started_at) AS first_start
      FROM careflags.medication m
      JOIN baseline.current_episode ce ON ce.patient_id = m.patient_id
      WHERE NOT m.as_needed
        AND m.status NOT IN ('cancelled', 'entered_in_error')
        AND NOT (m.stopped_at IS NULL AND m.status IN ('stopped', 'completed'))
        AND m.started_at <= ce.now AND (m.stopped_at IS NULL OR m.stopped_at > ce.now)
      GROUP BY 1, 2) k
WINDOW w AS (PARTITION BY k.patient_id ORDER BY k.first_start
             ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING);
COMMENT ON VIEW baseline.active_medicines IS 'one row per active regular medicine: how many the patient has, when the 4th and 10th were started';

CREATE VIEW baseline.flag_medicine_count AS
WITH c AS (
    SELECT s.patient_id, s.rule_id, s.domain, s.due_interval, s.follow_up,
           CASE s.threshold WHEN 4 THEN a.reached_4 ELSE a.reached_10 END AS reached,
           (SELECT pg_catalog.max(r.reviewed_at) FROM careflags.medication_review r
             WHERE r.patient_id = s.patient_id AND r.reviewed_at <= s.now) AS review
    FROM baseline.in_scope s
    JOIN (SELECT DISTINCT patient_id, n, reached_4, reached_10 FROM baseline.active_medicines) a
      ON a.patient_id = s.patient_id AND a.n >= s.threshold
    WHERE s.anchor = 'medicine_count'
), d AS (
    SELECT c.*,
           CASE WHEN c.due_interval <> interval '0' AND c.review IS NOT NULL
                THEN GREATEST(c.reached, baseline.add(c.review, c.due_interval)) ELSE c.reached END AS due
    FROM c
    WHERE c.due_interval <> interval '0' OR c.review IS NULL OR c.review < c.reached
)
SELECT patient_id, rule_id, domain, due AS due_from, baseline.add(due, follow_up) AS due_at FROM d;

-- High fall risk (the last scored assessment) or a fall in 12 months, a FRID
-- in use, and no medication review since.
CREATE VIEW baseline.flag_fall_risk_drugs AS
WITH t AS (
    SELECT s.patient_id, s.rule_id, s.domain, s.follow_up, s.now,
           GREATEST(CASE WHEN l.scored_at_risk THEN l.scored_at END,
                    (SELECT pg_catalog.max(x.fell_at) FROM careflags.fall x
                      WHERE x.patient_id = s.patient_id AND x.fell_at <= s.now
                        AND x.fell_at >= baseline.add(s.now, interval '-12 months'))) AS trig
    FROM baseline.in_scope s
    LEFT JOIN baseline.last_event l ON l.patient_id = s.patient_id AND l.domain = 'fall_risk'
    WHERE s.rule_id = 'medication_review.fall_risk_drugs'
)
SELECT t.patient_id, t.rule_id, t.domain, t.trig AS due_from, baseline.add(t.trig, t.follow_up) AS due_at
FROM t
WHERE t.trig IS NOT NULL
  AND EXISTS (SELECT FROM careflags.medication m JOIN baseline.frid_atc f ON pg_catalog.starts_with(m.atc, f.atc_prefix)
              WHERE m.patient_id = t.patient_id
                AND m.status NOT IN ('cancelled', 'entered_in_error')
                AND NOT (m.stopped_at IS NULL AND m.status IN ('stopped', 'completed'))
                AND m.started_at <= t.now AND (m.stopped_at IS NULL OR m.stopped_at > t.now))
  AND NOT EXISTS (SELECT FROM careflags.medication_review r
                  WHERE r.patient_id = t.patient_id AND r.reviewed_at <= t.now AND r.reviewed_at >= t.trig);

-- All open flags.  A flag is never due before its episode started; an event
-- or plan rule whose trigger predates the start is due from the start, with
-- its follow-up time after it (§7.2).
CREATE VIEW baseline.flag AS
SELECT f.patient_id, f.rule_id, f.domain, ce.episode_id, ce.unit_id, ce.setting, r.severity, r.title,
       GREATEST(f.due_from, ce.started_at) AS due_from,
       CASE WHEN f.due_from < ce.started_at AND r.anchor IN ('risk_result', 'weight_series', 'medicine_count', 'fall')
            THEN baseline.add(ce.started_at, r.follow_up)
            ELSE GREATEST(f.due_at, f.due_from, ce.started_at) END AS due_at,
       r.due_soon_window
FROM (SELECT * FROM baseline.flag_episode_start
      UNION ALL SELECT * FROM baseline.flag_last_event
      UNION ALL SELECT * FROM baseline.flag_risk_result
      UNION ALL SELECT * FROM baseline.flag_plan_evaluation
      UNION ALL SELECT * FROM baseline.flag_weight_series
      UNION ALL SELECT * FROM baseline.flag_medicine_count
      UNION ALL SELECT * FROM baseline.flag_after_fall
      UNION ALL SELECT * FROM baseline.flag_fall_risk_drugs) f
JOIN baseline.current_episode ce ON ce.patient_id = f.patient_id
JOIN baseline.rule r ON r.rule_id = f.rule_id;
COMMENT ON VIEW baseline.flag IS 'the open flags of the default rules, computed from the facts at baseline.clock()';

-- The worklist: flags due soon, due or overdue, most urgent first.
CREATE VIEW baseline.worklist AS
SELECT f.patient_id, p.display_name AS patient, f.unit_id, u.name AS unit, f.rule_id, f.title, f.severity,
       CASE WHEN c.now >= f.due_at THEN 'overdue' WHEN c.now >= f.due_from THEN 'due'
            WHEN c.now >= baseline.add(f.due_from, -f.due_soon_window) THEN 'due_soon' ELSE 'upcoming' END AS state,
       f.due_from, f.due_at
FROM baseline.flag f
JOIN careflags.patient p ON p.patient_id = f.patient_id
LEFT JOIN careflags.unit u ON u.unit_id = f.unit_id
CROSS JOIN (SELECT baseline.clock() AS now) c
WHERE c.now >= baseline.add(f.due_from, -f.due_soon_window)
ORDER BY f.severity, f.due_at, f.patient_id, f.rule_id;
COMMENT ON VIEW baseline.worklist IS 'what a nurse should act on now, by severity then due time; filter by unit_id';

-- The national indicators (clinical-rules.md §5, the categories of
-- docs/reports.md), by hand: who is in the setting at the period end, aged
-- 67 or more, and what was recorded in the 12 months before it.
CREATE FUNCTION baseline.indicator(p_indicator text, p_period_end date, p_min_age integer DEFAULT 67)
    RETURNS TABLE (indicator text, numerator bigint, denominator bigint, share numeric,
                   assessed bigint, not_assessed bigint, not_relevant bigint, not_recorded bigint,
                   population bigint)
    LANGUAGE sql STABLE
    AS $$
    WITH conf AS (
        SELECT c.*, ((p_period_end + 1)::timestamp AT TIME ZONE 'Europe/Oslo') AS ends,
               (((p_period_end + 1)::timestamp - interval '12 months') AT TIME ZONE 'Europe/Oslo') AS starts
        FROM (VALUES
            ('nutrition_screening', 'nutrition.screening', NULL::text, 'nutrition', NULL::text),
            ('nutrition_plan', 'nutrition.plan', NULL, 'nutrition', 'nutrition'),
            ('medication_review', 'medication_review', 'nursing_home_long_term', 'medication_review', NULL),
            ('fall_risk_assessment', 'fall_risk.assessment', NULL, 'fall_risk', NULL),
            ('fall_risk_plan', 'fall_risk.high', NULL, 'fall_risk', 'fall_prevention')) AS c(name, scope, setting, domain, plan)
        WHERE c.name = p_indicator
    ), cur AS (
        SELECT DISTINCT ON (e.patient_id) e.patient_id, e.setting::text AS setting
        FROM careflags.episode e, conf
        WHERE e.started_at < conf.ends AND (e.ended_at IS NULL OR e.ended_at >= conf.ends)
        ORDER BY e.patient_id, e.started_at DESC, e.episode_id DESC
    ), pop AS (
        SELECT c.patient_id, p.birth_date IS NULL AS age_unknown,
               EXISTS (SELECT FROM careflags.exemption x
                       WHERE x.patient_id = c.patient_id AND x.valid_from < conf.ends
                         AND (x.valid_until IS NULL OR x.valid_until >= conf.ends)
                         AND (x.scope = '*' OR x.scope = conf.scope OR pg_catalog.starts_with(conf.scope, x.scope || '.'))) AS exempt
        FROM cur c
        JOIN careflags.patient p ON p.patient_id = c.patient_id
        CROSS JOIN conf
        WHERE (conf.setting IS NULL OR c.setting = conf.setting)
          AND NOT (p.deceased AND (p.deceased_at IS NULL OR p.deceased_at < conf.ends))
          AND (p.birth_date IS NULL OR p.birth_date <= (p_period_end - p_min_age * interval '1 year')::date)
    ), fact AS (
        SELECT a.patient_id,
               pg_catalog.min(a.assessed_at) FILTER (WHERE a.at_risk) AS first_risk,
               pg_catalog.bool_or(a.at_risk IS NOT NULL) AS any_result
        FROM careflags.assessment a, conf
        WHERE a.assessed_at >= conf.starts AND a.assessed_at < conf.ends
          AND conf.domain = CASE WHEN a.instrument IN ('mst', 'mna_sf', 'must', 'nrs_2002', 'nutrition_unspecified')
                                 THEN 'nutrition' ELSE 'fall_risk' END
        GROUP BY a.patient_id
        UNION ALL
        SELECT r.patient_id, NULL, true
        FROM careflags.medication_review r, conf
        WHERE conf.domain = 'medication_review' AND r.reviewed_at >= conf.starts AND r.reviewed_at < conf.ends
        GROUP BY r.patient_id
    ), cat AS (
        SELECT p.patient_id,
               CASE WHEN p.exempt THEN 'not_relevant'
                    WHEN conf.plan IS NULL AND p.age_unknown THEN 'not_recorded'
                    WHEN conf.plan IS NULL AND f.patient_id IS NOT NULL THEN 'assessed'
                    WHEN conf.plan IS NULL THEN 'not_assessed'
                    WHEN p.age_unknown OR f.first_risk IS NULL THEN 'not_recorded'
                    WHEN EXISTS (SELECT FROM careflags.care_plan c
                                 WHERE c.patient_id = p.patient_id AND c.kind::text = conf.plan
                                   AND c.started_at < conf.ends
                                   AND (c.ended_at IS NULL OR c.ended_at >= f.first_risk)) THEN 'assessed'
                    ELSE 'not_assessed' END AS category
        FROM pop p
        CROSS JOIN conf
        LEFT JOIN fact f ON f.patient_id = p.patient_id
        WHERE conf.plan IS NULL OR f.first_risk IS NOT NULL OR (f.patient_id IS NOT NULL AND NOT f.any_result)
    ), n AS (
        SELECT pg_catalog.count(*) FILTER (WHERE category = 'assessed') AS assessed,
               pg_catalog.count(*) FILTER (WHERE category = 'not_assessed') AS not_assessed,
               pg_catalog.count(*) FILTER (WHERE category = 'not_relevant') AS not_relevant,
               pg_catalog.count(*) FILTER (WHERE category = 'not_recorded') AS not_recorded,
               pg_catalog.count(*) AS population
        FROM cat
    )
    SELECT p_indicator, n.assessed, n.assessed + n.not_assessed + n.not_recorded,
           CASE WHEN n.assessed + n.not_assessed + n.not_recorded > 0
                THEN pg_catalog.round(100.0 * n.assessed / (n.assessed + n.not_assessed + n.not_recorded), 1) END,
           n.assessed, n.not_assessed, n.not_relevant, n.not_recorded, n.population
    FROM n
    WHERE EXISTS (SELECT FROM conf)
    $$;
COMMENT ON FUNCTION baseline.indicator(text, date, integer) IS
    'one national indicator for the 12 months ending with p_period_end: numerator, denominator, share and the four categories';
