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

-- ==== extract: month ends, classes of at least k, audited (issue 13) ====
-- The extract.  Its period ends are month ends that are over
-- (careflags.report_month_end), `periods - 1` steps of whole months back;
-- ages are bands at each period end.  So a registry learns, of a pseudonym,
-- at most the month it first appears and the month its age band changes.
-- Within each period end, every class of rows with the same (setting, unit,
-- sex, age band) holds at least k = careflags.min_cell_size rows: the rows
-- of a smaller class get a wider age band (under 67, 67-79, 80+), then no
-- unit, then no sex and one age band (67+ or all ages); rows still in a
-- class below k are left out.  Column generalised names what was widened;
-- every call is logged in careflags.extract_log.

-- The wider age band of the extract's generalisation.
CREATE FUNCTION @extschema@.age_band_wide(band text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN CASE
        WHEN band IN ('67-69', '70-74', '75-79') THEN '67-79'
        WHEN band IN ('80-84', '85-89', '90+') THEN '80+'
        WHEN band = 'unknown' THEN 'unknown'
        ELSE '0-66'
    END;
COMMENT ON FUNCTION @extschema@.age_band_wide(text) IS
    'the wider age band an extract row gets when its class is below careflags.min_cell_size: 0-66, 67-79, 80+, unknown';

CREATE FUNCTION @extschema@.extract_rows(p_period_end date, p_periods integer, p_step interval,
                                         p_min_age integer, p_setting @extschema@.care_setting, p_unit text)
    RETURNS TABLE (pseudonym text, key_generation integer, period_end date,
                   age_band text, sex @extschema@.sex, setting @extschema@.care_setting, unit_id text,
                   nutrition_screening text, nutrition_at_risk boolean, nutrition_plan text,
                   medication_review text,
                   fall_risk_assessment text, fall_risk_high boolean, fall_risk_plan text,
                   generalised text[])
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    -- five function scans joined look expensive to the planner; compiling
    -- them with JIT costs more than the query itself
    SET jit = off AS
$$
#variable_conflict use_column
DECLARE
    v_end    date := @extschema@.report_month_end($1);
    v_point  date;
    v_key    bytea;
    v_gen    integer;
    v_months integer;
    v_k      integer := @extschema@.min_cell_size();
    k        integer;
BEGIN
    IF $2 IS NULL OR $2 < 1 OR $2 > 120 THEN
        RAISE EXCEPTION 'periods must be between 1 and 120, not %', COALESCE($2::text, 'null')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF $3 IS NULL OR EXTRACT(day FROM $3) <> 0 OR EXTRACT(epoch FROM $3 - pg_catalog.date_trunc('month', $3)) <> 0
       OR EXTRACT(year FROM $3) * 12 + EXTRACT(month FROM $3) < 1 THEN
        RAISE EXCEPTION 'step must be a whole number of months, at least one, not %', COALESCE($3::text, 'null')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Extracts are made at month ends only.';
    END IF;
    v_months := (EXTRACT(year FROM $3) * 12 + EXTRACT(month FROM $3))::integer;
    SELECT pk.secret, pk.generation INTO v_key, v_gen FROM @extschema@.pseudonym_key pk;
    IF v_key IS NULL THEN
        RAISE EXCEPTION 'no pseudonym secret'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'An administrator makes one with SELECT careflags.rotate_pseudonym_key();';
    END IF;
    FOR k IN 0 .. $2 - 1 LOOP
        v_point := (pg_catalog.date_trunc('month', v_end::timestamp)
                    - pg_catalog.make_interval(months => k * v_months - 1) - interval '1 day')::date;
        -- The patients' rows come from indicator_patients (on Citus each
        -- of its queries runs on the shards and the rows are gathered on the
        -- coordinator); this query reads no table itself, so the HMAC is
        -- computed where it runs, and the secret is never sent to another
        -- node (on Citus: computed on the coordinator).
        RETURN QUERY
        WITH base AS (
            -- everyone in the setting at the period end; medication_review
            -- defaults to long-term residents only when no setting is given,
            -- so the population comes from an indicator without a default.
            SELECT ip.patient_id, ip.unit_id, ip.setting, ip.category, ip.at_risk,
                   ip.source_system, ip.source_key, ip.birth_date, ip.sex
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
        ), r0 AS (
            SELECT @extschema@.pseudonym_hmac(v_key, @extschema@.pseudonym_message(b.source_system, b.source_key)) AS pseudonym,
                   @extschema@.age_band(EXTRACT(year FROM pg_catalog.age(v_point, b.birth_date))::integer) AS age_band,
                   b.sex, b.setting, b.unit_id,
                   b.category AS nutrition_screening,
                   CASE WHEN np.patient_id IS NOT NULL THEN NULLIF(np.at_risk, false) ELSE b.at_risk END AS nutrition_at_risk,
                   np.category AS nutrition_plan, mr.category AS medication_review,
                   fra.category AS fall_risk_assessment,
                   CASE WHEN fp.patient_id IS NOT NULL THEN NULLIF(fp.at_risk, false) ELSE fra.at_risk END AS fall_risk_high,
                   fp.category AS fall_risk_plan
            FROM base b
            LEFT JOIN fra ON fra.patient_id = b.patient_id
            LEFT JOIN np ON np.patient_id = b.patient_id
            LEFT JOIN fp ON fp.patient_id = b.patient_id
            LEFT JOIN mr ON mr.patient_id = b.patient_id
        ), r1 AS (
            -- step 1: a wider age band for rows of a class below k
            SELECT r0.*, pg_catalog.count(*) OVER (PARTITION BY r0.setting, r0.unit_id, r0.sex, r0.age_band) < v_k AS g1
            FROM r0
        ), r1b AS (
            SELECT r1.*, CASE WHEN r1.g1 THEN @extschema@.age_band_wide(r1.age_band) ELSE r1.age_band END AS band1
            FROM r1
        ), r2 AS (
            -- step 2: no unit for rows still in a class below k
            SELECT r1b.*, r1b.g1 AND pg_catalog.count(*) OVER (PARTITION BY r1b.setting, r1b.unit_id, r1b.sex, r1b.band1) < v_k AS g2
            FROM r1b
        ), r2b AS (
            SELECT r2.*, CASE WHEN r2.g2 THEN NULL ELSE r2.unit_id END AS unit2 FROM r2
        ), r3 AS (
            -- step 3: no sex and one age band
            SELECT r2b.*, r2b.g2 AND pg_catalog.count(*) OVER (PARTITION BY r2b.setting, r2b.unit2, r2b.sex, r2b.band1) < v_k AS g3
            FROM r2b
        ), r3b AS (
            SELECT r3.*, CASE WHEN r3.g3 THEN NULL ELSE r3.sex END AS sex3,
                   CASE WHEN NOT r3.g3 THEN r3.band1 WHEN r3.band1 IN ('67-79', '80+') THEN '67+' ELSE 'all' END AS band3
            FROM r3
        ), r4 AS (
            -- step 4: rows still in a class below k are left out
            SELECT r3b.*, pg_catalog.count(*) OVER (PARTITION BY r3b.setting, r3b.unit2, r3b.sex3, r3b.band3) < v_k AS g4
            FROM r3b
        )
        SELECT r4.pseudonym, v_gen, v_point, r4.band3, r4.sex3, r4.setting, r4.unit2,
               r4.nutrition_screening, r4.nutrition_at_risk, r4.nutrition_plan, r4.medication_review,
               r4.fall_risk_assessment, r4.fall_risk_high, r4.fall_risk_plan,
               CASE WHEN r4.g4 THEN '{left_out}'::text[]
                    WHEN r4.g3 THEN '{age_band,unit_id,sex}'::text[]
                    WHEN r4.g2 THEN '{age_band,unit_id}'::text[]
                    WHEN r4.g1 THEN '{age_band}'::text[]
                    ELSE '{}'::text[] END
        FROM r4
        ORDER BY 1;
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.extract_rows(date, integer, interval, integer, @extschema@.care_setting, text) IS
    'internal: the rows of careflags.extract(), rows to leave out marked {left_out}; not granted to anyone';
REVOKE ALL ON FUNCTION @extschema@.extract_rows(date, integer, interval, integer, @extschema@.care_setting, text) FROM PUBLIC;

-- Who asked for which extract, when, and how many rows it gave.
CREATE TABLE @extschema@.extract_log (
    log_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    called_at       timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    session_role    name NOT NULL DEFAULT SESSION_USER,
    acting_role     name NOT NULL,
    arguments       jsonb NOT NULL,
    rows_returned   bigint NOT NULL,
    rows_left_out   bigint NOT NULL
);
COMMENT ON TABLE @extschema@.extract_log IS
    'one row per careflags.extract() call: who (session and current role), when, the arguments as given, the rows returned and the rows left out (classes below careflags.min_cell_size); careflags_admin reads it';
COMMENT ON COLUMN @extschema@.extract_log.acting_role IS 'the role the caller acted as (SET ROLE; else the login)';
REVOKE ALL ON @extschema@.extract_log FROM PUBLIC;
GRANT SELECT ON @extschema@.extract_log TO careflags_admin;
COMMENT ON SEQUENCE @extschema@.extract_log_log_id_seq IS 'ids of careflags.extract_log (saved by pg_dump)';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.extract_log', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.extract_log_log_id_seq', '');

-- The rows of the extract without those left out, and the call logged.
CREATE FUNCTION @extschema@.extract_logged(p_period_end date, p_periods integer, p_step interval,
                                           p_min_age integer, p_setting @extschema@.care_setting, p_unit text)
    RETURNS TABLE (pseudonym text, key_generation integer, period_end date,
                   age_band text, sex @extschema@.sex, setting @extschema@.care_setting, unit_id text,
                   nutrition_screening text, nutrition_at_risk boolean, nutrition_plan text,
                   medication_review text,
                   fall_risk_assessment text, fall_risk_high boolean, fall_risk_plan text,
                   generalised text[])
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
#variable_conflict use_column
DECLARE
    r     record;
    n_out bigint := 0;
    n_all bigint := 0;
BEGIN
    FOR r IN SELECT * FROM @extschema@.extract_rows($1, $2, $3, $4, $5, $6) x ORDER BY x.period_end, x.pseudonym LOOP
        IF r.generalised OPERATOR(pg_catalog.@>) '{left_out}' THEN
            n_out := n_out + 1;
            CONTINUE;
        END IF;
        n_all := n_all + 1;
        pseudonym := r.pseudonym;
        key_generation := r.key_generation;
        period_end := r.period_end;
        age_band := r.age_band;
        sex := r.sex;
        setting := r.setting;
        unit_id := r.unit_id;
        nutrition_screening := r.nutrition_screening;
        nutrition_at_risk := r.nutrition_at_risk;
        nutrition_plan := r.nutrition_plan;
        medication_review := r.medication_review;
        fall_risk_assessment := r.fall_risk_assessment;
        fall_risk_high := r.fall_risk_high;
        fall_risk_plan := r.fall_risk_plan;
        generalised := r.generalised;
        RETURN NEXT;
    END LOOP;
    INSERT INTO @extschema@.extract_log (acting_role, arguments, rows_returned, rows_left_out)
        VALUES (COALESCE(NULLIF(pg_catalog.current_setting('role'), 'none'), SESSION_USER),
                pg_catalog.jsonb_build_object('period_end', $1, 'periods', $2, 'step', $3, 'min_age', $4,
                                              'setting', $5, 'unit', $6),
                n_all, n_out);
END
$$;
COMMENT ON FUNCTION @extschema@.extract_logged(date, integer, interval, integer, @extschema@.care_setting, text) IS
    'internal: careflags.extract() rows without those left out, the call logged in careflags.extract_log; not granted to anyone';
REVOKE ALL ON FUNCTION @extschema@.extract_logged(date, integer, interval, integer, @extschema@.care_setting, text) FROM PUBLIC;

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
                   fall_risk_assessment text, fall_risk_high boolean, fall_risk_plan text,
                   generalised text[])
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT * FROM @extschema@.extract_logged($1, $2, $3, $4, $5, $6) $$;
COMMENT ON FUNCTION @extschema@.extract(date, integer, interval, integer, @extschema@.care_setting, text) IS
    'pseudonymised registry extract: one row per patient and period end (the month end period_end falls in or the one before, and periods-1 steps of whole months back), with pseudonym = HMAC-SHA256 of the source key under the site secret, age band, sex, setting, unit and the category in each indicator; every (setting, unit, sex, age band) class has at least careflags.min_cell_size rows (generalised says what was widened); no names, birth dates or source keys; logged in careflags.extract_log';
REVOKE ALL ON FUNCTION @extschema@.extract(date, integer, interval, integer, @extschema@.care_setting, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.extract(date, integer, interval, integer, @extschema@.care_setting, text)
    TO careflags_quality, careflags_admin;
-- ==== end of extract ====
