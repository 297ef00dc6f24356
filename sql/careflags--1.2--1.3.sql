-- careflags 1.2 -> 1.3 (ALTER EXTENSION careflags UPDATE TO '1.3').
--
-- Exactly what sql/parts/ gained since 1.2, so that an upgraded database and
-- a fresh 1.3 one are alike object by object (tests/reliability/50_upgrade.sql).
-- No flag, audit row or site customisation is lost.
\echo Use "ALTER EXTENSION careflags UPDATE TO '1.3'" to load this file. \quit

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
           AND careflags.clock() OPERATOR(pg_catalog.>=) (f.due_from OPERATOR(pg_catalog.-) f.due_soon_window)
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
       AND careflags.clock() OPERATOR(pg_catalog.>=) (f.due_from OPERATOR(pg_catalog.-) f.due_soon_window)
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
