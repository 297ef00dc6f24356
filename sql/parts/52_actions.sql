-- sql/parts/52_actions.sql - one row per action (clinical-rules.md §7.18).
--
-- Flags stay per rule (indicators and response times need that); a nurse
-- reads careflags.actions: one row per patient and action due (nutrition
-- screening, nutrition plan, medication review, fall-risk assessment,
-- fall-prevention plan) with the earliest due time, the most urgent state
-- and, in at most 140 characters in careflags.language, what the rules
-- behind it say.  It is built on careflags.worklist, so a nurse sees exactly
-- the flags of her units the worklist shows her, and nothing more.
-- acknowledge_action, snooze_action and exempt_action act on every flag of
-- a row, in one transaction, with one audit entry for the row that names
-- every flag behind it (audit.c).
\echo Use "CREATE EXTENSION careflags" to load this file. \quit

CREATE VIEW @extschema@.actions WITH (security_barrier = true) AS
SELECT a.patient_id, a.patient, a.unit_id, a.unit, a.action,
       @extschema@.action_label(a.action) AS title,
       a.state, @extschema@.state_text(a.state) AS state_text,
       a.due_from, a.due_at,
       @extschema@.action_text(a.action, a.details, a.due_at) AS why,
       a.severity, a.flag_ids, a.rule_ids
  FROM (SELECT w.patient_id, w.patient, w.unit_id, w.unit, w.action,
               (pg_catalog.array_agg(w.state ORDER BY
                    pg_catalog.array_position(ARRAY['overdue', 'due', 'due_soon', 'upcoming'], w.state)))[1] AS state,
               pg_catalog.min(w.due_from) AS due_from,
               pg_catalog.min(w.due_at) AS due_at,
               pg_catalog.array_agg(w.details ORDER BY w.due_at, w.flag_id) AS details,
               pg_catalog.min(w.severity) AS severity,
               pg_catalog.array_agg(w.flag_id ORDER BY w.due_at, w.flag_id) AS flag_ids,
               pg_catalog.array_agg(w.rule_id ORDER BY w.due_at, w.flag_id) AS rule_ids
          FROM @extschema@.worklist w
         GROUP BY w.patient_id, w.patient, w.unit_id, w.unit, w.action) a
 ORDER BY a.severity, a.due_at, a.patient_id, a.action;
COMMENT ON VIEW @extschema@.actions IS
    'what a nurse should do now, one row per patient and action (nutrition_screening, nutrition_plan, medication_review, fall_risk_assessment, fall_prevention_plan): earliest due time, most urgent state, why (at most 140 characters, careflags.language) and the flags behind it; the caller''s units only (built on careflags.worklist)';
GRANT SELECT ON @extschema@.actions TO careflags_nurse, careflags_admin;

-- The flags behind one of the caller's action rows, or an error.
CREATE FUNCTION @extschema@.action_flags(patient_id bigint, action text) RETURNS bigint[]
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    ids bigint[];
BEGIN
    SELECT a.flag_ids INTO ids FROM @extschema@.actions a
     WHERE a.patient_id OPERATOR(pg_catalog.=) action_flags.patient_id
       AND a.action OPERATOR(pg_catalog.=) action_flags.action;
    IF ids IS NULL THEN
        RAISE EXCEPTION 'no open action "%" for patient %', action, patient_id
            USING ERRCODE = 'no_data_found',
                  DETAIL = 'careflags.actions shows no such row to you (resolved, snoozed, not yet due, or not of your units).',
                  HINT = 'SELECT patient_id, action FROM careflags.actions lists what you can act on.';
    END IF;
    RETURN ids;
END
$$;
COMMENT ON FUNCTION @extschema@.action_flags(bigint, text) IS
    'the flag ids behind one row of careflags.actions that the caller sees; error no_data_found when there is none';

CREATE FUNCTION @extschema@.acknowledge_action(patient_id bigint, action text, note text DEFAULT NULL) RETURNS bigint
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_acknowledge_action';
COMMENT ON FUNCTION @extschema@.acknowledge_action(bigint, text, text) IS
    'acknowledge every flag behind one row of careflags.actions that the caller sees; one audit entry for the row, naming every flag (detail: row, flags, note); returns its audit id';

CREATE FUNCTION @extschema@.snooze_action(patient_id bigint, action text, until timestamptz, note text DEFAULT NULL) RETURNS bigint
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_snooze_action';
COMMENT ON FUNCTION @extschema@.snooze_action(bigint, text, timestamptz, text) IS
    'snooze every flag behind one row of careflags.actions until a time (within every rule''s max_snooze, else nothing is snoozed); one audit entry for the row, naming every flag; returns its audit id';

CREATE FUNCTION @extschema@.exempt_action(patient_id bigint, action text, reason text, valid_until timestamptz DEFAULT NULL) RETURNS bigint
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_exempt_action';
COMMENT ON FUNCTION @extschema@.exempt_action(bigint, text, text, timestamptz) IS
    'mark every rule behind one row of careflags.actions not relevant for the patient (one exemption per rule, its flag resolved as exempt); one audit entry for the row, naming every flag; returns its audit id';

REVOKE ALL ON FUNCTION @extschema@.acknowledge_action(bigint, text, text),
    @extschema@.snooze_action(bigint, text, timestamptz, text),
    @extschema@.exempt_action(bigint, text, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.acknowledge_action(bigint, text, text),
    @extschema@.snooze_action(bigint, text, timestamptz, text),
    @extschema@.exempt_action(bigint, text, text, timestamptz) TO careflags_nurse, careflags_admin;
