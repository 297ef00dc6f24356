-- Issue 15 item 1 (language): careflags.language chooses bokmål (default),
-- nynorsk or English; a flag keeps what its reason says as data
-- (careflags.flag.details) and each reader gets it rendered in her own
-- language; every default rule's reason is a natural sentence in all three
-- (clinical-rules.md §8: Norwegian dates, decimal commas, instrument names as
-- published); rule titles per language from careflags.rule_text, which a
-- site extends for its own rules; states in the language.
BEGIN;
\ir fixtures.psql
SELECT plan(16);

SELECT is(careflags.language(), 'nb', 'bokmål is the default language');
SELECT throws_ok($$SET LOCAL careflags.language = 'de'$$, '22023', NULL, 'only nb, nn and en are accepted');
SELECT throws_ok($$SELECT careflags.state_text('due', 'sv')$$, '22023', 'unknown language "sv"', 'a direct call with an unknown language: a clear error');

\ir language_population.psql

CREATE TEMP TABLE expected (k text, rule_id text, lang text, sentence text);
INSERT INTO expected VALUES
    ('home', 'fall_risk.assessment.admission', 'nn', 'Inga fallrisikovurdering sidan oppstart av heimetenester 1. desember 2026. Frist 8. desember 2026.'),
    ('home', 'fall_risk.assessment.admission', 'nb', 'Ingen fallrisikovurdering siden oppstart av hjemmetjenester 1. desember 2026. Frist 8. desember 2026.'),
    ('home', 'fall_risk.assessment.admission', 'en', 'No fall-risk assessment since the start of home care on 1 December 2026. Due 8 December 2026.'),
    ('lt_fall', 'fall_risk.assessment.after_fall', 'nn', 'Fall 8. desember 2026 etter siste fallrisikovurdering (3. oktober 2026). Vurder på nytt innan 15. desember 2026.'),
    ('lt_fall', 'fall_risk.assessment.after_fall', 'nb', 'Fall 8. desember 2026 etter siste fallrisikovurdering (3. oktober 2026). Vurder på nytt innen 15. desember 2026.'),
    ('lt_fall', 'fall_risk.assessment.after_fall', 'en', 'Fall on 8 December 2026 after the last fall-risk assessment (3 October 2026). Assess again by 15 December 2026.'),
    ('lt_repeat', 'fall_risk.assessment.repeat', 'nn', 'Siste fallrisikovurdering 1. mai 2026. Ny frist 1. november 2026.'),
    ('lt_repeat', 'fall_risk.assessment.repeat', 'nb', 'Siste fallrisikovurdering 1. mai 2026. Ny frist 1. november 2026.'),
    ('lt_repeat', 'fall_risk.assessment.repeat', 'en', 'Last fall-risk assessment on 1 May 2026. Next due 1 November 2026.'),
    ('st_plan', 'fall_risk.high.no_plan', 'nn', 'Høg fallrisiko (Morse 50, 2. desember 2026) og ingen plan for fallførebygging. Frist 9. desember 2026.'),
    ('st_plan', 'fall_risk.high.no_plan', 'nb', 'Høy fallrisiko (Morse 50, 2. desember 2026) og ingen plan for fallforebygging. Frist 9. desember 2026.'),
    ('st_plan', 'fall_risk.high.no_plan', 'en', 'High fall risk (Morse 50 on 2 December 2026) and no fall-prevention plan. Due 9 December 2026.'),
    ('lt_admit', 'medication_review.admission', 'nn', 'Ingen legemiddelgjennomgang sidan innkomst 5. desember 2026. Frist 12. desember 2026.'),
    ('lt_admit', 'medication_review.admission', 'nb', 'Ingen legemiddelgjennomgang siden innkomst 5. desember 2026. Frist 12. desember 2026.'),
    ('lt_admit', 'medication_review.admission', 'en', 'No medication review since admission on 5 December 2026. Due 12 December 2026.'),
    ('lt_repeat', 'medication_review.annual', 'nn', 'Siste legemiddelgjennomgang 3. januar 2026. Ny frist 3. januar 2027.'),
    ('lt_repeat', 'medication_review.annual', 'nb', 'Siste legemiddelgjennomgang 3. januar 2026. Ny frist 3. januar 2027.'),
    ('lt_repeat', 'medication_review.annual', 'en', 'Last medication review on 3 January 2026. Next due 3 January 2027.'),
    ('lt_fall', 'medication_review.excessive_polypharmacy', 'nn', '11 faste legemiddel i bruk og ingen legemiddelgjennomgang registrert. Frist 9. oktober 2026.'),
    ('lt_fall', 'medication_review.excessive_polypharmacy', 'nb', '11 faste legemidler i bruk og ingen legemiddelgjennomgang registrert. Frist 9. oktober 2026.'),
    ('lt_fall', 'medication_review.excessive_polypharmacy', 'en', '11 regular medicines in use and no medication review recorded. Due 9 October 2026.'),
    ('lt_fall', 'medication_review.fall_risk_drugs', 'nn', 'Fall 8. desember 2026, brukar Zopiclone 7.5 MG Oral Tablet (N05CF01) og C03CA01, ingen legemiddelgjennomgang sidan. Frist 15. desember 2026.'),
    ('lt_fall', 'medication_review.fall_risk_drugs', 'nb', 'Fall 8. desember 2026, bruker Zopiclone 7.5 MG Oral Tablet (N05CF01) og C03CA01, ingen legemiddelgjennomgang siden. Frist 15. desember 2026.'),
    ('lt_fall', 'medication_review.fall_risk_drugs', 'en', 'Fall on 8 December 2026 and Zopiclone 7.5 MG Oral Tablet (N05CF01) and C03CA01 in use; no medication review since. Due 15 December 2026.'),
    ('home', 'medication_review.polypharmacy', 'nn', '4 faste legemiddel i bruk og ingen legemiddelgjennomgang registrert. Frist 8. desember 2026.'),
    ('home', 'medication_review.polypharmacy', 'nb', '4 faste legemidler i bruk og ingen legemiddelgjennomgang registrert. Frist 8. desember 2026.'),
    ('home', 'medication_review.polypharmacy', 'en', '4 regular medicines in use and no medication review recorded. Due 8 December 2026.'),
    ('lt_repeat', 'nutrition.plan.evaluation', 'nn', 'Ernæringsplanen vart laga 15. oktober 2026. Evaluer innan 15. november 2026.'),
    ('lt_repeat', 'nutrition.plan.evaluation', 'nb', 'Ernæringsplanen ble laget 15. oktober 2026. Evaluer innen 15. november 2026.'),
    ('lt_repeat', 'nutrition.plan.evaluation', 'en', 'Nutrition plan made on 15 October 2026. Evaluate by 15 November 2026.'),
    ('hs', 'nutrition.plan.evaluation_home_services', 'nn', 'Ernæringsplanen vart laga 1. mai 2026. Evaluer innan 1. november 2026.'),
    ('hs', 'nutrition.plan.evaluation_home_services', 'nb', 'Ernæringsplanen ble laget 1. mai 2026. Evaluer innen 1. november 2026.'),
    ('hs', 'nutrition.plan.evaluation_home_services', 'en', 'Nutrition plan made on 1 May 2026. Evaluate by 1 November 2026.'),
    ('st_plan', 'nutrition.plan.evaluation_short_term', 'nn', 'Ernæringsplanen vart laga 2. desember 2026. Evaluer innan 9. desember 2026.'),
    ('st_plan', 'nutrition.plan.evaluation_short_term', 'nb', 'Ernæringsplanen ble laget 2. desember 2026. Evaluer innen 9. desember 2026.'),
    ('st_plan', 'nutrition.plan.evaluation_short_term', 'en', 'Nutrition plan made on 2 December 2026. Evaluate by 9 December 2026.'),
    ('lt_risk', 'nutrition.plan.missing', 'nn', 'I ernæringsmessig risiko (MST 3, 2. desember 2026) og ingen ernæringsplan. Frist 9. desember 2026.'),
    ('lt_risk', 'nutrition.plan.missing', 'nb', 'I ernæringsmessig risiko (MST 3, 2. desember 2026) og ingen ernæringsplan. Frist 9. desember 2026.'),
    ('lt_risk', 'nutrition.plan.missing', 'en', 'At risk of malnutrition (MST 3 on 2 December 2026) and no nutrition plan. Due 9 December 2026.'),
    ('lt_admit', 'nutrition.screening.admission_long_term', 'nn', 'Inga ernæringsscreening sidan innkomst 5. desember 2026. Frist 12. desember 2026.'),
    ('lt_admit', 'nutrition.screening.admission_long_term', 'nb', 'Ingen ernæringsscreening siden innkomst 5. desember 2026. Frist 12. desember 2026.'),
    ('lt_admit', 'nutrition.screening.admission_long_term', 'en', 'No nutrition screening since admission on 5 December 2026. Due 12 December 2026.'),
    ('st_admit', 'nutrition.screening.admission_short_term', 'nn', 'Inga ernæringsscreening sidan innkomst 8. desember 2026. Frist 9. desember 2026.'),
    ('st_admit', 'nutrition.screening.admission_short_term', 'nb', 'Ingen ernæringsscreening siden innkomst 8. desember 2026. Frist 9. desember 2026.'),
    ('st_admit', 'nutrition.screening.admission_short_term', 'en', 'No nutrition screening since admission on 8 December 2026. Due 9 December 2026.'),
    ('lt_repeat', 'nutrition.screening.repeat', 'nn', 'Siste ernæringsscreening 1. november 2026. Ny frist 1. desember 2026.'),
    ('lt_repeat', 'nutrition.screening.repeat', 'nb', 'Siste ernæringsscreening 1. november 2026. Ny frist 1. desember 2026.'),
    ('lt_repeat', 'nutrition.screening.repeat', 'en', 'Last nutrition screening on 1 November 2026. Next due 1 December 2026.'),
    ('hs', 'nutrition.screening.repeat_home_services', 'nn', 'Siste ernæringsscreening 1. mai 2026. Ny frist 1. november 2026.'),
    ('hs', 'nutrition.screening.repeat_home_services', 'nb', 'Siste ernæringsscreening 1. mai 2026. Ny frist 1. november 2026.'),
    ('hs', 'nutrition.screening.repeat_home_services', 'en', 'Last nutrition screening on 1 May 2026. Next due 1 November 2026.'),
    ('home', 'nutrition.screening.start_of_home_care', 'nn', 'Inga ernæringsscreening sidan oppstart av heimetenester 1. desember 2026. Frist 15. desember 2026.'),
    ('home', 'nutrition.screening.start_of_home_care', 'nb', 'Ingen ernæringsscreening siden oppstart av hjemmetjenester 1. desember 2026. Frist 15. desember 2026.'),
    ('home', 'nutrition.screening.start_of_home_care', 'en', 'No nutrition screening since the start of home care on 1 December 2026. Due 15 December 2026.'),
    ('lt_risk', 'nutrition.weight_loss', 'nn', 'Teikn på moderat underernæring: vekt 61,0 kg, ned 12,9 % frå 70,0 kg 1. september 2026 (over 10 % på 6 månader). Frist 14. desember 2026.'),
    ('lt_risk', 'nutrition.weight_loss', 'nb', 'Tegn på moderat underernæring: vekt 61,0 kg, ned 12,9 % fra 70,0 kg 1. september 2026 (over 10 % på 6 måneder). Frist 14. desember 2026.'),
    ('lt_risk', 'nutrition.weight_loss', 'en', 'Signs of moderate malnutrition: weight 61.0 kg, 12.9 % below 70.0 kg on 1 September 2026 (over 10 % in 6 months). Due 14 December 2026.')
;

SELECT is((SELECT count(DISTINCT rule_id)::int FROM expected),
          (SELECT count(*)::int FROM careflags.rule WHERE origin = 'default'),
          'every default rule has an expected sentence');
SELECT is((SELECT count(*)::int FROM careflags.flag f
            WHERE f.resolved_at IS NULL AND (f.details IS NULL OR f.details = '{}'::jsonb)), 0,
          'every open flag keeps its reason as data');

-- the same facts, the same flags, three languages
SELECT set_eq($$SELECT e.k, e.rule_id, e.lang, careflags.reason_text(f.details, f.reason, e.lang)
                 FROM expected e JOIN p ON p.k = e.k
                 JOIN careflags.flag f ON f.patient_id = p.id AND f.rule_id = e.rule_id AND f.resolved_at IS NULL$$,
              $$SELECT k, rule_id, lang, sentence FROM expected$$,
              'every default rule''s reason in bokmål, nynorsk and English');

-- two readers, two languages, one flag: the reader's setting decides
CREATE TEMP TABLE seen (lang text, title text, reason text, state text);
SET LOCAL careflags.language = 'nn';
INSERT INTO seen SELECT 'nn', w.title_text, w.reason_text, w.state_text FROM careflags.worklist w
 WHERE w.patient_id = pg_temp.id('lt_risk') AND w.rule_id = 'nutrition.weight_loss';
SET LOCAL careflags.language = 'en';
INSERT INTO seen SELECT 'en', w.title_text, w.reason_text, w.state_text FROM careflags.worklist w
 WHERE w.patient_id = pg_temp.id('lt_risk') AND w.rule_id = 'nutrition.weight_loss';
RESET careflags.language;
INSERT INTO seen SELECT 'nb', w.title_text, w.reason_text, w.state_text FROM careflags.worklist w
 WHERE w.patient_id = pg_temp.id('lt_risk') AND w.rule_id = 'nutrition.weight_loss';
SELECT is((SELECT reason FROM seen WHERE lang = 'nb'),
          'Tegn på moderat underernæring: vekt 61,0 kg, ned 12,9 % fra 70,0 kg 1. september 2026 (over 10 % på 6 måneder). Frist 14. desember 2026.',
          'the worklist in bokmål (default): decimal commas, Norwegian dates');
SELECT is((SELECT reason FROM seen WHERE lang = 'nn'),
          'Teikn på moderat underernæring: vekt 61,0 kg, ned 12,9 % frå 70,0 kg 1. september 2026 (over 10 % på 6 månader). Frist 14. desember 2026.',
          'the same flag in nynorsk');
SELECT is((SELECT reason FROM seen WHERE lang = 'en'),
          'Signs of moderate malnutrition: weight 61.0 kg, 12.9 % below 70.0 kg on 1 September 2026 (over 10 % in 6 months). Due 14 December 2026.',
          'the same flag in English');
SELECT is((SELECT array_agg(title ORDER BY lang) FROM seen),
          ARRAY['Weight loss or low BMI', 'Vekttap eller lav KMI', 'Vekttap eller låg KMI'],
          'rule titles per language (en, nb, nn)');
SELECT is((SELECT array_agg(state ORDER BY lang) FROM seen), ARRAY['due', 'innen fristen', 'innan fristen'],
          'states per language');
SELECT is(ARRAY[careflags.state_text('upcoming', 'nb'), careflags.state_text('due_soon', 'nb'),
                careflags.state_text('overdue', 'nb'), careflags.state_text('upcoming', 'nn')],
          ARRAY['kommende', 'frist snart', 'over fristen', 'kommande'], 'the states of §8');
SELECT matches((SELECT reason FROM careflags.flag WHERE patient_id = pg_temp.id('lt_risk')
                  AND rule_id = 'nutrition.weight_loss' AND resolved_at IS NULL),
               '^Signs of moderate malnutrition: weight 61\.0 kg', 'the stored reason keeps its English text, for compatibility');

-- site-added rules give their own titles; without one, careflags.rule.title
INSERT INTO careflags.rule (rule_id, domain, anchor, title, settings, due_interval)
    VALUES ('site.nutrition.calf', 'nutrition', 'last_event', 'Calf circumference check', '{nursing_home_long_term}', '3 months');
INSERT INTO careflags.rule_text (rule_id, language, title) VALUES
    ('site.nutrition.calf', 'nb', 'Mål leggomkrets'), ('site.nutrition.calf', 'nn', 'Mål leggomkrinsen');
SELECT is(ARRAY[careflags.rule_title('site.nutrition.calf', 'nb'), careflags.rule_title('site.nutrition.calf', 'nn'),
                careflags.rule_title('site.nutrition.calf', 'en')],
          ARRAY['Mål leggomkrets', 'Mål leggomkrinsen', 'Calf circumference check'],
          'a site rule''s own titles, and its rule title where it gave none');
SELECT is((SELECT count(*)::int FROM careflags.rule r WHERE r.origin = 'default'
             AND (SELECT count(*) FROM careflags.rule_text t WHERE t.rule_id = r.rule_id AND t.language IN ('nb', 'nn')) <> 2), 0,
          'every default rule has a bokmål and a nynorsk title');

-- a flag without reason data (written before 1.3) shows its stored reason
SELECT is(careflags.reason_text(NULL, 'No nutrition screening since admission on 5 December 2026; due 12 December 2026', 'nb'),
          'No nutrition screening since admission on 5 December 2026; due 12 December 2026',
          'no reason data: the stored text');

SELECT * FROM finish();
ROLLBACK;
