#!/bin/sh
# tests/fhir/setup.sh - the database of the careflags_fhir suite.
#
# careflags_fhir_test holds pgTAP, careflags and careflags_fhir; each test
# file connects to it, calls careflags_fhir.setup() inside its own
# transaction and rolls everything back.  Run by scripts/test.sh after the
# cluster starts (PGHOST/PGPORT/PGUSER set).
set -eu
PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS careflags_fhir_test" \
     -c "CREATE DATABASE careflags_fhir_test" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d careflags_fhir_test \
     -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION careflags" -c "CREATE EXTENSION careflags_fhir" >/dev/null
# A FHIR application's login role with no rights on careflags (01_extension.sql).
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "
DO \$\$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'careflags_fhir_test_app') THEN
        CREATE ROLE careflags_fhir_test_app NOLOGIN;
    END IF;
END \$\$;" >/dev/null

# Every Flag resource written into a FHIR store during the suite is kept for
# the validator (tests/fhir/99_validate_flags.sql runs tools/fhir-validate on
# them).  The test files roll back, so the copy is written outside the
# transaction: a line per write (INSERT or UPDATE) appended with adminpack's
# pg_file_write to careflags-fhir-flags.ndjson in the data directory.  A
# "Flag" table of the 'tables' layout, or careflags_fhir.resource of the
# 'resource' layout, gets the copying trigger as soon as it is created or
# gets a trigger of its own (setup() attaching careflags_fhir), by an event
# trigger; that trigger goes with the test's rollback like the table.
psql -X -q -v ON_ERROR_STOP=1 -d careflags_fhir_test <<'SQL' >/dev/null
SET client_min_messages = warning;
CREATE EXTENSION adminpack;
SELECT pg_catalog.pg_file_unlink('careflags-fhir-flags.ndjson');
CREATE SCHEMA flag_capture;
COMMENT ON SCHEMA flag_capture IS 'test harness: copies every FHIR Flag written during the suite for the validator';

CREATE FUNCTION flag_capture.keep() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    line text;
BEGIN
    IF TG_TABLE_NAME OPERATOR(pg_catalog.<>) 'Flag'
       AND (pg_catalog.to_jsonb(NEW) OPERATOR(pg_catalog.->>) 'resource_type') IS DISTINCT FROM 'Flag' THEN
        RETURN NULL;
    END IF;
    BEGIN
        line := (NEW.content::jsonb)::text;
    EXCEPTION WHEN others THEN
        line := pg_catalog.to_json(NEW.content::text)::text;   -- not JSON: the validator reports it
    END;
    PERFORM pg_catalog.pg_file_write('careflags-fhir-flags.ndjson', line OPERATOR(pg_catalog.||) E'\n', true);
    RETURN NULL;
EXCEPTION WHEN others THEN
    RAISE WARNING 'flag_capture: could not keep a Flag: %', SQLERRM;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION flag_capture.keep() IS 'AFTER ROW trigger: appends the written Flag to careflags-fhir-flags.ndjson';

-- SECURITY DEFINER: the table may be created by a store's own role (the
-- application role of tests/fhir/06_security.sql), which has no USAGE on
-- flag_capture; the capture trigger is put on as the harness's owner.
CREATE FUNCTION flag_capture.attach() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    rel regclass;
BEGIN
    FOR rel IN
        SELECT DISTINCT CASE c.classid WHEN 'pg_catalog.pg_trigger'::regclass THEN t.tgrelid ELSE c.objid END::regclass
        FROM pg_catalog.pg_event_trigger_ddl_commands() AS c
        LEFT JOIN pg_catalog.pg_trigger AS t ON c.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_trigger'::regclass
                                            AND t.oid OPERATOR(pg_catalog.=) c.objid
        WHERE c.command_tag OPERATOR(pg_catalog.=) ANY (ARRAY['CREATE TABLE', 'CREATE TRIGGER'])
    LOOP
        CONTINUE WHEN rel IS NULL;
        CONTINUE WHEN NOT EXISTS (SELECT FROM pg_catalog.pg_class AS k
                                  WHERE k.oid OPERATOR(pg_catalog.=) rel AND k.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p'])
                                    AND (k.relname OPERATOR(pg_catalog.=) 'Flag'
                                         OR (k.relname OPERATOR(pg_catalog.=) 'resource'
                                             AND k.relnamespace OPERATOR(pg_catalog.=) (SELECT n.oid FROM pg_catalog.pg_namespace AS n
                                                                                         WHERE n.nspname OPERATOR(pg_catalog.=) 'careflags_fhir'))));
        CONTINUE WHEN EXISTS (SELECT FROM pg_catalog.pg_trigger AS t
                              WHERE t.tgrelid OPERATOR(pg_catalog.=) rel AND t.tgname OPERATOR(pg_catalog.=) 'zz_flag_capture');
        EXECUTE pg_catalog.format('CREATE TRIGGER zz_flag_capture AFTER INSERT OR UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION flag_capture.keep()', rel);
    END LOOP;
END
$$;
COMMENT ON FUNCTION flag_capture.attach() IS 'event trigger: puts flag_capture.keep() on every new FHIR Flag store table';
CREATE EVENT TRIGGER flag_capture_attach ON ddl_command_end WHEN TAG IN ('CREATE TABLE', 'CREATE TRIGGER')
    EXECUTE FUNCTION flag_capture.attach();
SQL
