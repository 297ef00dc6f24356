-- careflags_fhir 1.0 -> 1.1 (ALTER EXTENSION careflags_fhir UPDATE TO '1.1').
--
-- A fresh install of 1.1 runs careflags_fhir--1.0.sql (1.0 as released) and
-- then this script, so an upgraded and a fresh database are made by the
-- same SQL.  What 1.1 changes:
--   * issue 13: the store's code never runs with careflags' rights: the
--     per-type tables are read and written as their owner
--     (careflags.run_as_owner, careflags 1.3); setup() refuses a store on
--     which a role other than the owner may create triggers;
--   * issue 13: size limits before parsing (careflags_fhir.limits): a bundle
--     or NDJSON text over max_bundle_bytes is refused, a resource over
--     max_resource_bytes is quarantined unparsed;
--   * issue 14 §7: a Patient deleted and written back comes back with its
--     other resources' facts, and check_consistency() lists mapped resources
--     whose facts are missing; a status that is not a code is quarantined;
--     the store's triggers are statement-level (one evaluation per patient
--     and statement); setup() refuses NOT NULL columns it cannot fill;
--     rxnorm_atc is derived from a published RxNorm-ATC crosswalk;
--   * issue 15: one Flag per patient and action (careflags.actions), its
--     text the action row in careflags.language; 1.0's per-flag Flags are
--     marked deleted.
\echo Use "ALTER EXTENSION careflags_fhir UPDATE TO '1.1'" to load this file. \quit

DO $$
BEGIN
    IF pg_catalog.to_regprocedure('careflags.run_as_owner(pg_catalog.regclass, text, text[])') IS NULL THEN
        RAISE EXCEPTION 'careflags_fhir 1.1 needs careflags 1.3 (careflags.run_as_owner)'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Run ALTER EXTENSION careflags UPDATE first.';
    END IF;
END
$$;

-----------------------------------------------------------------------------
-- Size limits (issue 13)
-----------------------------------------------------------------------------

CREATE TABLE @extschema@.limits (
    singleton           boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    max_bundle_bytes    bigint CHECK (max_bundle_bytes OPERATOR(pg_catalog.>) 0),
    max_resource_bytes  bigint CHECK (max_resource_bytes OPERATOR(pg_catalog.>) 0)
);
COMMENT ON TABLE @extschema@.limits IS
    'size limits checked before parsing (one row, empty = the defaults): max_bundle_bytes, the largest Bundle or NDJSON text load_bundle()/load_ndjson() accept (default 64 MB); max_resource_bytes, the largest single resource mapped (default 8 MB; larger ones are quarantined unparsed)';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.limits', '');

CREATE FUNCTION @extschema@.max_bytes(what text) RETURNS bigint
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    RETURN CASE what
        WHEN 'bundle' THEN COALESCE((SELECT l.max_bundle_bytes FROM @extschema@.limits AS l), 67108864)
        WHEN 'resource' THEN COALESCE((SELECT l.max_resource_bytes FROM @extschema@.limits AS l), 8388608)
    END;
COMMENT ON FUNCTION @extschema@.max_bytes(text) IS
    'the size limit in bytes for a ''bundle'' (also an NDJSON text) or a ''resource'': careflags_fhir.limits, else 64 MB and 8 MB';

-- Refuses a load over the limit, before anything is parsed.
CREATE FUNCTION @extschema@.check_load_size(what text, bytes bigint) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    max bigint := @extschema@.max_bytes('bundle');
BEGIN
    IF bytes > max THEN
        RAISE EXCEPTION 'the % is % bytes, more than careflags_fhir accepts (% bytes)', what, bytes, max
            USING ERRCODE = 'program_limit_exceeded',
                  DETAIL = 'Nothing was parsed or loaded.',
                  HINT = 'Split it into smaller bundles or NDJSON files, or raise careflags_fhir.limits.max_bundle_bytes.';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.check_load_size(text, bigint) IS
    'raises program_limit_exceeded (54000) when a bundle or NDJSON text is larger than limits.max_bundle_bytes';

-- load_bundle(text): the size is checked before the text is parsed (a
-- jsonb argument has been parsed by the caller already).
CREATE FUNCTION @extschema@.load_bundle(bundle text) RETURNS TABLE (outcome text, resources bigint)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    doc jsonb;
BEGIN
    PERFORM @extschema@.check_load_size('bundle', octet_length(bundle));
    BEGIN
        doc := bundle::jsonb;
    EXCEPTION WHEN invalid_text_representation THEN
        RAISE EXCEPTION 'the bundle is not JSON: %', SQLERRM USING ERRCODE = 'invalid_parameter_value';
    END;
    RETURN QUERY SELECT * FROM @extschema@.load_bundle(doc);
END
$$;
COMMENT ON FUNCTION @extschema@.load_bundle(text) IS
    'load_bundle() of a Bundle as text (e.g. pg_read_file(), psql :''var''): refused before parsing when over limits.max_bundle_bytes';

-----------------------------------------------------------------------------
-- The store, read and written as its owner (issue 13)
-----------------------------------------------------------------------------

-- The per-type table of a resource type in the configured store.
CREATE FUNCTION @extschema@.store_table(rtype text) RETURNS regclass
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    cfg @extschema@.config;
    rel regclass;
BEGIN
    SELECT * INTO cfg FROM @extschema@.config;
    IF NOT FOUND OR cfg.layout <> 'tables' THEN
        RAISE EXCEPTION 'careflags_fhir has no per-type tables store' USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    rel := to_regclass(format('%I.%I', cfg.store_schema, rtype));
    IF rel IS NULL THEN
        RAISE EXCEPTION 'the store has no table %.%', quote_ident(cfg.store_schema), quote_ident(rtype)
            USING ERRCODE = 'undefined_table';
    END IF;
    RETURN rel;
END
$$;
COMMENT ON FUNCTION @extschema@.store_table(text) IS
    'the table store_schema."<resource type>" of the per-type tables store (resolved by name at each call)';

-- One stored resource, read as the store table's owner.
CREATE FUNCTION @extschema@.stored_resource(rtype text, rid text, OUT content text, OUT deleted boolean)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    cfg @extschema@.config;
    target regclass;
BEGIN
    SELECT * INTO cfg FROM @extschema@.config;
    IF NOT FOUND THEN
        RETURN;
    ELSIF cfg.layout = 'resource' THEN
        SELECT r.content, r.deleted INTO content, deleted FROM @extschema@.resource AS r
            WHERE r.resource_type = rtype AND r.id = rid;
    ELSIF rtype = ANY (cfg.resource_types) AND rid ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        target := @extschema@.store_table(rtype);
        SELECT x[1], x[2]::boolean INTO content, deleted
            FROM careflags.run_as_owner(target, format('SELECT content, deleted FROM %s WHERE id = $1::uuid', target), rid) AS x;
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.stored_resource(text, text) IS
    'the content and deleted mark of one stored resource (NULLs when it is not stored); per-type tables are read as their owner (careflags.run_as_owner)';

-- A Patient came back: map again the resources that lost their facts when it went.
CREATE FUNCTION @extschema@.remap_dependents(patient_fhir_id text) RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    d record;
    s record;
    n integer := 0;
BEGIN
    FOR d IN SELECT r.resource_type, r.resource_id FROM @extschema@.resource_map AS r
              WHERE r.patient_ref = patient_fhir_id AND r.resource_type <> 'Patient' AND r.outcome = 'ignored'
                AND starts_with(r.reason, 'its Patient/')
              ORDER BY r.resource_type, r.resource_id
    LOOP
        s := @extschema@.stored_resource(d.resource_type, d.resource_id);
        PERFORM @extschema@.map_resource(d.resource_type, d.resource_id, s.content, s.content IS NULL OR coalesce(s.deleted, false));
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION @extschema@.remap_dependents(text) IS
    'maps again, from the store, the resources of a FHIR patient that were unmapped when its Patient was deleted or quarantined; returns how many';
CREATE INDEX resource_map_patient ON @extschema@.resource_map (patient_ref);

-----------------------------------------------------------------------------
-- Statement-level mapping triggers (issue 14 §7 c)
-----------------------------------------------------------------------------

-- AFTER ... FOR EACH STATEMENT with transition tables (new_rows, old_rows)
-- on the store tables: maps every row the statement wrote, deferring
-- careflags' evaluation to the end of the statement, so each patient is
-- evaluated once per statement, as careflags' own fact triggers do.
-- Inside a load that defers already (load_bundle), the load evaluates; with
-- careflags.evaluate_in_worker the background worker does, after commit.
CREATE FUNCTION @extschema@.resources_changed() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    type_expr text;
    -- 'on' when careflags should not evaluate at the end of this statement:
    -- a load that defers to its own end, or evaluation by the background worker
    outer_defer text := CASE WHEN current_setting('careflags.evaluate_in_worker', true) = 'on' THEN 'on'
                             ELSE current_setting('careflags.defer_evaluation', true) END;
    r record;
BEGIN
    IF NOT (TG_WHEN = 'AFTER' AND TG_LEVEL = 'STATEMENT') THEN
        RAISE EXCEPTION 'careflags_fhir.resources_changed() must be an AFTER ... FOR EACH STATEMENT trigger'
            USING ERRCODE = 'E0001';
    END IF;
    -- tables of the 'tables' layout pass their resource type; careflags_fhir.resource has a column
    type_expr := CASE WHEN TG_NARGS > 0 THEN quote_literal(TG_ARGV[0]) ELSE 'x.resource_type' END;
    IF outer_defer IS DISTINCT FROM 'on' THEN
        PERFORM set_config('careflags.defer_evaluation', 'on', true);
    END IF;
    FOR r IN EXECUTE CASE TG_OP
        WHEN 'INSERT' THEN
            format('SELECT %s AS t, x.id::text AS id, x.content, x.deleted, false AS gone FROM new_rows AS x', type_expr)
        WHEN 'DELETE' THEN
            format('SELECT %s AS t, x.id::text AS id, NULL::text AS content, true AS deleted, true AS gone FROM old_rows AS x', type_expr)
        ELSE
            -- old and new rows paired by id; an id that changed is a delete and an insert
            format($q$SELECT coalesce(n.t, o.t) AS t, coalesce(n.id, o.id) AS id, n.content, n.deleted, n.id IS NULL AS gone
                        FROM (SELECT %1$s AS t, x.id::text AS id, x.content, x.deleted FROM new_rows AS x) AS n
                        FULL JOIN (SELECT %1$s AS t, x.id::text AS id, x.content, x.deleted FROM old_rows AS x) AS o
                          ON o.t = n.t AND o.id = n.id
                       WHERE n.id IS NULL OR o.id IS NULL
                          OR n.content IS DISTINCT FROM o.content OR n.deleted IS DISTINCT FROM o.deleted$q$, type_expr)
        END || ' ORDER BY 5 DESC, 1, 2'
    LOOP
        CONTINUE WHEN r.t = 'Flag';         -- careflags' own output, never read back
        PERFORM @extschema@.map_resource(r.t, r.id, CASE WHEN r.gone THEN NULL ELSE r.content END,
                                         r.gone OR coalesce(r.deleted, false));
    END LOOP;
    IF outer_defer IS DISTINCT FROM 'on' THEN
        PERFORM set_config('careflags.defer_evaluation', 'off', true);
        PERFORM careflags.evaluate_deferred();
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.resources_changed() IS
    'AFTER ... FOR EACH STATEMENT trigger (transition tables new_rows / old_rows) on a FHIR store table: maps every resource the statement wrote (DELETE or deleted = true: removes its facts), then evaluates each patient once; runs as the extension owner so a FHIR application role needs no rights on careflags';

-- The three statement triggers of one store table.
CREATE FUNCTION @extschema@.attach_triggers(rel regclass, rtype text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    arg text := CASE WHEN rtype IS NULL THEN '' ELSE quote_literal(rtype) END;
BEGIN
    EXECUTE format('CREATE TRIGGER careflags_fhir_map_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.resources_changed(%s)', rel, arg);
    EXECUTE format('CREATE TRIGGER careflags_fhir_map_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.resources_changed(%s)', rel, arg);
    EXECUTE format('CREATE TRIGGER careflags_fhir_map_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS old_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.resources_changed(%s)', rel, arg);
END
$$;
COMMENT ON FUNCTION @extschema@.attach_triggers(regclass, text) IS
    'creates the statement-level mapping triggers careflags_fhir_map_insert/_update/_delete on a store table (rtype: its resource type; NULL for careflags_fhir.resource)';
COMMENT ON FUNCTION @extschema@.resource_changed() IS
    'AFTER ROW trigger of careflags_fhir 1.0 on a FHIR store table (setup() of 1.1 attaches resources_changed() instead, statement level): maps the written resource; runs as the extension owner';

-----------------------------------------------------------------------------
-- Consistency (issue 14 §7 a)
-----------------------------------------------------------------------------

CREATE FUNCTION @extschema@.check_consistency() RETURNS TABLE (resource_type text, resource_id text, problem text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
    WITH refs AS (
        SELECT r.resource_type, r.resource_id, split_part(f, '|', 1) AS t, substr(f, strpos(f, '|') + 1) AS k
          FROM @extschema@.resource_map AS r, unnest(r.facts) AS f
         WHERE r.outcome = 'mapped'),
    present (t, k) AS (
        SELECT 'patient', source_key FROM careflags.patient WHERE source_system = 'fhir'
        UNION ALL SELECT 'episode', source_key FROM careflags.episode WHERE source_system = 'fhir'
        UNION ALL SELECT 'assessment', source_key FROM careflags.assessment WHERE source_system = 'fhir'
        UNION ALL SELECT 'measurement', source_key FROM careflags.measurement WHERE source_system = 'fhir'
        UNION ALL SELECT 'medication', source_key FROM careflags.medication WHERE source_system = 'fhir'
        UNION ALL SELECT 'medication_review', source_key FROM careflags.medication_review WHERE source_system = 'fhir'
        UNION ALL SELECT 'care_plan', source_key FROM careflags.care_plan WHERE source_system = 'fhir'
        UNION ALL SELECT 'fall', source_key FROM careflags.fall WHERE source_system = 'fhir')
    SELECT refs.resource_type, refs.resource_id, format('mapped, but its %s fact %s is missing', refs.t, refs.k)
      FROM refs
     WHERE NOT EXISTS (SELECT FROM present AS p WHERE p.t = refs.t AND p.k = refs.k)
    UNION ALL
    SELECT r.resource_type, r.resource_id, 'mapped, but it lists no fact'
      FROM @extschema@.resource_map AS r
     WHERE r.outcome = 'mapped' AND cardinality(r.facts) = 0
    ORDER BY 1, 2, 3
$$;
COMMENT ON FUNCTION @extschema@.check_consistency() IS
    'resources resource_map says are mapped whose careflags facts are missing (e.g. removed with their patient); empty when the FHIR store and careflags agree; remap() mends them';

-----------------------------------------------------------------------------
-- Replaced functions
-----------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION @extschema@.map_document(rtype text, rid text, doc jsonb) RETURNS @extschema@.mapping
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    res @extschema@.mapping;
BEGIN
    IF jsonb_typeof(doc) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'the content is JSON but not an object' USING ERRCODE = 'CFF01', HINT = @extschema@.default_fact_table(rtype);
    ELSIF doc ->> 'resourceType' IS DISTINCT FROM rtype THEN
        RAISE EXCEPTION 'resourceType "%" stored as %', coalesce(doc ->> 'resourceType', '(none)'), rtype
            USING ERRCODE = 'CFF01', HINT = @extschema@.default_fact_table(rtype);
    ELSIF doc ? 'status' AND jsonb_typeof(doc -> 'status') IS DISTINCT FROM 'string' THEN
        -- R4: status is a code everywhere; an array or object is not one
        RAISE EXCEPTION 'status is a JSON %, not a code', jsonb_typeof(doc -> 'status')
            USING ERRCODE = 'CFF01', HINT = @extschema@.default_fact_table(rtype);
    END IF;
    CASE
        WHEN rtype = 'Patient' THEN
            res := @extschema@.map_patient(rid, doc);
        WHEN rtype IN ('Encounter', 'EpisodeOfCare') THEN
            res := @extschema@.map_episode(rtype, rid, doc);
        WHEN rtype IN ('MedicationRequest', 'MedicationStatement') THEN
            res := @extschema@.map_medication(rtype, rid, doc);
        WHEN rtype = 'NutritionOrder' THEN
            res := @extschema@.map_nutrition_order(rid, doc);
        WHEN rtype IN ('Observation', 'Procedure', 'Condition', 'CarePlan') THEN
            res := @extschema@.map_coded(rtype, rid, doc);
        ELSE
            res := ROW('ignored', format('resource type %s is not used by careflags', rtype), NULL, '{}');
    END CASE;
    RETURN res;
END
$$;
COMMENT ON FUNCTION @extschema@.map_document(text, text, jsonb) IS 'maps one parsed resource by its type; raises CFF01 for what must be quarantined (not an object, another resourceType, a status that is not a code)';

CREATE OR REPLACE FUNCTION @extschema@.map_medication(rtype text, rid text, doc jsonb) RETURNS @extschema@.mapping
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    res @extschema@.mapping;
    st text := doc ->> 'status';
    concept jsonb;
    ref text;
    atc_coding text;
    rx text;
    v_atc text;
    v_code text;
    v_name text;
    status careflags.medication_status;
    t_start timestamptz;
    t_stop timestamptz;
    prn boolean;
    pid bigint;
    ok boolean;
    key text := rtype || '/' || rid;
BEGIN
    res.facts := '{}';
    IF st IS NULL THEN
        RAISE EXCEPTION '% has no status', rtype USING ERRCODE = 'CFF01', HINT = 'medication';
    ELSIF NOT st = ANY (CASE rtype
            WHEN 'MedicationRequest' THEN ARRAY['active', 'on-hold', 'cancelled', 'completed', 'entered-in-error', 'stopped', 'draft', 'unknown']
            ELSE ARRAY['active', 'completed', 'entered-in-error', 'intended', 'stopped', 'on-hold', 'unknown', 'not-taken'] END) THEN
        RAISE EXCEPTION '% status "%" is not a code of its value set', rtype, st USING ERRCODE = 'CFF01', HINT = 'medication';
    END IF;
    IF st IN ('draft', 'intended', 'not-taken') THEN
        res.outcome := 'ignored';
        res.reason := format('status %s: not a medicine in use', st);
        RETURN res;
    END IF;
    IF rtype = 'MedicationRequest' AND doc ->> 'intent' IN ('proposal', 'plan', 'option') THEN
        res.outcome := 'ignored';
        res.reason := format('intent %s: not an order', doc ->> 'intent');
        RETURN res;
    END IF;

    res.patient_ref := @extschema@.patient_ref(doc -> 'subject');
    IF res.patient_ref IS NULL THEN
        RAISE EXCEPTION '% has no subject', rtype USING ERRCODE = 'CFF01', HINT = 'medication';
    END IF;

    concept := doc -> 'medicationCodeableConcept';
    IF concept IS NULL AND doc ? 'medicationReference' THEN
        ref := doc -> 'medicationReference' ->> 'reference';
        IF ref LIKE '#%' THEN
            SELECT c -> 'code' INTO concept
                FROM jsonb_array_elements(CASE WHEN jsonb_typeof(doc -> 'contained') = 'array' THEN doc -> 'contained' ELSE '[]' END) AS c
                WHERE c ->> 'resourceType' = 'Medication' AND c ->> 'id' = substr(ref, 2);
        END IF;
        IF concept IS NULL THEN
            v_code := 'ref:' || coalesce(@extschema@.ref_key(doc -> 'medicationReference'), '');
            v_name := doc -> 'medicationReference' ->> 'display';
            IF ref IS NULL THEN
                v_code := NULL;
            END IF;
        END IF;
    END IF;
    IF concept IS NOT NULL THEN
        SELECT x ->> 'code' INTO atc_coding FROM jsonb_path_query(concept, '$.coding[*]') AS x
            WHERE x ->> 'system' = 'http://www.whocc.no/atc' LIMIT 1;
        SELECT x ->> 'code' INTO rx FROM jsonb_path_query(concept, '$.coding[*]') AS x
            WHERE x ->> 'system' = 'http://www.nlm.nih.gov/research/umls/rxnorm' LIMIT 1;
        IF atc_coding IS NOT NULL THEN
            IF atc_coding !~ '^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$' THEN
                RAISE EXCEPTION 'unknown ATC code "%"', atc_coding USING ERRCODE = 'CFF01', HINT = 'medication';
            END IF;
            v_atc := atc_coding;
        ELSIF rx IS NOT NULL THEN
            SELECT m.atc INTO v_atc FROM @extschema@.rxnorm_atc AS m WHERE m.rxcui = rx;
        END IF;
        v_code := CASE
            WHEN rx IS NOT NULL THEN 'rxnorm:' || rx
            WHEN atc_coding IS NOT NULL THEN 'atc:' || atc_coding
            ELSE (SELECT coalesce(x ->> 'system', '') || '|' || (x ->> 'code')
                    FROM jsonb_path_query(concept, '$.coding[*]') AS x WHERE x ->> 'code' IS NOT NULL LIMIT 1)
        END;
        v_name := coalesce(concept ->> 'text',
                           (SELECT x ->> 'display' FROM jsonb_path_query(concept, '$.coding[*]') AS x
                             WHERE x ->> 'display' IS NOT NULL LIMIT 1));
        IF v_code IS NULL AND v_name IS NOT NULL THEN
            v_code := 'text:' || lower(v_name);
        END IF;
    END IF;
    IF v_code IS NULL THEN
        RAISE EXCEPTION '% names no medication code', rtype USING ERRCODE = 'CFF01', HINT = 'medication';
    END IF;

    status := CASE st
        WHEN 'active' THEN 'active' WHEN 'on-hold' THEN 'on_hold' WHEN 'stopped' THEN 'stopped'
        WHEN 'completed' THEN 'completed' WHEN 'cancelled' THEN 'cancelled'
        WHEN 'entered-in-error' THEN 'entered_in_error' ELSE 'unknown' END::careflags.medication_status;
    IF rtype = 'MedicationRequest' THEN
        t_start := @extschema@.fhir_time(coalesce(doc ->> 'authoredOn',
                                                  doc -> 'dispenseRequest' -> 'validityPeriod' ->> 'start'));
        prn := jsonb_path_exists(doc, '$.dosageInstruction[*] ? (@.asNeededBoolean == true || exists(@.asNeededCodeableConcept))');
    ELSE
        t_start := @extschema@.fhir_time(coalesce(doc ->> 'effectiveDateTime', doc -> 'effectivePeriod' ->> 'start',
                                                  doc ->> 'dateAsserted'));
        t_stop := @extschema@.fhir_time(doc -> 'effectivePeriod' ->> 'end');
        prn := jsonb_path_exists(doc, '$.dosage[*] ? (@.asNeededBoolean == true || exists(@.asNeededCodeableConcept))');
    END IF;
    IF t_start IS NULL THEN
        RAISE EXCEPTION '% has no start time (authoredOn / effective[x])', rtype USING ERRCODE = 'CFF01', HINT = 'medication';
    END IF;
    pid := @extschema@.patient_id(res.patient_ref);

    INSERT INTO careflags.medication AS m (patient_id, source_system, source_key, atc, code, name,
                                           started_at, stopped_at, as_needed, status)
        VALUES (pid, 'fhir', key, v_atc, v_code, v_name, t_start, t_stop, prn, status)
        ON CONFLICT ON CONSTRAINT medication_source_key DO UPDATE
            SET patient_id = EXCLUDED.patient_id, atc = EXCLUDED.atc, code = EXCLUDED.code, name = EXCLUDED.name,
                started_at = EXCLUDED.started_at, stopped_at = EXCLUDED.stopped_at,
                as_needed = EXCLUDED.as_needed, status = EXCLUDED.status
        RETURNING true INTO ok;
    IF ok THEN
        res.outcome := 'mapped';
        res.facts := ARRAY['medication|' || key];
    ELSE
        res.outcome := 'quarantined';
        res.reason := @extschema@.guard_reason('medication', key);
    END IF;
    RETURN res;
END
$$;
COMMENT ON FUNCTION @extschema@.map_medication(text, text, jsonb) IS
    'MedicationRequest / MedicationStatement -> careflags.medication: ATC coding used as is, RxNorm via rxnorm_atc (else atc NULL, code rxnorm:<code>), status (a code of the R4 value set, else quarantined), as-needed, start/stop';

CREATE OR REPLACE FUNCTION @extschema@.map_resource(rtype text, rid text, content text, is_deleted boolean) RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    old_facts text[];
    doc jsonb;
    res @extschema@.mapping;
    v_state text;
    v_msg text;
    v_hint text;
    v_table text;
    v_pid bigint;
    v_pref text;
    v_max bigint := @extschema@.max_bytes('resource');
    v_patient_fact text := 'patient|Patient/' || rid;
BEGIN
    SELECT r.facts INTO old_facts FROM @extschema@.resource_map AS r
        WHERE r.resource_type = rtype AND r.resource_id = rid;

    IF is_deleted OR content IS NULL THEN
        res := ROW('deleted', 'the resource was deleted', NULL, '{}');
    ELSIF octet_length(content) > v_max THEN
        -- Refused before parsing: a huge resource must not take the backend's memory.
        v_msg := format('the resource is %s bytes, more than careflags_fhir accepts (limits.max_resource_bytes = %s); not parsed',
                        octet_length(content), v_max);
        IF @extschema@.is_strict() THEN
            RAISE EXCEPTION '%', v_msg USING ERRCODE = 'program_limit_exceeded';
        END IF;
        PERFORM @extschema@.quarantine(@extschema@.default_fact_table(rtype), rtype || '/' || rid, NULL, v_msg,
            jsonb_build_object('resourceType', rtype, 'id', rid, 'bytes', octet_length(content), 'start', left(content, 200)));
        PERFORM @extschema@.drop_facts(old_facts, '{}');
        res := ROW('quarantined', v_msg, NULL, '{}');
    ELSE
        BEGIN
            doc := content::jsonb;
            res := @extschema@.map_document(rtype, rid, doc);
            PERFORM @extschema@.drop_facts(old_facts, res.facts);
        EXCEPTION WHEN OTHERS THEN
            IF @extschema@.is_strict() THEN
                RAISE;
            END IF;
            GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,
                                    v_hint = PG_EXCEPTION_HINT, v_table = TABLE_NAME;
            IF doc IS NULL THEN
                v_msg := 'malformed JSON: ' || v_msg;
                v_table := @extschema@.default_fact_table(rtype);
            ELSIF v_state = 'CFF01' THEN
                v_table := coalesce(nullif(v_hint, ''), @extschema@.default_fact_table(rtype));
            ELSE
                v_table := coalesce(nullif(v_table, ''), @extschema@.default_fact_table(rtype));
            END IF;
            BEGIN
                v_pref := CASE rtype WHEN 'Patient' THEN rid
                                     ELSE @extschema@.patient_ref(coalesce(doc -> 'subject', doc -> 'patient')) END;
            EXCEPTION WHEN OTHERS THEN
                v_pref := NULL;
            END;
            SELECT p.patient_id INTO v_pid FROM careflags.patient AS p
                WHERE p.source_system = 'fhir' AND p.source_key = 'Patient/' || v_pref;
            PERFORM @extschema@.quarantine(v_table, rtype || '/' || rid, v_pid, v_msg,
                CASE WHEN doc IS NULL THEN jsonb_build_object('resourceType', rtype, 'id', rid, 'content', left(content, 20000))
                     ELSE doc END);
            PERFORM @extschema@.drop_facts(old_facts, '{}');
            res := ROW('quarantined', v_msg, v_pref, '{}');
        END;
    END IF;
    IF res.outcome = 'deleted' THEN
        PERFORM @extschema@.drop_facts(old_facts, '{}');
    END IF;

    -- A Patient whose careflags patient went (deleted, quarantined) took
    -- every fact of its other resources with it (ON DELETE CASCADE): they are
    -- no longer mapped.  When it comes back, they are mapped again from the store.
    IF rtype = 'Patient' THEN
        IF v_patient_fact = ANY (coalesce(old_facts, '{}')) AND NOT v_patient_fact = ANY (coalesce(res.facts, '{}')) THEN
            UPDATE @extschema@.resource_map AS r
               SET outcome = 'ignored', reason = format('its Patient/%s is %s', rid, res.outcome), facts = '{}',
                   updated_at = pg_catalog.now()
             WHERE r.patient_ref = rid AND r.resource_type <> 'Patient' AND r.outcome = 'mapped';
        ELSIF res.outcome = 'mapped' AND NOT v_patient_fact = ANY (coalesce(old_facts, '{}')) THEN
            PERFORM @extschema@.remap_dependents(rid);
        END IF;
    END IF;

    INSERT INTO @extschema@.resource_map AS r (resource_type, resource_id, outcome, reason, patient_ref, facts, updated_at)
        VALUES (rtype, rid, res.outcome, res.reason, res.patient_ref, coalesce(res.facts, '{}'), pg_catalog.now())
        ON CONFLICT (resource_type, resource_id) DO UPDATE
            SET outcome = EXCLUDED.outcome, reason = EXCLUDED.reason, patient_ref = EXCLUDED.patient_ref,
                facts = EXCLUDED.facts, updated_at = EXCLUDED.updated_at;
    RETURN res.outcome;
END
$$;
COMMENT ON FUNCTION @extschema@.map_resource(text, text, text, boolean) IS
    'maps one stored resource (content as text) onto careflags facts, replacing its earlier facts; deleted: removes them; records the outcome in resource_map; quarantines instead of raising unless careflags.strict; a resource over limits.max_resource_bytes is quarantined unparsed; a Patient that goes unmaps its other resources, and maps them again when it comes back';

CREATE OR REPLACE FUNCTION @extschema@.put_flag(flag_id bigint, content jsonb, is_deleted boolean) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    cfg @extschema@.config;
    target regclass;
BEGIN
    SELECT * INTO cfg FROM @extschema@.config;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF cfg.layout = 'tables' THEN
        -- As the table's owner: its triggers, defaults, rules and index
        -- expressions never run with careflags' rights (issue 13).
        target := @extschema@.store_table('Flag');
        IF is_deleted THEN
            PERFORM careflags.run_as_owner(target,
                format('UPDATE %s SET deleted = true, "lastUpdated" = pg_catalog.now() WHERE id = $1::uuid', target),
                @extschema@.flag_uuid(flag_id)::text);
        ELSE
            PERFORM careflags.run_as_owner(target,
                format('INSERT INTO %s (id, content, "lastUpdated", deleted) VALUES ($1::uuid, $2, pg_catalog.now(), false)
                        ON CONFLICT (id) DO UPDATE SET content = EXCLUDED.content,
                            "lastUpdated" = EXCLUDED."lastUpdated", deleted = false', target),
                @extschema@.flag_uuid(flag_id)::text, content::text);
        END IF;
    ELSIF is_deleted THEN
        UPDATE @extschema@.resource SET deleted = true, "lastUpdated" = pg_catalog.now()
            WHERE resource_type = 'Flag' AND id = @extschema@.flag_uuid(flag_id)::text;
    ELSE
        INSERT INTO @extschema@.resource AS r (resource_type, id, content, "lastUpdated", deleted)
            VALUES ('Flag', @extschema@.flag_uuid(flag_id)::text, content::text, pg_catalog.now(), false)
            ON CONFLICT (resource_type, id) DO UPDATE
                SET content = EXCLUDED.content, "lastUpdated" = EXCLUDED."lastUpdated", deleted = false;
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.put_flag(bigint, jsonb, boolean) IS 'upserts the FHIR Flag of a careflags flag into the configured store (per-type tables: as the "Flag" table''s owner, careflags.run_as_owner)';

CREATE OR REPLACE FUNCTION @extschema@.detach() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT tg.tgrelid::regclass AS rel, tg.tgname
               FROM pg_trigger AS tg
               WHERE tg.tgname IN ('careflags_fhir_map', 'careflags_fhir_unmap', 'careflags_fhir_flag', 'careflags_fhir_map_insert',
                                  'careflags_fhir_map_update', 'careflags_fhir_map_delete') AND NOT tg.tgisinternal
    LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.rel);
    END LOOP;
    DELETE FROM @extschema@.config;
END
$$;
COMMENT ON FUNCTION @extschema@.detach() IS
    'removes careflags_fhir''s triggers from the store tables and careflags.flag (before DROP EXTENSION, or to change layout); the store''s data stays';

CREATE OR REPLACE FUNCTION @extschema@.setup(layout text DEFAULT 'tables', store_schema name DEFAULT 'public',
                                  create_missing boolean DEFAULT true)
    RETURNS TABLE (resource_type text, store_table regclass, action text)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t text;
    rel regclass;
    shape text;
    attached text[] := '{}';
    extra text;
    on_citus boolean := false;
BEGIN
    IF NOT COALESCE(layout = ANY (ARRAY['tables', 'resource']), false) THEN
        RAISE EXCEPTION 'unknown layout "%"', layout USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use ''tables'' (one table per resource type, as Medplum) or ''resource'' (careflags_fhir.resource, for bulk loads).';
    END IF;
    PERFORM @extschema@.detach();
    -- On Citus (careflags.distribute() made careflags.flag a distributed
    -- table) a trigger on careflags.flag would fire on the workers' shards,
    -- far from the store's Flag table on the coordinator: no Flag is written
    -- back there; the flags are read from careflags.flag.
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition
                                 WHERE logicalrelid OPERATOR(pg_catalog.=) ''careflags.flag''::pg_catalog.regclass)'
            INTO on_citus;
    END IF;

    IF layout = 'tables' THEN
        IF to_regnamespace(quote_ident(store_schema)) IS NULL THEN
            RAISE EXCEPTION 'schema "%" does not exist', store_schema USING ERRCODE = 'invalid_schema_name';
        END IF;
        FOREACH t IN ARRAY @extschema@.mapped_types() || 'Flag'::text LOOP
            rel := to_regclass(format('%I.%I', store_schema, t));
            action := 'attached';
            IF rel IS NULL THEN
                IF NOT create_missing THEN
                    IF t = 'Flag' THEN
                        RAISE EXCEPTION 'table %.% is missing', quote_ident(store_schema), quote_ident(t)
                            USING ERRCODE = 'undefined_table', HINT = 'Flags are written there; call setup with create_missing => true.';
                    END IF;
                    resource_type := t; store_table := NULL; action := 'missing (not mapped)';
                    RETURN NEXT;
                    CONTINUE;
                END IF;
                EXECUTE format('CREATE TABLE %I.%I (
                                    id uuid PRIMARY KEY,
                                    content text NOT NULL,
                                    "lastUpdated" timestamptz NOT NULL DEFAULT pg_catalog.now(),
                                    deleted boolean NOT NULL DEFAULT false)', store_schema, t);
                EXECUTE format('COMMENT ON TABLE %I.%I IS %L', store_schema, t,
                               format('FHIR R4 %s resources (id, content JSON, lastUpdated, deleted), mapped onto careflags by careflags_fhir', t));
                rel := to_regclass(format('%I.%I', store_schema, t));
                action := 'created, attached';
            END IF;
            SELECT string_agg(format('%s %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attname)
                INTO shape
                FROM pg_attribute AS a
                WHERE a.attrelid = rel AND NOT a.attisdropped AND a.attnum > 0
                  AND (a.attname, a.atttypid) IN (('id', 'uuid'::regtype), ('content', 'text'::regtype),
                                                  ('lastUpdated', 'timestamp with time zone'::regtype),
                                                  ('deleted', 'boolean'::regtype));
            IF shape IS DISTINCT FROM 'content text, deleted boolean, id uuid, lastUpdated timestamp with time zone' THEN
                RAISE EXCEPTION 'table % does not have the FHIR store shape', rel::text
                    USING ERRCODE = 'wrong_object_type',
                          DETAIL = format('Found the columns: %s.', coalesce(shape, 'none of them')),
                          HINT = 'Expected id uuid, content text, "lastUpdated" timestamptz, deleted boolean.';
            END IF;
            IF NOT EXISTS (SELECT FROM pg_index AS i
                            WHERE i.indrelid = rel AND i.indisunique AND i.indnkeyatts = 1 AND i.indpred IS NULL
                              AND i.indkey[0] = (SELECT a.attnum FROM pg_attribute AS a WHERE a.attrelid = rel AND a.attname = 'id')) THEN
                RAISE EXCEPTION 'table % has no unique index on id', rel::text USING ERRCODE = 'wrong_object_type';
            END IF;
            -- careflags writes id, content, "lastUpdated" and deleted only.
            SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO extra
                FROM pg_attribute AS a
                WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull
                  AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = ''
                  AND a.attname NOT IN ('id', 'content', 'lastUpdated', 'deleted');
            IF extra IS NOT NULL THEN
                RAISE EXCEPTION 'table % has NOT NULL columns careflags_fhir cannot fill: %', rel::text, extra
                    USING ERRCODE = 'wrong_object_type',
                          DETAIL = 'careflags_fhir writes id, content, "lastUpdated" and deleted only (each Flag, and each resource load_bundle() stores).',
                          HINT = 'Give those columns a default, or allow NULL in them.';
            END IF;
            -- careflags reads and writes the table as its owner; a trigger
            -- another role adds would run with the owner's rights.
            SELECT string_agg(DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END, ', ')
                INTO extra
                FROM pg_class AS c, aclexplode(c.relacl) AS a
                WHERE c.oid = rel AND a.privilege_type = 'TRIGGER' AND a.grantee <> c.relowner;
            IF extra IS NOT NULL THEN
                RAISE EXCEPTION 'roles other than its owner may create triggers on %: %', rel::text, extra
                    USING ERRCODE = 'object_not_in_prerequisite_state',
                          DETAIL = 'careflags_fhir reads and writes the store as its owner, so their triggers would run with the owner''s rights.',
                          HINT = format('REVOKE TRIGGER ON %s FROM %s', rel::text, extra);
            END IF;
            IF t <> 'Flag' THEN
                PERFORM @extschema@.attach_triggers(rel, t);
                attached := attached || t;
            ELSE
                action := CASE WHEN on_citus THEN replace(action, 'attached', 'no flags written on Citus: read careflags.flag')
                               ELSE replace(action, 'attached', 'flags written here') END;
            END IF;
            resource_type := t; store_table := rel;
            RETURN NEXT;
        END LOOP;
    ELSE
        -- Flags are careflags' own output, never read back (resources_changed() skips them).
        PERFORM @extschema@.attach_triggers('@extschema@.resource'::regclass, NULL);
        attached := @extschema@.mapped_types();
        resource_type := '*'; store_table := '@extschema@.resource'::regclass; action := 'attached';
        RETURN NEXT;
    END IF;

    INSERT INTO @extschema@.config (layout, store_schema, resource_types)
        VALUES (layout, CASE WHEN layout = 'tables' THEN store_schema END, attached);
    IF on_citus THEN
        RAISE NOTICE 'careflags_fhir on Citus: resources are mapped, flags are not written back as FHIR Flag resources'
            USING HINT = 'Read the flags from careflags.flag through the coordinator (README: careflags on Citus).';
    ELSE
        CREATE TRIGGER careflags_fhir_flag AFTER INSERT OR UPDATE OR DELETE ON careflags.flag
            FOR EACH ROW EXECUTE FUNCTION @extschema@.flag_changed();

        -- Mirror the flags that exist already: one Flag per patient and action.
        PERFORM @extschema@.mirror_actions();
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.setup(text, name, boolean) IS
    'chooses the FHIR store: layout ''tables'' attaches the mapping triggers (statement level) to store_schema."Patient", "Observation", ... (creating missing ones when create_missing) and writes flags to store_schema."Flag" (not on Citus: there flags stay in careflags.flag); refuses tables of another shape, with NOT NULL columns it cannot fill, or on which a role other than the owner may create triggers; layout ''resource'' uses careflags_fhir.resource; replaces an earlier setup';

CREATE OR REPLACE FUNCTION @extschema@.store_resource(rtype text, rid text, content text) RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    cfg @extschema@.config;
    v_outcome text;
    target regclass;
BEGIN
    SELECT * INTO cfg FROM @extschema@.config;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'careflags_fhir has no store yet' USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Call careflags_fhir.setup() first.';
    END IF;
    IF rtype IS NULL OR rtype !~ '^[A-Z][A-Za-z]+$' THEN
        RAISE EXCEPTION 'not a FHIR resource type: "%"', rtype USING ERRCODE = 'CFF01';
    END IF;
    IF rid IS NULL OR rid !~ '^[A-Za-z0-9.-]{1,64}$' THEN
        RAISE EXCEPTION 'not a FHIR id: "%"', coalesce(rid, '(none)') USING ERRCODE = 'CFF01';
    END IF;
    IF cfg.layout = 'resource' THEN
        INSERT INTO @extschema@.resource AS r (resource_type, id, content, "lastUpdated", deleted)
            VALUES (rtype, rid, content, pg_catalog.now(), false)
            ON CONFLICT (resource_type, id) DO UPDATE
                SET content = EXCLUDED.content, "lastUpdated" = EXCLUDED."lastUpdated", deleted = false;
        IF rtype = 'Flag' THEN
            RETURN 'ignored';
        END IF;
    ELSIF rtype = ANY (cfg.resource_types) THEN
        IF rid !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
            RAISE EXCEPTION 'id "%" is not a uuid, as the per-type tables need', rid USING ERRCODE = 'CFF01';
        END IF;
        -- as the table's owner: the store's own code never runs with careflags' rights
        target := @extschema@.store_table(rtype);
        PERFORM careflags.run_as_owner(target,
            format('INSERT INTO %s AS r (id, content, "lastUpdated", deleted) VALUES ($1::uuid, $2, pg_catalog.now(), false)
                    ON CONFLICT (id) DO UPDATE SET content = EXCLUDED.content,
                        "lastUpdated" = EXCLUDED."lastUpdated", deleted = false', target),
            rid, content);
    ELSE
        INSERT INTO @extschema@.resource_map AS r (resource_type, resource_id, outcome, reason, facts, updated_at)
            VALUES (rtype, rid, 'ignored', format('resource type %s is not used by careflags (not stored)', rtype), '{}', pg_catalog.now())
            ON CONFLICT (resource_type, resource_id) DO UPDATE
                SET outcome = EXCLUDED.outcome, reason = EXCLUDED.reason, facts = '{}', updated_at = EXCLUDED.updated_at;
        RETURN 'ignored';
    END IF;
    SELECT r.outcome INTO v_outcome FROM @extschema@.resource_map AS r
        WHERE r.resource_type = rtype AND r.resource_id = rid;
    RETURN coalesce(v_outcome, 'ignored');
END
$$;
COMMENT ON FUNCTION @extschema@.store_resource(text, text, text) IS
    'writes one resource into the configured store (its trigger maps it; per-type tables are written as their owner, careflags.run_as_owner) and returns the outcome';

CREATE OR REPLACE FUNCTION @extschema@.delete_resource(rtype text, rid text) RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    cfg @extschema@.config;
    target regclass;
BEGIN
    SELECT * INTO cfg FROM @extschema@.config;
    IF cfg.layout = 'resource' THEN
        UPDATE @extschema@.resource SET deleted = true, "lastUpdated" = pg_catalog.now()
            WHERE resource_type = rtype AND id = rid;
    ELSIF rtype = ANY (cfg.resource_types) AND rid ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        target := @extschema@.store_table(rtype);
        PERFORM careflags.run_as_owner(target,
            format('UPDATE %s SET deleted = true, "lastUpdated" = pg_catalog.now() WHERE id = $1::uuid', target), rid);
    END IF;
    IF EXISTS (SELECT FROM @extschema@.resource_map AS r WHERE r.resource_type = rtype AND r.resource_id = rid
                                                         AND r.outcome <> 'deleted') THEN
        PERFORM @extschema@.map_resource(rtype, rid, NULL, true);
    END IF;
    RETURN 'deleted';
END
$$;
COMMENT ON FUNCTION @extschema@.delete_resource(text, text) IS 'marks a stored resource deleted (as the table''s owner, careflags.run_as_owner) and removes its facts';

CREATE OR REPLACE FUNCTION @extschema@.load_bundle(bundle jsonb) RETURNS TABLE (outcome text, resources bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    -- each patient is evaluated once, after the whole load (see careflags.defer_evaluation)
    SET careflags.defer_evaluation = on AS
$$
DECLARE
    e jsonb;
    n bigint;
    r jsonb;
    rtype text;
    rid text;
    m text[];
    o text;
    counts jsonb := '{}';
BEGIN
    PERFORM @extschema@.check_load_size('bundle', pg_catalog.pg_column_size(bundle));
    IF jsonb_typeof(bundle) IS DISTINCT FROM 'object' OR bundle ->> 'resourceType' IS DISTINCT FROM 'Bundle' THEN
        RAISE EXCEPTION 'not a FHIR Bundle' USING ERRCODE = 'invalid_parameter_value';
    ELSIF NOT COALESCE(bundle ->> 'type' = ANY (ARRAY['transaction', 'batch', 'collection', 'searchset', 'document']), false) THEN
        RAISE EXCEPTION 'cannot load a Bundle of type "%"', coalesce(bundle ->> 'type', '(none)')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Transaction, batch, collection, searchset and document bundles can be loaded.';
    END IF;
    FOR e, n IN SELECT x, i FROM jsonb_array_elements(CASE WHEN jsonb_typeof(bundle -> 'entry') = 'array'
                                                          THEN bundle -> 'entry' ELSE '[]' END) WITH ORDINALITY AS y(x, i)
    LOOP
        r := e -> 'resource';
        IF e -> 'request' ->> 'method' = 'DELETE' THEN
            m := regexp_match(e -> 'request' ->> 'url', '([A-Z][A-Za-z]+)/([A-Za-z0-9.-]{1,64})$');
            o := CASE WHEN m IS NULL
                      THEN @extschema@.reject_entry(NULL, format('Bundle/entry-%s', n), 'DELETE entry without Type/id url', e)
                      ELSE @extschema@.delete_resource(m[1], m[2]) END;
        ELSIF jsonb_typeof(r) IS DISTINCT FROM 'object' THEN
            o := @extschema@.reject_entry(NULL, format('Bundle/entry-%s', n), 'bundle entry without a resource', e);
        ELSE
            rtype := r ->> 'resourceType';
            rid := coalesce(r ->> 'id',
                            (regexp_match(e ->> 'fullUrl', '^urn:uuid:([0-9A-Fa-f-]{36})$'))[1],
                            (regexp_match(e -> 'request' ->> 'url', '^[A-Z][A-Za-z]+/([A-Za-z0-9.-]{1,64})$'))[1],
                            CASE WHEN e -> 'request' ->> 'method' = 'POST' THEN gen_random_uuid()::text END);
            IF rid IS NOT NULL AND NOT r ? 'id' THEN
                r := r || jsonb_build_object('id', rid);
            END IF;
            BEGIN
                o := @extschema@.store_resource(rtype, rid, r::text);
            EXCEPTION WHEN SQLSTATE 'CFF01' THEN
                o := @extschema@.reject_entry(rtype, format('%s/%s', coalesce(rtype, 'Bundle'), coalesce(rid, 'entry-' || n)),
                                              SQLERRM, r);
            END;
        END IF;
        counts := jsonb_set(counts, ARRAY[o], to_jsonb(coalesce((counts ->> o)::bigint, 0) + 1));
    END LOOP;
    PERFORM careflags.evaluate_deferred();
    RETURN QUERY SELECT k, v::bigint FROM jsonb_each_text(counts) AS c(k, v) ORDER BY k;
END
$$;
COMMENT ON FUNCTION @extschema@.load_bundle(jsonb) IS
    'loads a transaction, batch or collection Bundle into the configured store (DELETE entries delete); returns resources per outcome; refuses a bundle over limits.max_bundle_bytes';

CREATE OR REPLACE FUNCTION @extschema@.load_ndjson(resource_type text, ndjson text) RETURNS TABLE (outcome text, resources bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    -- each patient is evaluated once, after the whole load (see careflags.defer_evaluation)
    SET careflags.defer_evaluation = on AS
$$
DECLARE
    line text;
    n bigint;
    doc jsonb;
    rid text;
    o text;
    counts jsonb := '{}';
    max_line bigint := @extschema@.max_bytes('resource');
BEGIN
    PERFORM @extschema@.check_load_size('NDJSON', octet_length(ndjson));
    IF resource_type IS NULL OR resource_type !~ '^[A-Z][A-Za-z]+$' THEN
        RAISE EXCEPTION 'not a FHIR resource type: "%"', resource_type USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- One line at a time: the split is lazy and each line is parsed, stored
    -- and mapped before the next is read.
    FOR line, n IN SELECT l, i FROM regexp_split_to_table(ndjson, E'\n') WITH ORDINALITY AS s(l, i) LOOP
        CONTINUE WHEN btrim(line, E' \t\r') = '';
        IF octet_length(line) > max_line THEN
            -- not parsed: a huge line must not take the backend's memory
            o := @extschema@.reject_entry(resource_type, format('%s/ndjson-line-%s', resource_type, n),
                     format('line %s is %s bytes, more than careflags_fhir accepts (limits.max_resource_bytes = %s); not parsed',
                            n, octet_length(line), max_line),
                     jsonb_build_object('line', n, 'bytes', octet_length(line), 'start', left(line, 200)));
            counts := jsonb_set(counts, ARRAY[o], to_jsonb(coalesce((counts ->> o)::bigint, 0) + 1));
            CONTINUE;
        END IF;
        doc := NULL;
        BEGIN
            doc := line::jsonb;
        EXCEPTION WHEN OTHERS THEN
            doc := NULL;
        END;
        IF doc IS NULL THEN
            -- Malformed: stored as received when its id can be read, so the
            -- store's trigger quarantines it like any other bad row.
            rid := (regexp_match(line, '"id"\s*:\s*"([A-Za-z0-9.-]{1,64})"'))[1];
        ELSIF doc ->> 'resourceType' IS DISTINCT FROM resource_type THEN
            o := @extschema@.reject_entry(resource_type, format('%s/ndjson-line-%s', resource_type, n),
                     format('line %s: resourceType %s in a %s file', n, coalesce(doc ->> 'resourceType', '(none)'), resource_type),
                     doc);
            counts := jsonb_set(counts, ARRAY[o], to_jsonb(coalesce((counts ->> o)::bigint, 0) + 1));
            CONTINUE;
        ELSE
            rid := doc ->> 'id';
        END IF;
        BEGIN
            IF rid IS NULL THEN
                RAISE EXCEPTION 'line %: %', n, CASE WHEN doc IS NULL THEN 'malformed JSON without a readable id' ELSE 'no id' END
                    USING ERRCODE = 'CFF01';
            END IF;
            o := @extschema@.store_resource(resource_type, rid, rtrim(line, E'\r'));
        EXCEPTION WHEN SQLSTATE 'CFF01' THEN
            o := @extschema@.reject_entry(resource_type, format('%s/%s', resource_type, coalesce(rid, 'ndjson-line-' || n)),
                     SQLERRM, coalesce(doc, jsonb_build_object('line', n, 'content', left(line, 20000))));
        END;
        counts := jsonb_set(counts, ARRAY[o], to_jsonb(coalesce((counts ->> o)::bigint, 0) + 1));
    END LOOP;
    PERFORM careflags.evaluate_deferred();
    RETURN QUERY SELECT k, v::bigint FROM jsonb_each_text(counts) AS c(k, v) ORDER BY k;
END
$$;
COMMENT ON FUNCTION @extschema@.load_ndjson(text, text) IS
    'loads FHIR Bulk Data NDJSON (one resource of resource_type per line) into the configured store, line by line; returns resources per outcome; refuses a text over limits.max_bundle_bytes, quarantines lines over limits.max_resource_bytes unparsed';

-- Maps every stored resource again (after a site edits code_map,
-- setting_map, unit_conversion or rxnorm_atc), reading per-type tables as
-- their owner, 500 rows at a time; each patient is evaluated once, at the end.
CREATE OR REPLACE FUNCTION @extschema@.remap(only_type text DEFAULT NULL) RETURNS TABLE (outcome text, resources bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET careflags.defer_evaluation = on AS
$$
DECLARE
    cfg @extschema@.config;
    t text;
    target regclass;
    rec record;
    last_id text;
    n integer;
    o text;
    counts jsonb := '{}';
BEGIN
    SELECT * INTO cfg FROM @extschema@.config;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'careflags_fhir has no store yet' USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Call careflags_fhir.setup() first.';
    END IF;
    FOREACH t IN ARRAY cfg.resource_types LOOP
        CONTINUE WHEN only_type IS NOT NULL AND t <> only_type;
        IF cfg.layout = 'resource' THEN
            FOR rec IN SELECT r.id, r.content, r.deleted FROM @extschema@.resource AS r WHERE r.resource_type = t LOOP
                o := @extschema@.map_resource(t, rec.id, rec.content, rec.deleted);
                counts := jsonb_set(counts, ARRAY[o], to_jsonb(coalesce((counts ->> o)::bigint, 0) + 1));
            END LOOP;
            CONTINUE;
        END IF;
        target := @extschema@.store_table(t);
        last_id := NULL;
        LOOP
            n := 0;
            FOR rec IN SELECT x[1] AS id, x[2] AS content, x[3]::boolean AS deleted
                         FROM careflags.run_as_owner(target,
                                  format('SELECT id::text, content, deleted FROM %s WHERE $1 IS NULL OR id > $1::uuid ORDER BY id LIMIT 500', target),
                                  last_id) AS x
            LOOP
                n := n + 1;
                last_id := rec.id;
                CONTINUE WHEN rec.id IS NULL;
                o := @extschema@.map_resource(t, rec.id, rec.content, coalesce(rec.deleted, false));
                counts := jsonb_set(counts, ARRAY[o], to_jsonb(coalesce((counts ->> o)::bigint, 0) + 1));
            END LOOP;
            EXIT WHEN n < 500 OR last_id IS NULL;
        END LOOP;
    END LOOP;
    PERFORM careflags.evaluate_deferred();
    RETURN QUERY SELECT k, v::bigint FROM jsonb_each_text(counts) AS c(k, v) ORDER BY k;
END
$$;
COMMENT ON FUNCTION @extschema@.remap(text) IS
    'maps every stored resource (of one type, or all) again, e.g. after the site edited a mapping table; per-type tables are read as their owner (careflags.run_as_owner); each patient evaluated once';

-----------------------------------------------------------------------------
-- RxNorm -> ATC, derived from published sources (issue 14 §7 e)
-----------------------------------------------------------------------------
-- The rows below are generated by plugins/fhir/tools/derive_rxnorm_atc.py
-- for every RxNorm concept coded in data/ (Synthea bundles, Synthea
-- Bulk Data, HL7 R4 examples), from:
--   * the RxNorm names (U.S. National Library of Medicine) as carried by the
--     OHDSI OMOP vocabulary subset in github.com/OHDSI/EunomiaDatasets,
--     datasets/Synthea27Nj/Synthea27Nj_5.4.zip, CONCEPT.csv (commit 3efd533,
--     2023-09-20; Apache-2.0), else the coding's display in the data;
--   * the WHO ATC/DDD Index (WHO Collaborating Centre for Drug Statistics
--     Methodology, atcddd.fhi.no) as of 2026-04-25, in the snapshot
--     "WHO ATC-DDD 2026-04-25.csv" of github.com/fabkury/atcd (commit
--     1e92aec; compilation CC BY-NC-SA 4.0; the ATC classification is WHO's);
--   joined by ingredient (US names translated to INN), restricted to the
--   dose form's route; where several codes remain, or the class is a product
--   class, the code is chosen and the reason is in note.  No published
--   product-level RxNorm-ATC crosswalk could be read from here (Tuva's is a
--   download outside any repository; OHDSI's subsets carry the RxNorm-ATC
--   relationships without the ATC concepts).  Where the 1.0 table had a row,
--   the derived ATC code is the same.
-- atc NULL: explicitly no ATC code (the reason in note); the medicine still
-- counts for polypharmacy (code rxnorm:<code>).  A site adds its own rows
-- (origin 'site', kept by pg_dump) and remap()s; a site row for a concept
-- shipped here is kept by later upgrades.
ALTER TABLE @extschema@.rxnorm_atc ALTER COLUMN atc DROP NOT NULL;
ALTER TABLE @extschema@.rxnorm_atc ADD COLUMN note text;
ALTER TABLE @extschema@.rxnorm_atc ADD CONSTRAINT rxnorm_atc_atc_or_note
    CHECK (atc IS NOT NULL OR note IS NOT NULL);
COMMENT ON TABLE @extschema@.rxnorm_atc IS
    'RxNorm concept -> ATC code, for medicines coded in RxNorm only (US data, Synthea); atc NULL = explicitly no ATC code (why in note); origin default rows derived from the WHO ATC index by ingredient (see the install script), origin site rows added by the site (kept by pg_dump); an RxNorm code not here is still a medicine (atc NULL, code rxnorm:<code>)';
COMMENT ON COLUMN @extschema@.rxnorm_atc.note IS 'why the code was chosen among several, or why there is none';
DELETE FROM @extschema@.rxnorm_atc WHERE origin = 'default';
INSERT INTO @extschema@.rxnorm_atc (rxcui, atc, name, source, note, origin)
SELECT r.rxcui, r.atc, r.name, r.source, r.note, 'default'
FROM (VALUES
    ('106892', 'A10AD01', 'insulin isophane, human 70 UNT/ML / insulin, regular, human 30 UNT/ML Injectable Suspension [Humulin]', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient, chosen', 'human insulin 70/30 premix: A10AD "insulins and analogues for injection, intermediate- or long-acting combined with fast-acting"'),
    ('108515', 'L04AD02', '1 ML tacrolimus 5 MG/ML Injection', 'RxNorm name (data) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('197361', 'C08CA01', 'amlodipine 5 MG Oral Tablet', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('197591', 'N05BA01', 'diazepam 5 MG Oral Tablet', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('197604', 'C01AA05', 'digoxin 0.125 MG Oral Tablet', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('198405', 'M01AE01', 'ibuprofen 100 MG Oral Tablet', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('205923', 'B03XA01', '1 ML epoetin alfa 4000 UNT/ML Injection [Epogen]', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('206905', 'M01AE01', 'ibuprofen 400 MG Oral Tablet [Ibu]', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('209387', 'N02BE01', 'acetaminophen 325 MG Oral Tablet [Tylenol]', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('243670', 'B01AC06', 'aspirin 81 MG Oral Tablet', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient, chosen', 'acetylsalicylic acid 81 mg: low dose, platelet aggregation inhibitor (B01AC06; N02BA01 is the analgesic dose)'),
    ('308192', 'J01CA04', 'amoxicillin 500 MG Oral Tablet', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('309362', 'B01AC04', 'clopidogrel 75 MG Oral Tablet', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('310325', 'B03AA07', 'ferrous sulfate 325 MG Oral Tablet', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('310436', 'N06DA04', 'galantamine 4 MG Oral Tablet', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('310798', 'C03AA03', 'hydrochlorothiazide 25 MG Oral Tablet', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('310965', 'M01AE01', 'ibuprofen 200 MG Oral Tablet', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('311989', 'J01XE01', 'nitrofurantoin 5 MG/ML Oral Suspension', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('311995', 'J01XE01', 'nitrofurantoin, macrocrystals 50 MG Oral Capsule', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('312961', 'C10AA01', 'simvastatin 20 MG Oral Tablet', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('313782', 'N02BE01', 'acetaminophen 325 MG Oral Tablet', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('314076', 'C09AA03', 'lisinopril 10 MG Oral Tablet', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('314231', 'C10AA01', 'simvastatin 10 MG Oral Tablet', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('315266', 'N02BE01', 'Acetaminophen 500 MG', 'RxNorm name (data) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('316049', 'C03AA03', 'Hydrochlorothiazide 25 MG', 'RxNorm name (data) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('351109', 'R03BA02', 'budesonide 0.25 MG/ML Inhalation Suspension', 'RxNorm name (data) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('351137', 'R03AC02', 'albuterol 0.21 MG/ML Inhalation Solution', 'RxNorm name (data) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('389221', 'G03AC08', 'etonogestrel 68 MG Drug Implant', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('562251', 'J01CR02', 'amoxicillin 250 MG / clavulanate 125 MG Oral Tablet', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('583214', 'L01CD01', 'paclitaxel 100 MG Injection', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('705129', 'C01DA02', 'nitroglycerin 0.4 MG/ACTUAT Mucosal Spray', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('748962', 'G03AC01', '{28 (norethindrone 0.35 MG Oral Tablet) } Pack [Camila 28 Day]', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient, chosen', 'Camila: norethisterone 0.35 mg tablets, progestogen-only contraceptive G03AC01'),
    ('749762', 'G03AB03', '{7 (ethinyl estradiol 0.01 MG Oral Tablet) / 84 (ethinyl estradiol 0.03 MG / levonorgestrel 0.15 MG Oral Tablet) } Pack [Seasonique]', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient, chosen', 'Seasonique, 84 + 7 tablets of two compositions: sequential preparation G03AB03 (G03AA07 is the fixed combination)'),
    ('807283', 'G02BA03', 'levonorgestrel 0.000833 MG/HR Intrauterine System [Mirena]', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient, chosen', 'Mirena: G02BA03 "plastic IUD with progestogen"'),
    ('831533', 'G03AC01', '{28 (norethindrone 0.35 MG Oral Tablet) } Pack [Errin 28 Day]', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient, chosen', 'Errin: norethisterone 0.35 mg tablets, progestogen-only contraceptive G03AC01'),
    ('834061', 'J01CE02', 'penicillin V potassium 250 MG Oral Tablet', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('834102', 'J01CE02', 'penicillin V potassium 500 MG Oral Tablet', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('849574', 'M01AE02', 'naproxen sodium 220 MG Oral Tablet', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('855332', 'B01AA03', 'warfarin sodium 5 MG Oral Tablet', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('860975', 'A10BA02', '24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('861467', 'N02AB02', 'meperidine hydrochloride 50 MG Oral Tablet', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('866412', 'C07AB02', '24 HR metoprolol succinate 100 MG Extended Release Oral Tablet', 'RxNorm name (data) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('897718', 'C08DA01', 'verapamil hydrochloride 40 MG', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('901813', 'R06AA02', 'Diphenhydramine Hydrochloride 25 mg', 'RxNorm name (data) -> WHO ATC index 2026-04-25 by ingredient, chosen', 'diphenhydramine 25 mg (systemic dose): R06AA02; D04AA32 is the topical antipruritic'),
    ('904419', 'M05BA04', 'alendronic acid 10 MG Oral Tablet', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('966222', 'H03AA01', 'levothyroxine sodium 0.075 MG Oral Tablet', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('978950', 'G03AB08', '{5 (dienogest 2 MG / estradiol valerate 2 MG Oral Tablet) / 17 (dienogest 3 MG / estradiol valerate 2 MG Oral Tablet) / 2 (estradiol valerate 1 MG Oral Tablet) / 2 (estradiol valerate 3 MG Oral Tablet) / 2 (inert ingredients 1 MG Oral Tablet) } Pack [N...', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient, chosen', 'Natazia, dienogest and estradiol valerate in four phases: G03AB08 "dienogest and estradiol"'),
    ('997488', 'R06AX26', 'fexofenadine hydrochloride 30 MG Oral Tablet', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('1043400', NULL, 'acetaminophen 21.7 MG/ML / dextromethorphan hydrobromide 1 MG/ML / doxylamine succinate 0.417 MG/ML Oral Solution', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', 'no ATC code in the WHO index for paracetamol + dextromethorphan + doxylamine'),
    ('1094107', 'G04BX06', 'phenazopyridine hydrochloride 100 MG Oral Tablet', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('1367439', 'G02BB01', '21 DAY ethinyl estradiol 0.000625 MG/HR / etonogestrel 0.005 MG/HR Vaginal System [NuvaRing]', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient, chosen', 'NuvaRing: G02BB01 "vaginal ring with progestogen and estrogen"'),
    ('1599803', 'N06DA52', '24 HR donepezil hydrochloride 10 MG / memantine hydrochloride 28 MG Extended Release Oral Capsule', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient, chosen', 'donepezil and memantine: N06DA52 "donepezil and memantine"'),
    ('1664463', 'L04AD02', '24 HR tacrolimus 1 MG Extended Release Oral Tablet', 'RxNorm name (data) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('1736854', 'L01XA01', 'cisplatin 50 MG Injection', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('1804799', 'B01AD02', 'alteplase 100 MG Injection', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('1856546', 'G02BA03', 'levonorgestrel 0.000729 MG/HR Intrauterine System [Kyleena]', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient, chosen', 'Kyleena: G02BA03 "plastic IUD with progestogen"'),
    ('1870230', 'C01CA24', 'NDA020800 0.3 ML epinephrine 1 MG/ML Auto-Injector', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL),
    ('2001499', 'B03BA01', 'vitamin B12 5 MG/ML Injectable Solution', 'RxNorm name (OHDSI) -> WHO ATC index 2026-04-25 by ingredient', NULL)
) AS r(rxcui, atc, name, source, note)
ON CONFLICT (rxcui) DO NOTHING;

-- ==== one FHIR Flag per patient and action, in the language (issue 15) ====
-- The Flags written back follow careflags.actions (clinical-rules.md
-- §7.18): one Flag per patient and action (nutrition screening, nutrition
-- plan, medication review, fall-risk assessment, fall-prevention plan) for
-- the open flags behind it, its code text the action row in
-- careflags.language (at most 140 characters), the flags named as
-- identifiers; inactive once no flag of the action is open.  1.0's Flags
-- (one per flag) are marked deleted when the store is set up again or the
-- extension is updated.

-- Deterministic id of the Flag of one patient's action.
CREATE FUNCTION @extschema@.action_flag_uuid(patient_id bigint, action text) RETURNS uuid
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN (SELECT (pg_catalog.substr(h, 1, 12) OPERATOR(pg_catalog.||) '3' OPERATOR(pg_catalog.||) pg_catalog.substr(h, 14, 3)
                    OPERATOR(pg_catalog.||) pg_catalog.substr('89ab', (pg_catalog.strpos('0123456789abcdef', pg_catalog.substr(h, 17, 1))
                                                                       OPERATOR(pg_catalog.-) 1) OPERATOR(pg_catalog.%) 4 OPERATOR(pg_catalog.+) 1, 1)
                    OPERATOR(pg_catalog.||) pg_catalog.substr(h, 18))::uuid
            FROM pg_catalog.md5('careflags_fhir:Flag:action:' OPERATOR(pg_catalog.||) patient_id::text
                                OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||) action) AS h);
COMMENT ON FUNCTION @extschema@.action_flag_uuid(bigint, text) IS
    'id of the FHIR Flag of one patient''s action (careflags.actions): md5-based uuid (version 3 layout), the same on every run and in every database';

-- The R4 Flag of a patient's action: active while the action is due, as in
-- careflags.actions: a flag of the action open and at least due soon
-- (period from the earliest due time, the earliest deadline as the due-at
-- extension, the code text the action row over those flags); inactive
-- otherwise (the flags resolved last: period to their resolution; a flag
-- raised for later, e.g. the next screening in three months, makes it
-- active when it falls due, as the worker's tick rewrites the flag then).
-- NULL when the patient has no flag of the action that is due or resolved.
CREATE FUNCTION @extschema@.action_flag_resource(patient_id bigint, action text, fhir_patient_id text) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        WITH f AS (
            SELECT fl.flag_id, fl.due_from, fl.due_at, fl.due_soon_window, fl.resolved_at, fl.details
              FROM careflags.flag AS fl JOIN careflags.rule AS r ON r.rule_id OPERATOR(pg_catalog.=) fl.rule_id
             WHERE fl.patient_id OPERATOR(pg_catalog.=) action_flag_resource.patient_id
               AND careflags.action_of(fl.domain, r.anchor) OPERATOR(pg_catalog.=) action_flag_resource.action),
        open AS (SELECT * FROM f WHERE f.resolved_at IS NULL
                    AND careflags.clock() OPERATOR(pg_catalog.>=) careflags.due_soon_from(f.due_from, f.due_soon_window)),
        shown AS (SELECT * FROM open
                  UNION ALL
                  SELECT * FROM f WHERE NOT EXISTS (SELECT FROM open)
                                    AND f.resolved_at OPERATOR(pg_catalog.=) (SELECT pg_catalog.max(g.resolved_at) FROM f AS g)),
        s AS (SELECT pg_catalog.min(shown.due_from) AS due_from, pg_catalog.min(shown.due_at) AS due_at,
                     pg_catalog.max(shown.resolved_at) AS resolved_at, pg_catalog.bool_or(shown.resolved_at IS NULL) AS active,
                     pg_catalog.array_agg(shown.details ORDER BY shown.due_at, shown.flag_id) AS details,
                     pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('system', 'urn:careflags:flag', 'value', shown.flag_id::text)
                                          ORDER BY shown.flag_id) AS flag_ids,
                     pg_catalog.count(*) AS n
                FROM shown)
        SELECT pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
            'resourceType', 'Flag',
            'id', @extschema@.action_flag_uuid(action_flag_resource.patient_id, action_flag_resource.action)::text,
            'meta', pg_catalog.jsonb_build_object('lastUpdated', @extschema@.fhir_instant(pg_catalog.now())),
            'language', careflags.language(),
            'extension', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                'url', 'urn:careflags:fhir:extension:due-at',
                'valueDateTime', @extschema@.fhir_instant(s.due_at))),
            'identifier', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                'system', 'urn:careflags:action',
                'value', action_flag_resource.patient_id::text OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) action_flag_resource.action))
                OPERATOR(pg_catalog.||) s.flag_ids,
            'status', CASE WHEN s.active THEN 'active' ELSE 'inactive' END,
            'category', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                'coding', pg_catalog.jsonb_build_array(
                    pg_catalog.jsonb_build_object(
                        'system', 'http://terminology.hl7.org/CodeSystem/flag-category',
                        'code', c.code, 'display', c.display),
                    pg_catalog.jsonb_build_object(
                        'system', 'urn:careflags:domain', 'code', c.domain)),
                'text', c.display)),
            'code', pg_catalog.jsonb_build_object(
                'coding', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                    'system', 'urn:careflags:action', 'code', action_flag_resource.action,
                    'display', careflags.action_label(action_flag_resource.action))),
                'text', careflags.action_text(action_flag_resource.action, s.details, s.due_at)),
            'subject', pg_catalog.jsonb_build_object('reference', 'Patient/' OPERATOR(pg_catalog.||) fhir_patient_id),
            'period', pg_catalog.jsonb_build_object(
                'start', @extschema@.fhir_instant(s.due_from),
                'end', CASE WHEN NOT s.active THEN @extschema@.fhir_instant(GREATEST(s.resolved_at, s.due_from)) END),
            'author', pg_catalog.jsonb_build_object('display', 'careflags')))
          FROM s,
               (SELECT CASE WHEN action_flag_resource.action OPERATOR(pg_catalog.~) '^nutrition' THEN 'diet'
                            WHEN action_flag_resource.action OPERATOR(pg_catalog.=) 'medication_review' THEN 'drug' ELSE 'safety' END AS code,
                       CASE WHEN action_flag_resource.action OPERATOR(pg_catalog.~) '^nutrition' THEN 'Diet'
                            WHEN action_flag_resource.action OPERATOR(pg_catalog.=) 'medication_review' THEN 'Drug' ELSE 'Safety' END AS display,
                       CASE WHEN action_flag_resource.action OPERATOR(pg_catalog.~) '^nutrition' THEN 'nutrition'
                            WHEN action_flag_resource.action OPERATOR(pg_catalog.=) 'medication_review' THEN 'medication_review' ELSE 'fall_risk' END AS domain) AS c
         WHERE s.n OPERATOR(pg_catalog.>) 0;
    END;
COMMENT ON FUNCTION @extschema@.action_flag_resource(bigint, text, text) IS
    'the FHIR R4 Flag of one patient''s action (careflags.actions): active while a flag of the action is open and at least due soon, else inactive; code urn:careflags:action with the action''s name and as text the action row (what, why, by when; at most 140 characters) in careflags.language; identifier the action row and every flag behind it; period start = earliest due time, end = resolution; NULL when the patient has no flag of the action';

-- Writes (or, content NULL, marks deleted) one Flag by id in the store.
CREATE FUNCTION @extschema@.put_flag_resource(flag_id uuid, content jsonb) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    cfg @extschema@.config;
    target regclass;
BEGIN
    SELECT * INTO cfg FROM @extschema@.config;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF cfg.layout = 'tables' THEN
        -- As the table's owner: its triggers, defaults, rules and index
        -- expressions never run with careflags' rights (issue 13).
        target := @extschema@.store_table('Flag');
        IF content IS NULL THEN
            PERFORM careflags.run_as_owner(target,
                format('UPDATE %s SET deleted = true, "lastUpdated" = pg_catalog.now() WHERE id = $1::uuid AND NOT deleted', target),
                flag_id::text);
        ELSE
            PERFORM careflags.run_as_owner(target,
                format('INSERT INTO %s (id, content, "lastUpdated", deleted) VALUES ($1::uuid, $2, pg_catalog.now(), false)
                        ON CONFLICT (id) DO UPDATE SET content = EXCLUDED.content,
                            "lastUpdated" = EXCLUDED."lastUpdated", deleted = false', target),
                flag_id::text, content::text);
        END IF;
    ELSIF content IS NULL THEN
        UPDATE @extschema@.resource SET deleted = true, "lastUpdated" = pg_catalog.now()
            WHERE resource_type = 'Flag' AND id = flag_id::text AND NOT deleted;
    ELSE
        INSERT INTO @extschema@.resource AS r (resource_type, id, content, "lastUpdated", deleted)
            VALUES ('Flag', flag_id::text, content::text, pg_catalog.now(), false)
            ON CONFLICT (resource_type, id) DO UPDATE
                SET content = EXCLUDED.content, "lastUpdated" = EXCLUDED."lastUpdated", deleted = false;
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.put_flag_resource(uuid, jsonb) IS
    'upserts one FHIR Flag by id into the configured store, or marks it deleted when content is NULL (per-type tables: as the "Flag" table''s owner, careflags.run_as_owner)';

-- The Flag of one patient's action, written again (FHIR patients only).
CREATE FUNCTION @extschema@.put_action_flag(patient_id bigint, action text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    fhir_id text;
BEGIN
    SELECT substr(p.source_key, 9) INTO fhir_id FROM careflags.patient AS p
     WHERE p.patient_id = put_action_flag.patient_id AND p.source_system = 'fhir' AND p.source_key LIKE 'Patient/%';
    IF fhir_id IS NULL THEN
        -- the patient is gone (its flags go with it): its Flags are marked deleted
        IF NOT EXISTS (SELECT FROM careflags.patient AS p WHERE p.patient_id = put_action_flag.patient_id) THEN
            PERFORM @extschema@.put_flag_resource(@extschema@.action_flag_uuid(patient_id, action), NULL);
        END IF;
        RETURN;
    END IF;
    PERFORM @extschema@.put_flag_resource(@extschema@.action_flag_uuid(patient_id, action),
                                          @extschema@.action_flag_resource(patient_id, action, fhir_id));
END
$$;
COMMENT ON FUNCTION @extschema@.put_action_flag(bigint, text) IS
    'writes the FHIR Flag of a FHIR patient''s action (careflags_fhir.action_flag_resource) into the store; marks it deleted when the patient has no flag of the action left or is gone';

-- 1.0's Flags (one per careflags flag) of every FHIR patient marked deleted,
-- and one Flag per patient and action written instead.
CREATE FUNCTION @extschema@.mirror_actions() RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    a record;
    n bigint := 0;
BEGIN
    FOR a IN SELECT fl.flag_id FROM careflags.flag AS fl
               JOIN careflags.patient AS p ON p.patient_id = fl.patient_id AND p.source_system = 'fhir' LOOP
        PERFORM @extschema@.put_flag_resource(@extschema@.flag_uuid(a.flag_id), NULL);
    END LOOP;
    FOR a IN SELECT DISTINCT fl.patient_id, careflags.action_of(fl.domain, r.anchor) AS action
               FROM careflags.flag AS fl
               JOIN careflags.rule AS r ON r.rule_id = fl.rule_id
               JOIN careflags.patient AS p ON p.patient_id = fl.patient_id AND p.source_system = 'fhir' LOOP
        PERFORM @extschema@.put_action_flag(a.patient_id, a.action);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION @extschema@.mirror_actions() IS
    'writes one FHIR Flag per FHIR patient and action into the store (and marks 1.0''s Flags, one per flag, deleted); returns how many action Flags; setup() and the update to 1.1 call it';

-- Row trigger on careflags.flag: the Flag of the changed flag's action is
-- written again.  A failure here must not undo the flag: it becomes a
-- WARNING (an ERROR under careflags.strict).
CREATE OR REPLACE FUNCTION @extschema@.flag_changed() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    pid bigint := CASE WHEN TG_OP = 'DELETE' THEN OLD.patient_id ELSE NEW.patient_id END;
    act text;
BEGIN
    BEGIN
        SELECT careflags.action_of(r.domain, r.anchor) INTO act FROM careflags.rule AS r
         WHERE r.rule_id = CASE WHEN TG_OP = 'DELETE' THEN OLD.rule_id ELSE NEW.rule_id END;
        IF act IS NOT NULL THEN
            PERFORM @extschema@.put_action_flag(pid, act);
        END IF;
    EXCEPTION WHEN OTHERS THEN
        IF @extschema@.is_strict() THEN
            RAISE;
        END IF;
        RAISE WARNING 'careflags_fhir: flag % not mirrored as a FHIR Flag: %', coalesce(NEW.flag_id, OLD.flag_id), SQLERRM;
    END;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.flag_changed() IS
    'AFTER ROW trigger on careflags.flag: writes the FHIR Flag of the changed flag''s action (one per FHIR patient and action, careflags_fhir.action_flag_resource) into the store';

-- (a store set up with 1.0 is mirrored by setup() just below)
-- ==== end: one FHIR Flag per patient and action (issue 15) ====

-- ==== upserts that work on Citus too (issue 19) ====
-- Every upsert of a careflags fact names its unique constraint,
-- <table>_source_key, instead of its columns: on one server it is UNIQUE
-- (source_system, source_key); after careflags.distribute() on Citus it is
-- UNIQUE (patient_id, source_system, source_key) under the same name, and
-- ON CONFLICT (source_system, source_key) finds no constraint there.  A
-- Patient names its patient id (the placeholder's or an earlier version's),
-- so that writing it again updates it on Citus too, and sets updated_at from
-- EXCLUDED (its default, now()): Citus refuses a function that is not
-- immutable in DO UPDATE SET.

CREATE OR REPLACE FUNCTION @extschema@.patient_id(fhir_id text) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    pid bigint;
BEGIN
    SELECT p.patient_id INTO pid FROM careflags.patient AS p
        WHERE p.source_system = 'fhir' AND p.source_key = 'Patient/' || fhir_id;
    IF pid IS NULL THEN
        INSERT INTO careflags.patient (source_system, source_key)
            VALUES ('fhir', 'Patient/' || fhir_id)
            ON CONFLICT ON CONSTRAINT patient_source_key DO NOTHING
            RETURNING patient_id INTO pid;
        IF pid IS NULL THEN
            SELECT p.patient_id INTO pid FROM careflags.patient AS p
                WHERE p.source_system = 'fhir' AND p.source_key = 'Patient/' || fhir_id;
        END IF;
        IF pid IS NULL THEN
            RAISE EXCEPTION 'careflags did not accept a placeholder for Patient/%', fhir_id
                USING ERRCODE = 'CFF01', HINT = 'patient';
        END IF;
    END IF;
    RETURN pid;
END
$$;


CREATE OR REPLACE FUNCTION @extschema@.map_patient(rid text, doc jsonb) RETURNS @extschema@.mapping
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    res @extschema@.mapping;
    nm jsonb;
    display text;
    birth date;
    dead boolean;
    dead_at timestamptz;
    ok boolean;
    key text := 'Patient/' || rid;
    pid bigint;
BEGIN
    SELECT n INTO nm FROM jsonb_array_elements(CASE WHEN jsonb_typeof(doc -> 'name') = 'array' THEN doc -> 'name' ELSE '[]' END)
        WITH ORDINALITY AS x(n, i)
        ORDER BY (n ->> 'use' = 'official') IS NOT TRUE, i LIMIT 1;
    display := coalesce(nm ->> 'text',
                        nullif(concat_ws(' ', (SELECT string_agg(g, ' ') FROM jsonb_array_elements_text(
                                                   CASE WHEN jsonb_typeof(nm -> 'given') = 'array' THEN nm -> 'given' ELSE '[]' END) AS g),
                                         nm ->> 'family'), ''));
    BEGIN
        birth := @extschema@.fhir_time(doc ->> 'birthDate') AT TIME ZONE
                 coalesce(nullif(current_setting('careflags.timezone', true), ''), 'Europe/Oslo');
    EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow THEN
        RAISE EXCEPTION 'invalid birthDate "%"', doc ->> 'birthDate' USING ERRCODE = 'CFF01', HINT = 'patient';
    END;
    dead_at := @extschema@.fhir_time(doc ->> 'deceasedDateTime');
    dead := dead_at IS NOT NULL OR coalesce((doc ->> 'deceasedBoolean')::boolean, false);

    -- The patient already there (a placeholder, or an earlier version of
    -- this Patient) keeps its id; a new one gets the next.  On Citus the
    -- unique key is (patient_id, source_system, source_key): naming the id
    -- makes the upsert find the row there too.
    SELECT p.patient_id INTO pid FROM careflags.patient AS p
        WHERE p.source_system = 'fhir' AND p.source_key = key;
    INSERT INTO careflags.patient AS p (patient_id, source_system, source_key, display_name, birth_date, sex, deceased, deceased_at)
        VALUES (coalesce(pid, pg_catalog.nextval('careflags.patient_patient_id_seq'::regclass)), 'fhir', key, display, birth,
                CASE doc ->> 'gender' WHEN 'male' THEN 'male' WHEN 'female' THEN 'female'
                                      WHEN 'other' THEN 'other' ELSE 'unknown' END::careflags.sex,
                dead, dead_at)
        ON CONFLICT ON CONSTRAINT patient_source_key DO UPDATE
            SET display_name = EXCLUDED.display_name, birth_date = EXCLUDED.birth_date, sex = EXCLUDED.sex,
                deceased = EXCLUDED.deceased, deceased_at = EXCLUDED.deceased_at, updated_at = EXCLUDED.updated_at
        RETURNING true INTO ok;
    res.patient_ref := rid;
    IF ok THEN
        res.outcome := 'mapped';
        res.facts := ARRAY['patient|' || key];
    ELSE
        res.outcome := 'quarantined';
        res.reason := @extschema@.guard_reason('patient', key);
        res.facts := '{}';
    END IF;
    RETURN res;
END
$$;


CREATE OR REPLACE FUNCTION @extschema@.map_episode(rtype text, rid text, doc jsonb) RETURNS @extschema@.mapping
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    res @extschema@.mapping;
    st text := doc ->> 'status';
    sm record;
    pid bigint;
    t_start timestamptz;
    t_end timestamptz;
    ok boolean;
    key text := rtype || '/' || rid;
BEGIN
    res.facts := '{}';
    IF (rtype = 'EpisodeOfCare' AND NOT COALESCE(st = ANY (ARRAY['active', 'onhold', 'finished']), false))
       OR (rtype = 'Encounter' AND NOT COALESCE(st = ANY (ARRAY['arrived', 'triaged', 'in-progress', 'onleave', 'finished']), false)) THEN
        res.outcome := 'ignored';
        res.reason := format('status %s is not a care episode', coalesce(st, '(none)'));
        RETURN res;
    END IF;

    WITH c(kind, system, code) AS (
        SELECT 'type', coalesce(x ->> 'system', ''), x ->> 'code' FROM jsonb_path_query(doc, '$.type[*].coding[*]') AS x
        UNION ALL
        SELECT 'type', coalesce(x ->> 'system', ''), x ->> 'code' FROM jsonb_path_query(doc, '$.serviceType.coding[*]') AS x
        UNION ALL
        SELECT 'class', coalesce(x ->> 'system', ''), x ->> 'code' FROM jsonb_path_query(doc, '$.class') AS x
        UNION ALL
        SELECT 'location', '', @extschema@.ref_key(x) FROM jsonb_path_query(doc, '$.location[*].location') AS x
        UNION ALL
        SELECT 'organization', '', @extschema@.ref_key(x) FROM jsonb_path_query(doc, '$.managingOrganization') AS x
        UNION ALL
        SELECT 'organization', '', @extschema@.ref_key(x) FROM jsonb_path_query(doc, '$.serviceProvider') AS x)
    SELECT s.setting, s.unit_id INTO sm
        FROM c JOIN @extschema@.setting_map AS s
          ON s.match_kind = c.kind AND s.system = c.system AND s.code = c.code
         AND s.resource_type IN (rtype, '*')
        ORDER BY array_position(ARRAY['type', 'location', 'organization', 'class'], s.match_kind),
                 s.resource_type = '*'
        LIMIT 1;
    IF NOT FOUND THEN
        res.outcome := 'ignored';
        res.reason := 'no setting_map row matches its type, class, location or organization';
        RETURN res;
    END IF;

    res.patient_ref := @extschema@.patient_ref(doc -> CASE rtype WHEN 'EpisodeOfCare' THEN 'patient' ELSE 'subject' END);
    IF res.patient_ref IS NULL THEN
        RAISE EXCEPTION '% has no %', rtype, CASE rtype WHEN 'EpisodeOfCare' THEN 'patient' ELSE 'subject' END
            USING ERRCODE = 'CFF01', HINT = 'episode';
    END IF;
    t_start := @extschema@.fhir_time(doc -> 'period' ->> 'start');
    t_end := @extschema@.fhir_time(doc -> 'period' ->> 'end');
    IF t_start IS NULL THEN
        RAISE EXCEPTION '% has no period.start', rtype USING ERRCODE = 'CFF01', HINT = 'episode';
    END IF;
    pid := @extschema@.patient_id(res.patient_ref);

    INSERT INTO careflags.episode AS e (patient_id, source_system, source_key, setting, unit_id, started_at, ended_at)
        VALUES (pid, 'fhir', key, sm.setting, sm.unit_id, t_start, t_end)
        ON CONFLICT ON CONSTRAINT episode_source_key DO UPDATE
            SET patient_id = EXCLUDED.patient_id, setting = EXCLUDED.setting, unit_id = EXCLUDED.unit_id,
                started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at
        RETURNING true INTO ok;
    IF ok THEN
        res.outcome := 'mapped';
        res.facts := ARRAY['episode|' || key];
    ELSE
        res.outcome := 'quarantined';
        res.reason := @extschema@.guard_reason('episode', key);
    END IF;
    RETURN res;
END
$$;


CREATE OR REPLACE FUNCTION @extschema@.map_nutrition_order(rid text, doc jsonb) RETURNS @extschema@.mapping
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    res @extschema@.mapping;
    st text := doc ->> 'status';
    t_start timestamptz;
    pid bigint;
    ok boolean;
    key text := 'NutritionOrder/' || rid;
BEGIN
    res.facts := '{}';
    IF NOT COALESCE(st = ANY (ARRAY['active', 'on-hold', 'completed']), false) THEN
        res.outcome := 'ignored';
        res.reason := format('status %s is not a plan in force', coalesce(st, '(none)'));
        RETURN res;
    END IF;
    res.patient_ref := @extschema@.patient_ref(doc -> 'patient');
    IF res.patient_ref IS NULL THEN
        RAISE EXCEPTION 'NutritionOrder has no patient' USING ERRCODE = 'CFF01', HINT = 'care_plan';
    END IF;
    t_start := @extschema@.fhir_time(doc ->> 'dateTime');
    IF t_start IS NULL THEN
        RAISE EXCEPTION 'NutritionOrder has no dateTime' USING ERRCODE = 'CFF01', HINT = 'care_plan';
    END IF;
    pid := @extschema@.patient_id(res.patient_ref);
    INSERT INTO careflags.care_plan AS c (patient_id, source_system, source_key, kind, started_at)
        VALUES (pid, 'fhir', key, 'nutrition', t_start)
        ON CONFLICT ON CONSTRAINT care_plan_source_key DO UPDATE
            SET patient_id = EXCLUDED.patient_id, kind = EXCLUDED.kind, started_at = EXCLUDED.started_at
        RETURNING true INTO ok;
    IF ok THEN
        res.outcome := 'mapped';
        res.facts := ARRAY['care_plan|' || key];
    ELSE
        res.outcome := 'quarantined';
        res.reason := @extschema@.guard_reason('care_plan', key);
    END IF;
    RETURN res;
END
$$;


CREATE OR REPLACE FUNCTION @extschema@.map_coded(rtype text, rid text, doc jsonb) RETURNS @extschema@.mapping
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    res @extschema@.mapping;
    st text;
    cand record;
    m @extschema@.code_map;
    pid bigint;
    t timestamptz;
    key text;
    vq jsonb;
    v numeric;
    unit text;
    factor numeric;
    ok boolean;
    first_code text;
BEGIN
    res.facts := '{}';
    st := CASE rtype WHEN 'Condition' THEN doc -> 'verificationStatus' -> 'coding' -> 0 ->> 'code' ELSE doc ->> 'status' END;
    IF (rtype = 'Observation' AND st IN ('entered-in-error', 'cancelled'))
       OR (rtype = 'Procedure' AND st IS DISTINCT FROM 'completed')
       OR (rtype = 'Condition' AND st IN ('entered-in-error', 'refuted'))
       OR (rtype = 'CarePlan' AND st IN ('entered-in-error', 'draft')) THEN
        res.outcome := 'ignored';
        res.reason := format('status %s', coalesce(st, '(none)'));
        RETURN res;
    END IF;
    IF rtype <> 'CarePlan' AND NOT jsonb_path_exists(doc, '$.code.coding[*].code') THEN
        IF doc -> 'code' ->> 'text' IS NOT NULL THEN
            res.outcome := 'ignored';
            res.reason := 'code has text only, no coding';
            RETURN res;
        END IF;
        RAISE EXCEPTION '% has no code', rtype USING ERRCODE = 'CFF01', HINT = @extschema@.default_fact_table(rtype);
    END IF;

    FOR cand IN
        SELECT '' AS suffix,
               CASE WHEN rtype = 'CarePlan' THEN jsonb_path_query_array(doc, '$.category[*].coding[*]')
                    ELSE doc -> 'code' -> 'coding' END AS codings,
               doc AS holder
        UNION ALL
        SELECT '#' || coalesce(comp -> 'code' -> 'coding' -> 0 ->> 'code', n::text), comp -> 'code' -> 'coding', comp
          FROM jsonb_array_elements(CASE WHEN rtype = 'Observation' AND jsonb_typeof(doc -> 'component') = 'array'
                                         THEN doc -> 'component' ELSE '[]' END) WITH ORDINALITY AS x(comp, n)
    LOOP
        m := @extschema@.lookup_code(cand.codings);
        CONTINUE WHEN m.fact IS NULL;
        IF res.patient_ref IS NULL THEN
            res.patient_ref := @extschema@.patient_ref(doc -> 'subject');
            IF res.patient_ref IS NULL THEN
                RAISE EXCEPTION '% with code % has no subject', rtype, m.code USING ERRCODE = 'CFF01', HINT = m.fact;
            END IF;
            pid := @extschema@.patient_id(res.patient_ref);
        END IF;
        t := CASE WHEN m.dated_by = 'recorded' AND doc ? 'recordedDate'
                  THEN @extschema@.fhir_time(doc ->> 'recordedDate')
                  ELSE @extschema@.event_time(doc) END;
        IF t IS NULL THEN
            RAISE EXCEPTION '% with code % has no date', rtype, m.code USING ERRCODE = 'CFF01', HINT = m.fact;
        END IF;
        key := rtype || '/' || rid || cand.suffix;
        vq := cand.holder -> 'valueQuantity';
        v := NULL;
        IF jsonb_typeof(vq -> 'value') = 'number' THEN
            v := (vq ->> 'value')::numeric;
        ELSIF jsonb_typeof(cand.holder -> 'valueInteger') = 'number' THEN
            v := (cand.holder ->> 'valueInteger')::numeric;
        END IF;
        ok := NULL;

        IF m.fact = 'measurement' THEN
            IF v IS NULL THEN
                RAISE EXCEPTION '% % has no numeric valueQuantity', m.measurement_kind, key USING ERRCODE = 'CFF01', HINT = 'measurement';
            END IF;
            unit := coalesce(vq ->> 'code', vq ->> 'unit');
            SELECT u.factor INTO factor FROM @extschema@.unit_conversion AS u
                WHERE u.kind = m.measurement_kind AND u.unit = coalesce(vq ->> 'code', vq ->> 'unit');
            IF factor IS NULL AND vq ? 'code' THEN
                SELECT u.factor INTO factor FROM @extschema@.unit_conversion AS u
                    WHERE u.kind = m.measurement_kind AND u.unit = vq ->> 'unit';
            END IF;
            IF factor IS NULL THEN
                RAISE EXCEPTION 'unit "%" cannot be converted for %', coalesce(unit, '(none)'), m.measurement_kind
                    USING ERRCODE = 'CFF01', HINT = 'measurement';
            END IF;
            INSERT INTO careflags.measurement AS x (patient_id, source_system, source_key, kind, value, measured_at)
                VALUES (pid, 'fhir', key, m.measurement_kind, round(v * factor, 3), t)
                ON CONFLICT ON CONSTRAINT measurement_source_key DO UPDATE
                    SET patient_id = EXCLUDED.patient_id, kind = EXCLUDED.kind, value = EXCLUDED.value,
                        measured_at = EXCLUDED.measured_at
                RETURNING true INTO ok;
        ELSIF m.fact = 'assessment' THEN
            IF v IS NULL AND rtype = 'Observation' AND m.instrument::text NOT LIKE '%\_unspecified' THEN
                RAISE EXCEPTION '% score % has no numeric value', m.instrument, key USING ERRCODE = 'CFF01', HINT = 'assessment';
            END IF;
            INSERT INTO careflags.assessment AS x (patient_id, source_system, source_key, instrument, assessed_at, total)
                VALUES (pid, 'fhir', key, m.instrument, t, v)
                ON CONFLICT ON CONSTRAINT assessment_source_key DO UPDATE
                    SET patient_id = EXCLUDED.patient_id, instrument = EXCLUDED.instrument,
                        assessed_at = EXCLUDED.assessed_at, total = EXCLUDED.total, items = NULL
                RETURNING true INTO ok;
        ELSIF m.fact = 'medication_review' THEN
            INSERT INTO careflags.medication_review AS x (patient_id, source_system, source_key, reviewed_at, code)
                VALUES (pid, 'fhir', key, t, m.code)
                ON CONFLICT ON CONSTRAINT medication_review_source_key DO UPDATE
                    SET patient_id = EXCLUDED.patient_id, reviewed_at = EXCLUDED.reviewed_at, code = EXCLUDED.code
                RETURNING true INTO ok;
        ELSIF m.fact = 'fall' THEN
            first_code := (SELECT c ->> 'code' FROM jsonb_array_elements(cand.codings) AS c
                            WHERE c ->> 'system' = m.system AND starts_with(c ->> 'code', m.code) LIMIT 1);
            INSERT INTO careflags.fall AS x (patient_id, source_system, source_key, fell_at, code)
                VALUES (pid, 'fhir', key, t, first_code)
                ON CONFLICT ON CONSTRAINT fall_source_key DO UPDATE
                    SET patient_id = EXCLUDED.patient_id, fell_at = EXCLUDED.fell_at, code = EXCLUDED.code
                RETURNING true INTO ok;
        ELSIF m.fact = 'care_plan' THEN
            INSERT INTO careflags.care_plan AS x (patient_id, source_system, source_key, kind, started_at, ended_at)
                VALUES (pid, 'fhir', key, m.plan_kind, t, @extschema@.fhir_time(doc -> 'period' ->> 'end'))
                ON CONFLICT ON CONSTRAINT care_plan_source_key DO UPDATE
                    SET patient_id = EXCLUDED.patient_id, kind = EXCLUDED.kind, started_at = EXCLUDED.started_at,
                        ended_at = EXCLUDED.ended_at
                RETURNING true INTO ok;
        END IF;

        IF ok THEN
            res.facts := res.facts || (m.fact || '|' || key);
        ELSE
            res.outcome := 'quarantined';
            res.reason := @extschema@.guard_reason(m.fact, key);
        END IF;
    END LOOP;

    IF res.outcome IS NULL THEN
        IF cardinality(res.facts) > 0 THEN
            res.outcome := 'mapped';
        ELSE
            res.outcome := 'ignored';
            res.reason := 'code not used by careflags: ' || coalesce(
                (SELECT string_agg(coalesce(c ->> 'system', '') || '|' || (c ->> 'code'), ', ')
                   FROM jsonb_path_query(doc, CASE WHEN rtype = 'CarePlan' THEN '$.category[*].coding[*]'
                                                   ELSE '$.code.coding[*]' END::jsonpath) AS c),
                '(none)');
        END IF;
    END IF;
    RETURN res;
END
$$;


-- On Citus careflags.quarantine is distributed by patient_id and cannot
-- hold a row without one: a resource quarantined before its patient is
-- known (malformed, no subject) is recorded in resource_map only there,
-- with its reason; the store's write goes through as on one server.
CREATE OR REPLACE FUNCTION @extschema@.quarantine(fact_table text, source_key text, patient_id bigint,
                                                  reason text, payload jsonb) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    distributed boolean := false;
BEGIN
    IF $3 IS NULL AND pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition
                                 WHERE logicalrelid OPERATOR(pg_catalog.=) ''careflags.quarantine''::pg_catalog.regclass)'
            INTO distributed;
        IF distributed THEN
            RETURN;
        END IF;
    END IF;
    INSERT INTO careflags.quarantine (fact_table, source_system, source_key, patient_id, reason, payload)
        VALUES ($1, 'fhir', $2, $3, $4, $5);
END
$$;
COMMENT ON FUNCTION @extschema@.quarantine(text, text, bigint, text, jsonb) IS
    'records a FHIR resource careflags should use but cannot in careflags.quarantine (source_system fhir); on Citus one whose patient is not known stays in resource_map only';

-- PL/pgSQL, not SQL: on Citus a SQL function's parameters cannot reach the
-- distributed plan of careflags.quarantine.
CREATE OR REPLACE FUNCTION @extschema@.guard_reason(fact_table text, source_key text) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    RETURN COALESCE(
        (SELECT q.reason FROM careflags.quarantine AS q
          WHERE q.source_system OPERATOR(pg_catalog.=) 'fhir' AND q.source_key OPERATOR(pg_catalog.=) $2
          ORDER BY q.quarantine_id DESC LIMIT 1),
        'careflags rejected the ' OPERATOR(pg_catalog.||) $1 OPERATOR(pg_catalog.||) ' fact');
END
$$;

-- ==== end: upserts that work on Citus too (issue 19) ====

-----------------------------------------------------------------------------
-- A store set up with 1.0 gets the statement-level triggers and the checks
-- of 1.1 now; a store setup() of 1.1 refuses keeps its 1.0 row trigger until
-- the DBA fixes it and calls setup() again.
-----------------------------------------------------------------------------
DO $$
DECLARE
    cfg record;
BEGIN
    SELECT * INTO cfg FROM @extschema@.config;
    IF FOUND THEN
        BEGIN
            PERFORM @extschema@.setup(cfg.layout, coalesce(cfg.store_schema, 'public'), false);
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'careflags_fhir 1.1: the store keeps its 1.0 triggers: %', SQLERRM
                USING HINT = 'Fix what the message says, then call careflags_fhir.setup() again.';
        END;
    END IF;
END
$$;

-----------------------------------------------------------------------------
-- Privileges: nothing here is for PUBLIC.
-----------------------------------------------------------------------------
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA @extschema@ FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.load_bundle(text), @extschema@.check_load_size(text, bigint),
                          @extschema@.max_bytes(text), @extschema@.check_consistency() TO careflags_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.limits TO careflags_admin;
