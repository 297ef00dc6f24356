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

-- ==== cross-unit leaks: flag event outbox, nurse views, unit access by role (issue 13) ====
-- NOTIFY careflags carries only an event id; the event goes to the outbox
-- careflags.flag_event, which nurses read through careflags.my_flag_events.
-- Nurses lose their grants on careflags.flag, patient, episode and
-- unit_access and read views instead (worklist, my_flags, my_patients,
-- my_unit_access); a former resident stays visible to a unit for its
-- visible_after_leaving (30 days) only; no planner statistics on names.
-- unit_access is keyed by the role's oid: existing rows are mapped to the
-- role that has their name now; rows of roles that no longer exist are
-- removed (with a WARNING naming them).

ALTER TABLE careflags.unit ADD COLUMN visible_after_leaving interval NOT NULL DEFAULT '30 days'
    CHECK (visible_after_leaving OPERATOR(pg_catalog.>=) '0'::interval);
COMMENT ON COLUMN careflags.unit.visible_after_leaving IS
    'how long after a patient''s episode in this unit ended the unit''s nurses still see the patient (careflags.my_patients); current residents are always visible';

ALTER TABLE careflags.patient ALTER COLUMN display_name SET STATISTICS 0;
DELETE FROM pg_catalog.pg_statistic
 WHERE starelid OPERATOR(pg_catalog.=) 'careflags.patient'::pg_catalog.regclass
   AND staattnum OPERATOR(pg_catalog.=) (SELECT a.attnum FROM pg_catalog.pg_attribute a
                                          WHERE a.attrelid OPERATOR(pg_catalog.=) 'careflags.patient'::pg_catalog.regclass
                                            AND a.attname OPERATOR(pg_catalog.=) 'display_name');

ALTER TABLE careflags.unit_access ADD COLUMN role regrole;
DO $migrate$
DECLARE
    gone text;
BEGIN
    SELECT pg_catalog.string_agg(pg_catalog.format('%s -> %s', ua.role_name, ua.unit_id), ', ') INTO gone
      FROM careflags.unit_access ua
     WHERE pg_catalog.to_regrole(pg_catalog.quote_ident(ua.role_name::text)) IS NULL;
    IF gone IS NOT NULL THEN
        RAISE WARNING 'careflags.unit_access: removed the rows of roles that no longer exist: %', gone;
    END IF;
END
$migrate$;
DELETE FROM careflags.unit_access ua
 WHERE pg_catalog.to_regrole(pg_catalog.quote_ident(ua.role_name::text)) IS NULL;
UPDATE careflags.unit_access ua SET role = pg_catalog.to_regrole(pg_catalog.quote_ident(ua.role_name::text));
DROP VIEW careflags.worklist;

-- ---- what each role reads ----
-- Nurses read no base table.  They read the views below, which belong to the
-- extension owner (so they read the tables with its rights) and evaluate
-- CURRENT_USER, my_units() and has_table_privilege() as the caller.  Each
-- view's unit filter sits inside a subquery with OFFSET 0, which the planner
-- never pushes the caller's own conditions into: the scans below it are
-- decided by the view alone (an index read of the caller's units), so
-- neither a leaky function nor EXPLAIN ANALYZE's row counts ever meet a row
-- of another unit (the unit filter is a per-unit index condition: the
-- caller's units are unnested, each read with unit_id = that unit); the rows of other tables they show (names, rule titles)
-- are looked up per row of the caller's units, by key (LATERAL ... OFFSET 0,
-- which is never turned into a scan of the whole table).  The views are also
-- security barriers, so a caller's
-- condition that is not leakproof runs after them.  A role that may read the
-- base tables anyway (careflags_admin for flags and events, a superuser for
-- everything) gets every unit through a second branch, switched on or off
-- once per query (a one-time filter) by has_table_privilege().

-- The caller's own rows of careflags.unit_access (those of the roles it is a
-- member of): read by index on the role, nothing else is touched.
CREATE VIEW careflags.my_unit_access WITH (security_barrier = true) AS
SELECT a.unit_id, a.role
  FROM (SELECT ua.unit_id, ua.role
          FROM careflags.unit_access ua
         WHERE ua.role OPERATOR(pg_catalog.=) ANY (ARRAY(
               SELECT r.oid::pg_catalog.regrole FROM pg_catalog.pg_roles r
                WHERE pg_catalog.pg_has_role(CURRENT_USER, r.oid, 'MEMBER')))
        OFFSET 0) a;
COMMENT ON VIEW careflags.my_unit_access IS
    'the rows of careflags.unit_access that give the current role (directly or through a role it belongs to) its units; nurses read only these';

-- The units the current role may see: those mapped in unit_access to a role
-- it is a member of.  Called once per query (as an InitPlan) by the views.
CREATE OR REPLACE FUNCTION careflags.my_units() RETURNS text[]
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN (SELECT COALESCE(pg_catalog.array_agg(DISTINCT a.unit_id), '{}'::text[])
              FROM careflags.my_unit_access a);
COMMENT ON FUNCTION careflags.my_units() IS 'units whose flags the current role may see and act on (careflags.unit_access)';

ALTER TABLE careflags.unit_access DROP CONSTRAINT unit_access_pkey, DROP COLUMN role_name,
    ALTER COLUMN role SET NOT NULL, ADD PRIMARY KEY (unit_id, role);
COMMENT ON TABLE careflags.unit_access IS
    'which database roles (and their members) see and act on which unit''s flags; keyed by the role''s oid (regrole), so a new role with a dropped role''s name inherits nothing';
CREATE INDEX unit_access_role ON careflags.unit_access (role);
SELECT pg_catalog.pg_extension_config_dump('careflags.unit_access',
    'WHERE EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) role)');

-- For DBAs: unit access with the role's name, and the rows of dropped roles.
CREATE VIEW careflags.unit_access_named AS
SELECT ua.unit_id, ua.role::pg_catalog.oid AS role_oid, r.rolname AS role_name,
       (r.oid IS NULL) AS role_dropped
  FROM careflags.unit_access ua
  LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) ua.role::pg_catalog.oid;
COMMENT ON VIEW careflags.unit_access_named IS
    'careflags.unit_access with each role''s current name; role_dropped marks rows of roles that no longer exist (they give nobody anything; delete them)';

-- Extra index reads for the views.
CREATE INDEX episode_unit_ended ON careflags.episode (unit_id, ended_at);

-- Open flags of the caller's units (also upcoming and snoozed ones).
CREATE VIEW careflags.my_flags WITH (security_barrier = true) AS
SELECT n.* FROM (
    SELECT f.flag_id, f.patient_id, f.unit_id, f.rule_id, f.domain, f.severity,
           careflags.flag_state(f.due_from, f.due_at, f.due_soon_window, careflags.clock()) AS state,
           f.raised_at, f.due_from, f.due_at, f.due_soon_window, f.reason,
           f.acknowledged_at, f.acknowledged_by, f.snoozed_until
      FROM pg_catalog.unnest((SELECT careflags.my_units())::text[]) AS mu(unit_id)
     CROSS JOIN LATERAL (SELECT f.* FROM careflags.flag f
                          WHERE f.unit_id OPERATOR(pg_catalog.=) mu.unit_id AND f.resolved_at IS NULL OFFSET 0) f
     WHERE NOT pg_catalog.has_table_privilege('careflags.flag'::pg_catalog.regclass, 'SELECT')
    OFFSET 0) n
UNION ALL
SELECT f.flag_id, f.patient_id, f.unit_id, f.rule_id, f.domain, f.severity,
       careflags.flag_state(f.due_from, f.due_at, f.due_soon_window, careflags.clock()),
       f.raised_at, f.due_from, f.due_at, f.due_soon_window, f.reason,
       f.acknowledged_at, f.acknowledged_by, f.snoozed_until
  FROM careflags.flag f
 WHERE f.resolved_at IS NULL
   AND pg_catalog.has_table_privilege('careflags.flag'::pg_catalog.regclass, 'SELECT');
COMMENT ON VIEW careflags.my_flags IS
    'open flags (any state, snoozed too) of the caller''s units; every unit''s for a role that may read careflags.flag';

CREATE VIEW careflags.worklist WITH (security_barrier = true) AS
SELECT w.* FROM (
    SELECT n.* FROM (
        SELECT f.flag_id, f.patient_id, p.display_name AS patient, f.unit_id, u.name AS unit,
               f.rule_id, r.title, f.severity,
               careflags.flag_state(f.due_from, f.due_at, f.due_soon_window, careflags.clock()) AS state,
               f.due_from, f.due_at, f.reason, f.acknowledged_at, f.acknowledged_by
          FROM pg_catalog.unnest((SELECT careflags.my_units())::text[]) AS mu(unit_id)
         CROSS JOIN LATERAL (SELECT f.* FROM careflags.flag f
                              WHERE f.unit_id OPERATOR(pg_catalog.=) mu.unit_id AND f.resolved_at IS NULL OFFSET 0) f
         CROSS JOIN LATERAL (SELECT p.display_name FROM careflags.patient p
                              WHERE p.patient_id OPERATOR(pg_catalog.=) f.patient_id OFFSET 0) p
         CROSS JOIN LATERAL (SELECT r.title FROM careflags.rule r
                              WHERE r.rule_id OPERATOR(pg_catalog.=) f.rule_id OFFSET 0) r
          LEFT JOIN LATERAL (SELECT u.name FROM careflags.unit u
                              WHERE u.unit_id OPERATOR(pg_catalog.=) f.unit_id OFFSET 0) u ON true
         WHERE (f.snoozed_until IS NULL OR f.snoozed_until OPERATOR(pg_catalog.<=) careflags.clock())
           AND careflags.clock() OPERATOR(pg_catalog.>=) careflags.due_soon_from(f.due_from, f.due_soon_window)
           AND NOT (pg_catalog.has_table_privilege('careflags.flag'::pg_catalog.regclass, 'SELECT')
                    AND pg_catalog.has_table_privilege('careflags.patient'::pg_catalog.regclass, 'SELECT'))
        OFFSET 0) n
    UNION ALL
    SELECT f.flag_id, f.patient_id, p.display_name, f.unit_id, u.name, f.rule_id, r.title, f.severity,
           careflags.flag_state(f.due_from, f.due_at, f.due_soon_window, careflags.clock()),
           f.due_from, f.due_at, f.reason, f.acknowledged_at, f.acknowledged_by
      FROM careflags.flag f
      JOIN careflags.patient p ON p.patient_id OPERATOR(pg_catalog.=) f.patient_id
      JOIN careflags.rule r ON r.rule_id OPERATOR(pg_catalog.=) f.rule_id
      LEFT JOIN careflags.unit u ON u.unit_id OPERATOR(pg_catalog.=) f.unit_id
     WHERE f.resolved_at IS NULL
       AND (f.snoozed_until IS NULL OR f.snoozed_until OPERATOR(pg_catalog.<=) careflags.clock())
       AND careflags.clock() OPERATOR(pg_catalog.>=) careflags.due_soon_from(f.due_from, f.due_soon_window)
       AND pg_catalog.has_table_privilege('careflags.flag'::pg_catalog.regclass, 'SELECT')
       AND pg_catalog.has_table_privilege('careflags.patient'::pg_catalog.regclass, 'SELECT')) w
 ORDER BY w.severity, w.due_at, w.flag_id;
COMMENT ON VIEW careflags.worklist IS
    'open flags a nurse should act on now (due soon, due, overdue; not snoozed), for the caller''s units (every unit for a role that may read careflags.flag and careflags.patient), by severity then due time; state is computed at read time';

-- Patients a unit's nurses may see: while they are in the unit, and for the
-- unit's visible_after_leaving (default 30 days) after their episode there
-- ended.  One row per such episode.
CREATE VIEW careflags.my_patients WITH (security_barrier = true) AS
SELECT n.* FROM (
    SELECT p.patient_id, p.display_name, p.birth_date, p.sex, p.deceased,
           e.episode_id, e.unit_id, e.setting, e.started_at, e.ended_at
      FROM pg_catalog.unnest((SELECT careflags.my_units())::text[]) AS mu(unit_id)
      JOIN careflags.unit u ON u.unit_id OPERATOR(pg_catalog.=) mu.unit_id
     CROSS JOIN LATERAL (SELECT e.* FROM careflags.episode e
                          WHERE e.unit_id OPERATOR(pg_catalog.=) mu.unit_id
                            AND (e.ended_at IS NULL
                                 OR e.ended_at OPERATOR(pg_catalog.>) (careflags.clock() OPERATOR(pg_catalog.-) u.visible_after_leaving))
                         OFFSET 0) e
     CROSS JOIN LATERAL (SELECT p.patient_id, p.display_name, p.birth_date, p.sex, p.deceased
                           FROM careflags.patient p
                          WHERE p.patient_id OPERATOR(pg_catalog.=) e.patient_id OFFSET 0) p
     WHERE NOT pg_catalog.has_table_privilege('careflags.patient'::pg_catalog.regclass, 'SELECT')
    OFFSET 0) n
UNION ALL
SELECT p.patient_id, p.display_name, p.birth_date, p.sex, p.deceased,
       e.episode_id, e.unit_id, e.setting, e.started_at, e.ended_at
  FROM careflags.episode e
  JOIN careflags.unit u ON u.unit_id OPERATOR(pg_catalog.=) e.unit_id
  JOIN careflags.patient p ON p.patient_id OPERATOR(pg_catalog.=) e.patient_id
 WHERE (e.ended_at IS NULL
        OR e.ended_at OPERATOR(pg_catalog.>) (careflags.clock() OPERATOR(pg_catalog.-) u.visible_after_leaving))
   AND pg_catalog.has_table_privilege('careflags.patient'::pg_catalog.regclass, 'SELECT');
COMMENT ON VIEW careflags.my_patients IS
    'patients of the caller''s units, one row per episode there: current residents, and former ones until the unit''s visible_after_leaving has passed since they left';

-- ---- flag events: the outbox ----
-- Every raised, resolved, due-soon, due and overdue flag is written here in
-- the transaction that caused it, and NOTIFY careflags carries only its
-- event_id: any login may LISTEN, so the payload must mean nothing without
-- the right to read this table (row-level security, and the view below).
-- One place events are written, for later consumers too.
CREATE TABLE careflags.flag_event (
    event_id    bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['raised', 'resolved', 'due_soon', 'due', 'overdue'])),
    flag_id     bigint NOT NULL,
    patient_id  bigint NOT NULL,
    rule_id     text NOT NULL,
    unit_id     text,
    happened_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE careflags.flag_event IS
    'outbox of flag events (raised, resolved, due_soon, due, overdue), appended by careflags only; NOTIFY careflags carries just event_id; readers fetch the rest through careflags.my_flag_events; careflags.prune_events() removes old rows';
COMMENT ON SEQUENCE careflags.flag_event_event_id_seq IS 'ids of careflags.flag_event, the NOTIFY careflags payload (saved by pg_dump)';
CREATE INDEX flag_event_unit ON careflags.flag_event (unit_id, event_id);
CREATE INDEX flag_event_time ON careflags.flag_event (happened_at);
SELECT pg_catalog.pg_extension_config_dump('careflags.flag_event', '');
SELECT pg_catalog.pg_extension_config_dump('careflags.flag_event_event_id_seq', '');

CREATE VIEW careflags.my_flag_events WITH (security_barrier = true) AS
SELECT n.* FROM (
    SELECT e.event_id, e.kind, e.happened_at, e.flag_id, e.patient_id, e.unit_id, e.rule_id, r.title,
           CASE WHEN f.resolved_at IS NOT NULL THEN 'resolved'
                ELSE careflags.flag_state(f.due_from, f.due_at, f.due_soon_window, careflags.clock()) END AS state,
           f.due_at, f.reason, f.resolution
      FROM pg_catalog.unnest((SELECT careflags.my_units())::text[]) AS mu(unit_id)
     CROSS JOIN LATERAL (SELECT e.* FROM careflags.flag_event e
                          WHERE e.unit_id OPERATOR(pg_catalog.=) mu.unit_id OFFSET 0) e
      LEFT JOIN LATERAL (SELECT f.resolved_at, f.due_from, f.due_at, f.due_soon_window, f.reason, f.resolution
                           FROM careflags.flag f
                          WHERE f.patient_id OPERATOR(pg_catalog.=) e.patient_id
                            AND f.flag_id OPERATOR(pg_catalog.=) e.flag_id OFFSET 0) f ON true
      LEFT JOIN LATERAL (SELECT r.title FROM careflags.rule r
                          WHERE r.rule_id OPERATOR(pg_catalog.=) e.rule_id OFFSET 0) r ON true
     WHERE NOT pg_catalog.has_table_privilege('careflags.flag_event'::pg_catalog.regclass, 'SELECT')
    OFFSET 0) n
UNION ALL
SELECT e.event_id, e.kind, e.happened_at, e.flag_id, e.patient_id, e.unit_id, e.rule_id, r.title,
       CASE WHEN f.resolved_at IS NOT NULL THEN 'resolved'
            ELSE careflags.flag_state(f.due_from, f.due_at, f.due_soon_window, careflags.clock()) END,
       f.due_at, f.reason, f.resolution
  FROM careflags.flag_event e
  LEFT JOIN careflags.flag f ON f.patient_id OPERATOR(pg_catalog.=) e.patient_id
                              AND f.flag_id OPERATOR(pg_catalog.=) e.flag_id
  LEFT JOIN careflags.rule r ON r.rule_id OPERATOR(pg_catalog.=) e.rule_id
 WHERE pg_catalog.has_table_privilege('careflags.flag_event'::pg_catalog.regclass, 'SELECT');
COMMENT ON VIEW careflags.my_flag_events IS
    'flag events of the caller''s units (every unit''s for a role that may read careflags.flag_event), with the flag''s title, current state, deadline and reason: what careflags watch prints for a NOTIFY careflags event id';

-- Old events go (the background worker calls this at every pass).
CREATE FUNCTION careflags.prune_events(keep interval DEFAULT '7 days') RETURNS bigint
    LANGUAGE sql SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        WITH gone AS (DELETE FROM careflags.flag_event e
                       WHERE e.happened_at OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) prune_events.keep)
                       RETURNING 1)
        SELECT pg_catalog.count(*) FROM gone;
    END;
COMMENT ON FUNCTION careflags.prune_events(interval) IS
    'removes flag events older than keep (default 7 days) from careflags.flag_event; returns how many';
REVOKE ALL ON FUNCTION careflags.prune_events(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION careflags.prune_events(interval) TO careflags_admin;

-- ---- row-level security on the base tables ----
-- Nurses have no grant on them; the policies let careflags_admin read every
-- row, and keep every other role that might be granted the tables by
-- mistake at none.
DROP POLICY nurse_units ON careflags.flag;
DROP POLICY nurse_units ON careflags.episode;
DROP POLICY nurse_units ON careflags.patient;
ALTER TABLE careflags.flag_event ENABLE ROW LEVEL SECURITY;
CREATE POLICY admin_all ON careflags.flag_event FOR SELECT TO careflags_admin USING (true);
REVOKE ALL ON careflags.flag, careflags.patient, careflags.episode, careflags.unit_access FROM careflags_nurse;

GRANT SELECT ON careflags.worklist, careflags.my_flags, careflags.my_patients, careflags.my_flag_events,
    careflags.my_unit_access, careflags.unit TO careflags_nurse;
GRANT SELECT ON careflags.flag, careflags.episode, careflags.quarantine, careflags.patient_state,
    careflags.flag_event, careflags.worklist, careflags.my_flags, careflags.my_patients,
    careflags.my_flag_events, careflags.my_unit_access, careflags.unit_access_named TO careflags_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON careflags.unit, careflags.unit_access TO careflags_admin;
GRANT UPDATE (resolved_at) ON careflags.quarantine TO careflags_admin;
GRANT SELECT ON careflags.unit, careflags.unit_access, careflags.my_unit_access TO careflags_quality;

-- ==== reports and extract: month ends, k, audit; unit and rule ids bounded (issue 13) ====
-- The report functions gain a column (disclosure) and the extract two
-- (generalised; the log): dropped here and made again as in sql/parts/.
DROP FUNCTION careflags.indicator(text, date, integer, careflags.care_setting, text);
DROP FUNCTION careflags.indicator_nutrition_screening(date, integer, careflags.care_setting, text);
DROP FUNCTION careflags.indicator_nutrition_plan(date, integer, careflags.care_setting, text);
DROP FUNCTION careflags.indicator_medication_review(date, integer, careflags.care_setting, text);
DROP FUNCTION careflags.indicator_fall_risk_assessment(date, integer, careflags.care_setting, text);
DROP FUNCTION careflags.indicator_fall_risk_plan(date, integer, careflags.care_setting, text);
DROP FUNCTION careflags.indicators(date, integer, careflags.care_setting, text);
DROP FUNCTION careflags.indicator_by_unit(text, date, integer, careflags.care_setting);
DROP FUNCTION careflags.indicator_series_points(date, integer);
DROP FUNCTION careflags.indicator_series(text, date, integer, integer, careflags.care_setting, text);
DROP FUNCTION careflags.flag_response_times(date, integer, careflags.care_setting, text);
DROP FUNCTION careflags.extract(date, integer, interval, integer, careflags.care_setting, text);
DROP FUNCTION careflags.extract_rows(date, integer, interval, integer, careflags.care_setting, text);

-- What the report functions publish is never finer than a month, and no
-- count is smaller than k = careflags.min_cell_size (default 5; superuser
-- setting) unless it is zero:
--  * period ends are month ends that are over: a date is taken down to the
--    end of its month (of the month before when it is not the month's last
--    day); a month not over yet is refused.  A daily sweep learns nothing a
--    monthly one does not.
--  * an indicator's patients (all settings) are split into cells (setting,
--    unit).  A cell with a count from 1 to k-1 (its population or any
--    category) joins one merged group with the other such cells; while that
--    group is itself small, the smallest other cell joins it too.  A figure
--    is published when it is the sum of whole groups none of which is small,
--    so no published figure minus others gives a small cell; otherwise its
--    counts are withheld (NULL).  The column disclosure says which.
--  * with k > 1 the age limit is the national one, 67: two limits would
--    give, by difference, the patients between them.

-- The k of the reports (careflags.min_cell_size, read through the library
-- so that it is the superuser setting).
CREATE FUNCTION careflags.min_cell_size() RETURNS integer
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'careflags_min_cell_size';
COMMENT ON FUNCTION careflags.min_cell_size() IS
    'the smallest count the reports and the extract publish (careflags.min_cell_size, default 5; 1 publishes every count)';
REVOKE ALL ON FUNCTION careflags.min_cell_size() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION careflags.min_cell_size() TO careflags_quality, careflags_admin;

-- The period end a report or extract uses: the end of the month of the
-- date given when it is that month's last day, else the end of the month
-- before; NULL gives the last month that is over.  A month not over yet
-- (today's or later) is refused.
CREATE FUNCTION careflags.report_month_end(period_end date) RETURNS date
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    v_last date := (pg_catalog.date_trunc('month', careflags.report_today()::timestamp) - interval '1 day')::date;
    v_end  date;
BEGIN
    IF $1 IS NULL THEN
        RETURN v_last;
    END IF;
    IF NOT pg_catalog.isfinite($1) THEN
        RAISE EXCEPTION 'period end must be a date, not %', $1 USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_end := (pg_catalog.date_trunc('month', ($1 + 1)::timestamp) - interval '1 day')::date;
    IF v_end > v_last THEN
        RAISE EXCEPTION 'period end % is not in a month that is over', $1
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Reports and extracts end at the end of a past month; the latest is ' || v_last || '.',
                  HINT = 'Leave period_end out for the last month that is over.';
    END IF;
    RETURN v_end;
END
$$;
COMMENT ON FUNCTION careflags.report_month_end(date) IS
    'the period end of a report: the month end on or before the date (NULL: the last month that is over); refuses a month not yet over';
GRANT EXECUTE ON FUNCTION careflags.report_month_end(date) TO careflags_quality, careflags_admin, careflags_nurse;

-- With k > 1 only the national age limit: two limits would give, by
-- difference, the patients between them.
CREATE FUNCTION careflags.report_check_min_age(min_age integer) RETURNS integer
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF $1 IS DISTINCT FROM 67 AND careflags.min_cell_size() > 1 THEN
        RAISE EXCEPTION 'min_age must be 67 while small cells are suppressed'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Figures for two age limits would give, by difference, the few patients between them.',
                  HINT = 'A superuser may SET careflags.min_cell_size = 1 for unpublished, internal figures.';
    END IF;
    RETURN $1;
END
$$;
COMMENT ON FUNCTION careflags.report_check_min_age(integer) IS
    'internal: refuses an age limit other than 67 while careflags.min_cell_size > 1; returns it';
REVOKE ALL ON FUNCTION careflags.report_check_min_age(integer) FROM PUBLIC;

-- The cells of an indicator (all settings, per setting and unit) and how
-- they are published.  Populations first: cells of 1 to k-1 patients are
-- merged in group 0, and the smallest other cells join it while it is still
-- small; every other cell is a group of its own.  This grouping depends on
-- the population only, so it is the same for every indicator counted on the
-- whole population (a unit shown in one is shown in all; no population
-- follows by difference between indicators).  grp_small: group 0 still
-- small (only when it holds every cell).  Then categories: the groups with a
-- category count of 1 to k-1 have their categories withheld together (pool
-- W), and the smallest other groups join W while the categories W sums are
-- still small.  cat_withheld: the group is in W; w_small: W still small
-- (only when it holds every group: then no category is published).
CREATE FUNCTION careflags.indicator_cells(p_indicator text, p_period_end date, p_min_age integer)
    RETURNS TABLE (setting careflags.care_setting, unit_id text,
                   assessed bigint, not_assessed bigint, not_relevant bigint, not_recorded bigint,
                   population bigint, grp integer, grp_small boolean, cat_withheld boolean, w_small boolean)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    k       integer := careflags.min_cell_size();
    c       record;
    i       integer := 0;
    m_pop   bigint := 0;
    m_n     integer := 0;
    w       bigint[] := '{0,0,0,0}';
    w_n     integer := 0;
    w_grps  integer[] := '{}';
    v_set   careflags.care_setting[] := '{}';
    v_unit  text[] := '{}';
    v_a     bigint[] := '{}';
    v_na    bigint[] := '{}';
    v_nr    bigint[] := '{}';
    v_nrec  bigint[] := '{}';
    v_pop   bigint[] := '{}';
    v_grp   integer[] := '{}';
BEGIN
    FOR c IN
        SELECT x.*, x.population BETWEEN 1 AND k - 1 AS small
        FROM (SELECT ip.setting, ip.unit_id,
                     pg_catalog.count(*) FILTER (WHERE ip.category = 'assessed') AS assessed,
                     pg_catalog.count(*) FILTER (WHERE ip.category = 'not_assessed') AS not_assessed,
                     pg_catalog.count(*) FILTER (WHERE ip.category = 'not_relevant') AS not_relevant,
                     pg_catalog.count(*) FILTER (WHERE ip.category = 'not_recorded') AS not_recorded,
                     pg_catalog.count(*) AS population
              FROM careflags.indicator_patients($1, $2, $3, NULL, NULL) ip
              GROUP BY ip.setting, ip.unit_id) x
        ORDER BY 8 DESC, x.population, x.setting, x.unit_id NULLS FIRST
    LOOP
        i := i + 1;
        v_set := v_set || c.setting;
        v_unit := v_unit || c.unit_id;
        v_a := v_a || c.assessed;
        v_na := v_na || c.not_assessed;
        v_nr := v_nr || c.not_relevant;
        v_nrec := v_nrec || c.not_recorded;
        v_pop := v_pop || c.population;
        IF c.small OR (m_n > 0 AND m_pop BETWEEN 1 AND k - 1) THEN
            m_pop := m_pop + c.population;
            m_n := m_n + 1;
            v_grp := v_grp || 0;
        ELSE
            v_grp := v_grp || i;
        END IF;
    END LOOP;

    FOR c IN
        SELECT t.g, pg_catalog.sum(t.a) AS a, pg_catalog.sum(t.na) AS na, pg_catalog.sum(t.nr) AS nr,
               pg_catalog.sum(t.nrec) AS nrec,
               (pg_catalog.sum(t.a) BETWEEN 1 AND k - 1 OR pg_catalog.sum(t.na) BETWEEN 1 AND k - 1
                OR pg_catalog.sum(t.nr) BETWEEN 1 AND k - 1 OR pg_catalog.sum(t.nrec) BETWEEN 1 AND k - 1) AS small,
               pg_catalog.sum(t.pop) AS pop
        FROM ROWS FROM (pg_catalog.unnest(v_a), pg_catalog.unnest(v_na), pg_catalog.unnest(v_nr),
                        pg_catalog.unnest(v_nrec), pg_catalog.unnest(v_pop), pg_catalog.unnest(v_grp))
             AS t(a, na, nr, nrec, pop, g)
        GROUP BY t.g
        ORDER BY 6 DESC, 7, t.g
    LOOP
        IF c.small OR (w_n > 0 AND (w[1] BETWEEN 1 AND k - 1 OR w[2] BETWEEN 1 AND k - 1
                                    OR w[3] BETWEEN 1 AND k - 1 OR w[4] BETWEEN 1 AND k - 1)) THEN
            w := ARRAY[w[1] + c.a, w[2] + c.na, w[3] + c.nr, w[4] + c.nrec];
            w_n := w_n + 1;
            w_grps := w_grps || c.g;
        END IF;
    END LOOP;

    RETURN QUERY
    SELECT t.s, t.u, t.a, t.na, t.nr, t.nrec, t.pop, t.g,
           t.g = 0 AND m_pop BETWEEN 1 AND k - 1,
           t.g = ANY (w_grps),
           (w[1] BETWEEN 1 AND k - 1 OR w[2] BETWEEN 1 AND k - 1 OR w[3] BETWEEN 1 AND k - 1 OR w[4] BETWEEN 1 AND k - 1)
    FROM ROWS FROM (pg_catalog.unnest(v_set), pg_catalog.unnest(v_unit), pg_catalog.unnest(v_a), pg_catalog.unnest(v_na),
                   pg_catalog.unnest(v_nr), pg_catalog.unnest(v_nrec), pg_catalog.unnest(v_pop), pg_catalog.unnest(v_grp))
         AS t(s, u, a, na, nr, nrec, pop, g);
END
$$;
COMMENT ON FUNCTION careflags.indicator_cells(text, date, integer) IS
    'internal: an indicator''s counts per setting and unit, with the group each is published in (cells of fewer than k patients merged in group 0) and whether its categories are withheld';
REVOKE ALL ON FUNCTION careflags.indicator_cells(text, date, integer) FROM PUBLIC;

-- What may be published of an indicator for a setting and unit (or per
-- unit).  A population is published when it is the sum of whole groups and
-- not small; the categories too when none of those groups is in W, or all
-- of W is (and W is not small).  The shape of indicator_counts, plus units
-- (the units a merged row sums) and disclosure (NULL: counted as is; else
-- what was merged or withheld).
CREATE FUNCTION careflags.indicator_published(p_indicator text, p_period_end date, p_min_age integer,
                                                p_setting careflags.care_setting, p_unit text, p_by_unit boolean)
    RETURNS TABLE (indicator text, period_end date, setting careflags.care_setting, unit_id text,
                   numerator bigint, denominator bigint, share numeric,
                   assessed bigint, not_assessed bigint, not_relevant bigint, not_recorded bigint,
                   population bigint, units text[], disclosure text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH s AS (
        SELECT careflags.indicator_setting($1, $4) AS setting, careflags.min_cell_size() AS k
    ), sub AS (
        SELECT c.*, (s.setting IS NULL OR c.setting = s.setting) AND ($5 IS NULL OR c.unit_id = $5) AS inside
        FROM s, careflags.indicator_cells($1, $2, careflags.report_check_min_age($3)) c
    ), wn AS (
        SELECT pg_catalog.count(DISTINCT sub.grp) FILTER (WHERE sub.cat_withheld) AS groups,
               COALESCE(pg_catalog.bool_or(sub.w_small), false) AS small
        FROM sub
    ), g AS (
        SELECT sub.grp, pg_catalog.bool_and(sub.inside) AND NOT pg_catalog.bool_or(sub.grp_small) AS whole,
               pg_catalog.bool_or(sub.cat_withheld) AS in_w,
               pg_catalog.count(*) FILTER (WHERE sub.inside) AS cells,
               pg_catalog.array_agg(sub.unit_id ORDER BY sub.unit_id) FILTER (WHERE sub.inside) AS units,
               pg_catalog.sum(sub.assessed) FILTER (WHERE sub.inside)::bigint AS assessed,
               pg_catalog.sum(sub.not_assessed) FILTER (WHERE sub.inside)::bigint AS not_assessed,
               pg_catalog.sum(sub.not_relevant) FILTER (WHERE sub.inside)::bigint AS not_relevant,
               pg_catalog.sum(sub.not_recorded) FILTER (WHERE sub.inside)::bigint AS not_recorded,
               pg_catalog.sum(sub.population) FILTER (WHERE sub.inside)::bigint AS population
        FROM sub GROUP BY sub.grp HAVING pg_catalog.bool_or(sub.inside)
    ), r AS (
        SELECT CASE WHEN g.cells = 1 THEN g.units[1] END AS unit_id,
               CASE WHEN g.cells > 1 THEN g.units END AS units,
               g.whole AS pop_shown, g.whole AND NOT g.in_w AS cat_shown, g.cells > 1 AS merged,
               g.assessed, g.not_assessed, g.not_relevant, g.not_recorded, g.population
        FROM g WHERE $6
        UNION ALL
        SELECT $5, NULL, COALESCE(pg_catalog.bool_and(g.whole), true),
               COALESCE(pg_catalog.bool_and(g.whole), true)
               AND (NOT COALESCE(pg_catalog.bool_or(g.in_w), false)
                    OR (pg_catalog.count(*) FILTER (WHERE g.in_w) = pg_catalog.min(wn.groups) AND NOT pg_catalog.bool_or(wn.small))),
               false,
               COALESCE(pg_catalog.sum(g.assessed), 0)::bigint, COALESCE(pg_catalog.sum(g.not_assessed), 0)::bigint,
               COALESCE(pg_catalog.sum(g.not_relevant), 0)::bigint, COALESCE(pg_catalog.sum(g.not_recorded), 0)::bigint,
               COALESCE(pg_catalog.sum(g.population), 0)::bigint
        FROM wn LEFT JOIN g ON true WHERE NOT $6 HAVING NOT $6
    )
    SELECT $1, $2, s.setting, r.unit_id,
           CASE WHEN r.cat_shown THEN r.assessed END,
           CASE WHEN r.cat_shown THEN r.assessed + r.not_assessed + r.not_recorded END,
           CASE WHEN r.cat_shown AND r.assessed + r.not_assessed + r.not_recorded > 0
                THEN pg_catalog.round(100.0 * r.assessed / (r.assessed + r.not_assessed + r.not_recorded), 1) END,
           CASE WHEN r.cat_shown THEN r.assessed END, CASE WHEN r.cat_shown THEN r.not_assessed END,
           CASE WHEN r.cat_shown THEN r.not_relevant END, CASE WHEN r.cat_shown THEN r.not_recorded END,
           CASE WHEN r.pop_shown THEN r.population END,
           r.units,
           CASE WHEN NOT r.pop_shown THEN 'withheld: a count below ' || s.k || ' (or such a count by difference)'
                WHEN NOT r.cat_shown THEN 'categories withheld: a count below ' || s.k || ' (or such a count by difference)'
                WHEN r.merged THEN 'merged: units with fewer than ' || s.k || ' patients, counted together' END
    FROM r, s
    ORDER BY r.unit_id NULLS LAST, r.units
    $$;
COMMENT ON FUNCTION careflags.indicator_published(text, date, integer, careflags.care_setting, text, boolean) IS
    'internal: an indicator as it may be published (no count below careflags.min_cell_size, by itself or by difference), for one setting/unit or per unit';
REVOKE ALL ON FUNCTION careflags.indicator_published(text, date, integer, careflags.care_setting, text, boolean) FROM PUBLIC;

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
                   population bigint, disclosure text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT c.indicator, c.period_end, c.setting, c.unit_id, c.numerator, c.denominator, c.share,
           c.assessed, c.not_assessed, c.not_relevant, c.not_recorded, c.population, c.disclosure
    FROM careflags.indicator_published($1, careflags.report_month_end($2), $3, $4, $5, false) c
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
                               population bigint, disclosure text)
                LANGUAGE sql STABLE SECURITY DEFINER
                SET search_path = pg_catalog, pg_temp
                AS $b$SELECT c.indicator, c.period_end, c.setting, c.unit_id, c.numerator, c.denominator, c.share,
                              c.assessed, c.not_assessed, c.not_relevant, c.not_recorded, c.population, c.disclosure
                       FROM careflags.indicator_published(%3$L, careflags.report_month_end($1), $2, $3, $4, false) c$b$;
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
                   population bigint, disclosure text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT l.indicator, l.title, c.period_end, c.setting, c.unit_id, c.numerator, c.denominator, c.share,
           c.assessed, c.not_assessed, c.not_relevant, c.not_recorded, c.population, c.disclosure
    FROM careflags.indicator_list() WITH ORDINALITY AS l
    CROSS JOIN LATERAL careflags.indicator_published(l.indicator, careflags.report_month_end($1),
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
                   population bigint, units text[], disclosure text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT c.indicator, c.period_end, c.setting, c.unit_id,
           CASE WHEN c.units IS NOT NULL THEN 'units counted together: ' || pg_catalog.array_to_string(c.units, ', ', '(no unit)')
                ELSE u.name END,
           c.numerator, c.denominator, c.share,
           c.assessed, c.not_assessed, c.not_relevant, c.not_recorded, c.population, c.units, c.disclosure
    FROM careflags.indicator_published($1, careflags.report_month_end($2), $3, $4, NULL, true) c
    LEFT JOIN careflags.unit u ON u.unit_id = c.unit_id
    ORDER BY c.unit_id NULLS LAST, c.units
    $$;
COMMENT ON FUNCTION careflags.indicator_by_unit(text, date, integer, careflags.care_setting) IS
    'an indicator per unit, for comparing units; the row with unit_id NULL and units NULL counts episodes that have no unit recorded; a row with units lists units merged because one had a count below careflags.min_cell_size; disclosure says what was merged or withheld';

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
                   population bigint, disclosure text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT c.indicator, c.period_end, c.setting, c.unit_id, c.numerator, c.denominator, c.share,
           c.assessed, c.not_assessed, c.not_relevant, c.not_recorded, c.population, c.disclosure
    FROM careflags.indicator_series_points(careflags.report_month_end($2), $3) WITH ORDINALITY AS pt(point, n)
    CROSS JOIN LATERAL careflags.indicator_published($1, pt.point, $4, $5, $6, false) c
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
                   median_days numeric, p90_days numeric, on_time_share numeric, disclosure text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH w AS (
        SELECT r.starts_at, r.ends_at,
               (careflags.report_month_end($1)
                - pg_catalog.make_interval(years => careflags.report_check_min_age($2)))::date AS born_by,
               careflags.min_cell_size() AS k
        FROM careflags.report_period(careflags.report_month_end($1)) r
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
    ), t AS (
        SELECT f.domain, f.rule_id, pg_catalog.count(*) AS resolved,
               pg_catalog.round(pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY f.days)::numeric, 1) AS median_days,
               pg_catalog.round(pg_catalog.percentile_cont(0.9) WITHIN GROUP (ORDER BY f.days)::numeric, 1) AS p90_days,
               pg_catalog.round(100.0 * pg_catalog.count(*) FILTER (WHERE f.on_time) / NULLIF(pg_catalog.count(*), 0), 1) AS on_time_share,
               pg_catalog.count(*) BETWEEN 1 AND (SELECT w.k FROM w) - 1 AS small
        FROM f
        GROUP BY ROLLUP (f.domain, f.rule_id)
    ), u AS (
        -- a total with a withheld part withholds its count too (else the
        -- part follows by difference)
        SELECT t.*, EXISTS (SELECT FROM t c WHERE c.small AND c.rule_id IS NOT NULL
                            AND (t.domain IS NULL OR (t.rule_id IS NULL AND c.domain = t.domain))) AS part_small
        FROM t
    )
    SELECT u.domain, u.rule_id,
           CASE WHEN NOT u.small AND NOT u.part_small THEN u.resolved END,
           CASE WHEN NOT u.small THEN u.median_days END,
           CASE WHEN NOT u.small THEN u.p90_days END,
           CASE WHEN NOT u.small THEN u.on_time_share END,
           CASE WHEN u.small THEN 'withheld: fewer than ' || (SELECT w.k FROM w) || ' flags'
                WHEN u.part_small THEN 'count withheld: a part has fewer than ' || (SELECT w.k FROM w) || ' flags' END
    FROM u
    ORDER BY u.domain NULLS LAST, u.rule_id NULLS FIRST
    $$;
COMMENT ON FUNCTION careflags.flag_response_times(date, integer, careflags.care_setting, text) IS
    'response times of flags resolved as done in the 12 months ending with period_end, per rule, per domain (rule_id NULL) and overall (both NULL): count, median and 90th percentile days from due_from to resolution (0 when done before it was due), and the share done by due_at (%); rows of fewer than careflags.min_cell_size flags are withheld (disclosure)';

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

-- The extract.  Its period ends are month ends that are over
-- (careflags.report_month_end), `periods - 1` steps of whole months back;
-- ages are bands at each period end.  So a registry learns, of a pseudonym,
-- at most the month it first appears and the month its age band changes.
-- Within each period end, every class of rows with the same (setting, unit,
-- sex, age band) holds at least k = careflags.min_cell_size rows: the rows
-- of a smaller class get a wider age band (under 67, 67-79, 80+), then no
-- unit, then no sex and one age band (67+ or all ages); rows still in a
-- class below k are left out.  Column generalised names what was widened;
-- every call is logged in careflags.extract_log.

-- The wider age band of the extract's generalisation.
CREATE FUNCTION careflags.age_band_wide(band text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN CASE
        WHEN band IN ('67-69', '70-74', '75-79') THEN '67-79'
        WHEN band IN ('80-84', '85-89', '90+') THEN '80+'
        WHEN band = 'unknown' THEN 'unknown'
        ELSE '0-66'
    END;
COMMENT ON FUNCTION careflags.age_band_wide(text) IS
    'the wider age band an extract row gets when its class is below careflags.min_cell_size: 0-66, 67-79, 80+, unknown';

CREATE FUNCTION careflags.extract_rows(p_period_end date, p_periods integer, p_step interval,
                                         p_min_age integer, p_setting careflags.care_setting, p_unit text)
    RETURNS TABLE (pseudonym text, key_generation integer, period_end date,
                   age_band text, sex careflags.sex, setting careflags.care_setting, unit_id text,
                   nutrition_screening text, nutrition_at_risk boolean, nutrition_plan text,
                   medication_review text,
                   fall_risk_assessment text, fall_risk_high boolean, fall_risk_plan text,
                   generalised text[])
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    -- five function scans joined look expensive to the planner; compiling
    -- them with JIT costs more than the query itself
    SET jit = off AS
$$
#variable_conflict use_column
DECLARE
    v_end    date := careflags.report_month_end($1);
    v_point  date;
    v_key    bytea;
    v_gen    integer;
    v_months integer;
    v_k      integer := careflags.min_cell_size();
    k        integer;
BEGIN
    IF $2 IS NULL OR $2 < 1 OR $2 > 120 THEN
        RAISE EXCEPTION 'periods must be between 1 and 120, not %', COALESCE($2::text, 'null')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF $3 IS NULL OR EXTRACT(day FROM $3) <> 0 OR EXTRACT(epoch FROM $3 - pg_catalog.date_trunc('month', $3)) <> 0
       OR EXTRACT(year FROM $3) * 12 + EXTRACT(month FROM $3) < 1 THEN
        RAISE EXCEPTION 'step must be a whole number of months, at least one, not %', COALESCE($3::text, 'null')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Extracts are made at month ends only.';
    END IF;
    v_months := (EXTRACT(year FROM $3) * 12 + EXTRACT(month FROM $3))::integer;
    SELECT pk.secret, pk.generation INTO v_key, v_gen FROM careflags.pseudonym_key pk;
    IF v_key IS NULL THEN
        RAISE EXCEPTION 'no pseudonym secret'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'An administrator makes one with SELECT careflags.rotate_pseudonym_key();';
    END IF;
    FOR k IN 0 .. $2 - 1 LOOP
        v_point := (pg_catalog.date_trunc('month', v_end::timestamp)
                    - pg_catalog.make_interval(months => k * v_months - 1) - interval '1 day')::date;
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
        ), r0 AS (
            SELECT careflags.pseudonym_hmac(v_key, careflags.pseudonym_message(p.source_system, p.source_key)) AS pseudonym,
                   careflags.age_band(EXTRACT(year FROM pg_catalog.age(v_point, p.birth_date))::integer) AS age_band,
                   p.sex, b.setting, b.unit_id,
                   b.category AS nutrition_screening,
                   CASE WHEN np.patient_id IS NOT NULL THEN NULLIF(np.at_risk, false) ELSE b.at_risk END AS nutrition_at_risk,
                   np.category AS nutrition_plan, mr.category AS medication_review,
                   fra.category AS fall_risk_assessment,
                   CASE WHEN fp.patient_id IS NOT NULL THEN NULLIF(fp.at_risk, false) ELSE fra.at_risk END AS fall_risk_high,
                   fp.category AS fall_risk_plan
            FROM base b
            JOIN careflags.patient p ON p.patient_id = b.patient_id
            LEFT JOIN fra ON fra.patient_id = b.patient_id
            LEFT JOIN np ON np.patient_id = b.patient_id
            LEFT JOIN fp ON fp.patient_id = b.patient_id
            LEFT JOIN mr ON mr.patient_id = b.patient_id
        ), r1 AS (
            -- step 1: a wider age band for rows of a class below k
            SELECT r0.*, pg_catalog.count(*) OVER (PARTITION BY r0.setting, r0.unit_id, r0.sex, r0.age_band) < v_k AS g1
            FROM r0
        ), r1b AS (
            SELECT r1.*, CASE WHEN r1.g1 THEN careflags.age_band_wide(r1.age_band) ELSE r1.age_band END AS band1
            FROM r1
        ), r2 AS (
            -- step 2: no unit for rows still in a class below k
            SELECT r1b.*, r1b.g1 AND pg_catalog.count(*) OVER (PARTITION BY r1b.setting, r1b.unit_id, r1b.sex, r1b.band1) < v_k AS g2
            FROM r1b
        ), r2b AS (
            SELECT r2.*, CASE WHEN r2.g2 THEN NULL ELSE r2.unit_id END AS unit2 FROM r2
        ), r3 AS (
            -- step 3: no sex and one age band
            SELECT r2b.*, r2b.g2 AND pg_catalog.count(*) OVER (PARTITION BY r2b.setting, r2b.unit2, r2b.sex, r2b.band1) < v_k AS g3
            FROM r2b
        ), r3b AS (
            SELECT r3.*, CASE WHEN r3.g3 THEN NULL ELSE r3.sex END AS sex3,
                   CASE WHEN NOT r3.g3 THEN r3.band1 WHEN r3.band1 IN ('67-79', '80+') THEN '67+' ELSE 'all' END AS band3
            FROM r3
        ), r4 AS (
            -- step 4: rows still in a class below k are left out
            SELECT r3b.*, pg_catalog.count(*) OVER (PARTITION BY r3b.setting, r3b.unit2, r3b.sex3, r3b.band3) < v_k AS g4
            FROM r3b
        )
        SELECT r4.pseudonym, v_gen, v_point, r4.band3, r4.sex3, r4.setting, r4.unit2,
               r4.nutrition_screening, r4.nutrition_at_risk, r4.nutrition_plan, r4.medication_review,
               r4.fall_risk_assessment, r4.fall_risk_high, r4.fall_risk_plan,
               CASE WHEN r4.g4 THEN '{left_out}'::text[]
                    WHEN r4.g3 THEN '{age_band,unit_id,sex}'::text[]
                    WHEN r4.g2 THEN '{age_band,unit_id}'::text[]
                    WHEN r4.g1 THEN '{age_band}'::text[]
                    ELSE '{}'::text[] END
        FROM r4
        ORDER BY 1;
    END LOOP;
END
$$;
COMMENT ON FUNCTION careflags.extract_rows(date, integer, interval, integer, careflags.care_setting, text) IS
    'internal: the rows of careflags.extract(), rows to leave out marked {left_out}; not granted to anyone';
REVOKE ALL ON FUNCTION careflags.extract_rows(date, integer, interval, integer, careflags.care_setting, text) FROM PUBLIC;

-- Who asked for which extract, when, and how many rows it gave.
CREATE TABLE careflags.extract_log (
    log_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    called_at       timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    session_role    name NOT NULL DEFAULT SESSION_USER,
    acting_role     name NOT NULL,
    arguments       jsonb NOT NULL,
    rows_returned   bigint NOT NULL,
    rows_left_out   bigint NOT NULL
);
COMMENT ON TABLE careflags.extract_log IS
    'one row per careflags.extract() call: who (session and current role), when, the arguments as given, the rows returned and the rows left out (classes below careflags.min_cell_size); careflags_admin reads it';
COMMENT ON COLUMN careflags.extract_log.acting_role IS 'the role the caller acted as (SET ROLE; else the login)';
REVOKE ALL ON careflags.extract_log FROM PUBLIC;
GRANT SELECT ON careflags.extract_log TO careflags_admin;
COMMENT ON SEQUENCE careflags.extract_log_log_id_seq IS 'ids of careflags.extract_log (saved by pg_dump)';
SELECT pg_catalog.pg_extension_config_dump('careflags.extract_log', '');
SELECT pg_catalog.pg_extension_config_dump('careflags.extract_log_log_id_seq', '');

-- The rows of the extract without those left out, and the call logged.
CREATE FUNCTION careflags.extract_logged(p_period_end date, p_periods integer, p_step interval,
                                           p_min_age integer, p_setting careflags.care_setting, p_unit text)
    RETURNS TABLE (pseudonym text, key_generation integer, period_end date,
                   age_band text, sex careflags.sex, setting careflags.care_setting, unit_id text,
                   nutrition_screening text, nutrition_at_risk boolean, nutrition_plan text,
                   medication_review text,
                   fall_risk_assessment text, fall_risk_high boolean, fall_risk_plan text,
                   generalised text[])
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
#variable_conflict use_column
DECLARE
    r     record;
    n_out bigint := 0;
    n_all bigint := 0;
BEGIN
    FOR r IN SELECT * FROM careflags.extract_rows($1, $2, $3, $4, $5, $6) x ORDER BY x.period_end, x.pseudonym LOOP
        IF r.generalised OPERATOR(pg_catalog.@>) '{left_out}' THEN
            n_out := n_out + 1;
            CONTINUE;
        END IF;
        n_all := n_all + 1;
        pseudonym := r.pseudonym;
        key_generation := r.key_generation;
        period_end := r.period_end;
        age_band := r.age_band;
        sex := r.sex;
        setting := r.setting;
        unit_id := r.unit_id;
        nutrition_screening := r.nutrition_screening;
        nutrition_at_risk := r.nutrition_at_risk;
        nutrition_plan := r.nutrition_plan;
        medication_review := r.medication_review;
        fall_risk_assessment := r.fall_risk_assessment;
        fall_risk_high := r.fall_risk_high;
        fall_risk_plan := r.fall_risk_plan;
        generalised := r.generalised;
        RETURN NEXT;
    END LOOP;
    INSERT INTO careflags.extract_log (acting_role, arguments, rows_returned, rows_left_out)
        VALUES (COALESCE(NULLIF(pg_catalog.current_setting('role'), 'none'), SESSION_USER),
                pg_catalog.jsonb_build_object('period_end', $1, 'periods', $2, 'step', $3, 'min_age', $4,
                                              'setting', $5, 'unit', $6),
                n_all, n_out);
END
$$;
COMMENT ON FUNCTION careflags.extract_logged(date, integer, interval, integer, careflags.care_setting, text) IS
    'internal: careflags.extract() rows without those left out, the call logged in careflags.extract_log; not granted to anyone';
REVOKE ALL ON FUNCTION careflags.extract_logged(date, integer, interval, integer, careflags.care_setting, text) FROM PUBLIC;

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
                   fall_risk_assessment text, fall_risk_high boolean, fall_risk_plan text,
                   generalised text[])
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT * FROM careflags.extract_logged($1, $2, $3, $4, $5, $6) $$;
COMMENT ON FUNCTION careflags.extract(date, integer, interval, integer, careflags.care_setting, text) IS
    'pseudonymised registry extract: one row per patient and period end (the month end period_end falls in or the one before, and periods-1 steps of whole months back), with pseudonym = HMAC-SHA256 of the source key under the site secret, age band, sex, setting, unit and the category in each indicator; every (setting, unit, sex, age band) class has at least careflags.min_cell_size rows (generalised says what was widened); no names, birth dates or source keys; logged in careflags.extract_log';
REVOKE ALL ON FUNCTION careflags.extract(date, integer, interval, integer, careflags.care_setting, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION careflags.extract(date, integer, interval, integer, careflags.care_setting, text)
    TO careflags_quality, careflags_admin;

-- Unit and rule ids reach every flag, NOTIFY payload and worklist: the guard
-- refuses (an error: these are administrators' writes) ids longer than
-- careflags.max_identifier_length and names longer than
-- careflags.max_text_length.
CREATE TRIGGER unit_guard BEFORE INSERT OR UPDATE ON careflags.unit
    FOR EACH ROW EXECUTE FUNCTION careflags.fact_guard();
COMMENT ON TRIGGER unit_guard ON careflags.unit IS
    'refuses a unit id longer than careflags.max_identifier_length or a name longer than careflags.max_text_length';
CREATE TRIGGER rule_guard BEFORE INSERT OR UPDATE ON careflags.rule
    FOR EACH ROW EXECUTE FUNCTION careflags.fact_guard();
COMMENT ON TRIGGER rule_guard ON careflags.rule IS
    'refuses a rule id longer than careflags.max_identifier_length or a title or description longer than careflags.max_text_length';
-- ==== end: reports, extract, identifier bounds (issue 13) ====

-- ==== a record store's code runs as its owner: run_as_owner() (issue 13) ====
CREATE FUNCTION careflags.run_as_owner(target regclass, statement text, VARIADIC args text[] DEFAULT '{}')
    RETURNS SETOF text[]
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'careflags_run_as_owner';
COMMENT ON FUNCTION careflags.run_as_owner(regclass, text, text[]) IS
    'runs one SELECT/INSERT/UPDATE/DELETE (text parameters $1.., cast in the statement) as the owner of target, in a security-restricted operation with search_path pg_catalog, pg_temp; returns each result row as text[]; only for roles that already have the owner''s privileges (it never raises rights); for plugins writing a record system''s tables';
REVOKE ALL ON FUNCTION careflags.run_as_owner(regclass, text, text[]) FROM PUBLIC;

-- ==== loading without shared_preload_libraries (issue 16) ====
CREATE FUNCTION careflags.preloaded() RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'careflags_preloaded';
COMMENT ON FUNCTION careflags.preloaded() IS
    'whether the careflags library was loaded through shared_preload_libraries: only then run the background worker (time-driven re-evaluation, NOTIFY of flags becoming due) and careflags.evaluate_in_worker; flags, triggers, worklist and reports work either way';
GRANT EXECUTE ON FUNCTION careflags.preloaded() TO PUBLIC;

CREATE FUNCTION careflags.announce_missing_preload() RETURNS boolean
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'careflags_announce_missing_preload';
COMMENT ON FUNCTION careflags.announce_missing_preload() IS
    'internal, for the install and update scripts: when careflags is not in shared_preload_libraries, a NOTICE saying what is missing and naming the setting is sent when the transaction commits (a script''s own notices are not shown); returns whether it will be';
REVOKE ALL ON FUNCTION careflags.announce_missing_preload() FROM PUBLIC;


-- ==== language and one row per action (issue 15) ====
-- sql/parts/47_language.sql - the language a nurse and a quality lead read
-- (clinical-rules.md §8): bokmål by default, nynorsk or English chosen by
-- careflags.language per database, role or session.  A flag keeps what its
-- reason says as data (careflags.flag.details); the text is rendered in C
-- when it is read, so two readers in two languages read the same flag each
-- in their own.  Rule titles per language are a table a site extends.

COMMENT ON COLUMN careflags.flag.details IS
    'what the reason says, as data (kind, domain, setting, dates as local dates, figures, instrument or medicine): careflags.reason_text() renders it in careflags.language; reason keeps the English text as written';

CREATE FUNCTION careflags.language() RETURNS text
    LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'careflags_language';
COMMENT ON FUNCTION careflags.language() IS
    'the language careflags shows texts in now: careflags.language (nb bokmål, the default; nn nynorsk; en English)';

CREATE FUNCTION careflags.reason_text(details jsonb, reason text, lang text DEFAULT NULL) RETURNS text
    LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'careflags_reason_text';
COMMENT ON FUNCTION careflags.reason_text(jsonb, text, text) IS
    'a flag''s reason in a language (default careflags.language), rendered from its reason data; the stored reason when there is none';

CREATE FUNCTION careflags.state_text(state text, lang text DEFAULT NULL) RETURNS text
    LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'careflags_state_text';
COMMENT ON FUNCTION careflags.state_text(text, text) IS
    'a flag state (upcoming, due_soon, due, overdue, resolved) in a language: kommende, frist snart, innen fristen, over fristen, avsluttet';

CREATE FUNCTION careflags.action_label(action text, lang text DEFAULT NULL) RETURNS text
    LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'careflags_action_label';
COMMENT ON FUNCTION careflags.action_label(text, text) IS
    'an action''s name in a language (Ernæringsscreening, Ernæringsplan, Legemiddelgjennomgang, Fallrisikovurdering, Plan for fallforebygging)';

CREATE FUNCTION careflags.action_text(action text, details jsonb[], due_at timestamptz, lang text DEFAULT NULL) RETURNS text
    LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'careflags_action_text';
COMMENT ON FUNCTION careflags.action_text(text, jsonb[], timestamptz, text) IS
    'one action row in a language, at most 140 characters: the action, what each rule behind it says (short), and the earliest deadline';

-- Rule titles per language; a rule without a row here shows careflags.rule.title.
CREATE TABLE careflags.rule_text (
    rule_id  text NOT NULL REFERENCES careflags.rule ON UPDATE CASCADE ON DELETE CASCADE,
    language text NOT NULL CHECK (language OPERATOR(pg_catalog.=) ANY (ARRAY['nb', 'nn', 'en'])),
    title    text NOT NULL,
    origin   text NOT NULL DEFAULT 'site' CHECK (origin OPERATOR(pg_catalog.=) ANY (ARRAY['default', 'site'])),
    PRIMARY KEY (rule_id, language)
);
COMMENT ON TABLE careflags.rule_text IS
    'rule titles per language (nb, nn, en); a site adds rows for its own rules (origin site, saved by pg_dump); a rule without a row in a language shows careflags.rule.title';
SELECT pg_catalog.pg_extension_config_dump('careflags.rule_text', 'WHERE origin OPERATOR(pg_catalog.=) ''site''');
GRANT SELECT ON careflags.rule_text TO careflags_nurse, careflags_quality, careflags_admin;
GRANT INSERT, UPDATE, DELETE ON careflags.rule_text TO careflags_admin;

INSERT INTO careflags.rule_text (rule_id, language, title, origin)
SELECT v.rule_id, l.language, CASE l.language WHEN 'nb' THEN v.nb ELSE v.nn END, 'default'
  FROM (VALUES
    ('nutrition.screening.admission_short_term', 'Ernæringsscreening ved innkomst', 'Ernæringsscreening ved innkomst'),
    ('nutrition.screening.admission_long_term', 'Ernæringsscreening ved innkomst', 'Ernæringsscreening ved innkomst'),
    ('nutrition.screening.start_of_home_care', 'Ernæringsscreening ved oppstart av hjemmetjenester', 'Ernæringsscreening ved oppstart av heimetenester'),
    ('nutrition.screening.repeat', 'Ny ernæringsscreening', 'Ny ernæringsscreening'),
    ('nutrition.screening.repeat_home_services', 'Ny ernæringsscreening', 'Ny ernæringsscreening'),
    ('nutrition.plan.missing', 'Ernæringsplan mangler', 'Ernæringsplan manglar'),
    ('nutrition.plan.evaluation', 'Evaluer ernæringsplanen', 'Evaluer ernæringsplanen'),
    ('nutrition.plan.evaluation_short_term', 'Evaluer ernæringsplanen', 'Evaluer ernæringsplanen'),
    ('nutrition.plan.evaluation_home_services', 'Evaluer ernæringsplanen', 'Evaluer ernæringsplanen'),
    ('nutrition.weight_loss', 'Vekttap eller lav KMI', 'Vekttap eller låg KMI'),
    ('medication_review.admission', 'Legemiddelgjennomgang ved innkomst', 'Legemiddelgjennomgang ved innkomst'),
    ('medication_review.annual', 'Årlig legemiddelgjennomgang', 'Årleg legemiddelgjennomgang'),
    ('medication_review.polypharmacy', 'Legemiddelgjennomgang (4 eller flere legemidler)', 'Legemiddelgjennomgang (4 eller fleire legemiddel)'),
    ('medication_review.fall_risk_drugs', 'Legemiddelgjennomgang: fallrisikolegemidler', 'Legemiddelgjennomgang: fallrisikolegemiddel'),
    ('medication_review.excessive_polypharmacy', 'Legemiddelgjennomgang (10 eller flere legemidler)', 'Legemiddelgjennomgang (10 eller fleire legemiddel)'),
    ('fall_risk.assessment.admission', 'Fallrisikovurdering ved innkomst', 'Fallrisikovurdering ved innkomst'),
    ('fall_risk.assessment.repeat', 'Ny fallrisikovurdering', 'Ny fallrisikovurdering'),
    ('fall_risk.assessment.after_fall', 'Fallrisikovurdering etter fall', 'Fallrisikovurdering etter fall'),
    ('fall_risk.high.no_plan', 'Plan for fallforebygging mangler', 'Plan for fallførebygging manglar')
  ) AS v(rule_id, nb, nn)
 CROSS JOIN (VALUES ('nb'), ('nn')) AS l(language);

CREATE FUNCTION careflags.rule_title(rule_id text, lang text DEFAULT NULL) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN COALESCE(
        (SELECT t.title FROM careflags.rule_text t
          WHERE t.rule_id OPERATOR(pg_catalog.=) rule_title.rule_id
            AND t.language OPERATOR(pg_catalog.=) COALESCE(rule_title.lang, careflags.language())),
        (SELECT r.title FROM careflags.rule r WHERE r.rule_id OPERATOR(pg_catalog.=) rule_title.rule_id));
COMMENT ON FUNCTION careflags.rule_title(text, text) IS
    'a rule''s title in a language (default careflags.language) from careflags.rule_text, else careflags.rule.title';

-- The action a rule's flag asks for (clinical-rules.md §7.18): what the
-- nurse does, one worklist row per patient and action (careflags.actions).
CREATE FUNCTION careflags.action_of(domain careflags.domain, anchor careflags.rule_anchor) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN CASE
        WHEN domain OPERATOR(pg_catalog.=) 'medication_review' THEN 'medication_review'
        WHEN domain OPERATOR(pg_catalog.=) 'nutrition' AND anchor OPERATOR(pg_catalog.=) ANY (ARRAY['risk_result', 'plan_evaluation']::careflags.rule_anchor[])
            THEN 'nutrition_plan'
        WHEN domain OPERATOR(pg_catalog.=) 'nutrition' THEN 'nutrition_screening'
        WHEN anchor OPERATOR(pg_catalog.=) ANY (ARRAY['risk_result', 'plan_evaluation']::careflags.rule_anchor[])
            THEN 'fall_prevention_plan'
        ELSE 'fall_risk_assessment' END;
COMMENT ON FUNCTION careflags.action_of(careflags.domain, careflags.rule_anchor) IS
    'the action a rule of this domain and anchor asks for: nutrition_screening (admission, repeat, weight loss), nutrition_plan, medication_review, fall_risk_assessment, fall_prevention_plan (clinical-rules.md §7.18)';

CREATE OR REPLACE VIEW careflags.worklist WITH (security_barrier = true) AS
SELECT w.*, careflags.rule_title(w.rule_id) AS title_text,
       careflags.reason_text(w.details, w.reason) AS reason_text,
       careflags.state_text(w.state) AS state_text FROM (
    SELECT n.* FROM (
        SELECT f.flag_id, f.patient_id, p.display_name AS patient, f.unit_id, u.name AS unit,
               f.rule_id, r.title, f.severity,
               careflags.flag_state(f.due_from, f.due_at, f.due_soon_window, careflags.clock()) AS state,
               f.due_from, f.due_at, f.reason, f.acknowledged_at, f.acknowledged_by,
               f.details, careflags.action_of(f.domain, r.anchor) AS action
          FROM pg_catalog.unnest((SELECT careflags.my_units())::text[]) AS mu(unit_id)
         CROSS JOIN LATERAL (SELECT f.* FROM careflags.flag f
                              WHERE f.unit_id OPERATOR(pg_catalog.=) mu.unit_id AND f.resolved_at IS NULL OFFSET 0) f
         CROSS JOIN LATERAL (SELECT p.display_name FROM careflags.patient p
                              WHERE p.patient_id OPERATOR(pg_catalog.=) f.patient_id OFFSET 0) p
         CROSS JOIN LATERAL (SELECT r.title, r.anchor FROM careflags.rule r
                              WHERE r.rule_id OPERATOR(pg_catalog.=) f.rule_id OFFSET 0) r
          LEFT JOIN LATERAL (SELECT u.name FROM careflags.unit u
                              WHERE u.unit_id OPERATOR(pg_catalog.=) f.unit_id OFFSET 0) u ON true
         WHERE (f.snoozed_until IS NULL OR f.snoozed_until OPERATOR(pg_catalog.<=) careflags.clock())
           AND careflags.clock() OPERATOR(pg_catalog.>=) careflags.due_soon_from(f.due_from, f.due_soon_window)
           AND NOT (pg_catalog.has_table_privilege('careflags.flag'::pg_catalog.regclass, 'SELECT')
                    AND pg_catalog.has_table_privilege('careflags.patient'::pg_catalog.regclass, 'SELECT'))
        OFFSET 0) n
    UNION ALL
    SELECT f.flag_id, f.patient_id, p.display_name, f.unit_id, u.name, f.rule_id, r.title, f.severity,
           careflags.flag_state(f.due_from, f.due_at, f.due_soon_window, careflags.clock()),
           f.due_from, f.due_at, f.reason, f.acknowledged_at, f.acknowledged_by,
           f.details, careflags.action_of(f.domain, r.anchor)
      FROM careflags.flag f
      JOIN careflags.patient p ON p.patient_id OPERATOR(pg_catalog.=) f.patient_id
      JOIN careflags.rule r ON r.rule_id OPERATOR(pg_catalog.=) f.rule_id
      LEFT JOIN careflags.unit u ON u.unit_id OPERATOR(pg_catalog.=) f.unit_id
     WHERE f.resolved_at IS NULL
       AND (f.snoozed_until IS NULL OR f.snoozed_until OPERATOR(pg_catalog.<=) careflags.clock())
       AND careflags.clock() OPERATOR(pg_catalog.>=) careflags.due_soon_from(f.due_from, f.due_soon_window)
       AND pg_catalog.has_table_privilege('careflags.flag'::pg_catalog.regclass, 'SELECT')
       AND pg_catalog.has_table_privilege('careflags.patient'::pg_catalog.regclass, 'SELECT')) w
 ORDER BY w.severity, w.due_at, w.flag_id;
COMMENT ON VIEW careflags.worklist IS
    'open flags a nurse should act on now (due soon, due, overdue; not snoozed), for the caller''s units (every unit for a role that may read careflags.flag and careflags.patient), by severity then due time; state is computed at read time; title_text, reason_text and state_text in careflags.language; action: what the flag asks for (careflags.actions has one row per patient and action)';

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

CREATE VIEW careflags.actions WITH (security_barrier = true) AS
SELECT a.patient_id, a.patient, a.unit_id, a.unit, a.action,
       careflags.action_label(a.action) AS title,
       a.state, careflags.state_text(a.state) AS state_text,
       a.due_from, a.due_at,
       careflags.action_text(a.action, a.details, a.due_at) AS why,
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
          FROM careflags.worklist w
         GROUP BY w.patient_id, w.patient, w.unit_id, w.unit, w.action) a
 ORDER BY a.severity, a.due_at, a.patient_id, a.action;
COMMENT ON VIEW careflags.actions IS
    'what a nurse should do now, one row per patient and action (nutrition_screening, nutrition_plan, medication_review, fall_risk_assessment, fall_prevention_plan): earliest due time, most urgent state, why (at most 140 characters, careflags.language) and the flags behind it; the caller''s units only (built on careflags.worklist)';
GRANT SELECT ON careflags.actions TO careflags_nurse, careflags_admin;

-- The flags behind one of the caller's action rows, or an error.
CREATE FUNCTION careflags.action_flags(patient_id bigint, action text) RETURNS bigint[]
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    ids bigint[];
BEGIN
    SELECT a.flag_ids INTO ids FROM careflags.actions a
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
COMMENT ON FUNCTION careflags.action_flags(bigint, text) IS
    'the flag ids behind one row of careflags.actions that the caller sees; error no_data_found when there is none';

CREATE FUNCTION careflags.acknowledge_action(patient_id bigint, action text, note text DEFAULT NULL) RETURNS bigint
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_acknowledge_action';
COMMENT ON FUNCTION careflags.acknowledge_action(bigint, text, text) IS
    'acknowledge every flag behind one row of careflags.actions that the caller sees; one audit entry for the row, naming every flag (detail: row, flags, note); returns its audit id';

CREATE FUNCTION careflags.snooze_action(patient_id bigint, action text, until timestamptz, note text DEFAULT NULL) RETURNS bigint
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_snooze_action';
COMMENT ON FUNCTION careflags.snooze_action(bigint, text, timestamptz, text) IS
    'snooze every flag behind one row of careflags.actions until a time (within every rule''s max_snooze, else nothing is snoozed); one audit entry for the row, naming every flag; returns its audit id';

CREATE FUNCTION careflags.exempt_action(patient_id bigint, action text, reason text, valid_until timestamptz DEFAULT NULL) RETURNS bigint
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_exempt_action';
COMMENT ON FUNCTION careflags.exempt_action(bigint, text, text, timestamptz) IS
    'mark every rule behind one row of careflags.actions not relevant for the patient (one exemption per rule, its flag resolved as exempt); one audit entry for the row, naming every flag; returns its audit id';

REVOKE ALL ON FUNCTION careflags.acknowledge_action(bigint, text, text),
    careflags.snooze_action(bigint, text, timestamptz, text),
    careflags.exempt_action(bigint, text, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION careflags.acknowledge_action(bigint, text, text),
    careflags.snooze_action(bigint, text, timestamptz, text),
    careflags.exempt_action(bigint, text, text, timestamptz) TO careflags_nurse, careflags_admin;
-- ---- national figures for comparison (issue 15) ----
-- The latest national figure of an indicator, with its year, population and
-- source (clinical-rules.md §2, §3), shown beside the site's own figure by
-- careflags report.  A site adds a newer year with INSERT (origin site).
CREATE TABLE careflags.national_figure (
    indicator   text NOT NULL,
    year        integer NOT NULL CHECK (year OPERATOR(pg_catalog.>=) 2000 AND year OPERATOR(pg_catalog.<=) 2100),
    share       numeric(4,1) NOT NULL CHECK (share OPERATOR(pg_catalog.>=) 0 AND share OPERATOR(pg_catalog.<=) 100),
    population  text NOT NULL,
    source      text NOT NULL,
    origin      text NOT NULL DEFAULT 'site' CHECK (origin OPERATOR(pg_catalog.=) ANY (ARRAY['default', 'site'])),
    PRIMARY KEY (indicator, year)
);
COMMENT ON TABLE careflags.national_figure IS
    'national figures of the indicators for comparison (share in %, year, population counted, source); careflags report shows the latest year of each; a site adds newer ones (origin site, saved by pg_dump)';
SELECT pg_catalog.pg_extension_config_dump('careflags.national_figure', 'WHERE origin OPERATOR(pg_catalog.=) ''site''');
INSERT INTO careflags.national_figure (indicator, year, share, population, source, origin) VALUES
    ('nutrition_screening', 2023, 57.0, 'langtidsbeboere 67+ på sykehjem',
     'Helsedirektoratet, nasjonale kvalitetsindikatorer 2023 (clinical-rules.md §2)', 'default'),
    ('nutrition_plan', 2023, 64.3, 'langtidsbeboere 67+ i ernæringsmessig risiko',
     'Helsedirektoratet, nasjonale kvalitetsindikatorer 2023 (clinical-rules.md §2)', 'default'),
    ('medication_review', 2021, 56.6, 'langtidsbeboere 67+ på sykehjem',
     'Helsedirektoratet, nasjonale kvalitetsindikatorer 2021 (clinical-rules.md §3)', 'default'),
    ('medication_review', 2023, 61.7, 'langtidsbeboere 67+ på sykehjem',
     'Helsedirektoratet, nasjonale kvalitetsindikatorer 2023 (clinical-rules.md §3)', 'default');
GRANT SELECT ON careflags.national_figure TO careflags_quality, careflags_admin;
GRANT INSERT, UPDATE, DELETE ON careflags.national_figure TO careflags_admin;

-- The latest national figure of each indicator that has one.
CREATE VIEW careflags.national_figure_latest AS
SELECT DISTINCT ON (n.indicator) n.indicator, n.year, n.share, n.population, n.source
  FROM careflags.national_figure n
 ORDER BY n.indicator, n.year DESC;
COMMENT ON VIEW careflags.national_figure_latest IS
    'the latest national figure of each indicator (careflags.national_figure), for comparison in reports';
GRANT SELECT ON careflags.national_figure_latest TO careflags_quality, careflags_admin;

-- Said once, at commit: what is missing without preloading.
SELECT careflags.announce_missing_preload();

-- ==== audit chains per patient, checkable from outside; flags found by id (issue 13) ====
COMMENT ON TABLE careflags.audit IS
    'who acknowledged, snoozed or exempted which flag, and when (and careflags'' own reopening of a flag or correction of its resolution when the action fact it named was deleted or corrected); each row''s hash is SHA-256 over the previous row''s hash (same patient; before 1.3 one chain over all) and its own content, so careflags.verify_audit() finds any change, removal or reordering of rows that the heads still cover';
COMMENT ON TABLE careflags.audit_head IS
    'the end of the one audit chain over all patients that 1.2 and earlier wrote (rows up to last_id); empty on a database installed at 1.3';
COMMENT ON SEQUENCE careflags.audit_id_seq IS
    'audit ids, taken under the patient''s chain lock so that a patient''s rows follow its chain (saved by pg_dump)';
CREATE TABLE careflags.audit_chain (
    patient_id  bigint PRIMARY KEY,
    last_id     bigint NOT NULL,
    last_hash   bytea NOT NULL,
    row_count   bigint NOT NULL
);
COMMENT ON TABLE careflags.audit_chain IS
    'the end of each patient''s audit chain (rows after audit_head.last_id): an action locks only its patient''s row here, so actions on different patients never wait on each other';
SELECT pg_catalog.pg_extension_config_dump('careflags.audit_chain', '');
GRANT SELECT ON careflags.audit_chain, careflags.audit_head TO careflags_admin;
CREATE INDEX flag_by_id ON careflags.flag (flag_id);
COMMENT ON INDEX careflags.flag_by_id IS 'finds a flag by its id alone (acknowledge, snooze, exempt)';

CREATE FUNCTION careflags.audit_witness(OUT chain text, OUT last_id bigint, OUT row_count bigint, OUT last_hash text)
    RETURNS SETOF record
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        SELECT DISTINCT ON (r.chain) r.chain, r.audit_id, pg_catalog.count(*) OVER (PARTITION BY r.chain),
               pg_catalog.encode(r.hash, 'hex')
          FROM (SELECT CASE WHEN a.audit_id OPERATOR(pg_catalog.<=) COALESCE((SELECT h.last_id FROM careflags.audit_head h), 0)
                            THEN 'all' ELSE a.patient_id::pg_catalog.text END AS chain,
                       a.audit_id, a.hash
                  FROM careflags.audit a) r
         ORDER BY r.chain, r.audit_id DESC;
    END;
COMMENT ON FUNCTION careflags.audit_witness() IS
    'the head of every audit chain (''all'' for the rows before 1.3, else the patient id), read from the rows themselves: keep a copy outside the database (careflags check --audit-witness FILE) to notice a chain rewritten or removed later';
REVOKE ALL ON FUNCTION careflags.audit_witness() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION careflags.audit_witness() TO careflags_admin;

-- ==== careflags watch in the reader's language: reason data in my_flag_events (issue 15) ====
CREATE OR REPLACE VIEW careflags.my_flag_events WITH (security_barrier = true) AS
SELECT n.* FROM (
    SELECT e.event_id, e.kind, e.happened_at, e.flag_id, e.patient_id, e.unit_id, e.rule_id, r.title,
           CASE WHEN f.resolved_at IS NOT NULL THEN 'resolved'
                ELSE careflags.flag_state(f.due_from, f.due_at, f.due_soon_window, careflags.clock()) END AS state,
           f.due_at, f.reason, f.resolution, f.details
      FROM pg_catalog.unnest((SELECT careflags.my_units())::text[]) AS mu(unit_id)
     CROSS JOIN LATERAL (SELECT e.* FROM careflags.flag_event e
                          WHERE e.unit_id OPERATOR(pg_catalog.=) mu.unit_id OFFSET 0) e
      LEFT JOIN LATERAL (SELECT f.resolved_at, f.due_from, f.due_at, f.due_soon_window, f.reason, f.resolution, f.details
                           FROM careflags.flag f
                          WHERE f.patient_id OPERATOR(pg_catalog.=) e.patient_id
                            AND f.flag_id OPERATOR(pg_catalog.=) e.flag_id OFFSET 0) f ON true
      LEFT JOIN LATERAL (SELECT r.title FROM careflags.rule r
                          WHERE r.rule_id OPERATOR(pg_catalog.=) e.rule_id OFFSET 0) r ON true
     WHERE NOT pg_catalog.has_table_privilege('careflags.flag_event'::pg_catalog.regclass, 'SELECT')
    OFFSET 0) n
UNION ALL
SELECT e.event_id, e.kind, e.happened_at, e.flag_id, e.patient_id, e.unit_id, e.rule_id, r.title,
       CASE WHEN f.resolved_at IS NOT NULL THEN 'resolved'
            ELSE careflags.flag_state(f.due_from, f.due_at, f.due_soon_window, careflags.clock()) END,
       f.due_at, f.reason, f.resolution, f.details
  FROM careflags.flag_event e
  LEFT JOIN careflags.flag f ON f.patient_id OPERATOR(pg_catalog.=) e.patient_id
                              AND f.flag_id OPERATOR(pg_catalog.=) e.flag_id
  LEFT JOIN careflags.rule r ON r.rule_id OPERATOR(pg_catalog.=) e.rule_id
 WHERE pg_catalog.has_table_privilege('careflags.flag_event'::pg_catalog.regclass, 'SELECT');
COMMENT ON VIEW careflags.my_flag_events IS
    'flag events of the caller''s units (every unit''s for a role that may read careflags.flag_event), with the flag''s title, current state, deadline, reason and reason data (details, for careflags.reason_text in the reader''s language): what careflags watch prints for a NOTIFY careflags event id';

-- ==== Citus: careflags.distribute(), shard functions (issue 19) ====

-- Run once, by a DBA, on the Citus coordinator, after the workers were added
-- and before the record is loaded (README: "careflags on Citus").  On one
-- server nothing calls it and nothing changes.
--
-- What it does:
--   * row triggers (set_trigger_mode('row')): Citus refuses statement
--     triggers with transition tables on distributed tables; the row trigger
--     evaluates on the shard it fires on (extension/shard.c);
--   * every unique constraint of a per-patient table includes patient_id
--     (Citus can only enforce those): <table>_source_key becomes UNIQUE
--     (patient_id, source_system, source_key) under the same name, so an
--     upsert that names the constraint (ON CONFLICT ON CONSTRAINT
--     <table>_source_key) works on one server and on Citus;
--     careflags.flag_event and careflags.quarantine are keyed by
--     (patient_id, <id>);
--   * rules, units, unit access, rule texts and code maps become reference
--     tables (a copy on every node, read by the evaluation on any shard);
--   * patient, the fact tables, flag, patient_state, quarantine and
--     flag_event become distributed tables co-located by patient_id, so that
--     one patient's facts, flags, state and quarantine rows are one shard
--     group on one node;
--   * careflags.strict, careflags.timezone and careflags.frozen_now set in a
--     coordinator session reach the shard triggers (Citus propagates them,
--     citus.propagate_set_commands = 'local' for SET LOCAL; the database
--     default set here); triggers on distributed tables need
--     citus.enable_unsafe_triggers, set for the database.
-- Returns a short summary.  Refuses (feature_not_supported) where Citus is
-- not installed, and when the tables are already distributed.
CREATE FUNCTION careflags.distribute(shard_count integer DEFAULT NULL) RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    SET client_min_messages = warning
AS $distribute$
DECLARE
    per_patient constant text[] := ARRAY['patient', 'episode', 'assessment', 'measurement', 'medication',
                                         'medication_review', 'care_plan', 'fall', 'exemption',
                                         'flag', 'patient_state', 'quarantine', 'flag_event'];
    facts constant text[] := ARRAY['episode', 'assessment', 'measurement', 'medication',
                                   'medication_review', 'care_plan', 'fall', 'exemption'];
    reference constant text[] := ARRAY['unit', 'unit_access', 'rule', 'rule_site_change', 'frid_atc',
                                       'downton_atc', 'rule_text', 'national_figure'];
    t text;
    fk record;
    fks text[] := '{}';
    prep text[];
    failure text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'citus') THEN
        RAISE EXCEPTION 'careflags.distribute() needs Citus'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'On one server there is nothing to distribute.  On a Citus coordinator: CREATE EXTENSION citus first, add the workers, then run it.';
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.pg_dist_partition
                WHERE logicalrelid OPERATOR(pg_catalog.=) 'careflags.patient'::pg_catalog.regclass) THEN
        RAISE EXCEPTION 'careflags is already distributed'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'careflags.distribute() runs once, on the coordinator.';
    END IF;

    -- settings for this database on every node (and this session)
    PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', false);
    PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);
    EXECUTE pg_catalog.format('ALTER DATABASE %I SET citus.enable_unsafe_triggers = on',
                              pg_catalog.current_database());
    EXECUTE pg_catalog.format('ALTER DATABASE %I SET citus.propagate_set_commands = local',
                              pg_catalog.current_database());
    PERFORM pg_catalog.run_command_on_workers(pg_catalog.format(
        'ALTER DATABASE %I SET citus.enable_unsafe_triggers = on', pg_catalog.current_database()));
    IF shard_count IS NOT NULL THEN
        PERFORM pg_catalog.set_config('citus.shard_count', shard_count::text, true);
    END IF;

    -- What changes before the tables are distributed, done here and on
    -- every worker (CREATE EXTENSION made careflags' tables there too, and
    -- Citus uses them as the distributed tables' shells): row triggers;
    -- unique constraints that include the patient; the foreign keys between
    -- careflags' tables dropped for the time of the distribution (Citus
    -- would otherwise convert the tables of a key graph one by one,
    -- recreating the views on them) and added back after; and no careflags
    -- trigger firing while Citus copies the rows already there (checked and
    -- evaluated on one server) into the shards.
    prep := ARRAY['SELECT careflags.set_trigger_mode(''row'')'];
    FOREACH t IN ARRAY facts || ARRAY['patient'] LOOP
        prep := prep || pg_catalog.format('ALTER TABLE careflags.%I DROP CONSTRAINT %I', t, t || '_source_key')
                     || pg_catalog.format('ALTER TABLE careflags.%I ADD CONSTRAINT %I UNIQUE (patient_id, source_system, source_key)',
                                          t, t || '_source_key');
    END LOOP;
    prep := prep || ARRAY[
        'ALTER TABLE careflags.flag_event DROP CONSTRAINT flag_event_pkey',
        'ALTER TABLE careflags.flag_event ADD CONSTRAINT flag_event_pkey PRIMARY KEY (patient_id, event_id)',
        'ALTER TABLE careflags.quarantine DROP CONSTRAINT quarantine_pkey',
        'ALTER TABLE careflags.quarantine ALTER COLUMN patient_id SET NOT NULL',
        'ALTER TABLE careflags.quarantine ADD CONSTRAINT quarantine_pkey PRIMARY KEY (patient_id, quarantine_id)'];
    FOR fk IN SELECT c.conrelid::pg_catalog.regclass AS tbl, c.conname,
                     pg_catalog.pg_get_constraintdef(c.oid) AS def
                FROM pg_catalog.pg_constraint c
               WHERE c.contype OPERATOR(pg_catalog.=) 'f'
                 AND c.connamespace OPERATOR(pg_catalog.=) 'careflags'::pg_catalog.regnamespace
               ORDER BY c.conname LOOP
        fks := fks || pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I %s', fk.tbl, fk.conname, fk.def);
        prep := prep || pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', fk.tbl, fk.conname);
    END LOOP;
    FOREACH t IN ARRAY reference || per_patient LOOP
        prep := prep || pg_catalog.format('ALTER TABLE careflags.%I DISABLE TRIGGER USER', t);
    END LOOP;
    FOREACH t IN ARRAY prep LOOP
        EXECUTE t;
        SELECT pg_catalog.string_agg(w.nodename || ':' || w.nodeport || ': ' || w.result, '; ')
          INTO failure FROM pg_catalog.run_command_on_workers(t) w WHERE NOT w.success;
        IF failure IS NOT NULL THEN
            RAISE EXCEPTION 'careflags.distribute(): % failed on a worker: %', t, failure
                USING ERRCODE = 'external_routine_exception';
        END IF;
    END LOOP;

    FOREACH t IN ARRAY reference LOOP
        PERFORM pg_catalog.create_reference_table(pg_catalog.format('careflags.%I', t)::pg_catalog.regclass);
    END LOOP;
    PERFORM pg_catalog.create_distributed_table('careflags.patient'::pg_catalog.regclass, 'patient_id');
    FOREACH t IN ARRAY per_patient[2:] LOOP
        PERFORM pg_catalog.create_distributed_table(pg_catalog.format('careflags.%I', t)::pg_catalog.regclass,
                                                    'patient_id', colocate_with => 'careflags.patient');
    END LOOP;
    FOREACH t IN ARRAY fks LOOP
        EXECUTE t;
    END LOOP;
    -- Flags, events and quarantine rows are numbered on the node that holds
    -- the patient: each node its own range of ids (as Citus numbers a
    -- distributed table's identity column), so that a flag id names one
    -- flag in the whole cluster (acknowledge(), snooze(), exempt()).
    t := $seq$DO $do$
        DECLARE
            g bigint := (SELECT groupid FROM pg_catalog.pg_dist_local_group);
            s text;
        BEGIN
            FOREACH s IN ARRAY ARRAY['flag_flag_id_seq', 'flag_event_event_id_seq', 'quarantine_quarantine_id_seq'] LOOP
                EXECUTE pg_catalog.format('ALTER SEQUENCE careflags.%I MINVALUE %s MAXVALUE %s START %s RESTART %s',
                                          s, (g << 48) + 1, ((g + 1) << 48) - 1, (g << 48) + 1, (g << 48) + 1);
            END LOOP;
        END
        $do$$seq$;
    SELECT pg_catalog.string_agg(w.nodename || ':' || w.nodeport || ': ' || w.result, '; ')
      INTO failure FROM pg_catalog.run_command_on_workers(t) w WHERE NOT w.success;
    IF failure IS NOT NULL THEN
        RAISE EXCEPTION 'careflags.distribute(): numbering flags on the workers failed: %', failure
            USING ERRCODE = 'external_routine_exception';
    END IF;
    FOREACH t IN ARRAY reference || per_patient LOOP
        EXECUTE pg_catalog.format('ALTER TABLE careflags.%I ENABLE TRIGGER USER', t);
    END LOOP;
    RETURN pg_catalog.format('%s tables distributed by patient_id, %s reference tables; row triggers',
                             pg_catalog.array_length(per_patient, 1), pg_catalog.array_length(reference, 1));
END
$distribute$;
COMMENT ON FUNCTION careflags.distribute(integer) IS
    'Citus only, run once on the coordinator: row triggers; unique constraints that include patient_id; rules, units, unit access and code maps as reference tables; patients, facts, flags, patient_state, quarantine and flag_event distributed and co-located by patient_id (README: careflags on Citus)';
REVOKE ALL ON FUNCTION careflags.distribute(integer) FROM PUBLIC;

-- One shard's part of recompute_all() and check_consistency(): on Citus the
-- coordinator runs them on every shard of careflags.patient, on its node
-- (run_command_on_shards), where the evaluation reads the co-located shards.
CREATE FUNCTION careflags.recompute_shard(shard regclass) RETURNS bigint
    LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'careflags_recompute_shard';
COMMENT ON FUNCTION careflags.recompute_shard(regclass) IS
    'Citus, internal: recompute_all() for the patients of one shard of careflags.patient on this node; returns the number of flag changes';
CREATE FUNCTION careflags.check_consistency_shard(shard regclass)
    RETURNS TABLE (patient_id bigint, rule_id text, difference text)
    LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'careflags_check_consistency_shard';
COMMENT ON FUNCTION careflags.check_consistency_shard(regclass) IS
    'Citus, internal: check_consistency() for the patients of one shard of careflags.patient on this node';
REVOKE ALL ON FUNCTION careflags.recompute_shard(regclass), careflags.check_consistency_shard(regclass) FROM PUBLIC;

-- ==== incremental evaluation, the fact reader as a table (issue 18) ====
ALTER TABLE careflags.patient_state ADD COLUMN next_check_by_domain timestamptz[];
COMMENT ON COLUMN careflags.patient_state.next_check_by_domain IS
    'the next time per domain (nutrition, medication_review, fall_risk; NULL: never): a fact write re-evaluates only the domains its table feeds and keeps the others'' times; next_check_at is the earliest';
CREATE FUNCTION careflags.fact_reader_indexes()
    RETURNS TABLE (table_name text, index_name text, key_columns text[], partial boolean)
    LANGUAGE c STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'careflags_fact_reader_indexes';
COMMENT ON FUNCTION careflags.fact_reader_indexes() IS
    'each table the evaluation reads, the index it reads it through and the index''s key columns it relies on (partial: the index has a WHERE clause)';
REVOKE ALL ON FUNCTION careflags.fact_reader_indexes() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION careflags.fact_reader_indexes() TO careflags_admin;
ALTER TABLE careflags.evaluation_queue ADD COLUMN written integer;
COMMENT ON COLUMN careflags.evaluation_queue.written IS
    'the tables the statement wrote (careflags'' internal bit set): the worker evaluates only the rules they feed; NULL: every rule';
-- ==== end: incremental evaluation (issue 18) ====

-- ==== the nurse's worklist at the cost of the read: per-row functions and my_units() in C (issue 18) ====
-- my_units(), flag_state(), due_soon_from() and action_of() were SQL
-- functions pinning their search_path, so never inlined: called per row
-- through the SET machinery (my_units() planned its body in every query).
-- Now C (extension/worklist.c); the worklist looks up the rule title itself.
CREATE OR REPLACE FUNCTION careflags.due_soon_from(due_from timestamptz, due_soon_window interval)
    RETURNS timestamptz
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'careflags_due_soon_from';
COMMENT ON FUNCTION careflags.due_soon_from(timestamptz, interval) IS
    'due_from - due_soon_window in careflags.timezone (calendar days keep their local time across a daylight-saving change): when a flag becomes due soon';
CREATE OR REPLACE FUNCTION careflags.flag_state(due_from timestamptz, due_at timestamptz,
                                       due_soon_window interval, at timestamptz)
    RETURNS text
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'careflags_flag_state';
COMMENT ON FUNCTION careflags.flag_state(timestamptz, timestamptz, interval, timestamptz) IS
    'upcoming before due_from - window (in careflags.timezone), due_soon within the window, due from due_from, overdue from due_at';
-- PARALLEL UNSAFE on purpose: a query reading a nurse's view is never
-- planned in parallel (see sql/parts/50_worklist.sql).
CREATE OR REPLACE FUNCTION careflags.my_units() RETURNS text[]
    LANGUAGE c STABLE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'careflags_my_units';
COMMENT ON FUNCTION careflags.my_units() IS 'units whose flags the current role may see and act on (careflags.unit_access)';
CREATE OR REPLACE FUNCTION careflags.action_of(domain careflags.domain, anchor careflags.rule_anchor) RETURNS text
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'careflags_action_of';
COMMENT ON FUNCTION careflags.action_of(careflags.domain, careflags.rule_anchor) IS
    'the action a rule of this domain and anchor asks for: nutrition_screening (admission, repeat, weight loss), nutrition_plan, medication_review, fall_risk_assessment, fall_prevention_plan (clinical-rules.md §7.18)';
-- (careflags.worklist, on these functions: in the section "the nurse's worklist: rule titles once
-- per query" below, which replaces it once)
-- ==== end: the nurse's worklist (issue 18) ====

-- ==== worker and notifications on Citus (issue 19) ====
ALTER TABLE careflags.flag_event ADD COLUMN relayed_at timestamptz;
-- the events already there were notified by the transactions that wrote them
UPDATE careflags.flag_event SET relayed_at = happened_at;
COMMENT ON COLUMN careflags.flag_event.relayed_at IS
    'when NOTIFY careflags was sent for it: NULL until the background worker relays it (a writer''s event where the worker serves the database; on Citus the coordinator''s worker, careflags.relay_interval); set when written where the writing transaction notifies itself';
CREATE INDEX flag_event_unrelayed ON careflags.flag_event (event_id) WHERE relayed_at IS NULL;
COMMENT ON FUNCTION careflags.tick() IS
    'one pass of the background worker: re-evaluates patients whose next_check_at passed, notifies flags that became due or overdue; on a Citus coordinator every shard on its node, on a Citus worker node the shards placed there';
-- One shard's part of tick(): each node's background worker runs it for the
-- shards placed on its node; tick() on the coordinator runs it on every
-- shard, on its node (run_command_on_shards).
CREATE FUNCTION careflags.tick_shard(shard regclass, OUT patients_reevaluated integer, OUT flags_notified bigint)
    LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'careflags_tick_shard';
COMMENT ON FUNCTION careflags.tick_shard(regclass) IS
    'Citus, internal: tick() for the patients and flags of one shard of careflags.patient on this node (the flags that became due or overdue go to the outbox, which the coordinator relays as NOTIFY careflags)';
REVOKE ALL ON FUNCTION careflags.tick_shard(regclass) FROM PUBLIC;
-- ==== end: worker and notifications on Citus (issue 19) ====

-- ==== key notes in C (issue 17) ====
-- Keys noted for a step at commit (issue 17): careflags.note_keys() is an
-- AFTER ROW trigger a plugin puts on a record system's table; it only notes
-- the row's key in the transaction's memory; the first note queues a marker
-- row here whose deferred constraint trigger calls, at commit, the function
-- the trigger names, per table, which takes the keys with take_noted_keys()
-- and maps them set-based.  The table is empty outside a running transaction.
CREATE TABLE careflags.noted_keys (
    queued_at   timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
COMMENT ON TABLE careflags.noted_keys IS
    'marker rows of transactions with row keys noted by careflags.note_keys() (its deferred trigger keys_at_commit runs their commit step and deletes the row); always empty when no such transaction runs';
CREATE FUNCTION careflags.note_keys() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_note_keys';
COMMENT ON FUNCTION careflags.note_keys() IS
    'AFTER INSERT OR UPDATE OR DELETE ... FOR EACH ROW trigger (arguments: key column, commit function taking a regclass, optionally a number of keys): notes the row''s key for the transaction; at commit (and at once when that many keys wait) the function is called with the table and takes the keys with take_noted_keys()';
REVOKE ALL ON FUNCTION careflags.note_keys() FROM PUBLIC;
CREATE FUNCTION careflags.take_noted_keys(regclass) RETURNS bigint[]
    LANGUAGE c STRICT VOLATILE AS 'MODULE_PATHNAME', 'careflags_take_noted_keys';
COMMENT ON FUNCTION careflags.take_noted_keys(regclass) IS
    'the distinct keys careflags.note_keys() noted for the table in this transaction and not taken yet, in order; they count as taken from now on (given back when the current savepoint rolls back)';
REVOKE ALL ON FUNCTION careflags.take_noted_keys(regclass) FROM PUBLIC;
CREATE FUNCTION careflags.keys_at_commit() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_keys_at_commit';
COMMENT ON FUNCTION careflags.keys_at_commit() IS
    'deferred constraint trigger on careflags.noted_keys: calls the commit function of every table with keys noted, then removes the marker';
REVOKE ALL ON FUNCTION careflags.keys_at_commit() FROM PUBLIC;
CREATE CONSTRAINT TRIGGER keys_at_commit AFTER INSERT ON careflags.noted_keys
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION careflags.keys_at_commit();
COMMENT ON TRIGGER keys_at_commit ON careflags.noted_keys IS
    'careflags: runs the commit step of the keys note_keys() noted (SET CONSTRAINTS careflags.keys_at_commit IMMEDIATE: at the end of each noting statement)';
-- ==== end: key notes in C (issue 17) ====

-- ==== recompute_patient on Citus (issue 19) ====
-- recompute_patient() on Citus: the coordinator (or any node) routes a query
-- by the patient's id to the node holding the patient's shard of
-- careflags.patient, which calls this there, in the caller's distributed
-- transaction; the evaluation reads and writes the co-located shards.
CREATE FUNCTION careflags.recompute_patient_shard(shard regclass, patient_id bigint) RETURNS bigint
    LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'careflags_recompute_patient_shard';
COMMENT ON FUNCTION careflags.recompute_patient_shard(regclass, bigint) IS
    'Citus, internal: recompute_patient() for a patient of one shard of careflags.patient on this node, in the caller''s transaction (recompute_patient() calls it through a query routed to the patient''s shard); returns the number of flag changes';
REVOKE ALL ON FUNCTION careflags.recompute_patient_shard(regclass, bigint) FROM PUBLIC;
-- ==== end: recompute_patient on Citus (issue 19) ====

-- ==== cheaper single-row writes (issue 18) ====
-- The evaluator reads a patient's assessments and measurements from these
-- indexes alone when their pages are all-visible: the columns it reads are
-- INCLUDEd (the index is rebuilt: a few seconds per million rows).
DROP INDEX careflags.assessment_patient_time;
CREATE INDEX assessment_patient_time ON careflags.assessment (patient_id, assessed_at)
    INCLUDE (assessment_id, instrument, total, at_risk);
DROP INDEX careflags.measurement_patient_time;
CREATE INDEX measurement_patient_time ON careflags.measurement (patient_id, kind, measured_at)
    INCLUDE (measurement_id, value);
-- ==== end: cheaper single-row writes (issue 18) ====

-- ==== reports and extract on Citus (issue 19) ====
-- indicator_patients is one join by patient_id per indicator (Citus pushes
-- it down to every shard group; before, a lateral outer join over the
-- function indicator_population, which Citus refuses) and returns the
-- patient's source key, birth date and sex; extract_rows reads those
-- instead of joining careflags.patient, so its query reads no table and the
-- pseudonym HMAC is computed on the coordinator; flag_response_times is
-- PL/pgSQL (Citus cannot plan a SQL function's parameters).
DROP FUNCTION careflags.indicator_population(date, integer, careflags.care_setting, text, text);
DROP FUNCTION careflags.indicator_patients(text, date, integer, careflags.care_setting, text);
-- Each patient of an indicator's population with its category.  Internal
-- (it returns patient ids and the patient's source key, birth date and sex,
-- for the extract): the report and extract functions aggregate it.
--
-- The population: patients in the setting (and unit) at the period end, aged
-- min_age or more then (or of unknown age), alive.  The current episode is
-- the one covering the period end that started last (§7.14); death ends
-- every episode (§7.12).
--
-- Each query is one join of per-patient parts on patient_id (the current
-- episode, the patient, a valid exemption, the facts of the period), so on
-- Citus, where these tables are distributed and co-located by patient_id,
-- it runs whole on every shard group and the coordinator only gathers the
-- rows (no lateral or correlated read of a distributed table; issue 19).
-- On one server the same join reads each table's period once.
CREATE FUNCTION careflags.indicator_patients(p_indicator text, p_period_end date, p_min_age integer,
                                               p_setting careflags.care_setting, p_unit text)
    RETURNS TABLE (patient_id bigint, unit_id text, setting careflags.care_setting,
                   category text, at_risk boolean,
                   source_system text, source_key text, birth_date date, sex careflags.sex)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    -- a plan for the period, setting and unit asked: a generic plan of
    -- these joins is several times slower
    SET plan_cache_mode = force_custom_plan
    AS $$
#variable_conflict use_column
DECLARE
    v_scope     text;
    v_starts    timestamptz;
    v_ends      timestamptz;
    v_born_by   date;
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
    v_born_by := ($2 - pg_catalog.make_interval(years => $3))::date;

    IF $1 = 'medication_review' THEN
        RETURN QUERY
        SELECT p.patient_id, p.unit_id, p.setting,
               CASE WHEN p.exempt THEN 'not_relevant'
                    WHEN p.age_unknown THEN 'not_recorded'
                    WHEN m.patient_id IS NOT NULL THEN 'assessed'
                    ELSE 'not_assessed' END,
               NULL::boolean, p.source_system, p.source_key, p.birth_date, p.sex
        FROM (SELECT c.patient_id, c.unit_id, c.setting, pt.birth_date IS NULL AS age_unknown,
                     x.patient_id IS NOT NULL AS exempt, pt.source_system, pt.source_key, pt.birth_date, pt.sex
              FROM (SELECT DISTINCT ON (e.patient_id) e.patient_id, e.setting, e.unit_id
                    FROM careflags.episode e
                    WHERE e.started_at < v_ends AND (e.ended_at IS NULL OR e.ended_at >= v_ends)
                    ORDER BY e.patient_id, e.started_at DESC, e.episode_id DESC) c
              JOIN careflags.patient pt ON pt.patient_id = c.patient_id
              LEFT JOIN (SELECT x.patient_id FROM careflags.exemption x
                          WHERE x.valid_from < v_ends AND (x.valid_until IS NULL OR x.valid_until >= v_ends)
                            AND (x.scope = '*' OR x.scope = v_scope OR pg_catalog.starts_with(v_scope, x.scope || '.'))
                          GROUP BY x.patient_id) x ON x.patient_id = c.patient_id
              WHERE ($4 IS NULL OR c.setting = $4) AND ($5 IS NULL OR c.unit_id = $5)
                AND NOT (pt.deceased AND (pt.deceased_at IS NULL OR pt.deceased_at < v_ends))
                AND (pt.birth_date IS NULL OR pt.birth_date <= v_born_by)) p
        LEFT JOIN (SELECT m.patient_id FROM careflags.medication_review m
                    WHERE m.reviewed_at >= v_starts AND m.reviewed_at < v_ends
                    GROUP BY m.patient_id) m ON m.patient_id = p.patient_id;
        RETURN;
    END IF;

    v_instr := CASE WHEN $1 LIKE 'nutrition%' THEN v_nutrition ELSE v_fall END;

    IF $1 IN ('nutrition_screening', 'fall_risk_assessment') THEN
        -- Any screening / assessment in the period counts, with or without
        -- a recorded result; at_risk is the latest one's.
        RETURN QUERY
        SELECT p.patient_id, p.unit_id, p.setting,
               CASE WHEN p.exempt THEN 'not_relevant'
                    WHEN p.age_unknown THEN 'not_recorded'
                    WHEN a.assessed_at IS NOT NULL THEN 'assessed'
                    ELSE 'not_assessed' END,
               a.at_risk, p.source_system, p.source_key, p.birth_date, p.sex
        FROM (SELECT c.patient_id, c.unit_id, c.setting, pt.birth_date IS NULL AS age_unknown,
                     x.patient_id IS NOT NULL AS exempt, pt.source_system, pt.source_key, pt.birth_date, pt.sex
              FROM (SELECT DISTINCT ON (e.patient_id) e.patient_id, e.setting, e.unit_id
                    FROM careflags.episode e
                    WHERE e.started_at < v_ends AND (e.ended_at IS NULL OR e.ended_at >= v_ends)
                    ORDER BY e.patient_id, e.started_at DESC, e.episode_id DESC) c
              JOIN careflags.patient pt ON pt.patient_id = c.patient_id
              LEFT JOIN (SELECT x.patient_id FROM careflags.exemption x
                          WHERE x.valid_from < v_ends AND (x.valid_until IS NULL OR x.valid_until >= v_ends)
                            AND (x.scope = '*' OR x.scope = v_scope OR pg_catalog.starts_with(v_scope, x.scope || '.'))
                          GROUP BY x.patient_id) x ON x.patient_id = c.patient_id
              WHERE ($4 IS NULL OR c.setting = $4) AND ($5 IS NULL OR c.unit_id = $5)
                AND NOT (pt.deceased AND (pt.deceased_at IS NULL OR pt.deceased_at < v_ends))
                AND (pt.birth_date IS NULL OR pt.birth_date <= v_born_by)) p
        LEFT JOIN (SELECT DISTINCT ON (a.patient_id) a.patient_id, a.assessed_at, a.at_risk
                     FROM careflags.assessment a
                    WHERE a.assessed_at >= v_starts AND a.assessed_at < v_ends
                      AND a.instrument = ANY (v_instr)
                    ORDER BY a.patient_id, a.assessed_at DESC, a.assessment_id DESC) a ON a.patient_id = p.patient_id;
        RETURN;
    END IF;

    -- Plan indicators: the population is those with an at-risk (high-risk)
    -- result in the period, plus those whose every result in the period is
    -- missing (not recorded: they may or may not belong).  A plan counts when
    -- it was in force at some time from the first at-risk result to the
    -- period end: a plan of the kind started before the period end and
    -- ended (the latest end of those, open = infinity) at or after it.
    v_plan := CASE WHEN $1 = 'nutrition_plan' THEN 'nutrition' ELSE 'fall_prevention' END;
    RETURN QUERY
    SELECT p.patient_id, p.unit_id, p.setting,
           CASE WHEN p.exempt THEN 'not_relevant'
                WHEN p.age_unknown OR r.first_risk IS NULL THEN 'not_recorded'
                WHEN cp.last_end >= r.first_risk THEN 'assessed'
                ELSE 'not_assessed' END,
           r.first_risk IS NOT NULL, p.source_system, p.source_key, p.birth_date, p.sex
    FROM (SELECT c.patient_id, c.unit_id, c.setting, pt.birth_date IS NULL AS age_unknown,
                 x.patient_id IS NOT NULL AS exempt, pt.source_system, pt.source_key, pt.birth_date, pt.sex
          FROM (SELECT DISTINCT ON (e.patient_id) e.patient_id, e.setting, e.unit_id
                FROM careflags.episode e
                WHERE e.started_at < v_ends AND (e.ended_at IS NULL OR e.ended_at >= v_ends)
                ORDER BY e.patient_id, e.started_at DESC, e.episode_id DESC) c
          JOIN careflags.patient pt ON pt.patient_id = c.patient_id
          LEFT JOIN (SELECT x.patient_id FROM careflags.exemption x
                      WHERE x.valid_from < v_ends AND (x.valid_until IS NULL OR x.valid_until >= v_ends)
                        AND (x.scope = '*' OR x.scope = v_scope OR pg_catalog.starts_with(v_scope, x.scope || '.'))
                      GROUP BY x.patient_id) x ON x.patient_id = c.patient_id
          WHERE ($4 IS NULL OR c.setting = $4) AND ($5 IS NULL OR c.unit_id = $5)
            AND NOT (pt.deceased AND (pt.deceased_at IS NULL OR pt.deceased_at < v_ends))
            AND (pt.birth_date IS NULL OR pt.birth_date <= v_born_by)) p
    JOIN (SELECT a.patient_id,
                 pg_catalog.min(a.assessed_at) FILTER (WHERE a.at_risk) AS first_risk,
                 pg_catalog.bool_or(a.at_risk IS NOT NULL) AS any_result
            FROM careflags.assessment a
           WHERE a.assessed_at >= v_starts AND a.assessed_at < v_ends
             AND a.instrument = ANY (v_instr)
           GROUP BY a.patient_id) r ON r.patient_id = p.patient_id
    LEFT JOIN (SELECT c.patient_id, pg_catalog.max(COALESCE(c.ended_at, 'infinity')) AS last_end
                 FROM careflags.care_plan c
                WHERE c.kind = v_plan AND c.started_at < v_ends
                GROUP BY c.patient_id) cp ON cp.patient_id = p.patient_id
    WHERE r.first_risk IS NOT NULL OR NOT r.any_result;
END
$$;
COMMENT ON FUNCTION careflags.indicator_patients(text, date, integer, careflags.care_setting, text) IS
    'internal: each patient of an indicator''s population (in the setting/unit at the period end, min_age or older then or of unknown age, alive) with its category (assessed, not_assessed, not_relevant, not_recorded), the last/any risk result, and the source key, birth date and sex the extract needs; one join by patient_id (pushed down whole on Citus); not granted to anyone';

REVOKE ALL ON FUNCTION careflags.indicator_patients(text, date, integer, careflags.care_setting, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION careflags.extract_rows(p_period_end date, p_periods integer, p_step interval,
                                         p_min_age integer, p_setting careflags.care_setting, p_unit text)
    RETURNS TABLE (pseudonym text, key_generation integer, period_end date,
                   age_band text, sex careflags.sex, setting careflags.care_setting, unit_id text,
                   nutrition_screening text, nutrition_at_risk boolean, nutrition_plan text,
                   medication_review text,
                   fall_risk_assessment text, fall_risk_high boolean, fall_risk_plan text,
                   generalised text[])
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    -- five function scans joined look expensive to the planner; compiling
    -- them with JIT costs more than the query itself
    SET jit = off AS
$$
#variable_conflict use_column
DECLARE
    v_end    date := careflags.report_month_end($1);
    v_point  date;
    v_key    bytea;
    v_gen    integer;
    v_months integer;
    v_k      integer := careflags.min_cell_size();
    k        integer;
BEGIN
    IF $2 IS NULL OR $2 < 1 OR $2 > 120 THEN
        RAISE EXCEPTION 'periods must be between 1 and 120, not %', COALESCE($2::text, 'null')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF $3 IS NULL OR EXTRACT(day FROM $3) <> 0 OR EXTRACT(epoch FROM $3 - pg_catalog.date_trunc('month', $3)) <> 0
       OR EXTRACT(year FROM $3) * 12 + EXTRACT(month FROM $3) < 1 THEN
        RAISE EXCEPTION 'step must be a whole number of months, at least one, not %', COALESCE($3::text, 'null')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Extracts are made at month ends only.';
    END IF;
    v_months := (EXTRACT(year FROM $3) * 12 + EXTRACT(month FROM $3))::integer;
    SELECT pk.secret, pk.generation INTO v_key, v_gen FROM careflags.pseudonym_key pk;
    IF v_key IS NULL THEN
        RAISE EXCEPTION 'no pseudonym secret'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'An administrator makes one with SELECT careflags.rotate_pseudonym_key();';
    END IF;
    FOR k IN 0 .. $2 - 1 LOOP
        v_point := (pg_catalog.date_trunc('month', v_end::timestamp)
                    - pg_catalog.make_interval(months => k * v_months - 1) - interval '1 day')::date;
        -- The patients' rows come from indicator_patients (on Citus each
        -- of its queries runs on the shards and the rows are gathered on the
        -- coordinator); this query reads no table itself, so the HMAC is
        -- computed where it runs, and the secret is never sent to another
        -- node (on Citus: computed on the coordinator).
        RETURN QUERY
        WITH base AS (
            -- everyone in the setting at the period end; medication_review
            -- defaults to long-term residents only when no setting is given,
            -- so the population comes from an indicator without a default.
            SELECT ip.patient_id, ip.unit_id, ip.setting, ip.category, ip.at_risk,
                   ip.source_system, ip.source_key, ip.birth_date, ip.sex
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
        ), r0 AS (
            SELECT careflags.pseudonym_hmac(v_key, careflags.pseudonym_message(b.source_system, b.source_key)) AS pseudonym,
                   careflags.age_band(EXTRACT(year FROM pg_catalog.age(v_point, b.birth_date))::integer) AS age_band,
                   b.sex, b.setting, b.unit_id,
                   b.category AS nutrition_screening,
                   CASE WHEN np.patient_id IS NOT NULL THEN NULLIF(np.at_risk, false) ELSE b.at_risk END AS nutrition_at_risk,
                   np.category AS nutrition_plan, mr.category AS medication_review,
                   fra.category AS fall_risk_assessment,
                   CASE WHEN fp.patient_id IS NOT NULL THEN NULLIF(fp.at_risk, false) ELSE fra.at_risk END AS fall_risk_high,
                   fp.category AS fall_risk_plan
            FROM base b
            LEFT JOIN fra ON fra.patient_id = b.patient_id
            LEFT JOIN np ON np.patient_id = b.patient_id
            LEFT JOIN fp ON fp.patient_id = b.patient_id
            LEFT JOIN mr ON mr.patient_id = b.patient_id
        ), r1 AS (
            -- step 1: a wider age band for rows of a class below k
            SELECT r0.*, pg_catalog.count(*) OVER (PARTITION BY r0.setting, r0.unit_id, r0.sex, r0.age_band) < v_k AS g1
            FROM r0
        ), r1b AS (
            SELECT r1.*, CASE WHEN r1.g1 THEN careflags.age_band_wide(r1.age_band) ELSE r1.age_band END AS band1
            FROM r1
        ), r2 AS (
            -- step 2: no unit for rows still in a class below k
            SELECT r1b.*, r1b.g1 AND pg_catalog.count(*) OVER (PARTITION BY r1b.setting, r1b.unit_id, r1b.sex, r1b.band1) < v_k AS g2
            FROM r1b
        ), r2b AS (
            SELECT r2.*, CASE WHEN r2.g2 THEN NULL ELSE r2.unit_id END AS unit2 FROM r2
        ), r3 AS (
            -- step 3: no sex and one age band
            SELECT r2b.*, r2b.g2 AND pg_catalog.count(*) OVER (PARTITION BY r2b.setting, r2b.unit2, r2b.sex, r2b.band1) < v_k AS g3
            FROM r2b
        ), r3b AS (
            SELECT r3.*, CASE WHEN r3.g3 THEN NULL ELSE r3.sex END AS sex3,
                   CASE WHEN NOT r3.g3 THEN r3.band1 WHEN r3.band1 IN ('67-79', '80+') THEN '67+' ELSE 'all' END AS band3
            FROM r3
        ), r4 AS (
            -- step 4: rows still in a class below k are left out
            SELECT r3b.*, pg_catalog.count(*) OVER (PARTITION BY r3b.setting, r3b.unit2, r3b.sex3, r3b.band3) < v_k AS g4
            FROM r3b
        )
        SELECT r4.pseudonym, v_gen, v_point, r4.band3, r4.sex3, r4.setting, r4.unit2,
               r4.nutrition_screening, r4.nutrition_at_risk, r4.nutrition_plan, r4.medication_review,
               r4.fall_risk_assessment, r4.fall_risk_high, r4.fall_risk_plan,
               CASE WHEN r4.g4 THEN '{left_out}'::text[]
                    WHEN r4.g3 THEN '{age_band,unit_id,sex}'::text[]
                    WHEN r4.g2 THEN '{age_band,unit_id}'::text[]
                    WHEN r4.g1 THEN '{age_band}'::text[]
                    ELSE '{}'::text[] END
        FROM r4
        ORDER BY 1;
    END LOOP;
END
$$;
COMMENT ON FUNCTION careflags.extract_rows(date, integer, interval, integer, careflags.care_setting, text) IS
    'internal: the rows of careflags.extract(), rows to leave out marked {left_out}; not granted to anyone';

-- How long flags waited: from due (due_from) to the action (action_at, the
-- fact's own time; resolved_at when unknown) for flags resolved as done,
-- whose action fell in the 12 months of the period.  PL/pgSQL, not SQL: on
-- Citus a SQL function's parameters cannot reach the distributed plan of
-- flag joined with patient (issue 19); the query is the same.
CREATE OR REPLACE FUNCTION careflags.flag_response_times(period_end date DEFAULT NULL,
                                                min_age integer DEFAULT 67,
                                                setting careflags.care_setting DEFAULT NULL,
                                                unit text DEFAULT NULL)
    RETURNS TABLE (domain careflags.domain, rule_id text, resolved bigint,
                   median_days numeric, p90_days numeric, on_time_share numeric, disclosure text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    RETURN QUERY
    WITH w AS (
        SELECT r.starts_at, r.ends_at,
               (careflags.report_month_end($1)
                - pg_catalog.make_interval(years => careflags.report_check_min_age($2)))::date AS born_by,
               careflags.min_cell_size() AS k
        FROM careflags.report_period(careflags.report_month_end($1)) r
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
    ), t AS (
        SELECT f.domain, f.rule_id, pg_catalog.count(*) AS resolved,
               pg_catalog.round(pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY f.days)::numeric, 1) AS median_days,
               pg_catalog.round(pg_catalog.percentile_cont(0.9) WITHIN GROUP (ORDER BY f.days)::numeric, 1) AS p90_days,
               pg_catalog.round(100.0 * pg_catalog.count(*) FILTER (WHERE f.on_time) / NULLIF(pg_catalog.count(*), 0), 1) AS on_time_share,
               pg_catalog.count(*) BETWEEN 1 AND (SELECT w.k FROM w) - 1 AS small
        FROM f
        GROUP BY ROLLUP (f.domain, f.rule_id)
    ), u AS (
        -- a total with a withheld part withholds its count too (else the
        -- part follows by difference)
        SELECT t.*, EXISTS (SELECT FROM t c WHERE c.small AND c.rule_id IS NOT NULL
                            AND (t.domain IS NULL OR (t.rule_id IS NULL AND c.domain = t.domain))) AS part_small
        FROM t
    )
    SELECT u.domain, u.rule_id,
           CASE WHEN NOT u.small AND NOT u.part_small THEN u.resolved END,
           CASE WHEN NOT u.small THEN u.median_days END,
           CASE WHEN NOT u.small THEN u.p90_days END,
           CASE WHEN NOT u.small THEN u.on_time_share END,
           CASE WHEN u.small THEN 'withheld: fewer than ' || (SELECT w.k FROM w) || ' flags'
                WHEN u.part_small THEN 'count withheld: a part has fewer than ' || (SELECT w.k FROM w) || ' flags' END
    FROM u
    ORDER BY u.domain NULLS LAST, u.rule_id NULLS FIRST;
END
$$;
COMMENT ON FUNCTION careflags.flag_response_times(date, integer, careflags.care_setting, text) IS
    'response times of flags resolved as done in the 12 months ending with period_end, per rule, per domain (rule_id NULL) and overall (both NULL): count, median and 90th percentile days from due_from to resolution (0 when done before it was due), and the share done by due_at (%); rows of fewer than careflags.min_cell_size flags are withheld (disclosure)';

-- ==== end: reports and extract on Citus (issue 19) ====

-- ==== nurse views on Citus, one branch (issues 18, 19) ====
-- A nurse's plan of the nurse's views is her branch alone: the branch for
-- roles that read every unit is switched by reads_every_unit(), which the
-- planner decides for a role that may not read the tables (and drops the
-- branch); my_units() reads this node's copy of unit_access on Citus;
-- distribute() redefines the views on Citus as reads of
-- careflags.<view>_rows() (Citus reads a view's shards as the caller).
-- Whether the current role may SELECT every table given (as
-- has_table_privilege()): the switch between the views' two branches.  In C
-- (extension/worklist.c), with a planner support function that decides it
-- when the query is planned, for a role that may not (see above).
CREATE FUNCTION careflags.reads_every_unit_support(internal) RETURNS internal
    LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'careflags_reads_every_unit_support';
COMMENT ON FUNCTION careflags.reads_every_unit_support(internal) IS
    'planner support of careflags.reads_every_unit(): false at planning for a role that may not read the tables, so the nurse''s views plan one branch for her';
REVOKE ALL ON FUNCTION careflags.reads_every_unit_support(internal) FROM PUBLIC;
CREATE FUNCTION careflags.reads_every_unit(tables pg_catalog.regclass[]) RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE SUPPORT careflags.reads_every_unit_support
    AS 'MODULE_PATHNAME', 'careflags_reads_every_unit';
COMMENT ON FUNCTION careflags.reads_every_unit(pg_catalog.regclass[]) IS
    'whether the current role may SELECT every table given (the nurse''s views show such a role every unit); decided at planning for a role that may not';

CREATE OR REPLACE VIEW careflags.my_flags WITH (security_barrier = true) AS
SELECT n.* FROM (
    SELECT f.flag_id, f.patient_id, f.unit_id, f.rule_id, f.domain, f.severity,
           careflags.flag_state(f.due_from, f.due_at, f.due_soon_window, careflags.clock()) AS state,
           f.raised_at, f.due_from, f.due_at, f.due_soon_window, f.reason,
           f.acknowledged_at, f.acknowledged_by, f.snoozed_until
      FROM pg_catalog.unnest((SELECT careflags.my_units())::text[]) AS mu(unit_id)
     CROSS JOIN LATERAL (SELECT f.* FROM careflags.flag f
                          WHERE f.unit_id OPERATOR(pg_catalog.=) mu.unit_id AND f.resolved_at IS NULL OFFSET 0) f
     WHERE NOT careflags.reads_every_unit(ARRAY['careflags.flag'::pg_catalog.regclass])
    OFFSET 0) n
UNION ALL
SELECT f.flag_id, f.patient_id, f.unit_id, f.rule_id, f.domain, f.severity,
       careflags.flag_state(f.due_from, f.due_at, f.due_soon_window, careflags.clock()),
       f.raised_at, f.due_from, f.due_at, f.due_soon_window, f.reason,
       f.acknowledged_at, f.acknowledged_by, f.snoozed_until
  FROM careflags.flag f
 WHERE f.resolved_at IS NULL
   AND careflags.reads_every_unit(ARRAY['careflags.flag'::pg_catalog.regclass]);
-- (careflags.worklist: its one-branch form is in the section "the nurse's worklist: rule titles
-- once per query" below, which replaces it once)
CREATE OR REPLACE VIEW careflags.my_patients WITH (security_barrier = true) AS
SELECT n.* FROM (
    SELECT p.patient_id, p.display_name, p.birth_date, p.sex, p.deceased,
           e.episode_id, e.unit_id, e.setting, e.started_at, e.ended_at
      FROM pg_catalog.unnest((SELECT careflags.my_units())::text[]) AS mu(unit_id)
      JOIN careflags.unit u ON u.unit_id OPERATOR(pg_catalog.=) mu.unit_id
     CROSS JOIN LATERAL (SELECT e.* FROM careflags.episode e
                          WHERE e.unit_id OPERATOR(pg_catalog.=) mu.unit_id
                            AND (e.ended_at IS NULL
                                 OR e.ended_at OPERATOR(pg_catalog.>) (careflags.clock() OPERATOR(pg_catalog.-) u.visible_after_leaving))
                         OFFSET 0) e
     CROSS JOIN LATERAL (SELECT p.patient_id, p.display_name, p.birth_date, p.sex, p.deceased
                           FROM careflags.patient p
                          WHERE p.patient_id OPERATOR(pg_catalog.=) e.patient_id OFFSET 0) p
     WHERE NOT careflags.reads_every_unit(ARRAY['careflags.patient'::pg_catalog.regclass])
    OFFSET 0) n
UNION ALL
SELECT p.patient_id, p.display_name, p.birth_date, p.sex, p.deceased,
       e.episode_id, e.unit_id, e.setting, e.started_at, e.ended_at
  FROM careflags.episode e
  JOIN careflags.unit u ON u.unit_id OPERATOR(pg_catalog.=) e.unit_id
  JOIN careflags.patient p ON p.patient_id OPERATOR(pg_catalog.=) e.patient_id
 WHERE (e.ended_at IS NULL
        OR e.ended_at OPERATOR(pg_catalog.>) (careflags.clock() OPERATOR(pg_catalog.-) u.visible_after_leaving))
   AND careflags.reads_every_unit(ARRAY['careflags.patient'::pg_catalog.regclass]);
CREATE OR REPLACE VIEW careflags.my_flag_events WITH (security_barrier = true) AS
SELECT n.* FROM (
    SELECT e.event_id, e.kind, e.happened_at, e.flag_id, e.patient_id, e.unit_id, e.rule_id, r.title,
           CASE WHEN f.resolved_at IS NOT NULL THEN 'resolved'
                ELSE careflags.flag_state(f.due_from, f.due_at, f.due_soon_window, careflags.clock()) END AS state,
           f.due_at, f.reason, f.resolution, f.details
      FROM pg_catalog.unnest((SELECT careflags.my_units())::text[]) AS mu(unit_id)
     CROSS JOIN LATERAL (SELECT e.* FROM careflags.flag_event e
                          WHERE e.unit_id OPERATOR(pg_catalog.=) mu.unit_id OFFSET 0) e
      LEFT JOIN LATERAL (SELECT f.resolved_at, f.due_from, f.due_at, f.due_soon_window, f.reason, f.resolution, f.details
                           FROM careflags.flag f
                          WHERE f.patient_id OPERATOR(pg_catalog.=) e.patient_id
                            AND f.flag_id OPERATOR(pg_catalog.=) e.flag_id OFFSET 0) f ON true
      LEFT JOIN LATERAL (SELECT r.title FROM careflags.rule r
                          WHERE r.rule_id OPERATOR(pg_catalog.=) e.rule_id OFFSET 0) r ON true
     WHERE NOT careflags.reads_every_unit(ARRAY['careflags.flag_event'::pg_catalog.regclass])
    OFFSET 0) n
UNION ALL
SELECT e.event_id, e.kind, e.happened_at, e.flag_id, e.patient_id, e.unit_id, e.rule_id, r.title,
       CASE WHEN f.resolved_at IS NOT NULL THEN 'resolved'
            ELSE careflags.flag_state(f.due_from, f.due_at, f.due_soon_window, careflags.clock()) END,
       f.due_at, f.reason, f.resolution, f.details
  FROM careflags.flag_event e
  LEFT JOIN careflags.flag f ON f.patient_id OPERATOR(pg_catalog.=) e.patient_id
                              AND f.flag_id OPERATOR(pg_catalog.=) e.flag_id
  LEFT JOIN careflags.rule r ON r.rule_id OPERATOR(pg_catalog.=) e.rule_id
 WHERE careflags.reads_every_unit(ARRAY['careflags.flag_event'::pg_catalog.regclass]);
CREATE OR REPLACE FUNCTION careflags.distribute(shard_count integer DEFAULT NULL) RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    SET client_min_messages = warning
AS $distribute$
DECLARE
    per_patient constant text[] := ARRAY['patient', 'episode', 'assessment', 'measurement', 'medication',
                                         'medication_review', 'care_plan', 'fall', 'exemption',
                                         'flag', 'patient_state', 'quarantine', 'flag_event'];
    facts constant text[] := ARRAY['episode', 'assessment', 'measurement', 'medication',
                                   'medication_review', 'care_plan', 'fall', 'exemption'];
    reference constant text[] := ARRAY['unit', 'unit_access', 'rule', 'rule_site_change', 'frid_atc',
                                       'downton_atc', 'rule_text', 'national_figure'];
    t text;
    fk record;
    fks text[] := '{}';
    prep text[];
    failure text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'citus') THEN
        RAISE EXCEPTION 'careflags.distribute() needs Citus'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'On one server there is nothing to distribute.  On a Citus coordinator: CREATE EXTENSION citus first, add the workers, then run it.';
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.pg_dist_partition
                WHERE logicalrelid OPERATOR(pg_catalog.=) 'careflags.patient'::pg_catalog.regclass) THEN
        RAISE EXCEPTION 'careflags is already distributed'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'careflags.distribute() runs once, on the coordinator.';
    END IF;

    -- settings for this database on every node (and this session)
    PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', false);
    PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);
    EXECUTE pg_catalog.format('ALTER DATABASE %I SET citus.enable_unsafe_triggers = on',
                              pg_catalog.current_database());
    EXECUTE pg_catalog.format('ALTER DATABASE %I SET citus.propagate_set_commands = local',
                              pg_catalog.current_database());
    PERFORM pg_catalog.run_command_on_workers(pg_catalog.format(
        'ALTER DATABASE %I SET citus.enable_unsafe_triggers = on', pg_catalog.current_database()));
    IF shard_count IS NOT NULL THEN
        PERFORM pg_catalog.set_config('citus.shard_count', shard_count::text, true);
    END IF;

    -- What changes before the tables are distributed, done here and on
    -- every worker (CREATE EXTENSION made careflags' tables there too, and
    -- Citus uses them as the distributed tables' shells): row triggers;
    -- unique constraints that include the patient; the foreign keys between
    -- careflags' tables dropped for the time of the distribution (Citus
    -- would otherwise convert the tables of a key graph one by one,
    -- recreating the views on them) and added back after; and no careflags
    -- trigger firing while Citus copies the rows already there (checked and
    -- evaluated on one server) into the shards.
    prep := ARRAY['SELECT careflags.set_trigger_mode(''row'')'];
    FOREACH t IN ARRAY facts || ARRAY['patient'] LOOP
        prep := prep || pg_catalog.format('ALTER TABLE careflags.%I DROP CONSTRAINT %I', t, t || '_source_key')
                     || pg_catalog.format('ALTER TABLE careflags.%I ADD CONSTRAINT %I UNIQUE (patient_id, source_system, source_key)',
                                          t, t || '_source_key');
    END LOOP;
    prep := prep || ARRAY[
        'ALTER TABLE careflags.flag_event DROP CONSTRAINT flag_event_pkey',
        'ALTER TABLE careflags.flag_event ADD CONSTRAINT flag_event_pkey PRIMARY KEY (patient_id, event_id)',
        'ALTER TABLE careflags.quarantine DROP CONSTRAINT quarantine_pkey',
        'ALTER TABLE careflags.quarantine ALTER COLUMN patient_id SET NOT NULL',
        'ALTER TABLE careflags.quarantine ADD CONSTRAINT quarantine_pkey PRIMARY KEY (patient_id, quarantine_id)'];
    FOR fk IN SELECT c.conrelid::pg_catalog.regclass AS tbl, c.conname,
                     pg_catalog.pg_get_constraintdef(c.oid) AS def
                FROM pg_catalog.pg_constraint c
               WHERE c.contype OPERATOR(pg_catalog.=) 'f'
                 AND c.connamespace OPERATOR(pg_catalog.=) 'careflags'::pg_catalog.regnamespace
               ORDER BY c.conname LOOP
        fks := fks || pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I %s', fk.tbl, fk.conname, fk.def);
        prep := prep || pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', fk.tbl, fk.conname);
    END LOOP;
    FOREACH t IN ARRAY reference || per_patient LOOP
        prep := prep || pg_catalog.format('ALTER TABLE careflags.%I DISABLE TRIGGER USER', t);
    END LOOP;
    FOREACH t IN ARRAY prep LOOP
        EXECUTE t;
        SELECT pg_catalog.string_agg(w.nodename || ':' || w.nodeport || ': ' || w.result, '; ')
          INTO failure FROM pg_catalog.run_command_on_workers(t) w WHERE NOT w.success;
        IF failure IS NOT NULL THEN
            RAISE EXCEPTION 'careflags.distribute(): % failed on a worker: %', t, failure
                USING ERRCODE = 'external_routine_exception';
        END IF;
    END LOOP;

    FOREACH t IN ARRAY reference LOOP
        PERFORM pg_catalog.create_reference_table(pg_catalog.format('careflags.%I', t)::pg_catalog.regclass);
    END LOOP;
    PERFORM pg_catalog.create_distributed_table('careflags.patient'::pg_catalog.regclass, 'patient_id');
    FOREACH t IN ARRAY per_patient[2:] LOOP
        PERFORM pg_catalog.create_distributed_table(pg_catalog.format('careflags.%I', t)::pg_catalog.regclass,
                                                    'patient_id', colocate_with => 'careflags.patient');
    END LOOP;
    FOREACH t IN ARRAY fks LOOP
        EXECUTE t;
    END LOOP;
    -- Flags, events and quarantine rows are numbered on the node that holds
    -- the patient: each node its own range of ids (as Citus numbers a
    -- distributed table's identity column), so that a flag id names one
    -- flag in the whole cluster (acknowledge(), snooze(), exempt()).
    t := $seq$DO $do$
        DECLARE
            g bigint := (SELECT groupid FROM pg_catalog.pg_dist_local_group);
            s text;
        BEGIN
            FOREACH s IN ARRAY ARRAY['flag_flag_id_seq', 'flag_event_event_id_seq', 'quarantine_quarantine_id_seq'] LOOP
                EXECUTE pg_catalog.format('ALTER SEQUENCE careflags.%I MINVALUE %s MAXVALUE %s START %s RESTART %s',
                                          s, (g << 48) + 1, ((g + 1) << 48) - 1, (g << 48) + 1, (g << 48) + 1);
            END LOOP;
        END
        $do$$seq$;
    SELECT pg_catalog.string_agg(w.nodename || ':' || w.nodeport || ': ' || w.result, '; ')
      INTO failure FROM pg_catalog.run_command_on_workers(t) w WHERE NOT w.success;
    IF failure IS NOT NULL THEN
        RAISE EXCEPTION 'careflags.distribute(): numbering flags on the workers failed: %', failure
            USING ERRCODE = 'external_routine_exception';
    END IF;
    FOREACH t IN ARRAY reference || per_patient LOOP
        EXECUTE pg_catalog.format('ALTER TABLE careflags.%I ENABLE TRIGGER USER', t);
    END LOOP;
    -- the nurse's views read through careflags.<view>_rows() (the
    -- coordinator's views; the workers' copies are never read)
    PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'off', true);
    PERFORM careflags.citus_nurse_views();
    PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'on', true);
    RETURN pg_catalog.format('%s tables distributed by patient_id, %s reference tables; row triggers',
                             pg_catalog.array_length(per_patient, 1), pg_catalog.array_length(reference, 1));
END
$distribute$;
-- ---- the nurse's views on Citus (issues 18, 19) ----
-- Citus reads the shards of a view's tables as the user who queries the
-- view, not as its owner (citusdata/citus#1683): a nurse, who may read no
-- base table, is refused on every shard.  careflags.distribute() therefore
-- redefines worklist, my_flags, my_patients and my_flag_events (and so
-- actions) as reads of careflags.<view>_rows(), a C function that decides
-- the caller's units as the caller (my_units(), the table privileges that
-- give every unit) and reads, as the extension owner, the rows of those
-- units from careflags.<view>_all: the same rows for every unit, in a shape
-- Citus pushes down to the shards (joins by patient_id and to reference
-- tables).  On one server nothing reads these.
CREATE VIEW careflags.my_flags_all AS
SELECT f.flag_id, f.patient_id, f.unit_id, f.rule_id, f.domain, f.severity,
       careflags.flag_state(f.due_from, f.due_at, f.due_soon_window, careflags.clock()) AS state,
       f.raised_at, f.due_from, f.due_at, f.due_soon_window, f.reason,
       f.acknowledged_at, f.acknowledged_by, f.snoozed_until
  FROM careflags.flag f
 WHERE f.resolved_at IS NULL;
COMMENT ON VIEW careflags.my_flags_all IS
    'Citus, internal: careflags.my_flags for every unit, read as the owner by careflags.my_flags_rows()';

CREATE VIEW careflags.worklist_all AS
SELECT f.flag_id, f.patient_id, p.display_name AS patient, f.unit_id, u.name AS unit, f.rule_id, r.title, f.severity,
       careflags.flag_state(f.due_from, f.due_at, f.due_soon_window, careflags.clock()) AS state,
       f.due_from, f.due_at, f.reason, f.acknowledged_at, f.acknowledged_by, f.details,
       careflags.action_of(f.domain, r.anchor) AS action,
       COALESCE(rt.title, r.title) AS title_text,
       careflags.reason_text(f.details, f.reason) AS reason_text,
       careflags.state_text(careflags.flag_state(f.due_from, f.due_at, f.due_soon_window, careflags.clock())) AS state_text
  FROM careflags.flag f
  JOIN careflags.patient p ON p.patient_id OPERATOR(pg_catalog.=) f.patient_id
  JOIN careflags.rule r ON r.rule_id OPERATOR(pg_catalog.=) f.rule_id
  LEFT JOIN careflags.unit u ON u.unit_id OPERATOR(pg_catalog.=) f.unit_id
  LEFT JOIN careflags.rule_text rt ON rt.rule_id OPERATOR(pg_catalog.=) f.rule_id
                                    AND rt.language OPERATOR(pg_catalog.=) careflags.language()
 WHERE f.resolved_at IS NULL
   AND (f.snoozed_until IS NULL OR f.snoozed_until OPERATOR(pg_catalog.<=) careflags.clock())
   AND careflags.clock() OPERATOR(pg_catalog.>=) careflags.due_soon_from(f.due_from, f.due_soon_window);
COMMENT ON VIEW careflags.worklist_all IS
    'Citus, internal: careflags.worklist for every unit, read as the owner by careflags.worklist_rows()';

CREATE VIEW careflags.my_patients_all AS
SELECT p.patient_id, p.display_name, p.birth_date, p.sex, p.deceased,
       e.episode_id, e.unit_id, e.setting, e.started_at, e.ended_at
  FROM careflags.episode e
  JOIN careflags.unit u ON u.unit_id OPERATOR(pg_catalog.=) e.unit_id
  JOIN careflags.patient p ON p.patient_id OPERATOR(pg_catalog.=) e.patient_id
 WHERE e.ended_at IS NULL
    OR e.ended_at OPERATOR(pg_catalog.>) (careflags.clock() OPERATOR(pg_catalog.-) u.visible_after_leaving);
COMMENT ON VIEW careflags.my_patients_all IS
    'Citus, internal: careflags.my_patients for every unit, read as the owner by careflags.my_patients_rows()';

CREATE VIEW careflags.my_flag_events_all AS
SELECT e.event_id, e.kind, e.happened_at, e.flag_id, e.patient_id, e.unit_id, e.rule_id, r.title,
       CASE WHEN f.resolved_at IS NOT NULL THEN 'resolved'
            ELSE careflags.flag_state(f.due_from, f.due_at, f.due_soon_window, careflags.clock()) END AS state,
       f.due_at, f.reason, f.resolution, f.details
  FROM careflags.flag_event e
  LEFT JOIN careflags.flag f ON f.patient_id OPERATOR(pg_catalog.=) e.patient_id
                              AND f.flag_id OPERATOR(pg_catalog.=) e.flag_id
  LEFT JOIN careflags.rule r ON r.rule_id OPERATOR(pg_catalog.=) e.rule_id;
COMMENT ON VIEW careflags.my_flag_events_all IS
    'Citus, internal: careflags.my_flag_events for every unit, read as the owner by careflags.my_flag_events_rows()';
REVOKE ALL ON careflags.my_flags_all, careflags.worklist_all, careflags.my_patients_all,
    careflags.my_flag_events_all FROM PUBLIC;

CREATE FUNCTION careflags.my_flags_rows() RETURNS SETOF careflags.my_flags_all
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'careflags_nurse_view_rows';
COMMENT ON FUNCTION careflags.my_flags_rows() IS
    'Citus: the caller''s rows of careflags.my_flags (her units'', or every unit''s for a role that may read careflags.flag), read as the owner';
CREATE FUNCTION careflags.worklist_rows() RETURNS SETOF careflags.worklist_all
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'careflags_nurse_view_rows';
COMMENT ON FUNCTION careflags.worklist_rows() IS
    'Citus: the caller''s rows of careflags.worklist (her units'', or every unit''s for a role that may read careflags.flag and careflags.patient), read as the owner';
CREATE FUNCTION careflags.my_patients_rows() RETURNS SETOF careflags.my_patients_all
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'careflags_nurse_view_rows';
COMMENT ON FUNCTION careflags.my_patients_rows() IS
    'Citus: the caller''s rows of careflags.my_patients (her units'', or every unit''s for a role that may read careflags.patient), read as the owner';
CREATE FUNCTION careflags.my_flag_events_rows() RETURNS SETOF careflags.my_flag_events_all
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'careflags_nurse_view_rows';
COMMENT ON FUNCTION careflags.my_flag_events_rows() IS
    'Citus: the caller''s rows of careflags.my_flag_events (her units'', or every unit''s for a role that may read careflags.flag_event), read as the owner';
REVOKE ALL ON FUNCTION careflags.my_flags_rows(), careflags.worklist_rows(), careflags.my_patients_rows(),
    careflags.my_flag_events_rows() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION careflags.my_flags_rows(), careflags.worklist_rows(), careflags.my_patients_rows(),
    careflags.my_flag_events_rows() TO careflags_nurse, careflags_admin;

-- The nurse's views redefined on those functions (called by distribute()):
-- the same columns, so careflags.actions and the grants stay.
CREATE FUNCTION careflags.citus_nurse_views() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $views$
BEGIN
    CREATE OR REPLACE VIEW careflags.my_flags WITH (security_barrier = true) AS
        SELECT v.* FROM careflags.my_flags_rows() v;
    CREATE OR REPLACE VIEW careflags.worklist WITH (security_barrier = true) AS
        SELECT v.* FROM careflags.worklist_rows() v ORDER BY v.severity, v.due_at, v.flag_id;
    CREATE OR REPLACE VIEW careflags.my_patients WITH (security_barrier = true) AS
        SELECT v.* FROM careflags.my_patients_rows() v;
    CREATE OR REPLACE VIEW careflags.my_flag_events WITH (security_barrier = true) AS
        SELECT v.* FROM careflags.my_flag_events_rows() v;
END
$views$;
COMMENT ON FUNCTION careflags.citus_nurse_views() IS
    'Citus, internal (careflags.distribute()): redefines worklist, my_flags, my_patients and my_flag_events as reads of careflags.<view>_rows(), which Citus can run for a nurse';
REVOKE ALL ON FUNCTION careflags.citus_nurse_views() FROM PUBLIC;
-- ==== end: nurse views on Citus (issues 18, 19) ====

-- ==== the nurse's worklist: rule titles once per query, sorted before the texts are rendered (issue 18) ====
-- The nurse's branch joins the rules and their titles in the reader's
-- language by hash (rule_titles, read once per query) instead of looking
-- them up per flag; the rows are sorted with the sort keys as their first
-- columns, before the texts are rendered (see sql/parts/50_worklist.sql).
CREATE OR REPLACE VIEW careflags.worklist WITH (security_barrier = true) AS
WITH rule_titles AS MATERIALIZED (
    SELECT r.rule_id, r.title, r.anchor, t.title AS title_lang
      FROM careflags.rule r
      LEFT JOIN careflags.rule_text t ON t.rule_id OPERATOR(pg_catalog.=) r.rule_id
                                      AND t.language OPERATOR(pg_catalog.=) careflags.language())
SELECT s.flag_id, s.patient_id, s.patient, s.unit_id, s.unit, s.rule_id, s.title, s.severity, s.state,
       s.due_from, s.due_at, s.reason, s.acknowledged_at, s.acknowledged_by, s.details, s.action,
       COALESCE(s.title_lang, s.title) AS title_text,
       careflags.reason_text(s.details, s.reason) AS reason_text,
       careflags.state_text(s.state) AS state_text FROM (
SELECT w.severity, w.due_at, w.flag_id, w.patient_id, w.patient, w.unit_id, w.unit, w.rule_id, w.title, w.state,
       w.due_from, w.reason, w.acknowledged_at, w.acknowledged_by, w.details, w.action, w.title_lang FROM (
    SELECT n.* FROM (
        SELECT f.flag_id, f.patient_id, p.display_name AS patient, f.unit_id, u.name AS unit,
               f.rule_id, r.title, f.severity,
               careflags.flag_state(f.due_from, f.due_at, f.due_soon_window, careflags.clock()) AS state,
               f.due_from, f.due_at, f.reason, f.acknowledged_at, f.acknowledged_by,
               f.details, careflags.action_of(f.domain, r.anchor) AS action, r.title_lang
          FROM pg_catalog.unnest((SELECT careflags.my_units())::text[]) AS mu(unit_id)
         CROSS JOIN LATERAL (SELECT f.* FROM careflags.flag f
                              WHERE f.unit_id OPERATOR(pg_catalog.=) mu.unit_id AND f.resolved_at IS NULL OFFSET 0) f
         CROSS JOIN LATERAL (SELECT p.display_name FROM careflags.patient p
                              WHERE p.patient_id OPERATOR(pg_catalog.=) f.patient_id OFFSET 0) p
          JOIN rule_titles r ON r.rule_id OPERATOR(pg_catalog.=) f.rule_id
          LEFT JOIN LATERAL (SELECT u.name FROM careflags.unit u
                              WHERE u.unit_id OPERATOR(pg_catalog.=) f.unit_id OFFSET 0) u ON true
         WHERE (f.snoozed_until IS NULL OR f.snoozed_until OPERATOR(pg_catalog.<=) careflags.clock())
           AND careflags.clock() OPERATOR(pg_catalog.>=) careflags.due_soon_from(f.due_from, f.due_soon_window)
           AND NOT careflags.reads_every_unit(ARRAY['careflags.flag'::pg_catalog.regclass, 'careflags.patient'::pg_catalog.regclass])
        OFFSET 0) n
    UNION ALL
    SELECT f.flag_id, f.patient_id, p.display_name, f.unit_id, u.name, f.rule_id, r.title, f.severity,
           careflags.flag_state(f.due_from, f.due_at, f.due_soon_window, careflags.clock()),
           f.due_from, f.due_at, f.reason, f.acknowledged_at, f.acknowledged_by,
           f.details, careflags.action_of(f.domain, r.anchor), rt.title
      FROM careflags.flag f
      JOIN careflags.patient p ON p.patient_id OPERATOR(pg_catalog.=) f.patient_id
      JOIN careflags.rule r ON r.rule_id OPERATOR(pg_catalog.=) f.rule_id
      LEFT JOIN careflags.unit u ON u.unit_id OPERATOR(pg_catalog.=) f.unit_id
      LEFT JOIN careflags.rule_text rt ON rt.rule_id OPERATOR(pg_catalog.=) f.rule_id
                                        AND rt.language OPERATOR(pg_catalog.=) careflags.language()
     WHERE f.resolved_at IS NULL
       AND (f.snoozed_until IS NULL OR f.snoozed_until OPERATOR(pg_catalog.<=) careflags.clock())
       AND careflags.clock() OPERATOR(pg_catalog.>=) careflags.due_soon_from(f.due_from, f.due_soon_window)
       AND careflags.reads_every_unit(ARRAY['careflags.flag'::pg_catalog.regclass, 'careflags.patient'::pg_catalog.regclass])) w
 ORDER BY w.severity, w.due_at, w.flag_id) s
 ORDER BY s.severity, s.due_at, s.flag_id;
-- ==== end: the nurse's worklist: rule titles once per query, sorted before the texts are rendered (issue 18) ====
