-- sql/parts/99_preload_notice.sql - the notice at CREATE EXTENSION without preloading.
\echo Use "CREATE EXTENSION careflags" to load this file. \quit

-- What is missing when careflags is not in shared_preload_libraries, said
-- once when the extension is created or updated.  An extension script runs
-- with client_min_messages at WARNING or above, so the NOTICE is sent by the
-- library when the transaction commits.
CREATE FUNCTION @extschema@.announce_missing_preload() RETURNS boolean
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'careflags_announce_missing_preload';
COMMENT ON FUNCTION @extschema@.announce_missing_preload() IS
    'internal, for the install and update scripts: when careflags is not in shared_preload_libraries, a NOTICE saying what is missing and naming the setting is sent when the transaction commits (a script''s own notices are not shown); returns whether it will be';
REVOKE ALL ON FUNCTION @extschema@.announce_missing_preload() FROM PUBLIC;

-- Said once, at commit: what is missing without preloading.
SELECT @extschema@.announce_missing_preload();
