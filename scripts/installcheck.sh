#!/bin/sh
# scripts/installcheck.sh - `make installcheck`: the core pgTAP suite against
# a running server, with careflags as installed there.
#
# The server is the one libpq's environment names (PGHOST, PGPORT, PGUSER, as
# pg_regress's installcheck uses); its PostgreSQL is the one PG_CONFIG names,
# where `make install` (or the Debian package) put careflags.  Connects as a
# superuser (the tests hold careflags' clock still), makes a scratch database
# (CAREFLAGS_INSTALLCHECK_DB, default careflags_installcheck) with pgTAP and
# careflags, runs tests/core through pg_prove and drops it again.  Exits
# non-zero when a test fails.
#
# Skipped, and said so: the files needing the background worker serving the
# scratch database (careflags in shared_preload_libraries with
# careflags.worker_database naming it) report "SKIP" themselves; the suites
# needing a plugin's record system (a FHIR store loaded with Synthea data, a
# GNUmed database), the client's private clusters, crash and load tests are
# not run: `make test` runs everything on a throwaway cluster.
#
#   INSTALLCHECK_TESTS="tests/core/33_engine.sql ..."   run these files instead
set -eu
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=$("$PG_CONFIG" --bindir 2>/dev/null) ||
    { echo "installcheck: $PG_CONFIG does not run (set PG_CONFIG)" >&2; exit 1; }
PATH="$PGBIN:$PATH"
export PATH
DB=${CAREFLAGS_INSTALLCHECK_DB:-careflags_installcheck}
TESTS=${INSTALLCHECK_TESTS:-tests/core}

command -v pg_prove >/dev/null 2>&1 ||
    { echo "installcheck: pg_prove is missing (apt-get install libtap-parser-sourcehandler-pgtap-perl)" >&2; exit 1; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

server=$(q -d postgres -c "SELECT current_setting('server_version') || ' at ' || COALESCE(inet_server_addr()::text, current_setting('unix_socket_directories')) || ':' || current_setting('port')") ||
    { echo "installcheck: no server to test against (start one, set PGHOST/PGPORT/PGUSER)" >&2; exit 1; }
[ "$(q -d postgres -c "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")" = t ] ||
    { echo "installcheck: connect as a superuser (PGUSER)" >&2; exit 1; }
[ "$(q -d postgres -c "SELECT count(*) FROM pg_available_extensions WHERE name IN ('pgtap', 'careflags')")" = 2 ] ||
    { echo "installcheck: the server's PostgreSQL lacks pgtap or careflags (apt-get install postgresql-15-pgtap; make install PG_CONFIG=$PG_CONFIG)" >&2; exit 1; }

PGOPTIONS="-c client_min_messages=warning" q -d postgres -c "DROP DATABASE IF EXISTS \"$DB\"" -c "CREATE DATABASE \"$DB\""
trap 'PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres -c "DROP DATABASE IF EXISTS \"$DB\"" >/dev/null 2>&1 || true' EXIT
q -d "$DB" -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION careflags" 2>"${TMPDIR:-/tmp}/careflags-installcheck.$$" || {
    cat "${TMPDIR:-/tmp}/careflags-installcheck.$$" >&2; rm -f "${TMPDIR:-/tmp}/careflags-installcheck.$$"; exit 1; }
rm -f "${TMPDIR:-/tmp}/careflags-installcheck.$$"
preloaded=$(q -d "$DB" -c "SELECT careflags.preloaded()")
worker=$(q -d "$DB" -c "SELECT careflags.preloaded() AND current_setting('careflags.worker_database', true) = current_database()")

echo "# installcheck: careflags $(q -d "$DB" -c "SELECT careflags.version()") on PostgreSQL $server, database $DB"
if [ "$preloaded" != t ]; then
    echo "# careflags is not in shared_preload_libraries: the tests of the background worker are skipped"
elif [ "$worker" != t ]; then
    echo "# the careflags worker does not serve $DB (careflags.worker_database): its tests are skipped"
fi
echo "# not run here: tests/fhir and tests/gnumed (a plugin's record system: a FHIR store with Synthea data, a GNUmed database),"
echo "#   tests/cli, tests/reliability, tests/bench (private clusters, crashes, load): make test runs them"

set +e
# shellcheck disable=SC2086
PGDATABASE=$DB pg_prove --ext .sql --failures ${PG_PROVE_OPTS:-} $TESTS
rc=$?
set -e
exit $rc
