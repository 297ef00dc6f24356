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
