-- Clinical scores: randomised robustness.  Thousands of generated jsonb
-- values (right and wrong keys, every JSON type, nested containers, huge and
-- tiny numbers, NaN-ish strings, near-miss answers) go through careflags.score
-- for every instrument: the backend survives and every error is 22023.
BEGIN;
SELECT plan(6);

SELECT setseed(0.2024);

CREATE TEMP TABLE fuzz_result (inst careflags.instrument, items jsonb, state text, message text, total numeric, band text)
    ON COMMIT DROP;

DO $$
DECLARE
    keys   text[] := ARRAY['weight_loss', 'eating_less', 'food_intake', 'mobility', 'bmi', 'calf_circumference',
                           'psychological_stress_or_acute_disease', 'neuropsychological_problems',
                           'weight_loss_percent', 'acutely_ill_no_intake', 'bmi_below_20_5', 'weight_loss_3_months',
                           'reduced_intake_last_week', 'severely_ill', 'nutritional_status', 'disease_severity', 'age',
                           'history_of_falling', 'secondary_diagnosis', 'ambulatory_aid', 'iv_or_heparin_lock', 'gait',
                           'mental_status', 'fall_history', 'agitated', 'visual_impairment', 'frequent_toileting',
                           'transfer_mobility_3_or_4', 'known_previous_falls', 'tranquillisers_sedatives', 'diuretics',
                           'antihypertensives', 'antiparkinsonian', 'antidepressants', 'hearing_impairment',
                           'impaired_limb_function', 'mental_state', 'confusion_disorientation_impulsivity',
                           'symptomatic_depression', 'altered_elimination', 'dizziness_vertigo', 'male', 'antiepileptic',
                           'benzodiazepine', 'get_up_and_go', '', 'GAIT', 'gait ', 'ålder', E'nul\\u0000', 'x'];
    vals   jsonb[] := ARRAY['true', 'false', 'null', '0', '1', '2', '3', '-1', '0.5', '18.5', '23', '31', '70',
                            '1e308', '-1e308', '1e-400', '123456789012345678901234567890', '"NaN"', '"Infinity"',
                            '"-0"', '""', '"no"', '"yes"', '"none"', '"normal"', '"weak"', '"impaired"', '"furniture"',
                            '"unsure"', '"6_to_10_kg"', '"goes_out"', '"mild_dementia"', '"confused"', '"unable"',
                            '"multiple_attempts"', '"knows_limits"', '"crutches_cane_walker"', '"no_decrease"',
                            '[]', '[true]', '{}', '{"a": {"b": [1, {"c": null}]}}', '"\u00e5\u0001x"',
                            '"a very long string that goes on and on and on and on and on and on and on and on"']::jsonb[];
    insts  careflags.instrument[] := enum_range(NULL::careflags.instrument);
    -- a valid answer set per instrument, mutated in half of the rounds
    valid  jsonb := '{
      "mst": {"weight_loss": "unsure", "eating_less": true},
      "mna_sf": {"food_intake": "no_decrease", "weight_loss": "none", "mobility": "goes_out", "psychological_stress_or_acute_disease": false, "neuropsychological_problems": "none", "bmi": 22},
      "must": {"bmi": 19, "weight_loss_percent": 6, "acutely_ill_no_intake": false},
      "nrs_2002": {"bmi_below_20_5": true, "weight_loss_3_months": false, "reduced_intake_last_week": false, "severely_ill": false, "nutritional_status": 1, "disease_severity": 1, "age": 75},
      "nutrition_unspecified": {},
      "morse": {"history_of_falling": true, "secondary_diagnosis": false, "ambulatory_aid": "furniture", "iv_or_heparin_lock": false, "gait": "weak", "mental_status": "knows_limits"},
      "stratify": {"fall_history": true, "agitated": false, "visual_impairment": false, "frequent_toileting": true, "transfer_mobility_3_or_4": false},
      "downton": {"known_previous_falls": true, "tranquillisers_sedatives": false, "diuretics": true, "antihypertensives": false, "antiparkinsonian": false, "antidepressants": false, "visual_impairment": false, "hearing_impairment": false, "impaired_limb_function": false, "mental_state": "oriented", "gait": "unsafe"},
      "hendrich_ii": {"confusion_disorientation_impulsivity": false, "symptomatic_depression": true, "altered_elimination": false, "dizziness_vertigo": false, "male": true, "antiepileptic": false, "benzodiazepine": false, "get_up_and_go": "multiple_attempts"},
      "fall_risk_unspecified": {}}';
    own    text[];
    i      integer;
    k      integer;
    nkeys  integer;
    obj    jsonb;
    inst   careflags.instrument;
    r      careflags.score_result;
    st     text;
    msg    text;
BEGIN
    FOR i IN 1..4000 LOOP
        inst := insts[1 + floor(random() * array_length(insts, 1))::integer];
        IF i % 97 = 0 THEN
            obj := vals[1 + floor(random() * array_length(vals, 1))::integer];  -- not an object
        ELSIF i % 2 = 0 THEN
            -- a valid set with 0-2 of its own items given random values or dropped
            obj := valid -> inst::text;
            own := ARRAY(SELECT jsonb_object_keys(obj));
            IF array_length(own, 1) > 0 THEN
                FOR k IN 1..floor(random() * 3)::integer LOOP
                    IF random() < 0.2 THEN
                        obj := obj - own[1 + floor(random() * array_length(own, 1))::integer];
                    ELSE
                        obj := obj || jsonb_build_object(own[1 + floor(random() * array_length(own, 1))::integer],
                                                         vals[1 + floor(random() * array_length(vals, 1))::integer]);
                    END IF;
                END LOOP;
            END IF;
        ELSE
            obj := '{}';
            nkeys := floor(random() * 12)::integer;
            FOR k IN 1..nkeys LOOP
                obj := obj || jsonb_build_object(keys[1 + floor(random() * array_length(keys, 1))::integer],
                                                 vals[1 + floor(random() * array_length(vals, 1))::integer]);
            END LOOP;
        END IF;
        BEGIN
            r := careflags.score(inst, obj);
            INSERT INTO fuzz_result VALUES (inst, obj, 'ok', NULL, r.total, r.band);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
            INSERT INTO fuzz_result VALUES (inst, obj, st, msg, NULL, NULL);
        END;
    END LOOP;
END
$$;

SELECT is((SELECT count(*) FROM fuzz_result), 4000::bigint, 'all 4000 generated inputs were scored or refused, backend alive');
SELECT is((SELECT array_agg(DISTINCT state ORDER BY state) FROM fuzz_result WHERE state <> 'ok'), ARRAY['22023'],
          'every refusal is 22023');
SELECT ok((SELECT bool_and(message ~ '^[a-z_0-9]+ (item "|has no item "|items must be|takes no items)') FROM fuzz_result WHERE state <> 'ok'),
          'every refusal names the instrument and the item (or the shape of the items)');
SELECT ok((SELECT bool_and(inst IN ('nutrition_unspecified', 'fall_risk_unspecified') OR (band IS NOT NULL AND (total IS NULL OR total >= 0)))
             FROM fuzz_result WHERE state = 'ok')
          AND (SELECT count(*) FROM fuzz_result WHERE state = 'ok') > 0,
          'inputs that scored gave a band and a non-negative total');

SELECT ok((SELECT count(*) FROM fuzz_result WHERE state = 'ok' AND inst NOT IN ('nutrition_unspecified', 'fall_risk_unspecified')) >= 100,
          'at least 100 mutated answer sets still scored');
SELECT is((SELECT count(DISTINCT k) FROM fuzz_result,
                  LATERAL (SELECT substring(message from '(unknown answer|out of range|is missing|must be a JSON|has no item|not a whole number|items must be|takes no items)')) m(k)
            WHERE state <> 'ok' AND k IS NOT NULL), 8::bigint,
          'every kind of refusal was reached');

SELECT * FROM finish();
ROLLBACK;
