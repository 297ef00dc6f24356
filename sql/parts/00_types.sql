-- sql/parts/00_types.sql - roles, types and the clock of careflags.
\echo Use "CREATE EXTENSION careflags" to load this file. \quit

CREATE SCHEMA @extschema@;
COMMENT ON SCHEMA @extschema@ IS 'careflags: care-quality flags for elderly patients';

-- Roles are cluster-wide: created once, left in place by DROP EXTENSION
-- (they may own grants in other databases).
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'careflags_nurse') THEN
        CREATE ROLE careflags_nurse NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'careflags_quality') THEN
        CREATE ROLE careflags_quality NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'careflags_admin') THEN
        CREATE ROLE careflags_admin NOLOGIN;
    END IF;
END
$roles$;
COMMENT ON ROLE careflags_nurse IS 'careflags: worklist and flag actions for the units mapped to the role';
COMMENT ON ROLE careflags_quality IS 'careflags: indicator reports and pseudonymised extracts, no direct identifiers';
COMMENT ON ROLE careflags_admin IS 'careflags: rules, units and unit access';

GRANT USAGE ON SCHEMA @extschema@ TO careflags_nurse, careflags_quality, careflags_admin;

CREATE TYPE @extschema@.care_setting AS ENUM (
    'nursing_home_long_term',
    'nursing_home_short_term',
    'home_nursing',
    'home_services',
    'gp'
);
COMMENT ON TYPE @extschema@.care_setting IS 'where a patient receives care during an episode (clinical-rules.md §1)';

CREATE TYPE @extschema@.domain AS ENUM ('nutrition', 'medication_review', 'fall_risk');
COMMENT ON TYPE @extschema@.domain IS 'the three areas careflags watches';

CREATE TYPE @extschema@.instrument AS ENUM (
    'mst', 'mna_sf', 'must', 'nrs_2002', 'nutrition_unspecified',
    'morse', 'stratify', 'downton', 'hendrich_ii', 'fall_risk_unspecified'
);
COMMENT ON TYPE @extschema@.instrument IS
    'assessment instruments: nutrition screening (mst, mna_sf, must, nrs_2002) and fall risk (morse, stratify, downton, hendrich_ii); *_unspecified for an assessment recorded without a known instrument or score';

CREATE TYPE @extschema@.measurement_kind AS ENUM ('weight', 'height', 'bmi', 'calf_circumference');
COMMENT ON TYPE @extschema@.measurement_kind IS 'weight in kg, height and calf circumference in cm, BMI in kg/m²';

CREATE TYPE @extschema@.plan_kind AS ENUM ('nutrition', 'fall_prevention');
COMMENT ON TYPE @extschema@.plan_kind IS 'individual care plans the rules ask for';

CREATE TYPE @extschema@.sex AS ENUM ('female', 'male', 'other', 'unknown');
COMMENT ON TYPE @extschema@.sex IS 'a patient''s sex as the record gives it (reports break indicators down by it; the extract carries it)';

CREATE TYPE @extschema@.medication_status AS ENUM (
    'active', 'on_hold', 'stopped', 'completed', 'cancelled', 'entered_in_error', 'unknown');
COMMENT ON TYPE @extschema@.medication_status IS
    'source status of a medicine; stopped, completed, cancelled and entered_in_error are never active (clinical-rules.md §7.6)';

-- The clock every read-time state is computed from.  careflags.frozen_now
-- (superuser-only) lets tests hold time still; otherwise it is now().
CREATE FUNCTION @extschema@.clock() RETURNS timestamptz
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'careflags_clock';
COMMENT ON FUNCTION @extschema@.clock() IS
    'current time for careflags: now(), or careflags.frozen_now when a superuser has set it (tests)';

CREATE FUNCTION @extschema@.version() RETURNS text
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'careflags_version';
COMMENT ON FUNCTION @extschema@.version() IS 'version of the loaded careflags library';

GRANT EXECUTE ON FUNCTION @extschema@.clock(), @extschema@.version() TO PUBLIC;

CREATE FUNCTION @extschema@.preloaded() RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'careflags_preloaded';
COMMENT ON FUNCTION @extschema@.preloaded() IS
    'whether the careflags library was loaded through shared_preload_libraries: only then run the background worker (time-driven re-evaluation, NOTIFY of flags becoming due) and careflags.evaluate_in_worker; flags, triggers, worklist and reports work either way';
GRANT EXECUTE ON FUNCTION @extschema@.preloaded() TO PUBLIC;

