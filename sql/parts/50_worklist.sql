-- sql/parts/50_worklist.sql - what a nurse sees and does; roles, row-level
-- security, and the tamper-evident audit of flag actions.
\echo Use "CREATE EXTENSION careflags" to load this file. \quit

-- The units the current role may see: those mapped in unit_access to a role
-- it is a member of.
CREATE FUNCTION @extschema@.my_units() RETURNS text[]
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN (SELECT COALESCE(pg_catalog.array_agg(ua.unit_id), '{}'::text[])
              FROM @extschema@.unit_access ua
             WHERE ua.role_name OPERATOR(pg_catalog.=) ANY (
                   SELECT r.rolname FROM pg_catalog.pg_roles r
                    WHERE pg_catalog.pg_has_role(CURRENT_USER, r.oid, 'MEMBER')));
COMMENT ON FUNCTION @extschema@.my_units() IS 'units whose flags the current role may see and act on (careflags.unit_access)';

CREATE VIEW @extschema@.worklist WITH (security_invoker = true) AS
SELECT f.flag_id,
       f.patient_id,
       p.display_name AS patient,
       f.unit_id,
       u.name AS unit,
       f.rule_id,
       r.title,
       f.severity,
       @extschema@.flag_state(f.due_from, f.due_at, f.due_soon_window, @extschema@.clock()) AS state,
       f.due_from,
       f.due_at,
       f.reason,
       f.acknowledged_at,
       f.acknowledged_by
  FROM @extschema@.flag f
  JOIN @extschema@.patient p ON p.patient_id OPERATOR(pg_catalog.=) f.patient_id
  JOIN @extschema@.rule r ON r.rule_id OPERATOR(pg_catalog.=) f.rule_id
  LEFT JOIN @extschema@.unit u ON u.unit_id OPERATOR(pg_catalog.=) f.unit_id
 WHERE f.resolved_at IS NULL
   AND (f.snoozed_until IS NULL OR f.snoozed_until OPERATOR(pg_catalog.<=) @extschema@.clock())
   AND @extschema@.clock() OPERATOR(pg_catalog.>=) (f.due_from OPERATOR(pg_catalog.-) f.due_soon_window)
 ORDER BY f.severity, f.due_at, f.flag_id;
COMMENT ON VIEW @extschema@.worklist IS
    'open flags a nurse should act on now (due soon, due, overdue; not snoozed), for the caller''s units, by severity then due time; state is computed at read time';

-- ---- row-level security ----
-- (SELECT my_units()) is evaluated once per query, as an InitPlan, not per row.
ALTER TABLE @extschema@.flag ENABLE ROW LEVEL SECURITY;
CREATE POLICY nurse_units ON @extschema@.flag FOR SELECT TO careflags_nurse
    USING (unit_id OPERATOR(pg_catalog.=) ANY ((SELECT @extschema@.my_units())::text[]));
CREATE POLICY admin_all ON @extschema@.flag FOR SELECT TO careflags_admin USING (true);

ALTER TABLE @extschema@.episode ENABLE ROW LEVEL SECURITY;
CREATE POLICY nurse_units ON @extschema@.episode FOR SELECT TO careflags_nurse
    USING (unit_id OPERATOR(pg_catalog.=) ANY ((SELECT @extschema@.my_units())::text[]));
CREATE POLICY admin_all ON @extschema@.episode FOR SELECT TO careflags_admin USING (true);

ALTER TABLE @extschema@.patient ENABLE ROW LEVEL SECURITY;
CREATE POLICY nurse_units ON @extschema@.patient FOR SELECT TO careflags_nurse
    USING (EXISTS (SELECT FROM @extschema@.episode e
                    WHERE e.patient_id OPERATOR(pg_catalog.=) patient.patient_id
                      AND e.unit_id OPERATOR(pg_catalog.=) ANY ((SELECT @extschema@.my_units())::text[])));

GRANT SELECT ON @extschema@.worklist, @extschema@.flag, @extschema@.patient, @extschema@.episode,
    @extschema@.unit, @extschema@.unit_access TO careflags_nurse;
GRANT SELECT ON @extschema@.flag, @extschema@.episode, @extschema@.quarantine, @extschema@.patient_state,
    @extschema@.worklist TO careflags_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.unit, @extschema@.unit_access TO careflags_admin;
GRANT UPDATE (resolved_at) ON @extschema@.quarantine TO careflags_admin;
GRANT SELECT ON @extschema@.unit, @extschema@.unit_access TO careflags_quality;

-- ---- audit of flag actions: append-only, chained with SHA-256 ----
CREATE TABLE @extschema@.audit (
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
COMMENT ON TABLE @extschema@.audit IS
    'who acknowledged, snoozed or exempted which flag, and when; each row''s hash is SHA-256 over the previous row''s hash (same patient; before 1.3 one chain over all) and its own content, so careflags.verify_audit() finds any change, removal or reordering of rows that the heads still cover';
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
