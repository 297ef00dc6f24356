-- Issue 15 item 2 (one row per action, clinical-rules.md §7.18): a nurse
-- reads careflags.actions, one row per patient and action due, with the
-- earliest due time, the most urgent state and at most 140 characters of
-- why, in her language; acknowledge / snooze / exempt act on every flag of
-- the row; flags stay per rule underneath.  Rows of the demo population
-- (scripts/demo.d/10_population.sql) fit 140 characters in every language
-- (the benchmark population: tests/bench/20_action_rows.sql).
BEGIN;
\ir fixtures.psql
SELECT plan(32);

\ir language_population.psql

CREATE TEMP TABLE expected (k text, action text, lang text, why text, rule_ids text);
INSERT INTO expected VALUES
    ('home', 'fall_risk_assessment', 'nn', 'Fallrisikovurdering: ved oppstart av heimetenester 1. des. Frist 8. des.', '{fall_risk.assessment.admission}'),
    ('home', 'fall_risk_assessment', 'nb', 'Fallrisikovurdering: ved oppstart av hjemmetjenester 1. des. Frist 8. des.', '{fall_risk.assessment.admission}'),
    ('home', 'fall_risk_assessment', 'en', 'Fall-risk assessment: home care started 1 Dec. Due 8 Dec.', '{fall_risk.assessment.admission}'),
    ('home', 'medication_review', 'nn', 'Legemiddelgjennomgang: 4 faste legemiddel. Frist 8. des.', '{medication_review.polypharmacy}'),
    ('home', 'medication_review', 'nb', 'Legemiddelgjennomgang: 4 faste legemidler. Frist 8. des.', '{medication_review.polypharmacy}'),
    ('home', 'medication_review', 'en', 'Medication review: 4 regular medicines. Due 8 Dec.', '{medication_review.polypharmacy}'),
    ('home', 'nutrition_screening', 'nn', 'Ernæringsscreening: ved oppstart av heimetenester 1. des. Frist 15. des.', '{nutrition.screening.start_of_home_care}'),
    ('home', 'nutrition_screening', 'nb', 'Ernæringsscreening: ved oppstart av hjemmetjenester 1. des. Frist 15. des.', '{nutrition.screening.start_of_home_care}'),
    ('home', 'nutrition_screening', 'en', 'Nutrition screening: home care started 1 Dec. Due 15 Dec.', '{nutrition.screening.start_of_home_care}'),
    ('hs', 'nutrition_plan', 'nn', 'Ernæringsplan: skal evaluerast (laga 1. mai). Frist 1. nov.', '{nutrition.plan.evaluation_home_services}'),
    ('hs', 'nutrition_plan', 'nb', 'Ernæringsplan: evalueres (laget 1. mai). Frist 1. nov.', '{nutrition.plan.evaluation_home_services}'),
    ('hs', 'nutrition_plan', 'en', 'Nutrition plan: evaluate (made 1 May). Due 1 Nov.', '{nutrition.plan.evaluation_home_services}'),
    ('hs', 'nutrition_screening', 'nn', 'Ernæringsscreening: sist gjort 1. mai. Frist 1. nov.', '{nutrition.screening.repeat_home_services}'),
    ('hs', 'nutrition_screening', 'nb', 'Ernæringsscreening: sist gjort 1. mai. Frist 1. nov.', '{nutrition.screening.repeat_home_services}'),
    ('hs', 'nutrition_screening', 'en', 'Nutrition screening: last done 1 May. Due 1 Nov.', '{nutrition.screening.repeat_home_services}'),
    ('lt_admit', 'fall_risk_assessment', 'nn', 'Fallrisikovurdering: ved innkomst 5. des. Frist 12. des.', '{fall_risk.assessment.admission}'),
    ('lt_admit', 'fall_risk_assessment', 'nb', 'Fallrisikovurdering: ved innkomst 5. des. Frist 12. des.', '{fall_risk.assessment.admission}'),
    ('lt_admit', 'fall_risk_assessment', 'en', 'Fall-risk assessment: on admission 5 Dec. Due 12 Dec.', '{fall_risk.assessment.admission}'),
    ('lt_admit', 'medication_review', 'nn', 'Legemiddelgjennomgang: ved innkomst 5. des. Frist 12. des.', '{medication_review.admission}'),
    ('lt_admit', 'medication_review', 'nb', 'Legemiddelgjennomgang: ved innkomst 5. des. Frist 12. des.', '{medication_review.admission}'),
    ('lt_admit', 'medication_review', 'en', 'Medication review: on admission 5 Dec. Due 12 Dec.', '{medication_review.admission}'),
    ('lt_admit', 'nutrition_screening', 'nn', 'Ernæringsscreening: ved innkomst 5. des. Frist 12. des.', '{nutrition.screening.admission_long_term}'),
    ('lt_admit', 'nutrition_screening', 'nb', 'Ernæringsscreening: ved innkomst 5. des. Frist 12. des.', '{nutrition.screening.admission_long_term}'),
    ('lt_admit', 'nutrition_screening', 'en', 'Nutrition screening: on admission 5 Dec. Due 12 Dec.', '{nutrition.screening.admission_long_term}'),
    ('lt_fall', 'fall_risk_assessment', 'nn', 'Fallrisikovurdering: fall 8. des. Frist 15. des.', '{fall_risk.assessment.after_fall}'),
    ('lt_fall', 'fall_risk_assessment', 'nb', 'Fallrisikovurdering: fall 8. des. Frist 15. des.', '{fall_risk.assessment.after_fall}'),
    ('lt_fall', 'fall_risk_assessment', 'en', 'Fall-risk assessment: fall 8 Dec. Due 15 Dec.', '{fall_risk.assessment.after_fall}'),
    ('lt_fall', 'medication_review', 'nn', 'Legemiddelgjennomgang: ved innkomst 1. okt., 11 faste legemiddel, brukar zopiclone og C03CA01 etter fall. Frist 8. okt.', '{medication_review.admission,medication_review.excessive_polypharmacy,medication_review.fall_risk_drugs}'),
    ('lt_fall', 'medication_review', 'nb', 'Legemiddelgjennomgang: ved innkomst 1. okt., 11 faste legemidler, bruker zopiclone og C03CA01 etter fall. Frist 8. okt.', '{medication_review.admission,medication_review.excessive_polypharmacy,medication_review.fall_risk_drugs}'),
    ('lt_fall', 'medication_review', 'en', 'Medication review: on admission 1 Oct, 11 regular medicines, takes zopiclone and C03CA01 after a fall. Due 8 Oct.', '{medication_review.admission,medication_review.excessive_polypharmacy,medication_review.fall_risk_drugs}'),
    ('lt_fall', 'nutrition_screening', 'nn', 'Ernæringsscreening: ved innkomst 1. okt. Frist 8. okt.', '{nutrition.screening.admission_long_term}'),
    ('lt_fall', 'nutrition_screening', 'nb', 'Ernæringsscreening: ved innkomst 1. okt. Frist 8. okt.', '{nutrition.screening.admission_long_term}'),
    ('lt_fall', 'nutrition_screening', 'en', 'Nutrition screening: on admission 1 Oct. Due 8 Oct.', '{nutrition.screening.admission_long_term}'),
    ('lt_repeat', 'fall_risk_assessment', 'nn', 'Fallrisikovurdering: sist gjort 1. mai. Frist 1. nov.', '{fall_risk.assessment.repeat}'),
    ('lt_repeat', 'fall_risk_assessment', 'nb', 'Fallrisikovurdering: sist gjort 1. mai. Frist 1. nov.', '{fall_risk.assessment.repeat}'),
    ('lt_repeat', 'fall_risk_assessment', 'en', 'Fall-risk assessment: last done 1 May. Due 1 Nov.', '{fall_risk.assessment.repeat}'),
    ('lt_repeat', 'medication_review', 'nn', 'Legemiddelgjennomgang: sist gjort 3. jan. Frist 3. jan.', '{medication_review.annual}'),
    ('lt_repeat', 'medication_review', 'nb', 'Legemiddelgjennomgang: sist gjort 3. jan. Frist 3. jan.', '{medication_review.annual}'),
    ('lt_repeat', 'medication_review', 'en', 'Medication review: last done 3 Jan. Due 3 Jan.', '{medication_review.annual}'),
    ('lt_repeat', 'nutrition_plan', 'nn', 'Ernæringsplan: skal evaluerast (laga 15. okt.). Frist 15. nov.', '{nutrition.plan.evaluation}'),
    ('lt_repeat', 'nutrition_plan', 'nb', 'Ernæringsplan: evalueres (laget 15. okt.). Frist 15. nov.', '{nutrition.plan.evaluation}'),
    ('lt_repeat', 'nutrition_plan', 'en', 'Nutrition plan: evaluate (made 15 Oct). Due 15 Nov.', '{nutrition.plan.evaluation}'),
    ('lt_repeat', 'nutrition_screening', 'nn', 'Ernæringsscreening: sist gjort 1. nov. Frist 1. des.', '{nutrition.screening.repeat}'),
    ('lt_repeat', 'nutrition_screening', 'nb', 'Ernæringsscreening: sist gjort 1. nov. Frist 1. des.', '{nutrition.screening.repeat}'),
    ('lt_repeat', 'nutrition_screening', 'en', 'Nutrition screening: last done 1 Nov. Due 1 Dec.', '{nutrition.screening.repeat}'),
    ('lt_risk', 'fall_risk_assessment', 'nn', 'Fallrisikovurdering: ved innkomst 1. des. Frist 8. des.', '{fall_risk.assessment.admission}'),
    ('lt_risk', 'fall_risk_assessment', 'nb', 'Fallrisikovurdering: ved innkomst 1. des. Frist 8. des.', '{fall_risk.assessment.admission}'),
    ('lt_risk', 'fall_risk_assessment', 'en', 'Fall-risk assessment: on admission 1 Dec. Due 8 Dec.', '{fall_risk.assessment.admission}'),
    ('lt_risk', 'medication_review', 'nn', 'Legemiddelgjennomgang: ved innkomst 1. des. Frist 8. des.', '{medication_review.admission}'),
    ('lt_risk', 'medication_review', 'nb', 'Legemiddelgjennomgang: ved innkomst 1. des. Frist 8. des.', '{medication_review.admission}'),
    ('lt_risk', 'medication_review', 'en', 'Medication review: on admission 1 Dec. Due 8 Dec.', '{medication_review.admission}'),
    ('lt_risk', 'nutrition_plan', 'nn', 'Ernæringsplan: i ernæringsmessig risiko (MST 3, 2. des.). Frist 9. des.', '{nutrition.plan.missing}'),
    ('lt_risk', 'nutrition_plan', 'nb', 'Ernæringsplan: i ernæringsmessig risiko (MST 3, 2. des.). Frist 9. des.', '{nutrition.plan.missing}'),
    ('lt_risk', 'nutrition_plan', 'en', 'Nutrition plan: at risk of malnutrition (MST 3, 2 Dec). Due 9 Dec.', '{nutrition.plan.missing}'),
    ('lt_risk', 'nutrition_screening', 'nn', 'Ernæringsscreening: vekttap 12,9 % sidan 1. sep. (70,0 til 61,0 kg). Frist 14. des.', '{nutrition.weight_loss}'),
    ('lt_risk', 'nutrition_screening', 'nb', 'Ernæringsscreening: vekttap 12,9 % siden 1. sep. (70,0 til 61,0 kg). Frist 14. des.', '{nutrition.weight_loss}'),
    ('lt_risk', 'nutrition_screening', 'en', 'Nutrition screening: weight loss 12.9 % since 1 Sep (70.0 to 61.0 kg). Due 14 Dec.', '{nutrition.weight_loss}'),
    ('st_admit', 'fall_risk_assessment', 'nn', 'Fallrisikovurdering: ved innkomst 8. des. Frist 15. des.', '{fall_risk.assessment.admission}'),
    ('st_admit', 'fall_risk_assessment', 'nb', 'Fallrisikovurdering: ved innkomst 8. des. Frist 15. des.', '{fall_risk.assessment.admission}'),
    ('st_admit', 'fall_risk_assessment', 'en', 'Fall-risk assessment: on admission 8 Dec. Due 15 Dec.', '{fall_risk.assessment.admission}'),
    ('st_admit', 'nutrition_screening', 'nn', 'Ernæringsscreening: ved innkomst 8. des. Frist 9. des.', '{nutrition.screening.admission_short_term}'),
    ('st_admit', 'nutrition_screening', 'nb', 'Ernæringsscreening: ved innkomst 8. des. Frist 9. des.', '{nutrition.screening.admission_short_term}'),
    ('st_admit', 'nutrition_screening', 'en', 'Nutrition screening: on admission 8 Dec. Due 9 Dec.', '{nutrition.screening.admission_short_term}'),
    ('st_plan', 'fall_prevention_plan', 'nn', 'Plan for fallførebygging: høg fallrisiko (Morse 50, 2. des.). Frist 9. des.', '{fall_risk.high.no_plan}'),
    ('st_plan', 'fall_prevention_plan', 'nb', 'Plan for fallforebygging: høy fallrisiko (Morse 50, 2. des.). Frist 9. des.', '{fall_risk.high.no_plan}'),
    ('st_plan', 'fall_prevention_plan', 'en', 'Fall-prevention plan: high fall risk (Morse 50, 2 Dec). Due 9 Dec.', '{fall_risk.high.no_plan}'),
    ('st_plan', 'nutrition_plan', 'nn', 'Ernæringsplan: skal evaluerast (laga 2. des.). Frist 9. des.', '{nutrition.plan.evaluation_short_term}'),
    ('st_plan', 'nutrition_plan', 'nb', 'Ernæringsplan: evalueres (laget 2. des.). Frist 9. des.', '{nutrition.plan.evaluation_short_term}'),
    ('st_plan', 'nutrition_plan', 'en', 'Nutrition plan: evaluate (made 2 Dec). Due 9 Dec.', '{nutrition.plan.evaluation_short_term}')
;

-- the same facts give the same rows in three languages
CREATE TEMP TABLE got (k text, action text, lang text, why text, rule_ids text);
SET LOCAL careflags.language = 'nn';
INSERT INTO got SELECT p.k, a.action, 'nn', a.why, a.rule_ids::text FROM careflags.actions a JOIN p ON p.id = a.patient_id;
SET LOCAL careflags.language = 'en';
INSERT INTO got SELECT p.k, a.action, 'en', a.why, a.rule_ids::text FROM careflags.actions a JOIN p ON p.id = a.patient_id;
RESET careflags.language;
INSERT INTO got SELECT p.k, a.action, 'nb', a.why, a.rule_ids::text FROM careflags.actions a JOIN p ON p.id = a.patient_id;
SELECT set_eq('SELECT * FROM got', 'SELECT * FROM expected', 'one row per patient and action, in bokmål, nynorsk and English');

-- Issue 17 item 5: the fall-risk-drug rule names every fall-risk drug in use
-- (longest in use first), in the flag's reason, its reason data and the
-- action row in every language, within 140 characters.
INSERT INTO p SELECT 'frid2', cft.patient('nursing_home_long_term', '2026-01-01 10:00+01');
INSERT INTO p SELECT 'frid3', cft.patient('nursing_home_long_term', '2026-01-01 10:00+01');
INSERT INTO p SELECT 'frid_many', cft.patient('nursing_home_long_term', '2026-12-03 10:00+01');
SELECT cft.review(pg_temp.id(k), '2026-06-01 10:00+02') FROM (VALUES ('frid2'), ('frid3')) v(k);
-- two: high fall risk (Morse 60)
INSERT INTO careflags.medication (patient_id, atc, name, started_at) VALUES
    (pg_temp.id('frid2'), 'N05BA04', 'Oksazepam 10 mg tablett', '2025-09-01 10:00+02'),
    (pg_temp.id('frid2'), 'C03CA01', 'Furosemid 40 mg tablett', '2025-03-01 10:00+01');
SELECT cft.screen(pg_temp.id('frid2'), '2026-12-07 10:00+01', 60, 'morse');
-- three, recorded in no particular order: a fall
INSERT INTO careflags.medication (patient_id, atc, name, started_at) VALUES
    (pg_temp.id('frid3'), 'N05CF01', 'Zopiklon 7,5 mg tablett', '2026-02-01 10:00+01'),
    (pg_temp.id('frid3'), 'C03CA01', 'Furosemid 40 mg tablett', '2025-03-01 10:00+01'),
    (pg_temp.id('frid3'), 'N05BA04', 'Oksazepam 10 mg tablett', '2025-09-01 10:00+02');
SELECT cft.fall(pg_temp.id('frid3'), '2026-12-05 10:00+01');
-- seven, long names, besides an admission and eleven regular medicines
INSERT INTO careflags.medication (patient_id, atc, name, started_at)
SELECT pg_temp.id('frid_many'), atc, name, '2026-01-01 10:00+01'::timestamptz + n * interval '1 day'
  FROM (VALUES (1, 'C03CA01', 'Furosemid 40 mg tablett'), (2, 'N05BA04', 'Oksazepam 10 mg tablett'),
               (3, 'N05CF01', 'Zopiklon 7,5 mg tablett'), (4, 'N06AB04', 'Citalopram 20 mg tablett'),
               (5, 'N05AH03', 'Olanzapin 5 mg tablett'), (6, 'N02AA01', 'Morfinhydroklorid 10 mg mikstur'),
               (7, 'C02AC01', 'Klonidinhydroklorid 25 mikrogram tablett')) v(n, atc, name);
SELECT cft.medicine(pg_temp.id('frid_many'), a, '2026-02-01 10:00+01') FROM unnest(ARRAY['A02BC01','A06AD11','B01AC06','C10AA01']) a;
SELECT cft.fall(pg_temp.id('frid_many'), '2026-12-04 10:00+01');

CREATE TEMP TABLE frid_rows (k text, lang text, why text, reason text);
CREATE TEMP VIEW frid_now AS
SELECT p.k, careflags.language() AS lang, a.why,
       (SELECT careflags.reason_text(f.details, f.reason) FROM careflags.flag f
         WHERE f.patient_id = p.id AND f.rule_id = 'medication_review.fall_risk_drugs' AND f.resolved_at IS NULL) AS reason
  FROM p JOIN careflags.actions a ON a.patient_id = p.id AND a.action = 'medication_review'
 WHERE p.k LIKE 'frid%';
SET LOCAL careflags.language = 'nb';
INSERT INTO frid_rows SELECT * FROM frid_now;
SET LOCAL careflags.language = 'nn';
INSERT INTO frid_rows SELECT * FROM frid_now;
SET LOCAL careflags.language = 'en';
INSERT INTO frid_rows SELECT * FROM frid_now;
RESET careflags.language;
SELECT set_eq($$SELECT k, lang, why FROM frid_rows WHERE k IN ('frid2', 'frid3')$$,
              $$VALUES ('frid2', 'nb', 'Legemiddelgjennomgang: bruker furosemid og oksazepam ved høy fallrisiko. Frist 14. des.'),
                       ('frid2', 'nn', 'Legemiddelgjennomgang: brukar furosemid og oksazepam ved høg fallrisiko. Frist 14. des.'),
                       ('frid2', 'en', 'Medication review: takes furosemid and oksazepam with high fall risk. Due 14 Dec.'),
                       ('frid3', 'nb', 'Legemiddelgjennomgang: bruker furosemid, oksazepam og zopiklon etter fall. Frist 12. des.'),
                       ('frid3', 'nn', 'Legemiddelgjennomgang: brukar furosemid, oksazepam og zopiklon etter fall. Frist 12. des.'),
                       ('frid3', 'en', 'Medication review: takes furosemid, oksazepam and zopiklon after a fall. Due 12 Dec.')$$,
              'two and three fall-risk drugs: the action row names each, longest in use first, in bokmål, nynorsk and English');
SELECT set_eq($$SELECT k, lang, reason FROM frid_rows WHERE k IN ('frid2', 'frid3')$$,
              $$VALUES ('frid2', 'nb', 'Høy fallrisiko 7. desember 2026, bruker Furosemid 40 mg tablett (C03CA01) og Oksazepam 10 mg tablett (N05BA04), ingen legemiddelgjennomgang siden. Frist 14. desember 2026.'),
                       ('frid2', 'nn', 'Høg fallrisiko 7. desember 2026, brukar Furosemid 40 mg tablett (C03CA01) og Oksazepam 10 mg tablett (N05BA04), ingen legemiddelgjennomgang sidan. Frist 14. desember 2026.'),
                       ('frid2', 'en', 'High fall-risk score on 7 December 2026 and Furosemid 40 mg tablett (C03CA01) and Oksazepam 10 mg tablett (N05BA04) in use; no medication review since. Due 14 December 2026.'),
                       ('frid3', 'nb', 'Fall 5. desember 2026, bruker Furosemid 40 mg tablett (C03CA01), Oksazepam 10 mg tablett (N05BA04) og Zopiklon 7,5 mg tablett (N05CF01), ingen legemiddelgjennomgang siden. Frist 12. desember 2026.'),
                       ('frid3', 'nn', 'Fall 5. desember 2026, brukar Furosemid 40 mg tablett (C03CA01), Oksazepam 10 mg tablett (N05BA04) og Zopiklon 7,5 mg tablett (N05CF01), ingen legemiddelgjennomgang sidan. Frist 12. desember 2026.'),
                       ('frid3', 'en', 'Fall on 5 December 2026 and Furosemid 40 mg tablett (C03CA01), Oksazepam 10 mg tablett (N05BA04) and Zopiklon 7,5 mg tablett (N05CF01) in use; no medication review since. Due 12 December 2026.')$$,
              'and so does the flag''s reason rendered from its reason data, in each language');
SELECT matches(cft.reason(pg_temp.id('frid3'), 'medication_review.fall_risk_drugs'),
               '^Fall on 5 December 2026 and [a-z -]+ Furosemid 40 mg tablett \(C03CA01\), [a-z -]+ Oksazepam 10 mg tablett \(N05BA04\) and z-drugs Zopiklon 7,5 mg tablett \(N05CF01\) in use; no medication review since; due 12 December 2026$',
               'the flag''s stored English reason names all three, each with its class');
SELECT is((SELECT details -> 'drugs' FROM careflags.flag
            WHERE patient_id = pg_temp.id('frid3') AND rule_id = 'medication_review.fall_risk_drugs' AND resolved_at IS NULL),
          '[{"atc": "C03CA01", "name": "Furosemid 40 mg tablett"}, {"atc": "N05BA04", "name": "Oksazepam 10 mg tablett"}, {"atc": "N05CF01", "name": "Zopiklon 7,5 mg tablett"}]'::jsonb,
          'its reason data lists the three (text1/text2 keep the first, as before)');
SELECT is((SELECT string_agg(k || '/' || lang, ', ') FROM frid_rows WHERE char_length(why) > 140), NULL,
          'every such row is at most 140 characters');
SELECT set_eq($$SELECT lang, why FROM frid_rows WHERE k = 'frid_many'$$,
              $$VALUES ('nb', 'Legemiddelgjennomgang: ved innkomst 3. des., 11 faste legemidler, bruker furosemid, oksazepam og 5 andre etter fall. Frist 10. des.'),
                       ('nn', 'Legemiddelgjennomgang: ved innkomst 3. des., 11 faste legemiddel, brukar furosemid, oksazepam og 5 andre etter fall. Frist 10. des.'),
                       ('en', 'Medication review: on admission 3 Dec, 11 regular medicines, takes furosemid, oksazepam and 5 others after a fall. Due 10 Dec.')$$,
              'seven beside other reasons: as many names as fit 140 characters, the rest counted, the deadline whole');
SELECT is(careflags.action_text('medication_review',
            ARRAY['{"kind": "fall_drug", "domain": "medication_review", "setting": "nursing_home_long_term", "date1": "2026-12-05", "due": "2026-12-12", "flag": true, "text1": "Furosemid", "text2": "C03CA01"}'::jsonb],
            '2026-12-12 10:00+01', 'nb')
          || ' | ' || careflags.reason_text('{"kind": "fall_drug", "domain": "medication_review", "setting": "nursing_home_long_term", "date1": "2026-12-05", "due": "2026-12-12", "flag": true, "text1": "Furosemid", "text2": "C03CA01"}', 'x', 'en'),
          'Legemiddelgjennomgang: bruker furosemid etter fall. Frist 12. des. | Fall on 5 December 2026 and Furosemid (C03CA01) in use; no medication review since. Due 12 December 2026.',
          'reason data written before the list (one name in text1) still renders');

-- several rules open in one family: one row
SELECT is((SELECT count(*)::int FROM careflags.flag WHERE patient_id = pg_temp.id('lt_fall')
             AND domain = 'medication_review' AND resolved_at IS NULL), 3,
          'three medication-review rules are open for the patient (flags stay per rule)');
SELECT is((SELECT count(*)::int FROM careflags.actions WHERE patient_id = pg_temp.id('lt_fall') AND action = 'medication_review'), 1,
          'and the nurse sees one medication-review row');
SELECT is((SELECT (a.due_at, a.state, a.title, a.state_text)::text FROM careflags.actions a
            WHERE a.patient_id = pg_temp.id('lt_fall') AND a.action = 'medication_review'),
          (SELECT (min(f.due_at), 'overdue', 'Legemiddelgjennomgang', 'over fristen')::text FROM careflags.flag f
            WHERE f.patient_id = pg_temp.id('lt_fall') AND f.domain = 'medication_review' AND f.resolved_at IS NULL),
          'the row has the earliest deadline, the most urgent state, the action''s name and state in Norwegian');
SELECT is((SELECT count(*)::int FROM careflags.worklist WHERE patient_id = pg_temp.id('lt_fall')), 5,
          'the worklist still has five rows for the patient');
SELECT is((SELECT count(*)::int FROM careflags.actions WHERE patient_id = pg_temp.id('lt_fall')), 3,
          'careflags.actions has three (medication review, fall-risk assessment, nutrition screening)');

-- a nurse: her units only; acting on a row acts on every flag behind it
CREATE ROLE cft_nurse_a LOGIN IN ROLE careflags_nurse;
CREATE ROLE cft_nurse_b LOGIN IN ROLE careflags_nurse;
INSERT INTO careflags.unit (unit_id, name, setting) VALUES
    ('ward-a', 'Ward A', 'nursing_home_long_term'), ('ward-b', 'Ward B', 'nursing_home_long_term')
    ON CONFLICT (unit_id) DO NOTHING;
INSERT INTO careflags.unit_access (unit_id, role) VALUES ('ward-a', 'cft_nurse_a'), ('ward-b', 'cft_nurse_b');
INSERT INTO p SELECT 'ward_b', cft.patient('nursing_home_long_term', '2026-12-05 10:00+01', unit => 'ward-b');
GRANT SELECT ON p TO cft_nurse_a, cft_nurse_b;
CREATE TEMP TABLE acted (audit_id bigint);
GRANT INSERT, SELECT ON acted TO cft_nurse_a;
SET LOCAL ROLE cft_nurse_b;
SELECT is((SELECT array_agg(DISTINCT unit_id) FROM careflags.actions), '{ward-b}'::text[], 'nurse B''s actions: ward B only');
SELECT throws_ok(format('SELECT careflags.acknowledge_action(%s, %L)', pg_temp.id('lt_fall'), 'medication_review'),
                 'P0002', NULL, 'she cannot act on a row of ward A');
RESET ROLE;
SET LOCAL ROLE cft_nurse_a;
SELECT is((SELECT array_agg(DISTINCT unit_id) FROM careflags.actions), '{ward-a}'::text[], 'nurse A''s actions: ward A only');
INSERT INTO acted SELECT careflags.acknowledge_action(pg_temp.id('lt_fall'), 'medication_review', 'seen') AS audit_id;
RESET ROLE;
SELECT is((SELECT count(*)::int FROM careflags.audit WHERE patient_id = pg_temp.id('lt_fall')), 1,
          'acknowledging the row writes one audit entry for the row, not one per flag');
SELECT is((SELECT count(*)::int FROM careflags.flag WHERE patient_id = pg_temp.id('lt_fall') AND domain = 'medication_review'
             AND resolved_at IS NULL AND acknowledged_by = 'cft_nurse_a'), 3, 'every flag of the row is acknowledged, by her');
SELECT is((SELECT format('%s %s %s %s %s', a.action, a.actor, a.detail ->> 'row', a.detail ->> 'note',
                         (SELECT array_agg(x::bigint ORDER BY x::bigint) FROM jsonb_array_elements_text(a.detail -> 'flags') x))
             FROM careflags.audit a JOIN acted USING (audit_id)),
          (SELECT format('acknowledge cft_nurse_a medication_review seen %s', array_agg(f.flag_id ORDER BY f.flag_id))
             FROM careflags.flag f WHERE f.patient_id = pg_temp.id('lt_fall') AND f.domain = 'medication_review' AND f.resolved_at IS NULL),
          'the entry names her, the row, her note and every flag behind the row');
SET LOCAL ROLE cft_nurse_a;
SELECT ok(careflags.snooze_action(pg_temp.id('lt_repeat'), 'nutrition_screening', '2026-12-12 12:00+01') IS NOT NULL,
          'snoozing a row');
SELECT is((SELECT count(*)::int FROM careflags.actions WHERE patient_id = pg_temp.id('lt_repeat') AND action = 'nutrition_screening'), 0,
          'a snoozed row leaves the list');
SELECT ok(careflags.exempt_action(pg_temp.id('lt_risk'), 'nutrition_plan', 'end-of-life care') IS NOT NULL,
          'exempting a row');
RESET ROLE;
SELECT is((SELECT resolution FROM careflags.flag WHERE patient_id = pg_temp.id('lt_risk') AND rule_id = 'nutrition.plan.missing'
            ORDER BY flag_id DESC LIMIT 1), 'exempt', 'the flags of an exempted row are resolved as exempt');
SELECT is((SELECT string_agg(format('%s:%s', a.action, jsonb_array_length(a.detail -> 'flags')), ' ' ORDER BY a.audit_id)
             FROM careflags.audit a WHERE a.patient_id IN (pg_temp.id('lt_repeat'), pg_temp.id('lt_risk'))),
          'snooze:1 exempt:1', 'snoozing and exempting a row: one audit entry each, naming the row''s flags');
SELECT is((SELECT count(*)::int FROM careflags.exemption e JOIN careflags.audit a ON e.source_key LIKE 'audit/' || a.audit_id || '/%'
            WHERE a.patient_id = pg_temp.id('lt_risk') AND a.action = 'exempt'), 1, 'the exemption is tied to the row''s audit entry');

-- the chains still verify, the witness sees the row's entry, tampering is found
SELECT is((SELECT format('%s %s', intact, problem) FROM careflags.verify_audit()), 't ', 'verify_audit(): the chains are intact');
SELECT is((SELECT w.last_id FROM careflags.audit_witness() w WHERE w.chain = pg_temp.id('lt_fall')::text),
          (SELECT audit_id FROM acted), 'the patient''s chain ends with the row''s entry (careflags.audit_witness)');
SET LOCAL session_replication_role = replica;
UPDATE careflags.audit SET detail = jsonb_set(detail, '{flags}', (detail -> 'flags') - 0)
 WHERE audit_id = (SELECT audit_id FROM acted);
RESET session_replication_role;
SELECT is((SELECT format('%s %s', intact, first_broken) FROM careflags.verify_audit()), 'f ' || (SELECT audit_id FROM acted),
          'a flag struck from the row''s entry is found by verify_audit()');

-- the demo population: every row fits 140 characters in every language
SELECT cft.at(now());
\ir ../../scripts/demo.d/10_population.sql
\set QUIET 0
CREATE TEMP TABLE demo_rows AS
SELECT l.lang, g.patient_id, g.action, careflags.action_text(g.action, g.details, g.due_at, l.lang) AS why
  FROM (SELECT f.patient_id, careflags.action_of(f.domain, r.anchor) AS action,
               array_agg(f.details ORDER BY f.due_at, f.flag_id) AS details, min(f.due_at) AS due_at
          FROM careflags.flag f JOIN careflags.rule r USING (rule_id)
         WHERE f.resolved_at IS NULL AND f.unit_id LIKE ANY (ARRAY['solsiden%', 'hjemme%'])
         GROUP BY 1, 2) g
 CROSS JOIN (VALUES ('nb'), ('nn'), ('en')) l(lang);
SELECT cmp_ok((SELECT count(*)::int FROM demo_rows WHERE lang = 'nb'), '>', 100, 'the demo population has action rows (every open flag, upcoming too)');
SELECT is((SELECT count(*)::int FROM demo_rows WHERE char_length(why) > 140), 0,
          'every action row of the demo population is at most 140 characters in bokmål, nynorsk and English');
SELECT is((SELECT count(*)::int FROM demo_rows
            WHERE why !~ (CASE lang WHEN 'en' THEN ' Due [0-9]{1,2} [A-Z][a-z]{2}\.$' ELSE ' Frist [0-9]{1,2}\. [a-zæøå]+\.$' END)), 0,
          'and ends with its whole deadline in its language');
SELECT is((SELECT count(*)::int FROM careflags.actions a CROSS JOIN (VALUES ('nb'), ('nn'), ('en')) l(lang)
            WHERE char_length(careflags.action_text(a.action,
                    (SELECT array_agg(f.details ORDER BY f.due_at, f.flag_id) FROM careflags.flag f WHERE f.flag_id = ANY (a.flag_ids)),
                    a.due_at, l.lang)) > 140), 0,
          'and so is every row of careflags.actions');

SELECT * FROM finish();
ROLLBACK;
