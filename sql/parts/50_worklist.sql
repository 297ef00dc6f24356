-- sql/parts/50_worklist.sql - what a nurse sees and does; roles, row-level
-- security, and the tamper-evident audit of flag actions.
\echo Use "CREATE EXTENSION careflags" to load this file. \quit

-- ---- what each role reads ----
-- Nurses read no base table.  They read the views below, which belong to the
-- extension owner (so they read the tables with its rights) and evaluate
-- CURRENT_USER, my_units() and reads_every_unit() as the caller.  Each
-- view's unit filter sits inside a subquery with OFFSET 0, which the planner
-- never pushes the caller's own conditions into: the scans below it are
-- decided by the view alone (an index read of the caller's units), so
-- neither a leaky function nor EXPLAIN ANALYZE's row counts ever meet a row
-- of another unit (the unit filter is a per-unit index condition: the
-- caller's units are unnested, each read with unit_id = that unit); the rows of other tables they show (names, units)
-- are looked up per row of the caller's units, by key (LATERAL ... OFFSET 0,
-- which is never turned into a scan of the whole table).  Only the rule
-- tables (careflags.rule, rule_text), which every nurse may read whole
-- anyway, are read whole, once per query (the worklist).  The views are also
-- security barriers, so a caller's
-- condition that is not leakproof runs after them.  A role that may read the
-- base tables anyway (careflags_admin for flags and events, a superuser for
-- everything) gets every unit through a second branch, flat, so that its
-- own conditions (a patient, a unit) reach the scans.  Which branch a
-- query needs is known when it is planned: reads_every_unit() is false at
-- planning for a role that may not read the tables, and the planner drops
-- that branch, so a nurse's plan is her branch alone (no Append, no scan
-- of every open flag to start or to cost); the plan is marked as the
-- planning role's, so a cached plan is planned again for another role.
-- For a role that may read the tables both branches stay, switched once per
-- query (a one-time filter) by reads_every_unit() at run time (a cached
-- plan that outlived a privilege shows nothing it should not).

-- The caller's own rows of careflags.unit_access (those of the roles it is a
-- member of): read by index on the role, nothing else is touched.
CREATE VIEW @extschema@.my_unit_access WITH (security_barrier = true) AS
SELECT a.unit_id, a.role
  FROM (SELECT ua.unit_id, ua.role
          FROM @extschema@.unit_access ua
         WHERE ua.role OPERATOR(pg_catalog.=) ANY (ARRAY(
               SELECT r.oid::pg_catalog.regrole FROM pg_catalog.pg_roles r
                WHERE pg_catalog.pg_has_role(CURRENT_USER, r.oid, 'MEMBER')))
        OFFSET 0) a;
COMMENT ON VIEW @extschema@.my_unit_access IS
    'the rows of careflags.unit_access that give the current role (directly or through a role it belongs to) its units; nurses read only these';

-- The units the current role may see: those mapped in unit_access to a role
-- it is a member of (the rows my_unit_access shows it).  Called once per
-- query (as an InitPlan) by the views.  In C (extension/worklist.c): it
-- reads unit_access directly and keeps its answer while the role, the
-- transaction, the command, the snapshot and every role membership stay
-- the same (once per transaction under REPEATABLE READ, once per statement
-- under READ COMMITTED, where a unit taken away elsewhere must be gone at
-- the next statement).  PARALLEL UNSAFE on purpose: a query that reads a
-- view calling it is never planned in parallel (each view's second branch,
-- for roles that may read every unit, was planned for a nurse too until
-- reads_every_unit() let the planner drop it; planned in parallel, it
-- launched a worker for every nurse's query only to find its one-time
-- filter false: 30 ms of a 40 ms worklist at 100,000 patients).
CREATE FUNCTION @extschema@.my_units() RETURNS text[]
    LANGUAGE c STABLE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'careflags_my_units';
COMMENT ON FUNCTION @extschema@.my_units() IS 'units whose flags the current role may see and act on (careflags.unit_access)';

-- For DBAs: unit access with the role's name, and the rows of dropped roles.
CREATE VIEW @extschema@.unit_access_named AS
SELECT ua.unit_id, ua.role::pg_catalog.oid AS role_oid, r.rolname AS role_name,
       (r.oid IS NULL) AS role_dropped
  FROM @extschema@.unit_access ua
  LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) ua.role::pg_catalog.oid;
COMMENT ON VIEW @extschema@.unit_access_named IS
    'careflags.unit_access with each role''s current name; role_dropped marks rows of roles that no longer exist (they give nobody anything; delete them)';

-- Extra index reads for the views.
CREATE INDEX episode_unit_ended ON @extschema@.episode (unit_id, ended_at);

-- Whether the current role may SELECT every table given (as
-- has_table_privilege()): the switch between the views' two branches.  In C
-- (extension/worklist.c), with a planner support function that decides it
-- when the query is planned, for a role that may not (see above).
CREATE FUNCTION @extschema@.reads_every_unit_support(internal) RETURNS internal
    LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'careflags_reads_every_unit_support';
COMMENT ON FUNCTION @extschema@.reads_every_unit_support(internal) IS
    'planner support of careflags.reads_every_unit(): false at planning for a role that may not read the tables, so the nurse''s views plan one branch for her';
REVOKE ALL ON FUNCTION @extschema@.reads_every_unit_support(internal) FROM PUBLIC;
CREATE FUNCTION @extschema@.reads_every_unit(tables pg_catalog.regclass[]) RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE SUPPORT @extschema@.reads_every_unit_support
    AS 'MODULE_PATHNAME', 'careflags_reads_every_unit';
COMMENT ON FUNCTION @extschema@.reads_every_unit(pg_catalog.regclass[]) IS
    'whether the current role may SELECT every table given (the nurse''s views show such a role every unit); decided at planning for a role that may not';

-- Open flags of the caller's units (also upcoming and snoozed ones).
CREATE VIEW @extschema@.my_flags WITH (security_barrier = true) AS
SELECT n.* FROM (
    SELECT f.flag_id, f.patient_id, f.unit_id, f.rule_id, f.domain, f.severity,
           @extschema@.flag_state(f.due_from, f.due_at, f.due_soon_window, @extschema@.clock()) AS state,
           f.raised_at, f.due_from, f.due_at, f.due_soon_window, f.reason,
           f.acknowledged_at, f.acknowledged_by, f.snoozed_until
      FROM pg_catalog.unnest((SELECT @extschema@.my_units())::text[]) AS mu(unit_id)
     CROSS JOIN LATERAL (SELECT f.* FROM @extschema@.flag f
                          WHERE f.unit_id OPERATOR(pg_catalog.=) mu.unit_id AND f.resolved_at IS NULL OFFSET 0) f
     WHERE NOT @extschema@.reads_every_unit(ARRAY['@extschema@.flag'::pg_catalog.regclass])
    OFFSET 0) n
UNION ALL
SELECT f.flag_id, f.patient_id, f.unit_id, f.rule_id, f.domain, f.severity,
       @extschema@.flag_state(f.due_from, f.due_at, f.due_soon_window, @extschema@.clock()),
       f.raised_at, f.due_from, f.due_at, f.due_soon_window, f.reason,
       f.acknowledged_at, f.acknowledged_by, f.snoozed_until
  FROM @extschema@.flag f
 WHERE f.resolved_at IS NULL
   AND @extschema@.reads_every_unit(ARRAY['@extschema@.flag'::pg_catalog.regclass]);
COMMENT ON VIEW @extschema@.my_flags IS
    'open flags (any state, snoozed too) of the caller''s units; every unit''s for a role that may read careflags.flag';

-- The action a rule's flag asks for (clinical-rules.md §7.18): what the
-- nurse does, one worklist row per patient and action (careflags.actions).
-- In C (extension/worklist.c): the worklist calls it per row.
CREATE FUNCTION @extschema@.action_of(domain @extschema@.domain, anchor @extschema@.rule_anchor) RETURNS text
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'careflags_action_of';
COMMENT ON FUNCTION @extschema@.action_of(@extschema@.domain, @extschema@.rule_anchor) IS
    'the action a rule of this domain and anchor asks for: nutrition_screening (admission, repeat, weight loss), nutrition_plan, medication_review, fall_risk_assessment, fall_prevention_plan (clinical-rules.md §7.18)';

-- The rule title in the reader's language is joined in each branch rather
-- than looked up by rule_title() (a SQL function, so called per row and
-- never inlined) or a subquery per row (which the planner costs per row of
-- the branch for roles that read every unit, though a nurse never runs it:
-- enough to cross jit_above_cost and compile every nurse's query).  In the
-- nurse's branch the rules and their titles in the reader's language are
-- read once per query (rule_titles, a few dozen rows that every nurse may
-- read whole) and joined by hash: looked up per flag, a Memoize above each
-- of the two small tables rescanned them for every rule not yet seen, and
-- those rescans (each asks the kernel for the table's size) were 5 % of a
-- worklist.  The rows are sorted in a subquery (s) whose columns begin with
-- the sort keys, and the texts (reason_text(), state_text(), the title in
-- the reader's language) are rendered above it: sorted as the view's own
-- columns, every comparison of two rows of equal severity looked due_at up
-- behind a dozen columns of variable width (5 % of a worklist), and the
-- rendered texts were copied into the sort.  The outer ORDER BY is the
-- same order, which the planner finds already given (no second sort).
CREATE VIEW @extschema@.worklist WITH (security_barrier = true) AS
WITH rule_titles AS MATERIALIZED (
    SELECT r.rule_id, r.title, r.anchor, t.title AS title_lang
      FROM @extschema@.rule r
      LEFT JOIN @extschema@.rule_text t ON t.rule_id OPERATOR(pg_catalog.=) r.rule_id
                                      AND t.language OPERATOR(pg_catalog.=) @extschema@.language())
SELECT s.flag_id, s.patient_id, s.patient, s.unit_id, s.unit, s.rule_id, s.title, s.severity, s.state,
       s.due_from, s.due_at, s.reason, s.acknowledged_at, s.acknowledged_by, s.details, s.action,
       COALESCE(s.title_lang, s.title) AS title_text,
       @extschema@.reason_text(s.details, s.reason) AS reason_text,
       @extschema@.state_text(s.state) AS state_text FROM (
SELECT w.severity, w.due_at, w.flag_id, w.patient_id, w.patient, w.unit_id, w.unit, w.rule_id, w.title, w.state,
       w.due_from, w.reason, w.acknowledged_at, w.acknowledged_by, w.details, w.action, w.title_lang FROM (
    SELECT n.* FROM (
        SELECT f.flag_id, f.patient_id, p.display_name AS patient, f.unit_id, u.name AS unit,
               f.rule_id, r.title, f.severity,
               @extschema@.flag_state(f.due_from, f.due_at, f.due_soon_window, @extschema@.clock()) AS state,
               f.due_from, f.due_at, f.reason, f.acknowledged_at, f.acknowledged_by,
               f.details, @extschema@.action_of(f.domain, r.anchor) AS action, r.title_lang
          FROM pg_catalog.unnest((SELECT @extschema@.my_units())::text[]) AS mu(unit_id)
         CROSS JOIN LATERAL (SELECT f.* FROM @extschema@.flag f
                              WHERE f.unit_id OPERATOR(pg_catalog.=) mu.unit_id AND f.resolved_at IS NULL OFFSET 0) f
         CROSS JOIN LATERAL (SELECT p.display_name FROM @extschema@.patient p
                              WHERE p.patient_id OPERATOR(pg_catalog.=) f.patient_id OFFSET 0) p
          JOIN rule_titles r ON r.rule_id OPERATOR(pg_catalog.=) f.rule_id
          LEFT JOIN LATERAL (SELECT u.name FROM @extschema@.unit u
                              WHERE u.unit_id OPERATOR(pg_catalog.=) f.unit_id OFFSET 0) u ON true
         WHERE (f.snoozed_until IS NULL OR f.snoozed_until OPERATOR(pg_catalog.<=) @extschema@.clock())
           AND @extschema@.clock() OPERATOR(pg_catalog.>=) @extschema@.due_soon_from(f.due_from, f.due_soon_window)
           AND NOT @extschema@.reads_every_unit(ARRAY['@extschema@.flag'::pg_catalog.regclass, '@extschema@.patient'::pg_catalog.regclass])
        OFFSET 0) n
    UNION ALL
    SELECT f.flag_id, f.patient_id, p.display_name, f.unit_id, u.name, f.rule_id, r.title, f.severity,
           @extschema@.flag_state(f.due_from, f.due_at, f.due_soon_window, @extschema@.clock()),
           f.due_from, f.due_at, f.reason, f.acknowledged_at, f.acknowledged_by,
           f.details, @extschema@.action_of(f.domain, r.anchor), rt.title
      FROM @extschema@.flag f
      JOIN @extschema@.patient p ON p.patient_id OPERATOR(pg_catalog.=) f.patient_id
      JOIN @extschema@.rule r ON r.rule_id OPERATOR(pg_catalog.=) f.rule_id
      LEFT JOIN @extschema@.unit u ON u.unit_id OPERATOR(pg_catalog.=) f.unit_id
      LEFT JOIN @extschema@.rule_text rt ON rt.rule_id OPERATOR(pg_catalog.=) f.rule_id
                                        AND rt.language OPERATOR(pg_catalog.=) @extschema@.language()
     WHERE f.resolved_at IS NULL
       AND (f.snoozed_until IS NULL OR f.snoozed_until OPERATOR(pg_catalog.<=) @extschema@.clock())
       AND @extschema@.clock() OPERATOR(pg_catalog.>=) @extschema@.due_soon_from(f.due_from, f.due_soon_window)
       AND @extschema@.reads_every_unit(ARRAY['@extschema@.flag'::pg_catalog.regclass, '@extschema@.patient'::pg_catalog.regclass])) w
 ORDER BY w.severity, w.due_at, w.flag_id) s
 ORDER BY s.severity, s.due_at, s.flag_id;
COMMENT ON VIEW @extschema@.worklist IS
    'open flags a nurse should act on now (due soon, due, overdue; not snoozed), for the caller''s units (every unit for a role that may read careflags.flag and careflags.patient), by severity then due time; state is computed at read time; title_text, reason_text and state_text in careflags.language; action: what the flag asks for (careflags.actions has one row per patient and action)';

-- Patients a unit's nurses may see: while they are in the unit, and for the
-- unit's visible_after_leaving (default 30 days) after their episode there
-- ended.  One row per such episode.
CREATE VIEW @extschema@.my_patients WITH (security_barrier = true) AS
SELECT n.* FROM (
    SELECT p.patient_id, p.display_name, p.birth_date, p.sex, p.deceased,
           e.episode_id, e.unit_id, e.setting, e.started_at, e.ended_at
      FROM pg_catalog.unnest((SELECT @extschema@.my_units())::text[]) AS mu(unit_id)
      JOIN @extschema@.unit u ON u.unit_id OPERATOR(pg_catalog.=) mu.unit_id
     CROSS JOIN LATERAL (SELECT e.* FROM @extschema@.episode e
                          WHERE e.unit_id OPERATOR(pg_catalog.=) mu.unit_id
                            AND (e.ended_at IS NULL
                                 OR e.ended_at OPERATOR(pg_catalog.>) (@extschema@.clock() OPERATOR(pg_catalog.-) u.visible_after_leaving))
                         OFFSET 0) e
     CROSS JOIN LATERAL (SELECT p.patient_id, p.display_name, p.birth_date, p.sex, p.deceased
                           FROM @extschema@.patient p
                          WHERE p.patient_id OPERATOR(pg_catalog.=) e.patient_id OFFSET 0) p
     WHERE NOT @extschema@.reads_every_unit(ARRAY['@extschema@.patient'::pg_catalog.regclass])
    OFFSET 0) n
UNION ALL
SELECT p.patient_id, p.display_name, p.birth_date, p.sex, p.deceased,
       e.episode_id, e.unit_id, e.setting, e.started_at, e.ended_at
  FROM @extschema@.episode e
  JOIN @extschema@.unit u ON u.unit_id OPERATOR(pg_catalog.=) e.unit_id
  JOIN @extschema@.patient p ON p.patient_id OPERATOR(pg_catalog.=) e.patient_id
 WHERE (e.ended_at IS NULL
        OR e.ended_at OPERATOR(pg_catalog.>) (@extschema@.clock() OPERATOR(pg_catalog.-) u.visible_after_leaving))
   AND @extschema@.reads_every_unit(ARRAY['@extschema@.patient'::pg_catalog.regclass]);
COMMENT ON VIEW @extschema@.my_patients IS
    'patients of the caller''s units, one row per episode there: current residents, and former ones until the unit''s visible_after_leaving has passed since they left';

-- ---- flag events: the outbox ----
-- Every raised, resolved, due-soon, due and overdue flag is written here in
-- the transaction that caused it, and NOTIFY careflags carries only its
-- event_id: any login may LISTEN, so the payload must mean nothing without
-- the right to read this table (row-level security, and the view below).
-- One place events are written, for later consumers too.
CREATE TABLE @extschema@.flag_event (
    event_id    bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['raised', 'resolved', 'due_soon', 'due', 'overdue'])),
    flag_id     bigint NOT NULL,
    patient_id  bigint NOT NULL,
    rule_id     text NOT NULL,
    unit_id     text,
    happened_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    relayed_at  timestamptz
);
COMMENT ON TABLE @extschema@.flag_event IS
    'outbox of flag events (raised, resolved, due_soon, due, overdue), appended by careflags only; NOTIFY careflags carries just event_id; readers fetch the rest through careflags.my_flag_events; careflags.prune_events() removes old rows';
COMMENT ON SEQUENCE @extschema@.flag_event_event_id_seq IS 'ids of careflags.flag_event, the NOTIFY careflags payload (saved by pg_dump)';
CREATE INDEX flag_event_unit ON @extschema@.flag_event (unit_id, event_id);
CREATE INDEX flag_event_time ON @extschema@.flag_event (happened_at);
COMMENT ON COLUMN @extschema@.flag_event.relayed_at IS
    'when NOTIFY careflags was sent for it: NULL until the background worker relays it (a writer''s event where the worker serves the database; on Citus the coordinator''s worker, careflags.relay_interval); set when written where the writing transaction notifies itself';
CREATE INDEX flag_event_unrelayed ON @extschema@.flag_event (event_id) WHERE relayed_at IS NULL;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.flag_event', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.flag_event_event_id_seq', '');

CREATE VIEW @extschema@.my_flag_events WITH (security_barrier = true) AS
SELECT n.* FROM (
    SELECT e.event_id, e.kind, e.happened_at, e.flag_id, e.patient_id, e.unit_id, e.rule_id, r.title,
           CASE WHEN f.resolved_at IS NOT NULL THEN 'resolved'
                ELSE @extschema@.flag_state(f.due_from, f.due_at, f.due_soon_window, @extschema@.clock()) END AS state,
           f.due_at, f.reason, f.resolution, f.details
      FROM pg_catalog.unnest((SELECT @extschema@.my_units())::text[]) AS mu(unit_id)
     CROSS JOIN LATERAL (SELECT e.* FROM @extschema@.flag_event e
                          WHERE e.unit_id OPERATOR(pg_catalog.=) mu.unit_id OFFSET 0) e
      LEFT JOIN LATERAL (SELECT f.resolved_at, f.due_from, f.due_at, f.due_soon_window, f.reason, f.resolution, f.details
                           FROM @extschema@.flag f
                          WHERE f.patient_id OPERATOR(pg_catalog.=) e.patient_id
                            AND f.flag_id OPERATOR(pg_catalog.=) e.flag_id OFFSET 0) f ON true
      LEFT JOIN LATERAL (SELECT r.title FROM @extschema@.rule r
                          WHERE r.rule_id OPERATOR(pg_catalog.=) e.rule_id OFFSET 0) r ON true
     WHERE NOT @extschema@.reads_every_unit(ARRAY['@extschema@.flag_event'::pg_catalog.regclass])
    OFFSET 0) n
UNION ALL
SELECT e.event_id, e.kind, e.happened_at, e.flag_id, e.patient_id, e.unit_id, e.rule_id, r.title,
       CASE WHEN f.resolved_at IS NOT NULL THEN 'resolved'
            ELSE @extschema@.flag_state(f.due_from, f.due_at, f.due_soon_window, @extschema@.clock()) END,
       f.due_at, f.reason, f.resolution, f.details
  FROM @extschema@.flag_event e
  LEFT JOIN @extschema@.flag f ON f.patient_id OPERATOR(pg_catalog.=) e.patient_id
                              AND f.flag_id OPERATOR(pg_catalog.=) e.flag_id
  LEFT JOIN @extschema@.rule r ON r.rule_id OPERATOR(pg_catalog.=) e.rule_id
 WHERE @extschema@.reads_every_unit(ARRAY['@extschema@.flag_event'::pg_catalog.regclass]);
COMMENT ON VIEW @extschema@.my_flag_events IS
    'flag events of the caller''s units (every unit''s for a role that may read careflags.flag_event), with the flag''s title, current state, deadline, reason and reason data (details, for careflags.reason_text in the reader''s language): what careflags watch prints for a NOTIFY careflags event id';

-- Old events go (the background worker calls this at every pass).
CREATE FUNCTION @extschema@.prune_events(keep interval DEFAULT '7 days') RETURNS bigint
    LANGUAGE sql SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        WITH gone AS (DELETE FROM @extschema@.flag_event e
                       WHERE e.happened_at OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) prune_events.keep)
                       RETURNING 1)
        SELECT pg_catalog.count(*) FROM gone;
    END;
COMMENT ON FUNCTION @extschema@.prune_events(interval) IS
    'removes flag events older than keep (default 7 days) from careflags.flag_event; returns how many';
REVOKE ALL ON FUNCTION @extschema@.prune_events(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.prune_events(interval) TO careflags_admin;

-- ---- row-level security on the base tables ----
-- Nurses have no grant on them; the policies let careflags_admin read every
-- row, and keep every other role that might be granted the tables by
-- mistake at none.
ALTER TABLE @extschema@.flag ENABLE ROW LEVEL SECURITY;
CREATE POLICY admin_all ON @extschema@.flag FOR SELECT TO careflags_admin USING (true);
ALTER TABLE @extschema@.episode ENABLE ROW LEVEL SECURITY;
CREATE POLICY admin_all ON @extschema@.episode FOR SELECT TO careflags_admin USING (true);
ALTER TABLE @extschema@.patient ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.flag_event ENABLE ROW LEVEL SECURITY;
CREATE POLICY admin_all ON @extschema@.flag_event FOR SELECT TO careflags_admin USING (true);
REVOKE ALL ON @extschema@.flag, @extschema@.patient, @extschema@.episode, @extschema@.unit_access FROM careflags_nurse;

GRANT SELECT ON @extschema@.worklist, @extschema@.my_flags, @extschema@.my_patients, @extschema@.my_flag_events,
    @extschema@.my_unit_access, @extschema@.unit TO careflags_nurse;
GRANT SELECT ON @extschema@.flag, @extschema@.episode, @extschema@.quarantine, @extschema@.patient_state,
    @extschema@.flag_event, @extschema@.worklist, @extschema@.my_flags, @extschema@.my_patients,
    @extschema@.my_flag_events, @extschema@.my_unit_access, @extschema@.unit_access_named TO careflags_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.unit, @extschema@.unit_access TO careflags_admin;
GRANT UPDATE (resolved_at) ON @extschema@.quarantine TO careflags_admin;
GRANT SELECT ON @extschema@.unit, @extschema@.unit_access, @extschema@.my_unit_access TO careflags_quality;

-- ---- audit of flag actions: append-only, chained with SHA-256 ----
CREATE TABLE @extschema@.audit (
    audit_id    bigint PRIMARY KEY,
    patient_id  bigint NOT NULL,
    flag_id     bigint NOT NULL,
    action      text NOT NULL CHECK (action OPERATOR(pg_catalog.=) ANY (ARRAY['acknowledge', 'snooze', 'exempt', 'reopen', 'correct_resolution'])),
    actor       name NOT NULL,
    acted_at    timestamptz NOT NULL,
    detail      jsonb NOT NULL,
    prev_hash   bytea,
    hash        bytea NOT NULL
);
COMMENT ON TABLE @extschema@.audit IS
    'who acknowledged, snoozed or exempted which flag, and when (and careflags'' own reopening of a flag or correction of its resolution when the action fact it named was deleted or corrected); each row''s hash is SHA-256 over the previous row''s hash (same patient; before 1.3 one chain over all) and its own content, so careflags.verify_audit() finds any change, removal or reordering of rows that the heads still cover';
CREATE INDEX audit_flag ON @extschema@.audit (patient_id, flag_id);
CREATE SEQUENCE @extschema@.audit_id_seq OWNED BY @extschema@.audit.audit_id;
COMMENT ON SEQUENCE @extschema@.audit_id_seq IS
    'audit ids, taken under the patient''s chain lock so that a patient''s rows follow its chain (saved by pg_dump)';

CREATE TABLE @extschema@.audit_head (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_id     bigint NOT NULL,
    last_hash   bytea NOT NULL,
    row_count   bigint NOT NULL
);
COMMENT ON TABLE @extschema@.audit_head IS
    'the end of the one audit chain over all patients that 1.2 and earlier wrote (rows up to last_id); empty on a database installed at 1.3';

CREATE FUNCTION @extschema@.audit_is_append_only() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    RAISE EXCEPTION 'careflags.audit is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
COMMENT ON FUNCTION @extschema@.audit_is_append_only() IS
    'BEFORE UPDATE/DELETE/TRUNCATE trigger on careflags.audit: refuses every change (the audit is append-only)';
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON @extschema@.audit
    FOR EACH ROW EXECUTE FUNCTION @extschema@.audit_is_append_only();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON @extschema@.audit
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.audit_is_append_only();

SELECT pg_catalog.pg_extension_config_dump('@extschema@.audit', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.audit_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.audit_head', '');
GRANT SELECT ON @extschema@.audit TO careflags_admin;

-- ---- actions (C: check visibility as the caller, write as the owner) ----
CREATE FUNCTION @extschema@.acknowledge(flag_id bigint, note text DEFAULT NULL) RETURNS bigint
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_acknowledge';
COMMENT ON FUNCTION @extschema@.acknowledge(bigint, text) IS
    'acknowledge a flag on one of your units; recorded in careflags.audit; returns the audit id';

CREATE FUNCTION @extschema@.snooze(flag_id bigint, until timestamptz, note text DEFAULT NULL) RETURNS bigint
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_snooze';
COMMENT ON FUNCTION @extschema@.snooze(bigint, timestamptz, text) IS
    'hide a flag from the worklist until a time, at most the rule''s max_snooze ahead; recorded in careflags.audit';

CREATE FUNCTION @extschema@.exempt(flag_id bigint, reason text, valid_until timestamptz DEFAULT NULL) RETURNS bigint
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_exempt';
COMMENT ON FUNCTION @extschema@.exempt(bigint, text, timestamptz) IS
    'mark a flag''s rule not relevant for the patient (reason, optional expiry): records an exemption, which resolves the flag; recorded in careflags.audit';

CREATE FUNCTION @extschema@.verify_audit(OUT intact boolean, OUT checked bigint, OUT first_broken bigint, OUT problem text)
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_verify_audit';
COMMENT ON FUNCTION @extschema@.verify_audit() IS
    'walks the audit chain; reports the first row whose content, link or order was changed, or a removed tail';

REVOKE ALL ON FUNCTION @extschema@.acknowledge(bigint, text), @extschema@.snooze(bigint, timestamptz, text),
    @extschema@.exempt(bigint, text, timestamptz), @extschema@.verify_audit() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.acknowledge(bigint, text), @extschema@.snooze(bigint, timestamptz, text),
    @extschema@.exempt(bigint, text, timestamptz) TO careflags_nurse, careflags_admin;
GRANT EXECUTE ON FUNCTION @extschema@.verify_audit() TO careflags_admin;

-- ---- audit chains per patient, checkable from outside (issue 13) ----
CREATE TABLE @extschema@.audit_chain (
    patient_id  bigint PRIMARY KEY,
    last_id     bigint NOT NULL,
    last_hash   bytea NOT NULL,
    row_count   bigint NOT NULL
);
COMMENT ON TABLE @extschema@.audit_chain IS
    'the end of each patient''s audit chain (rows after audit_head.last_id): an action locks only its patient''s row here, so actions on different patients never wait on each other';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.audit_chain', '');
GRANT SELECT ON @extschema@.audit_chain, @extschema@.audit_head TO careflags_admin;
CREATE INDEX flag_by_id ON @extschema@.flag (flag_id);
COMMENT ON INDEX @extschema@.flag_by_id IS 'finds a flag by its id alone (acknowledge, snooze, exempt)';

CREATE FUNCTION @extschema@.audit_witness(OUT chain text, OUT last_id bigint, OUT row_count bigint, OUT last_hash text)
    RETURNS SETOF record
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        SELECT DISTINCT ON (r.chain) r.chain, r.audit_id, pg_catalog.count(*) OVER (PARTITION BY r.chain),
               pg_catalog.encode(r.hash, 'hex')
          FROM (SELECT CASE WHEN a.audit_id OPERATOR(pg_catalog.<=) COALESCE((SELECT h.last_id FROM @extschema@.audit_head h), 0)
                            THEN 'all' ELSE a.patient_id::pg_catalog.text END AS chain,
                       a.audit_id, a.hash
                  FROM @extschema@.audit a) r
         ORDER BY r.chain, r.audit_id DESC;
    END;
COMMENT ON FUNCTION @extschema@.audit_witness() IS
    'the head of every audit chain (''all'' for the rows before 1.3, else the patient id), read from the rows themselves: keep a copy outside the database (careflags check --audit-witness FILE) to notice a chain rewritten or removed later';
REVOKE ALL ON FUNCTION @extschema@.audit_witness() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.audit_witness() TO careflags_admin;
