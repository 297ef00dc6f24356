-- Fall-risk rules (clinical-rules.md §4, §7.4, §7.8).
BEGIN;
\ir fixtures.psql
SELECT plan(20);

SELECT cft.at('2026-03-10 12:00+01');

-- fall_risk.assessment.admission: nursing homes and home nursing, 7 days
CREATE TEMP TABLE a AS SELECT cft.patient('home_nursing', '2026-03-02 10:00+01') AS id;
SELECT is(cft.due((SELECT id FROM a), 'fall_risk.assessment.admission'),
          '2026-03-02 10:00:00 .. 2026-03-09 10:00:00', 'home nursing: fall-risk assessment within 7 days');
SELECT is(cft.state((SELECT id FROM a), 'fall_risk.assessment.admission'), 'overdue', 'overdue on day 8');
CREATE TEMP TABLE hs AS SELECT cft.patient('home_services', '2026-03-02 10:00+01') AS id;
SELECT ok(NOT cft.is_open((SELECT id FROM hs), 'fall_risk.assessment.admission'), 'home services: not in the population');
SELECT cft.fall((SELECT id FROM a), '2026-03-05 10:00+01');
SELECT ok(NOT cft.is_open((SELECT id FROM a), 'fall_risk.assessment.after_fall'), 'no after-fall flag while the admission flag is open (§7.4)');
SELECT cft.screen((SELECT id FROM a), '2026-03-10 10:00+01', 20, 'morse');
SELECT ok(NOT cft.is_open((SELECT id FROM a), 'fall_risk.assessment.admission'), 'a Morse assessment resolves it');

-- fall_risk.assessment.repeat: 6 months after the last assessment
SELECT is(cft.due((SELECT id FROM a), 'fall_risk.assessment.repeat'),
          '2026-09-10 10:00:00 .. 2026-09-10 10:00:00', 'repeat 6 months later (summer time kept as local time)');
SELECT cft.at('2026-09-03 09:59+02');
SELECT is(cft.state((SELECT id FROM a), 'fall_risk.assessment.repeat'), 'upcoming', 'upcoming until 7 days before (§7.2)');
SELECT cft.at('2026-09-03 10:00+02');
SELECT is(cft.state((SELECT id FROM a), 'fall_risk.assessment.repeat'), 'due_soon', 'due soon 7 days before');
SELECT cft.at('2026-03-10 12:00+01');

-- fall_risk.assessment.after_fall: a fall after the last assessment
SELECT cft.fall((SELECT id FROM a), '2026-03-10 11:00+01');
SELECT is(cft.due((SELECT id FROM a), 'fall_risk.assessment.after_fall'),
          '2026-03-10 11:00:00 .. 2026-03-17 11:00:00', 'a fall after the assessment: reassess within 7 days');
SELECT ok(NOT cft.is_open((SELECT id FROM a), 'medication_review.fall_risk_drugs'), 'no FRID in use: no medication flag');
SELECT cft.screen((SELECT id FROM a), '2026-03-10 11:30+01', 2, 'stratify');
SELECT ok(NOT cft.is_open((SELECT id FROM a), 'fall_risk.assessment.after_fall'), 'a new assessment resolves it');
SELECT is(cft.resolution((SELECT id FROM a), 'fall_risk.assessment.after_fall'), 'done', 'resolved as done');

-- fall_risk.high.no_plan: high score needs a fall-prevention plan within 7 days
CREATE TEMP TABLE h AS SELECT cft.patient('nursing_home_long_term', '2026-03-01 10:00+01') AS id;
SELECT cft.screen((SELECT id FROM h), '2026-03-02 10:00+01', 45, 'morse');
SELECT ok(NOT cft.is_open((SELECT id FROM h), 'fall_risk.high.no_plan'), 'Morse 45 is moderate: no plan needed');
SELECT cft.screen((SELECT id FROM h), '2026-03-03 10:00+01', 50, 'morse');
SELECT is(cft.due((SELECT id FROM h), 'fall_risk.high.no_plan'),
          '2026-03-03 10:00:00 .. 2026-03-10 10:00:00', 'Morse 50 is high: plan due within 7 days');
SELECT alike(cft.reason((SELECT id FROM h), 'fall_risk.high.no_plan'), 'High fall risk (morse 50 on 3 March 2026)%', 'reason names the score');
SELECT cft.plan((SELECT id FROM h), 'fall_prevention', '2026-03-04 10:00+01');
SELECT ok(NOT cft.is_open((SELECT id FROM h), 'fall_risk.high.no_plan'), 'a fall-prevention plan resolves it');

-- high fall risk + FRID raises the medication review flag
SELECT cft.medicine((SELECT id FROM h), 'N05CD02', '2026-01-01 10:00+01');
SELECT ok(cft.is_open((SELECT id FROM h), 'medication_review.fall_risk_drugs'), 'high Morse + a benzodiazepine hypnotic: medication review flag');
SELECT alike(cft.reason((SELECT id FROM h), 'medication_review.fall_risk_drugs'), 'High fall-risk score on 3 March 2026 and benzodiazepine hypnotics%', 'reason names the score and the class');

-- a fall with no assessment at all: counted from 12 months before the episode
CREATE TEMP TABLE n AS SELECT cft.patient('gp', '2026-01-01 10:00+01') AS id;
SELECT cft.fall((SELECT id FROM n), '2025-06-01 10:00+02');
SELECT ok(cft.is_open((SELECT id FROM n), 'fall_risk.assessment.after_fall'), 'a fall in the 12 months before the episode, never assessed: flag');
SELECT alike(cft.reason((SELECT id FROM n), 'fall_risk.assessment.after_fall'), 'Fall on 1 June 2025 and no fall-risk assessment recorded%', 'reason says so');

SELECT * FROM finish();
ROLLBACK;
