-- careflags 1.1: the install script of version 1.1, as released (kept as it was; later versions are generated from sql/parts/).
\echo Use "CREATE EXTENSION careflags" to load this file. \quit

-- ==== sql/parts/00_types.sql ====
-- sql/parts/00_types.sql - roles, types and the clock of careflags.

CREATE SCHEMA careflags;
COMMENT ON SCHEMA careflags IS 'careflags: care-quality flags for elderly patients';

-- Roles are cluster-wide: created once, left in place by DROP EXTENSION
-- (they may own grants in other databases).
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'careflags_nurse') THEN
        CREATE ROLE careflags_nurse NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'careflags_quality') THEN
        CREATE ROLE careflags_quality NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'careflags_admin') THEN
        CREATE ROLE careflags_admin NOLOGIN;
    END IF;
END
$roles$;
COMMENT ON ROLE careflags_nurse IS 'careflags: worklist and flag actions for the units mapped to the role';
COMMENT ON ROLE careflags_quality IS 'careflags: indicator reports and pseudonymised extracts, no direct identifiers';
COMMENT ON ROLE careflags_admin IS 'careflags: rules, units and unit access';

GRANT USAGE ON SCHEMA careflags TO careflags_nurse, careflags_quality, careflags_admin;

CREATE TYPE careflags.care_setting AS ENUM (
    'nursing_home_long_term',
    'nursing_home_short_term',
    'home_nursing',
    'home_services',
    'gp'
);
COMMENT ON TYPE careflags.care_setting IS 'where a patient receives care during an episode (clinical-rules.md §1)';

CREATE TYPE careflags.domain AS ENUM ('nutrition', 'medication_review', 'fall_risk');
COMMENT ON TYPE careflags.domain IS 'the three areas careflags watches';

CREATE TYPE careflags.instrument AS ENUM (
    'mst', 'mna_sf', 'must', 'nrs_2002', 'nutrition_unspecified',
    'morse', 'stratify', 'downton', 'hendrich_ii', 'fall_risk_unspecified'
);
COMMENT ON TYPE careflags.instrument IS
    'assessment instruments: nutrition screening (mst, mna_sf, must, nrs_2002) and fall risk (morse, stratify, downton, hendrich_ii); *_unspecified for an assessment recorded without a known instrument or score';

CREATE TYPE careflags.measurement_kind AS ENUM ('weight', 'height', 'bmi', 'calf_circumference');
COMMENT ON TYPE careflags.measurement_kind IS 'weight in kg, height and calf circumference in cm, BMI in kg/m²';

CREATE TYPE careflags.plan_kind AS ENUM ('nutrition', 'fall_prevention');
COMMENT ON TYPE careflags.plan_kind IS 'individual care plans the rules ask for';

CREATE TYPE careflags.sex AS ENUM ('female', 'male', 'other', 'unknown');
COMMENT ON TYPE careflags.sex IS 'a patient''s sex as the record gives it (reports break indicators down by it; the extract carries it)';

CREATE TYPE careflags.medication_status AS ENUM (
    'active', 'on_hold', 'stopped', 'completed', 'cancelled', 'entered_in_error', 'unknown');
COMMENT ON TYPE careflags.medication_status IS
    'source status of a medicine; stopped, completed, cancelled and entered_in_error are never active (clinical-rules.md §7.6)';

-- The clock every read-time state is computed from.  careflags.frozen_now
-- (superuser-only) lets tests hold time still; otherwise it is now().
CREATE FUNCTION careflags.clock() RETURNS timestamptz
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'careflags_clock';
COMMENT ON FUNCTION careflags.clock() IS
    'current time for careflags: now(), or careflags.frozen_now when a superuser has set it (tests)';

CREATE FUNCTION careflags.version() RETURNS text
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'careflags_version';
COMMENT ON FUNCTION careflags.version() IS 'version of the loaded careflags library';

GRANT EXECUTE ON FUNCTION careflags.clock(), careflags.version() TO PUBLIC;

-- ==== sql/parts/10_facts.sql ====
-- sql/parts/10_facts.sql - canonical facts: what every plugin maps onto.
--
-- Every fact carries (source_system, source_key), unique per table, so a
-- plugin can upsert (INSERT ... ON CONFLICT (source_system, source_key) DO
-- UPDATE) and delete by source key idempotently.  Every per-patient table is
-- keyed by patient first.  CHECK constraints reject impossible facts; the
-- BEFORE trigger careflags.fact_guard() checks the same things first and
-- moves a bad row to careflags.quarantine with a WARNING instead of failing
-- the record's transaction (an ERROR when careflags.strict = on).

CREATE TABLE careflags.unit (
    unit_id     text PRIMARY KEY CHECK (unit_id OPERATOR(pg_catalog.<>) ''),
    name        text NOT NULL,
    setting     careflags.care_setting,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE careflags.unit IS 'care units (a nursing-home ward, a home-nursing district); episodes refer to them by unit_id';

CREATE TABLE careflags.unit_access (
    unit_id     text NOT NULL REFERENCES careflags.unit ON DELETE CASCADE,
    role_name   name NOT NULL,
    PRIMARY KEY (unit_id, role_name)
);
COMMENT ON TABLE careflags.unit_access IS
    'which database roles (and their members) see and act on which unit''s flags';

CREATE TABLE careflags.patient (
    patient_id      bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    source_system   text NOT NULL DEFAULT 'manual',
    source_key      text NOT NULL DEFAULT pg_catalog.gen_random_uuid()::text,
    display_name    text,
    birth_date      date,
    sex             careflags.sex NOT NULL DEFAULT 'unknown',
    deceased        boolean NOT NULL DEFAULT false,
    deceased_at     timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT patient_source_key UNIQUE (source_system, source_key),
    CONSTRAINT patient_birth_date_plausible
        CHECK (birth_date IS NULL OR birth_date OPERATOR(pg_catalog.>=) DATE '1850-01-01'),
    CONSTRAINT patient_deceased_at_needs_deceased
        CHECK (deceased_at IS NULL OR deceased)
);
COMMENT ON TABLE careflags.patient IS
    'patients; display_name and birth_date are direct identifiers, never shown to careflags_quality';

CREATE TABLE careflags.episode (
    patient_id      bigint NOT NULL REFERENCES careflags.patient ON DELETE CASCADE,
    episode_id      bigint GENERATED BY DEFAULT AS IDENTITY,
    source_system   text NOT NULL DEFAULT 'manual',
    source_key      text NOT NULL DEFAULT pg_catalog.gen_random_uuid()::text,
    setting         careflags.care_setting NOT NULL,
    unit_id         text,
    started_at      timestamptz NOT NULL,
    ended_at        timestamptz,
    PRIMARY KEY (patient_id, episode_id),
    CONSTRAINT episode_source_key UNIQUE (source_system, source_key),
    CONSTRAINT episode_ends_after_start CHECK (ended_at IS NULL OR ended_at OPERATOR(pg_catalog.>=) started_at)
);
COMMENT ON TABLE careflags.episode IS
    'care episodes: a patient is in a setting (and unit) from started_at until ended_at';

CREATE TABLE careflags.assessment (
    patient_id      bigint NOT NULL REFERENCES careflags.patient ON DELETE CASCADE,
    assessment_id   bigint GENERATED BY DEFAULT AS IDENTITY,
    source_system   text NOT NULL DEFAULT 'manual',
    source_key      text NOT NULL DEFAULT pg_catalog.gen_random_uuid()::text,
    instrument      careflags.instrument NOT NULL,
    assessed_at     timestamptz NOT NULL,
    items           jsonb,
    total           numeric,
    band            text,
    at_risk         boolean,
    PRIMARY KEY (patient_id, assessment_id),
    CONSTRAINT assessment_source_key UNIQUE (source_system, source_key),
    CONSTRAINT assessment_items_object CHECK (items IS NULL OR pg_catalog.jsonb_typeof(items) OPERATOR(pg_catalog.=) 'object')
);
COMMENT ON TABLE careflags.assessment IS
    'screenings and risk assessments: item answers and/or a recorded total; total, band and at_risk are filled in from the items by careflags (at_risk: nutrition risk, or the instrument''s high fall-risk band)';

CREATE TABLE careflags.measurement (
    patient_id      bigint NOT NULL REFERENCES careflags.patient ON DELETE CASCADE,
    measurement_id  bigint GENERATED BY DEFAULT AS IDENTITY,
    source_system   text NOT NULL DEFAULT 'manual',
    source_key      text NOT NULL DEFAULT pg_catalog.gen_random_uuid()::text,
    kind            careflags.measurement_kind NOT NULL,
    value           numeric NOT NULL,
    measured_at     timestamptz NOT NULL,
    PRIMARY KEY (patient_id, measurement_id),
    CONSTRAINT measurement_source_key UNIQUE (source_system, source_key),
    CONSTRAINT measurement_value_plausible CHECK (
        CASE kind
            WHEN 'weight' THEN value OPERATOR(pg_catalog.>) 0 AND value OPERATOR(pg_catalog.<=) 500
            WHEN 'height' THEN value OPERATOR(pg_catalog.>=) 30 AND value OPERATOR(pg_catalog.<=) 300
            WHEN 'bmi' THEN value OPERATOR(pg_catalog.>=) 5 AND value OPERATOR(pg_catalog.<=) 150
            WHEN 'calf_circumference' THEN value OPERATOR(pg_catalog.>=) 5 AND value OPERATOR(pg_catalog.<=) 100
        END)
);
COMMENT ON TABLE careflags.measurement IS 'body measurements: weight (kg), height (cm), BMI (kg/m²), calf circumference (cm)';

CREATE TABLE careflags.medication (
    patient_id      bigint NOT NULL REFERENCES careflags.patient ON DELETE CASCADE,
    medication_id   bigint GENERATED BY DEFAULT AS IDENTITY,
    source_system   text NOT NULL DEFAULT 'manual',
    source_key      text NOT NULL DEFAULT pg_catalog.gen_random_uuid()::text,
    atc             text,
    code            text,
    name            text,
    started_at      timestamptz NOT NULL,
    stopped_at      timestamptz,
    as_needed       boolean NOT NULL DEFAULT false,
    status          careflags.medication_status NOT NULL DEFAULT 'active',
    PRIMARY KEY (patient_id, medication_id),
    CONSTRAINT medication_source_key UNIQUE (source_system, source_key),
    CONSTRAINT medication_atc_format CHECK (atc IS NULL OR atc OPERATOR(pg_catalog.~) '^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$'),
    CONSTRAINT medication_stops_after_start CHECK (stopped_at IS NULL OR stopped_at OPERATOR(pg_catalog.>=) started_at)
);
COMMENT ON TABLE careflags.medication IS
    'medicines: ATC code (or the source code where no ATC is known), start, stop, regular or as-needed (PRN)';

CREATE TABLE careflags.medication_review (
    patient_id      bigint NOT NULL REFERENCES careflags.patient ON DELETE CASCADE,
    review_id       bigint GENERATED BY DEFAULT AS IDENTITY,
    source_system   text NOT NULL DEFAULT 'manual',
    source_key      text NOT NULL DEFAULT pg_catalog.gen_random_uuid()::text,
    reviewed_at     timestamptz NOT NULL,
    code            text,
    PRIMARY KEY (patient_id, review_id),
    CONSTRAINT medication_review_source_key UNIQUE (source_system, source_key)
);
COMMENT ON TABLE careflags.medication_review IS
    'medication reviews (legemiddelgjennomgang; SNOMED CT 182836005, 430193006 and site-mapped codes)';

CREATE TABLE careflags.care_plan (
    patient_id          bigint NOT NULL REFERENCES careflags.patient ON DELETE CASCADE,
    plan_id             bigint GENERATED BY DEFAULT AS IDENTITY,
    source_system       text NOT NULL DEFAULT 'manual',
    source_key          text NOT NULL DEFAULT pg_catalog.gen_random_uuid()::text,
    kind                careflags.plan_kind NOT NULL,
    started_at          timestamptz NOT NULL,
    ended_at            timestamptz,
    last_evaluated_at   timestamptz,
    PRIMARY KEY (patient_id, plan_id),
    CONSTRAINT care_plan_source_key UNIQUE (source_system, source_key),
    CONSTRAINT care_plan_ends_after_start CHECK (ended_at IS NULL OR ended_at OPERATOR(pg_catalog.>=) started_at),
    CONSTRAINT care_plan_evaluated_after_start CHECK (last_evaluated_at IS NULL OR last_evaluated_at OPERATOR(pg_catalog.>=) started_at)
);
COMMENT ON TABLE careflags.care_plan IS 'individual nutrition plans and fall-prevention plans, with their latest evaluation';

CREATE TABLE careflags.fall (
    patient_id      bigint NOT NULL REFERENCES careflags.patient ON DELETE CASCADE,
    fall_id         bigint GENERATED BY DEFAULT AS IDENTITY,
    source_system   text NOT NULL DEFAULT 'manual',
    source_key      text NOT NULL DEFAULT pg_catalog.gen_random_uuid()::text,
    fell_at         timestamptz NOT NULL,
    code            text,
    PRIMARY KEY (patient_id, fall_id),
    CONSTRAINT fall_source_key UNIQUE (source_system, source_key)
);
COMMENT ON TABLE careflags.fall IS 'recorded falls (SNOMED CT 1912002, 217082002, 428942009; ICD-10 W00-W19; site codes)';

CREATE TABLE careflags.exemption (
    patient_id      bigint NOT NULL REFERENCES careflags.patient ON DELETE CASCADE,
    exemption_id    bigint GENERATED BY DEFAULT AS IDENTITY,
    source_system   text NOT NULL DEFAULT 'manual',
    source_key      text NOT NULL DEFAULT pg_catalog.gen_random_uuid()::text,
    scope           text NOT NULL DEFAULT '*',
    reason          text NOT NULL CHECK (pg_catalog.btrim(reason) OPERATOR(pg_catalog.<>) ''),
    valid_from      timestamptz NOT NULL,
    valid_until     timestamptz,
    recorded_by     name NOT NULL DEFAULT CURRENT_USER,
    PRIMARY KEY (patient_id, exemption_id),
    CONSTRAINT exemption_source_key UNIQUE (source_system, source_key),
    CONSTRAINT exemption_scope_format CHECK (scope OPERATOR(pg_catalog.~) '^(\*|[a-z_]+(\.[a-z_]+)*)$'),
    CONSTRAINT exemption_ends_after_start CHECK (valid_until IS NULL OR valid_until OPERATOR(pg_catalog.>) valid_from)
);
COMMENT ON TABLE careflags.exemption IS
    '"not relevant" for a patient (e.g. end-of-life care): scope is a rule id, a rule family prefix (''nutrition'', ''fall_risk.assessment'') or ''*'' for all';

CREATE TABLE careflags.quarantine (
    quarantine_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recorded_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    fact_table      text NOT NULL,
    source_system   text,
    source_key      text,
    patient_id      bigint,
    reason          text NOT NULL,
    payload         jsonb,
    resolved_at     timestamptz
);
COMMENT ON TABLE careflags.quarantine IS
    'facts careflags could not accept, with the reason; the record''s own write went through';
CREATE INDEX quarantine_open ON careflags.quarantine (recorded_at) WHERE resolved_at IS NULL;

-- Indexes for the evaluator (one patient's facts) and the reports.
CREATE INDEX episode_open ON careflags.episode (unit_id, patient_id) WHERE ended_at IS NULL;
CREATE INDEX assessment_patient_time ON careflags.assessment (patient_id, assessed_at);
CREATE INDEX measurement_patient_time ON careflags.measurement (patient_id, kind, measured_at);
CREATE INDEX medication_patient ON careflags.medication (patient_id);
CREATE INDEX medication_review_patient_time ON careflags.medication_review (patient_id, reviewed_at);
CREATE INDEX care_plan_patient ON careflags.care_plan (patient_id);
CREATE INDEX fall_patient_time ON careflags.fall (patient_id, fell_at);
CREATE INDEX exemption_patient ON careflags.exemption (patient_id);

-- The guard: validates each written fact before it is stored.
CREATE FUNCTION careflags.fact_guard() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_fact_guard';
COMMENT ON FUNCTION careflags.fact_guard() IS
    'BEFORE ROW trigger on fact tables: fills in scores, moves impossible facts to careflags.quarantine (or raises when careflags.strict)';

DO $guard$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['patient', 'episode', 'assessment', 'measurement', 'medication',
                             'medication_review', 'care_plan', 'fall', 'exemption']
    LOOP
        EXECUTE pg_catalog.format(
            'CREATE TRIGGER a_guard BEFORE INSERT OR UPDATE ON careflags.%I
                 FOR EACH ROW EXECUTE FUNCTION careflags.fact_guard()', t);
    END LOOP;
END
$guard$;

COMMENT ON SEQUENCE careflags.patient_patient_id_seq IS 'ids of careflags.patient (saved by pg_dump)';
COMMENT ON SEQUENCE careflags.episode_episode_id_seq IS 'ids of careflags.episode (saved by pg_dump)';
COMMENT ON SEQUENCE careflags.assessment_assessment_id_seq IS 'ids of careflags.assessment (saved by pg_dump)';
COMMENT ON SEQUENCE careflags.measurement_measurement_id_seq IS 'ids of careflags.measurement (saved by pg_dump)';
COMMENT ON SEQUENCE careflags.medication_medication_id_seq IS 'ids of careflags.medication (saved by pg_dump)';
COMMENT ON SEQUENCE careflags.medication_review_review_id_seq IS 'ids of careflags.medication_review (saved by pg_dump)';
COMMENT ON SEQUENCE careflags.care_plan_plan_id_seq IS 'ids of careflags.care_plan (saved by pg_dump)';
COMMENT ON SEQUENCE careflags.fall_fall_id_seq IS 'ids of careflags.fall (saved by pg_dump)';
COMMENT ON SEQUENCE careflags.exemption_exemption_id_seq IS 'ids of careflags.exemption (saved by pg_dump)';
COMMENT ON SEQUENCE careflags.quarantine_quarantine_id_seq IS 'ids of careflags.quarantine (saved by pg_dump)';

-- Site data: kept by pg_dump.
SELECT pg_catalog.pg_extension_config_dump('careflags.unit', '');
SELECT pg_catalog.pg_extension_config_dump('careflags.unit_access', '');
SELECT pg_catalog.pg_extension_config_dump('careflags.patient', '');
SELECT pg_catalog.pg_extension_config_dump('careflags.patient_patient_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('careflags.episode', '');
SELECT pg_catalog.pg_extension_config_dump('careflags.episode_episode_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('careflags.assessment', '');
SELECT pg_catalog.pg_extension_config_dump('careflags.assessment_assessment_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('careflags.measurement', '');
SELECT pg_catalog.pg_extension_config_dump('careflags.measurement_measurement_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('careflags.medication', '');
SELECT pg_catalog.pg_extension_config_dump('careflags.medication_medication_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('careflags.medication_review', '');
SELECT pg_catalog.pg_extension_config_dump('careflags.medication_review_review_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('careflags.care_plan', '');
SELECT pg_catalog.pg_extension_config_dump('careflags.care_plan_plan_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('careflags.fall', '');
SELECT pg_catalog.pg_extension_config_dump('careflags.fall_fall_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('careflags.exemption', '');
SELECT pg_catalog.pg_extension_config_dump('careflags.exemption_exemption_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('careflags.quarantine', '');
SELECT pg_catalog.pg_extension_config_dump('careflags.quarantine_quarantine_id_seq', '');

-- ==== sql/parts/20_scores.sql ====
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

CREATE TYPE careflags.score_result AS (
    total   numeric,
    band    text,
    at_risk boolean
);
COMMENT ON TYPE careflags.score_result IS
    'result of a clinical score: total (NULL when there is none: *_unspecified, NRS 2002 with a negative pre-screening), band, at_risk (nutrition: at risk; fall risk: the instrument''s high band)';

CREATE FUNCTION careflags.score(instrument careflags.instrument, items jsonb)
    RETURNS careflags.score_result
    LANGUAGE c STRICT STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'careflags_score';
COMMENT ON FUNCTION careflags.score(careflags.instrument, jsonb) IS
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

CREATE FUNCTION careflags.score(instrument careflags.instrument, items jsonb,
                                  morse_moderate_from integer, morse_high_above integer)
    RETURNS careflags.score_result
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'careflags_score_cutoffs';
COMMENT ON FUNCTION careflags.score(careflags.instrument, jsonb, integer, integer) IS
    'careflags.score(instrument, items) with explicit Morse cut-offs (moderate band from morse_moderate_from, high band above morse_high_above) instead of the settings; NULL cut-offs raise 22023';

CREATE FUNCTION careflags.score_total(instrument careflags.instrument, total numeric)
    RETURNS careflags.score_result
    LANGUAGE c STRICT STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'careflags_score_total';
COMMENT ON FUNCTION careflags.score_total(careflags.instrument, numeric) IS
    'bands a recorded total; raises 22023 for a total that is not a whole number or is outside the instrument''s range (mst 0-5, mna_sf 0-14, must 0-6, nrs_2002 0-7, morse 0-125, stratify 0-5, downton 0-11, hendrich_ii 0-16) and for any total of nutrition_unspecified / fall_risk_unspecified; Morse bands from the settings careflags.morse_moderate_from / morse_high_above';

CREATE FUNCTION careflags.score_total(instrument careflags.instrument, total numeric,
                                        morse_moderate_from integer, morse_high_above integer)
    RETURNS careflags.score_result
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'careflags_score_total_cutoffs';
COMMENT ON FUNCTION careflags.score_total(careflags.instrument, numeric, integer, integer) IS
    'careflags.score_total(instrument, total) with explicit Morse cut-offs; NULL cut-offs raise 22023';

-- One function per instrument: named, typed arguments; same C as score().
-- A NULL answer where one is required raises 22023 (hence not STRICT).

CREATE FUNCTION careflags.mst(weight_loss text, eating_less boolean)
    RETURNS careflags.score_result
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
SELECT careflags.score('mst'::careflags.instrument,
    pg_catalog.jsonb_build_object('weight_loss', weight_loss, 'eating_less', eating_less),
    25, 45)
$$;
COMMENT ON FUNCTION careflags.mst(text, boolean) IS
    'Malnutrition Screening Tool: weight_loss "no" | "unsure" | "1_to_5_kg" | "6_to_10_kg" | "11_to_15_kg" | "more_than_15_kg" | "amount_unknown"; eating_less (poor appetite); at risk at >= 2';

CREATE FUNCTION careflags.mna_sf(food_intake text, weight_loss text, mobility text,
                                   psychological_stress_or_acute_disease boolean,
                                   neuropsychological_problems text,
                                   bmi numeric DEFAULT NULL, calf_circumference numeric DEFAULT NULL)
    RETURNS careflags.score_result
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
SELECT careflags.score('mna_sf'::careflags.instrument,
    pg_catalog.jsonb_build_object('food_intake', food_intake, 'weight_loss', weight_loss,
        'mobility', mobility,
        'psychological_stress_or_acute_disease', psychological_stress_or_acute_disease,
        'neuropsychological_problems', neuropsychological_problems,
        'bmi', bmi, 'calf_circumference', calf_circumference),
    25, 45)
$$;
COMMENT ON FUNCTION careflags.mna_sf(text, text, text, boolean, text, numeric, numeric) IS
    'MNA-SF (0-14): food_intake "severe_decrease" | "moderate_decrease" | "no_decrease"; weight_loss "more_than_3_kg" | "does_not_know" | "1_to_3_kg" | "none"; mobility "bed_or_chair_bound" | "out_of_bed_not_outside" | "goes_out"; psychological_stress_or_acute_disease; neuropsychological_problems "severe_dementia_or_depression" | "mild_dementia" | "none"; bmi (F1) or, without a BMI, calf_circumference in cm (F2); bands normal 12-14, at_risk 8-11, malnourished 0-7';

CREATE FUNCTION careflags.must(bmi numeric, weight_loss_percent numeric, acutely_ill_no_intake boolean)
    RETURNS careflags.score_result
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
SELECT careflags.score('must'::careflags.instrument,
    pg_catalog.jsonb_build_object('bmi', bmi, 'weight_loss_percent', weight_loss_percent,
        'acutely_ill_no_intake', acutely_ill_no_intake),
    25, 45)
$$;
COMMENT ON FUNCTION careflags.must(numeric, numeric, boolean) IS
    'MUST: bmi (> 20: 0, 18.5-20: 1, < 18.5: 2), weight_loss_percent unplanned in 3-6 months (< 5: 0, 5-10: 1, > 10: 2), acutely_ill_no_intake for > 5 days (2); bands low 0, medium 1, high >= 2; at risk at >= 1';

CREATE FUNCTION careflags.nrs_2002(nutritional_status integer DEFAULT NULL,
                                     disease_severity integer DEFAULT NULL,
                                     age integer DEFAULT NULL,
                                     bmi_below_20_5 boolean DEFAULT NULL,
                                     weight_loss_3_months boolean DEFAULT NULL,
                                     reduced_intake_last_week boolean DEFAULT NULL,
                                     severely_ill boolean DEFAULT NULL)
    RETURNS careflags.score_result
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
SELECT careflags.score('nrs_2002'::careflags.instrument,
    pg_catalog.jsonb_build_object('nutritional_status', nutritional_status,
        'disease_severity', disease_severity, 'age', age,
        'bmi_below_20_5', bmi_below_20_5, 'weight_loss_3_months', weight_loss_3_months,
        'reduced_intake_last_week', reduced_intake_last_week, 'severely_ill', severely_ill),
    25, 45)
$$;
COMMENT ON FUNCTION careflags.nrs_2002(integer, integer, integer, boolean, boolean, boolean, boolean) IS
    'NRS 2002: full screening nutritional_status 0-3 + disease_severity 0-3 + 1 when age >= 70; optional pre-screening (all four or none): bmi_below_20_5, weight_loss_3_months, reduced_intake_last_week, severely_ill - all false and no full screening gives total NULL, not_at_risk; at risk at >= 3';

CREATE FUNCTION careflags.morse(history_of_falling boolean, secondary_diagnosis boolean,
                                  ambulatory_aid text, iv_or_heparin_lock boolean, gait text,
                                  mental_status text,
                                  moderate_from integer DEFAULT 25, high_above integer DEFAULT 45)
    RETURNS careflags.score_result
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
SELECT careflags.score('morse'::careflags.instrument,
    pg_catalog.jsonb_build_object('history_of_falling', history_of_falling,
        'secondary_diagnosis', secondary_diagnosis, 'ambulatory_aid', ambulatory_aid,
        'iv_or_heparin_lock', iv_or_heparin_lock, 'gait', gait, 'mental_status', mental_status),
    moderate_from, high_above)
$$;
COMMENT ON FUNCTION careflags.morse(boolean, boolean, text, boolean, text, text, integer, integer) IS
    'Morse Fall Scale (0-125): history_of_falling 25, secondary_diagnosis 15, ambulatory_aid "none" | "bed_rest" | "nurse_assist" 0, "crutches_cane_walker" 15, "furniture" 30; iv_or_heparin_lock 20; gait "normal" | "bed_rest" | "wheelchair" 0, "weak" 10, "impaired" 20; mental_status "knows_limits" 0, "overestimates_or_forgets" 15; bands low < moderate_from (25), moderate, high > high_above (45)';

CREATE FUNCTION careflags.stratify(fall_history boolean, agitated boolean, visual_impairment boolean,
                                     frequent_toileting boolean, transfer_mobility_3_or_4 boolean)
    RETURNS careflags.score_result
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
SELECT careflags.score('stratify'::careflags.instrument,
    pg_catalog.jsonb_build_object('fall_history', fall_history, 'agitated', agitated,
        'visual_impairment', visual_impairment, 'frequent_toileting', frequent_toileting,
        'transfer_mobility_3_or_4', transfer_mobility_3_or_4),
    25, 45)
$$;
COMMENT ON FUNCTION careflags.stratify(boolean, boolean, boolean, boolean, boolean) IS
    'STRATIFY (0-5, one point per yes): fall_history (fell since admission or presented with a fall), agitated, visual_impairment (affecting daily function), frequent_toileting, transfer_mobility_3_or_4 (transfer-and-mobility score 3 or 4); high risk at >= 2';

CREATE FUNCTION careflags.hendrich_ii(confusion_disorientation_impulsivity boolean,
                                        symptomatic_depression boolean, altered_elimination boolean,
                                        dizziness_vertigo boolean, male boolean,
                                        antiepileptic boolean, benzodiazepine boolean,
                                        get_up_and_go text)
    RETURNS careflags.score_result
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
SELECT careflags.score('hendrich_ii'::careflags.instrument,
    pg_catalog.jsonb_build_object(
        'confusion_disorientation_impulsivity', confusion_disorientation_impulsivity,
        'symptomatic_depression', symptomatic_depression, 'altered_elimination', altered_elimination,
        'dizziness_vertigo', dizziness_vertigo, 'male', male, 'antiepileptic', antiepileptic,
        'benzodiazepine', benzodiazepine, 'get_up_and_go', get_up_and_go),
    25, 45)
$$;
COMMENT ON FUNCTION careflags.hendrich_ii(boolean, boolean, boolean, boolean, boolean, boolean, boolean, text) IS
    'Hendrich II (0-16): confusion_disorientation_impulsivity 4, symptomatic_depression 2, altered_elimination 1, dizziness_vertigo 1, male 1, antiepileptic 2, benzodiazepine 1, get_up_and_go "rises_in_one_movement" 0 | "pushes_up_one_attempt" 1 | "multiple_attempts" 3 | "unable_without_help" 4 (as on the published form); high risk at >= 5';

-- Downton medicine groups by ATC prefix.  Rows of origin 'default' come with
-- the extension; a site adds rows of origin 'site' (kept by pg_dump), which
-- win over a default row with the same prefix; the longest matching prefix
-- decides, and the group 'none' makes a prefix count for nothing.
CREATE TABLE careflags.downton_atc (
    atc_prefix      text NOT NULL
        CHECK (atc_prefix OPERATOR(pg_catalog.~) '^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$'),
    medicine_group  text NOT NULL
        CHECK (medicine_group OPERATOR(pg_catalog.=) ANY (ARRAY['tranquillisers_sedatives', 'diuretics',
            'antihypertensives', 'antiparkinsonian', 'antidepressants', 'none'])),
    origin          text NOT NULL DEFAULT 'site'
        CHECK (origin OPERATOR(pg_catalog.=) ANY (ARRAY['default', 'site'])),
    PRIMARY KEY (atc_prefix, origin)
);
COMMENT ON TABLE careflags.downton_atc IS
    'Downton Fall Risk Index medicine groups by ATC prefix: the longest matching prefix decides, a site row (origin ''site'', kept by pg_dump) wins over the default row of the same prefix, group ''none'' counts for nothing';
COMMENT ON COLUMN careflags.downton_atc.atc_prefix IS 'ATC code or prefix (e.g. N05B)';
COMMENT ON COLUMN careflags.downton_atc.medicine_group IS
    'Downton item the medicine counts for: tranquillisers_sedatives, diuretics, antihypertensives (other than diuretics), antiparkinsonian, antidepressants, or none';
COMMENT ON COLUMN careflags.downton_atc.origin IS '''default'' (shipped, restored by CREATE EXTENSION) or ''site'' (saved by pg_dump)';
INSERT INTO careflags.downton_atc (atc_prefix, medicine_group, origin) VALUES
    ('N05B', 'tranquillisers_sedatives', 'default'),
    ('N05C', 'tranquillisers_sedatives', 'default'),
    ('C03', 'diuretics', 'default'),
    ('C02', 'antihypertensives', 'default'),
    ('C07', 'antihypertensives', 'default'),
    ('C08', 'antihypertensives', 'default'),
    ('C09', 'antihypertensives', 'default'),
    ('N04', 'antiparkinsonian', 'default'),
    ('N06A', 'antidepressants', 'default');
SELECT pg_catalog.pg_extension_config_dump('careflags.downton_atc', $$WHERE origin OPERATOR(pg_catalog.=) 'site'$$);
GRANT SELECT ON careflags.downton_atc TO PUBLIC;
GRANT INSERT, UPDATE, DELETE ON careflags.downton_atc TO careflags_admin;

CREATE FUNCTION careflags.downton_medicines(atc text[])
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
          FROM careflags.downton_atc d
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
COMMENT ON FUNCTION careflags.downton_medicines(text[]) IS
    'the five Downton medicine items (tranquillisers_sedatives, diuretics, antihypertensives, antiparkinsonian, antidepressants) as a jsonb object of booleans, derived from ATC codes through careflags.downton_atc; merge it into Downton items with ||';

CREATE FUNCTION careflags.downton(known_previous_falls boolean, visual_impairment boolean,
                                    hearing_impairment boolean, impaired_limb_function boolean,
                                    mental_state text, gait text,
                                    tranquillisers_sedatives boolean DEFAULT NULL,
                                    diuretics boolean DEFAULT NULL,
                                    antihypertensives boolean DEFAULT NULL,
                                    antiparkinsonian boolean DEFAULT NULL,
                                    antidepressants boolean DEFAULT NULL,
                                    atc text[] DEFAULT NULL)
    RETURNS careflags.score_result
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
        items := items OPERATOR(pg_catalog.||) careflags.downton_medicines(atc);
    ELSE
        items := items OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(
            'tranquillisers_sedatives', tranquillisers_sedatives, 'diuretics', diuretics,
            'antihypertensives', antihypertensives, 'antiparkinsonian', antiparkinsonian,
            'antidepressants', antidepressants);
    END IF;
    RETURN careflags.score('downton'::careflags.instrument, items, 25, 45);
END
$$;
COMMENT ON FUNCTION careflags.downton(boolean, boolean, boolean, boolean, text, text, boolean, boolean, boolean, boolean, boolean, text[]) IS
    'Downton Fall Risk Index (0-11, one point each): known_previous_falls; medicines tranquillisers_sedatives, diuretics, antihypertensives, antiparkinsonian, antidepressants - given as booleans or derived from atc (text[] of ATC codes of medicines in use) through careflags.downton_atc; visual_impairment, hearing_impairment, impaired_limb_function; mental_state "oriented" | "confused"; gait "normal" | "safe_with_aids" | "unsafe" | "unable"; high risk at >= 3';

GRANT EXECUTE ON FUNCTION
    careflags.score(careflags.instrument, jsonb),
    careflags.score(careflags.instrument, jsonb, integer, integer),
    careflags.score_total(careflags.instrument, numeric),
    careflags.score_total(careflags.instrument, numeric, integer, integer),
    careflags.mst(text, boolean),
    careflags.mna_sf(text, text, text, boolean, text, numeric, numeric),
    careflags.must(numeric, numeric, boolean),
    careflags.nrs_2002(integer, integer, integer, boolean, boolean, boolean, boolean),
    careflags.morse(boolean, boolean, text, boolean, text, text, integer, integer),
    careflags.stratify(boolean, boolean, boolean, boolean, boolean),
    careflags.hendrich_ii(boolean, boolean, boolean, boolean, boolean, boolean, boolean, text),
    careflags.downton_medicines(text[]),
    careflags.downton(boolean, boolean, boolean, boolean, text, text, boolean, boolean, boolean, boolean, boolean, text[])
    TO PUBLIC;

-- Measures.

CREATE FUNCTION careflags.bmi(weight_kg numeric, height_cm numeric)
    RETURNS numeric
    LANGUAGE c STRICT IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'careflags_bmi';
COMMENT ON FUNCTION careflags.bmi(numeric, numeric) IS
    'body-mass index in kg/m², rounded to one decimal; raises 22023 unless 0 < weight_kg <= 500 and 30 <= height_cm <= 300';
GRANT EXECUTE ON FUNCTION careflags.bmi(numeric, numeric) TO PUBLIC;

CREATE FUNCTION careflags.weight_change_percent(patient_id bigint, within interval,
                                                  at timestamptz DEFAULT careflags.clock())
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
      FROM careflags.measurement m
     WHERE m.patient_id OPERATOR(pg_catalog.=) weight_change_percent.patient_id
       AND m.kind OPERATOR(pg_catalog.=) 'weight'
       AND m.measured_at OPERATOR(pg_catalog.<=) weight_change_percent.at
     ORDER BY m.measured_at DESC, m.measurement_id DESC
     LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT m.measurement_id, m.value INTO first_id, first_value
      FROM careflags.measurement m
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
COMMENT ON FUNCTION careflags.weight_change_percent(bigint, interval, timestamptz) IS
    'percent change from the earliest weight within [latest - within, latest] to the latest weight at or before at (negative = loss), unrounded so thresholds compare exactly; NULL with fewer than two weights in that span';
REVOKE EXECUTE ON FUNCTION careflags.weight_change_percent(bigint, interval, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION careflags.weight_change_percent(bigint, interval, timestamptz)
    TO careflags_nurse, careflags_admin;

-- careflags.frid_atc is created by a later part (30_rules.sql); PL/pgSQL
-- resolves the table when the function first runs.
CREATE FUNCTION careflags.frid_class(atc text)
    RETURNS text
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    RETURN (SELECT f.description
              FROM careflags.frid_atc f
             WHERE pg_catalog.starts_with(frid_class.atc, f.atc_prefix)
             ORDER BY pg_catalog.length(f.atc_prefix) DESC
             LIMIT 1);
END
$$;
COMMENT ON FUNCTION careflags.frid_class(text) IS
    'the description of the longest ATC prefix in careflags.frid_atc that the code starts with; NULL when it is not a fall-risk-increasing drug';
REVOKE EXECUTE ON FUNCTION careflags.frid_class(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION careflags.frid_class(text) TO careflags_nurse, careflags_quality, careflags_admin;

CREATE FUNCTION careflags.active_regular_medicines(patient_id bigint,
                                                     at timestamptz DEFAULT careflags.clock())
    RETURNS integer
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
SELECT pg_catalog.count(DISTINCT CASE
           WHEN m.atc IS NOT NULL THEN 'atc:' OPERATOR(pg_catalog.||) m.atc
           WHEN m.code IS NOT NULL THEN 'code:' OPERATOR(pg_catalog.||) m.code
           ELSE 'row:' OPERATOR(pg_catalog.||) m.medication_id::text
       END)::integer
  FROM careflags.medication m
 WHERE m.patient_id OPERATOR(pg_catalog.=) active_regular_medicines.patient_id
   AND NOT m.as_needed
   AND m.started_at OPERATOR(pg_catalog.<=) active_regular_medicines.at
   AND (m.stopped_at IS NULL OR m.stopped_at OPERATOR(pg_catalog.>=) active_regular_medicines.at)
   AND m.status OPERATOR(pg_catalog.<>) 'entered_in_error'
   AND (m.stopped_at IS NOT NULL
        OR m.status OPERATOR(pg_catalog.<>) ALL (ARRAY['stopped', 'completed', 'cancelled']::careflags.medication_status[]))
$$;
COMMENT ON FUNCTION careflags.active_regular_medicines(bigint, timestamptz) IS
    'number of distinct active regular (not as-needed) medicines at a time (clinical-rules.md §7.6): started at or before it and not stopped before it; never when entered_in_error; without a stop time, not when the status is stopped, completed or cancelled (with one, the stop time decides, so past dates count it); distinct by ATC code, else by source code, else each row counts once';
REVOKE EXECUTE ON FUNCTION careflags.active_regular_medicines(bigint, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION careflags.active_regular_medicines(bigint, timestamptz)
    TO careflags_nurse, careflags_admin;

-- ==== sql/parts/30_rules.sql ====
-- sql/parts/30_rules.sql - rules are data.
--
-- One row per rule, with the Norwegian defaults of clinical-rules.md §2-4.
-- The evaluator (C) reads the enabled rules; which logic a rule follows is
-- given by (domain, anchor), its numbers by the other columns.  No SQL text is
-- stored anywhere.  Sites change rules with plain UPDATE (or add their own
-- with INSERT); each change is also kept in careflags.rule_site_change, which
-- pg_dump saves and which re-applies itself on restore and survives upgrades.

CREATE TYPE careflags.rule_anchor AS ENUM (
    'episode_start',    -- first due after the start of the current episode
    'last_event',       -- repeat: interval after the last qualifying event
    'risk_result',      -- a positive screening / high fall-risk score needs a plan
    'plan_evaluation',  -- an active plan needs evaluation at an interval
    'weight_series',    -- weight loss or low BMI in the measurement series
    'medicine_count',   -- number of active regular medicines reaches a threshold
    'fall'              -- a recorded fall (or high fall risk) asks for action
);
COMMENT ON TYPE careflags.rule_anchor IS 'the event a rule counts its due time from';

CREATE TABLE careflags.rule (
    rule_id         text PRIMARY KEY CHECK (rule_id OPERATOR(pg_catalog.~) '^[a-z_]+(\.[a-z_0-9]+)+$'),
    domain          careflags.domain NOT NULL,
    anchor          careflags.rule_anchor NOT NULL,
    title           text NOT NULL,
    settings        careflags.care_setting[] NOT NULL,
    min_age         integer NOT NULL DEFAULT 18 CHECK (min_age OPERATOR(pg_catalog.>=) 0 AND min_age OPERATOR(pg_catalog.<=) 130),
    due_interval    interval NOT NULL,
    due_soon_window interval NOT NULL DEFAULT '7 days',
    follow_up       interval NOT NULL DEFAULT '7 days',
    threshold       integer CHECK (threshold OPERATOR(pg_catalog.>) 0),
    severity        integer NOT NULL DEFAULT 2 CHECK (severity OPERATOR(pg_catalog.>=) 1 AND severity OPERATOR(pg_catalog.<=) 3),
    max_snooze      interval NOT NULL DEFAULT '7 days',
    enabled         boolean NOT NULL DEFAULT true,
    origin          text NOT NULL DEFAULT 'site' CHECK (origin OPERATOR(pg_catalog.=) ANY (ARRAY['default', 'site'])),
    description     text,
    CONSTRAINT rule_intervals_positive CHECK (
        due_interval OPERATOR(pg_catalog.>=) interval '0' AND due_soon_window OPERATOR(pg_catalog.>=) interval '0'
        AND follow_up OPERATOR(pg_catalog.>=) interval '0' AND max_snooze OPERATOR(pg_catalog.>=) interval '0'),
    CONSTRAINT rule_settings_not_empty CHECK (pg_catalog.cardinality(settings) OPERATOR(pg_catalog.>) 0)
);
COMMENT ON TABLE careflags.rule IS
    'the rules careflags evaluates: population (settings, min_age), anchor event, due_interval (first due or repeat), due_soon_window, follow_up (deadline after due_from for event rules), threshold, severity (1 highest), max_snooze; edit with UPDATE';
COMMENT ON COLUMN careflags.rule.due_interval IS
    'episode_start: deadline after the start; last_event/plan_evaluation: repeat interval; medicine_count: time since the last review that still counts; others: unused';
COMMENT ON COLUMN careflags.rule.threshold IS
    'medicine_count: number of active regular medicines that raises the flag';

INSERT INTO careflags.rule
    (rule_id, domain, anchor, title, settings, due_interval, due_soon_window, follow_up, threshold, severity, max_snooze, enabled, origin, description)
VALUES
 ('nutrition.screening.admission_short_term', 'nutrition', 'episode_start', 'Nutrition screening at admission',
  '{nursing_home_short_term}', '1 day', '7 days', '1 day', NULL, 1, '1 day', true, 'default',
  'Short-term stay: screen for malnutrition risk within 1 day of admission.'),
 ('nutrition.screening.admission_long_term', 'nutrition', 'episode_start', 'Nutrition screening at admission',
  '{nursing_home_long_term}', '7 days', '7 days', '7 days', NULL, 1, '3 days', true, 'default',
  'Long-term stay: screen for malnutrition risk within 1 week of admission.'),
 ('nutrition.screening.start_of_home_care', 'nutrition', 'episode_start', 'Nutrition screening at start of home care',
  '{home_nursing,home_services}', '14 days', '7 days', '14 days', NULL, 1, '7 days', true, 'default',
  'Health services at home: screen for malnutrition risk within 2 weeks of the start.'),
 ('nutrition.screening.repeat', 'nutrition', 'last_event', 'Repeat nutrition screening',
  '{nursing_home_long_term,nursing_home_short_term,home_nursing}', '1 month', '7 days', '7 days', NULL, 2, '7 days', true, 'default',
  'Not at risk at the last screening: screen again monthly (nursing homes, home nursing).'),
 ('nutrition.screening.repeat_home_services', 'nutrition', 'last_event', 'Repeat nutrition screening',
  '{home_services}', '6 months', '7 days', '7 days', NULL, 3, '14 days', true, 'default',
  'Not at risk at the last screening: screen again every 6 months (other home services).'),
 ('nutrition.plan.missing', 'nutrition', 'risk_result', 'Nutrition plan missing',
  '{nursing_home_long_term,nursing_home_short_term,home_nursing,home_services}', '0', '0', '7 days', NULL, 1, '3 days', true, 'default',
  'Screened at risk of malnutrition: make an individual nutrition plan within 7 days (local default).'),
 ('nutrition.plan.evaluation', 'nutrition', 'plan_evaluation', 'Evaluate nutrition plan',
  '{nursing_home_long_term,home_nursing}', '1 month', '7 days', '7 days', NULL, 2, '7 days', true, 'default',
  'Evaluate the nutrition plan at least monthly (long-term stay, home nursing).'),
 ('nutrition.plan.evaluation_short_term', 'nutrition', 'plan_evaluation', 'Evaluate nutrition plan',
  '{nursing_home_short_term}', '7 days', '2 days', '1 day', NULL, 2, '2 days', true, 'default',
  'Evaluate the nutrition plan at least weekly (short-term stay).'),
 ('nutrition.plan.evaluation_home_services', 'nutrition', 'plan_evaluation', 'Evaluate nutrition plan',
  '{home_services}', '6 months', '7 days', '7 days', NULL, 3, '14 days', true, 'default',
  'Evaluate the nutrition plan at least every 6 months (other home services).'),
 ('nutrition.weight_loss', 'nutrition', 'weight_series', 'Weight loss or low BMI',
  '{nursing_home_long_term,nursing_home_short_term,home_nursing,home_services}', '0', '0', '7 days', NULL, 1, '3 days', true, 'default',
  'The weight series meets a criterion of moderate or severe malnutrition (loss or low BMI).'),
 ('medication_review.admission', 'medication_review', 'episode_start', 'Medication review at admission',
  '{nursing_home_long_term}', '7 days', '7 days', '7 days', NULL, 1, '3 days', true, 'default',
  'Long-term stay: review medicines at admission (within 7 days, local default).'),
 ('medication_review.annual', 'medication_review', 'last_event', 'Yearly medication review',
  '{nursing_home_long_term}', '12 months', '30 days', '7 days', NULL, 2, '14 days', true, 'default',
  'Long-term stay: review medicines at least once a year.'),
 ('medication_review.polypharmacy', 'medication_review', 'medicine_count', 'Medication review (4 or more medicines)',
  '{home_nursing,home_services,gp}', '12 months', '30 days', '7 days', 4, 2, '14 days', true, 'default',
  '4 or more active regular medicines and no review in 12 months.'),
 ('medication_review.fall_risk_drugs', 'medication_review', 'fall', 'Medication review: fall-risk-increasing drugs',
  '{nursing_home_long_term,nursing_home_short_term,home_nursing,home_services,gp}', '0', '0', '7 days', NULL, 1, '3 days', true, 'default',
  'High fall risk or a fall in 12 months, a fall-risk-increasing drug in use, and no review since.'),
 ('medication_review.excessive_polypharmacy', 'medication_review', 'medicine_count', 'Medication review (10 or more medicines)',
  '{nursing_home_long_term,nursing_home_short_term,home_nursing,home_services,gp}', '0', '7 days', '7 days', 10, 1, '7 days', true, 'default',
  '10 or more active regular medicines (threshold configurable).'),
 ('fall_risk.assessment.admission', 'fall_risk', 'episode_start', 'Fall-risk assessment at admission',
  '{nursing_home_long_term,nursing_home_short_term,home_nursing}', '7 days', '7 days', '7 days', NULL, 1, '3 days', true, 'default',
  'Assess fall risk within 7 days of the start (local default).'),
 ('fall_risk.assessment.repeat', 'fall_risk', 'last_event', 'Repeat fall-risk assessment',
  '{nursing_home_long_term,nursing_home_short_term,home_nursing}', '6 months', '14 days', '7 days', NULL, 2, '14 days', true, 'default',
  'Assess fall risk again at least every 6 months (local default).'),
 ('fall_risk.assessment.after_fall', 'fall_risk', 'fall', 'Fall-risk assessment after a fall',
  '{nursing_home_long_term,nursing_home_short_term,home_nursing,home_services,gp}', '0', '0', '7 days', NULL, 1, '2 days', true, 'default',
  'A fall was recorded after the last fall-risk assessment.'),
 ('fall_risk.high.no_plan', 'fall_risk', 'risk_result', 'Fall-prevention plan missing',
  '{nursing_home_long_term,nursing_home_short_term,home_nursing,home_services,gp}', '0', '0', '7 days', NULL, 1, '3 days', true, 'default',
  'High fall-risk score: make a fall-prevention plan within 7 days.');

-- Site changes to rules: kept apart from the defaults so that pg_dump can
-- save them (the defaults come back with CREATE EXTENSION) and upgrades can
-- change defaults without overwriting a site's choice.
CREATE TABLE careflags.rule_site_change (
    rule_id     text PRIMARY KEY,
    rule        jsonb NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    changed_by  name NOT NULL DEFAULT CURRENT_USER
);
COMMENT ON TABLE careflags.rule_site_change IS
    'the site''s edits of careflags.rule (whole rows); saved by pg_dump, re-applied to careflags.rule on restore';
SELECT pg_catalog.pg_extension_config_dump('careflags.rule_site_change', '');

CREATE FUNCTION careflags.rule_remember_change() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    -- a change applied from careflags.rule_site_change (restore) is already there
    IF pg_catalog.pg_trigger_depth() OPERATOR(pg_catalog.>) 1 THEN
        RETURN NULL;
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
        IF OLD.origin OPERATOR(pg_catalog.=) 'default' THEN
            RAISE EXCEPTION 'default rule "%" cannot be deleted', OLD.rule_id
                USING ERRCODE = 'feature_not_supported',
                      HINT = 'Disable it instead: UPDATE careflags.rule SET enabled = false WHERE rule_id = ...';
        END IF;
        DELETE FROM careflags.rule_site_change WHERE rule_id OPERATOR(pg_catalog.=) OLD.rule_id;
        RETURN NULL;
    END IF;
    INSERT INTO careflags.rule_site_change (rule_id, rule)
        VALUES (NEW.rule_id, pg_catalog.to_jsonb(NEW))
        ON CONFLICT (rule_id) DO UPDATE
            SET rule = EXCLUDED.rule, changed_at = pg_catalog.now(), changed_by = CURRENT_USER;
    RETURN NULL;
END
$$;

CREATE FUNCTION careflags.rule_apply_change() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    -- only when loaded on its own (pg_restore), not when remembering an edit
    IF pg_catalog.pg_trigger_depth() OPERATOR(pg_catalog.>) 1 THEN
        RETURN NULL;
    END IF;
    INSERT INTO careflags.rule
        SELECT * FROM pg_catalog.jsonb_populate_record(NULL::careflags.rule, NEW.rule)
        ON CONFLICT (rule_id) DO UPDATE SET
            domain = EXCLUDED.domain, anchor = EXCLUDED.anchor, title = EXCLUDED.title,
            settings = EXCLUDED.settings, min_age = EXCLUDED.min_age,
            due_interval = EXCLUDED.due_interval, due_soon_window = EXCLUDED.due_soon_window,
            follow_up = EXCLUDED.follow_up, threshold = EXCLUDED.threshold,
            severity = EXCLUDED.severity, max_snooze = EXCLUDED.max_snooze,
            enabled = EXCLUDED.enabled, description = EXCLUDED.description;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION careflags.rule_remember_change() IS
    'AFTER trigger on careflags.rule: keeps each site edit of a rule (whole row) in careflags.rule_site_change; refuses to delete a default rule';
COMMENT ON FUNCTION careflags.rule_apply_change() IS
    'AFTER INSERT trigger on careflags.rule_site_change: re-applies a saved site edit to careflags.rule (pg_restore)';

CREATE TRIGGER remember_site_change AFTER INSERT OR UPDATE OR DELETE ON careflags.rule
    FOR EACH ROW EXECUTE FUNCTION careflags.rule_remember_change();
-- Fires when pg_restore loads the saved changes (and only then in practice).
CREATE TRIGGER apply_site_change AFTER INSERT ON careflags.rule_site_change
    FOR EACH ROW EXECUTE FUNCTION careflags.rule_apply_change();

-- Fall-risk-increasing drugs by ATC prefix (clinical-rules.md §3; which exact
-- classes STOPPFall names is unverified, so this is a table a site edits).
CREATE TABLE careflags.frid_atc (
    atc_prefix  text PRIMARY KEY CHECK (atc_prefix OPERATOR(pg_catalog.~) '^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$'),
    description text NOT NULL,
    origin      text NOT NULL DEFAULT 'site'
);
COMMENT ON TABLE careflags.frid_atc IS 'fall-risk-increasing drugs: an active medicine whose ATC starts with a prefix here is a FRID';
INSERT INTO careflags.frid_atc (atc_prefix, description, origin) VALUES
    ('N05A', 'antipsychotics', 'default'),
    ('N05BA', 'benzodiazepine anxiolytics', 'default'),
    ('N05CD', 'benzodiazepine hypnotics', 'default'),
    ('N05CF', 'z-drugs', 'default'),
    ('N06A', 'antidepressants', 'default'),
    ('N03A', 'antiepileptics', 'default'),
    ('N02A', 'opioids', 'default'),
    ('C03', 'diuretics', 'default'),
    ('C02A', 'centrally acting antiadrenergic agents', 'default'),
    ('C02CA', 'alpha-adrenoreceptor antagonists (antihypertensive)', 'default'),
    ('G04CA', 'alpha-adrenoreceptor antagonists (prostate)', 'default'),
    ('C01D', 'vasodilators used in cardiac diseases', 'default'),
    ('R06A', 'antihistamines for systemic use', 'default'),
    ('G04BD', 'urinary antispasmodics', 'default');
SELECT pg_catalog.pg_extension_config_dump('careflags.frid_atc', $$WHERE origin OPERATOR(pg_catalog.=) 'site'$$);

GRANT SELECT ON careflags.rule, careflags.frid_atc TO careflags_nurse, careflags_quality, careflags_admin;
GRANT INSERT, UPDATE, DELETE ON careflags.rule, careflags.frid_atc TO careflags_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON careflags.rule_site_change TO careflags_admin;

-- ==== sql/parts/40_flags.sql ====
-- sql/parts/40_flags.sql - flags: what the evaluator keeps true.
--
-- One open flag per (patient, rule).  A flag is never deleted: when its
-- condition clears it is resolved (resolved_at, resolution).  The stored flag
-- carries due_from and due_at; its state (upcoming, due_soon, due, overdue)
-- is derived when read, from careflags.clock(), so nothing goes stale when no
-- one writes.

CREATE TABLE careflags.flag (
    patient_id      bigint NOT NULL REFERENCES careflags.patient ON DELETE CASCADE,
    flag_id         bigint GENERATED BY DEFAULT AS IDENTITY,
    rule_id         text NOT NULL REFERENCES careflags.rule ON UPDATE CASCADE,
    domain          careflags.domain NOT NULL,
    episode_id      bigint,
    unit_id         text,
    setting         careflags.care_setting,
    severity        integer NOT NULL,
    raised_at       timestamptz NOT NULL,
    due_from        timestamptz NOT NULL,
    due_at          timestamptz NOT NULL,
    due_soon_window interval NOT NULL,
    reason          text NOT NULL,
    details         jsonb,
    resolved_at     timestamptz,
    resolution      text,
    action_at       timestamptz,
    acknowledged_at timestamptz,
    acknowledged_by name,
    snoozed_until   timestamptz,
    notified_state  text NOT NULL DEFAULT 'raised',
    PRIMARY KEY (patient_id, flag_id),
    CONSTRAINT flag_due_order CHECK (due_at OPERATOR(pg_catalog.>=) due_from),
    CONSTRAINT flag_resolution CHECK ((resolved_at IS NULL) OPERATOR(pg_catalog.=) (resolution IS NULL))
);
COMMENT ON TABLE careflags.flag IS
    'flags raised by the rules: open while resolved_at is NULL; due_from/due_at give the read-time state';
COMMENT ON COLUMN careflags.flag.resolution IS
    'why the flag closed: done (the action was recorded), cleared, episode_ended, deceased, exempt, rule_disabled';
COMMENT ON COLUMN careflags.flag.action_at IS
    'for resolution done: when the action was done (the fact''s own time; resolved_at is when careflags learned of it, which may be later for imported history)';
CREATE UNIQUE INDEX flag_one_open ON careflags.flag (patient_id, rule_id) WHERE resolved_at IS NULL;
CREATE INDEX flag_open_unit ON careflags.flag (unit_id, severity, due_at) WHERE resolved_at IS NULL;
CREATE INDEX flag_resolved ON careflags.flag (resolved_at) WHERE resolved_at IS NOT NULL;
SELECT pg_catalog.pg_extension_config_dump('careflags.flag', '');
SELECT pg_catalog.pg_extension_config_dump('careflags.flag_flag_id_seq', '');
COMMENT ON SEQUENCE careflags.flag_flag_id_seq IS 'ids of careflags.flag (saved by pg_dump)';

-- The state a nurse sees, at a given time (clinical-rules.md §7.2).
CREATE FUNCTION careflags.flag_state(due_from timestamptz, due_at timestamptz,
                                       due_soon_window interval, at timestamptz)
    RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN CASE
        WHEN at OPERATOR(pg_catalog.>=) due_at THEN 'overdue'
        WHEN at OPERATOR(pg_catalog.>=) due_from THEN 'due'
        WHEN at OPERATOR(pg_catalog.>=) (due_from OPERATOR(pg_catalog.-) due_soon_window) THEN 'due_soon'
        ELSE 'upcoming'
    END;
COMMENT ON FUNCTION careflags.flag_state(timestamptz, timestamptz, interval, timestamptz) IS
    'upcoming before due_from - window, due_soon within the window, due from due_from, overdue from due_at';

-- pg_restore loads the facts before the flags, and the evaluation triggers
-- raise flags as the facts arrive.  When the saved flags then come in, the
-- saved row wins: the freshly raised duplicate (same id, or the same open
-- patient/rule) is removed.  Inserts by careflags' own evaluation skip the
-- check (they never conflict: an open flag is resolved before its successor
-- is inserted).
CREATE FUNCTION careflags.flag_restored_row_wins() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_flag_restored_row_wins';
COMMENT ON FUNCTION careflags.flag_restored_row_wins() IS
    'BEFORE INSERT on careflags.flag: during pg_restore, a saved flag replaces the one just raised for the same patient and rule';
CREATE TRIGGER a_restored_row_wins BEFORE INSERT ON careflags.flag
    FOR EACH ROW EXECUTE FUNCTION careflags.flag_restored_row_wins();

-- ==== sql/parts/45_evaluation.sql ====
-- sql/parts/45_evaluation.sql - the evaluator's entry points and triggers.

CREATE TABLE careflags.patient_state (
    patient_id      bigint PRIMARY KEY REFERENCES careflags.patient ON DELETE CASCADE,
    evaluated_at    timestamptz NOT NULL,
    next_check_at   timestamptz
);
COMMENT ON TABLE careflags.patient_state IS
    'when each patient was last evaluated, and the next time its flags can change without a write (a birthday, an exemption ending, a future-dated fact); the background worker re-evaluates patients whose next_check_at has passed';
SELECT pg_catalog.pg_extension_config_dump('careflags.patient_state', '');
CREATE INDEX patient_state_next_check ON careflags.patient_state (next_check_at) WHERE next_check_at IS NOT NULL;
CREATE INDEX flag_to_notify ON careflags.flag (due_from)
    WHERE resolved_at IS NULL AND notified_state OPERATOR(pg_catalog.<>) 'overdue';

CREATE FUNCTION careflags.facts_changed() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_facts_changed';
COMMENT ON FUNCTION careflags.facts_changed() IS
    'AFTER ... FOR EACH STATEMENT trigger with transition tables: re-evaluates each patient the statement touched, once';

CREATE FUNCTION careflags.fact_changed_row() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_fact_changed_row';
COMMENT ON FUNCTION careflags.fact_changed_row() IS
    'AFTER ... FOR EACH ROW trigger: re-evaluates the row''s patient (for setups without statement triggers, e.g. Citus)';

-- Which triggers keep flags true: statement-level (default) or row-level.
CREATE FUNCTION careflags.set_trigger_mode(mode text) RETURNS text
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t text;
BEGIN
    IF mode IS NULL OR mode NOT IN ('statement', 'row') THEN
        RAISE EXCEPTION 'trigger mode must be ''statement'' or ''row'', not %', pg_catalog.quote_nullable(mode)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH t IN ARRAY ARRAY['patient', 'episode', 'assessment', 'measurement', 'medication',
                             'medication_review', 'care_plan', 'fall', 'exemption']
    LOOP
        EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS z_evaluate_insert ON careflags.%I', t);
        EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS z_evaluate_update ON careflags.%I', t);
        EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS z_evaluate_delete ON careflags.%I', t);
        EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS z_evaluate_row ON careflags.%I', t);
        IF mode = 'statement' THEN
            EXECUTE pg_catalog.format(
                'CREATE TRIGGER z_evaluate_insert AFTER INSERT ON careflags.%I
                     REFERENCING NEW TABLE AS new_rows
                     FOR EACH STATEMENT EXECUTE FUNCTION careflags.facts_changed()', t);
            EXECUTE pg_catalog.format(
                'CREATE TRIGGER z_evaluate_update AFTER UPDATE ON careflags.%I
                     REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                     FOR EACH STATEMENT EXECUTE FUNCTION careflags.facts_changed()', t);
            EXECUTE pg_catalog.format(
                'CREATE TRIGGER z_evaluate_delete AFTER DELETE ON careflags.%I
                     REFERENCING OLD TABLE AS old_rows
                     FOR EACH STATEMENT EXECUTE FUNCTION careflags.facts_changed()', t);
        ELSE
            EXECUTE pg_catalog.format(
                'CREATE TRIGGER z_evaluate_row AFTER INSERT OR UPDATE OR DELETE ON careflags.%I
                     FOR EACH ROW EXECUTE FUNCTION careflags.fact_changed_row()', t);
        END IF;
    END LOOP;
    RETURN mode;
END
$$;
COMMENT ON FUNCTION careflags.set_trigger_mode(text) IS
    'statement (default): one evaluation per patient per statement, via transition tables; row: one per row (Citus distributed tables refuse transition tables)';
SELECT careflags.set_trigger_mode('statement');

-- Deferred evaluation (SET careflags.defer_evaluation = on): the first
-- deferral of a transaction inserts a marker row here; its deferred
-- constraint trigger evaluates the transaction's patients at commit and
-- removes it.  The table is empty outside a running transaction.
CREATE TABLE careflags.deferred_evaluation (
    queued_at   timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
COMMENT ON TABLE careflags.deferred_evaluation IS
    'marker rows of transactions whose evaluation was deferred to commit (careflags.defer_evaluation); always empty when no such transaction runs';
CREATE FUNCTION careflags.evaluate_at_commit() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_evaluate_at_commit';
COMMENT ON FUNCTION careflags.evaluate_at_commit() IS
    'deferred constraint trigger: evaluates the patients a transaction deferred, at its commit';
CREATE CONSTRAINT TRIGGER evaluate_at_commit AFTER INSERT ON careflags.deferred_evaluation
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION careflags.evaluate_at_commit();

CREATE FUNCTION careflags.evaluate_deferred() RETURNS integer
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_evaluate_deferred';
COMMENT ON FUNCTION careflags.evaluate_deferred() IS
    'evaluates now the patients whose evaluation this transaction deferred (careflags.defer_evaluation); returns how many';

-- The evaluator keeps the rules in memory; a change to them tells every
-- backend to read them again.
CREATE FUNCTION careflags.rules_changed() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_rules_changed';
COMMENT ON FUNCTION careflags.rules_changed() IS
    'statement trigger on careflags.rule and careflags.frid_atc: makes every backend read the rules again';
CREATE TRIGGER rules_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON careflags.rule
    FOR EACH STATEMENT EXECUTE FUNCTION careflags.rules_changed();
CREATE TRIGGER rules_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON careflags.frid_atc
    FOR EACH STATEMENT EXECUTE FUNCTION careflags.rules_changed();
REVOKE ALL ON FUNCTION careflags.rules_changed() FROM PUBLIC;

CREATE FUNCTION careflags.recompute_patient(patient_id bigint) RETURNS bigint
    LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'careflags_recompute_patient';
COMMENT ON FUNCTION careflags.recompute_patient(bigint) IS 're-evaluates one patient; returns the number of flag changes';

CREATE FUNCTION careflags.recompute_all() RETURNS bigint
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_recompute_all';
COMMENT ON FUNCTION careflags.recompute_all() IS
    'rebuilds every patient''s flags (progress as NOTICEs); returns the number of flag changes';

CREATE FUNCTION careflags.check_consistency()
    RETURNS TABLE (patient_id bigint, rule_id text, difference text)
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_check_consistency';
COMMENT ON FUNCTION careflags.check_consistency() IS
    'every difference between the stored open flags and a fresh evaluation; empty when flags are true';

CREATE FUNCTION careflags.tick(OUT patients_reevaluated integer, OUT flags_notified bigint)
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_tick';
COMMENT ON FUNCTION careflags.tick() IS
    'one pass of the background worker: re-evaluates patients whose next_check_at passed, notifies flags that became due or overdue';

REVOKE ALL ON FUNCTION careflags.evaluate_at_commit() FROM PUBLIC;
REVOKE ALL ON FUNCTION careflags.facts_changed(), careflags.fact_changed_row(), careflags.fact_guard(),
    careflags.set_trigger_mode(text), careflags.recompute_patient(bigint), careflags.recompute_all(),
    careflags.check_consistency(), careflags.tick() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION careflags.recompute_patient(bigint), careflags.recompute_all(),
    careflags.check_consistency(), careflags.tick() TO careflags_admin;

-- ==== sql/parts/50_worklist.sql ====
-- sql/parts/50_worklist.sql - what a nurse sees and does; roles, row-level
-- security, and the tamper-evident audit of flag actions.

-- The units the current role may see: those mapped in unit_access to a role
-- it is a member of.
CREATE FUNCTION careflags.my_units() RETURNS text[]
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN (SELECT COALESCE(pg_catalog.array_agg(ua.unit_id), '{}'::text[])
              FROM careflags.unit_access ua
             WHERE ua.role_name OPERATOR(pg_catalog.=) ANY (
                   SELECT r.rolname FROM pg_catalog.pg_roles r
                    WHERE pg_catalog.pg_has_role(CURRENT_USER, r.oid, 'MEMBER')));
COMMENT ON FUNCTION careflags.my_units() IS 'units whose flags the current role may see and act on (careflags.unit_access)';

CREATE VIEW careflags.worklist WITH (security_invoker = true) AS
SELECT f.flag_id,
       f.patient_id,
       p.display_name AS patient,
       f.unit_id,
       u.name AS unit,
       f.rule_id,
       r.title,
       f.severity,
       careflags.flag_state(f.due_from, f.due_at, f.due_soon_window, careflags.clock()) AS state,
       f.due_from,
       f.due_at,
       f.reason,
       f.acknowledged_at,
       f.acknowledged_by
  FROM careflags.flag f
  JOIN careflags.patient p ON p.patient_id OPERATOR(pg_catalog.=) f.patient_id
  JOIN careflags.rule r ON r.rule_id OPERATOR(pg_catalog.=) f.rule_id
  LEFT JOIN careflags.unit u ON u.unit_id OPERATOR(pg_catalog.=) f.unit_id
 WHERE f.resolved_at IS NULL
   AND (f.snoozed_until IS NULL OR f.snoozed_until OPERATOR(pg_catalog.<=) careflags.clock())
   AND careflags.clock() OPERATOR(pg_catalog.>=) (f.due_from OPERATOR(pg_catalog.-) f.due_soon_window)
 ORDER BY f.severity, f.due_at, f.flag_id;
COMMENT ON VIEW careflags.worklist IS
    'open flags a nurse should act on now (due soon, due, overdue; not snoozed), for the caller''s units, by severity then due time; state is computed at read time';

-- ---- row-level security ----
-- (SELECT my_units()) is evaluated once per query, as an InitPlan, not per row.
ALTER TABLE careflags.flag ENABLE ROW LEVEL SECURITY;
CREATE POLICY nurse_units ON careflags.flag FOR SELECT TO careflags_nurse
    USING (unit_id OPERATOR(pg_catalog.=) ANY ((SELECT careflags.my_units())::text[]));
CREATE POLICY admin_all ON careflags.flag FOR SELECT TO careflags_admin USING (true);

ALTER TABLE careflags.episode ENABLE ROW LEVEL SECURITY;
CREATE POLICY nurse_units ON careflags.episode FOR SELECT TO careflags_nurse
    USING (unit_id OPERATOR(pg_catalog.=) ANY ((SELECT careflags.my_units())::text[]));
CREATE POLICY admin_all ON careflags.episode FOR SELECT TO careflags_admin USING (true);

ALTER TABLE careflags.patient ENABLE ROW LEVEL SECURITY;
CREATE POLICY nurse_units ON careflags.patient FOR SELECT TO careflags_nurse
    USING (EXISTS (SELECT FROM careflags.episode e
                    WHERE e.patient_id OPERATOR(pg_catalog.=) patient.patient_id
                      AND e.unit_id OPERATOR(pg_catalog.=) ANY ((SELECT careflags.my_units())::text[])));

GRANT SELECT ON careflags.worklist, careflags.flag, careflags.patient, careflags.episode,
    careflags.unit, careflags.unit_access TO careflags_nurse;
GRANT SELECT ON careflags.flag, careflags.episode, careflags.quarantine, careflags.patient_state,
    careflags.worklist TO careflags_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON careflags.unit, careflags.unit_access TO careflags_admin;
GRANT UPDATE (resolved_at) ON careflags.quarantine TO careflags_admin;
GRANT SELECT ON careflags.unit, careflags.unit_access TO careflags_quality;

-- ---- audit of flag actions: append-only, chained with SHA-256 ----
CREATE TABLE careflags.audit (
    audit_id    bigint PRIMARY KEY,
    patient_id  bigint NOT NULL,
    flag_id     bigint NOT NULL,
    action      text NOT NULL CHECK (action OPERATOR(pg_catalog.=) ANY (ARRAY['acknowledge', 'snooze', 'exempt'])),
    actor       name NOT NULL,
    acted_at    timestamptz NOT NULL,
    detail      jsonb NOT NULL,
    prev_hash   bytea,
    hash        bytea NOT NULL
);
COMMENT ON TABLE careflags.audit IS
    'who acknowledged, snoozed or exempted which flag, and when; each row''s hash is SHA-256 over the previous row''s hash and its own content, so careflags.verify_audit() finds any change, removal or reordering';
CREATE INDEX audit_flag ON careflags.audit (patient_id, flag_id);
CREATE SEQUENCE careflags.audit_id_seq OWNED BY careflags.audit.audit_id;
COMMENT ON SEQUENCE careflags.audit_id_seq IS 'audit ids, taken under the audit lock so that they follow the chain (saved by pg_dump)';

CREATE TABLE careflags.audit_head (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_id     bigint NOT NULL,
    last_hash   bytea NOT NULL,
    row_count   bigint NOT NULL
);
COMMENT ON TABLE careflags.audit_head IS 'the end of the audit chain, so that removing its last rows is noticed too';

CREATE FUNCTION careflags.audit_is_append_only() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    RAISE EXCEPTION 'careflags.audit is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
COMMENT ON FUNCTION careflags.audit_is_append_only() IS
    'BEFORE UPDATE/DELETE/TRUNCATE trigger on careflags.audit: refuses every change (the audit is append-only)';
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON careflags.audit
    FOR EACH ROW EXECUTE FUNCTION careflags.audit_is_append_only();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON careflags.audit
    FOR EACH STATEMENT EXECUTE FUNCTION careflags.audit_is_append_only();

SELECT pg_catalog.pg_extension_config_dump('careflags.audit', '');
SELECT pg_catalog.pg_extension_config_dump('careflags.audit_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('careflags.audit_head', '');
GRANT SELECT ON careflags.audit TO careflags_admin;

-- ---- actions (C: check visibility as the caller, write as the owner) ----
CREATE FUNCTION careflags.acknowledge(flag_id bigint, note text DEFAULT NULL) RETURNS bigint
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_acknowledge';
COMMENT ON FUNCTION careflags.acknowledge(bigint, text) IS
    'acknowledge a flag on one of your units; recorded in careflags.audit; returns the audit id';

CREATE FUNCTION careflags.snooze(flag_id bigint, until timestamptz, note text DEFAULT NULL) RETURNS bigint
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_snooze';
COMMENT ON FUNCTION careflags.snooze(bigint, timestamptz, text) IS
    'hide a flag from the worklist until a time, at most the rule''s max_snooze ahead; recorded in careflags.audit';

CREATE FUNCTION careflags.exempt(flag_id bigint, reason text, valid_until timestamptz DEFAULT NULL) RETURNS bigint
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_exempt';
COMMENT ON FUNCTION careflags.exempt(bigint, text, timestamptz) IS
    'mark a flag''s rule not relevant for the patient (reason, optional expiry): records an exemption, which resolves the flag; recorded in careflags.audit';

CREATE FUNCTION careflags.verify_audit(OUT intact boolean, OUT checked bigint, OUT first_broken bigint, OUT problem text)
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_verify_audit';
COMMENT ON FUNCTION careflags.verify_audit() IS
    'walks the audit chain; reports the first row whose content, link or order was changed, or a removed tail';

REVOKE ALL ON FUNCTION careflags.acknowledge(bigint, text), careflags.snooze(bigint, timestamptz, text),
    careflags.exempt(bigint, text, timestamptz), careflags.verify_audit() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION careflags.acknowledge(bigint, text), careflags.snooze(bigint, timestamptz, text),
    careflags.exempt(bigint, text, timestamptz) TO careflags_nurse, careflags_admin;
GRANT EXECUTE ON FUNCTION careflags.verify_audit() TO careflags_admin;

-- ==== sql/parts/60_reports.sql ====
-- sql/parts/60_reports.sql - national quality indicators for quality leads.
--
-- Five indicators (clinical-rules.md §5), each counted for the patients aged
-- min_age (default 67) or more at the period end who are in a setting at the
-- period end (a snapshot, §7.13), over the 12 months before it:
--
--   nutrition_screening   a nutrition screening (any nutrition instrument)
--   nutrition_plan        of those screened at risk: a nutrition plan in force
--   medication_review     a medication review (long-term residents by default)
--   fall_risk_assessment  a fall-risk assessment (any fall-risk instrument)
--   fall_risk_plan        of those scored at high fall risk: a prevention plan
--
-- Each patient of an indicator's population falls in exactly one category,
-- decided in this order (docs/reports.md has the full text):
--   not_relevant  an exemption valid at the period end covers the indicator
--   not_recorded  the data needed to judge is missing: no birth date, or (plan
--                 indicators) every screening in the period lacks a result
--   assessed      the qualifying fact is there (numerator)
--   not_assessed  the rest
-- denominator = assessed + not_assessed + not_recorded (not relevant patients
-- are left out, as in the national indicator); share = 100 * numerator /
-- denominator, one decimal.
--
-- Everything reads the fact tables through their patient-first indexes; no
-- rule is re-evaluated.  The functions a quality lead calls are SECURITY
-- DEFINER (careflags_quality cannot read careflags.patient) and return counts
-- only.  Function bodies run with search_path = pg_catalog, pg_temp, so
-- their plain operators resolve to pg_catalog's; every table and function is
-- schema-qualified.

-- The calendar of a period: its end as a date (inclusive) gives the instant
-- the period ends (midnight after it, in careflags.timezone) and the instant
-- 12 months before.
CREATE FUNCTION careflags.report_period(period_end date,
                                          OUT ends_at timestamptz, OUT starts_at timestamptz)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN ROW(
        ((period_end + 1)::timestamp) AT TIME ZONE
            COALESCE(NULLIF(pg_catalog.current_setting('careflags.timezone', true), ''), 'Europe/Oslo'),
        ((period_end + 1)::timestamp - interval '12 months') AT TIME ZONE
            COALESCE(NULLIF(pg_catalog.current_setting('careflags.timezone', true), ''), 'Europe/Oslo'));
COMMENT ON FUNCTION careflags.report_period(date) IS
    'the 12-month window of an indicator period that ends with the day period_end: [starts_at, ends_at), midnights in careflags.timezone';

-- Today in careflags.timezone: the default period end.
CREATE FUNCTION careflags.report_today() RETURNS date
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN (careflags.clock() AT TIME ZONE
            COALESCE(NULLIF(pg_catalog.current_setting('careflags.timezone', true), ''), 'Europe/Oslo'))::date;
COMMENT ON FUNCTION careflags.report_today() IS
    'the current date in careflags.timezone (from careflags.clock()): the default period end of the reports';

-- The names of the indicators, in report order, with what they count.
CREATE FUNCTION careflags.indicator_list(OUT indicator text, OUT title text, OUT scope text,
                                           OUT default_setting careflags.care_setting)
    RETURNS SETOF record
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    VALUES ('nutrition_screening', 'Nutrition screening in the last 12 months', 'nutrition.screening',
            NULL::careflags.care_setting),
           ('nutrition_plan', 'Nutrition plan among those at risk', 'nutrition.plan', NULL),
           ('medication_review', 'Medication review in the last 12 months (long-term residents)',
            'medication_review', 'nursing_home_long_term'),
           ('fall_risk_assessment', 'Fall-risk assessment in the last 12 months', 'fall_risk.assessment', NULL),
           ('fall_risk_plan', 'Fall-prevention plan among those at high fall risk', 'fall_risk.high', NULL)
    $$;
COMMENT ON FUNCTION careflags.indicator_list() IS
    'the indicators careflags reports: name, title, the exemption scope that makes a patient "not relevant", and the setting used when none is given (NULL: all settings)';

-- The population of an indicator: patients in the setting (and unit) at the
-- period end, aged min_age or more then (or of unknown age), alive.  The
-- current episode is the one covering the period end that started last
-- (§7.14); death ends every episode (§7.12).
CREATE FUNCTION careflags.indicator_population(period_end date, min_age integer,
                                                 setting careflags.care_setting, unit text, scope text)
    RETURNS TABLE (patient_id bigint, unit_id text, setting careflags.care_setting,
                   age_unknown boolean, exempt boolean)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH w AS (
        SELECT r.ends_at, ($1 - pg_catalog.make_interval(years => $2))::date AS born_by
        FROM careflags.report_period($1) r
    ), cur AS (
        SELECT DISTINCT ON (e.patient_id) e.patient_id, e.setting, e.unit_id
        FROM careflags.episode e, w
        WHERE e.started_at < w.ends_at AND (e.ended_at IS NULL OR e.ended_at >= w.ends_at)
        ORDER BY e.patient_id, e.started_at DESC, e.episode_id DESC
    )
    SELECT c.patient_id, c.unit_id, c.setting, p.birth_date IS NULL,
           EXISTS (SELECT FROM careflags.exemption x
                   WHERE x.patient_id = c.patient_id
                     AND x.valid_from < w.ends_at
                     AND (x.valid_until IS NULL OR x.valid_until >= w.ends_at)
                     AND (x.scope = '*' OR x.scope = $5 OR pg_catalog.starts_with($5, x.scope || '.')))
    FROM cur c
    JOIN careflags.patient p ON p.patient_id = c.patient_id
    CROSS JOIN w
    WHERE ($3 IS NULL OR c.setting = $3)
      AND ($4 IS NULL OR c.unit_id = $4)
      AND NOT (p.deceased AND (p.deceased_at IS NULL OR p.deceased_at < w.ends_at))
      AND (p.birth_date IS NULL OR p.birth_date <= w.born_by)
    $$;
COMMENT ON FUNCTION careflags.indicator_population(date, integer, careflags.care_setting, text, text) IS
    'internal: patients in the setting/unit at the period end, min_age or older then (or of unknown age), with whether an exemption covering scope is valid then';

-- Each patient of an indicator's population with its category.  Internal
-- (it returns patient ids): the report and extract functions aggregate it.
CREATE FUNCTION careflags.indicator_patients(p_indicator text, p_period_end date, p_min_age integer,
                                               p_setting careflags.care_setting, p_unit text)
    RETURNS TABLE (patient_id bigint, unit_id text, setting careflags.care_setting,
                   category text, at_risk boolean)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    v_scope     text;
    v_starts    timestamptz;
    v_ends      timestamptz;
    v_nutrition careflags.instrument[] := '{mst,mna_sf,must,nrs_2002,nutrition_unspecified}';
    v_fall      careflags.instrument[] := '{morse,stratify,downton,hendrich_ii,fall_risk_unspecified}';
    v_instr     careflags.instrument[];
    v_plan      careflags.plan_kind;
BEGIN
    IF $2 IS NULL THEN
        RAISE EXCEPTION 'period_end must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF $3 IS NULL OR $3 < 0 OR $3 > 130 THEN
        RAISE EXCEPTION 'min_age must be between 0 and 130, not %', COALESCE($3::text, 'null')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT l.scope INTO v_scope FROM careflags.indicator_list() l WHERE l.indicator = $1;
    IF v_scope IS NULL THEN
        RAISE EXCEPTION 'unknown indicator "%"', $1
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'One of: ' || (SELECT pg_catalog.string_agg(l.indicator, ', ') FROM careflags.indicator_list() l);
    END IF;
    SELECT r.starts_at, r.ends_at INTO v_starts, v_ends FROM careflags.report_period($2) r;

    IF $1 = 'medication_review' THEN
        RETURN QUERY
        SELECT p.patient_id, p.unit_id, p.setting,
               CASE WHEN p.exempt THEN 'not_relevant'
                    WHEN p.age_unknown THEN 'not_recorded'
                    WHEN EXISTS (SELECT FROM careflags.medication_review m
                                 WHERE m.patient_id = p.patient_id
                                   AND m.reviewed_at >= v_starts AND m.reviewed_at < v_ends)
                        THEN 'assessed'
                    ELSE 'not_assessed' END,
               NULL::boolean
        FROM careflags.indicator_population($2, $3, $4, $5, v_scope) p;
        RETURN;
    END IF;

    v_instr := CASE WHEN $1 LIKE 'nutrition%' THEN v_nutrition ELSE v_fall END;

    IF $1 IN ('nutrition_screening', 'fall_risk_assessment') THEN
        -- Any screening / assessment in the period counts, with or without
        -- a recorded result.
        RETURN QUERY
        SELECT p.patient_id, p.unit_id, p.setting,
               CASE WHEN p.exempt THEN 'not_relevant'
                    WHEN p.age_unknown THEN 'not_recorded'
                    WHEN a.assessed_at IS NOT NULL THEN 'assessed'
                    ELSE 'not_assessed' END,
               a.at_risk
        FROM careflags.indicator_population($2, $3, $4, $5, v_scope) p
        LEFT JOIN LATERAL (
            SELECT a.assessed_at, a.at_risk
            FROM careflags.assessment a
            WHERE a.patient_id = p.patient_id
              AND a.assessed_at >= v_starts AND a.assessed_at < v_ends
              AND a.instrument = ANY (v_instr)
            ORDER BY a.assessed_at DESC
            LIMIT 1) a ON true;
        RETURN;
    END IF;

    -- Plan indicators: the population is those with an at-risk (high-risk)
    -- result in the period, plus those whose every result in the period is
    -- missing (not recorded: they may or may not belong).  A plan counts when
    -- it was in force at some time from the first at-risk result to the
    -- period end.
    v_plan := CASE WHEN $1 = 'nutrition_plan' THEN 'nutrition' ELSE 'fall_prevention' END;
    RETURN QUERY
    SELECT p.patient_id, p.unit_id, p.setting,
           CASE WHEN p.exempt THEN 'not_relevant'
                WHEN p.age_unknown OR r.first_risk IS NULL THEN 'not_recorded'
                WHEN EXISTS (SELECT FROM careflags.care_plan c
                             WHERE c.patient_id = p.patient_id
                               AND c.kind = v_plan
                               AND c.started_at < v_ends
                               AND (c.ended_at IS NULL OR c.ended_at >= r.first_risk))
                    THEN 'assessed'
                ELSE 'not_assessed' END,
           r.first_risk IS NOT NULL
    FROM careflags.indicator_population($2, $3, $4, $5, v_scope) p
    CROSS JOIN LATERAL (
        SELECT pg_catalog.min(a.assessed_at) FILTER (WHERE a.at_risk) AS first_risk,
               pg_catalog.bool_or(a.at_risk IS NOT NULL) AS any_result,
               pg_catalog.count(*) AS n
        FROM careflags.assessment a
        WHERE a.patient_id = p.patient_id
          AND a.assessed_at >= v_starts AND a.assessed_at < v_ends
          AND a.instrument = ANY (v_instr)) r
    WHERE r.first_risk IS NOT NULL OR (r.n > 0 AND NOT r.any_result);
END
$$;
COMMENT ON FUNCTION careflags.indicator_patients(text, date, integer, careflags.care_setting, text) IS
    'internal: each patient of an indicator''s population with its category (assessed, not_assessed, not_relevant, not_recorded) and the last/any risk result; not granted to anyone';

-- The setting an indicator counts: the one asked for, else the indicator's
-- default; an unknown indicator is an error.
CREATE FUNCTION careflags.indicator_setting(p_indicator text, p_setting careflags.care_setting)
    RETURNS careflags.care_setting
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    v_default careflags.care_setting;
BEGIN
    SELECT l.default_setting INTO v_default FROM careflags.indicator_list() l WHERE l.indicator = p_indicator;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown indicator "%"', p_indicator
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'One of: ' || (SELECT pg_catalog.string_agg(l.indicator, ', ') FROM careflags.indicator_list() l);
    END IF;
    RETURN COALESCE(p_setting, v_default);
END
$$;
COMMENT ON FUNCTION careflags.indicator_setting(text, careflags.care_setting) IS
    'internal: the setting an indicator counts (the given one, else its default); raises for an unknown indicator';
REVOKE ALL ON FUNCTION careflags.indicator_setting(text, careflags.care_setting) FROM PUBLIC;

-- Counts per category, aggregated from indicator_patients.
CREATE FUNCTION careflags.indicator_counts(indicator text, period_end date, min_age integer,
                                             setting careflags.care_setting, unit text, by_unit boolean)
    RETURNS TABLE (indicator text, period_end date, setting careflags.care_setting, unit_id text,
                   numerator bigint, denominator bigint, share numeric,
                   assessed bigint, not_assessed bigint, not_relevant bigint, not_recorded bigint,
                   population bigint)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH s AS (
        SELECT careflags.indicator_setting($1, $4) AS setting
    ), ip AS (
        SELECT ip.* FROM s, careflags.indicator_patients($1, $2, $3, s.setting, $5) ip
    ), c AS (
        -- per unit: one row per unit present
        SELECT ip.unit_id,
               pg_catalog.count(*) FILTER (WHERE ip.category = 'assessed') AS assessed,
               pg_catalog.count(*) FILTER (WHERE ip.category = 'not_assessed') AS not_assessed,
               pg_catalog.count(*) FILTER (WHERE ip.category = 'not_relevant') AS not_relevant,
               pg_catalog.count(*) FILTER (WHERE ip.category = 'not_recorded') AS not_recorded,
               pg_catalog.count(*) AS population
        FROM ip WHERE $6 GROUP BY ip.unit_id
        UNION ALL
        -- overall: always one row, zeros for an empty population
        SELECT $5,
               pg_catalog.count(*) FILTER (WHERE ip.category = 'assessed'),
               pg_catalog.count(*) FILTER (WHERE ip.category = 'not_assessed'),
               pg_catalog.count(*) FILTER (WHERE ip.category = 'not_relevant'),
               pg_catalog.count(*) FILTER (WHERE ip.category = 'not_recorded'),
               pg_catalog.count(*)
        FROM ip WHERE NOT $6 HAVING NOT $6
    )
    SELECT $1, $2, s.setting, c.unit_id,
           c.assessed, c.assessed + c.not_assessed + c.not_recorded,
           CASE WHEN c.assessed + c.not_assessed + c.not_recorded > 0
                THEN pg_catalog.round(100.0 * c.assessed / (c.assessed + c.not_assessed + c.not_recorded), 1) END,
           c.assessed, c.not_assessed, c.not_relevant, c.not_recorded, c.population
    FROM c, s
    ORDER BY c.unit_id NULLS LAST
    $$;
COMMENT ON FUNCTION careflags.indicator_counts(text, date, integer, careflags.care_setting, text, boolean) IS
    'internal: the counts of an indicator, for one unit (or all) or per unit';

-- The public face.  One function per indicator, plus a generic one, all of
-- the same shape.
CREATE FUNCTION careflags.indicator(indicator text,
                                      period_end date DEFAULT NULL,
                                      min_age integer DEFAULT 67,
                                      setting careflags.care_setting DEFAULT NULL,
                                      unit text DEFAULT NULL)
    RETURNS TABLE (indicator text, period_end date, setting careflags.care_setting, unit_id text,
                   numerator bigint, denominator bigint, share numeric,
                   assessed bigint, not_assessed bigint, not_relevant bigint, not_recorded bigint,
                   population bigint)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT * FROM careflags.indicator_counts($1, COALESCE($2, careflags.report_today()), $3, $4, $5, false)
    $$;
COMMENT ON FUNCTION careflags.indicator(text, date, integer, careflags.care_setting, text) IS
    'one indicator (see careflags.indicator_list()) for the 12 months ending with period_end (default today), patients aged min_age+ in the setting (NULL: the indicator''s default, all settings except medication_review) and unit (NULL: all) at the period end: numerator, denominator, share (%), the four categories; see docs/reports.md';

DO $indicators$
DECLARE
    n text;
BEGIN
    FOREACH n IN ARRAY ARRAY['nutrition_screening', 'nutrition_plan', 'medication_review',
                             'fall_risk_assessment', 'fall_risk_plan']
    LOOP
        EXECUTE pg_catalog.format($f$
            CREATE FUNCTION careflags.%1$I(period_end date DEFAULT NULL,
                                             min_age integer DEFAULT 67,
                                             setting careflags.care_setting DEFAULT %2$s,
                                             unit text DEFAULT NULL)
                RETURNS TABLE (indicator text, period_end date, setting careflags.care_setting, unit_id text,
                               numerator bigint, denominator bigint, share numeric,
                               assessed bigint, not_assessed bigint, not_relevant bigint, not_recorded bigint,
                               population bigint)
                LANGUAGE sql STABLE SECURITY DEFINER
                SET search_path = pg_catalog, pg_temp
                AS $b$SELECT * FROM careflags.indicator_counts(%3$L, COALESCE($1, careflags.report_today()), $2, $3, $4, false)$b$;
            COMMENT ON FUNCTION careflags.%1$I(date, integer, careflags.care_setting, text) IS %4$L;
            REVOKE ALL ON FUNCTION careflags.%1$I(date, integer, careflags.care_setting, text) FROM PUBLIC;
            GRANT EXECUTE ON FUNCTION careflags.%1$I(date, integer, careflags.care_setting, text)
                TO careflags_quality, careflags_admin;
            $f$,
            'indicator_' || n,
            CASE WHEN n = 'medication_review' THEN '''nursing_home_long_term''' ELSE 'NULL' END,
            n,
            'indicator ' || n || ' (' || (SELECT l.title FROM careflags.indicator_list() l WHERE l.indicator = n)
                || '): careflags.indicator(''' || n || ''', ...) with this indicator''s default setting');
    END LOOP;
END
$indicators$;

-- All five at once, in report order (what `careflags report` prints).
CREATE FUNCTION careflags.indicators(period_end date DEFAULT NULL,
                                       min_age integer DEFAULT 67,
                                       setting careflags.care_setting DEFAULT NULL,
                                       unit text DEFAULT NULL)
    RETURNS TABLE (indicator text, title text, period_end date, setting careflags.care_setting, unit_id text,
                   numerator bigint, denominator bigint, share numeric,
                   assessed bigint, not_assessed bigint, not_relevant bigint, not_recorded bigint,
                   population bigint)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT l.indicator, l.title, c.period_end, c.setting, c.unit_id, c.numerator, c.denominator, c.share,
           c.assessed, c.not_assessed, c.not_relevant, c.not_recorded, c.population
    FROM careflags.indicator_list() WITH ORDINALITY AS l
    CROSS JOIN LATERAL careflags.indicator_counts(l.indicator, COALESCE($1, careflags.report_today()),
                                                    $2, $3, $4, false) c
    ORDER BY l.ordinality
    $$;
COMMENT ON FUNCTION careflags.indicators(date, integer, careflags.care_setting, text) IS
    'all indicators for one period, setting and unit, in report order (each with its default setting when setting is NULL)';

-- Per-unit comparison: one row per unit of the population (unit_id NULL:
-- episodes with no unit recorded).
CREATE FUNCTION careflags.indicator_by_unit(indicator text,
                                              period_end date DEFAULT NULL,
                                              min_age integer DEFAULT 67,
                                              setting careflags.care_setting DEFAULT NULL)
    RETURNS TABLE (indicator text, period_end date, setting careflags.care_setting, unit_id text,
                   unit_name text,
                   numerator bigint, denominator bigint, share numeric,
                   assessed bigint, not_assessed bigint, not_relevant bigint, not_recorded bigint,
                   population bigint)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT c.indicator, c.period_end, c.setting, c.unit_id, u.name,
           c.numerator, c.denominator, c.share,
           c.assessed, c.not_assessed, c.not_relevant, c.not_recorded, c.population
    FROM careflags.indicator_counts($1, COALESCE($2, careflags.report_today()), $3, $4, NULL, true) c
    LEFT JOIN careflags.unit u ON u.unit_id = c.unit_id
    ORDER BY c.unit_id NULLS LAST
    $$;
COMMENT ON FUNCTION careflags.indicator_by_unit(text, date, integer, careflags.care_setting) IS
    'an indicator per unit, for comparing units; the row with unit_id NULL counts episodes that have no unit recorded';

-- Monthly series: the indicator at period_end and at the end of each of the
-- months - 1 months before it (each point covers its own 12 months).
CREATE FUNCTION careflags.indicator_series_points(p_period_end date, p_months integer)
    RETURNS SETOF date
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF p_months IS NULL OR p_months < 1 OR p_months > 120 THEN
        RAISE EXCEPTION 'months must be between 1 and 120, not %', COALESCE(p_months::text, 'null')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    SELECT CASE WHEN k = 0 THEN p_period_end
                ELSE (pg_catalog.date_trunc('month', p_period_end) - pg_catalog.make_interval(months => k - 1)
                      - interval '1 day')::date END
    FROM pg_catalog.generate_series(p_months - 1, 0, -1) AS k;
END
$$;
COMMENT ON FUNCTION careflags.indicator_series_points(date, integer) IS
    'internal: the points of a monthly series: the (months - 1) month ends before period_end, oldest first, then period_end';
REVOKE ALL ON FUNCTION careflags.indicator_series_points(date, integer) FROM PUBLIC;

CREATE FUNCTION careflags.indicator_series(indicator text,
                                             period_end date DEFAULT NULL,
                                             months integer DEFAULT 12,
                                             min_age integer DEFAULT 67,
                                             setting careflags.care_setting DEFAULT NULL,
                                             unit text DEFAULT NULL)
    RETURNS TABLE (indicator text, period_end date, setting careflags.care_setting, unit_id text,
                   numerator bigint, denominator bigint, share numeric,
                   assessed bigint, not_assessed bigint, not_relevant bigint, not_recorded bigint,
                   population bigint)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT c.*
    FROM careflags.indicator_series_points(COALESCE($2, careflags.report_today()), $3) WITH ORDINALITY AS pt(point, n)
    CROSS JOIN LATERAL careflags.indicator_counts($1, pt.point, $4, $5, $6, false) c
    ORDER BY pt.n
    $$;
COMMENT ON FUNCTION careflags.indicator_series(text, date, integer, integer, careflags.care_setting, text) IS
    'monthly time series of an indicator: the value at period_end and at each of the (months - 1) month ends before it, oldest first; each point covers the 12 months before it';

-- How long flags waited: from due (due_from) to the action (action_at, the
-- fact's own time; resolved_at when unknown) for flags resolved as done,
-- whose action fell in the 12 months of the period.
CREATE FUNCTION careflags.flag_response_times(period_end date DEFAULT NULL,
                                                min_age integer DEFAULT 67,
                                                setting careflags.care_setting DEFAULT NULL,
                                                unit text DEFAULT NULL)
    RETURNS TABLE (domain careflags.domain, rule_id text, resolved bigint,
                   median_days numeric, p90_days numeric, on_time_share numeric)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH w AS (
        SELECT r.starts_at, r.ends_at,
               (COALESCE($1, careflags.report_today()) - pg_catalog.make_interval(years => $2))::date AS born_by
        FROM careflags.report_period(COALESCE($1, careflags.report_today())) r
    ), f AS (
        SELECT f.domain, f.rule_id,
               GREATEST(0, EXTRACT(epoch FROM COALESCE(f.action_at, f.resolved_at) - f.due_from) / 86400.0) AS days,
               COALESCE(f.action_at, f.resolved_at) <= f.due_at AS on_time
        FROM w, careflags.flag f
        JOIN careflags.patient p ON p.patient_id = f.patient_id
        WHERE COALESCE(f.action_at, f.resolved_at) >= w.starts_at AND COALESCE(f.action_at, f.resolved_at) < w.ends_at
          AND f.resolution = 'done'
          AND ($3 IS NULL OR f.setting = $3)
          AND ($4 IS NULL OR f.unit_id = $4)
          AND p.birth_date <= w.born_by
    )
    SELECT f.domain, f.rule_id, pg_catalog.count(*),
           pg_catalog.round(pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY f.days)::numeric, 1),
           pg_catalog.round(pg_catalog.percentile_cont(0.9) WITHIN GROUP (ORDER BY f.days)::numeric, 1),
           pg_catalog.round(100.0 * pg_catalog.count(*) FILTER (WHERE f.on_time) / NULLIF(pg_catalog.count(*), 0), 1)
    FROM f
    GROUP BY ROLLUP (f.domain, f.rule_id)
    ORDER BY f.domain NULLS LAST, f.rule_id NULLS FIRST
    $$;
COMMENT ON FUNCTION careflags.flag_response_times(date, integer, careflags.care_setting, text) IS
    'response times of flags resolved as done in the 12 months ending with period_end, per rule, per domain (rule_id NULL) and overall (both NULL): count, median and 90th percentile days from due_from to resolution (0 when done before it was due), and the share done by due_at (%)';

-- Who may call what.
REVOKE ALL ON FUNCTION careflags.indicator_population(date, integer, careflags.care_setting, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION careflags.indicator_patients(text, date, integer, careflags.care_setting, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION careflags.indicator_counts(text, date, integer, careflags.care_setting, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION careflags.indicator(text, date, integer, careflags.care_setting, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION careflags.indicators(date, integer, careflags.care_setting, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION careflags.indicator_by_unit(text, date, integer, careflags.care_setting) FROM PUBLIC;
REVOKE ALL ON FUNCTION careflags.indicator_series(text, date, integer, integer, careflags.care_setting, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION careflags.flag_response_times(date, integer, careflags.care_setting, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    careflags.indicator(text, date, integer, careflags.care_setting, text),
    careflags.indicators(date, integer, careflags.care_setting, text),
    careflags.indicator_by_unit(text, date, integer, careflags.care_setting),
    careflags.indicator_series(text, date, integer, integer, careflags.care_setting, text),
    careflags.flag_response_times(date, integer, careflags.care_setting, text)
    TO careflags_quality, careflags_admin;
GRANT EXECUTE ON FUNCTION careflags.report_period(date), careflags.report_today(),
    careflags.indicator_list() TO careflags_quality, careflags_admin, careflags_nurse;

-- Index the reports lean on (besides the patient-first ones of 10_facts):
-- whether a plan of a kind was in force, per patient.
CREATE INDEX care_plan_patient_kind ON careflags.care_plan (patient_id, kind, started_at);
COMMENT ON INDEX careflags.care_plan_patient_kind IS
    'reports: was a plan of a kind in force for a patient (indicator_patients)';

-- ==== sql/parts/65_extract.sql ====
-- sql/parts/65_extract.sql - pseudonymised registry extract.
--
-- One row per patient and period: a pseudonym instead of any identifier, an
-- age band instead of the birth date, and the patient's category in each
-- indicator of 60_reports.sql.  The pseudonym is HMAC-SHA256 (OpenSSL, in
-- extension/pseudonym.c) of the patient's source key under a site secret:
-- the same patient gets the same pseudonym in every extract until the secret
-- is rotated, after which the new pseudonyms cannot be linked to the old.
--
-- The secret is drawn from OpenSSL's CSPRNG when the extension is created
-- and kept in careflags.pseudonym_key, which has no grants at all: only the
-- extension owner (a superuser) reads it.  careflags_quality runs the
-- extract through a SECURITY DEFINER function; careflags_admin rotates the
-- secret through another.  pg_dump keeps the secret (so pseudonyms survive a
-- dump and restore): a dump must be protected like the database itself.

CREATE FUNCTION careflags.pseudonym_new_secret() RETURNS bytea
    LANGUAGE c VOLATILE STRICT
    AS 'MODULE_PATHNAME', 'careflags_pseudonym_new_secret';
COMMENT ON FUNCTION careflags.pseudonym_new_secret() IS
    'internal: 32 random bytes from OpenSSL''s CSPRNG (RAND_bytes), a new pseudonym secret';

CREATE FUNCTION careflags.pseudonym_hmac(secret bytea, message text) RETURNS text
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'careflags_pseudonym_hmac';
COMMENT ON FUNCTION careflags.pseudonym_hmac(bytea, text) IS
    'internal: HMAC-SHA256 (OpenSSL) of message under secret, as 64 hex digits';

REVOKE ALL ON FUNCTION careflags.pseudonym_new_secret() FROM PUBLIC;
REVOKE ALL ON FUNCTION careflags.pseudonym_hmac(bytea, text) FROM PUBLIC;

-- Exactly one row: the current secret.  Rotation replaces it (the old one
-- is gone, so old and new pseudonyms cannot be linked).
CREATE TABLE careflags.pseudonym_key (
    one         boolean PRIMARY KEY DEFAULT true CHECK (one),
    secret      bytea NOT NULL CHECK (pg_catalog.length(secret) OPERATOR(pg_catalog.>=) 16),
    generation  integer NOT NULL DEFAULT 1 CHECK (generation OPERATOR(pg_catalog.>) 0),
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by  name NOT NULL DEFAULT SESSION_USER
);
COMMENT ON TABLE careflags.pseudonym_key IS
    'the site secret of the extract pseudonyms (one row); no grants: only the extension owner reads it; rotate with careflags.rotate_pseudonym_key()';
COMMENT ON COLUMN careflags.pseudonym_key.generation IS
    'counts rotations; extracts carry it, so pseudonyms of different generations are known not to match';
REVOKE ALL ON careflags.pseudonym_key FROM PUBLIC;

-- pg_restore loads the dumped row after CREATE EXTENSION made a fresh one:
-- the restored secret replaces the fresh secret.
CREATE FUNCTION careflags.pseudonym_key_replace() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    DELETE FROM careflags.pseudonym_key;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION careflags.pseudonym_key_replace() IS
    'internal: a secret inserted (by pg_restore) replaces the one made at CREATE EXTENSION, keeping the table at one row';
REVOKE ALL ON FUNCTION careflags.pseudonym_key_replace() FROM PUBLIC;
CREATE TRIGGER replace_on_insert BEFORE INSERT ON careflags.pseudonym_key
    FOR EACH ROW EXECUTE FUNCTION careflags.pseudonym_key_replace();
COMMENT ON TRIGGER replace_on_insert ON careflags.pseudonym_key IS
    'a secret restored by pg_restore replaces the one CREATE EXTENSION made';

INSERT INTO careflags.pseudonym_key (secret) VALUES (careflags.pseudonym_new_secret());
SELECT pg_catalog.pg_extension_config_dump('careflags.pseudonym_key', '');

-- What a message to the HMAC is: the patient's source system and source key,
-- separated by a unit separator (U+001F), so equal keys of two systems do not
-- collide.
CREATE FUNCTION careflags.pseudonym_message(source_system text, source_key text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN source_system OPERATOR(pg_catalog.||) pg_catalog.chr(31) OPERATOR(pg_catalog.||) source_key;
COMMENT ON FUNCTION careflags.pseudonym_message(text, text) IS
    'the text a patient''s pseudonym is the HMAC of: source_system, U+001F, source_key';

-- Rotation: a new secret from the CSPRNG; every pseudonym changes.
CREATE FUNCTION careflags.rotate_pseudonym_key() RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    g integer;
BEGIN
    UPDATE careflags.pseudonym_key
       SET secret = careflags.pseudonym_new_secret(),
           generation = generation + 1,
           created_at = pg_catalog.now(),
           created_by = SESSION_USER
     RETURNING generation INTO g;
    IF g IS NULL THEN
        INSERT INTO careflags.pseudonym_key (secret) VALUES (careflags.pseudonym_new_secret())
            RETURNING generation INTO g;
    END IF;
    RAISE NOTICE 'pseudonym secret rotated: generation %; extracts made from now on cannot be linked to earlier ones', g;
    RETURN g;
END
$$;
COMMENT ON FUNCTION careflags.rotate_pseudonym_key() IS
    'replace the pseudonym secret with a fresh one from OpenSSL''s CSPRNG (careflags_admin); returns the new generation';
REVOKE ALL ON FUNCTION careflags.rotate_pseudonym_key() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION careflags.rotate_pseudonym_key() TO careflags_admin;

-- When the secret was made and its generation; never the secret.
CREATE FUNCTION careflags.pseudonym_key_info(OUT generation integer, OUT created_at timestamptz,
                                               OUT created_by name)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT k.generation, k.created_at, k.created_by FROM careflags.pseudonym_key k $$;
COMMENT ON FUNCTION careflags.pseudonym_key_info() IS
    'generation and creation time of the current pseudonym secret (not the secret)';
REVOKE ALL ON FUNCTION careflags.pseudonym_key_info() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION careflags.pseudonym_key_info() TO careflags_quality, careflags_admin;

-- Age bands of the extract: 90 and over is one band (top-coded).
CREATE FUNCTION careflags.age_band(age integer) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN CASE
        WHEN age IS NULL THEN 'unknown'
        WHEN age OPERATOR(pg_catalog.<) 18 THEN '0-17'
        WHEN age OPERATOR(pg_catalog.<) 50 THEN '18-49'
        WHEN age OPERATOR(pg_catalog.<) 67 THEN '50-66'
        WHEN age OPERATOR(pg_catalog.<) 70 THEN '67-69'
        WHEN age OPERATOR(pg_catalog.>=) 90 THEN '90+'
        ELSE ((age OPERATOR(pg_catalog./) 5) OPERATOR(pg_catalog.*) 5)::text OPERATOR(pg_catalog.||) '-'
             OPERATOR(pg_catalog.||) ((age OPERATOR(pg_catalog./) 5) OPERATOR(pg_catalog.*) 5 OPERATOR(pg_catalog.+) 4)::text
    END;
COMMENT ON FUNCTION careflags.age_band(integer) IS
    'age band of the extract: 0-17, 18-49, 50-66, 67-69, 70-74, ..., 85-89, 90+, unknown';
GRANT EXECUTE ON FUNCTION careflags.age_band(integer) TO PUBLIC;

-- The extract.  For each period end (period_end, then `periods - 1` steps of
-- `step` back) one row per patient of the population at that end, with the
-- category the patient has in each indicator (NULL where the patient is not
-- in that indicator's population, e.g. nutrition_plan for someone never
-- found at risk).
CREATE FUNCTION careflags.extract_rows(p_period_end date, p_periods integer, p_step interval,
                                         p_min_age integer, p_setting careflags.care_setting, p_unit text)
    RETURNS TABLE (pseudonym text, key_generation integer, period_end date,
                   age_band text, sex careflags.sex, setting careflags.care_setting, unit_id text,
                   nutrition_screening text, nutrition_at_risk boolean, nutrition_plan text,
                   medication_review text,
                   fall_risk_assessment text, fall_risk_high boolean, fall_risk_plan text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    -- five function scans joined look expensive to the planner; compiling
    -- them with JIT costs more than the query itself
    SET jit = off AS
$$
#variable_conflict use_column
DECLARE
    v_end   date := COALESCE($1, careflags.report_today());
    v_point date;
    v_key   bytea;
    v_gen   integer;
    k       integer;
BEGIN
    IF $2 IS NULL OR $2 < 1 OR $2 > 120 THEN
        RAISE EXCEPTION 'periods must be between 1 and 120, not %', COALESCE($2::text, 'null')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF $3 IS NULL OR $3 <= interval '0' THEN
        RAISE EXCEPTION 'step must be a positive interval'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT pk.secret, pk.generation INTO v_key, v_gen FROM careflags.pseudonym_key pk;
    IF v_key IS NULL THEN
        RAISE EXCEPTION 'no pseudonym secret'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'An administrator makes one with SELECT careflags.rotate_pseudonym_key();';
    END IF;
    FOR k IN 0 .. $2 - 1 LOOP
        v_point := (v_end - k * $3)::date;
        RETURN QUERY
        WITH base AS (
            -- everyone in the setting at the period end; medication_review
            -- defaults to long-term residents only when no setting is given,
            -- so the population comes from an indicator without a default.
            SELECT ip.patient_id, ip.unit_id, ip.setting, ip.category, ip.at_risk
            FROM careflags.indicator_patients('nutrition_screening', v_point, $4, $5, $6) ip
        ), fra AS (
            SELECT ip.patient_id, ip.category, ip.at_risk
            FROM careflags.indicator_patients('fall_risk_assessment', v_point, $4, $5, $6) ip
        ), np AS (
            SELECT ip.patient_id, ip.category, ip.at_risk
            FROM careflags.indicator_patients('nutrition_plan', v_point, $4, $5, $6) ip
        ), fp AS (
            SELECT ip.patient_id, ip.category, ip.at_risk
            FROM careflags.indicator_patients('fall_risk_plan', v_point, $4, $5, $6) ip
        ), mr AS (
            SELECT ip.patient_id, ip.category
            FROM careflags.indicator_patients('medication_review', v_point, $4,
                                                 COALESCE($5, 'nursing_home_long_term'), $6) ip
        )
        SELECT careflags.pseudonym_hmac(v_key, careflags.pseudonym_message(p.source_system, p.source_key)),
               v_gen, v_point,
               careflags.age_band(EXTRACT(year FROM pg_catalog.age(v_point, p.birth_date))::integer),
               p.sex, b.setting, b.unit_id,
               b.category,
               CASE WHEN np.patient_id IS NOT NULL THEN NULLIF(np.at_risk, false) ELSE b.at_risk END,
               np.category, mr.category,
               fra.category,
               CASE WHEN fp.patient_id IS NOT NULL THEN NULLIF(fp.at_risk, false) ELSE fra.at_risk END,
               fp.category
        FROM base b
        JOIN careflags.patient p ON p.patient_id = b.patient_id
        LEFT JOIN fra ON fra.patient_id = b.patient_id
        LEFT JOIN np ON np.patient_id = b.patient_id
        LEFT JOIN fp ON fp.patient_id = b.patient_id
        LEFT JOIN mr ON mr.patient_id = b.patient_id
        ORDER BY 1;
    END LOOP;
END
$$;
COMMENT ON FUNCTION careflags.extract_rows(date, integer, interval, integer, careflags.care_setting, text) IS
    'internal: the rows of careflags.extract(); not granted to anyone';
REVOKE ALL ON FUNCTION careflags.extract_rows(date, integer, interval, integer, careflags.care_setting, text) FROM PUBLIC;

CREATE FUNCTION careflags.extract(period_end date DEFAULT NULL,
                                    periods integer DEFAULT 1,
                                    step interval DEFAULT '1 year',
                                    min_age integer DEFAULT 67,
                                    setting careflags.care_setting DEFAULT NULL,
                                    unit text DEFAULT NULL)
    RETURNS TABLE (pseudonym text, key_generation integer, period_end date,
                   age_band text, sex careflags.sex, setting careflags.care_setting, unit_id text,
                   nutrition_screening text, nutrition_at_risk boolean, nutrition_plan text,
                   medication_review text,
                   fall_risk_assessment text, fall_risk_high boolean, fall_risk_plan text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT * FROM careflags.extract_rows($1, $2, $3, $4, $5, $6) $$;
COMMENT ON FUNCTION careflags.extract(date, integer, interval, integer, careflags.care_setting, text) IS
    'pseudonymised registry extract: one row per patient and period end (period_end and periods-1 steps back), with pseudonym = HMAC-SHA256 of the source key under the site secret, age band, sex, setting, unit and the category in each indicator; no names, birth dates or source keys';
REVOKE ALL ON FUNCTION careflags.extract(date, integer, interval, integer, careflags.care_setting, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION careflags.extract(date, integer, interval, integer, careflags.care_setting, text)
    TO careflags_quality, careflags_admin;
