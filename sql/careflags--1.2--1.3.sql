-- careflags 1.2 -> 1.3 (ALTER EXTENSION careflags UPDATE TO '1.3').
--
-- Exactly what sql/parts/ gained since 1.2, so that an upgraded database and
-- a fresh 1.3 one are alike object by object (tests/reliability/50_upgrade.sql).
-- No flag, audit row or site customisation is lost.
\echo Use "ALTER EXTENSION careflags UPDATE TO '1.3'" to load this file. \quit

-- ==== audit chains per patient, checkable from outside; flags found by id (issue 13) ====
COMMENT ON TABLE careflags.audit IS
    'who acknowledged, snoozed or exempted which flag, and when; each row''s hash is SHA-256 over the previous row''s hash (same patient; before 1.3 one chain over all) and its own content, so careflags.verify_audit() finds any change, removal or reordering of rows that the heads still cover';
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
