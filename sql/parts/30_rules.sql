-- sql/parts/30_rules.sql - rules are data.
--
-- One row per rule, with the Norwegian defaults of clinical-rules.md §2-4.
-- The evaluator (C) reads the enabled rules; which logic a rule follows is
-- given by (domain, anchor), its numbers by the other columns.  No SQL text is
-- stored anywhere.  Sites change rules with plain UPDATE (or add their own
-- with INSERT); each change is also kept in careflags.rule_site_change, which
-- pg_dump saves and which re-applies itself on restore and survives upgrades.
\echo Use "CREATE EXTENSION careflags" to load this file. \quit

CREATE TYPE @extschema@.rule_anchor AS ENUM (
    'episode_start',    -- first due after the start of the current episode
    'last_event',       -- repeat: interval after the last qualifying event
    'risk_result',      -- a positive screening / high fall-risk score needs a plan
    'plan_evaluation',  -- an active plan needs evaluation at an interval
    'weight_series',    -- weight loss or low BMI in the measurement series
    'medicine_count',   -- number of active regular medicines reaches a threshold
    'fall'              -- a recorded fall (or high fall risk) asks for action
);
COMMENT ON TYPE @extschema@.rule_anchor IS 'the event a rule counts its due time from';

CREATE TABLE @extschema@.rule (
    rule_id         text PRIMARY KEY CHECK (rule_id OPERATOR(pg_catalog.~) '^[a-z_]+(\.[a-z_0-9]+)+$'),
    domain          @extschema@.domain NOT NULL,
    anchor          @extschema@.rule_anchor NOT NULL,
    title           text NOT NULL,
    settings        @extschema@.care_setting[] NOT NULL,
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
COMMENT ON TABLE @extschema@.rule IS
    'the rules careflags evaluates: population (settings, min_age), anchor event, due_interval (first due or repeat), due_soon_window, follow_up (deadline after due_from for event rules), threshold, severity (1 highest), max_snooze; edit with UPDATE';
COMMENT ON COLUMN @extschema@.rule.due_interval IS
    'episode_start: deadline after the start; last_event/plan_evaluation: repeat interval; medicine_count: time since the last review that still counts; others: unused';
COMMENT ON COLUMN @extschema@.rule.threshold IS
    'medicine_count: number of active regular medicines that raises the flag';

INSERT INTO @extschema@.rule
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
  '{nursing_home_long_term,nursing_home_short_term,home_nursing}', '6 months', '7 days', '7 days', NULL, 2, '14 days', true, 'default',
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
CREATE TABLE @extschema@.rule_site_change (
    rule_id     text PRIMARY KEY,
    rule        jsonb NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    changed_by  name NOT NULL DEFAULT CURRENT_USER
);
COMMENT ON TABLE @extschema@.rule_site_change IS
    'the site''s edits of careflags.rule (whole rows); saved by pg_dump, re-applied to careflags.rule on restore';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rule_site_change', '');

CREATE FUNCTION @extschema@.rule_remember_change() RETURNS trigger
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
        DELETE FROM @extschema@.rule_site_change WHERE rule_id OPERATOR(pg_catalog.=) OLD.rule_id;
        RETURN NULL;
    END IF;
    INSERT INTO @extschema@.rule_site_change (rule_id, rule)
        VALUES (NEW.rule_id, pg_catalog.to_jsonb(NEW))
        ON CONFLICT (rule_id) DO UPDATE
            SET rule = EXCLUDED.rule, changed_at = pg_catalog.now(), changed_by = CURRENT_USER;
    RETURN NULL;
END
$$;

CREATE FUNCTION @extschema@.rule_apply_change() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    -- only when loaded on its own (pg_restore), not when remembering an edit
    IF pg_catalog.pg_trigger_depth() OPERATOR(pg_catalog.>) 1 THEN
        RETURN NULL;
    END IF;
    INSERT INTO @extschema@.rule
        SELECT * FROM pg_catalog.jsonb_populate_record(NULL::@extschema@.rule, NEW.rule)
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

COMMENT ON FUNCTION @extschema@.rule_remember_change() IS
    'AFTER trigger on careflags.rule: keeps each site edit of a rule (whole row) in careflags.rule_site_change; refuses to delete a default rule';
COMMENT ON FUNCTION @extschema@.rule_apply_change() IS
    'AFTER INSERT trigger on careflags.rule_site_change: re-applies a saved site edit to careflags.rule (pg_restore)';

CREATE TRIGGER remember_site_change AFTER INSERT OR UPDATE OR DELETE ON @extschema@.rule
    FOR EACH ROW EXECUTE FUNCTION @extschema@.rule_remember_change();
-- Fires when pg_restore loads the saved changes (and only then in practice).
CREATE TRIGGER apply_site_change AFTER INSERT ON @extschema@.rule_site_change
    FOR EACH ROW EXECUTE FUNCTION @extschema@.rule_apply_change();

-- Fall-risk-increasing drugs by ATC prefix (clinical-rules.md §3; which exact
-- classes STOPPFall names is unverified, so this is a table a site edits).
CREATE TABLE @extschema@.frid_atc (
    atc_prefix  text PRIMARY KEY CHECK (atc_prefix OPERATOR(pg_catalog.~) '^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$'),
    description text NOT NULL,
    origin      text NOT NULL DEFAULT 'site'
);
COMMENT ON TABLE @extschema@.frid_atc IS 'fall-risk-increasing drugs: an active medicine whose ATC starts with a prefix here is a FRID';
INSERT INTO @extschema@.frid_atc (atc_prefix, description, origin) VALUES
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
SELECT pg_catalog.pg_extension_config_dump('@extschema@.frid_atc', $$WHERE origin OPERATOR(pg_catalog.=) 'site'$$);

GRANT SELECT ON @extschema@.rule, @extschema@.frid_atc TO careflags_nurse, careflags_quality, careflags_admin;
GRANT INSERT, UPDATE, DELETE ON @extschema@.rule, @extschema@.frid_atc TO careflags_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.rule_site_change TO careflags_admin;

-- ==== identifiers of units and rules bounded (issue 13) ====
-- Unit and rule ids reach every flag, NOTIFY payload and worklist: the guard
-- refuses (an error: these are administrators' writes) ids longer than
-- careflags.max_identifier_length and names longer than
-- careflags.max_text_length.
CREATE TRIGGER unit_guard BEFORE INSERT OR UPDATE ON @extschema@.unit
    FOR EACH ROW EXECUTE FUNCTION @extschema@.fact_guard();
COMMENT ON TRIGGER unit_guard ON @extschema@.unit IS
    'refuses a unit id longer than careflags.max_identifier_length or a name longer than careflags.max_text_length';
CREATE TRIGGER rule_guard BEFORE INSERT OR UPDATE ON @extschema@.rule
    FOR EACH ROW EXECUTE FUNCTION @extschema@.fact_guard();
COMMENT ON TRIGGER rule_guard ON @extschema@.rule IS
    'refuses a rule id longer than careflags.max_identifier_length or a title or description longer than careflags.max_text_length';
-- ==== end of identifiers of units and rules ====
