-- Clinical scores: bad input raises 22023 with a message that names the item
-- and lists the allowed values, through careflags.score, score_total and the
-- named functions.
BEGIN;

CREATE TEMP TABLE bad (n serial, call text, item text, allowed text) ON COMMIT DROP;
INSERT INTO bad (call, item, allowed) VALUES
 -- wrong JSON types
 ($$careflags.score('morse', '{"history_of_falling": "yes", "secondary_diagnosis": false, "ambulatory_aid": "none", "iv_or_heparin_lock": false, "gait": "normal", "mental_status": "knows_limits"}')$$, '"history_of_falling"', 'true or false'),
 ($$careflags.score('morse', '{"gait": 3}')$$, '"gait"', '"normal", "bed_rest", "wheelchair", "weak", "impaired"'),
 ($$careflags.score('mna_sf', '{"bmi": "22"}')$$, '"bmi"', 'a number from 5 to 150'),
 ($$careflags.score('nrs_2002', '{"age": [70]}')$$, '"age"', 'a whole number from 0 to 150'),
 ($$careflags.score('mst', '{"eating_less": {"a": 1}}')$$, '"eating_less"', 'true or false'),
 -- unknown answers
 ($$careflags.score('mst', '{"weight_loss": "a lot", "eating_less": true}')$$, '"weight_loss"', '"no", "unsure", "1_to_5_kg", "6_to_10_kg", "11_to_15_kg", "more_than_15_kg", "amount_unknown"'),
 ($$careflags.score('hendrich_ii', '{"get_up_and_go": "Multiple_attempts"}')$$, '"get_up_and_go"', '"rises_in_one_movement", "pushes_up_one_attempt", "multiple_attempts", "unable_without_help"'),
 ($$careflags.score('downton', '{"mental_state": ""}')$$, '"mental_state"', '"oriented", "confused"'),
 -- out of range, not whole
 ($$careflags.score('must', '{"bmi": 4.9, "weight_loss_percent": 0, "acutely_ill_no_intake": false}')$$, '"bmi"', 'a number from 5 to 150 kg/m²'),
 ($$careflags.score('must', '{"bmi": 20, "weight_loss_percent": -1, "acutely_ill_no_intake": false}')$$, '"weight_loss_percent"', 'a number from 0 to 100'),
 ($$careflags.score('mna_sf', '{"calf_circumference": 1e1000}')$$, '"calf_circumference"', 'a number from 5 to 100 cm'),
 ($$careflags.score('nrs_2002', '{"nutritional_status": 4, "disease_severity": 0, "age": 80}')$$, '"nutritional_status"', 'a whole number from 0 to 3'),
 ($$careflags.score('nrs_2002', '{"nutritional_status": 1.5, "disease_severity": 0, "age": 80}')$$, '"nutritional_status"', 'a whole number from 0 to 3'),
 ($$careflags.score('nrs_2002', '{"nutritional_status": 1, "disease_severity": 0, "age": 80.000000000000000000001}')$$, '"age"', 'a whole number from 0 to 150'),
 -- unknown keys
 ($$careflags.score('stratify', '{"fall_history": true, "dizzy": true}')$$, '"dizzy"', 'fall_history, agitated, visual_impairment, frequent_toileting, transfer_mobility_3_or_4'),
 ($$careflags.score('mst', '{"Weight_loss": "no", "eating_less": true}')$$, '"Weight_loss"', 'weight_loss, eating_less'),
 -- missing required items (absent or JSON null)
 ($$careflags.score('mst', '{"weight_loss": "no"}')$$, '"eating_less"', 'true or false'),
 ($$careflags.score('mst', '{"weight_loss": "no", "eating_less": null}')$$, '"eating_less"', 'true or false'),
 ($$careflags.score('morse', '{}')$$, '"history_of_falling"', 'true or false'),
 ($$careflags.score('mna_sf', '{"food_intake": "no_decrease", "weight_loss": "none", "mobility": "goes_out", "psychological_stress_or_acute_disease": false, "neuropsychological_problems": "none"}')$$, '"bmi"', 'calf_circumference'),
 ($$careflags.score('nrs_2002', '{"bmi_below_20_5": true, "weight_loss_3_months": false}')$$, '"reduced_intake_last_week"', 'true or false'),
 ($$careflags.score('nrs_2002', '{"bmi_below_20_5": true, "weight_loss_3_months": false, "reduced_intake_last_week": false, "severely_ill": false}')$$, '"nutritional_status"', 'a whole number from 0 to 3'),
 ($$careflags.score('nrs_2002', '{"nutritional_status": 1, "disease_severity": 1}')$$, '"age"', 'a whole number from 0 to 150 years'),
 -- not an object; items for an unscored assessment
 ($$careflags.score('morse', '[1, 2]')$$, 'morse items', 'JSON object'),
 ($$careflags.score('morse', '"gait"')$$, 'morse items', 'JSON object'),
 ($$careflags.score('nutrition_unspecified', '{"weight_loss": "no"}')$$, 'nutrition_unspecified', '{}'),
 -- totals
 ($$careflags.score_total('mst', 6)$$, 'mst total', 'from 0 to 5'),
 ($$careflags.score_total('mna_sf', -1)$$, 'mna_sf total', 'from 0 to 14'),
 ($$careflags.score_total('must', 7)$$, 'must total', 'from 0 to 6'),
 ($$careflags.score_total('nrs_2002', 8)$$, 'nrs_2002 total', 'from 0 to 7'),
 ($$careflags.score_total('morse', 126)$$, 'morse total', 'from 0 to 125'),
 ($$careflags.score_total('morse', 24.5)$$, 'morse total', 'from 0 to 125'),
 ($$careflags.score_total('stratify', 6)$$, 'stratify total', 'from 0 to 5'),
 ($$careflags.score_total('downton', 12)$$, 'downton total', 'from 0 to 11'),
 ($$careflags.score_total('hendrich_ii', 17)$$, 'hendrich_ii total', 'from 0 to 16'),
 ($$careflags.score_total('hendrich_ii', 'NaN')$$, 'hendrich_ii total', 'from 0 to 16'),
 ($$careflags.score_total('downton', 'Infinity')$$, 'downton total', 'from 0 to 11'),
 ($$careflags.score_total('fall_risk_unspecified', 0)$$, 'fall_risk_unspecified', 'without'),
 -- named functions: NULL answers, bad answers, cut-offs
 ($$careflags.morse(true, false, 'none', false, NULL, 'knows_limits')$$, '"gait"', '"normal", "bed_rest", "wheelchair", "weak", "impaired"'),
 ($$careflags.morse(NULL, false, 'none', false, 'normal', 'knows_limits')$$, '"history_of_falling"', 'true or false'),
 ($$careflags.morse(true, false, 'walker', false, 'normal', 'knows_limits')$$, '"ambulatory_aid"', '"none", "bed_rest", "nurse_assist", "crutches_cane_walker", "furniture"'),
 ($$careflags.morse(true, false, 'none', false, 'normal', 'knows_limits', 30, 20)$$, 'moderate_from', 'high_above'),
 ($$careflags.morse(true, false, 'none', false, 'normal', 'knows_limits', NULL, 45)$$, 'moderate_from', 'high_above'),
 ($$careflags.mst('no', NULL)$$, '"eating_less"', 'true or false'),
 ($$careflags.mna_sf('no_decrease', 'none', 'goes_out', false, 'none', bmi => 151)$$, '"bmi"', 'a number from 5 to 150'),
 ($$careflags.must(19, 5, NULL)$$, '"acutely_ill_no_intake"', 'true or false'),
 ($$careflags.nrs_2002(1, 1, -1)$$, '"age"', 'a whole number from 0 to 150'),
 ($$careflags.stratify(true, true, true, true, NULL)$$, '"transfer_mobility_3_or_4"', 'true or false'),
 ($$careflags.hendrich_ii(true, true, true, true, true, true, true, '4')$$, '"get_up_and_go"', '"rises_in_one_movement"'),
 ($$careflags.downton(true, true, true, true, 'confused', 'normal')$$, '"tranquillisers_sedatives"', 'true or false'),
 ($$careflags.downton(true, true, true, true, 'confused', 'normal', diuretics => true, atc => '{C03CA01}')$$, '"atc"', 'not both'),
 ($$careflags.downton(true, true, true, true, 'confused', 'normal', atc => '{n05ba01}')$$, '"atc"', 'ATC codes'),
 ($$careflags.bmi(0, 170)$$, 'weight_kg', 'more than 0 and at most 500 kg'),
 ($$careflags.bmi(-70, 170)$$, 'weight_kg', 'more than 0 and at most 500 kg'),
 ($$careflags.bmi(501, 170)$$, 'weight_kg', 'more than 0 and at most 500 kg'),
 ($$careflags.bmi(70, 29)$$, 'height_cm', '30 to 300 cm'),
 ($$careflags.bmi(70, 'NaN')$$, 'height_cm', '30 to 300 cm'),
 ($$careflags.bmi(70, 1.75)$$, 'height_cm', '30 to 300 cm');

SELECT plan((SELECT 3 * count(*) FROM bad)::integer + 4);

CREATE FUNCTION pg_temp.caught(call text, OUT state text, OUT message text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE 'SELECT ' || call;
    state := 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
END
$$;

SELECT pg_catalog.unnest(ARRAY[
       is(c.state, '22023', pg_catalog.format('#%s raises 22023: %s', n, call)),
       ok(pg_catalog.strpos(c.message, item) > 0, pg_catalog.format('#%s message names %s: %s', n, item, c.message)),
       ok(pg_catalog.strpos(c.message, allowed) > 0, pg_catalog.format('#%s message lists %s', n, allowed))])
  FROM bad, LATERAL pg_temp.caught(call) c
 ORDER BY n;

-- The exact wording, as a nurse or an integrator sees it.
SELECT throws_ok($$SELECT careflags.score('morse', '{"gait": "flying"}')$$, '22023',
    'morse item "gait" has the unknown answer "flying"; allowed: "normal", "bed_rest", "wheelchair", "weak", "impaired"',
    'unknown answer: item and allowed answers');
SELECT throws_ok($$SELECT careflags.score('stratify', '{"dizzy": true}')$$, '22023',
    'stratify has no item "dizzy"; items: fall_history, agitated, visual_impairment, frequent_toileting, transfer_mobility_3_or_4',
    'unknown item: the items of the instrument');
SELECT throws_ok($$SELECT careflags.score_total('mna_sf', 15)$$, '22023',
    'mna_sf total 15 is out of range; allowed: a whole number from 0 to 14',
    'total out of range names the range');
SELECT throws_ok($$SELECT careflags.score('no_such_tool', '{}')$$, '22P02', NULL,
    'unknown instrument name: the enum refuses it');

SELECT * FROM finish();
ROLLBACK;
