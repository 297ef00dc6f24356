-- careflags_gnumed 1.0 -> 1.1 (issue 17).  Same objects as a fresh 1.1
-- install (sql/careflags_gnumed.sql); tests/gnumed/70_upgrade.sql compares them.
--
-- - CREATE EXTENSION works inside a restore (pg_restore / psql of a dump),
--   before GNUmed's tables exist; the mapping's re-map waits for the triggers
-- - DROP EXTENSION keeps the site's mapping for the next CREATE EXTENSION
-- - careflags_admin and gm-dbo edit the mapping
-- - more Norwegian names of nutrition and fall-prevention plans
-- - GNUmed writes: test-type cache, no statements that change nothing,
--   evaluation at commit; results and intakes mapped at commit, set-based
--   (the last section)
-- - hints: one per action (careflags.actions), in the reader's language
--   (issue 15), each line at most 140 characters
\echo Use "ALTER EXTENSION careflags_gnumed UPDATE TO '1.1'" to load this file. \quit

-- Mapping: plan names (only rows still as 1.0 shipped them).

UPDATE @extschema@.procedure_map
   SET pattern = 'fall[- ]?prevention (care )?plan|plan for fall prevention|fallforebygg\w*\s*(tiltaks|behandlings|pleie)?plan|fallforebyggende tiltak\w*|(tiltaks|pleie|behandlings)plan\W+(for\s+|mot\s+)?(fall\M|fallforebygg\w*|fallrisiko)|plan (for|mot) (fall\M|fallforebygg\w*)|sturzprophylaxe\w*plan|sturzpräventionsplan',
       comment = 'e.g. Fall prevention plan, Fallforebyggende tiltaksplan, Fallforebyggende tiltak, Tiltaksplan fall, Plan for fallforebygging, Sturzprophylaxeplan'
 WHERE origin OPERATOR(pg_catalog.=) 'default' AND plan_kind OPERATOR(pg_catalog.=) 'fall_prevention'
   AND pattern OPERATOR(pg_catalog.=) 'fall[- ]?prevention plan|fallforebygg\w* plan|sturzprophylaxe\w*plan|sturzpräventionsplan';

UPDATE @extschema@.procedure_map
   SET pattern = 'nutrition(al)? (care )?plan|plan for nutrition|ern(æ|ae)rings?\w*plan|ern(æ|ae)ring\w*\s+(tiltaks|behandlings|pleie)?plan|ern(æ|ae)ringstiltak|(tiltaks|pleie|behandlings)plan\W+(for\s+)?ern(æ|ae)ring\w*|plan for ern(æ|ae)ring\w*|kostplan|ernährungsplan',
       comment = 'e.g. Nutrition plan, Ernæringsplan, Individuell ernæringsplan, Ernæringstiltak, Tiltaksplan ernæring, Plan for ernæring, Kostplan, Ernährungsplan'
 WHERE origin OPERATOR(pg_catalog.=) 'default' AND plan_kind OPERATOR(pg_catalog.=) 'nutrition'
   AND pattern OPERATOR(pg_catalog.=) 'nutrition(al)? plan|ernæringsplan|ernährungsplan';


-- What each GNUmed test type maps to, kept so that a result does not match
-- the test type against every mapping pattern (1.1).  Filled on first use,
-- emptied when test_type_map, a test type or a meta test type changes.
CREATE TABLE @extschema@.test_type_target (
    fk_test_type    integer PRIMARY KEY,
    measurement     careflags.measurement_kind,
    instrument      careflags.instrument
);
COMMENT ON TABLE @extschema@.test_type_target IS
    'cache of target_of_test_type() per GNUmed test type (both NULL: not mapped); filled on first use, emptied when careflags_gnumed.test_type_map, clin.test_type or clin.meta_test_type change; not dumped';


CREATE OR REPLACE FUNCTION @extschema@.sync_test_result(pk_result integer) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    key text := 'test_result/' OPERATOR(pg_catalog.||) pk_result::text;
    r record;
    t record;
    old record;
    pid bigint;
    val numeric;
    v_unit text;
    v_factor numeric;
    have boolean;
BEGIN
    SELECT tr.clin_when, tr.val_num, tr.val_alpha, tr.fk_type,
           pg_catalog.lower(pg_catalog.btrim(COALESCE(NULLIF(pg_catalog.btrim(tr.val_unit), ''), tt.reference_unit))) AS unit,
           e.fk_patient
      INTO r
      FROM clin.test_result tr
      JOIN clin.test_type tt ON tt.pk OPERATOR(pg_catalog.=) tr.fk_type
      JOIN clin.encounter e ON e.pk OPERATOR(pg_catalog.=) tr.fk_encounter
     WHERE tr.pk OPERATOR(pg_catalog.=) pk_result;
    have := FOUND;
    IF have THEN
        SELECT c.measurement, c.instrument INTO t FROM @extschema@.test_type_target c
         WHERE c.fk_test_type OPERATOR(pg_catalog.=) r.fk_type;
        IF NOT FOUND THEN
            SELECT x.measurement, x.instrument INTO t FROM @extschema@.target_of_test_type(r.fk_type) x;
            INSERT INTO @extschema@.test_type_target (fk_test_type, measurement, instrument)
            VALUES (r.fk_type, t.measurement, t.instrument) ON CONFLICT DO NOTHING;
        END IF;
    END IF;
    -- Statements that would touch no fact are not run: each write statement
    -- on a fact table costs careflags' statement triggers.
    IF NOT have OR (t.measurement IS NULL AND t.instrument IS NULL) THEN
        IF EXISTS (SELECT FROM careflags.measurement x WHERE x.source_system OPERATOR(pg_catalog.=) 'gnumed' AND x.source_key OPERATOR(pg_catalog.=) key) THEN
            PERFORM @extschema@.forget('measurement', key);
        END IF;
        IF EXISTS (SELECT FROM careflags.assessment x WHERE x.source_system OPERATOR(pg_catalog.=) 'gnumed' AND x.source_key OPERATOR(pg_catalog.=) key) THEN
            PERFORM @extschema@.forget('assessment', key);
        END IF;
        RETURN;
    END IF;
    val := r.val_num;
    IF val IS NULL AND r.val_alpha OPERATOR(pg_catalog.~) '^\s*-?[0-9]+([.,][0-9]+)?\s*$' THEN
        val := pg_catalog.replace(pg_catalog.btrim(r.val_alpha), ',', '.')::numeric;
    END IF;
    SELECT p.patient_id INTO pid FROM careflags.patient p
     WHERE p.source_system OPERATOR(pg_catalog.=) 'gnumed' AND p.source_key OPERATOR(pg_catalog.=) r.fk_patient::text;
    IF pid IS NULL THEN
        pid := @extschema@.ensure_patient(r.fk_patient);
    END IF;

    IF t.measurement IS NOT NULL THEN
        IF EXISTS (SELECT FROM careflags.assessment x WHERE x.source_system OPERATOR(pg_catalog.=) 'gnumed' AND x.source_key OPERATOR(pg_catalog.=) key) THEN
            PERFORM @extschema@.forget('assessment', key);
        END IF;
        IF val IS NULL THEN
            RAISE EXCEPTION 'test result % (%) has no numeric value', pk_result, t.measurement
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        v_unit := r.unit;
        IF v_unit IS NULL AND t.measurement OPERATOR(pg_catalog.=) 'bmi' THEN
            v_factor := 1;
        ELSE
            SELECT c.factor INTO v_factor FROM @extschema@.unit_conversion c
             WHERE c.kind OPERATOR(pg_catalog.=) t.measurement AND c.unit OPERATOR(pg_catalog.=) v_unit;
        END IF;
        IF v_factor IS NULL THEN
            RAISE EXCEPTION 'unit "%" of test result % is not known for %', v_unit, pk_result, t.measurement
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Add it to careflags_gnumed.unit_conversion.';
        END IF;
        val := val OPERATOR(pg_catalog.*) v_factor;
        SELECT ms.patient_id, ms.kind, ms.value, ms.measured_at INTO old FROM careflags.measurement ms
         WHERE ms.source_system OPERATOR(pg_catalog.=) 'gnumed' AND ms.source_key OPERATOR(pg_catalog.=) key;
        have := FOUND;
        IF have AND old.patient_id OPERATOR(pg_catalog.<>) pid THEN
            PERFORM @extschema@.forget('measurement', key);
            have := false;
        END IF;
        IF NOT have THEN
            INSERT INTO careflags.measurement (patient_id, source_system, source_key, kind, value, measured_at)
            VALUES (pid, 'gnumed', key, t.measurement, val, r.clin_when);
        ELSIF (old.kind, old.value, old.measured_at) IS DISTINCT FROM (t.measurement, val, r.clin_when) THEN
            UPDATE careflags.measurement ms SET kind = t.measurement, value = val, measured_at = r.clin_when
             WHERE ms.source_system OPERATOR(pg_catalog.=) 'gnumed' AND ms.source_key OPERATOR(pg_catalog.=) key;
        END IF;
    ELSE
        IF EXISTS (SELECT FROM careflags.measurement x WHERE x.source_system OPERATOR(pg_catalog.=) 'gnumed' AND x.source_key OPERATOR(pg_catalog.=) key) THEN
            PERFORM @extschema@.forget('measurement', key);
        END IF;
        SELECT a.patient_id, a.instrument, a.assessed_at, a.total INTO old FROM careflags.assessment a
         WHERE a.source_system OPERATOR(pg_catalog.=) 'gnumed' AND a.source_key OPERATOR(pg_catalog.=) key;
        have := FOUND;
        IF have AND old.patient_id OPERATOR(pg_catalog.<>) pid THEN
            PERFORM @extschema@.forget('assessment', key);
            have := false;
        END IF;
        IF NOT have THEN
            INSERT INTO careflags.assessment (patient_id, source_system, source_key, instrument, assessed_at, total)
            VALUES (pid, 'gnumed', key, t.instrument, r.clin_when, val);
        ELSIF (old.instrument, old.assessed_at, old.total) IS DISTINCT FROM (t.instrument, r.clin_when, val) THEN
            UPDATE careflags.assessment a SET instrument = t.instrument, assessed_at = r.clin_when, total = val,
                   items = NULL, band = NULL, at_risk = NULL
             WHERE a.source_system OPERATOR(pg_catalog.=) 'gnumed' AND a.source_key OPERATOR(pg_catalog.=) key;
        END IF;
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.sync_test_result(integer) IS
    'make the careflags measurement or assessment of clin.test_result <pk> match it (test type mapped by test_type_map through the test_type_target cache, value from val_num or a numeric val_alpha, unit converted by unit_conversion, time clin_when); runs no statement that would change nothing';


CREATE OR REPLACE FUNCTION @extschema@.sync_substance_intake(pk_intake integer) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    key text := 'substance_intake/' OPERATOR(pg_catalog.||) pk_intake::text;
    atc_format constant text := '^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$';
    r record;
    old record;
    pid bigint;
    v_atc text;
    stopped timestamptz;
    prn boolean;
    v_code text;
    v_status careflags.medication_status;
    have boolean;
BEGIN
    SELECT i.clin_when, i.discontinued, i.duration, i.schedule, i.harmful_use_type,
           s.pk AS pk_substance, s.description AS substance, pg_catalog.upper(pg_catalog.btrim(s.atc)) AS atc_substance,
           pg_catalog.upper(pg_catalog.btrim(p.atc_code)) AS atc_product, e.fk_patient
      INTO r
      FROM clin.substance_intake i
      JOIN ref.lnk_dose2drug l ON l.pk OPERATOR(pg_catalog.=) i.fk_drug_component
      JOIN ref.dose d ON d.pk OPERATOR(pg_catalog.=) l.fk_dose
      JOIN ref.substance s ON s.pk OPERATOR(pg_catalog.=) d.fk_substance
      JOIN ref.drug_product p ON p.pk OPERATOR(pg_catalog.=) l.fk_drug_product
      JOIN clin.encounter e ON e.pk OPERATOR(pg_catalog.=) i.fk_encounter
     WHERE i.pk OPERATOR(pg_catalog.=) pk_intake;
    -- Harmful use (tobacco, alcohol, ...) is recorded as an intake too: not a medicine.
    IF NOT FOUND OR r.harmful_use_type IS NOT NULL THEN
        IF EXISTS (SELECT FROM careflags.medication x WHERE x.source_system OPERATOR(pg_catalog.=) 'gnumed' AND x.source_key OPERATOR(pg_catalog.=) key) THEN
            PERFORM @extschema@.forget('medication', key);
        END IF;
        RETURN;
    END IF;
    SELECT pt.patient_id INTO pid FROM careflags.patient pt
     WHERE pt.source_system OPERATOR(pg_catalog.=) 'gnumed' AND pt.source_key OPERATOR(pg_catalog.=) r.fk_patient::text;
    IF pid IS NULL THEN
        pid := @extschema@.ensure_patient(r.fk_patient);
    END IF;
    v_atc := CASE WHEN r.atc_substance OPERATOR(pg_catalog.~) atc_format THEN r.atc_substance END;
    IF v_atc IS NULL THEN
        SELECT m.atc INTO v_atc FROM @extschema@.substance_atc m
         WHERE m.fk_substance OPERATOR(pg_catalog.=) r.pk_substance
            OR r.substance OPERATOR(pg_catalog.~*) ('^\s*(' OPERATOR(pg_catalog.||) m.substance_pattern OPERATOR(pg_catalog.||) ')\s*$')
         ORDER BY (m.fk_substance IS NULL), m.map_id
         LIMIT 1;
    END IF;
    IF v_atc IS NULL AND r.atc_product OPERATOR(pg_catalog.~) atc_format THEN
        v_atc := r.atc_product;
    END IF;
    stopped := COALESCE(r.discontinued, r.clin_when OPERATOR(pg_catalog.+) r.duration);
    SELECT COALESCE(r.schedule OPERATOR(pg_catalog.~*) s.value, false) INTO prn
      FROM @extschema@.settings s WHERE s.name OPERATOR(pg_catalog.=) 'as_needed_pattern';
    prn := COALESCE(prn, false);
    v_code := 'gnumed-substance:' OPERATOR(pg_catalog.||) r.pk_substance::text;
    v_status := (CASE WHEN r.discontinued IS NOT NULL THEN 'stopped' ELSE 'active' END)::careflags.medication_status;
    SELECT md.patient_id, md.atc, md.code, md.name, md.started_at, md.stopped_at, md.as_needed, md.status INTO old
      FROM careflags.medication md
     WHERE md.source_system OPERATOR(pg_catalog.=) 'gnumed' AND md.source_key OPERATOR(pg_catalog.=) key;
    have := FOUND;
    IF have AND old.patient_id OPERATOR(pg_catalog.<>) pid THEN
        PERFORM @extschema@.forget('medication', key);
        have := false;
    END IF;
    IF NOT have THEN
        INSERT INTO careflags.medication (patient_id, source_system, source_key, atc, code, name, started_at, stopped_at, as_needed, status)
        VALUES (pid, 'gnumed', key, v_atc, v_code, r.substance, r.clin_when, stopped, prn, v_status);
    ELSIF (old.atc, old.code, old.name, old.started_at, old.stopped_at, old.as_needed, old.status)
          IS DISTINCT FROM (v_atc, v_code, r.substance, r.clin_when, stopped, prn, v_status) THEN
        UPDATE careflags.medication md
           SET atc = v_atc, code = v_code, name = r.substance, started_at = r.clin_when,
               stopped_at = stopped, as_needed = prn, status = v_status
         WHERE md.source_system OPERATOR(pg_catalog.=) 'gnumed' AND md.source_key OPERATOR(pg_catalog.=) key;
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.sync_substance_intake(integer) IS
    'make the careflags medication of clin.substance_intake <pk> match it: ATC of the substance, else substance_atc, else the drug product''s; start clin_when; stop discontinued (or start + duration); as-needed from the schedule text; harmful use is no medicine; runs no statement that would change nothing';


CREATE OR REPLACE FUNCTION @extschema@.on_gnumed_row() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    kind text := TG_ARGV[0];
    r record;
BEGIN
    -- GNUmed's client writes row by row (insert, then update): careflags
    -- evaluates the patients this transaction wrote once, at its commit
    -- (careflags.defer_evaluation), unless careflags_gnumed.evaluate_at_commit
    -- is off (then after each statement, as for any careflags write).
    IF pg_catalog.current_setting('careflags.defer_evaluation', true) IS DISTINCT FROM 'on'
       AND COALESCE(NULLIF(pg_catalog.current_setting('careflags_gnumed.evaluate_at_commit', true), ''), 'on') OPERATOR(pg_catalog.<>) 'off' THEN
        PERFORM pg_catalog.set_config('careflags.defer_evaluation', 'on', true);
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
    IF kind OPERATOR(pg_catalog.=) 'names' THEN
        PERFORM @extschema@.sync('identity', r.id_identity, pg_catalog.to_jsonb(r));
    ELSE
        PERFORM @extschema@.sync(kind, r.pk, pg_catalog.to_jsonb(r));
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.on_gnumed_row() IS
    'AFTER ROW trigger on GNUmed tables (argument: the row kind): maps the row to careflags facts, their evaluation deferred to commit (unless careflags_gnumed.evaluate_at_commit = off); never raises into GNUmed''s transaction unless careflags.strict';


CREATE OR REPLACE FUNCTION @extschema@.on_gnumed_reference() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    x record;
BEGIN
    CASE TG_TABLE_SCHEMA OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) TG_TABLE_NAME
    WHEN 'clin.encounter' THEN
        IF NEW.fk_patient OPERATOR(pg_catalog.=) OLD.fk_patient THEN RETURN NULL; END IF;
        FOR x IN SELECT 'hospital_stay' AS k, t.pk FROM clin.hospital_stay t WHERE t.fk_encounter OPERATOR(pg_catalog.=) NEW.pk
                 UNION ALL SELECT 'test_result', t.pk FROM clin.test_result t WHERE t.fk_encounter OPERATOR(pg_catalog.=) NEW.pk
                 UNION ALL SELECT 'substance_intake', t.pk FROM clin.substance_intake t WHERE t.fk_encounter OPERATOR(pg_catalog.=) NEW.pk
                 UNION ALL SELECT 'procedure', t.pk FROM clin.procedure t WHERE t.fk_encounter OPERATOR(pg_catalog.=) NEW.pk LOOP
            PERFORM @extschema@.sync(x.k, x.pk);
        END LOOP;
    WHEN 'clin.test_type' THEN
        DELETE FROM @extschema@.test_type_target c WHERE c.fk_test_type OPERATOR(pg_catalog.=) NEW.pk;
        FOR x IN SELECT t.pk FROM clin.test_result t WHERE t.fk_type OPERATOR(pg_catalog.=) NEW.pk LOOP
            PERFORM @extschema@.sync('test_result', x.pk);
        END LOOP;
    WHEN 'clin.meta_test_type' THEN
        DELETE FROM @extschema@.test_type_target c
         WHERE c.fk_test_type OPERATOR(pg_catalog.=) ANY (SELECT tt.pk FROM clin.test_type tt
                                                          WHERE tt.fk_meta_test_type OPERATOR(pg_catalog.=) NEW.pk);
        FOR x IN SELECT t.pk FROM clin.test_result t JOIN clin.test_type tt ON tt.pk OPERATOR(pg_catalog.=) t.fk_type
                  WHERE tt.fk_meta_test_type OPERATOR(pg_catalog.=) NEW.pk LOOP
            PERFORM @extschema@.sync('test_result', x.pk);
        END LOOP;
    WHEN 'dem.org_unit' THEN
        FOR x IN SELECT t.pk FROM clin.hospital_stay t WHERE t.fk_org_unit OPERATOR(pg_catalog.=) NEW.pk LOOP
            PERFORM @extschema@.sync('hospital_stay', x.pk);
        END LOOP;
    WHEN 'dem.org' THEN
        FOR x IN SELECT t.pk FROM clin.hospital_stay t JOIN dem.org_unit ou ON ou.pk OPERATOR(pg_catalog.=) t.fk_org_unit
                  WHERE ou.fk_org OPERATOR(pg_catalog.=) NEW.pk LOOP
            PERFORM @extschema@.sync('hospital_stay', x.pk);
        END LOOP;
    WHEN 'ref.substance' THEN
        FOR x IN SELECT i.pk FROM clin.substance_intake i
                   JOIN ref.lnk_dose2drug l ON l.pk OPERATOR(pg_catalog.=) i.fk_drug_component
                   JOIN ref.dose d ON d.pk OPERATOR(pg_catalog.=) l.fk_dose
                  WHERE d.fk_substance OPERATOR(pg_catalog.=) NEW.pk LOOP
            PERFORM @extschema@.sync('substance_intake', x.pk);
        END LOOP;
    WHEN 'ref.drug_product' THEN
        FOR x IN SELECT i.pk FROM clin.substance_intake i
                   JOIN ref.lnk_dose2drug l ON l.pk OPERATOR(pg_catalog.=) i.fk_drug_component
                  WHERE l.fk_drug_product OPERATOR(pg_catalog.=) NEW.pk LOOP
            PERFORM @extschema@.sync('substance_intake', x.pk);
        END LOOP;
    ELSE
        NULL;
    END CASE;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.on_gnumed_reference() IS
    'AFTER UPDATE trigger on GNUmed rows the mapping reads through (encounter moved to another patient, test type, meta test type, org unit, organisation, substance, drug product): re-maps the rows that depend on them';


CREATE OR REPLACE FUNCTION @extschema@.resync(kinds text[] DEFAULT ARRAY['identity', 'hospital_stay', 'test_result', 'substance_intake', 'procedure'],
                                   recompute boolean DEFAULT true,
                                   OUT kind text, OUT mapped bigint, OUT quarantined bigint)
    RETURNS SETOF record
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    x record;
    ok boolean;
BEGIN
    IF 'test_result' OPERATOR(pg_catalog.=) ANY (kinds) THEN
        DELETE FROM @extschema@.test_type_target;
    END IF;
    FOREACH kind IN ARRAY kinds LOOP
        mapped := 0;
        quarantined := 0;
        FOR x IN EXECUTE CASE kind
                WHEN 'identity' THEN 'SELECT pk FROM dem.identity ORDER BY pk'
                WHEN 'hospital_stay' THEN 'SELECT pk FROM clin.hospital_stay ORDER BY pk'
                WHEN 'test_result' THEN 'SELECT pk FROM clin.test_result ORDER BY pk'
                WHEN 'substance_intake' THEN 'SELECT pk FROM clin.substance_intake ORDER BY pk'
                WHEN 'procedure' THEN 'SELECT pk FROM clin.procedure ORDER BY pk'
            END LOOP
            ok := @extschema@.sync(kind, x.pk);
            IF ok THEN mapped := mapped OPERATOR(pg_catalog.+) 1; ELSE quarantined := quarantined OPERATOR(pg_catalog.+) 1; END IF;
        END LOOP;
        -- Facts whose GNUmed row is gone (e.g. rows deleted while the triggers were disabled).
        IF kind OPERATOR(pg_catalog.<>) 'identity' THEN
            PERFORM @extschema@.forget(f.t, f.source_key)
               FROM (SELECT 'episode' AS t, source_key FROM careflags.episode WHERE source_system OPERATOR(pg_catalog.=) 'gnumed'
                     UNION ALL SELECT 'measurement', source_key FROM careflags.measurement WHERE source_system OPERATOR(pg_catalog.=) 'gnumed'
                     UNION ALL SELECT 'assessment', source_key FROM careflags.assessment WHERE source_system OPERATOR(pg_catalog.=) 'gnumed'
                     UNION ALL SELECT 'medication', source_key FROM careflags.medication WHERE source_system OPERATOR(pg_catalog.=) 'gnumed'
                     UNION ALL SELECT 'medication_review', source_key FROM careflags.medication_review WHERE source_system OPERATOR(pg_catalog.=) 'gnumed'
                     UNION ALL SELECT 'fall', source_key FROM careflags.fall WHERE source_system OPERATOR(pg_catalog.=) 'gnumed'
                     UNION ALL SELECT 'care_plan', source_key FROM careflags.care_plan WHERE source_system OPERATOR(pg_catalog.=) 'gnumed') f
              WHERE pg_catalog.split_part(f.source_key, '/', 1) OPERATOR(pg_catalog.=) kind
                AND NOT EXISTS (SELECT FROM (SELECT pk FROM clin.hospital_stay WHERE kind OPERATOR(pg_catalog.=) 'hospital_stay'
                                             UNION ALL SELECT pk FROM clin.test_result WHERE kind OPERATOR(pg_catalog.=) 'test_result'
                                             UNION ALL SELECT pk FROM clin.substance_intake WHERE kind OPERATOR(pg_catalog.=) 'substance_intake'
                                             UNION ALL SELECT pk FROM clin.procedure WHERE kind OPERATOR(pg_catalog.=) 'procedure') g
                                 WHERE g.pk::text OPERATOR(pg_catalog.=) pg_catalog.split_part(f.source_key, '/', 2));
        END IF;
        RETURN NEXT;
    END LOOP;
    IF recompute AND pg_catalog.to_regprocedure('careflags.recompute_all()') IS NOT NULL THEN
        EXECUTE 'SELECT careflags.recompute_all()';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.resync(text[], boolean) IS
    'map every GNUmed row of the given kinds again (backfill at install; after editing GNUmed data with the triggers off), then (recompute) rebuild all flags; returns per kind how many rows mapped and how many were quarantined';


CREATE OR REPLACE FUNCTION @extschema@.wired() RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT FROM pg_catalog.pg_trigger t
                    WHERE t.tgname OPERATOR(pg_catalog.=) 'zzzz_careflags_sync'
                      AND t.tgrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass('clin.test_result'))
$$;
COMMENT ON FUNCTION @extschema@.wired() IS
    'true when careflags_gnumed''s triggers are on GNUmed''s tables (false while a restore has not yet recreated them)';


CREATE OR REPLACE FUNCTION @extschema@.on_mapping_change() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- not inside CREATE EXTENSION (it backfills at its end), not while a
    -- restore has not yet put the triggers on GNUmed's tables back
    IF COALESCE(pg_catalog.current_setting('careflags_gnumed.restoring', true), '') OPERATOR(pg_catalog.<>) ''
       OR NOT @extschema@.wired() THEN
        RETURN NULL;
    END IF;
    PERFORM @extschema@.resync(CASE TG_TABLE_NAME
        WHEN 'setting_map' THEN ARRAY['hospital_stay']
        WHEN 'test_type_map' THEN ARRAY['test_result']
        WHEN 'unit_conversion' THEN ARRAY['test_result']
        WHEN 'procedure_map' THEN ARRAY['procedure']
        WHEN 'substance_atc' THEN ARRAY['substance_intake']
        WHEN 'settings' THEN ARRAY['substance_intake'] END, false);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.on_mapping_change() IS 'AFTER STATEMENT trigger on the mapping tables: re-maps the GNUmed rows the table governs (SECURITY DEFINER: careflags_admin edits the mapping without rights on the facts)';


CREATE OR REPLACE FUNCTION @extschema@.save_site_data() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    CREATE TABLE IF NOT EXISTS careflags_gnumed.kept_site_data (
        tbl     text NOT NULL,
        data    jsonb NOT NULL,
        kept_at timestamptz NOT NULL DEFAULT pg_catalog.now()
    );
    COMMENT ON TABLE careflags_gnumed.kept_site_data IS
        'the site''s careflags_gnumed mapping, hint settings and suppression acknowledgements, saved by DROP EXTENSION careflags_gnumed; the next CREATE EXTENSION careflags_gnumed restores them and drops this table';
    DELETE FROM careflags_gnumed.kept_site_data;
    INSERT INTO careflags_gnumed.kept_site_data (tbl, data)
    SELECT 'setting_map', pg_catalog.to_jsonb(m) FROM @extschema@.setting_map m WHERE m.origin OPERATOR(pg_catalog.=) 'site'
    UNION ALL SELECT 'test_type_map', pg_catalog.to_jsonb(m) FROM @extschema@.test_type_map m WHERE m.origin OPERATOR(pg_catalog.=) 'site'
    UNION ALL SELECT 'unit_conversion', pg_catalog.to_jsonb(m) FROM @extschema@.unit_conversion m WHERE m.origin OPERATOR(pg_catalog.=) 'site'
    UNION ALL SELECT 'procedure_map', pg_catalog.to_jsonb(m) FROM @extschema@.procedure_map m WHERE m.origin OPERATOR(pg_catalog.=) 'site'
    UNION ALL SELECT 'substance_atc', pg_catalog.to_jsonb(m) FROM @extschema@.substance_atc m
    UNION ALL SELECT 'settings', pg_catalog.to_jsonb(m) FROM @extschema@.settings m
    UNION ALL SELECT 'hint', pg_catalog.to_jsonb(m) FROM @extschema@.hint m
    UNION ALL SELECT 'suppression_ack', pg_catalog.to_jsonb(m) FROM @extschema@.suppression_ack m;
    -- GNUmed's backup runs as gm-dbo
    IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'gm-dbo') THEN
        GRANT SELECT ON careflags_gnumed.kept_site_data TO "gm-dbo";
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.save_site_data() IS
    'copies the site''s rows (mapping tables, settings, hint settings, suppression acknowledgements) into careflags_gnumed.kept_site_data, which is not part of the extension (called before DROP EXTENSION)';


CREATE OR REPLACE FUNCTION @extschema@.restore_site_data() RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    IF pg_catalog.to_regclass('careflags_gnumed.kept_site_data') IS NULL THEN
        RETURN 0;
    END IF;
    EXECUTE $q$
    WITH k AS (SELECT tbl, data FROM careflags_gnumed.kept_site_data),
    s1 AS (INSERT INTO @extschema@.setting_map (fk_org_unit, fk_org, category_pattern, setting, unit_id, priority, origin, comment)
           SELECT r.fk_org_unit, r.fk_org, r.category_pattern, r.setting, r.unit_id, r.priority, 'site', r.comment
             FROM k, pg_catalog.jsonb_populate_record(NULL::@extschema@.setting_map, k.data) r WHERE k.tbl OPERATOR(pg_catalog.=) 'setting_map'
           ON CONFLICT DO NOTHING RETURNING 1),
    s2 AS (INSERT INTO @extschema@.test_type_map (fk_test_type, loinc, name_pattern, measurement, instrument, priority, origin, comment)
           SELECT r.fk_test_type, r.loinc, r.name_pattern, r.measurement, r.instrument, r.priority, 'site', r.comment
             FROM k, pg_catalog.jsonb_populate_record(NULL::@extschema@.test_type_map, k.data) r WHERE k.tbl OPERATOR(pg_catalog.=) 'test_type_map'
           RETURNING 1),
    s3 AS (INSERT INTO @extschema@.unit_conversion (kind, unit, factor, origin)
           SELECT r.kind, r.unit, r.factor, 'site'
             FROM k, pg_catalog.jsonb_populate_record(NULL::@extschema@.unit_conversion, k.data) r WHERE k.tbl OPERATOR(pg_catalog.=) 'unit_conversion'
           ON CONFLICT DO NOTHING RETURNING 1),
    s4 AS (INSERT INTO @extschema@.procedure_map (pattern, fact, instrument, plan_kind, code, priority, origin, comment)
           SELECT r.pattern, r.fact, r.instrument, r.plan_kind, r.code, r.priority, 'site', r.comment
             FROM k, pg_catalog.jsonb_populate_record(NULL::@extschema@.procedure_map, k.data) r WHERE k.tbl OPERATOR(pg_catalog.=) 'procedure_map'
           RETURNING 1),
    s5 AS (INSERT INTO @extschema@.substance_atc (fk_substance, substance_pattern, atc, comment)
           SELECT r.fk_substance, r.substance_pattern, r.atc, r.comment
             FROM k, pg_catalog.jsonb_populate_record(NULL::@extschema@.substance_atc, k.data) r WHERE k.tbl OPERATOR(pg_catalog.=) 'substance_atc'
           RETURNING 1),
    s6 AS (INSERT INTO @extschema@.settings AS s (name, value)
           SELECT r.name, r.value
             FROM k, pg_catalog.jsonb_populate_record(NULL::@extschema@.settings, k.data) r WHERE k.tbl OPERATOR(pg_catalog.=) 'settings'
           ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value RETURNING 1),
    s7 AS (UPDATE @extschema@.hint h SET popup_type = r.popup_type, highlight_as_priority = r.highlight_as_priority
             FROM k, pg_catalog.jsonb_populate_record(NULL::@extschema@.hint, k.data) r
            WHERE k.tbl OPERATOR(pg_catalog.=) 'hint' AND h.action OPERATOR(pg_catalog.=) r.action
              AND h.language OPERATOR(pg_catalog.=) r.language RETURNING 1),
    s8 AS (INSERT INTO @extschema@.suppression_ack
           SELECT r.* FROM k, pg_catalog.jsonb_populate_record(NULL::@extschema@.suppression_ack, k.data) r
            WHERE k.tbl OPERATOR(pg_catalog.=) 'suppression_ack'
           ON CONFLICT DO NOTHING RETURNING 1)
    SELECT (SELECT pg_catalog.count(*) FROM s1) OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM s2)
           OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM s3) OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM s4)
           OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM s5) OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM s6)
           OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM s7) OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM s8)
    $q$ INTO n;
    DROP TABLE careflags_gnumed.kept_site_data;
    RAISE NOTICE 'careflags_gnumed: % rows of the site''s mapping and settings kept from the previous installation restored', n;
    RETURN n;
END
$$;
COMMENT ON FUNCTION @extschema@.restore_site_data() IS
    'puts the rows DROP EXTENSION saved in careflags_gnumed.kept_site_data back into the mapping tables and drops that table (called by CREATE EXTENSION); returns how many rows';


CREATE OR REPLACE FUNCTION @extschema@.before_drop_extension() RETURNS event_trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pg_catalog.current_query() OPERATOR(pg_catalog.~*) '\mcareflags(_gnumed)?\M' THEN
        PERFORM @extschema@.save_site_data();
        PERFORM @extschema@.remove_hints();
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.before_drop_extension() IS
    'ddl_command_start event trigger on DROP EXTENSION: when the statement names careflags or careflags_gnumed, saves the site''s mapping (save_site_data) and removes careflags'' GNUmed hints';


CREATE OR REPLACE FUNCTION @extschema@.after_drop_extension() RETURNS event_trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- the extension is still there: its tables still hold what was saved
    IF pg_catalog.to_regclass('careflags_gnumed.kept_site_data') IS NOT NULL THEN
        DROP TABLE careflags_gnumed.kept_site_data;
    END IF;
    PERFORM @extschema@.install_hints();
END
$$;
COMMENT ON FUNCTION @extschema@.after_drop_extension() IS
    'ddl_command_end event trigger on DROP EXTENSION: careflags_gnumed survived the statement, so its hints are put back';


-- Writes into GNUmed's own table ref.auto_hint run as its owner (gm-dbo), not
-- as the extension's owner: whatever GNUmed (or whoever owns the table)
-- attached to it - triggers, rules, defaults - must not run with a
-- superuser's rights (issue 13).  careflags.run_as_owner runs the statement
-- as the owner in a security-restricted operation; GNUmed's deferred
-- "announce" triggers on the table are made immediate for it, as
-- PostgreSQL refuses to queue deferred triggers there (they would run
-- later as whoever commits).
CREATE OR REPLACE FUNCTION @extschema@.as_hint_owner(statement text, VARIADIC args text[] DEFAULT '{}')
    RETURNS SETOF text[]
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    deferrable_constraints text;
BEGIN
    IF pg_catalog.to_regprocedure('careflags.run_as_owner(regclass,text,text[])') IS NULL THEN
        RAISE EXCEPTION 'careflags_gnumed cannot write GNUmed''s hints safely: careflags.run_as_owner() is missing'
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'Writes into ref.auto_hint run as its owner through careflags.run_as_owner (careflags 1.3).',
                  HINT = 'Run ALTER EXTENSION careflags UPDATE first.';
    END IF;
    SELECT pg_catalog.string_agg(pg_catalog.format('%I.%I', n.nspname, c.conname), ', ')
      INTO deferrable_constraints
      FROM pg_catalog.pg_trigger t
      JOIN pg_catalog.pg_constraint c ON c.oid OPERATOR(pg_catalog.=) t.tgconstraint
      JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.connamespace
     WHERE t.tgrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass('ref.auto_hint') AND t.tgdeferrable;
    IF deferrable_constraints IS NOT NULL THEN
        EXECUTE 'SET CONSTRAINTS ' OPERATOR(pg_catalog.||) deferrable_constraints OPERATOR(pg_catalog.||) ' IMMEDIATE';
    END IF;
    RETURN QUERY SELECT r FROM careflags.run_as_owner(pg_catalog.to_regclass('ref.auto_hint'), statement, VARIADIC args) r;
    IF deferrable_constraints IS NOT NULL THEN
        EXECUTE 'SET CONSTRAINTS ' OPERATOR(pg_catalog.||) deferrable_constraints OPERATOR(pg_catalog.||) ' DEFERRED';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.as_hint_owner(text, text[]) IS
    'runs one statement on GNUmed''s ref.auto_hint as that table''s owner (careflags.run_as_owner), GNUmed''s deferrable triggers on it made immediate for the statement; returns the result rows as text[]';
REVOKE ALL ON FUNCTION @extschema@.as_hint_owner(text, text[]) FROM PUBLIC;

-- ==== GNUmed hints: one per action, in the reader's language (issue 15) ====
-- 1.0's hints (one per flag domain, English) go, with GNUmed's suppressions
-- of them (their flags stay acknowledged); the hints per action come.
SELECT pg_catalog.count(*) FROM @extschema@.as_hint_owner(
    'DELETE FROM ref.auto_hint a
      WHERE a.pk OPERATOR(pg_catalog.=) ANY ($1::integer[])
         OR (a.source OPERATOR(pg_catalog.=) ''careflags'' AND a.query OPERATOR(pg_catalog.~) ''careflags_gnumed\.'')',
    (SELECT COALESCE(pg_catalog.array_agg(h.pk_auto_hint) FILTER (WHERE h.pk_auto_hint IS NOT NULL), '{}')::text FROM @extschema@.hint h));
DROP FUNCTION IF EXISTS @extschema@.hint_applies(integer, text), @extschema@.hint_text(integer, text),
    @extschema@.visible_flags(integer, text), @extschema@.hint_line(careflags.flag, text),
    @extschema@.describe_due(timestamptz, timestamptz, interval), @extschema@.short_date(timestamptz),
    @extschema@.instrument_label(text), @extschema@.wrap(text, integer), @extschema@.frid_names(bigint);
DROP TABLE @extschema@.hint;

-- ---------------------------------------------------------------------------
-- careflags' actions as GNUmed hints (issue 15, clinical-rules.md §7.18, §8):
-- one hint per action a nurse does (nutrition screening, nutrition plan,
-- medication review, fall-risk assessment, fall-prevention plan), built on
-- careflags.actions, in the reader's language (careflags.language of the
-- GNUmed user's session, role or database: bokmål by default).  A GNUmed hint's
-- title is one fixed text per row of ref.auto_hint, so each action has one
-- row per language, and a row applies only to a reader of its language.
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.hint (
    action          text NOT NULL CHECK (action OPERATOR(pg_catalog.=) ANY (ARRAY['nutrition_screening', 'nutrition_plan', 'medication_review', 'fall_risk_assessment', 'fall_prevention_plan'])),
    language        text NOT NULL CHECK (language OPERATOR(pg_catalog.=) ANY (ARRAY['nb', 'nn', 'en'])),
    pk_auto_hint    integer,
    title           text NOT NULL UNIQUE CHECK (pg_catalog.length(title) OPERATOR(pg_catalog.<=) 40),
    hint            text NOT NULL CHECK (pg_catalog.length(hint) OPERATOR(pg_catalog.<=) 140),
    popup_type      integer NOT NULL DEFAULT 2 CHECK (popup_type OPERATOR(pg_catalog.>=) 0 AND popup_type OPERATOR(pg_catalog.<=) 2),
    highlight_as_priority boolean NOT NULL DEFAULT true,
    PRIMARY KEY (action, language)
);
COMMENT ON TABLE @extschema@.hint IS
    'the GNUmed hints careflags installs in ref.auto_hint, one per action and language (pk_auto_hint: the installed row; title at most 40 characters, so that it fits the hint list of GNUmed''s 400-pixel popup); the patient''s row of careflags.actions comes from the hint''s recommendation query';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.hint', '');
-- (in a restore the dump brings the rows)
INSERT INTO @extschema@.hint (action, language, title, hint)
SELECT v.action, v.language, v.title, v.hint FROM (VALUES
    ('nutrition_screening', 'nb', 'Ernæringsscreening skal gjøres',
     'Kartlegg ernæringsmessig risiko (f.eks. MST eller MNA-SF) og registrer skåren som prøvesvar. Da forsvinner påminnelsen.'),
    ('nutrition_screening', 'nn', 'Ernæringsscreening skal gjerast',
     'Kartlegg ernæringsmessig risiko (t.d. MST eller MNA-SF) og registrer skåren som prøvesvar. Då forsvinn påminninga.'),
    ('nutrition_screening', 'en', 'Nutrition screening due',
     'Screen for risk of malnutrition (e.g. MST or MNA-SF) and record the score as a test result. The reminder then goes away.'),
    ('nutrition_plan', 'nb', 'Ernæringsplan skal lages/evalueres',
     'Lag eller evaluer ernæringsplanen og registrer den som prosedyre («Ernæringsplan»). Da forsvinner påminnelsen.'),
    ('nutrition_plan', 'nn', 'Ernæringsplan skal lagast/evaluerast',
     'Lag eller evaluer ernæringsplanen og registrer planen som prosedyre («Ernæringsplan»). Då forsvinn påminninga.'),
    ('nutrition_plan', 'en', 'Nutrition plan: make or evaluate',
     'Make or evaluate the nutrition plan and record it as a procedure ("Nutrition plan"). The reminder then goes away.'),
    ('medication_review', 'nb', 'Legemiddelgjennomgang skal gjøres',
     'Gå gjennom legemidlene og registrer legemiddelgjennomgangen som prosedyre. Da forsvinner påminnelsen.'),
    ('medication_review', 'nn', 'Legemiddelgjennomgang skal gjerast',
     'Gå gjennom legemidla og registrer legemiddelgjennomgangen som prosedyre. Då forsvinn påminninga.'),
    ('medication_review', 'en', 'Medication review due',
     'Review the medicines and record the medication review as a procedure. The reminder then goes away.'),
    ('fall_risk_assessment', 'nb', 'Fallrisikovurdering skal gjøres',
     'Vurder fallrisikoen (f.eks. med Morse) og registrer skåren som prøvesvar. Da forsvinner påminnelsen.'),
    ('fall_risk_assessment', 'nn', 'Fallrisikovurdering skal gjerast',
     'Vurder fallrisikoen (t.d. med Morse) og registrer skåren som prøvesvar. Då forsvinn påminninga.'),
    ('fall_risk_assessment', 'en', 'Fall-risk assessment due',
     'Assess the fall risk (e.g. with Morse) and record the score as a test result. The reminder then goes away.'),
    ('fall_prevention_plan', 'nb', 'Plan for fallforebygging skal lages',
     'Lag en plan for fallforebygging og registrer den som prosedyre («Plan for fallforebygging»). Da forsvinner påminnelsen.'),
    ('fall_prevention_plan', 'nn', 'Plan for fallførebygging skal lagast',
     'Lag ein plan for fallførebygging og registrer planen som prosedyre («Plan for fallforebygging»). Då forsvinn påminninga.'),
    ('fall_prevention_plan', 'en', 'Fall-prevention plan due',
     'Make a fall-prevention plan and record it as a procedure ("Fall prevention plan"). The reminder then goes away.')
  ) AS v(action, language, title, hint)
;

-- A GNUmed person's row of careflags.actions for one action, as GNUmed shows
-- it: only while one of the flags behind it is not acknowledged (suppressing
-- the hint in GNUmed acknowledges them).  Reads stored flags only (GNUmed
-- runs hint queries in read-only transactions); the state is computed at
-- read time by the view.
CREATE FUNCTION @extschema@.action_row(pk_identity integer, action text)
    RETURNS TABLE (patient_id bigint, state text, due_at timestamptz, why text, flag_ids bigint[])
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    pid bigint;
BEGIN
    SELECT p.patient_id INTO pid FROM careflags.patient p
     WHERE p.source_system OPERATOR(pg_catalog.=) 'gnumed'
       AND p.source_key OPERATOR(pg_catalog.=) action_row.pk_identity::text;
    IF pid IS NULL THEN
        RETURN;
    END IF;
    -- pid is a parameter, so the view reads this patient's flags only
    RETURN QUERY
    SELECT a.patient_id, a.state, a.due_at, a.why, a.flag_ids
      FROM careflags.actions a
     WHERE a.patient_id OPERATOR(pg_catalog.=) pid
       AND a.action OPERATOR(pg_catalog.=) action_row.action
       AND EXISTS (SELECT FROM careflags.flag f
                    WHERE f.patient_id OPERATOR(pg_catalog.=) pid
                      AND f.flag_id OPERATOR(pg_catalog.=) ANY (a.flag_ids) AND f.acknowledged_at IS NULL);
END
$$;
COMMENT ON FUNCTION @extschema@.action_row(integer, text) IS
    'a GNUmed person''s row of careflags.actions for one action (state, earliest due time, why in careflags.language, the flags behind it), if one of its flags is not acknowledged';

CREATE FUNCTION @extschema@.hint_applies(pk_identity integer, action text, lang text) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT careflags.language() OPERATOR(pg_catalog.=) hint_applies.lang
       AND EXISTS (SELECT FROM @extschema@.action_row(hint_applies.pk_identity, hint_applies.action))
$$;
COMMENT ON FUNCTION @extschema@.hint_applies(integer, text, text) IS
    'the query of careflags'' GNUmed hints: true when the reader''s careflags.language is the hint''s and the person has a row of careflags.actions for the action with a flag not acknowledged';

CREATE FUNCTION @extschema@.hint_text(pk_identity integer, action text, lang text) RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT r.why OPERATOR(pg_catalog.||) E'\n'
           OPERATOR(pg_catalog.||) pg_catalog.upper(pg_catalog.left(s.t, 1)) OPERATOR(pg_catalog.||) pg_catalog.substr(s.t, 2)
           OPERATOR(pg_catalog.||) '.'
      FROM @extschema@.action_row(hint_text.pk_identity, hint_text.action) r,
           LATERAL (SELECT careflags.state_text(r.state, hint_text.lang) AS t) s
     WHERE careflags.language() OPERATOR(pg_catalog.=) hint_text.lang
$$;
COMMENT ON FUNCTION @extschema@.hint_text(integer, text, text) IS
    'the recommendation query of careflags'' GNUmed hints: the person''s row of careflags.actions in the reader''s language, two lines of at most 140 characters: what, why and by when ("Legemiddelgjennomgang: ved innkomst 5. des., 11 faste legemidler. Frist 12. des."), then the state ("Over fristen.")';

-- Install (or re-install) the hint rows in ref.auto_hint.
CREATE OR REPLACE FUNCTION @extschema@.install_hints() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    h record;
    q text;
    rq text;
    pk integer;
BEGIN
    FOR h IN SELECT * FROM @extschema@.hint ORDER BY language, action LOOP
        q := pg_catalog.format('SELECT careflags_gnumed.hint_applies(ID_ACTIVE_PATIENT, %L, %L)', h.action, h.language);
        rq := pg_catalog.format('SELECT careflags_gnumed.hint_text(ID_ACTIVE_PATIENT, %L, %L)', h.action, h.language);
        SELECT a.pk INTO pk FROM ref.auto_hint a
         WHERE a.pk OPERATOR(pg_catalog.=) h.pk_auto_hint OR a.title OPERATOR(pg_catalog.=) h.title OR a.query OPERATOR(pg_catalog.=) q
         ORDER BY (a.pk OPERATOR(pg_catalog.=) h.pk_auto_hint) DESC LIMIT 1;
        IF pk IS NULL THEN
            SELECT r[1]::integer INTO pk FROM @extschema@.as_hint_owner(
                'INSERT INTO ref.auto_hint (query, recommendation_query, title, hint, is_active, source, lang, popup_type, highlight_as_priority)
                 VALUES ($1, $2, $3, $4, true, ''careflags'', $5, $6::integer, $7::boolean) RETURNING pk',
                q, rq, h.title, h.hint, h.language, h.popup_type::text, h.highlight_as_priority::text) r;
        END IF;
        UPDATE @extschema@.hint SET pk_auto_hint = pk
         WHERE hint.action OPERATOR(pg_catalog.=) h.action AND hint.language OPERATOR(pg_catalog.=) h.language
           AND hint.pk_auto_hint IS DISTINCT FROM pk;
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.install_hints() IS
    'insert careflags'' hints (one per action and language) into GNUmed''s ref.auto_hint where missing (existing rows, possibly edited in GNUmed, are kept), as the table''s owner';

CREATE OR REPLACE FUNCTION @extschema@.remove_hints() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- GNUmed's suppressions of these hints go with them (ON DELETE CASCADE).
    PERFORM @extschema@.as_hint_owner(
        'DELETE FROM ref.auto_hint a
          WHERE a.pk OPERATOR(pg_catalog.=) ANY ($1::integer[])
             OR (a.source OPERATOR(pg_catalog.=) ''careflags'' AND a.query OPERATOR(pg_catalog.~) ''careflags_gnumed\.'')',
        (SELECT COALESCE(pg_catalog.array_agg(h.pk_auto_hint) FILTER (WHERE h.pk_auto_hint IS NOT NULL), '{}')::text FROM @extschema@.hint h));
END
$$;
COMMENT ON FUNCTION @extschema@.remove_hints() IS 'delete careflags'' hints from GNUmed''s ref.auto_hint, as the table''s owner';

SELECT @extschema@.install_hints();

-- Hints and GNUmed's staff: hint queries run as the logged-in GNUmed user.
DO $grants$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'gm-staff') THEN
        GRANT USAGE ON SCHEMA @extschema@ TO "gm-staff";
        GRANT EXECUTE ON FUNCTION @extschema@.hint_applies(integer, text, text), @extschema@.hint_text(integer, text, text) TO "gm-staff";
    END IF;
END
$grants$;
REVOKE ALL ON FUNCTION @extschema@.hint_applies(integer, text, text), @extschema@.hint_text(integer, text, text) FROM PUBLIC;

-- GNUmed's hint suppression is an acknowledgement of the flags it hides.
CREATE OR REPLACE FUNCTION @extschema@.on_suppressed_hint() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    act text;
    pk_identity integer;
    f record;
    done boolean;
    can_ack boolean := pg_catalog.to_regprocedure('careflags.acknowledge(bigint,text)') IS NOT NULL;
BEGIN
    SELECT h.action INTO act FROM @extschema@.hint h WHERE h.pk_auto_hint OPERATOR(pg_catalog.=) NEW.fk_hint;
    IF act IS NULL THEN
        RETURN NULL;
    END IF;
    BEGIN
        SELECT e.fk_patient INTO pk_identity FROM clin.encounter e WHERE e.pk OPERATOR(pg_catalog.=) NEW.fk_encounter;
        FOR f IN SELECT fl.flag_id, fl.patient_id
                   FROM @extschema@.action_row(pk_identity, act) r
                   JOIN careflags.flag fl ON fl.flag_id OPERATOR(pg_catalog.=) ANY (r.flag_ids)
                  WHERE fl.acknowledged_at IS NULL
                  ORDER BY fl.flag_id LOOP
            done := false;
            IF can_ack THEN
                EXECUTE 'SELECT careflags.acknowledge($1, $2)'
                    USING f.flag_id,
                          pg_catalog.format('GNUmed hint suppressed by %s%s', NEW.suppressed_by,
                                            COALESCE(': ' OPERATOR(pg_catalog.||) NULLIF(NEW.rationale, ''), ''));
                done := true;
            END IF;
            INSERT INTO @extschema@.suppression_ack (pk_suppressed_hint, patient_id, flag_id, suppressed_by, rationale, acknowledged)
            VALUES (NEW.pk, f.patient_id, f.flag_id, NEW.suppressed_by, NEW.rationale, done)
            ON CONFLICT DO NOTHING;
        END LOOP;
    EXCEPTION WHEN OTHERS THEN
        IF @extschema@.strict() THEN
            RAISE;
        END IF;
        RAISE WARNING 'careflags_gnumed: suppression % of hint % not recorded as acknowledgement: %', NEW.pk, NEW.fk_hint, SQLERRM;
    END;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.on_suppressed_hint() IS
    'AFTER INSERT trigger on clin.suppressed_hint: a GNUmed user suppressing a careflags hint acknowledges the flags behind the patient''s row of careflags.actions for that action (careflags.acknowledge); never raises into GNUmed';
-- ==== end of GNUmed hints (issue 15) ====

-- GNUmed's meta test types: a changed LOINC re-maps the results of its types.
DO $triggers$
BEGIN
    CREATE TRIGGER zzzz_careflags_remap AFTER UPDATE OF loinc ON clin.meta_test_type
        FOR EACH ROW EXECUTE FUNCTION @extschema@.on_gnumed_reference();
    ALTER TRIGGER zzzz_careflags_remap ON clin.meta_test_type DEPENDS ON EXTENSION careflags_gnumed;
    COMMENT ON TRIGGER zzzz_careflags_remap ON clin.meta_test_type IS
        'careflags_gnumed: re-maps the rows that depend on this one (removed by DROP EXTENSION careflags_gnumed)';
END
$triggers$;


-- The site's mapping is edited by careflags' administrators and by GNUmed's
-- database owner gm-dbo (who administers GNUmed's own reference data); the
-- re-mapping an edit causes runs as the extension's owner (on_mapping_change).
DO $admin$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['careflags_admin', 'gm-dbo'] LOOP
        IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) r) THEN
            EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA @extschema@ TO %I', r);
            EXECUTE pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.setting_map, @extschema@.test_type_map, '
                                      '@extschema@.unit_conversion, @extschema@.procedure_map, @extschema@.substance_atc, '
                                      '@extschema@.settings TO %I', r);
            EXECUTE pg_catalog.format('GRANT SELECT ON @extschema@.hint, @extschema@.suppression_ack TO %I', r);
        END IF;
    END LOOP;
END
$admin$;

-- GNUmed's nightly backup (gm-backup) runs pg_dump as GNUmed's database owner
-- gm-dbo: it must be able to read careflags' schemas, or the whole backup
-- fails.  gm-dbo reads every patient's GNUmed record already; careflags'
-- tables with row-level security (patient, episode, flag) need BYPASSRLS for
-- pg_dump, which refuses to dump a table whose policies would filter rows.
DO $backup$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'gm-dbo') THEN
        RETURN;
    END IF;
    GRANT USAGE ON SCHEMA careflags, @extschema@ TO "gm-dbo";
    GRANT SELECT ON ALL TABLES IN SCHEMA careflags, @extschema@ TO "gm-dbo";
    GRANT SELECT ON ALL SEQUENCES IN SCHEMA careflags, @extschema@ TO "gm-dbo";
    IF NOT (SELECT r.rolbypassrls FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) 'gm-dbo') THEN
        ALTER ROLE "gm-dbo" BYPASSRLS;
        RAISE NOTICE 'careflags_gnumed: gm-dbo may now read careflags'' tables past row-level security (BYPASSRLS), so that GNUmed''s backup (pg_dump as gm-dbo) includes them';
    END IF;
END
$backup$;

-- ==== GNUmed writes mapped at commit, set-based (issue 17) ====
-- GNUmed writes mapped at commit, set-based (issue 17).  GNUmed's client
-- writes a result or an intake row by row, each inserted and then updated;
-- mapping every statement cost about as much as GNUmed's own statement.
-- The row trigger of clin.test_result and clin.substance_intake is careflags'
-- C trigger careflags.note_keys(): it only notes the row's key in the
-- transaction's memory (a rolled-back savepoint drops what it noted) and,
-- once per transaction, queues a marker whose deferred constraint trigger
-- (careflags.keys_at_commit) calls map_noted_keys() at commit, which maps all
-- noted rows: one statement per fact table, the test type by one join with the test_type_target cache, a row
-- written twice mapped once, with its last values.  Rows the set-based step
-- cannot map as a plain case (no careflags patient yet, no number, an
-- unknown unit, a fact that moved to another patient, a stop before the
-- start) and everything when a set-based statement fails go through sync()
-- one by one, which quarantines what it cannot map: nothing raises into the
-- commit unless careflags.strict.  careflags_gnumed.evaluate_at_commit = off
-- maps each row at once, as before (on_gnumed_row: the two triggers' WHEN
-- clauses choose).

CREATE OR REPLACE FUNCTION @extschema@.on_gnumed_row() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    kind text := TG_ARGV[0];
    r record;
BEGIN
    -- GNUmed's client writes row by row (insert, then update): careflags
    -- evaluates the patients this transaction wrote once, at its commit
    -- (careflags.defer_evaluation), unless careflags_gnumed.evaluate_at_commit
    -- is off (then after each statement, as for any careflags write).
    IF COALESCE(NULLIF(pg_catalog.current_setting('careflags_gnumed.evaluate_at_commit', true), ''), 'on')
           OPERATOR(pg_catalog.<>) 'off'
       AND pg_catalog.current_setting('careflags.defer_evaluation', true) IS DISTINCT FROM 'on' THEN
        PERFORM pg_catalog.set_config('careflags.defer_evaluation', 'on', true);
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
    IF kind OPERATOR(pg_catalog.=) 'names' THEN
        PERFORM @extschema@.sync('identity', r.id_identity, pg_catalog.to_jsonb(r));
    ELSE
        PERFORM @extschema@.sync(kind, r.pk, pg_catalog.to_jsonb(r));
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.on_gnumed_row() IS
    'AFTER ROW trigger on GNUmed tables (argument: the row kind): maps the row to careflags facts at once, their evaluation deferred to commit (unless careflags_gnumed.evaluate_at_commit = off: then at once); results and intakes go through it only with evaluate_at_commit = off, else careflags.note_keys() notes them for map_noted_keys() at commit; never raises into GNUmed''s transaction unless careflags.strict';

-- The keys a transaction noted for one kind (and forgets them: a later
-- write notes them again, with a new marker).
CREATE FUNCTION @extschema@.take_noted(kind text) RETURNS integer[]
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN careflags.take_noted_keys(CASE kind WHEN 'test_result' THEN 'clin.test_result'::pg_catalog.regclass
                                               ELSE 'clin.substance_intake'::pg_catalog.regclass END)::integer[];
END
$$;
COMMENT ON FUNCTION @extschema@.take_noted(text) IS
    'the distinct keys of GNUmed rows of one kind (test_result, substance_intake) this transaction noted for mapping at commit; empties the list';

-- Maps GNUmed test results set-based; returns the keys it left to sync().
CREATE FUNCTION @extschema@.map_test_results(pks integer[]) RETURNS integer[]
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    -- one plan per backend, by key lookups (index scans) whatever the size of
    -- GNUmed's tables; a custom plan per call cost planning time at every
    -- commit and hashed all of clin.test_result rather than look up a few
    -- hundred keys
    SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    odd integer[];
BEGIN
    -- the test types not in the cache yet: one lookup per type
    INSERT INTO @extschema@.test_type_target (fk_test_type, measurement, instrument)
    SELECT t.fk_type, x.measurement, x.instrument
      FROM (SELECT DISTINCT tr.fk_type FROM clin.test_result tr
             WHERE tr.pk OPERATOR(pg_catalog.=) ANY (pks)
               AND NOT EXISTS (SELECT FROM @extschema@.test_type_target c WHERE c.fk_test_type OPERATOR(pg_catalog.=) tr.fk_type)) t
      LEFT JOIN LATERAL @extschema@.target_of_test_type(t.fk_type) x ON true
    ON CONFLICT DO NOTHING;

    WITH r AS MATERIALIZED (
        -- every noted key; plain: mapped here (gone or unmapped rows have
        -- neither target and only lose their fact), else left to sync()
        SELECT k.pk, 'test_result/' OPERATOR(pg_catalog.||) k.pk::text AS key, p.patient_id, c.measurement, c.instrument,
               v.val OPERATOR(pg_catalog.*) CASE WHEN c.measurement IS NOT NULL THEN v.factor ELSE 1 END AS val,
               tr.clin_when,
               tr.pk IS NULL OR (c.measurement IS NULL AND c.instrument IS NULL)
               OR (p.patient_id IS NOT NULL
                   AND (c.instrument IS NOT NULL OR (v.val IS NOT NULL AND v.factor IS NOT NULL))
                   AND NOT EXISTS (SELECT FROM careflags.measurement ms
                                    WHERE ms.source_system OPERATOR(pg_catalog.=) 'gnumed'
                                      AND ms.source_key OPERATOR(pg_catalog.=) ('test_result/' OPERATOR(pg_catalog.||) k.pk::text)
                                      AND ms.patient_id OPERATOR(pg_catalog.<>) p.patient_id)
                   AND NOT EXISTS (SELECT FROM careflags.assessment a
                                    WHERE a.source_system OPERATOR(pg_catalog.=) 'gnumed'
                                      AND a.source_key OPERATOR(pg_catalog.=) ('test_result/' OPERATOR(pg_catalog.||) k.pk::text)
                                      AND a.patient_id OPERATOR(pg_catalog.<>) p.patient_id)) AS plain
          FROM pg_catalog.unnest(pks) k(pk)
          -- (the keys as an index condition: the planner would rather hash
          -- the whole table than look up a few hundred keys)
          LEFT JOIN clin.test_result tr ON tr.pk OPERATOR(pg_catalog.=) k.pk AND tr.pk OPERATOR(pg_catalog.=) ANY (pks)
          LEFT JOIN clin.test_type tt ON tt.pk OPERATOR(pg_catalog.=) tr.fk_type
          LEFT JOIN clin.encounter e ON e.pk OPERATOR(pg_catalog.=) tr.fk_encounter
          LEFT JOIN careflags.patient p ON p.source_system OPERATOR(pg_catalog.=) 'gnumed'
                                       AND p.source_key OPERATOR(pg_catalog.=) e.fk_patient::text
          LEFT JOIN @extschema@.test_type_target c ON c.fk_test_type OPERATOR(pg_catalog.=) tr.fk_type
          LEFT JOIN LATERAL (
              SELECT COALESCE(tr.val_num,
                              CASE WHEN tr.val_alpha OPERATOR(pg_catalog.~) '^\s*-?[0-9]+([.,][0-9]+)?\s*$'
                                   THEN pg_catalog.replace(pg_catalog.btrim(tr.val_alpha), ',', '.')::numeric END) AS val,
                     CASE WHEN u.unit IS NULL AND c.measurement OPERATOR(pg_catalog.=) 'bmi' THEN 1
                          ELSE (SELECT uc.factor FROM @extschema@.unit_conversion uc
                                 WHERE uc.kind OPERATOR(pg_catalog.=) c.measurement AND uc.unit OPERATOR(pg_catalog.=) u.unit) END AS factor
                FROM (SELECT pg_catalog.lower(pg_catalog.btrim(COALESCE(NULLIF(pg_catalog.btrim(tr.val_unit), ''), tt.reference_unit))) AS unit) u
          ) v ON true
    ),
    -- a result is one fact: it leaves the table it no longer maps to
    -- (keys as an array: an index scan however few rows the planner expects)
    gone_m AS (
        DELETE FROM careflags.measurement ms
         WHERE ms.source_system OPERATOR(pg_catalog.=) 'gnumed'
           AND ms.source_key OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT r.key FROM r WHERE r.plain AND r.measurement IS NULL))
    ),
    gone_a AS (
        DELETE FROM careflags.assessment a
         WHERE a.source_system OPERATOR(pg_catalog.=) 'gnumed'
           AND a.source_key OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT r.key FROM r WHERE r.plain AND r.instrument IS NULL))
    ),
    put_m AS (
        INSERT INTO careflags.measurement AS ms (patient_id, source_system, source_key, kind, value, measured_at)
        SELECT r.patient_id, 'gnumed', r.key, r.measurement, r.val, r.clin_when
          FROM r WHERE r.plain AND r.measurement IS NOT NULL
        ON CONFLICT ON CONSTRAINT measurement_source_key DO UPDATE
            SET kind = EXCLUDED.kind, value = EXCLUDED.value, measured_at = EXCLUDED.measured_at
            WHERE (ms.kind, ms.value, ms.measured_at) IS DISTINCT FROM (EXCLUDED.kind, EXCLUDED.value, EXCLUDED.measured_at)
    ),
    put_a AS (
        INSERT INTO careflags.assessment AS a (patient_id, source_system, source_key, instrument, assessed_at, total)
        SELECT r.patient_id, 'gnumed', r.key, r.instrument, r.clin_when, r.val
          FROM r WHERE r.plain AND r.instrument IS NOT NULL
        ON CONFLICT ON CONSTRAINT assessment_source_key DO UPDATE
            SET instrument = EXCLUDED.instrument, assessed_at = EXCLUDED.assessed_at, total = EXCLUDED.total,
                items = NULL, band = NULL, at_risk = NULL
            WHERE (a.instrument, a.assessed_at, a.total) IS DISTINCT FROM (EXCLUDED.instrument, EXCLUDED.assessed_at, EXCLUDED.total)
    )
    SELECT COALESCE(pg_catalog.array_agg(r.pk ORDER BY r.pk) FILTER (WHERE NOT r.plain), '{}') INTO odd FROM r;
    RETURN odd;
END
$$;
COMMENT ON FUNCTION @extschema@.map_test_results(integer[]) IS
    'map GNUmed test results (clin.test_result keys) to careflags measurements and assessments set-based, as sync_test_result does row by row; returns the keys it left to sync() (no careflags patient yet, no numeric value, unknown unit, fact of another patient)';

-- Maps GNUmed substance intakes set-based; returns the keys it left to sync().
CREATE FUNCTION @extschema@.map_substance_intakes(pks integer[]) RETURNS integer[]
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan  -- as map_test_results
AS $$
DECLARE
    odd integer[];
BEGIN
    WITH r AS MATERIALIZED (
        -- every noted key; plain: mapped here (gone rows and harmful use only
        -- lose their fact), else left to sync()
        SELECT k.pk, 'substance_intake/' OPERATOR(pg_catalog.||) k.pk::text AS key, pt.patient_id,
               (i.pk IS NULL OR i.harmful_use_type IS NOT NULL) AS no_medicine,
               COALESCE(CASE WHEN x.atc_substance OPERATOR(pg_catalog.~) '^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$' THEN x.atc_substance END,
                        (SELECT m.atc FROM @extschema@.substance_atc m
                          WHERE m.fk_substance OPERATOR(pg_catalog.=) s.pk
                             OR s.description OPERATOR(pg_catalog.~*) ('^\s*(' OPERATOR(pg_catalog.||) m.substance_pattern OPERATOR(pg_catalog.||) ')\s*$')
                          ORDER BY (m.fk_substance IS NULL), m.map_id
                          LIMIT 1),
                        CASE WHEN x.atc_product OPERATOR(pg_catalog.~) '^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$' THEN x.atc_product END) AS atc,
               'gnumed-substance:' OPERATOR(pg_catalog.||) s.pk::text AS code,
               s.description AS name,
               i.clin_when AS started_at,
               COALESCE(i.discontinued, i.clin_when OPERATOR(pg_catalog.+) i.duration) AS stopped_at,
               COALESCE((SELECT COALESCE(i.schedule OPERATOR(pg_catalog.~*) st.value, false) FROM @extschema@.settings st
                          WHERE st.name OPERATOR(pg_catalog.=) 'as_needed_pattern'), false) AS as_needed,
               (CASE WHEN i.discontinued IS NOT NULL THEN 'stopped' ELSE 'active' END)::careflags.medication_status AS status,
               i.pk IS NULL OR i.harmful_use_type IS NOT NULL
               OR (pt.patient_id IS NOT NULL
                   AND NOT COALESCE(COALESCE(i.discontinued, i.clin_when OPERATOR(pg_catalog.+) i.duration) OPERATOR(pg_catalog.<) i.clin_when, false)
                   AND NOT EXISTS (SELECT FROM careflags.medication md
                                    WHERE md.source_system OPERATOR(pg_catalog.=) 'gnumed'
                                      AND md.source_key OPERATOR(pg_catalog.=) ('substance_intake/' OPERATOR(pg_catalog.||) k.pk::text)
                                      AND md.patient_id OPERATOR(pg_catalog.<>) pt.patient_id)) AS plain
          FROM pg_catalog.unnest(pks) k(pk)
          LEFT JOIN clin.substance_intake i ON i.pk OPERATOR(pg_catalog.=) k.pk
          LEFT JOIN ref.lnk_dose2drug l ON l.pk OPERATOR(pg_catalog.=) i.fk_drug_component
          LEFT JOIN ref.dose d ON d.pk OPERATOR(pg_catalog.=) l.fk_dose
          LEFT JOIN ref.substance s ON s.pk OPERATOR(pg_catalog.=) d.fk_substance
          LEFT JOIN ref.drug_product dp ON dp.pk OPERATOR(pg_catalog.=) l.fk_drug_product
          LEFT JOIN clin.encounter e ON e.pk OPERATOR(pg_catalog.=) i.fk_encounter
          LEFT JOIN careflags.patient pt ON pt.source_system OPERATOR(pg_catalog.=) 'gnumed'
                                        AND pt.source_key OPERATOR(pg_catalog.=) e.fk_patient::text
          LEFT JOIN LATERAL (SELECT pg_catalog.upper(pg_catalog.btrim(s.atc)) AS atc_substance,
                                    pg_catalog.upper(pg_catalog.btrim(dp.atc_code)) AS atc_product) x ON true
    ),
    -- (keys as an array: an index scan however few rows the planner expects)
    gone AS (
        DELETE FROM careflags.medication md
         WHERE md.source_system OPERATOR(pg_catalog.=) 'gnumed'
           AND md.source_key OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT r.key FROM r WHERE r.plain AND r.no_medicine))
    ),
    put AS (
        INSERT INTO careflags.medication AS md (patient_id, source_system, source_key, atc, code, name, started_at, stopped_at, as_needed, status)
        SELECT r.patient_id, 'gnumed', r.key, r.atc, r.code, r.name, r.started_at, r.stopped_at, r.as_needed, r.status
          FROM r WHERE r.plain AND NOT r.no_medicine
        ON CONFLICT ON CONSTRAINT medication_source_key DO UPDATE
            SET atc = EXCLUDED.atc, code = EXCLUDED.code, name = EXCLUDED.name, started_at = EXCLUDED.started_at,
                stopped_at = EXCLUDED.stopped_at, as_needed = EXCLUDED.as_needed, status = EXCLUDED.status
            WHERE (md.atc, md.code, md.name, md.started_at, md.stopped_at, md.as_needed, md.status)
                  IS DISTINCT FROM (EXCLUDED.atc, EXCLUDED.code, EXCLUDED.name, EXCLUDED.started_at,
                                    EXCLUDED.stopped_at, EXCLUDED.as_needed, EXCLUDED.status)
    )
    SELECT COALESCE(pg_catalog.array_agg(r.pk ORDER BY r.pk) FILTER (WHERE NOT r.plain), '{}') INTO odd FROM r;
    RETURN odd;
END
$$;
COMMENT ON FUNCTION @extschema@.map_substance_intakes(integer[]) IS
    'map GNUmed substance intakes (clin.substance_intake keys) to careflags medications set-based, as sync_substance_intake does row by row; returns the keys it left to sync() (no careflags patient yet, a stop before the start, fact of another patient)';

-- Maps the keys of one kind the transaction noted so far (at commit, and
-- from the row trigger when the list grows long).
CREATE FUNCTION @extschema@.map_noted(kind text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    pks integer[];
    odd integer[];
    one integer;
    msg text;
    state text;
BEGIN
    pks := @extschema@.take_noted(kind);
    IF pg_catalog.cardinality(pks) OPERATOR(pg_catalog.=) 0 THEN
        RETURN;
    END IF;
    BEGIN
        BEGIN
            IF kind OPERATOR(pg_catalog.=) 'test_result' THEN
                odd := @extschema@.map_test_results(pks);
            ELSE
                odd := @extschema@.map_substance_intakes(pks);
            END IF;
        EXCEPTION WHEN OTHERS THEN
            IF @extschema@.strict() THEN
                RAISE;
            END IF;
            -- row by row: each row that fails is quarantined with its reason
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
            RAISE WARNING 'careflags_gnumed: % rows of % mapped one by one: %', pg_catalog.cardinality(pks), kind, msg;
            odd := pks;
        END;
        FOREACH one IN ARRAY odd LOOP
            IF kind OPERATOR(pg_catalog.=) 'test_result' THEN
                PERFORM @extschema@.sync(kind, one, (SELECT pg_catalog.to_jsonb(t) FROM clin.test_result t WHERE t.pk OPERATOR(pg_catalog.=) one));
            ELSE
                PERFORM @extschema@.sync(kind, one, (SELECT pg_catalog.to_jsonb(t) FROM clin.substance_intake t WHERE t.pk OPERATOR(pg_catalog.=) one));
            END IF;
        END LOOP;
    EXCEPTION WHEN OTHERS THEN
        IF @extschema@.strict() THEN
            RAISE;
        END IF;
        -- not even row by row (sync quarantines its own failures): the
        -- keys go to the quarantine with the reason, GNUmed's write goes on
        GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, state = RETURNED_SQLSTATE;
        BEGIN
            INSERT INTO careflags.quarantine (fact_table, source_system, source_key, reason, payload)
            SELECT CASE kind WHEN 'test_result' THEN 'measurement' ELSE 'medication' END, 'gnumed',
                   kind OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) k::text,
                   'not mapped: ' OPERATOR(pg_catalog.||) msg OPERATOR(pg_catalog.||) ' (SQLSTATE ' OPERATOR(pg_catalog.||) state OPERATOR(pg_catalog.||) ')',
                   pg_catalog.jsonb_build_object('gnumed_table', kind)
              FROM pg_catalog.unnest(pks) k;
            RAISE WARNING 'careflags_gnumed: % rows of % quarantined: %', pg_catalog.cardinality(pks), kind, msg;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'careflags_gnumed: % rows of % could not be mapped (%), nor quarantined (%)',
                pg_catalog.cardinality(pks), kind, msg, SQLERRM;
        END;
    END;
END
$$;
COMMENT ON FUNCTION @extschema@.map_noted(text) IS
    'maps the GNUmed rows of one kind (test_result, substance_intake) the transaction noted so far: set-based (map_test_results, map_substance_intakes), the rest and everything after a failure through sync(), which quarantines; what fails even there is quarantined with the reason; raises only when careflags.strict';

-- The commit-time step (careflags.note_keys() calls it with the table, at
-- commit and when 1,024 keys of a long transaction wait): map what the
-- transaction noted.
CREATE FUNCTION @extschema@.map_noted_keys(tbl pg_catalog.regclass) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pg_catalog.current_setting('careflags.defer_evaluation', true) IS DISTINCT FROM 'on' THEN
        PERFORM pg_catalog.set_config('careflags.defer_evaluation', 'on', true);
    END IF;
    IF tbl OPERATOR(pg_catalog.=) 'clin.test_result'::pg_catalog.regclass THEN
        PERFORM @extschema@.map_noted('test_result');
    ELSIF tbl OPERATOR(pg_catalog.=) 'clin.substance_intake'::pg_catalog.regclass THEN
        PERFORM @extschema@.map_noted('substance_intake');
    ELSE
        PERFORM careflags.take_noted_keys(tbl);
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.map_noted_keys(pg_catalog.regclass) IS
    'commit step of the careflags.note_keys() triggers on clin.test_result and clin.substance_intake: maps the rows the transaction noted (map_noted), careflags'' evaluation deferred to commit; raises only when careflags.strict';
REVOKE ALL ON FUNCTION @extschema@.map_noted_keys(pg_catalog.regclass) FROM PUBLIC;

-- The triggers of a results or intakes table: careflags.note_keys() notes
-- the key for map_noted_keys() at commit (every 1,024 keys of a long
-- transaction at once), or, with careflags_gnumed.evaluate_at_commit = off,
-- on_gnumed_row() maps the row at once; their WHEN clauses choose, so a
-- write runs only the one it needs.
CREATE FUNCTION @extschema@.wire_noted(nsp name, tbl name, kind text, events text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    at_once text := 'COALESCE(pg_catalog.current_setting(''careflags_gnumed.evaluate_at_commit'', true), '''') OPERATOR(pg_catalog.=) ''off''';
BEGIN
    EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS zzzz_careflags_sync ON %I.%I', nsp, tbl);
    EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS zzzz_careflags_note ON %I.%I', nsp, tbl);
    EXECUTE pg_catalog.format(
        'CREATE TRIGGER zzzz_careflags_sync AFTER %s ON %I.%I FOR EACH ROW WHEN (%s) EXECUTE FUNCTION @extschema@.on_gnumed_row(%L)',
        events, nsp, tbl, at_once, kind);
    EXECUTE pg_catalog.format(
        'CREATE TRIGGER zzzz_careflags_note AFTER %s ON %I.%I FOR EACH ROW WHEN (NOT (%s)) EXECUTE FUNCTION careflags.note_keys(%L, %L, %L)',
        events, nsp, tbl, at_once, 'pk', '@extschema@.map_noted_keys(pg_catalog.regclass)', '1024');
    EXECUTE pg_catalog.format('ALTER TRIGGER zzzz_careflags_sync ON %I.%I DEPENDS ON EXTENSION careflags_gnumed', nsp, tbl);
    EXECUTE pg_catalog.format('ALTER TRIGGER zzzz_careflags_note ON %I.%I DEPENDS ON EXTENSION careflags_gnumed', nsp, tbl);
    EXECUTE pg_catalog.format(
        'COMMENT ON TRIGGER zzzz_careflags_sync ON %I.%I IS %L', nsp, tbl,
        'careflags_gnumed: maps this GNUmed row to careflags facts at once when careflags_gnumed.evaluate_at_commit = off (removed by DROP EXTENSION careflags_gnumed)');
    EXECUTE pg_catalog.format(
        'COMMENT ON TRIGGER zzzz_careflags_note ON %I.%I IS %L', nsp, tbl,
        'careflags_gnumed: notes this GNUmed row''s key; careflags_gnumed.map_noted_keys maps the transaction''s rows at its commit (removed by DROP EXTENSION careflags_gnumed)');
END
$$;
COMMENT ON FUNCTION @extschema@.wire_noted(name, name, text, text) IS
    'puts the triggers of a GNUmed results or intakes table in place: zzzz_careflags_note (careflags.note_keys, mapping at commit) and zzzz_careflags_sync (at once, only with careflags_gnumed.evaluate_at_commit = off)';
REVOKE ALL ON FUNCTION @extschema@.wire_noted(name, name, text, text) FROM PUBLIC;

-- The triggers of results and intakes, as a fresh install wires them
-- (where 1.0's triggers are on GNUmed's tables).
DO $wire$
BEGIN
    IF NOT @extschema@.wired() THEN
        RETURN;
    END IF;
    PERFORM @extschema@.wire_noted('clin', 'test_result', 'test_result', 'INSERT OR UPDATE OR DELETE');
    PERFORM @extschema@.wire_noted('clin', 'substance_intake', 'substance_intake', 'INSERT OR UPDATE OR DELETE');
END
$wire$;

-- ==== upserts that name their constraint (issue 19) ====
-- Every upsert of a careflags fact names its unique constraint,
-- <table>_source_key, instead of its columns: on one server it is UNIQUE
-- (source_system, source_key); after careflags.distribute() on Citus it
-- includes patient_id under the same name.  (The set-based mappers of
-- issue 17 above name it too.)  careflags_gnumed itself is not supported on
-- Citus (README: careflags on Citus).

CREATE OR REPLACE FUNCTION @extschema@.sync_identity(pk_identity integer) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
    pid bigint;
BEGIN
    SELECT i.pk, i.deleted, i.gender, i.dob, i.deceased, n.lastnames, n.firstnames
      INTO r
      FROM dem.identity i
      LEFT JOIN dem.names n ON n.id_identity OPERATOR(pg_catalog.=) i.pk AND n.active
     WHERE i.pk OPERATOR(pg_catalog.=) pk_identity
     ORDER BY n.id DESC
     LIMIT 1;
    IF NOT FOUND OR r.deleted THEN
        -- GNUmed deletes a person by setting dem.identity.deleted.
        PERFORM @extschema@.forget('patient', pk_identity::text);
        RETURN NULL;
    END IF;
    INSERT INTO careflags.patient AS p (source_system, source_key, display_name, birth_date, sex, deceased, deceased_at)
    VALUES ('gnumed', r.pk::text,
            NULLIF(pg_catalog.concat_ws(', ', r.lastnames, r.firstnames), ''),
            (r.dob AT TIME ZONE 'UTC')::date,
            (CASE r.gender WHEN 'f' THEN 'female' WHEN 'm' THEN 'male'
                           WHEN 'tf' THEN 'other' WHEN 'tm' THEN 'other' WHEN 'h' THEN 'other'
                           ELSE 'unknown' END)::careflags.sex,
            r.deceased IS NOT NULL, r.deceased)
    ON CONFLICT ON CONSTRAINT patient_source_key DO UPDATE
        SET display_name = EXCLUDED.display_name, birth_date = EXCLUDED.birth_date, sex = EXCLUDED.sex,
            deceased = EXCLUDED.deceased, deceased_at = EXCLUDED.deceased_at, updated_at = pg_catalog.now()
        WHERE (p.display_name, p.birth_date, p.sex, p.deceased, p.deceased_at)
              IS DISTINCT FROM (EXCLUDED.display_name, EXCLUDED.birth_date, EXCLUDED.sex, EXCLUDED.deceased, EXCLUDED.deceased_at)
    RETURNING p.patient_id INTO pid;
    IF pid IS NULL THEN
        pid := @extschema@.patient_id_of(pk_identity);
    END IF;
    RETURN pid;
END
$$;


CREATE OR REPLACE FUNCTION @extschema@.sync_hospital_stay(pk_stay integer) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    key text := 'hospital_stay/' OPERATOR(pg_catalog.||) pk_stay::text;
    r record;
    m record;
    pid bigint;
BEGIN
    SELECT h.clin_when, h.discharge, h.fk_org_unit, e.fk_patient
      INTO r
      FROM clin.hospital_stay h JOIN clin.encounter e ON e.pk OPERATOR(pg_catalog.=) h.fk_encounter
     WHERE h.pk OPERATOR(pg_catalog.=) pk_stay;
    IF FOUND THEN
        SELECT * INTO m FROM @extschema@.setting_of_org_unit(r.fk_org_unit);
    END IF;
    IF NOT FOUND OR m.setting IS NULL THEN
        PERFORM @extschema@.forget('episode', key);
        RETURN;
    END IF;
    pid := @extschema@.ensure_patient(r.fk_patient);
    INSERT INTO careflags.unit AS u (unit_id, name, setting) VALUES (m.unit_id, m.unit_name, m.setting)
        ON CONFLICT (unit_id) DO UPDATE SET name = EXCLUDED.name, setting = EXCLUDED.setting
        WHERE (u.name, u.setting) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.setting);
    PERFORM @extschema@.forget_if_moved('episode', key, pid);
    INSERT INTO careflags.episode AS ep (patient_id, source_system, source_key, setting, unit_id, started_at, ended_at)
    VALUES (pid, 'gnumed', key, m.setting, m.unit_id, r.clin_when, r.discharge)
    ON CONFLICT ON CONSTRAINT episode_source_key DO UPDATE
        SET setting = EXCLUDED.setting, unit_id = EXCLUDED.unit_id,
            started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at
        WHERE (ep.setting, ep.unit_id, ep.started_at, ep.ended_at)
              IS DISTINCT FROM (EXCLUDED.setting, EXCLUDED.unit_id, EXCLUDED.started_at, EXCLUDED.ended_at);
END
$$;


CREATE OR REPLACE FUNCTION @extschema@.sync_procedure(pk_procedure integer) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    key text := 'procedure/' OPERATOR(pg_catalog.||) pk_procedure::text;
    r record;
    m @extschema@.procedure_map;
    pid bigint;
    f text;
BEGIN
    SELECT pr.clin_when, pr.clin_end, pr.is_ongoing,
           pg_catalog.concat_ws(' ', pr.narrative, pr.comment) AS txt, e.fk_patient
      INTO r
      FROM clin.procedure pr JOIN clin.encounter e ON e.pk OPERATOR(pg_catalog.=) pr.fk_encounter
     WHERE pr.pk OPERATOR(pg_catalog.=) pk_procedure;
    IF FOUND THEN
        m := @extschema@.procedure_target(r.txt);
    END IF;
    -- A procedure is at most one fact: drop it from the tables it no longer maps to.
    FOREACH f IN ARRAY ARRAY['medication_review', 'fall', 'assessment', 'care_plan'] LOOP
        IF m.fact IS NULL OR f OPERATOR(pg_catalog.<>) m.fact THEN
            PERFORM @extschema@.forget(f, key);
        END IF;
    END LOOP;
    IF m.fact IS NULL THEN
        RETURN;
    END IF;
    pid := @extschema@.ensure_patient(r.fk_patient);
    PERFORM @extschema@.forget_if_moved(m.fact, key, pid);
    IF m.fact OPERATOR(pg_catalog.=) 'medication_review' THEN
        INSERT INTO careflags.medication_review AS x (patient_id, source_system, source_key, reviewed_at, code)
        VALUES (pid, 'gnumed', key, r.clin_when, m.code)
        ON CONFLICT ON CONSTRAINT medication_review_source_key DO UPDATE SET reviewed_at = EXCLUDED.reviewed_at, code = EXCLUDED.code
            WHERE (x.reviewed_at, x.code) IS DISTINCT FROM (EXCLUDED.reviewed_at, EXCLUDED.code);
    ELSIF m.fact OPERATOR(pg_catalog.=) 'fall' THEN
        INSERT INTO careflags.fall AS x (patient_id, source_system, source_key, fell_at, code)
        VALUES (pid, 'gnumed', key, r.clin_when, m.code)
        ON CONFLICT ON CONSTRAINT fall_source_key DO UPDATE SET fell_at = EXCLUDED.fell_at, code = EXCLUDED.code
            WHERE (x.fell_at, x.code) IS DISTINCT FROM (EXCLUDED.fell_at, EXCLUDED.code);
    ELSIF m.fact OPERATOR(pg_catalog.=) 'assessment' THEN
        INSERT INTO careflags.assessment AS x (patient_id, source_system, source_key, instrument, assessed_at)
        VALUES (pid, 'gnumed', key, m.instrument, r.clin_when)
        ON CONFLICT ON CONSTRAINT assessment_source_key DO UPDATE SET instrument = EXCLUDED.instrument, assessed_at = EXCLUDED.assessed_at
            WHERE (x.instrument, x.assessed_at) IS DISTINCT FROM (EXCLUDED.instrument, EXCLUDED.assessed_at);
    ELSE
        INSERT INTO careflags.care_plan AS x (patient_id, source_system, source_key, kind, started_at, ended_at)
        VALUES (pid, 'gnumed', key, m.plan_kind, r.clin_when,
                CASE WHEN NOT r.is_ongoing THEN r.clin_end END)
        ON CONFLICT ON CONSTRAINT care_plan_source_key DO UPDATE
            SET kind = EXCLUDED.kind, started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at
            WHERE (x.kind, x.started_at, x.ended_at) IS DISTINCT FROM (EXCLUDED.kind, EXCLUDED.started_at, EXCLUDED.ended_at);
    END IF;
END
$$;

-- ==== end: upserts that name their constraint (issue 19) ====
