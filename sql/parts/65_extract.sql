-- sql/parts/65_extract.sql - pseudonymised registry extract.
--
-- One row per patient and period: a pseudonym instead of any identifier, an
-- age band instead of the birth date, and the patient's category in each
-- indicator of 60_reports.sql.  The pseudonym is HMAC-SHA256 (OpenSSL, in
-- extension/pseudonym.c) of the patient's source key under a site secret:
-- the same patient gets the same pseudonym in every extract until the secret
-- is rotated, after which the new pseudonyms cannot be linked to the old.
--
-- The secret is drawn from OpenSSL's CSPRNG when the extension is created
-- and kept in careflags.pseudonym_key, which has no grants at all: only the
-- extension owner (a superuser) reads it.  careflags_quality runs the
-- extract through a SECURITY DEFINER function; careflags_admin rotates the
-- secret through another.  pg_dump keeps the secret (so pseudonyms survive a
-- dump and restore): a dump must be protected like the database itself.
\echo Use "CREATE EXTENSION careflags" to load this file. \quit

CREATE FUNCTION @extschema@.pseudonym_new_secret() RETURNS bytea
    LANGUAGE c VOLATILE STRICT
    AS 'MODULE_PATHNAME', 'careflags_pseudonym_new_secret';
COMMENT ON FUNCTION @extschema@.pseudonym_new_secret() IS
    'internal: 32 random bytes from OpenSSL''s CSPRNG (RAND_bytes), a new pseudonym secret';

CREATE FUNCTION @extschema@.pseudonym_hmac(secret bytea, message text) RETURNS text
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'careflags_pseudonym_hmac';
COMMENT ON FUNCTION @extschema@.pseudonym_hmac(bytea, text) IS
    'internal: HMAC-SHA256 (OpenSSL) of message under secret, as 64 hex digits';

REVOKE ALL ON FUNCTION @extschema@.pseudonym_new_secret() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.pseudonym_hmac(bytea, text) FROM PUBLIC;

-- Exactly one row: the current secret.  Rotation replaces it (the old one
-- is gone, so old and new pseudonyms cannot be linked).
CREATE TABLE @extschema@.pseudonym_key (
    one         boolean PRIMARY KEY DEFAULT true CHECK (one),
    secret      bytea NOT NULL CHECK (pg_catalog.length(secret) OPERATOR(pg_catalog.>=) 16),
    generation  integer NOT NULL DEFAULT 1 CHECK (generation OPERATOR(pg_catalog.>) 0),
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by  name NOT NULL DEFAULT SESSION_USER
);
COMMENT ON TABLE @extschema@.pseudonym_key IS
    'the site secret of the extract pseudonyms (one row); no grants: only the extension owner reads it; rotate with careflags.rotate_pseudonym_key()';
COMMENT ON COLUMN @extschema@.pseudonym_key.generation IS
    'counts rotations; extracts carry it, so pseudonyms of different generations are known not to match';
REVOKE ALL ON @extschema@.pseudonym_key FROM PUBLIC;

-- pg_restore loads the dumped row after CREATE EXTENSION made a fresh one:
-- the restored secret replaces the fresh secret.
CREATE FUNCTION @extschema@.pseudonym_key_replace() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    DELETE FROM @extschema@.pseudonym_key;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.pseudonym_key_replace() IS
    'internal: a secret inserted (by pg_restore) replaces the one made at CREATE EXTENSION, keeping the table at one row';
REVOKE ALL ON FUNCTION @extschema@.pseudonym_key_replace() FROM PUBLIC;
CREATE TRIGGER replace_on_insert BEFORE INSERT ON @extschema@.pseudonym_key
    FOR EACH ROW EXECUTE FUNCTION @extschema@.pseudonym_key_replace();
COMMENT ON TRIGGER replace_on_insert ON @extschema@.pseudonym_key IS
    'a secret restored by pg_restore replaces the one CREATE EXTENSION made';

INSERT INTO @extschema@.pseudonym_key (secret) VALUES (@extschema@.pseudonym_new_secret());
SELECT pg_catalog.pg_extension_config_dump('@extschema@.pseudonym_key', '');

-- What a message to the HMAC is: the patient's source system and source key,
-- separated by a unit separator (U+001F), so equal keys of two systems do not
-- collide.
CREATE FUNCTION @extschema@.pseudonym_message(source_system text, source_key text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN source_system OPERATOR(pg_catalog.||) pg_catalog.chr(31) OPERATOR(pg_catalog.||) source_key;
COMMENT ON FUNCTION @extschema@.pseudonym_message(text, text) IS
    'the text a patient''s pseudonym is the HMAC of: source_system, U+001F, source_key';

-- Rotation: a new secret from the CSPRNG; every pseudonym changes.
CREATE FUNCTION @extschema@.rotate_pseudonym_key() RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    g integer;
BEGIN
    UPDATE @extschema@.pseudonym_key
       SET secret = @extschema@.pseudonym_new_secret(),
           generation = generation + 1,
           created_at = pg_catalog.now(),
           created_by = SESSION_USER
     RETURNING generation INTO g;
    IF g IS NULL THEN
        INSERT INTO @extschema@.pseudonym_key (secret) VALUES (@extschema@.pseudonym_new_secret())
            RETURNING generation INTO g;
    END IF;
    RAISE NOTICE 'pseudonym secret rotated: generation %; extracts made from now on cannot be linked to earlier ones', g;
    RETURN g;
END
$$;
COMMENT ON FUNCTION @extschema@.rotate_pseudonym_key() IS
    'replace the pseudonym secret with a fresh one from OpenSSL''s CSPRNG (careflags_admin); returns the new generation';
REVOKE ALL ON FUNCTION @extschema@.rotate_pseudonym_key() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.rotate_pseudonym_key() TO careflags_admin;

-- When the secret was made and its generation; never the secret.
CREATE FUNCTION @extschema@.pseudonym_key_info(OUT generation integer, OUT created_at timestamptz,
                                               OUT created_by name)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT k.generation, k.created_at, k.created_by FROM @extschema@.pseudonym_key k $$;
COMMENT ON FUNCTION @extschema@.pseudonym_key_info() IS
    'generation and creation time of the current pseudonym secret (not the secret)';
REVOKE ALL ON FUNCTION @extschema@.pseudonym_key_info() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.pseudonym_key_info() TO careflags_quality, careflags_admin;

-- Age bands of the extract: 90 and over is one band (top-coded).
CREATE FUNCTION @extschema@.age_band(age integer) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN CASE
        WHEN age IS NULL THEN 'unknown'
        WHEN age OPERATOR(pg_catalog.<) 18 THEN '0-17'
        WHEN age OPERATOR(pg_catalog.<) 50 THEN '18-49'
        WHEN age OPERATOR(pg_catalog.<) 67 THEN '50-66'
        WHEN age OPERATOR(pg_catalog.<) 70 THEN '67-69'
        WHEN age OPERATOR(pg_catalog.>=) 90 THEN '90+'
        ELSE ((age OPERATOR(pg_catalog./) 5) OPERATOR(pg_catalog.*) 5)::text OPERATOR(pg_catalog.||) '-'
             OPERATOR(pg_catalog.||) ((age OPERATOR(pg_catalog./) 5) OPERATOR(pg_catalog.*) 5 OPERATOR(pg_catalog.+) 4)::text
    END;
COMMENT ON FUNCTION @extschema@.age_band(integer) IS
    'age band of the extract: 0-17, 18-49, 50-66, 67-69, 70-74, ..., 85-89, 90+, unknown';
GRANT EXECUTE ON FUNCTION @extschema@.age_band(integer) TO PUBLIC;

-- The extract.  For each period end (period_end, then `periods - 1` steps of
-- `step` back) one row per patient of the population at that end, with the
-- category the patient has in each indicator (NULL where the patient is not
-- in that indicator's population, e.g. nutrition_plan for someone never
-- found at risk).
CREATE FUNCTION @extschema@.extract_rows(p_period_end date, p_periods integer, p_step interval,
                                         p_min_age integer, p_setting @extschema@.care_setting, p_unit text)
    RETURNS TABLE (pseudonym text, key_generation integer, period_end date,
                   age_band text, sex @extschema@.sex, setting @extschema@.care_setting, unit_id text,
                   nutrition_screening text, nutrition_at_risk boolean, nutrition_plan text,
                   medication_review text,
                   fall_risk_assessment text, fall_risk_high boolean, fall_risk_plan text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    -- five function scans joined look expensive to the planner; compiling
    -- them with JIT costs more than the query itself
    SET jit = off AS
$$
#variable_conflict use_column
DECLARE
    v_end   date := COALESCE($1, @extschema@.report_today());
    v_point date;
    v_key   bytea;
    v_gen   integer;
    k       integer;
BEGIN
    IF $2 IS NULL OR $2 < 1 OR $2 > 120 THEN
        RAISE EXCEPTION 'periods must be between 1 and 120, not %', COALESCE($2::text, 'null')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF $3 IS NULL OR $3 <= interval '0' THEN
        RAISE EXCEPTION 'step must be a positive interval'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT pk.secret, pk.generation INTO v_key, v_gen FROM @extschema@.pseudonym_key pk;
    IF v_key IS NULL THEN
        RAISE EXCEPTION 'no pseudonym secret'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'An administrator makes one with SELECT careflags.rotate_pseudonym_key();';
    END IF;
    FOR k IN 0 .. $2 - 1 LOOP
        v_point := (v_end - k * $3)::date;
        RETURN QUERY
        WITH base AS (
            -- everyone in the setting at the period end; medication_review
            -- defaults to long-term residents only when no setting is given,
            -- so the population comes from an indicator without a default.
            SELECT ip.patient_id, ip.unit_id, ip.setting, ip.category, ip.at_risk
            FROM @extschema@.indicator_patients('nutrition_screening', v_point, $4, $5, $6) ip
        ), fra AS (
            SELECT ip.patient_id, ip.category, ip.at_risk
            FROM @extschema@.indicator_patients('fall_risk_assessment', v_point, $4, $5, $6) ip
        ), np AS (
            SELECT ip.patient_id, ip.category, ip.at_risk
            FROM @extschema@.indicator_patients('nutrition_plan', v_point, $4, $5, $6) ip
        ), fp AS (
            SELECT ip.patient_id, ip.category, ip.at_risk
            FROM @extschema@.indicator_patients('fall_risk_plan', v_point, $4, $5, $6) ip
        ), mr AS (
            SELECT ip.patient_id, ip.category
            FROM @extschema@.indicator_patients('medication_review', v_point, $4,
                                                 COALESCE($5, 'nursing_home_long_term'), $6) ip
        )
        SELECT @extschema@.pseudonym_hmac(v_key, @extschema@.pseudonym_message(p.source_system, p.source_key)),
               v_gen, v_point,
               @extschema@.age_band(EXTRACT(year FROM pg_catalog.age(v_point, p.birth_date))::integer),
               p.sex, b.setting, b.unit_id,
               b.category,
               CASE WHEN np.patient_id IS NOT NULL THEN NULLIF(np.at_risk, false) ELSE b.at_risk END,
               np.category, mr.category,
               fra.category,
               CASE WHEN fp.patient_id IS NOT NULL THEN NULLIF(fp.at_risk, false) ELSE fra.at_risk END,
               fp.category
        FROM base b
        JOIN @extschema@.patient p ON p.patient_id = b.patient_id
        LEFT JOIN fra ON fra.patient_id = b.patient_id
        LEFT JOIN np ON np.patient_id = b.patient_id
        LEFT JOIN fp ON fp.patient_id = b.patient_id
        LEFT JOIN mr ON mr.patient_id = b.patient_id
        ORDER BY 1;
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.extract_rows(date, integer, interval, integer, @extschema@.care_setting, text) IS
    'internal: the rows of careflags.extract(); not granted to anyone';
REVOKE ALL ON FUNCTION @extschema@.extract_rows(date, integer, interval, integer, @extschema@.care_setting, text) FROM PUBLIC;

CREATE FUNCTION @extschema@.extract(period_end date DEFAULT NULL,
                                    periods integer DEFAULT 1,
                                    step interval DEFAULT '1 year',
                                    min_age integer DEFAULT 67,
                                    setting @extschema@.care_setting DEFAULT NULL,
                                    unit text DEFAULT NULL)
    RETURNS TABLE (pseudonym text, key_generation integer, period_end date,
                   age_band text, sex @extschema@.sex, setting @extschema@.care_setting, unit_id text,
                   nutrition_screening text, nutrition_at_risk boolean, nutrition_plan text,
                   medication_review text,
                   fall_risk_assessment text, fall_risk_high boolean, fall_risk_plan text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT * FROM @extschema@.extract_rows($1, $2, $3, $4, $5, $6) $$;
COMMENT ON FUNCTION @extschema@.extract(date, integer, interval, integer, @extschema@.care_setting, text) IS
    'pseudonymised registry extract: one row per patient and period end (period_end and periods-1 steps back), with pseudonym = HMAC-SHA256 of the source key under the site secret, age band, sex, setting, unit and the category in each indicator; no names, birth dates or source keys';
REVOKE ALL ON FUNCTION @extschema@.extract(date, integer, interval, integer, @extschema@.care_setting, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.extract(date, integer, interval, integer, @extschema@.care_setting, text)
    TO careflags_quality, careflags_admin;
