-- Medication-review rules (clinical-rules.md §3, §7.5, §7.6, §7.9).
BEGIN;
\ir fixtures.psql
SELECT plan(30);

SELECT cft.at('2026-03-10 12:00+01');

-- medication_review.admission: long-term stay, within 7 days
CREATE TEMP TABLE a AS SELECT cft.patient('nursing_home_long_term', '2026-03-05 10:00+01') AS id;
SELECT is(cft.due((SELECT id FROM a), 'medication_review.admission'),
          '2026-03-05 10:00:00 .. 2026-03-12 10:00:00', 'long-term stay: review due within 7 days');
SELECT is(cft.state((SELECT id FROM a), 'medication_review.admission'), 'due', 'due on day 5');
SELECT cft.at('2026-03-12 10:00+01');
SELECT is(cft.state((SELECT id FROM a), 'medication_review.admission'), 'overdue', 'overdue at the deadline');
SELECT cft.at('2026-03-10 12:00+01');
CREATE TEMP TABLE st AS SELECT cft.patient('nursing_home_short_term', '2026-03-05 10:00+01') AS id;
SELECT ok(NOT cft.is_open((SELECT id FROM st), 'medication_review.admission'), 'short-term stay: off by default');
SELECT cft.review((SELECT id FROM a), '2026-03-09 10:00+01');
SELECT ok(NOT cft.is_open((SELECT id FROM a), 'medication_review.admission'), 'a review resolves it');
SELECT is(cft.resolution((SELECT id FROM a), 'medication_review.admission'), 'done', 'resolved as done');

-- medication_review.annual: 12 months after the last review, 30-day window
SELECT is(cft.due((SELECT id FROM a), 'medication_review.annual'),
          '2027-03-09 10:00:00 .. 2027-03-09 10:00:00', 'next review a year after the last');
SELECT cft.at('2027-02-07 09:59+01');
SELECT is(cft.state((SELECT id FROM a), 'medication_review.annual'), 'upcoming', 'upcoming until 30 days before');
SELECT cft.at('2027-02-07 10:00+01');
SELECT is(cft.state((SELECT id FROM a), 'medication_review.annual'), 'due_soon', 'due soon 30 days before');
SELECT cft.at('2027-03-09 10:00+01');
SELECT is(cft.state((SELECT id FROM a), 'medication_review.annual'), 'overdue', 'overdue a year after');
SELECT cft.review((SELECT id FROM a), '2027-03-01 10:00+01');
SELECT is(cft.due((SELECT id FROM a), 'medication_review.annual'),
          '2028-03-01 10:00:00 .. 2028-03-01 10:00:00', 'a new review moves it a year on');
SELECT ok(NOT cft.is_open((SELECT id FROM st), 'medication_review.annual'), 'annual review: long-term stays only');

-- medication_review.polypharmacy: home nursing, >= 4 regular medicines, no review in 12 months
SELECT cft.at('2026-03-10 12:00+01');
CREATE TEMP TABLE pp AS SELECT cft.patient('home_nursing', '2025-01-01 10:00+01') AS id;
SELECT cft.medicine((SELECT id FROM pp), 'C09AA05', '2025-02-01 10:00+01');
SELECT cft.medicine((SELECT id FROM pp), 'A10BA02', '2025-03-01 10:00+01');
SELECT cft.medicine((SELECT id FROM pp), 'B01AC06', '2025-04-01 10:00+01');
SELECT cft.medicine((SELECT id FROM pp), 'N02BE01', '2025-05-01 10:00+01', true);
SELECT ok(NOT cft.is_open((SELECT id FROM pp), 'medication_review.polypharmacy'), '3 regular + 1 as-needed: no flag');
SELECT cft.medicine((SELECT id FROM pp), 'C10AA01', '2025-06-01 10:00+02');
SELECT is(cft.due((SELECT id FROM pp), 'medication_review.polypharmacy'),
          '2025-06-01 10:00:00 .. 2025-06-08 10:00:00', '4 regular: due when the 4th was started');
SELECT cft.medicine((SELECT id FROM pp), 'C10AA01', '2025-07-01 10:00+02');
SELECT alike(cft.reason((SELECT id FROM pp), 'medication_review.polypharmacy'), '4 regular medicines in use%', 'the same ATC twice counts once');
SELECT cft.review((SELECT id FROM pp), '2026-01-15 10:00+01');
SELECT is(cft.due((SELECT id FROM pp), 'medication_review.polypharmacy'),
          '2027-01-15 10:00:00 .. 2027-01-22 10:00:00', 'after a review: due 12 months later');
SELECT is(cft.state((SELECT id FROM pp), 'medication_review.polypharmacy'), 'upcoming', 'and upcoming now');
UPDATE careflags.medication SET stopped_at = '2026-03-01 10:00+01' WHERE patient_id = (SELECT id FROM pp) AND atc = 'B01AC06';
SELECT ok(NOT cft.is_open((SELECT id FROM pp), 'medication_review.polypharmacy'), 'a stopped medicine brings it under the threshold');
SELECT is(cft.resolution((SELECT id FROM pp), 'medication_review.polypharmacy'), 'cleared', 'resolved as cleared');

-- medication_review.fall_risk_drugs: a fall or high fall risk + a FRID + no review since
CREATE TEMP TABLE fr AS SELECT cft.patient('home_nursing', '2025-01-01 10:00+01') AS id;
SELECT cft.medicine((SELECT id FROM fr), 'C09AA05', '2025-02-01 10:00+01');
SELECT cft.fall((SELECT id FROM fr), '2026-03-01 10:00+01');
SELECT ok(NOT cft.is_open((SELECT id FROM fr), 'medication_review.fall_risk_drugs'), 'a fall without a FRID: no flag');
SELECT cft.medicine((SELECT id FROM fr), 'N05CF01', '2025-02-01 10:00+01');
SELECT is(cft.due((SELECT id FROM fr), 'medication_review.fall_risk_drugs'),
          '2026-03-01 10:00:00 .. 2026-03-08 10:00:00', 'a fall and zopiclone: review due within 7 days of the fall');
SELECT alike(cft.reason((SELECT id FROM fr), 'medication_review.fall_risk_drugs'), 'Fall on 1 March 2026 and z-drugs%N05CF01%', 'reason names the fall and the drug class');
SELECT cft.review((SELECT id FROM fr), '2026-03-02 10:00+01');
SELECT ok(NOT cft.is_open((SELECT id FROM fr), 'medication_review.fall_risk_drugs'), 'a review after the fall resolves it');
INSERT INTO careflags.medication (patient_id, code, name, started_at) VALUES ((SELECT id FROM fr), 'rxnorm:123', 'unknown drug', '2025-01-01');
SELECT cft.fall((SELECT id FROM fr), '2026-03-05 10:00+01');
SELECT ok(cft.is_open((SELECT id FROM fr), 'medication_review.fall_risk_drugs'), 'a new fall after the review raises it again');
CREATE TEMP TABLE fr2 AS SELECT cft.patient('home_nursing', '2025-01-01 10:00+01') AS id;
INSERT INTO careflags.medication (patient_id, code, name, started_at) VALUES ((SELECT id FROM fr2), 'rxnorm:197591', 'diazepam', '2025-01-01');
SELECT cft.fall((SELECT id FROM fr2), '2026-03-01 10:00+01');
SELECT ok(NOT cft.is_open((SELECT id FROM fr2), 'medication_review.fall_risk_drugs'), 'a medicine without ATC cannot make a FRID flag (§7.9)');
SELECT cft.fall((SELECT id FROM fr2), '2025-02-01 10:00+01');
SELECT cft.medicine((SELECT id FROM fr2), 'N05BA01', '2025-01-01 10:00+01');
UPDATE careflags.fall SET fell_at = '2025-03-09 10:00+01' WHERE patient_id = (SELECT id FROM fr2) AND fell_at = '2026-03-01 10:00+01';
SELECT ok(NOT cft.is_open((SELECT id FROM fr2), 'medication_review.fall_risk_drugs'), 'falls more than 12 months ago do not count');

-- medication_review.excessive_polypharmacy: >= 10 regular medicines
CREATE TEMP TABLE ex AS SELECT cft.patient('nursing_home_long_term', '2025-01-01 10:00+01') AS id;
SELECT cft.review((SELECT id FROM ex), '2025-01-02 10:00+01');
SELECT cft.medicine((SELECT id FROM ex), atc, '2025-06-01 10:00+02')
  FROM unnest(ARRAY['A01AA01','A02BC01','A06AD11','B01AC06','C03CA01','C07AB02','C09AA05','C10AA01','N02BE01']) AS atc;
SELECT ok(NOT cft.is_open((SELECT id FROM ex), 'medication_review.excessive_polypharmacy'), '9 regular medicines: no flag');
SELECT cft.medicine((SELECT id FROM ex), 'N06AB04', '2025-07-01 10:00+02');
SELECT is(cft.due((SELECT id FROM ex), 'medication_review.excessive_polypharmacy'),
          '2025-07-01 10:00:00 .. 2025-07-08 10:00:00', '10 regular medicines: flag due from the 10th');
SELECT cft.review((SELECT id FROM ex), '2026-03-01 10:00+01');
SELECT ok(NOT cft.is_open((SELECT id FROM ex), 'medication_review.excessive_polypharmacy'), 'a review after reaching 10 resolves it');
SELECT is(cft.resolution((SELECT id FROM ex), 'medication_review.excessive_polypharmacy'), 'done', 'resolved as done');

SELECT * FROM finish();
ROLLBACK;
