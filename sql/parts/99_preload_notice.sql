-- sql/parts/99_preload_notice.sql - the notice at CREATE EXTENSION without preloading.
\echo Use "CREATE EXTENSION careflags" to load this file. \quit

-- Said once, when the extension is created (or updated): what is missing
-- when careflags is not in shared_preload_libraries.  Nothing is created.
DO $preload$
BEGIN
    IF NOT @extschema@.preloaded() THEN
        RAISE NOTICE 'careflags is not in shared_preload_libraries: no background worker'
            USING DETAIL = 'Flags, triggers, the worklist and the reports work.  Without the worker, flags that change with time alone (a birthday, an exemption ending) wait for the next write or careflags.tick(), no NOTIFY announces flags becoming due, and careflags.evaluate_in_worker cannot be set.',
                  HINT = 'Add careflags to shared_preload_libraries, set careflags.worker_database to this database and restart the server.';
    END IF;
END
$preload$;
