-- careflags 1.2 -> 1.3 (ALTER EXTENSION careflags UPDATE TO '1.3').
--
-- Exactly what sql/parts/ gained since 1.2, so that an upgraded database and
-- a fresh 1.3 one are alike object by object (tests/reliability/50_upgrade.sql).
-- No flag, audit row or site customisation is lost.
\echo Use "ALTER EXTENSION careflags UPDATE TO '1.3'" to load this file. \quit

-- ==== loading without shared_preload_libraries (issue 16) ====
CREATE FUNCTION careflags.preloaded() RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'careflags_preloaded';
COMMENT ON FUNCTION careflags.preloaded() IS
    'whether the careflags library was loaded through shared_preload_libraries: only then run the background worker (time-driven re-evaluation, NOTIFY of flags becoming due) and careflags.evaluate_in_worker; flags, triggers, worklist and reports work either way';
GRANT EXECUTE ON FUNCTION careflags.preloaded() TO PUBLIC;

CREATE FUNCTION careflags.announce_missing_preload() RETURNS boolean
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'careflags_announce_missing_preload';
COMMENT ON FUNCTION careflags.announce_missing_preload() IS
    'internal, for the install and update scripts: when careflags is not in shared_preload_libraries, a NOTICE saying what is missing and naming the setting is sent when the transaction commits (a script''s own notices are not shown); returns whether it will be';
REVOKE ALL ON FUNCTION careflags.announce_missing_preload() FROM PUBLIC;

-- Said once, at commit: what is missing without preloading.
SELECT careflags.announce_missing_preload();
