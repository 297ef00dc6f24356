-- careflags 1.2 -> 1.3 (ALTER EXTENSION careflags UPDATE TO '1.3').
--
-- Exactly what sql/parts/ gained since 1.2, so that an upgraded database and
-- a fresh 1.3 one are alike object by object (tests/reliability/50_upgrade.sql).
-- No flag, audit row or site customisation is lost.
\echo Use "ALTER EXTENSION careflags UPDATE TO '1.3'" to load this file. \quit

-- ==== true resolutions, readings §7.1-§7.18 (issue 14) ====
ALTER TABLE careflags.flag
    ADD COLUMN trigger_at timestamptz,
    ADD COLUMN action_table text CHECK (action_table OPERATOR(pg_catalog.=) ANY (ARRAY['assessment', 'medication_review', 'care_plan'])),
    ADD COLUMN action_id bigint;
COMMENT ON COLUMN careflags.flag.resolution IS
    'why the flag closed (clinical-rules.md §7.17): done (a qualifying action fact in the flag''s window, named by action_table and action_id), cleared (the condition no longer holds), corrected (the fact that raised it was deleted or corrected), episode_ended, deceased, exempt, not_in_scope, rule_disabled';
COMMENT ON COLUMN careflags.flag.trigger_at IS
    'the time of the fact the flag''s due time counts from (episode start, fall, result, weight, last action); an action counts for the flag from then on';
COMMENT ON COLUMN careflags.flag.action_table IS
    'for resolution done: the table of the action fact (assessment, medication_review, care_plan)';
COMMENT ON COLUMN careflags.flag.action_id IS
    'for resolution done: the id of the action fact in action_table (assessment_id, review_id, plan_id)';
-- flags resolved done that name their action: re-checked when the patient's facts change
CREATE INDEX flag_done_action ON careflags.flag (patient_id, flag_id) WHERE action_id IS NOT NULL;

CREATE FUNCTION careflags.due_soon_from(due_from timestamptz, due_soon_window interval)
    RETURNS timestamptz
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN ((due_from AT TIME ZONE
             COALESCE(NULLIF(pg_catalog.current_setting('careflags.timezone', true), ''), 'Europe/Oslo'))
            OPERATOR(pg_catalog.-) due_soon_window)
           AT TIME ZONE COALESCE(NULLIF(pg_catalog.current_setting('careflags.timezone', true), ''), 'Europe/Oslo');
COMMENT ON FUNCTION careflags.due_soon_from(timestamptz, interval) IS
    'due_from - due_soon_window in careflags.timezone (calendar days keep their local time across a daylight-saving change): when a flag becomes due soon';
CREATE OR REPLACE FUNCTION careflags.flag_state(due_from timestamptz, due_at timestamptz,
                                                  due_soon_window interval, at timestamptz)
    RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN CASE
        WHEN at OPERATOR(pg_catalog.>=) due_at THEN 'overdue'
        WHEN at OPERATOR(pg_catalog.>=) due_from THEN 'due'
        WHEN at OPERATOR(pg_catalog.>=) careflags.due_soon_from(due_from, due_soon_window) THEN 'due_soon'
        ELSE 'upcoming'
    END;
COMMENT ON FUNCTION careflags.flag_state(timestamptz, timestamptz, interval, timestamptz) IS
    'upcoming before due_from - window (in careflags.timezone), due_soon within the window, due from due_from, overdue from due_at';
CREATE OR REPLACE VIEW careflags.worklist WITH (security_invoker = true) AS
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
   AND careflags.clock() OPERATOR(pg_catalog.>=) careflags.due_soon_from(f.due_from, f.due_soon_window)
 ORDER BY f.severity, f.due_at, f.flag_id;

-- careflags' own changes to a resolved flag are audited too
ALTER TABLE careflags.audit DROP CONSTRAINT audit_action_check;
ALTER TABLE careflags.audit ADD CONSTRAINT audit_action_check
    CHECK (action OPERATOR(pg_catalog.=) ANY (ARRAY['acknowledge', 'snooze', 'exempt', 'reopen', 'correct_resolution']));
COMMENT ON TABLE careflags.audit IS
    'who acknowledged, snoozed or exempted which flag, and when (and careflags'' own reopening of a flag or correction of its resolution when the action fact it named was deleted or corrected); each row''s hash is SHA-256 over the previous row''s hash and its own content, so careflags.verify_audit() finds any change, removal or reordering';

-- §7.2: the repeat fall-risk assessment is due soon 7 days ahead (was 14),
-- unless the site changed the rule; its open flags follow
ALTER TABLE careflags.rule DISABLE TRIGGER remember_site_change;
UPDATE careflags.rule SET due_soon_window = '7 days'
 WHERE rule_id OPERATOR(pg_catalog.=) 'fall_risk.assessment.repeat'
   AND due_soon_window OPERATOR(pg_catalog.=) '14 days'::interval
   AND NOT EXISTS (SELECT FROM careflags.rule_site_change c
                    WHERE c.rule_id OPERATOR(pg_catalog.=) 'fall_risk.assessment.repeat');
ALTER TABLE careflags.rule ENABLE TRIGGER remember_site_change;
UPDATE careflags.flag f SET due_soon_window = r.due_soon_window
  FROM careflags.rule r
 WHERE r.rule_id OPERATOR(pg_catalog.=) f.rule_id
   AND f.rule_id OPERATOR(pg_catalog.=) 'fall_risk.assessment.repeat'
   AND f.resolved_at IS NULL
   AND f.due_soon_window OPERATOR(pg_catalog.<>) r.due_soon_window;
COMMENT ON FUNCTION careflags.check_consistency() IS
    'every difference between the stored flags and a fresh evaluation: open flags, and flags resolved done whose action fact no longer qualifies; empty when flags are true';
