-- sql/parts/70_citus.sql - distributing a careflags database with Citus (issue 19).
\echo Use "CREATE EXTENSION careflags" to load this file. \quit

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
--     citus.enable_unsafe_triggers, set for the database;
--   * the nurse's views read through careflags.<view>_rows()
--     (citus_nurse_views(), below).
-- Returns a short summary.  Refuses (feature_not_supported) where Citus is
-- not installed, and when the tables are already distributed.
CREATE FUNCTION @extschema@.distribute(shard_count integer DEFAULT NULL) RETURNS text
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
                WHERE logicalrelid OPERATOR(pg_catalog.=) '@extschema@.patient'::pg_catalog.regclass) THEN
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
    prep := ARRAY['SELECT @extschema@.set_trigger_mode(''row'')'];
    FOREACH t IN ARRAY facts || ARRAY['patient'] LOOP
        prep := prep || pg_catalog.format('ALTER TABLE @extschema@.%I DROP CONSTRAINT %I', t, t || '_source_key')
                     || pg_catalog.format('ALTER TABLE @extschema@.%I ADD CONSTRAINT %I UNIQUE (patient_id, source_system, source_key)',
                                          t, t || '_source_key');
    END LOOP;
    prep := prep || ARRAY[
        'ALTER TABLE @extschema@.flag_event DROP CONSTRAINT flag_event_pkey',
        'ALTER TABLE @extschema@.flag_event ADD CONSTRAINT flag_event_pkey PRIMARY KEY (patient_id, event_id)',
        'ALTER TABLE @extschema@.quarantine DROP CONSTRAINT quarantine_pkey',
        'ALTER TABLE @extschema@.quarantine ALTER COLUMN patient_id SET NOT NULL',
        'ALTER TABLE @extschema@.quarantine ADD CONSTRAINT quarantine_pkey PRIMARY KEY (patient_id, quarantine_id)'];
    FOR fk IN SELECT c.conrelid::pg_catalog.regclass AS tbl, c.conname,
                     pg_catalog.pg_get_constraintdef(c.oid) AS def
                FROM pg_catalog.pg_constraint c
               WHERE c.contype OPERATOR(pg_catalog.=) 'f'
                 AND c.connamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
               ORDER BY c.conname LOOP
        fks := fks || pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I %s', fk.tbl, fk.conname, fk.def);
        prep := prep || pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', fk.tbl, fk.conname);
    END LOOP;
    FOREACH t IN ARRAY reference || per_patient LOOP
        prep := prep || pg_catalog.format('ALTER TABLE @extschema@.%I DISABLE TRIGGER USER', t);
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
        PERFORM pg_catalog.create_reference_table(pg_catalog.format('@extschema@.%I', t)::pg_catalog.regclass);
    END LOOP;
    PERFORM pg_catalog.create_distributed_table('@extschema@.patient'::pg_catalog.regclass, 'patient_id');
    FOREACH t IN ARRAY per_patient[2:] LOOP
        PERFORM pg_catalog.create_distributed_table(pg_catalog.format('@extschema@.%I', t)::pg_catalog.regclass,
                                                    'patient_id', colocate_with => '@extschema@.patient');
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
                EXECUTE pg_catalog.format('ALTER SEQUENCE @extschema@.%I MINVALUE %s MAXVALUE %s START %s RESTART %s',
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
        EXECUTE pg_catalog.format('ALTER TABLE @extschema@.%I ENABLE TRIGGER USER', t);
    END LOOP;
    -- the nurse's views read through careflags.<view>_rows() (the
    -- coordinator's views; the workers' copies are never read)
    PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'off', true);
    PERFORM @extschema@.citus_nurse_views();
    PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'on', true);
    RETURN pg_catalog.format('%s tables distributed by patient_id, %s reference tables; row triggers',
                             pg_catalog.array_length(per_patient, 1), pg_catalog.array_length(reference, 1));
END
$distribute$;
COMMENT ON FUNCTION @extschema@.distribute(integer) IS
    'Citus only, run once on the coordinator: row triggers; unique constraints that include patient_id; rules, units, unit access and code maps as reference tables; patients, facts, flags, patient_state, quarantine and flag_event distributed and co-located by patient_id (README: careflags on Citus)';
REVOKE ALL ON FUNCTION @extschema@.distribute(integer) FROM PUBLIC;

-- One shard's part of recompute_all() and check_consistency(): on Citus the
-- coordinator runs them on every shard of careflags.patient, on its node
-- (run_command_on_shards), where the evaluation reads the co-located shards.
CREATE FUNCTION @extschema@.recompute_shard(shard regclass) RETURNS bigint
    LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'careflags_recompute_shard';
COMMENT ON FUNCTION @extschema@.recompute_shard(regclass) IS
    'Citus, internal: recompute_all() for the patients of one shard of careflags.patient on this node; returns the number of flag changes';
CREATE FUNCTION @extschema@.check_consistency_shard(shard regclass)
    RETURNS TABLE (patient_id bigint, rule_id text, difference text)
    LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'careflags_check_consistency_shard';
COMMENT ON FUNCTION @extschema@.check_consistency_shard(regclass) IS
    'Citus, internal: check_consistency() for the patients of one shard of careflags.patient on this node';
REVOKE ALL ON FUNCTION @extschema@.recompute_shard(regclass), @extschema@.check_consistency_shard(regclass) FROM PUBLIC;

-- One shard's part of tick(): each node's background worker runs it for the
-- shards placed on its node; tick() on the coordinator runs it on every
-- shard, on its node (run_command_on_shards).
CREATE FUNCTION @extschema@.tick_shard(shard regclass, OUT patients_reevaluated integer, OUT flags_notified bigint)
    LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'careflags_tick_shard';
COMMENT ON FUNCTION @extschema@.tick_shard(regclass) IS
    'Citus, internal: tick() for the patients and flags of one shard of careflags.patient on this node (the flags that became due or overdue go to the outbox, which the coordinator relays as NOTIFY careflags)';
REVOKE ALL ON FUNCTION @extschema@.tick_shard(regclass) FROM PUBLIC;

-- recompute_patient() on Citus: the coordinator (or any node) routes a query
-- by the patient's id to the node holding the patient's shard of
-- careflags.patient, which calls this there, in the caller's distributed
-- transaction; the evaluation reads and writes the co-located shards.
CREATE FUNCTION @extschema@.recompute_patient_shard(shard regclass, patient_id bigint) RETURNS bigint
    LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'careflags_recompute_patient_shard';
COMMENT ON FUNCTION @extschema@.recompute_patient_shard(regclass, bigint) IS
    'Citus, internal: recompute_patient() for a patient of one shard of careflags.patient on this node, in the caller''s transaction (recompute_patient() calls it through a query routed to the patient''s shard); returns the number of flag changes';
REVOKE ALL ON FUNCTION @extschema@.recompute_patient_shard(regclass, bigint) FROM PUBLIC;

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
CREATE VIEW @extschema@.my_flags_all AS
SELECT f.flag_id, f.patient_id, f.unit_id, f.rule_id, f.domain, f.severity,
       @extschema@.flag_state(f.due_from, f.due_at, f.due_soon_window, @extschema@.clock()) AS state,
       f.raised_at, f.due_from, f.due_at, f.due_soon_window, f.reason,
       f.acknowledged_at, f.acknowledged_by, f.snoozed_until
  FROM @extschema@.flag f
 WHERE f.resolved_at IS NULL;
COMMENT ON VIEW @extschema@.my_flags_all IS
    'Citus, internal: careflags.my_flags for every unit, read as the owner by careflags.my_flags_rows()';

CREATE VIEW @extschema@.worklist_all AS
SELECT f.flag_id, f.patient_id, p.display_name AS patient, f.unit_id, u.name AS unit, f.rule_id, r.title, f.severity,
       @extschema@.flag_state(f.due_from, f.due_at, f.due_soon_window, @extschema@.clock()) AS state,
       f.due_from, f.due_at, f.reason, f.acknowledged_at, f.acknowledged_by, f.details,
       @extschema@.action_of(f.domain, r.anchor) AS action,
       COALESCE(rt.title, r.title) AS title_text,
       @extschema@.reason_text(f.details, f.reason) AS reason_text,
       @extschema@.state_text(@extschema@.flag_state(f.due_from, f.due_at, f.due_soon_window, @extschema@.clock())) AS state_text
  FROM @extschema@.flag f
  JOIN @extschema@.patient p ON p.patient_id OPERATOR(pg_catalog.=) f.patient_id
  JOIN @extschema@.rule r ON r.rule_id OPERATOR(pg_catalog.=) f.rule_id
  LEFT JOIN @extschema@.unit u ON u.unit_id OPERATOR(pg_catalog.=) f.unit_id
  LEFT JOIN @extschema@.rule_text rt ON rt.rule_id OPERATOR(pg_catalog.=) f.rule_id
                                    AND rt.language OPERATOR(pg_catalog.=) @extschema@.language()
 WHERE f.resolved_at IS NULL
   AND (f.snoozed_until IS NULL OR f.snoozed_until OPERATOR(pg_catalog.<=) @extschema@.clock())
   AND @extschema@.clock() OPERATOR(pg_catalog.>=) @extschema@.due_soon_from(f.due_from, f.due_soon_window);
COMMENT ON VIEW @extschema@.worklist_all IS
    'Citus, internal: careflags.worklist for every unit, read as the owner by careflags.worklist_rows()';

CREATE VIEW @extschema@.my_patients_all AS
SELECT p.patient_id, p.display_name, p.birth_date, p.sex, p.deceased,
       e.episode_id, e.unit_id, e.setting, e.started_at, e.ended_at
  FROM @extschema@.episode e
  JOIN @extschema@.unit u ON u.unit_id OPERATOR(pg_catalog.=) e.unit_id
  JOIN @extschema@.patient p ON p.patient_id OPERATOR(pg_catalog.=) e.patient_id
 WHERE e.ended_at IS NULL
    OR e.ended_at OPERATOR(pg_catalog.>) (@extschema@.clock() OPERATOR(pg_catalog.-) u.visible_after_leaving);
COMMENT ON VIEW @extschema@.my_patients_all IS
    'Citus, internal: careflags.my_patients for every unit, read as the owner by careflags.my_patients_rows()';

CREATE VIEW @extschema@.my_flag_events_all AS
SELECT e.event_id, e.kind, e.happened_at, e.flag_id, e.patient_id, e.unit_id, e.rule_id, r.title,
       CASE WHEN f.resolved_at IS NOT NULL THEN 'resolved'
            ELSE @extschema@.flag_state(f.due_from, f.due_at, f.due_soon_window, @extschema@.clock()) END AS state,
       f.due_at, f.reason, f.resolution, f.details
  FROM @extschema@.flag_event e
  LEFT JOIN @extschema@.flag f ON f.patient_id OPERATOR(pg_catalog.=) e.patient_id
                              AND f.flag_id OPERATOR(pg_catalog.=) e.flag_id
  LEFT JOIN @extschema@.rule r ON r.rule_id OPERATOR(pg_catalog.=) e.rule_id;
COMMENT ON VIEW @extschema@.my_flag_events_all IS
    'Citus, internal: careflags.my_flag_events for every unit, read as the owner by careflags.my_flag_events_rows()';
REVOKE ALL ON @extschema@.my_flags_all, @extschema@.worklist_all, @extschema@.my_patients_all,
    @extschema@.my_flag_events_all FROM PUBLIC;

CREATE FUNCTION @extschema@.my_flags_rows() RETURNS SETOF @extschema@.my_flags_all
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'careflags_nurse_view_rows';
COMMENT ON FUNCTION @extschema@.my_flags_rows() IS
    'Citus: the caller''s rows of careflags.my_flags (her units'', or every unit''s for a role that may read careflags.flag), read as the owner';
CREATE FUNCTION @extschema@.worklist_rows() RETURNS SETOF @extschema@.worklist_all
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'careflags_nurse_view_rows';
COMMENT ON FUNCTION @extschema@.worklist_rows() IS
    'Citus: the caller''s rows of careflags.worklist (her units'', or every unit''s for a role that may read careflags.flag and careflags.patient), read as the owner';
CREATE FUNCTION @extschema@.my_patients_rows() RETURNS SETOF @extschema@.my_patients_all
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'careflags_nurse_view_rows';
COMMENT ON FUNCTION @extschema@.my_patients_rows() IS
    'Citus: the caller''s rows of careflags.my_patients (her units'', or every unit''s for a role that may read careflags.patient), read as the owner';
CREATE FUNCTION @extschema@.my_flag_events_rows() RETURNS SETOF @extschema@.my_flag_events_all
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'careflags_nurse_view_rows';
COMMENT ON FUNCTION @extschema@.my_flag_events_rows() IS
    'Citus: the caller''s rows of careflags.my_flag_events (her units'', or every unit''s for a role that may read careflags.flag_event), read as the owner';
REVOKE ALL ON FUNCTION @extschema@.my_flags_rows(), @extschema@.worklist_rows(), @extschema@.my_patients_rows(),
    @extschema@.my_flag_events_rows() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.my_flags_rows(), @extschema@.worklist_rows(), @extschema@.my_patients_rows(),
    @extschema@.my_flag_events_rows() TO careflags_nurse, careflags_admin;

-- The nurse's views redefined on those functions (called by distribute()):
-- the same columns, so careflags.actions and the grants stay.
CREATE FUNCTION @extschema@.citus_nurse_views() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $views$
BEGIN
    CREATE OR REPLACE VIEW @extschema@.my_flags WITH (security_barrier = true) AS
        SELECT v.* FROM @extschema@.my_flags_rows() v;
    CREATE OR REPLACE VIEW @extschema@.worklist WITH (security_barrier = true) AS
        SELECT v.* FROM @extschema@.worklist_rows() v ORDER BY v.severity, v.due_at, v.flag_id;
    CREATE OR REPLACE VIEW @extschema@.my_patients WITH (security_barrier = true) AS
        SELECT v.* FROM @extschema@.my_patients_rows() v;
    CREATE OR REPLACE VIEW @extschema@.my_flag_events WITH (security_barrier = true) AS
        SELECT v.* FROM @extschema@.my_flag_events_rows() v;
END
$views$;
COMMENT ON FUNCTION @extschema@.citus_nurse_views() IS
    'Citus, internal (careflags.distribute()): redefines worklist, my_flags, my_patients and my_flag_events as reads of careflags.<view>_rows(), which Citus can run for a nurse';
REVOKE ALL ON FUNCTION @extschema@.citus_nurse_views() FROM PUBLIC;
