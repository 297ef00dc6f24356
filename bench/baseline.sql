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
 ('fall_risk.assessment.repeat', 'fall_risk', 'last_event', 'Repeat fall-risk assessment', '{nursing_home_long_term,nursing_home_short_term,home_nursing}', 18, '6 months', '14 days', '7 days', NULL, 2),
 ('fall_risk.assessment.after_fall', 'fall_risk', 'fall', 'Fall-risk assessment after a fall', '{nursing_home_long_term,nursing_home_short_term,home_nursing,home_services,gp}', 18, '0', '0', '7 days', NULL, 1),
 ('fall_risk.high.no_plan', 'fall_risk', 'risk_result', 'Fall-prevention plan missing', '{nursing_home_long_term,nursing_home_short_term,home_nursing,home_services,gp}', 18, '0', '0', '7 days', NULL, 1);
COMMENT ON VIEW baseline.rule IS 'the default rules, written out by hand';

CREATE VIEW baseline.frid_atc (atc_prefix) AS
VALUES ('N05A'), ('N05BA'), ('N05CD'), ('N05CF'), ('N06A'), ('N03A'), ('N02A'), ('C03'), ('C02A'),
       ('C02CA'), ('G04CA'), ('C01D'), ('R06A'), ('G04BD');
COMMENT ON VIEW baseline.frid_atc IS 'ATC prefixes of fall-risk-increasing drugs';

-- Each living patient's current episode: open now, the one that started last.
CREATE VIEW baseline.current_episode AS
SELECT patient_id, episode_id, setting::text AS setting, unit_id, started_at, birth_date, now
FROM (SELECT e.patient_id, e.episode_id, e.setting, e.unit_id, e.started_at, p.birth_date, c.now,
             pg_catalog.row_number() OVER (PARTITION BY e.patient_id
                                           ORDER BY e.started_at DESC, e.episode_id DESC) AS rn
      FROM careflags.episode e
      JOIN careflags.patient p ON p.patient_id = e.patient_id
      CROSS JOIN (SELECT baseline.clock() AS now) c
      WHERE NOT p.deceased
        AND e.started_at <= c.now
        AND (e.ended_at IS NULL OR e.ended_at > c.now)) e
WHERE rn = 1;
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

-- Admission rules: no event of the domain since the episode started.
CREATE VIEW baseline.flag_episode_start AS
SELECT s.patient_id, s.rule_id, s.domain, s.started_at AS due_from,
       baseline.add(s.started_at, s.due_interval) AS due_at
FROM baseline.in_scope s
WHERE s.anchor = 'episode_start'
  AND NOT EXISTS (SELECT FROM baseline.event e
                  WHERE e.patient_id = s.patient_id AND e.domain = s.domain AND e.in_episode);

-- Repeat rules: the interval after the last event of the episode (none: the
-- admission rule covers the gap; nutrition at risk: the plan rules take over).
CREATE VIEW baseline.flag_last_event AS
SELECT s.patient_id, s.rule_id, s.domain,
       baseline.add(e.at, s.due_interval) AS due_from, baseline.add(e.at, s.due_interval) AS due_at
FROM baseline.in_scope s
JOIN baseline.event e ON e.patient_id = s.patient_id AND e.domain = s.domain AND e.in_episode AND e.ep_rank = 1
WHERE s.anchor = 'last_event'
  AND NOT (s.domain = 'nutrition' AND e.at_risk);

-- Plan rules: the last scored result of the episode is at risk and no plan
-- of the kind has been in force since.
CREATE VIEW baseline.flag_risk_result AS
SELECT s.patient_id, s.rule_id, s.domain, e.at AS due_from, baseline.add(e.at, s.follow_up) AS due_at
FROM baseline.in_scope s
JOIN baseline.event e ON e.patient_id = s.patient_id AND e.domain = s.domain AND e.in_episode
                      AND e.scored AND e.scored_ep_rank = 1
WHERE s.anchor = 'risk_result' AND e.at_risk
  AND NOT EXISTS (SELECT FROM careflags.care_plan c
                  WHERE c.patient_id = s.patient_id
                    AND c.kind = CASE s.domain WHEN 'nutrition' THEN 'nutrition' ELSE 'fall_prevention' END::careflags.plan_kind
                    AND c.started_at <= s.now
                    AND (c.ended_at IS NULL OR c.ended_at > e.at));

-- Plan evaluation: the interval after the last evaluation (or the start) of
-- the plan in force that started last.
CREATE VIEW baseline.flag_plan_evaluation AS
SELECT s.patient_id, s.rule_id, s.domain,
       baseline.add(p.last, s.due_interval) AS due_from, baseline.add(p.last, s.due_interval) AS due_at
FROM baseline.in_scope s
JOIN (SELECT c.patient_id, c.kind,
             CASE WHEN c.last_evaluated_at > c.started_at AND c.last_evaluated_at <= ce.now
                  THEN c.last_evaluated_at ELSE c.started_at END AS last,
             pg_catalog.row_number() OVER (PARTITION BY c.patient_id, c.kind ORDER BY c.started_at DESC) AS rn
      FROM careflags.care_plan c
      JOIN baseline.current_episode ce ON ce.patient_id = c.patient_id
      WHERE c.started_at <= ce.now AND (c.ended_at IS NULL OR c.ended_at > ce.now)) p
  ON p.patient_id = s.patient_id AND p.rn = 1
 AND p.kind = CASE s.domain WHEN 'nutrition' THEN 'nutrition' ELSE 'fall_prevention' END::careflags.plan_kind
WHERE s.anchor = 'plan_evaluation';

-- Weight loss or low BMI (clinical-rules.md §2, §7.7), from the latest weight.
CREATE VIEW baseline.weight_signs AS
WITH m AS (
    SELECT m.patient_id, m.kind, m.value::float8 AS value, m.measured_at,
           pg_catalog.row_number() OVER (PARTITION BY m.patient_id, m.kind ORDER BY m.measured_at DESC) AS rn
    FROM careflags.measurement m
    JOIN baseline.current_episode ce ON ce.patient_id = m.patient_id
    WHERE m.measured_at <= ce.now AND m.kind IN ('weight', 'height', 'bmi')
), w AS (
    SELECT w.patient_id, w.value, w.measured_at,
           CASE WHEN h.value > 0 THEN w.value / ((h.value / 100.0) * (h.value / 100.0))
                WHEN b.measured_at >= w.measured_at THEN b.value END AS bmi,
           ce.birth_date IS NOT NULL
               AND ce.birth_date <= (baseline.local_date(w.measured_at) - interval '70 years')::date AS over70
    FROM m w
    JOIN baseline.current_episode ce ON ce.patient_id = w.patient_id
    LEFT JOIN m h ON h.patient_id = w.patient_id AND h.kind = 'height' AND h.rn = 1
    LEFT JOIN m b ON b.patient_id = w.patient_id AND b.kind = 'bmi' AND b.rn = 1
    WHERE w.kind = 'weight' AND w.rn = 1
), loss AS (
    SELECT w.*,
           (SELECT pg_catalog.max(e.value) FROM m e
             WHERE e.patient_id = w.patient_id AND e.kind = 'weight' AND e.value > 0
               AND e.measured_at >= baseline.add(w.measured_at, interval '-6 months') AND e.measured_at < w.measured_at) AS max6,
           (SELECT pg_catalog.max(e.value) FROM m e
             WHERE e.patient_id = w.patient_id AND e.kind = 'weight' AND e.value > 0
               AND e.measured_at >= baseline.add(w.measured_at, interval '-2 months') AND e.measured_at < w.measured_at) AS max2
    FROM w
)
SELECT patient_id, measured_at, value, bmi, over70,
       (max6 - value) / max6 * 100.0 AS loss6, (max2 - value) / max2 * 100.0 AS loss2
FROM loss
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

-- A fall after the last fall-risk assessment (with none: in the episode or
-- the 12 months before it), unless the admission assessment is still open.
CREATE VIEW baseline.flag_after_fall AS
WITH a AS (
    SELECT s.patient_id, s.rule_id, s.domain, s.follow_up, s.now,
           (SELECT e.at FROM baseline.event e
             WHERE e.patient_id = s.patient_id AND e.domain = 'fall_risk' AND e.all_rank = 1) AS last_assessed,
           baseline.add(s.started_at, interval '-12 months') AS year_before
    FROM baseline.in_scope s
    WHERE s.rule_id = 'fall_risk.assessment.after_fall'
      AND NOT EXISTS (SELECT FROM baseline.flag_episode_start f
                      WHERE f.patient_id = s.patient_id AND f.rule_id = 'fall_risk.assessment.admission')
), f AS (
    SELECT a.*,
           (SELECT pg_catalog.min(x.fell_at) FROM careflags.fall x
             WHERE x.patient_id = a.patient_id AND x.fell_at <= a.now
               AND CASE WHEN a.last_assessed IS NOT NULL THEN x.fell_at > a.last_assessed
                        ELSE x.fell_at >= a.year_before END) AS first_fall
    FROM a
)
SELECT patient_id, rule_id, domain, first_fall AS due_from, baseline.add(first_fall, follow_up) AS due_at
FROM f WHERE first_fall IS NOT NULL;

-- High fall risk (the last scored assessment) or a fall in 12 months, a FRID
-- in use, and no medication review since.
CREATE VIEW baseline.flag_fall_risk_drugs AS
WITH t AS (
    SELECT s.patient_id, s.rule_id, s.domain, s.follow_up, s.now,
           GREATEST((SELECT e.at FROM baseline.event e
                      WHERE e.patient_id = s.patient_id AND e.domain = 'fall_risk' AND e.scored
                        AND e.scored_rank = 1 AND e.at_risk),
                    (SELECT pg_catalog.max(x.fell_at) FROM careflags.fall x
                      WHERE x.patient_id = s.patient_id AND x.fell_at <= s.now
                        AND x.fell_at >= baseline.add(s.now, interval '-12 months'))) AS trig
    FROM baseline.in_scope s
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

-- All open flags.  A flag is never due before its episode started.
CREATE VIEW baseline.flag AS
SELECT f.patient_id, f.rule_id, f.domain, ce.episode_id, ce.unit_id, ce.setting, r.severity, r.title,
       GREATEST(f.due_from, ce.started_at) AS due_from,
       GREATEST(f.due_at, f.due_from, ce.started_at) AS due_at,
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
            WHEN c.now >= f.due_from - f.due_soon_window THEN 'due_soon' ELSE 'upcoming' END AS state,
       f.due_from, f.due_at
FROM baseline.flag f
JOIN careflags.patient p ON p.patient_id = f.patient_id
LEFT JOIN careflags.unit u ON u.unit_id = f.unit_id
CROSS JOIN (SELECT baseline.clock() AS now) c
WHERE c.now >= f.due_from - f.due_soon_window
ORDER BY f.severity, f.due_at, f.patient_id, f.rule_id;
COMMENT ON VIEW baseline.worklist IS 'what a nurse should act on now, by severity then due time; filter by unit_id';
