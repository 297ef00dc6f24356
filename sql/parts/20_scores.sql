-- sql/parts/20_scores.sql - clinical scores (clinical-rules.md §4) and the
-- measures the rules read: BMI, weight change, fall-risk-increasing drugs,
-- active regular medicines.
--
-- Scoring is C (extension/scores.c): careflags.score over a jsonb object of
-- item answers, careflags.score_total over a recorded total, and one named
-- function per instrument that builds the same jsonb and calls the same C.
-- Bad answers raise 22023 with a message naming the item and its allowed
-- values.  The items of every instrument are listed on careflags.score and in
-- docs/scores.md.
\echo Use "CREATE EXTENSION careflags" to load this file. \quit

CREATE TYPE @extschema@.score_result AS (
    total   numeric,
    band    text,
    at_risk boolean
);
COMMENT ON TYPE @extschema@.score_result IS
    'result of a clinical score: total (NULL when there is none: *_unspecified, NRS 2002 with a negative pre-screening), band, at_risk (nutrition: at risk; fall risk: the instrument''s high band)';

CREATE FUNCTION @extschema@.score(instrument @extschema@.instrument, items jsonb)
    RETURNS @extschema@.score_result
    LANGUAGE c STRICT STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'careflags_score';
COMMENT ON FUNCTION @extschema@.score(@extschema@.instrument, jsonb) IS
$$Scores item answers (a jsonb object; JSON null = not answered; unknown keys, wrong JSON types, unknown answers, out-of-range numbers and missing required items raise 22023 naming the item and its allowed values). Morse bands use the settings careflags.morse_moderate_from (25) and careflags.morse_high_above (45), hence STABLE. Items (points):
mst: weight_loss "no" 0 | "unsure" 2 | "1_to_5_kg" 1 | "6_to_10_kg" 2 | "11_to_15_kg" 3 | "more_than_15_kg" 4 | "amount_unknown" 2; eating_less boolean (true 1). Bands not_at_risk 0-1, at_risk >= 2.
mna_sf: food_intake "severe_decrease" 0 | "moderate_decrease" 1 | "no_decrease" 2; weight_loss "more_than_3_kg" 0 | "does_not_know" 1 | "1_to_3_kg" 2 | "none" 3; mobility "bed_or_chair_bound" 0 | "out_of_bed_not_outside" 1 | "goes_out" 2; psychological_stress_or_acute_disease boolean (true 0, false 2); neuropsychological_problems "severe_dementia_or_depression" 0 | "mild_dementia" 1 | "none" 2; bmi number 5-150 (F1: < 19 0, < 21 1, < 23 2, else 3) or, only without bmi, calf_circumference number 5-100 cm (F2: < 31 0, else 3). Bands normal 12-14, at_risk 8-11, malnourished 0-7; at_risk when <= 11.
must: bmi number 5-150 (> 20 0, 18.5-20 1, < 18.5 2); weight_loss_percent number 0-100, unplanned loss in 3-6 months (< 5 0, 5-10 1, > 10 2); acutely_ill_no_intake boolean (true 2). Bands low 0, medium 1, high >= 2; at_risk when >= 1.
nrs_2002: pre-screening bmi_below_20_5, weight_loss_3_months, reduced_intake_last_week, severely_ill booleans (all four or none); full screening nutritional_status integer 0-3, disease_severity integer 0-3, age integer 0-150 (+1 when >= 70), required unless all four pre-screening answers are false (then total NULL, band not_at_risk). Bands not_at_risk < 3, at_risk >= 3.
nutrition_unspecified, fall_risk_unspecified: no items ({}): total NULL, band unscored, at_risk false.
morse: history_of_falling boolean (25); secondary_diagnosis boolean (15); ambulatory_aid "none" | "bed_rest" | "nurse_assist" 0, "crutches_cane_walker" 15, "furniture" 30; iv_or_heparin_lock boolean (20); gait "normal" | "bed_rest" | "wheelchair" 0, "weak" 10, "impaired" 20; mental_status "knows_limits" 0, "overestimates_or_forgets" 15. Bands low < 25, moderate 25-45, high > 45 (defaults).
stratify: fall_history, agitated, visual_impairment, frequent_toileting, transfer_mobility_3_or_4 booleans (1 each). Bands low 0-1, high >= 2.
downton: known_previous_falls, tranquillisers_sedatives, diuretics, antihypertensives, antiparkinsonian, antidepressants, visual_impairment, hearing_impairment, impaired_limb_function booleans (1 each); mental_state "oriented" 0 | "confused" 1; gait "normal" 0 | "safe_with_aids" 1 | "unsafe" 1 | "unable" 1. Bands low 0-2, high >= 3. The medicine items from ATC codes: careflags.downton_medicines(text[]).
hendrich_ii: confusion_disorientation_impulsivity (4), symptomatic_depression (2), altered_elimination (1), dizziness_vertigo (1), male (1), antiepileptic (2), benzodiazepine (1) booleans; get_up_and_go "rises_in_one_movement" 0 | "pushes_up_one_attempt" 1 | "multiple_attempts" 3 | "unable_without_help" 4. Bands low 0-4, high >= 5.$$;

CREATE FUNCTION @extschema@.score(instrument @extschema@.instrument, items jsonb,
                                  morse_moderate_from integer, morse_high_above integer)
    RETURNS @extschema@.score_result
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'careflags_score_cutoffs';
COMMENT ON FUNCTION @extschema@.score(@extschema@.instrument, jsonb, integer, integer) IS
    'careflags.score(instrument, items) with explicit Morse cut-offs (moderate band from morse_moderate_from, high band above morse_high_above) instead of the settings; NULL cut-offs raise 22023';

CREATE FUNCTION @extschema@.score_total(instrument @extschema@.instrument, total numeric)
    RETURNS @extschema@.score_result
    LANGUAGE c STRICT STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'careflags_score_total';
COMMENT ON FUNCTION @extschema@.score_total(@extschema@.instrument, numeric) IS
    'bands a recorded total; raises 22023 for a total that is not a whole number or is outside the instrument''s range (mst 0-5, mna_sf 0-14, must 0-6, nrs_2002 0-7, morse 0-125, stratify 0-5, downton 0-11, hendrich_ii 0-16) and for any total of nutrition_unspecified / fall_risk_unspecified; Morse bands from the settings careflags.morse_moderate_from / morse_high_above';

CREATE FUNCTION @extschema@.score_total(instrument @extschema@.instrument, total numeric,
                                        morse_moderate_from integer, morse_high_above integer)
    RETURNS @extschema@.score_result
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'careflags_score_total_cutoffs';
COMMENT ON FUNCTION @extschema@.score_total(@extschema@.instrument, numeric, integer, integer) IS
    'careflags.score_total(instrument, total) with explicit Morse cut-offs; NULL cut-offs raise 22023';

-- One function per instrument: named, typed arguments; same C as score().
-- A NULL answer where one is required raises 22023 (hence not STRICT).

CREATE FUNCTION @extschema@.mst(weight_loss text, eating_less boolean)
    RETURNS @extschema@.score_result
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
SELECT @extschema@.score('mst'::@extschema@.instrument,
    pg_catalog.jsonb_build_object('weight_loss', weight_loss, 'eating_less', eating_less),
    25, 45)
$$;
COMMENT ON FUNCTION @extschema@.mst(text, boolean) IS
    'Malnutrition Screening Tool: weight_loss "no" | "unsure" | "1_to_5_kg" | "6_to_10_kg" | "11_to_15_kg" | "more_than_15_kg" | "amount_unknown"; eating_less (poor appetite); at risk at >= 2';

CREATE FUNCTION @extschema@.mna_sf(food_intake text, weight_loss text, mobility text,
                                   psychological_stress_or_acute_disease boolean,
                                   neuropsychological_problems text,
                                   bmi numeric DEFAULT NULL, calf_circumference numeric DEFAULT NULL)
    RETURNS @extschema@.score_result
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
SELECT @extschema@.score('mna_sf'::@extschema@.instrument,
    pg_catalog.jsonb_build_object('food_intake', food_intake, 'weight_loss', weight_loss,
        'mobility', mobility,
        'psychological_stress_or_acute_disease', psychological_stress_or_acute_disease,
        'neuropsychological_problems', neuropsychological_problems,
        'bmi', bmi, 'calf_circumference', calf_circumference),
    25, 45)
$$;
COMMENT ON FUNCTION @extschema@.mna_sf(text, text, text, boolean, text, numeric, numeric) IS
    'MNA-SF (0-14): food_intake "severe_decrease" | "moderate_decrease" | "no_decrease"; weight_loss "more_than_3_kg" | "does_not_know" | "1_to_3_kg" | "none"; mobility "bed_or_chair_bound" | "out_of_bed_not_outside" | "goes_out"; psychological_stress_or_acute_disease; neuropsychological_problems "severe_dementia_or_depression" | "mild_dementia" | "none"; bmi (F1) or, without a BMI, calf_circumference in cm (F2); bands normal 12-14, at_risk 8-11, malnourished 0-7';

CREATE FUNCTION @extschema@.must(bmi numeric, weight_loss_percent numeric, acutely_ill_no_intake boolean)
    RETURNS @extschema@.score_result
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
SELECT @extschema@.score('must'::@extschema@.instrument,
    pg_catalog.jsonb_build_object('bmi', bmi, 'weight_loss_percent', weight_loss_percent,
        'acutely_ill_no_intake', acutely_ill_no_intake),
    25, 45)
$$;
COMMENT ON FUNCTION @extschema@.must(numeric, numeric, boolean) IS
    'MUST: bmi (> 20: 0, 18.5-20: 1, < 18.5: 2), weight_loss_percent unplanned in 3-6 months (< 5: 0, 5-10: 1, > 10: 2), acutely_ill_no_intake for > 5 days (2); bands low 0, medium 1, high >= 2; at risk at >= 1';

CREATE FUNCTION @extschema@.nrs_2002(nutritional_status integer DEFAULT NULL,
                                     disease_severity integer DEFAULT NULL,
                                     age integer DEFAULT NULL,
                                     bmi_below_20_5 boolean DEFAULT NULL,
                                     weight_loss_3_months boolean DEFAULT NULL,
                                     reduced_intake_last_week boolean DEFAULT NULL,
                                     severely_ill boolean DEFAULT NULL)
    RETURNS @extschema@.score_result
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
SELECT @extschema@.score('nrs_2002'::@extschema@.instrument,
    pg_catalog.jsonb_build_object('nutritional_status', nutritional_status,
        'disease_severity', disease_severity, 'age', age,
        'bmi_below_20_5', bmi_below_20_5, 'weight_loss_3_months', weight_loss_3_months,
        'reduced_intake_last_week', reduced_intake_last_week, 'severely_ill', severely_ill),
    25, 45)
$$;
COMMENT ON FUNCTION @extschema@.nrs_2002(integer, integer, integer, boolean, boolean, boolean, boolean) IS
    'NRS 2002: full screening nutritional_status 0-3 + disease_severity 0-3 + 1 when age >= 70; optional pre-screening (all four or none): bmi_below_20_5, weight_loss_3_months, reduced_intake_last_week, severely_ill - all false and no full screening gives total NULL, not_at_risk; at risk at >= 3';

CREATE FUNCTION @extschema@.morse(history_of_falling boolean, secondary_diagnosis boolean,
                                  ambulatory_aid text, iv_or_heparin_lock boolean, gait text,
                                  mental_status text,
                                  moderate_from integer DEFAULT 25, high_above integer DEFAULT 45)
    RETURNS @extschema@.score_result
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
SELECT @extschema@.score('morse'::@extschema@.instrument,
    pg_catalog.jsonb_build_object('history_of_falling', history_of_falling,
        'secondary_diagnosis', secondary_diagnosis, 'ambulatory_aid', ambulatory_aid,
        'iv_or_heparin_lock', iv_or_heparin_lock, 'gait', gait, 'mental_status', mental_status),
    moderate_from, high_above)
$$;
COMMENT ON FUNCTION @extschema@.morse(boolean, boolean, text, boolean, text, text, integer, integer) IS
    'Morse Fall Scale (0-125): history_of_falling 25, secondary_diagnosis 15, ambulatory_aid "none" | "bed_rest" | "nurse_assist" 0, "crutches_cane_walker" 15, "furniture" 30; iv_or_heparin_lock 20; gait "normal" | "bed_rest" | "wheelchair" 0, "weak" 10, "impaired" 20; mental_status "knows_limits" 0, "overestimates_or_forgets" 15; bands low < moderate_from (25), moderate, high > high_above (45)';

CREATE FUNCTION @extschema@.stratify(fall_history boolean, agitated boolean, visual_impairment boolean,
                                     frequent_toileting boolean, transfer_mobility_3_or_4 boolean)
    RETURNS @extschema@.score_result
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
SELECT @extschema@.score('stratify'::@extschema@.instrument,
    pg_catalog.jsonb_build_object('fall_history', fall_history, 'agitated', agitated,
        'visual_impairment', visual_impairment, 'frequent_toileting', frequent_toileting,
        'transfer_mobility_3_or_4', transfer_mobility_3_or_4),
    25, 45)
$$;
COMMENT ON FUNCTION @extschema@.stratify(boolean, boolean, boolean, boolean, boolean) IS
    'STRATIFY (0-5, one point per yes): fall_history (fell since admission or presented with a fall), agitated, visual_impairment (affecting daily function), frequent_toileting, transfer_mobility_3_or_4 (transfer-and-mobility score 3 or 4); high risk at >= 2';

CREATE FUNCTION @extschema@.hendrich_ii(confusion_disorientation_impulsivity boolean,
                                        symptomatic_depression boolean, altered_elimination boolean,
                                        dizziness_vertigo boolean, male boolean,
                                        antiepileptic boolean, benzodiazepine boolean,
                                        get_up_and_go text)
    RETURNS @extschema@.score_result
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
SELECT @extschema@.score('hendrich_ii'::@extschema@.instrument,
    pg_catalog.jsonb_build_object(
        'confusion_disorientation_impulsivity', confusion_disorientation_impulsivity,
        'symptomatic_depression', symptomatic_depression, 'altered_elimination', altered_elimination,
        'dizziness_vertigo', dizziness_vertigo, 'male', male, 'antiepileptic', antiepileptic,
        'benzodiazepine', benzodiazepine, 'get_up_and_go', get_up_and_go),
    25, 45)
$$;
COMMENT ON FUNCTION @extschema@.hendrich_ii(boolean, boolean, boolean, boolean, boolean, boolean, boolean, text) IS
    'Hendrich II (0-16): confusion_disorientation_impulsivity 4, symptomatic_depression 2, altered_elimination 1, dizziness_vertigo 1, male 1, antiepileptic 2, benzodiazepine 1, get_up_and_go "rises_in_one_movement" 0 | "pushes_up_one_attempt" 1 | "multiple_attempts" 3 | "unable_without_help" 4 (as on the published form); high risk at >= 5';

-- Downton medicine groups by ATC prefix.  Rows of origin 'default' come with
-- the extension; a site adds rows of origin 'site' (kept by pg_dump), which
-- win over a default row with the same prefix; the longest matching prefix
-- decides, and the group 'none' makes a prefix count for nothing.
CREATE TABLE @extschema@.downton_atc (
    atc_prefix      text NOT NULL
        CHECK (atc_prefix OPERATOR(pg_catalog.~) '^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$'),
    medicine_group  text NOT NULL
        CHECK (medicine_group OPERATOR(pg_catalog.=) ANY (ARRAY['tranquillisers_sedatives', 'diuretics',
            'antihypertensives', 'antiparkinsonian', 'antidepressants', 'none'])),
    origin          text NOT NULL DEFAULT 'site'
        CHECK (origin OPERATOR(pg_catalog.=) ANY (ARRAY['default', 'site'])),
    PRIMARY KEY (atc_prefix, origin)
);
COMMENT ON TABLE @extschema@.downton_atc IS
    'Downton Fall Risk Index medicine groups by ATC prefix: the longest matching prefix decides, a site row (origin ''site'', kept by pg_dump) wins over the default row of the same prefix, group ''none'' counts for nothing';
COMMENT ON COLUMN @extschema@.downton_atc.atc_prefix IS 'ATC code or prefix (e.g. N05B)';
COMMENT ON COLUMN @extschema@.downton_atc.medicine_group IS
    'Downton item the medicine counts for: tranquillisers_sedatives, diuretics, antihypertensives (other than diuretics), antiparkinsonian, antidepressants, or none';
COMMENT ON COLUMN @extschema@.downton_atc.origin IS '''default'' (shipped, restored by CREATE EXTENSION) or ''site'' (saved by pg_dump)';
INSERT INTO @extschema@.downton_atc (atc_prefix, medicine_group, origin) VALUES
    ('N05B', 'tranquillisers_sedatives', 'default'),
    ('N05C', 'tranquillisers_sedatives', 'default'),
    ('C03', 'diuretics', 'default'),
    ('C02', 'antihypertensives', 'default'),
    ('C07', 'antihypertensives', 'default'),
    ('C08', 'antihypertensives', 'default'),
    ('C09', 'antihypertensives', 'default'),
    ('N04', 'antiparkinsonian', 'default'),
    ('N06A', 'antidepressants', 'default');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.downton_atc', $$WHERE origin OPERATOR(pg_catalog.=) 'site'$$);
GRANT SELECT ON @extschema@.downton_atc TO PUBLIC;
GRANT INSERT, UPDATE, DELETE ON @extschema@.downton_atc TO careflags_admin;

CREATE FUNCTION @extschema@.downton_medicines(atc text[])
    RETURNS jsonb
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    code   text;
    grp    text;
    result jsonb := '{"tranquillisers_sedatives": false, "diuretics": false, "antihypertensives": false, "antiparkinsonian": false, "antidepressants": false}';
BEGIN
    IF atc IS NULL THEN
        RETURN NULL;
    END IF;
    FOREACH code IN ARRAY atc LOOP
        CONTINUE WHEN code IS NULL;
        IF code OPERATOR(pg_catalog.!~) '^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$' THEN
            RAISE EXCEPTION 'downton item "atc": % is not an ATC code; allowed: ATC codes such as N05BA01', pg_catalog.quote_literal(pg_catalog.left(code, 40))
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT d.medicine_group INTO grp
          FROM @extschema@.downton_atc d
         WHERE pg_catalog.starts_with(code, d.atc_prefix)
         ORDER BY pg_catalog.length(d.atc_prefix) DESC, (d.origin OPERATOR(pg_catalog.=) 'site') DESC
         LIMIT 1;
        IF FOUND AND grp OPERATOR(pg_catalog.<>) 'none' THEN
            result := result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(grp, true);
        END IF;
    END LOOP;
    RETURN result;
END
$$;
COMMENT ON FUNCTION @extschema@.downton_medicines(text[]) IS
    'the five Downton medicine items (tranquillisers_sedatives, diuretics, antihypertensives, antiparkinsonian, antidepressants) as a jsonb object of booleans, derived from ATC codes through careflags.downton_atc; merge it into Downton items with ||';

CREATE FUNCTION @extschema@.downton(known_previous_falls boolean, visual_impairment boolean,
                                    hearing_impairment boolean, impaired_limb_function boolean,
                                    mental_state text, gait text,
                                    tranquillisers_sedatives boolean DEFAULT NULL,
                                    diuretics boolean DEFAULT NULL,
                                    antihypertensives boolean DEFAULT NULL,
                                    antiparkinsonian boolean DEFAULT NULL,
                                    antidepressants boolean DEFAULT NULL,
                                    atc text[] DEFAULT NULL)
    RETURNS @extschema@.score_result
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    items jsonb;
BEGIN
    items := pg_catalog.jsonb_build_object('known_previous_falls', known_previous_falls,
        'visual_impairment', visual_impairment, 'hearing_impairment', hearing_impairment,
        'impaired_limb_function', impaired_limb_function, 'mental_state', mental_state, 'gait', gait);
    IF atc IS NOT NULL THEN
        IF tranquillisers_sedatives IS NOT NULL OR diuretics IS NOT NULL OR antihypertensives IS NOT NULL
           OR antiparkinsonian IS NOT NULL OR antidepressants IS NOT NULL THEN
            RAISE EXCEPTION 'downton: give either the medicine items or "atc", not both'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'With atc the five medicine items are derived through careflags.downton_atc.';
        END IF;
        items := items OPERATOR(pg_catalog.||) @extschema@.downton_medicines(atc);
    ELSE
        items := items OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(
            'tranquillisers_sedatives', tranquillisers_sedatives, 'diuretics', diuretics,
            'antihypertensives', antihypertensives, 'antiparkinsonian', antiparkinsonian,
            'antidepressants', antidepressants);
    END IF;
    RETURN @extschema@.score('downton'::@extschema@.instrument, items, 25, 45);
END
$$;
COMMENT ON FUNCTION @extschema@.downton(boolean, boolean, boolean, boolean, text, text, boolean, boolean, boolean, boolean, boolean, text[]) IS
    'Downton Fall Risk Index (0-11, one point each): known_previous_falls; medicines tranquillisers_sedatives, diuretics, antihypertensives, antiparkinsonian, antidepressants - given as booleans or derived from atc (text[] of ATC codes of medicines in use) through careflags.downton_atc; visual_impairment, hearing_impairment, impaired_limb_function; mental_state "oriented" | "confused"; gait "normal" | "safe_with_aids" | "unsafe" | "unable"; high risk at >= 3';

GRANT EXECUTE ON FUNCTION
    @extschema@.score(@extschema@.instrument, jsonb),
    @extschema@.score(@extschema@.instrument, jsonb, integer, integer),
    @extschema@.score_total(@extschema@.instrument, numeric),
    @extschema@.score_total(@extschema@.instrument, numeric, integer, integer),
    @extschema@.mst(text, boolean),
    @extschema@.mna_sf(text, text, text, boolean, text, numeric, numeric),
    @extschema@.must(numeric, numeric, boolean),
    @extschema@.nrs_2002(integer, integer, integer, boolean, boolean, boolean, boolean),
    @extschema@.morse(boolean, boolean, text, boolean, text, text, integer, integer),
    @extschema@.stratify(boolean, boolean, boolean, boolean, boolean),
    @extschema@.hendrich_ii(boolean, boolean, boolean, boolean, boolean, boolean, boolean, text),
    @extschema@.downton_medicines(text[]),
    @extschema@.downton(boolean, boolean, boolean, boolean, text, text, boolean, boolean, boolean, boolean, boolean, text[])
    TO PUBLIC;

-- Measures.

CREATE FUNCTION @extschema@.bmi(weight_kg numeric, height_cm numeric)
    RETURNS numeric
    LANGUAGE c STRICT IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'careflags_bmi';
COMMENT ON FUNCTION @extschema@.bmi(numeric, numeric) IS
    'body-mass index in kg/m², rounded to one decimal; raises 22023 unless 0 < weight_kg <= 500 and 30 <= height_cm <= 300';
GRANT EXECUTE ON FUNCTION @extschema@.bmi(numeric, numeric) TO PUBLIC;

CREATE FUNCTION @extschema@.weight_change_percent(patient_id bigint, within interval,
                                                  at timestamptz DEFAULT @extschema@.clock())
    RETURNS numeric
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    latest_id    bigint;
    latest_value numeric;
    latest_at    timestamptz;
    first_id     bigint;
    first_value  numeric;
BEGIN
    IF within OPERATOR(pg_catalog.<) interval '0' THEN
        RAISE EXCEPTION 'weight_change_percent: within must not be negative (got %)', within
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT m.measurement_id, m.value, m.measured_at INTO latest_id, latest_value, latest_at
      FROM @extschema@.measurement m
     WHERE m.patient_id OPERATOR(pg_catalog.=) weight_change_percent.patient_id
       AND m.kind OPERATOR(pg_catalog.=) 'weight'
       AND m.measured_at OPERATOR(pg_catalog.<=) weight_change_percent.at
     ORDER BY m.measured_at DESC, m.measurement_id DESC
     LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT m.measurement_id, m.value INTO first_id, first_value
      FROM @extschema@.measurement m
     WHERE m.patient_id OPERATOR(pg_catalog.=) weight_change_percent.patient_id
       AND m.kind OPERATOR(pg_catalog.=) 'weight'
       AND m.measured_at OPERATOR(pg_catalog.>=) (latest_at OPERATOR(pg_catalog.-) within)
       AND m.measured_at OPERATOR(pg_catalog.<=) latest_at
       AND m.measurement_id OPERATOR(pg_catalog.<>) latest_id
     ORDER BY m.measured_at, m.measurement_id
     LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN 100 OPERATOR(pg_catalog.*) (latest_value OPERATOR(pg_catalog.-) first_value)
           OPERATOR(pg_catalog./) first_value;
END
$$;
COMMENT ON FUNCTION @extschema@.weight_change_percent(bigint, interval, timestamptz) IS
    'percent change from the earliest weight within [latest - within, latest] to the latest weight at or before at (negative = loss), unrounded so thresholds compare exactly; NULL with fewer than two weights in that span';
REVOKE EXECUTE ON FUNCTION @extschema@.weight_change_percent(bigint, interval, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.weight_change_percent(bigint, interval, timestamptz)
    TO careflags_nurse, careflags_admin;

-- careflags.frid_atc is created by a later part (30_rules.sql); PL/pgSQL
-- resolves the table when the function first runs.
CREATE FUNCTION @extschema@.frid_class(atc text)
    RETURNS text
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    RETURN (SELECT f.description
              FROM @extschema@.frid_atc f
             WHERE pg_catalog.starts_with(frid_class.atc, f.atc_prefix)
             ORDER BY pg_catalog.length(f.atc_prefix) DESC
             LIMIT 1);
END
$$;
COMMENT ON FUNCTION @extschema@.frid_class(text) IS
    'the description of the longest ATC prefix in careflags.frid_atc that the code starts with; NULL when it is not a fall-risk-increasing drug';
REVOKE EXECUTE ON FUNCTION @extschema@.frid_class(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.frid_class(text) TO careflags_nurse, careflags_quality, careflags_admin;

CREATE FUNCTION @extschema@.active_regular_medicines(patient_id bigint,
                                                     at timestamptz DEFAULT @extschema@.clock())
    RETURNS integer
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
SELECT pg_catalog.count(DISTINCT CASE
           WHEN m.atc IS NOT NULL THEN 'atc:' OPERATOR(pg_catalog.||) m.atc
           WHEN m.code IS NOT NULL THEN 'code:' OPERATOR(pg_catalog.||) m.code
           ELSE 'row:' OPERATOR(pg_catalog.||) m.medication_id::text
       END)::integer
  FROM @extschema@.medication m
 WHERE m.patient_id OPERATOR(pg_catalog.=) active_regular_medicines.patient_id
   AND NOT m.as_needed
   AND m.started_at OPERATOR(pg_catalog.<=) active_regular_medicines.at
   AND (m.stopped_at IS NULL OR m.stopped_at OPERATOR(pg_catalog.>=) active_regular_medicines.at)
   AND m.status OPERATOR(pg_catalog.<>) 'entered_in_error'
   AND (m.stopped_at IS NOT NULL
        OR m.status OPERATOR(pg_catalog.<>) ALL (ARRAY['stopped', 'completed', 'cancelled']::@extschema@.medication_status[]))
$$;
COMMENT ON FUNCTION @extschema@.active_regular_medicines(bigint, timestamptz) IS
    'number of distinct active regular (not as-needed) medicines at a time (clinical-rules.md §7.6): started at or before it and not stopped before it; never when entered_in_error; without a stop time, not when the status is stopped, completed or cancelled (with one, the stop time decides, so past dates count it); distinct by ATC code, else by source code, else each row counts once';
REVOKE EXECUTE ON FUNCTION @extschema@.active_regular_medicines(bigint, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.active_regular_medicines(bigint, timestamptz)
    TO careflags_nurse, careflags_admin;
