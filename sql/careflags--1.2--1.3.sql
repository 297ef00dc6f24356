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

DO $preload$
BEGIN
    IF NOT careflags.preloaded() THEN
        RAISE NOTICE 'careflags is not in shared_preload_libraries: no background worker'
            USING DETAIL = 'Flags, triggers, the worklist and the reports work.  Without the worker, flags that change with time alone (a birthday, an exemption ending) wait for the next write or careflags.tick(), no NOTIFY announces flags becoming due, and careflags.evaluate_in_worker cannot be set.',
                  HINT = 'Add careflags to shared_preload_libraries, set careflags.worker_database to this database and restart the server.';
    END IF;
END
$preload$;
