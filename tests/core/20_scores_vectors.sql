-- Clinical scores: hand-computed test vectors (clinical-rules.md §4) for every
-- instrument, covering every answer of every item and both sides of every
-- band boundary, through careflags.score(jsonb) and the named function; and
-- recorded totals through careflags.score_total.
BEGIN;

CREATE TEMP TABLE v (
    n        serial,
    inst     careflags.instrument NOT NULL,
    items    jsonb NOT NULL,
    total    numeric,
    band     text NOT NULL,
    at_risk  boolean NOT NULL
) ON COMMIT DROP;

-- MST: weight_loss x eating_less; at risk at >= 2.
INSERT INTO v (inst, items, total, band, at_risk) VALUES
 ('mst', '{"weight_loss": "no", "eating_less": false}', 0, 'not_at_risk', false),
 ('mst', '{"weight_loss": "no", "eating_less": true}', 1, 'not_at_risk', false),
 ('mst', '{"weight_loss": "unsure", "eating_less": false}', 2, 'at_risk', true),
 ('mst', '{"weight_loss": "1_to_5_kg", "eating_less": false}', 1, 'not_at_risk', false),
 ('mst', '{"weight_loss": "1_to_5_kg", "eating_less": true}', 2, 'at_risk', true),
 ('mst', '{"weight_loss": "6_to_10_kg", "eating_less": false}', 2, 'at_risk', true),
 ('mst', '{"weight_loss": "11_to_15_kg", "eating_less": false}', 3, 'at_risk', true),
 ('mst', '{"weight_loss": "more_than_15_kg", "eating_less": true}', 5, 'at_risk', true),
 ('mst', '{"weight_loss": "amount_unknown", "eating_less": false}', 2, 'at_risk', true);

-- MNA-SF: normal 12-14, at risk 8-11, malnourished 0-7.
INSERT INTO v (inst, items, total, band, at_risk) VALUES
 ('mna_sf', '{"food_intake": "no_decrease", "weight_loss": "none", "mobility": "goes_out", "psychological_stress_or_acute_disease": false, "neuropsychological_problems": "none", "bmi": 23}', 14, 'normal', false),
 ('mna_sf', '{"food_intake": "no_decrease", "weight_loss": "none", "mobility": "goes_out", "psychological_stress_or_acute_disease": false, "neuropsychological_problems": "none", "bmi": 22.9}', 13, 'normal', false),
 ('mna_sf', '{"food_intake": "no_decrease", "weight_loss": "none", "mobility": "goes_out", "psychological_stress_or_acute_disease": false, "neuropsychological_problems": "none", "bmi": 21}', 13, 'normal', false),
 ('mna_sf', '{"food_intake": "no_decrease", "weight_loss": "none", "mobility": "goes_out", "psychological_stress_or_acute_disease": false, "neuropsychological_problems": "none", "bmi": 20.99}', 12, 'normal', false),
 ('mna_sf', '{"food_intake": "no_decrease", "weight_loss": "none", "mobility": "goes_out", "psychological_stress_or_acute_disease": false, "neuropsychological_problems": "none", "bmi": 19}', 12, 'normal', false),
 ('mna_sf', '{"food_intake": "no_decrease", "weight_loss": "none", "mobility": "goes_out", "psychological_stress_or_acute_disease": false, "neuropsychological_problems": "none", "bmi": 18.9}', 11, 'at_risk', true),
 ('mna_sf', '{"food_intake": "no_decrease", "weight_loss": "none", "mobility": "goes_out", "psychological_stress_or_acute_disease": false, "neuropsychological_problems": "none", "calf_circumference": 31}', 14, 'normal', false),
 ('mna_sf', '{"food_intake": "no_decrease", "weight_loss": "none", "mobility": "goes_out", "psychological_stress_or_acute_disease": false, "neuropsychological_problems": "none", "calf_circumference": 30.9}', 11, 'at_risk', true),
 ('mna_sf', '{"food_intake": "no_decrease", "weight_loss": "none", "mobility": "goes_out", "psychological_stress_or_acute_disease": false, "neuropsychological_problems": "none", "bmi": 23, "calf_circumference": 20}', 14, 'normal', false),
 ('mna_sf', '{"food_intake": "moderate_decrease", "weight_loss": "none", "mobility": "goes_out", "psychological_stress_or_acute_disease": false, "neuropsychological_problems": "none", "bmi": 23}', 13, 'normal', false),
 ('mna_sf', '{"food_intake": "severe_decrease", "weight_loss": "none", "mobility": "goes_out", "psychological_stress_or_acute_disease": false, "neuropsychological_problems": "none", "bmi": 23}', 12, 'normal', false),
 ('mna_sf', '{"food_intake": "no_decrease", "weight_loss": "does_not_know", "mobility": "goes_out", "psychological_stress_or_acute_disease": false, "neuropsychological_problems": "none", "bmi": 23}', 12, 'normal', false),
 ('mna_sf', '{"food_intake": "no_decrease", "weight_loss": "1_to_3_kg", "mobility": "goes_out", "psychological_stress_or_acute_disease": false, "neuropsychological_problems": "none", "bmi": 23}', 13, 'normal', false),
 ('mna_sf', '{"food_intake": "no_decrease", "weight_loss": "more_than_3_kg", "mobility": "goes_out", "psychological_stress_or_acute_disease": false, "neuropsychological_problems": "none", "bmi": 23}', 11, 'at_risk', true),
 ('mna_sf', '{"food_intake": "no_decrease", "weight_loss": "none", "mobility": "out_of_bed_not_outside", "psychological_stress_or_acute_disease": false, "neuropsychological_problems": "none", "bmi": 23}', 13, 'normal', false),
 ('mna_sf', '{"food_intake": "no_decrease", "weight_loss": "none", "mobility": "bed_or_chair_bound", "psychological_stress_or_acute_disease": false, "neuropsychological_problems": "none", "bmi": 23}', 12, 'normal', false),
 ('mna_sf', '{"food_intake": "no_decrease", "weight_loss": "none", "mobility": "goes_out", "psychological_stress_or_acute_disease": true, "neuropsychological_problems": "none", "bmi": 23}', 12, 'normal', false),
 ('mna_sf', '{"food_intake": "no_decrease", "weight_loss": "none", "mobility": "goes_out", "psychological_stress_or_acute_disease": false, "neuropsychological_problems": "mild_dementia", "bmi": 23}', 13, 'normal', false),
 ('mna_sf', '{"food_intake": "no_decrease", "weight_loss": "none", "mobility": "goes_out", "psychological_stress_or_acute_disease": false, "neuropsychological_problems": "severe_dementia_or_depression", "bmi": 23}', 12, 'normal', false),
 ('mna_sf', '{"food_intake": "no_decrease", "weight_loss": "none", "mobility": "bed_or_chair_bound", "psychological_stress_or_acute_disease": true, "neuropsychological_problems": "severe_dementia_or_depression", "bmi": 23}', 8, 'at_risk', true),
 ('mna_sf', '{"food_intake": "no_decrease", "weight_loss": "none", "mobility": "bed_or_chair_bound", "psychological_stress_or_acute_disease": true, "neuropsychological_problems": "severe_dementia_or_depression", "bmi": 21}', 7, 'malnourished', true),
 ('mna_sf', '{"food_intake": "severe_decrease", "weight_loss": "more_than_3_kg", "mobility": "bed_or_chair_bound", "psychological_stress_or_acute_disease": true, "neuropsychological_problems": "severe_dementia_or_depression", "bmi": 18}', 0, 'malnourished', true);

-- MUST: BMI > 20: 0, 18.5-20: 1, < 18.5: 2; loss < 5: 0, 5-10: 1, > 10: 2; acute 2.
INSERT INTO v (inst, items, total, band, at_risk) VALUES
 ('must', '{"bmi": 21, "weight_loss_percent": 0, "acutely_ill_no_intake": false}', 0, 'low', false),
 ('must', '{"bmi": 20.1, "weight_loss_percent": 0, "acutely_ill_no_intake": false}', 0, 'low', false),
 ('must', '{"bmi": 20, "weight_loss_percent": 0, "acutely_ill_no_intake": false}', 1, 'medium', true),
 ('must', '{"bmi": 18.5, "weight_loss_percent": 0, "acutely_ill_no_intake": false}', 1, 'medium', true),
 ('must', '{"bmi": 18.4, "weight_loss_percent": 0, "acutely_ill_no_intake": false}', 2, 'high', true),
 ('must', '{"bmi": 21, "weight_loss_percent": 4.9, "acutely_ill_no_intake": false}', 0, 'low', false),
 ('must', '{"bmi": 21, "weight_loss_percent": 5, "acutely_ill_no_intake": false}', 1, 'medium', true),
 ('must', '{"bmi": 21, "weight_loss_percent": 10, "acutely_ill_no_intake": false}', 1, 'medium', true),
 ('must', '{"bmi": 21, "weight_loss_percent": 10.1, "acutely_ill_no_intake": false}', 2, 'high', true),
 ('must', '{"bmi": 21, "weight_loss_percent": 0, "acutely_ill_no_intake": true}', 2, 'high', true),
 ('must', '{"bmi": 18, "weight_loss_percent": 20, "acutely_ill_no_intake": true}', 6, 'high', true);

-- NRS 2002: status + severity + 1 at age >= 70; at risk at >= 3.
INSERT INTO v (inst, items, total, band, at_risk) VALUES
 ('nrs_2002', '{"nutritional_status": 0, "disease_severity": 0, "age": 69}', 0, 'not_at_risk', false),
 ('nrs_2002', '{"nutritional_status": 1, "disease_severity": 1, "age": 69}', 2, 'not_at_risk', false),
 ('nrs_2002', '{"nutritional_status": 1, "disease_severity": 1, "age": 70}', 3, 'at_risk', true),
 ('nrs_2002', '{"nutritional_status": 2, "disease_severity": 0, "age": 50}', 2, 'not_at_risk', false),
 ('nrs_2002', '{"nutritional_status": 3, "disease_severity": 0, "age": 50}', 3, 'at_risk', true),
 ('nrs_2002', '{"nutritional_status": 0, "disease_severity": 3, "age": 50}', 3, 'at_risk', true),
 ('nrs_2002', '{"nutritional_status": 0, "disease_severity": 2, "age": 50}', 2, 'not_at_risk', false),
 ('nrs_2002', '{"nutritional_status": 3, "disease_severity": 3, "age": 70}', 7, 'at_risk', true),
 ('nrs_2002', '{"bmi_below_20_5": false, "weight_loss_3_months": false, "reduced_intake_last_week": false, "severely_ill": false}', NULL, 'not_at_risk', false),
 ('nrs_2002', '{"bmi_below_20_5": false, "weight_loss_3_months": true, "reduced_intake_last_week": false, "severely_ill": false, "nutritional_status": 1, "disease_severity": 0, "age": 80}', 2, 'not_at_risk', false),
 ('nrs_2002', '{"bmi_below_20_5": true, "weight_loss_3_months": true, "reduced_intake_last_week": true, "severely_ill": true, "nutritional_status": 2, "disease_severity": 1, "age": 80}', 4, 'at_risk', true),
 ('nrs_2002', '{"bmi_below_20_5": false, "weight_loss_3_months": false, "reduced_intake_last_week": false, "severely_ill": false, "nutritional_status": 2, "disease_severity": 1, "age": 30}', 3, 'at_risk', true);

-- Morse: low < 25, moderate 25-45, high > 45 (defaults).
INSERT INTO v (inst, items, total, band, at_risk) VALUES
 ('morse', '{"history_of_falling": false, "secondary_diagnosis": false, "ambulatory_aid": "none", "iv_or_heparin_lock": false, "gait": "normal", "mental_status": "knows_limits"}', 0, 'low', false),
 ('morse', '{"history_of_falling": true, "secondary_diagnosis": false, "ambulatory_aid": "none", "iv_or_heparin_lock": false, "gait": "normal", "mental_status": "knows_limits"}', 25, 'moderate', false),
 ('morse', '{"history_of_falling": false, "secondary_diagnosis": true, "ambulatory_aid": "none", "iv_or_heparin_lock": false, "gait": "normal", "mental_status": "knows_limits"}', 15, 'low', false),
 ('morse', '{"history_of_falling": false, "secondary_diagnosis": false, "ambulatory_aid": "bed_rest", "iv_or_heparin_lock": false, "gait": "normal", "mental_status": "knows_limits"}', 0, 'low', false),
 ('morse', '{"history_of_falling": false, "secondary_diagnosis": false, "ambulatory_aid": "nurse_assist", "iv_or_heparin_lock": false, "gait": "normal", "mental_status": "knows_limits"}', 0, 'low', false),
 ('morse', '{"history_of_falling": false, "secondary_diagnosis": false, "ambulatory_aid": "crutches_cane_walker", "iv_or_heparin_lock": false, "gait": "normal", "mental_status": "knows_limits"}', 15, 'low', false),
 ('morse', '{"history_of_falling": false, "secondary_diagnosis": false, "ambulatory_aid": "furniture", "iv_or_heparin_lock": false, "gait": "normal", "mental_status": "knows_limits"}', 30, 'moderate', false),
 ('morse', '{"history_of_falling": false, "secondary_diagnosis": false, "ambulatory_aid": "none", "iv_or_heparin_lock": true, "gait": "normal", "mental_status": "knows_limits"}', 20, 'low', false),
 ('morse', '{"history_of_falling": false, "secondary_diagnosis": false, "ambulatory_aid": "none", "iv_or_heparin_lock": false, "gait": "bed_rest", "mental_status": "knows_limits"}', 0, 'low', false),
 ('morse', '{"history_of_falling": false, "secondary_diagnosis": false, "ambulatory_aid": "none", "iv_or_heparin_lock": false, "gait": "wheelchair", "mental_status": "knows_limits"}', 0, 'low', false),
 ('morse', '{"history_of_falling": false, "secondary_diagnosis": false, "ambulatory_aid": "none", "iv_or_heparin_lock": false, "gait": "weak", "mental_status": "knows_limits"}', 10, 'low', false),
 ('morse', '{"history_of_falling": false, "secondary_diagnosis": false, "ambulatory_aid": "none", "iv_or_heparin_lock": false, "gait": "impaired", "mental_status": "knows_limits"}', 20, 'low', false),
 ('morse', '{"history_of_falling": false, "secondary_diagnosis": false, "ambulatory_aid": "none", "iv_or_heparin_lock": false, "gait": "normal", "mental_status": "overestimates_or_forgets"}', 15, 'low', false),
 ('morse', '{"history_of_falling": true, "secondary_diagnosis": false, "ambulatory_aid": "none", "iv_or_heparin_lock": true, "gait": "normal", "mental_status": "knows_limits"}', 45, 'moderate', false),
 ('morse', '{"history_of_falling": true, "secondary_diagnosis": true, "ambulatory_aid": "none", "iv_or_heparin_lock": false, "gait": "weak", "mental_status": "knows_limits"}', 50, 'high', true),
 ('morse', '{"history_of_falling": true, "secondary_diagnosis": true, "ambulatory_aid": "furniture", "iv_or_heparin_lock": true, "gait": "impaired", "mental_status": "overestimates_or_forgets"}', 125, 'high', true);

-- STRATIFY: one point per yes; high at >= 2.
INSERT INTO v (inst, items, total, band, at_risk) VALUES
 ('stratify', '{"fall_history": false, "agitated": false, "visual_impairment": false, "frequent_toileting": false, "transfer_mobility_3_or_4": false}', 0, 'low', false),
 ('stratify', '{"fall_history": true, "agitated": false, "visual_impairment": false, "frequent_toileting": false, "transfer_mobility_3_or_4": false}', 1, 'low', false),
 ('stratify', '{"fall_history": false, "agitated": true, "visual_impairment": false, "frequent_toileting": false, "transfer_mobility_3_or_4": false}', 1, 'low', false),
 ('stratify', '{"fall_history": false, "agitated": false, "visual_impairment": true, "frequent_toileting": false, "transfer_mobility_3_or_4": false}', 1, 'low', false),
 ('stratify', '{"fall_history": false, "agitated": false, "visual_impairment": false, "frequent_toileting": true, "transfer_mobility_3_or_4": false}', 1, 'low', false),
 ('stratify', '{"fall_history": false, "agitated": false, "visual_impairment": false, "frequent_toileting": false, "transfer_mobility_3_or_4": true}', 1, 'low', false),
 ('stratify', '{"fall_history": true, "agitated": false, "visual_impairment": false, "frequent_toileting": false, "transfer_mobility_3_or_4": true}', 2, 'high', true),
 ('stratify', '{"fall_history": true, "agitated": true, "visual_impairment": true, "frequent_toileting": true, "transfer_mobility_3_or_4": true}', 5, 'high', true);

-- Downton: one point each; high at >= 3.
INSERT INTO v (inst, items, total, band, at_risk)
SELECT 'downton', base OPERATOR(pg_catalog.||) delta, total, band, at_risk
  FROM (VALUES ('{"known_previous_falls": false, "tranquillisers_sedatives": false, "diuretics": false, "antihypertensives": false, "antiparkinsonian": false, "antidepressants": false, "visual_impairment": false, "hearing_impairment": false, "impaired_limb_function": false, "mental_state": "oriented", "gait": "normal"}'::jsonb)) b(base),
       (VALUES
        ('{}'::jsonb, 0::numeric, 'low', false),
        ('{"known_previous_falls": true}', 1, 'low', false),
        ('{"tranquillisers_sedatives": true}', 1, 'low', false),
        ('{"diuretics": true}', 1, 'low', false),
        ('{"antihypertensives": true}', 1, 'low', false),
        ('{"antiparkinsonian": true}', 1, 'low', false),
        ('{"antidepressants": true}', 1, 'low', false),
        ('{"visual_impairment": true}', 1, 'low', false),
        ('{"hearing_impairment": true}', 1, 'low', false),
        ('{"impaired_limb_function": true}', 1, 'low', false),
        ('{"mental_state": "confused"}', 1, 'low', false),
        ('{"gait": "safe_with_aids"}', 1, 'low', false),
        ('{"gait": "unsafe"}', 1, 'low', false),
        ('{"gait": "unable"}', 1, 'low', false),
        ('{"known_previous_falls": true, "gait": "unsafe"}', 2, 'low', false),
        ('{"known_previous_falls": true, "gait": "unsafe", "diuretics": true}', 3, 'high', true),
        ('{"known_previous_falls": true, "tranquillisers_sedatives": true, "diuretics": true, "antihypertensives": true, "antiparkinsonian": true, "antidepressants": true, "visual_impairment": true, "hearing_impairment": true, "impaired_limb_function": true, "mental_state": "confused", "gait": "unable"}', 11, 'high', true)
       ) d(delta, total, band, at_risk);

-- Hendrich II: high at >= 5; Get-Up-and-Go 0/1/3/4.
INSERT INTO v (inst, items, total, band, at_risk)
SELECT 'hendrich_ii', base OPERATOR(pg_catalog.||) delta, total, band, at_risk
  FROM (VALUES ('{"confusion_disorientation_impulsivity": false, "symptomatic_depression": false, "altered_elimination": false, "dizziness_vertigo": false, "male": false, "antiepileptic": false, "benzodiazepine": false, "get_up_and_go": "rises_in_one_movement"}'::jsonb)) b(base),
       (VALUES
        ('{}'::jsonb, 0::numeric, 'low', false),
        ('{"confusion_disorientation_impulsivity": true}', 4, 'low', false),
        ('{"symptomatic_depression": true}', 2, 'low', false),
        ('{"altered_elimination": true}', 1, 'low', false),
        ('{"dizziness_vertigo": true}', 1, 'low', false),
        ('{"male": true}', 1, 'low', false),
        ('{"antiepileptic": true}', 2, 'low', false),
        ('{"benzodiazepine": true}', 1, 'low', false),
        ('{"get_up_and_go": "pushes_up_one_attempt"}', 1, 'low', false),
        ('{"get_up_and_go": "multiple_attempts"}', 3, 'low', false),
        ('{"get_up_and_go": "unable_without_help"}', 4, 'low', false),
        ('{"confusion_disorientation_impulsivity": true, "altered_elimination": true}', 5, 'high', true),
        ('{"get_up_and_go": "unable_without_help", "male": true}', 5, 'high', true),
        ('{"confusion_disorientation_impulsivity": true, "symptomatic_depression": true, "altered_elimination": true, "dizziness_vertigo": true, "male": true, "antiepileptic": true, "benzodiazepine": true, "get_up_and_go": "unable_without_help"}', 16, 'high', true)
       ) d(delta, total, band, at_risk);

-- Recorded totals: both sides of every band boundary, the ends of the range.
CREATE TEMP TABLE t (inst careflags.instrument, total numeric, band text, at_risk boolean) ON COMMIT DROP;
INSERT INTO t VALUES
 ('mst', 0, 'not_at_risk', false), ('mst', 1, 'not_at_risk', false), ('mst', 2, 'at_risk', true), ('mst', 5, 'at_risk', true),
 ('mna_sf', 0, 'malnourished', true), ('mna_sf', 7, 'malnourished', true), ('mna_sf', 8, 'at_risk', true),
 ('mna_sf', 11, 'at_risk', true), ('mna_sf', 12, 'normal', false), ('mna_sf', 14, 'normal', false),
 ('must', 0, 'low', false), ('must', 1, 'medium', true), ('must', 2, 'high', true), ('must', 6, 'high', true),
 ('nrs_2002', 0, 'not_at_risk', false), ('nrs_2002', 2, 'not_at_risk', false), ('nrs_2002', 3, 'at_risk', true), ('nrs_2002', 7, 'at_risk', true),
 ('morse', 0, 'low', false), ('morse', 24, 'low', false), ('morse', 25, 'moderate', false), ('morse', 45, 'moderate', false),
 ('morse', 46, 'high', true), ('morse', 125, 'high', true),
 ('stratify', 0, 'low', false), ('stratify', 1, 'low', false), ('stratify', 2, 'high', true), ('stratify', 5, 'high', true),
 ('downton', 0, 'low', false), ('downton', 2, 'low', false), ('downton', 3, 'high', true), ('downton', 11, 'high', true),
 ('hendrich_ii', 0, 'low', false), ('hendrich_ii', 4, 'low', false), ('hendrich_ii', 5, 'high', true), ('hendrich_ii', 16, 'high', true),
 ('morse', 3.000, 'low', false);

SELECT plan((SELECT 2 * count(*) FROM v)::integer + (SELECT count(*) FROM t)::integer + 16);

-- Every vector through careflags.score(jsonb).
SELECT is(careflags.score(inst, items), ROW(total, band, at_risk)::careflags.score_result,
          pg_catalog.format('score %s #%s %s', inst, n, items))
  FROM v ORDER BY n;

-- ... and through the named function of its instrument.
SELECT is(careflags.mst(items->>'weight_loss', (items->>'eating_less')::boolean),
          ROW(total, band, at_risk)::careflags.score_result, pg_catalog.format('mst() #%s', n))
  FROM v WHERE inst = 'mst' ORDER BY n;
SELECT is(careflags.mna_sf(items->>'food_intake', items->>'weight_loss', items->>'mobility',
                           (items->>'psychological_stress_or_acute_disease')::boolean,
                           items->>'neuropsychological_problems',
                           bmi => (items->>'bmi')::numeric,
                           calf_circumference => (items->>'calf_circumference')::numeric),
          ROW(total, band, at_risk)::careflags.score_result, pg_catalog.format('mna_sf() #%s', n))
  FROM v WHERE inst = 'mna_sf' ORDER BY n;
SELECT is(careflags.must((items->>'bmi')::numeric, (items->>'weight_loss_percent')::numeric,
                         (items->>'acutely_ill_no_intake')::boolean),
          ROW(total, band, at_risk)::careflags.score_result, pg_catalog.format('must() #%s', n))
  FROM v WHERE inst = 'must' ORDER BY n;
SELECT is(careflags.nrs_2002(nutritional_status => (items->>'nutritional_status')::integer,
                             disease_severity => (items->>'disease_severity')::integer,
                             age => (items->>'age')::integer,
                             bmi_below_20_5 => (items->>'bmi_below_20_5')::boolean,
                             weight_loss_3_months => (items->>'weight_loss_3_months')::boolean,
                             reduced_intake_last_week => (items->>'reduced_intake_last_week')::boolean,
                             severely_ill => (items->>'severely_ill')::boolean),
          ROW(total, band, at_risk)::careflags.score_result, pg_catalog.format('nrs_2002() #%s', n))
  FROM v WHERE inst = 'nrs_2002' ORDER BY n;
SELECT is(careflags.morse((items->>'history_of_falling')::boolean, (items->>'secondary_diagnosis')::boolean,
                          items->>'ambulatory_aid', (items->>'iv_or_heparin_lock')::boolean,
                          items->>'gait', items->>'mental_status'),
          ROW(total, band, at_risk)::careflags.score_result, pg_catalog.format('morse() #%s', n))
  FROM v WHERE inst = 'morse' ORDER BY n;
SELECT is(careflags.stratify((items->>'fall_history')::boolean, (items->>'agitated')::boolean,
                             (items->>'visual_impairment')::boolean, (items->>'frequent_toileting')::boolean,
                             (items->>'transfer_mobility_3_or_4')::boolean),
          ROW(total, band, at_risk)::careflags.score_result, pg_catalog.format('stratify() #%s', n))
  FROM v WHERE inst = 'stratify' ORDER BY n;
SELECT is(careflags.downton((items->>'known_previous_falls')::boolean, (items->>'visual_impairment')::boolean,
                            (items->>'hearing_impairment')::boolean, (items->>'impaired_limb_function')::boolean,
                            items->>'mental_state', items->>'gait',
                            tranquillisers_sedatives => (items->>'tranquillisers_sedatives')::boolean,
                            diuretics => (items->>'diuretics')::boolean,
                            antihypertensives => (items->>'antihypertensives')::boolean,
                            antiparkinsonian => (items->>'antiparkinsonian')::boolean,
                            antidepressants => (items->>'antidepressants')::boolean),
          ROW(total, band, at_risk)::careflags.score_result, pg_catalog.format('downton() #%s', n))
  FROM v WHERE inst = 'downton' ORDER BY n;
SELECT is(careflags.hendrich_ii((items->>'confusion_disorientation_impulsivity')::boolean,
                                (items->>'symptomatic_depression')::boolean, (items->>'altered_elimination')::boolean,
                                (items->>'dizziness_vertigo')::boolean, (items->>'male')::boolean,
                                (items->>'antiepileptic')::boolean, (items->>'benzodiazepine')::boolean,
                                items->>'get_up_and_go'),
          ROW(total, band, at_risk)::careflags.score_result, pg_catalog.format('hendrich_ii() #%s', n))
  FROM v WHERE inst = 'hendrich_ii' ORDER BY n;

-- Recorded totals.
SELECT is(careflags.score_total(inst, total), ROW(total, band, at_risk)::careflags.score_result,
          pg_catalog.format('score_total %s %s', inst, total))
  FROM t;

-- Every instrument has vectors, and every answer of every item occurs in one.
SELECT is((SELECT count(DISTINCT inst) FROM v), 8::bigint, 'vectors for all eight scored instruments');

-- Morse cut-offs as parameters: the other common banding 0-24 / 25-50 / >= 51.
SELECT is(careflags.morse(true, true, 'none', false, 'weak', 'knows_limits', 25, 50),
          ROW(50, 'moderate', false)::careflags.score_result, 'morse 50 with cut-offs 25/50: moderate');
SELECT is(careflags.morse(true, true, 'crutches_cane_walker', false, 'normal', 'knows_limits', 25, 50),
          ROW(55, 'high', true)::careflags.score_result, 'morse 55 with cut-offs 25/50: high');
SELECT is(careflags.morse(false, true, 'none', false, 'weak', 'knows_limits', moderate_from => 20),
          ROW(25, 'moderate', false)::careflags.score_result, 'morse 25 with moderate_from 20: moderate');
SELECT is(careflags.morse(false, false, 'none', false, 'impaired', 'knows_limits', moderate_from => 20),
          ROW(20, 'moderate', false)::careflags.score_result, 'morse 20 with moderate_from 20: moderate');
SELECT is(careflags.score_total('morse', 50, 25, 50), ROW(50, 'moderate', false)::careflags.score_result,
          'score_total morse 50 with cut-offs 25/50');
SELECT is(careflags.score_total('morse', 51, 25, 50), ROW(51, 'high', true)::careflags.score_result,
          'score_total morse 51 with cut-offs 25/50');

-- The settings: a site's cut-offs apply to careflags.score / score_total.
SET LOCAL careflags.morse_high_above = 50;
SELECT is(careflags.score_total('morse', 50), ROW(50, 'moderate', false)::careflags.score_result,
          'careflags.morse_high_above = 50: 50 is moderate');
SELECT is((careflags.score('morse', '{"history_of_falling": true, "secondary_diagnosis": true, "ambulatory_aid": "none", "iv_or_heparin_lock": false, "gait": "weak", "mental_status": "knows_limits"}')).band,
          'moderate', 'careflags.morse_high_above = 50: items totalling 50 are moderate');
SELECT is(careflags.score_total('morse', 51), ROW(51, 'high', true)::careflags.score_result,
          'careflags.morse_high_above = 50: 51 is high');
SET LOCAL careflags.morse_moderate_from = 30;
SELECT is(careflags.score_total('morse', 29), ROW(29, 'low', false)::careflags.score_result,
          'careflags.morse_moderate_from = 30: 29 is low');
RESET careflags.morse_moderate_from;
RESET careflags.morse_high_above;
SELECT is(careflags.score_total('morse', 46), ROW(46, 'high', true)::careflags.score_result,
          'settings reset: 46 is high again');

-- Unscored assessments and an empty answer set.
SELECT is(careflags.score('nutrition_unspecified', '{}'), ROW(NULL, 'unscored', false)::careflags.score_result,
          'nutrition_unspecified with no items: unscored, total NULL');
SELECT is(careflags.score('fall_risk_unspecified', '{}'), ROW(NULL, 'unscored', false)::careflags.score_result,
          'fall_risk_unspecified with no items: unscored, total NULL');
SELECT is(careflags.score('morse', NULL), NULL, 'score with NULL items is NULL (STRICT)');
SELECT is(careflags.score_total('morse', NULL), NULL, 'score_total with NULL total is NULL (STRICT)');

SELECT * FROM finish();
ROLLBACK;
