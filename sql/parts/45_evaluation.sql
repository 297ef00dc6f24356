-- sql/parts/45_evaluation.sql - the evaluator's entry points and triggers.
\echo Use "CREATE EXTENSION careflags" to load this file. \quit

CREATE TABLE @extschema@.patient_state (
    patient_id      bigint PRIMARY KEY REFERENCES @extschema@.patient ON DELETE CASCADE,
    evaluated_at    timestamptz NOT NULL,
    next_check_at   timestamptz,
    next_check_by_domain timestamptz[]
);
COMMENT ON TABLE @extschema@.patient_state IS
    'when each patient was last evaluated, and the next time its flags can change without a write (a birthday, an exemption ending, a future-dated fact); the background worker re-evaluates patients whose next_check_at has passed';
COMMENT ON COLUMN @extschema@.patient_state.next_check_by_domain IS
    'the next time per domain (nutrition, medication_review, fall_risk; NULL: never): a fact write re-evaluates only the domains its table feeds and keeps the others'' times; next_check_at is the earliest';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.patient_state', '');
CREATE INDEX patient_state_next_check ON @extschema@.patient_state (next_check_at) WHERE next_check_at IS NOT NULL;
CREATE INDEX flag_to_notify ON @extschema@.flag (due_from)
    WHERE resolved_at IS NULL AND notified_state OPERATOR(pg_catalog.<>) 'overdue';

CREATE FUNCTION @extschema@.fact_reader_indexes()
    RETURNS TABLE (table_name text, index_name text, key_columns text[], partial boolean)
    LANGUAGE c STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'careflags_fact_reader_indexes';
COMMENT ON FUNCTION @extschema@.fact_reader_indexes() IS
    'each table the evaluation reads, the index it reads it through and the index''s key columns it relies on (partial: the index has a WHERE clause)';
REVOKE ALL ON FUNCTION @extschema@.fact_reader_indexes() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.fact_reader_indexes() TO careflags_admin;

CREATE FUNCTION @extschema@.facts_changed() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_facts_changed';
COMMENT ON FUNCTION @extschema@.facts_changed() IS
    'AFTER ... FOR EACH STATEMENT trigger with transition tables: re-evaluates each patient the statement touched, once';

CREATE FUNCTION @extschema@.fact_changed_row() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_fact_changed_row';
COMMENT ON FUNCTION @extschema@.fact_changed_row() IS
    'AFTER ... FOR EACH ROW trigger: re-evaluates the row''s patient (for setups without statement triggers, e.g. Citus)';

-- Which triggers keep flags true: statement-level (default) or row-level.
CREATE FUNCTION @extschema@.set_trigger_mode(mode text) RETURNS text
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t text;
BEGIN
    IF mode IS NULL OR mode NOT IN ('statement', 'row') THEN
        RAISE EXCEPTION 'trigger mode must be ''statement'' or ''row'', not %', pg_catalog.quote_nullable(mode)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH t IN ARRAY ARRAY['patient', 'episode', 'assessment', 'measurement', 'medication',
                             'medication_review', 'care_plan', 'fall', 'exemption']
    LOOP
        EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS z_evaluate_insert ON @extschema@.%I', t);
        EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS z_evaluate_update ON @extschema@.%I', t);
        EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS z_evaluate_delete ON @extschema@.%I', t);
        EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS z_evaluate_row ON @extschema@.%I', t);
        IF mode = 'statement' THEN
            EXECUTE pg_catalog.format(
                'CREATE TRIGGER z_evaluate_insert AFTER INSERT ON @extschema@.%I
                     REFERENCING NEW TABLE AS new_rows
                     FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.facts_changed()', t);
            EXECUTE pg_catalog.format(
                'CREATE TRIGGER z_evaluate_update AFTER UPDATE ON @extschema@.%I
                     REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                     FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.facts_changed()', t);
            EXECUTE pg_catalog.format(
                'CREATE TRIGGER z_evaluate_delete AFTER DELETE ON @extschema@.%I
                     REFERENCING OLD TABLE AS old_rows
                     FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.facts_changed()', t);
        ELSE
            EXECUTE pg_catalog.format(
                'CREATE TRIGGER z_evaluate_row AFTER INSERT OR UPDATE OR DELETE ON @extschema@.%I
                     FOR EACH ROW EXECUTE FUNCTION @extschema@.fact_changed_row()', t);
        END IF;
    END LOOP;
    RETURN mode;
END
$$;
COMMENT ON FUNCTION @extschema@.set_trigger_mode(text) IS
    'statement (default): one evaluation per patient per statement, via transition tables; row: one per row (Citus distributed tables refuse transition tables)';
SELECT @extschema@.set_trigger_mode('statement');

-- Deferred evaluation (SET careflags.defer_evaluation = on): the first
-- deferral of a transaction inserts a marker row here; its deferred
-- constraint trigger evaluates the transaction's patients at commit and
-- removes it.  The table is empty outside a running transaction.
CREATE TABLE @extschema@.deferred_evaluation (
    queued_at   timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
COMMENT ON TABLE @extschema@.deferred_evaluation IS
    'marker rows of transactions whose evaluation was deferred to commit (careflags.defer_evaluation); always empty when no such transaction runs';
CREATE FUNCTION @extschema@.evaluate_at_commit() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_evaluate_at_commit';
COMMENT ON FUNCTION @extschema@.evaluate_at_commit() IS
    'deferred constraint trigger: evaluates the patients a transaction deferred, at its commit';
CREATE CONSTRAINT TRIGGER evaluate_at_commit AFTER INSERT ON @extschema@.deferred_evaluation
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION @extschema@.evaluate_at_commit();

-- Keys noted for a step at commit (issue 17): careflags.note_keys() is an
-- AFTER ROW trigger a plugin puts on a record system's table; it only notes
-- the row's key in the transaction's memory; the first note queues a marker
-- row here whose deferred constraint trigger calls, at commit, the function
-- the trigger names, per table, which takes the keys with take_noted_keys()
-- and maps them set-based.  The table is empty outside a running transaction.
CREATE TABLE @extschema@.noted_keys (
    queued_at   timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
COMMENT ON TABLE @extschema@.noted_keys IS
    'marker rows of transactions with row keys noted by careflags.note_keys() (its deferred trigger keys_at_commit runs their commit step and deletes the row); always empty when no such transaction runs';
CREATE FUNCTION @extschema@.note_keys() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_note_keys';
COMMENT ON FUNCTION @extschema@.note_keys() IS
    'AFTER INSERT OR UPDATE OR DELETE ... FOR EACH ROW trigger (arguments: key column, commit function taking a regclass, optionally a number of keys): notes the row''s key for the transaction; at commit (and at once when that many keys wait) the function is called with the table and takes the keys with take_noted_keys()';
REVOKE ALL ON FUNCTION @extschema@.note_keys() FROM PUBLIC;
CREATE FUNCTION @extschema@.take_noted_keys(regclass) RETURNS bigint[]
    LANGUAGE c STRICT VOLATILE AS 'MODULE_PATHNAME', 'careflags_take_noted_keys';
COMMENT ON FUNCTION @extschema@.take_noted_keys(regclass) IS
    'the distinct keys careflags.note_keys() noted for the table in this transaction and not taken yet, in order; they count as taken from now on (given back when the current savepoint rolls back)';
REVOKE ALL ON FUNCTION @extschema@.take_noted_keys(regclass) FROM PUBLIC;
CREATE FUNCTION @extschema@.keys_at_commit() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_keys_at_commit';
COMMENT ON FUNCTION @extschema@.keys_at_commit() IS
    'deferred constraint trigger on careflags.noted_keys: calls the commit function of every table with keys noted, then removes the marker';
REVOKE ALL ON FUNCTION @extschema@.keys_at_commit() FROM PUBLIC;
CREATE CONSTRAINT TRIGGER keys_at_commit AFTER INSERT ON @extschema@.noted_keys
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION @extschema@.keys_at_commit();
COMMENT ON TRIGGER keys_at_commit ON @extschema@.noted_keys IS
    'careflags: runs the commit step of the keys note_keys() noted (SET CONSTRAINTS careflags.keys_at_commit IMMEDIATE: at the end of each noting statement)';

-- Evaluation by the background worker (careflags.evaluate_in_worker): a
-- statement that writes facts appends the ids of its patients here instead
-- of evaluating them; the worker evaluates them after the writing
-- transaction commits and deletes the rows in the same transaction.  A
-- logged table, so that a crash or a stopped worker loses nothing; saved by
-- pg_dump, so that a restore evaluates what was still waiting.
CREATE TABLE @extschema@.evaluation_queue (
    queued_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    patient_ids bigint[] NOT NULL,
    written     integer
);
COMMENT ON TABLE @extschema@.evaluation_queue IS
    'patients whose facts committed transactions changed, waiting for the background worker to evaluate them (careflags.evaluate_in_worker); empty when the worker keeps up';
COMMENT ON COLUMN @extschema@.evaluation_queue.written IS
    'the tables the statement wrote (careflags'' internal bit set): the worker evaluates only the rules they feed; NULL: every rule';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.evaluation_queue', '');
GRANT SELECT ON @extschema@.evaluation_queue TO careflags_admin;

CREATE FUNCTION @extschema@.evaluate_deferred() RETURNS integer
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_evaluate_deferred';
COMMENT ON FUNCTION @extschema@.evaluate_deferred() IS
    'evaluates now the patients whose evaluation this transaction deferred (careflags.defer_evaluation); returns how many';

-- The evaluator keeps the rules in memory; a change to them tells every
-- backend to read them again.
CREATE FUNCTION @extschema@.rules_changed() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_rules_changed';
COMMENT ON FUNCTION @extschema@.rules_changed() IS
    'statement trigger on careflags.rule and careflags.frid_atc: makes every backend read the rules again';
CREATE TRIGGER rules_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.rule
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.rules_changed();
CREATE TRIGGER rules_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.frid_atc
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.rules_changed();
REVOKE ALL ON FUNCTION @extschema@.rules_changed() FROM PUBLIC;

CREATE FUNCTION @extschema@.recompute_patient(patient_id bigint) RETURNS bigint
    LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'careflags_recompute_patient';
COMMENT ON FUNCTION @extschema@.recompute_patient(bigint) IS 're-evaluates one patient; returns the number of flag changes';

CREATE FUNCTION @extschema@.recompute_all() RETURNS bigint
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_recompute_all';
COMMENT ON FUNCTION @extschema@.recompute_all() IS
    'rebuilds every patient''s flags (progress as NOTICEs); returns the number of flag changes';

CREATE FUNCTION @extschema@.check_consistency()
    RETURNS TABLE (patient_id bigint, rule_id text, difference text)
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_check_consistency';
COMMENT ON FUNCTION @extschema@.check_consistency() IS
    'every difference between the stored flags and a fresh evaluation: open flags, and flags resolved done whose action fact no longer qualifies; empty when flags are true';

CREATE FUNCTION @extschema@.tick(OUT patients_reevaluated integer, OUT flags_notified bigint)
    LANGUAGE c AS 'MODULE_PATHNAME', 'careflags_tick';
COMMENT ON FUNCTION @extschema@.tick() IS
    'one pass of the background worker: re-evaluates patients whose next_check_at passed, notifies flags that became due or overdue; on a Citus coordinator every shard on its node, on a Citus worker node the shards placed there';

REVOKE ALL ON FUNCTION @extschema@.evaluate_at_commit() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.facts_changed(), @extschema@.fact_changed_row(), @extschema@.fact_guard(),
    @extschema@.set_trigger_mode(text), @extschema@.recompute_patient(bigint), @extschema@.recompute_all(),
    @extschema@.check_consistency(), @extschema@.tick() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.recompute_patient(bigint), @extschema@.recompute_all(),
    @extschema@.check_consistency(), @extschema@.tick() TO careflags_admin;
