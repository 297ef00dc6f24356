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
-- visible_after_leaving (30 days) only.  unit_access is keyed by the role's
-- oid: existing rows are mapped to the role that has their name now; rows of
-- roles that no longer exist are removed (with a WARNING naming them).

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
-- of another unit; the rows of other tables they show (names, rule titles)
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
      FROM careflags.flag f
     WHERE f.resolved_at IS NULL
       AND f.unit_id OPERATOR(pg_catalog.=) ANY ((SELECT careflags.my_units())::text[])
       AND NOT pg_catalog.has_table_privilege('careflags.flag'::pg_catalog.regclass, 'SELECT')
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
          FROM careflags.flag f
         CROSS JOIN LATERAL (SELECT p.display_name FROM careflags.patient p
                              WHERE p.patient_id OPERATOR(pg_catalog.=) f.patient_id OFFSET 0) p
         CROSS JOIN LATERAL (SELECT r.title FROM careflags.rule r
                              WHERE r.rule_id OPERATOR(pg_catalog.=) f.rule_id OFFSET 0) r
          LEFT JOIN LATERAL (SELECT u.name FROM careflags.unit u
                              WHERE u.unit_id OPERATOR(pg_catalog.=) f.unit_id OFFSET 0) u ON true
         WHERE f.resolved_at IS NULL
           AND f.unit_id OPERATOR(pg_catalog.=) ANY ((SELECT careflags.my_units())::text[])
           AND (f.snoozed_until IS NULL OR f.snoozed_until OPERATOR(pg_catalog.<=) careflags.clock())
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
      FROM careflags.episode e
      JOIN careflags.unit u ON u.unit_id OPERATOR(pg_catalog.=) e.unit_id
     CROSS JOIN LATERAL (SELECT p.patient_id, p.display_name, p.birth_date, p.sex, p.deceased
                           FROM careflags.patient p
                          WHERE p.patient_id OPERATOR(pg_catalog.=) e.patient_id OFFSET 0) p
     WHERE e.unit_id OPERATOR(pg_catalog.=) ANY ((SELECT careflags.my_units())::text[])
       AND (e.ended_at IS NULL
            OR e.ended_at OPERATOR(pg_catalog.>) (careflags.clock() OPERATOR(pg_catalog.-) u.visible_after_leaving))
       AND NOT pg_catalog.has_table_privilege('careflags.patient'::pg_catalog.regclass, 'SELECT')
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
      FROM careflags.flag_event e
      LEFT JOIN LATERAL (SELECT f.resolved_at, f.due_from, f.due_at, f.due_soon_window, f.reason, f.resolution
                           FROM careflags.flag f
                          WHERE f.patient_id OPERATOR(pg_catalog.=) e.patient_id
                            AND f.flag_id OPERATOR(pg_catalog.=) e.flag_id OFFSET 0) f ON true
      LEFT JOIN LATERAL (SELECT r.title FROM careflags.rule r
                          WHERE r.rule_id OPERATOR(pg_catalog.=) e.rule_id OFFSET 0) r ON true
     WHERE e.unit_id OPERATOR(pg_catalog.=) ANY ((SELECT careflags.my_units())::text[])
       AND NOT pg_catalog.has_table_privilege('careflags.flag_event'::pg_catalog.regclass, 'SELECT')
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
          FROM careflags.flag f
         CROSS JOIN LATERAL (SELECT p.display_name FROM careflags.patient p
                              WHERE p.patient_id OPERATOR(pg_catalog.=) f.patient_id OFFSET 0) p
         CROSS JOIN LATERAL (SELECT r.title, r.anchor FROM careflags.rule r
                              WHERE r.rule_id OPERATOR(pg_catalog.=) f.rule_id OFFSET 0) r
          LEFT JOIN LATERAL (SELECT u.name FROM careflags.unit u
                              WHERE u.unit_id OPERATOR(pg_catalog.=) f.unit_id OFFSET 0) u ON true
         WHERE f.resolved_at IS NULL
           AND f.unit_id OPERATOR(pg_catalog.=) ANY ((SELECT careflags.my_units())::text[])
           AND (f.snoozed_until IS NULL OR f.snoozed_until OPERATOR(pg_catalog.<=) careflags.clock())
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
-- a row, in one transaction, through the per-flag functions (one audit
-- entry per flag, as those write them).

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

CREATE FUNCTION careflags.acknowledge_action(patient_id bigint, action text, note text DEFAULT NULL) RETURNS bigint[]
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    f bigint;
    audit_ids bigint[] := '{}';
BEGIN
    FOREACH f IN ARRAY careflags.action_flags(patient_id, action) LOOP
        audit_ids := pg_catalog.array_append(audit_ids, careflags.acknowledge(f, note));
    END LOOP;
    RETURN audit_ids;
END
$$;
COMMENT ON FUNCTION careflags.acknowledge_action(bigint, text, text) IS
    'acknowledge every flag behind one row of careflags.actions (one transaction; careflags.acknowledge per flag, one audit entry each); returns the audit ids';

CREATE FUNCTION careflags.snooze_action(patient_id bigint, action text, until timestamptz, note text DEFAULT NULL) RETURNS bigint[]
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    f bigint;
    audit_ids bigint[] := '{}';
BEGIN
    FOREACH f IN ARRAY careflags.action_flags(patient_id, action) LOOP
        audit_ids := pg_catalog.array_append(audit_ids, careflags.snooze(f, until, note));
    END LOOP;
    RETURN audit_ids;
END
$$;
COMMENT ON FUNCTION careflags.snooze_action(bigint, text, timestamptz, text) IS
    'snooze every flag behind one row of careflags.actions until a time (each within its rule''s max_snooze; one transaction, one audit entry per flag); returns the audit ids';

CREATE FUNCTION careflags.exempt_action(patient_id bigint, action text, reason text, valid_until timestamptz DEFAULT NULL) RETURNS bigint[]
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    f bigint;
    audit_ids bigint[] := '{}';
BEGIN
    FOREACH f IN ARRAY careflags.action_flags(patient_id, action) LOOP
        audit_ids := pg_catalog.array_append(audit_ids, careflags.exempt(f, reason, valid_until));
    END LOOP;
    RETURN audit_ids;
END
$$;
COMMENT ON FUNCTION careflags.exempt_action(bigint, text, text, timestamptz) IS
    'mark every rule behind one row of careflags.actions not relevant for the patient (careflags.exempt per flag, one transaction, one audit entry per flag); returns the audit ids';

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
