-- sql/parts/60_reports.sql - national quality indicators for quality leads.
--
-- Five indicators (clinical-rules.md §5), each counted for the patients aged
-- min_age (default 67) or more at the period end who are in a setting at the
-- period end (a snapshot, §7.13), over the 12 months before it:
--
--   nutrition_screening   a nutrition screening (any nutrition instrument)
--   nutrition_plan        of those screened at risk: a nutrition plan in force
--   medication_review     a medication review (long-term residents by default)
--   fall_risk_assessment  a fall-risk assessment (any fall-risk instrument)
--   fall_risk_plan        of those scored at high fall risk: a prevention plan
--
-- Each patient of an indicator's population falls in exactly one category,
-- decided in this order (docs/reports.md has the full text):
--   not_relevant  an exemption valid at the period end covers the indicator
--   not_recorded  the data needed to judge is missing: no birth date, or (plan
--                 indicators) every screening in the period lacks a result
--   assessed      the qualifying fact is there (numerator)
--   not_assessed  the rest
-- denominator = assessed + not_assessed + not_recorded (not relevant patients
-- are left out, as in the national indicator); share = 100 * numerator /
-- denominator, one decimal.
--
-- Everything reads the fact tables, joined by patient_id (on Citus each
-- join runs on every shard group, see indicator_patients); no rule is
-- re-evaluated.  The functions a quality lead calls are SECURITY
-- DEFINER (careflags_quality cannot read careflags.patient) and return counts
-- only.  Function bodies run with search_path = pg_catalog, pg_temp, so
-- their plain operators resolve to pg_catalog's; every table and function is
-- schema-qualified.
\echo Use "CREATE EXTENSION careflags" to load this file. \quit

-- The calendar of a period: its end as a date (inclusive) gives the instant
-- the period ends (midnight after it, in careflags.timezone) and the instant
-- 12 months before.
CREATE FUNCTION @extschema@.report_period(period_end date,
                                          OUT ends_at timestamptz, OUT starts_at timestamptz)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN ROW(
        ((period_end + 1)::timestamp) AT TIME ZONE
            COALESCE(NULLIF(pg_catalog.current_setting('careflags.timezone', true), ''), 'Europe/Oslo'),
        ((period_end + 1)::timestamp - interval '12 months') AT TIME ZONE
            COALESCE(NULLIF(pg_catalog.current_setting('careflags.timezone', true), ''), 'Europe/Oslo'));
COMMENT ON FUNCTION @extschema@.report_period(date) IS
    'the 12-month window of an indicator period that ends with the day period_end: [starts_at, ends_at), midnights in careflags.timezone';

-- Today in careflags.timezone: the default period end.
CREATE FUNCTION @extschema@.report_today() RETURNS date
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN (@extschema@.clock() AT TIME ZONE
            COALESCE(NULLIF(pg_catalog.current_setting('careflags.timezone', true), ''), 'Europe/Oslo'))::date;
COMMENT ON FUNCTION @extschema@.report_today() IS
    'the current date in careflags.timezone (from careflags.clock()): the default period end of the reports';

-- The names of the indicators, in report order, with what they count.
CREATE FUNCTION @extschema@.indicator_list(OUT indicator text, OUT title text, OUT scope text,
                                           OUT default_setting @extschema@.care_setting)
    RETURNS SETOF record
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    VALUES ('nutrition_screening', 'Nutrition screening in the last 12 months', 'nutrition.screening',
            NULL::@extschema@.care_setting),
           ('nutrition_plan', 'Nutrition plan among those at risk', 'nutrition.plan', NULL),
           ('medication_review', 'Medication review in the last 12 months (long-term residents)',
            'medication_review', 'nursing_home_long_term'),
           ('fall_risk_assessment', 'Fall-risk assessment in the last 12 months', 'fall_risk.assessment', NULL),
           ('fall_risk_plan', 'Fall-prevention plan among those at high fall risk', 'fall_risk.high', NULL)
    $$;
COMMENT ON FUNCTION @extschema@.indicator_list() IS
    'the indicators careflags reports: name, title, the exemption scope that makes a patient "not relevant", and the setting used when none is given (NULL: all settings)';

-- Each patient of an indicator's population with its category.  Internal
-- (it returns patient ids and the patient's source key, birth date and sex,
-- for the extract): the report and extract functions aggregate it.
--
-- The population: patients in the setting (and unit) at the period end, aged
-- min_age or more then (or of unknown age), alive.  The current episode is
-- the one covering the period end that started last (§7.14); death ends
-- every episode (§7.12).
--
-- Each query is one join of per-patient parts on patient_id (the current
-- episode, the patient, a valid exemption, the facts of the period), so on
-- Citus, where these tables are distributed and co-located by patient_id,
-- it runs whole on every shard group and the coordinator only gathers the
-- rows (no lateral or correlated read of a distributed table; issue 19).
-- On one server the same join reads each table's period once.
CREATE FUNCTION @extschema@.indicator_patients(p_indicator text, p_period_end date, p_min_age integer,
                                               p_setting @extschema@.care_setting, p_unit text)
    RETURNS TABLE (patient_id bigint, unit_id text, setting @extschema@.care_setting,
                   category text, at_risk boolean,
                   source_system text, source_key text, birth_date date, sex @extschema@.sex)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    -- a plan for the period, setting and unit asked: a generic plan of
    -- these joins is several times slower
    SET plan_cache_mode = force_custom_plan
    AS $$
#variable_conflict use_column
DECLARE
    v_scope     text;
    v_starts    timestamptz;
    v_ends      timestamptz;
    v_born_by   date;
    v_nutrition @extschema@.instrument[] := '{mst,mna_sf,must,nrs_2002,nutrition_unspecified}';
    v_fall      @extschema@.instrument[] := '{morse,stratify,downton,hendrich_ii,fall_risk_unspecified}';
    v_instr     @extschema@.instrument[];
    v_plan      @extschema@.plan_kind;
BEGIN
    IF $2 IS NULL THEN
        RAISE EXCEPTION 'period_end must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF $3 IS NULL OR $3 < 0 OR $3 > 130 THEN
        RAISE EXCEPTION 'min_age must be between 0 and 130, not %', COALESCE($3::text, 'null')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT l.scope INTO v_scope FROM @extschema@.indicator_list() l WHERE l.indicator = $1;
    IF v_scope IS NULL THEN
        RAISE EXCEPTION 'unknown indicator "%"', $1
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'One of: ' || (SELECT pg_catalog.string_agg(l.indicator, ', ') FROM @extschema@.indicator_list() l);
    END IF;
    SELECT r.starts_at, r.ends_at INTO v_starts, v_ends FROM @extschema@.report_period($2) r;
    v_born_by := ($2 - pg_catalog.make_interval(years => $3))::date;

    IF $1 = 'medication_review' THEN
        RETURN QUERY
        SELECT p.patient_id, p.unit_id, p.setting,
               CASE WHEN p.exempt THEN 'not_relevant'
                    WHEN p.age_unknown THEN 'not_recorded'
                    WHEN m.patient_id IS NOT NULL THEN 'assessed'
                    ELSE 'not_assessed' END,
               NULL::boolean, p.source_system, p.source_key, p.birth_date, p.sex
        FROM (SELECT c.patient_id, c.unit_id, c.setting, pt.birth_date IS NULL AS age_unknown,
                     x.patient_id IS NOT NULL AS exempt, pt.source_system, pt.source_key, pt.birth_date, pt.sex
              FROM (SELECT DISTINCT ON (e.patient_id) e.patient_id, e.setting, e.unit_id
                    FROM @extschema@.episode e
                    WHERE e.started_at < v_ends AND (e.ended_at IS NULL OR e.ended_at >= v_ends)
                    ORDER BY e.patient_id, e.started_at DESC, e.episode_id DESC) c
              JOIN @extschema@.patient pt ON pt.patient_id = c.patient_id
              LEFT JOIN (SELECT x.patient_id FROM @extschema@.exemption x
                          WHERE x.valid_from < v_ends AND (x.valid_until IS NULL OR x.valid_until >= v_ends)
                            AND (x.scope = '*' OR x.scope = v_scope OR pg_catalog.starts_with(v_scope, x.scope || '.'))
                          GROUP BY x.patient_id) x ON x.patient_id = c.patient_id
              WHERE ($4 IS NULL OR c.setting = $4) AND ($5 IS NULL OR c.unit_id = $5)
                AND NOT (pt.deceased AND (pt.deceased_at IS NULL OR pt.deceased_at < v_ends))
                AND (pt.birth_date IS NULL OR pt.birth_date <= v_born_by)) p
        LEFT JOIN (SELECT m.patient_id FROM @extschema@.medication_review m
                    WHERE m.reviewed_at >= v_starts AND m.reviewed_at < v_ends
                    GROUP BY m.patient_id) m ON m.patient_id = p.patient_id;
        RETURN;
    END IF;

    v_instr := CASE WHEN $1 LIKE 'nutrition%' THEN v_nutrition ELSE v_fall END;

    IF $1 IN ('nutrition_screening', 'fall_risk_assessment') THEN
        -- Any screening / assessment in the period counts, with or without
        -- a recorded result; at_risk is the latest one's.
        RETURN QUERY
        SELECT p.patient_id, p.unit_id, p.setting,
               CASE WHEN p.exempt THEN 'not_relevant'
                    WHEN p.age_unknown THEN 'not_recorded'
                    WHEN a.assessed_at IS NOT NULL THEN 'assessed'
                    ELSE 'not_assessed' END,
               a.at_risk, p.source_system, p.source_key, p.birth_date, p.sex
        FROM (SELECT c.patient_id, c.unit_id, c.setting, pt.birth_date IS NULL AS age_unknown,
                     x.patient_id IS NOT NULL AS exempt, pt.source_system, pt.source_key, pt.birth_date, pt.sex
              FROM (SELECT DISTINCT ON (e.patient_id) e.patient_id, e.setting, e.unit_id
                    FROM @extschema@.episode e
                    WHERE e.started_at < v_ends AND (e.ended_at IS NULL OR e.ended_at >= v_ends)
                    ORDER BY e.patient_id, e.started_at DESC, e.episode_id DESC) c
              JOIN @extschema@.patient pt ON pt.patient_id = c.patient_id
              LEFT JOIN (SELECT x.patient_id FROM @extschema@.exemption x
                          WHERE x.valid_from < v_ends AND (x.valid_until IS NULL OR x.valid_until >= v_ends)
                            AND (x.scope = '*' OR x.scope = v_scope OR pg_catalog.starts_with(v_scope, x.scope || '.'))
                          GROUP BY x.patient_id) x ON x.patient_id = c.patient_id
              WHERE ($4 IS NULL OR c.setting = $4) AND ($5 IS NULL OR c.unit_id = $5)
                AND NOT (pt.deceased AND (pt.deceased_at IS NULL OR pt.deceased_at < v_ends))
                AND (pt.birth_date IS NULL OR pt.birth_date <= v_born_by)) p
        LEFT JOIN (SELECT DISTINCT ON (a.patient_id) a.patient_id, a.assessed_at, a.at_risk
                     FROM @extschema@.assessment a
                    WHERE a.assessed_at >= v_starts AND a.assessed_at < v_ends
                      AND a.instrument = ANY (v_instr)
                    ORDER BY a.patient_id, a.assessed_at DESC, a.assessment_id DESC) a ON a.patient_id = p.patient_id;
        RETURN;
    END IF;

    -- Plan indicators: the population is those with an at-risk (high-risk)
    -- result in the period, plus those whose every result in the period is
    -- missing (not recorded: they may or may not belong).  A plan counts when
    -- it was in force at some time from the first at-risk result to the
    -- period end: a plan of the kind started before the period end and
    -- ended (the latest end of those, open = infinity) at or after it.
    v_plan := CASE WHEN $1 = 'nutrition_plan' THEN 'nutrition' ELSE 'fall_prevention' END;
    RETURN QUERY
    SELECT p.patient_id, p.unit_id, p.setting,
           CASE WHEN p.exempt THEN 'not_relevant'
                WHEN p.age_unknown OR r.first_risk IS NULL THEN 'not_recorded'
                WHEN cp.last_end >= r.first_risk THEN 'assessed'
                ELSE 'not_assessed' END,
           r.first_risk IS NOT NULL, p.source_system, p.source_key, p.birth_date, p.sex
    FROM (SELECT c.patient_id, c.unit_id, c.setting, pt.birth_date IS NULL AS age_unknown,
                 x.patient_id IS NOT NULL AS exempt, pt.source_system, pt.source_key, pt.birth_date, pt.sex
          FROM (SELECT DISTINCT ON (e.patient_id) e.patient_id, e.setting, e.unit_id
                FROM @extschema@.episode e
                WHERE e.started_at < v_ends AND (e.ended_at IS NULL OR e.ended_at >= v_ends)
                ORDER BY e.patient_id, e.started_at DESC, e.episode_id DESC) c
          JOIN @extschema@.patient pt ON pt.patient_id = c.patient_id
          LEFT JOIN (SELECT x.patient_id FROM @extschema@.exemption x
                      WHERE x.valid_from < v_ends AND (x.valid_until IS NULL OR x.valid_until >= v_ends)
                        AND (x.scope = '*' OR x.scope = v_scope OR pg_catalog.starts_with(v_scope, x.scope || '.'))
                      GROUP BY x.patient_id) x ON x.patient_id = c.patient_id
          WHERE ($4 IS NULL OR c.setting = $4) AND ($5 IS NULL OR c.unit_id = $5)
            AND NOT (pt.deceased AND (pt.deceased_at IS NULL OR pt.deceased_at < v_ends))
            AND (pt.birth_date IS NULL OR pt.birth_date <= v_born_by)) p
    JOIN (SELECT a.patient_id,
                 pg_catalog.min(a.assessed_at) FILTER (WHERE a.at_risk) AS first_risk,
                 pg_catalog.bool_or(a.at_risk IS NOT NULL) AS any_result
            FROM @extschema@.assessment a
           WHERE a.assessed_at >= v_starts AND a.assessed_at < v_ends
             AND a.instrument = ANY (v_instr)
           GROUP BY a.patient_id) r ON r.patient_id = p.patient_id
    LEFT JOIN (SELECT c.patient_id, pg_catalog.max(COALESCE(c.ended_at, 'infinity')) AS last_end
                 FROM @extschema@.care_plan c
                WHERE c.kind = v_plan AND c.started_at < v_ends
                GROUP BY c.patient_id) cp ON cp.patient_id = p.patient_id
    WHERE r.first_risk IS NOT NULL OR NOT r.any_result;
END
$$;
COMMENT ON FUNCTION @extschema@.indicator_patients(text, date, integer, @extschema@.care_setting, text) IS
    'internal: each patient of an indicator''s population (in the setting/unit at the period end, min_age or older then or of unknown age, alive) with its category (assessed, not_assessed, not_relevant, not_recorded), the last/any risk result, and the source key, birth date and sex the extract needs; one join by patient_id (pushed down whole on Citus); not granted to anyone';

-- The setting an indicator counts: the one asked for, else the indicator's
-- default; an unknown indicator is an error.
CREATE FUNCTION @extschema@.indicator_setting(p_indicator text, p_setting @extschema@.care_setting)
    RETURNS @extschema@.care_setting
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    v_default @extschema@.care_setting;
BEGIN
    SELECT l.default_setting INTO v_default FROM @extschema@.indicator_list() l WHERE l.indicator = p_indicator;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown indicator "%"', p_indicator
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'One of: ' || (SELECT pg_catalog.string_agg(l.indicator, ', ') FROM @extschema@.indicator_list() l);
    END IF;
    RETURN COALESCE(p_setting, v_default);
END
$$;
COMMENT ON FUNCTION @extschema@.indicator_setting(text, @extschema@.care_setting) IS
    'internal: the setting an indicator counts (the given one, else its default); raises for an unknown indicator';
REVOKE ALL ON FUNCTION @extschema@.indicator_setting(text, @extschema@.care_setting) FROM PUBLIC;

-- Counts per category, aggregated from indicator_patients.
CREATE FUNCTION @extschema@.indicator_counts(indicator text, period_end date, min_age integer,
                                             setting @extschema@.care_setting, unit text, by_unit boolean)
    RETURNS TABLE (indicator text, period_end date, setting @extschema@.care_setting, unit_id text,
                   numerator bigint, denominator bigint, share numeric,
                   assessed bigint, not_assessed bigint, not_relevant bigint, not_recorded bigint,
                   population bigint)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH s AS (
        SELECT @extschema@.indicator_setting($1, $4) AS setting
    ), ip AS (
        SELECT ip.* FROM s, @extschema@.indicator_patients($1, $2, $3, s.setting, $5) ip
    ), c AS (
        -- per unit: one row per unit present
        SELECT ip.unit_id,
               pg_catalog.count(*) FILTER (WHERE ip.category = 'assessed') AS assessed,
               pg_catalog.count(*) FILTER (WHERE ip.category = 'not_assessed') AS not_assessed,
               pg_catalog.count(*) FILTER (WHERE ip.category = 'not_relevant') AS not_relevant,
               pg_catalog.count(*) FILTER (WHERE ip.category = 'not_recorded') AS not_recorded,
               pg_catalog.count(*) AS population
        FROM ip WHERE $6 GROUP BY ip.unit_id
        UNION ALL
        -- overall: always one row, zeros for an empty population
        SELECT $5,
               pg_catalog.count(*) FILTER (WHERE ip.category = 'assessed'),
               pg_catalog.count(*) FILTER (WHERE ip.category = 'not_assessed'),
               pg_catalog.count(*) FILTER (WHERE ip.category = 'not_relevant'),
               pg_catalog.count(*) FILTER (WHERE ip.category = 'not_recorded'),
               pg_catalog.count(*)
        FROM ip WHERE NOT $6 HAVING NOT $6
    )
    SELECT $1, $2, s.setting, c.unit_id,
           c.assessed, c.assessed + c.not_assessed + c.not_recorded,
           CASE WHEN c.assessed + c.not_assessed + c.not_recorded > 0
                THEN pg_catalog.round(100.0 * c.assessed / (c.assessed + c.not_assessed + c.not_recorded), 1) END,
           c.assessed, c.not_assessed, c.not_relevant, c.not_recorded, c.population
    FROM c, s
    ORDER BY c.unit_id NULLS LAST
    $$;
COMMENT ON FUNCTION @extschema@.indicator_counts(text, date, integer, @extschema@.care_setting, text, boolean) IS
    'internal: the counts of an indicator, for one unit (or all) or per unit';

-- ==== published figures (issue 13) ====
-- What the report functions publish is never finer than a month, and no
-- count is smaller than k = careflags.min_cell_size (default 5; superuser
-- setting) unless it is zero:
--  * period ends are month ends that are over: a date is taken down to the
--    end of its month (of the month before when it is not the month's last
--    day); a month not over yet is refused.  A daily sweep learns nothing a
--    monthly one does not.
--  * an indicator's patients (all settings) are split into cells (setting,
--    unit).  A cell with a count from 1 to k-1 (its population or any
--    category) joins one merged group with the other such cells; while that
--    group is itself small, the smallest other cell joins it too.  A figure
--    is published when it is the sum of whole groups none of which is small,
--    so no published figure minus others gives a small cell; otherwise its
--    counts are withheld (NULL).  The column disclosure says which.
--  * with k > 1 the age limit is the national one, 67: two limits would
--    give, by difference, the patients between them.

-- The k of the reports (careflags.min_cell_size, read through the library
-- so that it is the superuser setting).
CREATE FUNCTION @extschema@.min_cell_size() RETURNS integer
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'careflags_min_cell_size';
COMMENT ON FUNCTION @extschema@.min_cell_size() IS
    'the smallest count the reports and the extract publish (careflags.min_cell_size, default 5; 1 publishes every count)';
REVOKE ALL ON FUNCTION @extschema@.min_cell_size() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.min_cell_size() TO careflags_quality, careflags_admin;

-- The period end a report or extract uses: the end of the month of the
-- date given when it is that month's last day, else the end of the month
-- before; NULL gives the last month that is over.  A month not over yet
-- (today's or later) is refused.
CREATE FUNCTION @extschema@.report_month_end(period_end date) RETURNS date
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    v_last date := (pg_catalog.date_trunc('month', @extschema@.report_today()::timestamp) - interval '1 day')::date;
    v_end  date;
BEGIN
    IF $1 IS NULL THEN
        RETURN v_last;
    END IF;
    IF NOT pg_catalog.isfinite($1) THEN
        RAISE EXCEPTION 'period end must be a date, not %', $1 USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_end := (pg_catalog.date_trunc('month', ($1 + 1)::timestamp) - interval '1 day')::date;
    IF v_end > v_last THEN
        RAISE EXCEPTION 'period end % is not in a month that is over', $1
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Reports and extracts end at the end of a past month; the latest is ' || v_last || '.',
                  HINT = 'Leave period_end out for the last month that is over.';
    END IF;
    RETURN v_end;
END
$$;
COMMENT ON FUNCTION @extschema@.report_month_end(date) IS
    'the period end of a report: the month end on or before the date (NULL: the last month that is over); refuses a month not yet over';
GRANT EXECUTE ON FUNCTION @extschema@.report_month_end(date) TO careflags_quality, careflags_admin, careflags_nurse;

-- With k > 1 only the national age limit: two limits would give, by
-- difference, the patients between them.
CREATE FUNCTION @extschema@.report_check_min_age(min_age integer) RETURNS integer
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF $1 IS DISTINCT FROM 67 AND @extschema@.min_cell_size() > 1 THEN
        RAISE EXCEPTION 'min_age must be 67 while small cells are suppressed'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Figures for two age limits would give, by difference, the few patients between them.',
                  HINT = 'A superuser may SET careflags.min_cell_size = 1 for unpublished, internal figures.';
    END IF;
    RETURN $1;
END
$$;
COMMENT ON FUNCTION @extschema@.report_check_min_age(integer) IS
    'internal: refuses an age limit other than 67 while careflags.min_cell_size > 1; returns it';
REVOKE ALL ON FUNCTION @extschema@.report_check_min_age(integer) FROM PUBLIC;

-- The cells of an indicator (all settings, per setting and unit) and how
-- they are published.  Populations first: cells of 1 to k-1 patients are
-- merged in group 0, and the smallest other cells join it while it is still
-- small; every other cell is a group of its own.  This grouping depends on
-- the population only, so it is the same for every indicator counted on the
-- whole population (a unit shown in one is shown in all; no population
-- follows by difference between indicators).  grp_small: group 0 still
-- small (only when it holds every cell).  Then categories: the groups with a
-- category count of 1 to k-1 have their categories withheld together (pool
-- W), and the smallest other groups join W while the categories W sums are
-- still small.  cat_withheld: the group is in W; w_small: W still small
-- (only when it holds every group: then no category is published).
CREATE FUNCTION @extschema@.indicator_cells(p_indicator text, p_period_end date, p_min_age integer)
    RETURNS TABLE (setting @extschema@.care_setting, unit_id text,
                   assessed bigint, not_assessed bigint, not_relevant bigint, not_recorded bigint,
                   population bigint, grp integer, grp_small boolean, cat_withheld boolean, w_small boolean)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    k       integer := @extschema@.min_cell_size();
    c       record;
    i       integer := 0;
    m_pop   bigint := 0;
    m_n     integer := 0;
    w       bigint[] := '{0,0,0,0}';
    w_n     integer := 0;
    w_grps  integer[] := '{}';
    v_set   @extschema@.care_setting[] := '{}';
    v_unit  text[] := '{}';
    v_a     bigint[] := '{}';
    v_na    bigint[] := '{}';
    v_nr    bigint[] := '{}';
    v_nrec  bigint[] := '{}';
    v_pop   bigint[] := '{}';
    v_grp   integer[] := '{}';
BEGIN
    FOR c IN
        SELECT x.*, x.population BETWEEN 1 AND k - 1 AS small
        FROM (SELECT ip.setting, ip.unit_id,
                     pg_catalog.count(*) FILTER (WHERE ip.category = 'assessed') AS assessed,
                     pg_catalog.count(*) FILTER (WHERE ip.category = 'not_assessed') AS not_assessed,
                     pg_catalog.count(*) FILTER (WHERE ip.category = 'not_relevant') AS not_relevant,
                     pg_catalog.count(*) FILTER (WHERE ip.category = 'not_recorded') AS not_recorded,
                     pg_catalog.count(*) AS population
              FROM @extschema@.indicator_patients($1, $2, $3, NULL, NULL) ip
              GROUP BY ip.setting, ip.unit_id) x
        ORDER BY 8 DESC, x.population, x.setting, x.unit_id NULLS FIRST
    LOOP
        i := i + 1;
        v_set := v_set || c.setting;
        v_unit := v_unit || c.unit_id;
        v_a := v_a || c.assessed;
        v_na := v_na || c.not_assessed;
        v_nr := v_nr || c.not_relevant;
        v_nrec := v_nrec || c.not_recorded;
        v_pop := v_pop || c.population;
        IF c.small OR (m_n > 0 AND m_pop BETWEEN 1 AND k - 1) THEN
            m_pop := m_pop + c.population;
            m_n := m_n + 1;
            v_grp := v_grp || 0;
        ELSE
            v_grp := v_grp || i;
        END IF;
    END LOOP;

    FOR c IN
        SELECT t.g, pg_catalog.sum(t.a) AS a, pg_catalog.sum(t.na) AS na, pg_catalog.sum(t.nr) AS nr,
               pg_catalog.sum(t.nrec) AS nrec,
               (pg_catalog.sum(t.a) BETWEEN 1 AND k - 1 OR pg_catalog.sum(t.na) BETWEEN 1 AND k - 1
                OR pg_catalog.sum(t.nr) BETWEEN 1 AND k - 1 OR pg_catalog.sum(t.nrec) BETWEEN 1 AND k - 1) AS small,
               pg_catalog.sum(t.pop) AS pop
        FROM ROWS FROM (pg_catalog.unnest(v_a), pg_catalog.unnest(v_na), pg_catalog.unnest(v_nr),
                        pg_catalog.unnest(v_nrec), pg_catalog.unnest(v_pop), pg_catalog.unnest(v_grp))
             AS t(a, na, nr, nrec, pop, g)
        GROUP BY t.g
        ORDER BY 6 DESC, 7, t.g
    LOOP
        IF c.small OR (w_n > 0 AND (w[1] BETWEEN 1 AND k - 1 OR w[2] BETWEEN 1 AND k - 1
                                    OR w[3] BETWEEN 1 AND k - 1 OR w[4] BETWEEN 1 AND k - 1)) THEN
            w := ARRAY[w[1] + c.a, w[2] + c.na, w[3] + c.nr, w[4] + c.nrec];
            w_n := w_n + 1;
            w_grps := w_grps || c.g;
        END IF;
    END LOOP;

    RETURN QUERY
    SELECT t.s, t.u, t.a, t.na, t.nr, t.nrec, t.pop, t.g,
           t.g = 0 AND m_pop BETWEEN 1 AND k - 1,
           t.g = ANY (w_grps),
           (w[1] BETWEEN 1 AND k - 1 OR w[2] BETWEEN 1 AND k - 1 OR w[3] BETWEEN 1 AND k - 1 OR w[4] BETWEEN 1 AND k - 1)
    FROM ROWS FROM (pg_catalog.unnest(v_set), pg_catalog.unnest(v_unit), pg_catalog.unnest(v_a), pg_catalog.unnest(v_na),
                   pg_catalog.unnest(v_nr), pg_catalog.unnest(v_nrec), pg_catalog.unnest(v_pop), pg_catalog.unnest(v_grp))
         AS t(s, u, a, na, nr, nrec, pop, g);
END
$$;
COMMENT ON FUNCTION @extschema@.indicator_cells(text, date, integer) IS
    'internal: an indicator''s counts per setting and unit, with the group each is published in (cells of fewer than k patients merged in group 0) and whether its categories are withheld';
REVOKE ALL ON FUNCTION @extschema@.indicator_cells(text, date, integer) FROM PUBLIC;

-- What may be published of an indicator for a setting and unit (or per
-- unit).  A population is published when it is the sum of whole groups and
-- not small; the categories too when none of those groups is in W, or all
-- of W is (and W is not small).  The shape of indicator_counts, plus units
-- (the units a merged row sums) and disclosure (NULL: counted as is; else
-- what was merged or withheld).
CREATE FUNCTION @extschema@.indicator_published(p_indicator text, p_period_end date, p_min_age integer,
                                                p_setting @extschema@.care_setting, p_unit text, p_by_unit boolean)
    RETURNS TABLE (indicator text, period_end date, setting @extschema@.care_setting, unit_id text,
                   numerator bigint, denominator bigint, share numeric,
                   assessed bigint, not_assessed bigint, not_relevant bigint, not_recorded bigint,
                   population bigint, units text[], disclosure text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH s AS (
        SELECT @extschema@.indicator_setting($1, $4) AS setting, @extschema@.min_cell_size() AS k
    ), sub AS (
        SELECT c.*, (s.setting IS NULL OR c.setting = s.setting) AND ($5 IS NULL OR c.unit_id = $5) AS inside
        FROM s, @extschema@.indicator_cells($1, $2, @extschema@.report_check_min_age($3)) c
    ), wn AS (
        SELECT pg_catalog.count(DISTINCT sub.grp) FILTER (WHERE sub.cat_withheld) AS groups,
               COALESCE(pg_catalog.bool_or(sub.w_small), false) AS small
        FROM sub
    ), g AS (
        SELECT sub.grp, pg_catalog.bool_and(sub.inside) AND NOT pg_catalog.bool_or(sub.grp_small) AS whole,
               pg_catalog.bool_or(sub.cat_withheld) AS in_w,
               pg_catalog.count(*) FILTER (WHERE sub.inside) AS cells,
               pg_catalog.array_agg(sub.unit_id ORDER BY sub.unit_id) FILTER (WHERE sub.inside) AS units,
               pg_catalog.sum(sub.assessed) FILTER (WHERE sub.inside)::bigint AS assessed,
               pg_catalog.sum(sub.not_assessed) FILTER (WHERE sub.inside)::bigint AS not_assessed,
               pg_catalog.sum(sub.not_relevant) FILTER (WHERE sub.inside)::bigint AS not_relevant,
               pg_catalog.sum(sub.not_recorded) FILTER (WHERE sub.inside)::bigint AS not_recorded,
               pg_catalog.sum(sub.population) FILTER (WHERE sub.inside)::bigint AS population
        FROM sub GROUP BY sub.grp HAVING pg_catalog.bool_or(sub.inside)
    ), r AS (
        SELECT CASE WHEN g.cells = 1 THEN g.units[1] END AS unit_id,
               CASE WHEN g.cells > 1 THEN g.units END AS units,
               g.whole AS pop_shown, g.whole AND NOT g.in_w AS cat_shown, g.cells > 1 AS merged,
               g.assessed, g.not_assessed, g.not_relevant, g.not_recorded, g.population
        FROM g WHERE $6
        UNION ALL
        SELECT $5, NULL, COALESCE(pg_catalog.bool_and(g.whole), true),
               COALESCE(pg_catalog.bool_and(g.whole), true)
               AND (NOT COALESCE(pg_catalog.bool_or(g.in_w), false)
                    OR (pg_catalog.count(*) FILTER (WHERE g.in_w) = pg_catalog.min(wn.groups) AND NOT pg_catalog.bool_or(wn.small))),
               false,
               COALESCE(pg_catalog.sum(g.assessed), 0)::bigint, COALESCE(pg_catalog.sum(g.not_assessed), 0)::bigint,
               COALESCE(pg_catalog.sum(g.not_relevant), 0)::bigint, COALESCE(pg_catalog.sum(g.not_recorded), 0)::bigint,
               COALESCE(pg_catalog.sum(g.population), 0)::bigint
        FROM wn LEFT JOIN g ON true WHERE NOT $6 HAVING NOT $6
    )
    SELECT $1, $2, s.setting, r.unit_id,
           CASE WHEN r.cat_shown THEN r.assessed END,
           CASE WHEN r.cat_shown THEN r.assessed + r.not_assessed + r.not_recorded END,
           CASE WHEN r.cat_shown AND r.assessed + r.not_assessed + r.not_recorded > 0
                THEN pg_catalog.round(100.0 * r.assessed / (r.assessed + r.not_assessed + r.not_recorded), 1) END,
           CASE WHEN r.cat_shown THEN r.assessed END, CASE WHEN r.cat_shown THEN r.not_assessed END,
           CASE WHEN r.cat_shown THEN r.not_relevant END, CASE WHEN r.cat_shown THEN r.not_recorded END,
           CASE WHEN r.pop_shown THEN r.population END,
           r.units,
           CASE WHEN NOT r.pop_shown THEN 'withheld: a count below ' || s.k || ' (or such a count by difference)'
                WHEN NOT r.cat_shown THEN 'categories withheld: a count below ' || s.k || ' (or such a count by difference)'
                WHEN r.merged THEN 'merged: units with fewer than ' || s.k || ' patients, counted together' END
    FROM r, s
    ORDER BY r.unit_id NULLS LAST, r.units
    $$;
COMMENT ON FUNCTION @extschema@.indicator_published(text, date, integer, @extschema@.care_setting, text, boolean) IS
    'internal: an indicator as it may be published (no count below careflags.min_cell_size, by itself or by difference), for one setting/unit or per unit';
REVOKE ALL ON FUNCTION @extschema@.indicator_published(text, date, integer, @extschema@.care_setting, text, boolean) FROM PUBLIC;

-- The public face.  One function per indicator, plus a generic one, all of
-- the same shape.
CREATE FUNCTION @extschema@.indicator(indicator text,
                                      period_end date DEFAULT NULL,
                                      min_age integer DEFAULT 67,
                                      setting @extschema@.care_setting DEFAULT NULL,
                                      unit text DEFAULT NULL)
    RETURNS TABLE (indicator text, period_end date, setting @extschema@.care_setting, unit_id text,
                   numerator bigint, denominator bigint, share numeric,
                   assessed bigint, not_assessed bigint, not_relevant bigint, not_recorded bigint,
                   population bigint, disclosure text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT c.indicator, c.period_end, c.setting, c.unit_id, c.numerator, c.denominator, c.share,
           c.assessed, c.not_assessed, c.not_relevant, c.not_recorded, c.population, c.disclosure
    FROM @extschema@.indicator_published($1, @extschema@.report_month_end($2), $3, $4, $5, false) c
    $$;
COMMENT ON FUNCTION @extschema@.indicator(text, date, integer, @extschema@.care_setting, text) IS
    'one indicator (see careflags.indicator_list()) for the 12 months ending with period_end (default today), patients aged min_age+ in the setting (NULL: the indicator''s default, all settings except medication_review) and unit (NULL: all) at the period end: numerator, denominator, share (%), the four categories; see docs/reports.md';

DO $indicators$
DECLARE
    n text;
BEGIN
    FOREACH n IN ARRAY ARRAY['nutrition_screening', 'nutrition_plan', 'medication_review',
                             'fall_risk_assessment', 'fall_risk_plan']
    LOOP
        EXECUTE pg_catalog.format($f$
            CREATE FUNCTION @extschema@.%1$I(period_end date DEFAULT NULL,
                                             min_age integer DEFAULT 67,
                                             setting @extschema@.care_setting DEFAULT %2$s,
                                             unit text DEFAULT NULL)
                RETURNS TABLE (indicator text, period_end date, setting @extschema@.care_setting, unit_id text,
                               numerator bigint, denominator bigint, share numeric,
                               assessed bigint, not_assessed bigint, not_relevant bigint, not_recorded bigint,
                               population bigint, disclosure text)
                LANGUAGE sql STABLE SECURITY DEFINER
                SET search_path = pg_catalog, pg_temp
                AS $b$SELECT c.indicator, c.period_end, c.setting, c.unit_id, c.numerator, c.denominator, c.share,
                              c.assessed, c.not_assessed, c.not_relevant, c.not_recorded, c.population, c.disclosure
                       FROM @extschema@.indicator_published(%3$L, @extschema@.report_month_end($1), $2, $3, $4, false) c$b$;
            COMMENT ON FUNCTION @extschema@.%1$I(date, integer, @extschema@.care_setting, text) IS %4$L;
            REVOKE ALL ON FUNCTION @extschema@.%1$I(date, integer, @extschema@.care_setting, text) FROM PUBLIC;
            GRANT EXECUTE ON FUNCTION @extschema@.%1$I(date, integer, @extschema@.care_setting, text)
                TO careflags_quality, careflags_admin;
            $f$,
            'indicator_' || n,
            CASE WHEN n = 'medication_review' THEN '''nursing_home_long_term''' ELSE 'NULL' END,
            n,
            'indicator ' || n || ' (' || (SELECT l.title FROM @extschema@.indicator_list() l WHERE l.indicator = n)
                || '): careflags.indicator(''' || n || ''', ...) with this indicator''s default setting');
    END LOOP;
END
$indicators$;

-- All five at once, in report order (what `careflags report` prints).
CREATE FUNCTION @extschema@.indicators(period_end date DEFAULT NULL,
                                       min_age integer DEFAULT 67,
                                       setting @extschema@.care_setting DEFAULT NULL,
                                       unit text DEFAULT NULL)
    RETURNS TABLE (indicator text, title text, period_end date, setting @extschema@.care_setting, unit_id text,
                   numerator bigint, denominator bigint, share numeric,
                   assessed bigint, not_assessed bigint, not_relevant bigint, not_recorded bigint,
                   population bigint, disclosure text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT l.indicator, l.title, c.period_end, c.setting, c.unit_id, c.numerator, c.denominator, c.share,
           c.assessed, c.not_assessed, c.not_relevant, c.not_recorded, c.population, c.disclosure
    FROM @extschema@.indicator_list() WITH ORDINALITY AS l
    CROSS JOIN LATERAL @extschema@.indicator_published(l.indicator, @extschema@.report_month_end($1),
                                                       $2, $3, $4, false) c
    ORDER BY l.ordinality
    $$;
COMMENT ON FUNCTION @extschema@.indicators(date, integer, @extschema@.care_setting, text) IS
    'all indicators for one period, setting and unit, in report order (each with its default setting when setting is NULL)';

-- Per-unit comparison: one row per unit of the population (unit_id NULL:
-- episodes with no unit recorded).
CREATE FUNCTION @extschema@.indicator_by_unit(indicator text,
                                              period_end date DEFAULT NULL,
                                              min_age integer DEFAULT 67,
                                              setting @extschema@.care_setting DEFAULT NULL)
    RETURNS TABLE (indicator text, period_end date, setting @extschema@.care_setting, unit_id text,
                   unit_name text,
                   numerator bigint, denominator bigint, share numeric,
                   assessed bigint, not_assessed bigint, not_relevant bigint, not_recorded bigint,
                   population bigint, units text[], disclosure text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT c.indicator, c.period_end, c.setting, c.unit_id,
           CASE WHEN c.units IS NOT NULL THEN 'units counted together: ' || pg_catalog.array_to_string(c.units, ', ', '(no unit)')
                ELSE u.name END,
           c.numerator, c.denominator, c.share,
           c.assessed, c.not_assessed, c.not_relevant, c.not_recorded, c.population, c.units, c.disclosure
    FROM @extschema@.indicator_published($1, @extschema@.report_month_end($2), $3, $4, NULL, true) c
    LEFT JOIN @extschema@.unit u ON u.unit_id = c.unit_id
    ORDER BY c.unit_id NULLS LAST, c.units
    $$;
COMMENT ON FUNCTION @extschema@.indicator_by_unit(text, date, integer, @extschema@.care_setting) IS
    'an indicator per unit, for comparing units; the row with unit_id NULL and units NULL counts episodes that have no unit recorded; a row with units lists units merged because one had a count below careflags.min_cell_size; disclosure says what was merged or withheld';

-- Monthly series: the indicator at period_end and at the end of each of the
-- months - 1 months before it (each point covers its own 12 months).
CREATE FUNCTION @extschema@.indicator_series_points(p_period_end date, p_months integer)
    RETURNS SETOF date
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF p_months IS NULL OR p_months < 1 OR p_months > 120 THEN
        RAISE EXCEPTION 'months must be between 1 and 120, not %', COALESCE(p_months::text, 'null')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    SELECT CASE WHEN k = 0 THEN p_period_end
                ELSE (pg_catalog.date_trunc('month', p_period_end) - pg_catalog.make_interval(months => k - 1)
                      - interval '1 day')::date END
    FROM pg_catalog.generate_series(p_months - 1, 0, -1) AS k;
END
$$;
COMMENT ON FUNCTION @extschema@.indicator_series_points(date, integer) IS
    'internal: the points of a monthly series: the (months - 1) month ends before period_end, oldest first, then period_end';
REVOKE ALL ON FUNCTION @extschema@.indicator_series_points(date, integer) FROM PUBLIC;

CREATE FUNCTION @extschema@.indicator_series(indicator text,
                                             period_end date DEFAULT NULL,
                                             months integer DEFAULT 12,
                                             min_age integer DEFAULT 67,
                                             setting @extschema@.care_setting DEFAULT NULL,
                                             unit text DEFAULT NULL)
    RETURNS TABLE (indicator text, period_end date, setting @extschema@.care_setting, unit_id text,
                   numerator bigint, denominator bigint, share numeric,
                   assessed bigint, not_assessed bigint, not_relevant bigint, not_recorded bigint,
                   population bigint, disclosure text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT c.indicator, c.period_end, c.setting, c.unit_id, c.numerator, c.denominator, c.share,
           c.assessed, c.not_assessed, c.not_relevant, c.not_recorded, c.population, c.disclosure
    FROM @extschema@.indicator_series_points(@extschema@.report_month_end($2), $3) WITH ORDINALITY AS pt(point, n)
    CROSS JOIN LATERAL @extschema@.indicator_published($1, pt.point, $4, $5, $6, false) c
    ORDER BY pt.n
    $$;
COMMENT ON FUNCTION @extschema@.indicator_series(text, date, integer, integer, @extschema@.care_setting, text) IS
    'monthly time series of an indicator: the value at period_end and at each of the (months - 1) month ends before it, oldest first; each point covers the 12 months before it';

-- How long flags waited: from due (due_from) to the action (action_at, the
-- fact's own time; resolved_at when unknown) for flags resolved as done,
-- whose action fell in the 12 months of the period.  PL/pgSQL, not SQL: on
-- Citus a SQL function's parameters cannot reach the distributed plan of
-- flag joined with patient (issue 19); the query is the same.
CREATE FUNCTION @extschema@.flag_response_times(period_end date DEFAULT NULL,
                                                min_age integer DEFAULT 67,
                                                setting @extschema@.care_setting DEFAULT NULL,
                                                unit text DEFAULT NULL)
    RETURNS TABLE (domain @extschema@.domain, rule_id text, resolved bigint,
                   median_days numeric, p90_days numeric, on_time_share numeric, disclosure text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    RETURN QUERY
    WITH w AS (
        SELECT r.starts_at, r.ends_at,
               (@extschema@.report_month_end($1)
                - pg_catalog.make_interval(years => @extschema@.report_check_min_age($2)))::date AS born_by,
               @extschema@.min_cell_size() AS k
        FROM @extschema@.report_period(@extschema@.report_month_end($1)) r
    ), f AS (
        SELECT f.domain, f.rule_id,
               GREATEST(0, EXTRACT(epoch FROM COALESCE(f.action_at, f.resolved_at) - f.due_from) / 86400.0) AS days,
               COALESCE(f.action_at, f.resolved_at) <= f.due_at AS on_time
        FROM w, @extschema@.flag f
        JOIN @extschema@.patient p ON p.patient_id = f.patient_id
        WHERE COALESCE(f.action_at, f.resolved_at) >= w.starts_at AND COALESCE(f.action_at, f.resolved_at) < w.ends_at
          AND f.resolution = 'done'
          AND ($3 IS NULL OR f.setting = $3)
          AND ($4 IS NULL OR f.unit_id = $4)
          AND p.birth_date <= w.born_by
    ), t AS (
        SELECT f.domain, f.rule_id, pg_catalog.count(*) AS resolved,
               pg_catalog.round(pg_catalog.percentile_cont(0.5) WITHIN GROUP (ORDER BY f.days)::numeric, 1) AS median_days,
               pg_catalog.round(pg_catalog.percentile_cont(0.9) WITHIN GROUP (ORDER BY f.days)::numeric, 1) AS p90_days,
               pg_catalog.round(100.0 * pg_catalog.count(*) FILTER (WHERE f.on_time) / NULLIF(pg_catalog.count(*), 0), 1) AS on_time_share,
               pg_catalog.count(*) BETWEEN 1 AND (SELECT w.k FROM w) - 1 AS small
        FROM f
        GROUP BY ROLLUP (f.domain, f.rule_id)
    ), u AS (
        -- a total with a withheld part withholds its count too (else the
        -- part follows by difference)
        SELECT t.*, EXISTS (SELECT FROM t c WHERE c.small AND c.rule_id IS NOT NULL
                            AND (t.domain IS NULL OR (t.rule_id IS NULL AND c.domain = t.domain))) AS part_small
        FROM t
    )
    SELECT u.domain, u.rule_id,
           CASE WHEN NOT u.small AND NOT u.part_small THEN u.resolved END,
           CASE WHEN NOT u.small THEN u.median_days END,
           CASE WHEN NOT u.small THEN u.p90_days END,
           CASE WHEN NOT u.small THEN u.on_time_share END,
           CASE WHEN u.small THEN 'withheld: fewer than ' || (SELECT w.k FROM w) || ' flags'
                WHEN u.part_small THEN 'count withheld: a part has fewer than ' || (SELECT w.k FROM w) || ' flags' END
    FROM u
    ORDER BY u.domain NULLS LAST, u.rule_id NULLS FIRST;
END
$$;
COMMENT ON FUNCTION @extschema@.flag_response_times(date, integer, @extschema@.care_setting, text) IS
    'response times of flags resolved as done in the 12 months ending with period_end, per rule, per domain (rule_id NULL) and overall (both NULL): count, median and 90th percentile days from due_from to resolution (0 when done before it was due), and the share done by due_at (%); rows of fewer than careflags.min_cell_size flags are withheld (disclosure)';

-- Who may call what.
REVOKE ALL ON FUNCTION @extschema@.indicator_patients(text, date, integer, @extschema@.care_setting, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.indicator_counts(text, date, integer, @extschema@.care_setting, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.indicator(text, date, integer, @extschema@.care_setting, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.indicators(date, integer, @extschema@.care_setting, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.indicator_by_unit(text, date, integer, @extschema@.care_setting) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.indicator_series(text, date, integer, integer, @extschema@.care_setting, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.flag_response_times(date, integer, @extschema@.care_setting, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    @extschema@.indicator(text, date, integer, @extschema@.care_setting, text),
    @extschema@.indicators(date, integer, @extschema@.care_setting, text),
    @extschema@.indicator_by_unit(text, date, integer, @extschema@.care_setting),
    @extschema@.indicator_series(text, date, integer, integer, @extschema@.care_setting, text),
    @extschema@.flag_response_times(date, integer, @extschema@.care_setting, text)
    TO careflags_quality, careflags_admin;
GRANT EXECUTE ON FUNCTION @extschema@.report_period(date), @extschema@.report_today(),
    @extschema@.indicator_list() TO careflags_quality, careflags_admin, careflags_nurse;

-- ==== end of published figures ====

-- Index the reports lean on (besides the patient-first ones of 10_facts):
-- whether a plan of a kind was in force, per patient.
CREATE INDEX care_plan_patient_kind ON @extschema@.care_plan (patient_id, kind, started_at);
COMMENT ON INDEX @extschema@.care_plan_patient_kind IS
    'reports: was a plan of a kind in force for a patient (indicator_patients)';

-- ---- national figures for comparison (issue 15) ----
-- The latest national figure of an indicator, with its year, population and
-- source (clinical-rules.md §2, §3), shown beside the site's own figure by
-- careflags report.  A site adds a newer year with INSERT (origin site).
CREATE TABLE @extschema@.national_figure (
    indicator   text NOT NULL,
    year        integer NOT NULL CHECK (year OPERATOR(pg_catalog.>=) 2000 AND year OPERATOR(pg_catalog.<=) 2100),
    share       numeric(4,1) NOT NULL CHECK (share OPERATOR(pg_catalog.>=) 0 AND share OPERATOR(pg_catalog.<=) 100),
    population  text NOT NULL,
    source      text NOT NULL,
    origin      text NOT NULL DEFAULT 'site' CHECK (origin OPERATOR(pg_catalog.=) ANY (ARRAY['default', 'site'])),
    PRIMARY KEY (indicator, year)
);
COMMENT ON TABLE @extschema@.national_figure IS
    'national figures of the indicators for comparison (share in %, year, population counted, source); careflags report shows the latest year of each; a site adds newer ones (origin site, saved by pg_dump)';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.national_figure', 'WHERE origin OPERATOR(pg_catalog.=) ''site''');
INSERT INTO @extschema@.national_figure (indicator, year, share, population, source, origin) VALUES
    ('nutrition_screening', 2023, 57.0, 'langtidsbeboere 67+ på sykehjem',
     'Helsedirektoratet, nasjonale kvalitetsindikatorer 2023 (clinical-rules.md §2)', 'default'),
    ('nutrition_plan', 2023, 64.3, 'langtidsbeboere 67+ i ernæringsmessig risiko',
     'Helsedirektoratet, nasjonale kvalitetsindikatorer 2023 (clinical-rules.md §2)', 'default'),
    ('medication_review', 2021, 56.6, 'langtidsbeboere 67+ på sykehjem',
     'Helsedirektoratet, nasjonale kvalitetsindikatorer 2021 (clinical-rules.md §3)', 'default'),
    ('medication_review', 2023, 61.7, 'langtidsbeboere 67+ på sykehjem',
     'Helsedirektoratet, nasjonale kvalitetsindikatorer 2023 (clinical-rules.md §3)', 'default');
GRANT SELECT ON @extschema@.national_figure TO careflags_quality, careflags_admin;
GRANT INSERT, UPDATE, DELETE ON @extschema@.national_figure TO careflags_admin;

-- The latest national figure of each indicator that has one.
CREATE VIEW @extschema@.national_figure_latest AS
SELECT DISTINCT ON (n.indicator) n.indicator, n.year, n.share, n.population, n.source
  FROM @extschema@.national_figure n
 ORDER BY n.indicator, n.year DESC;
COMMENT ON VIEW @extschema@.national_figure_latest IS
    'the latest national figure of each indicator (careflags.national_figure), for comparison in reports';
GRANT SELECT ON @extschema@.national_figure_latest TO careflags_quality, careflags_admin;
