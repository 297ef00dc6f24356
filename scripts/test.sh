#!/bin/sh
# scripts/test.sh - the whole careflags test suite, from a clean machine.
#
# Installs what is missing, builds and installs careflags, starts a private
# throwaway cluster, prepares each suite (tests/<suite>/setup.sh, if any) and
# runs every pgTAP file under tests/ through pg_prove.  Exits non-zero when a
# test fails.  The cluster is removed on exit, also on failure.
#
#   CAREFLAGS_KEEP_CLUSTER=1   keep the cluster directory for a look afterwards
#   PG_PROVE_OPTS=...          extra options for pg_prove (e.g. --verbose)
#   CAREFLAGS_TESTS="tests/core tests/fhir/04_flag_writeback.sql"
#                              run only these files or suite directories (their
#                              suites' setup.sh still run, other suites' do not)
#   PG_CONFIG=.../pg_config    build against and run that PostgreSQL 15
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=$("$PG_CONFIG" --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
PATH="$PGBIN:$PATH"
export ROOT PG_CONFIG PGBIN PATH
TESTS=${CAREFLAGS_TESTS:-tests/}

./scripts/bootstrap.sh
./scripts/build.sh

. ./scripts/cluster.sh
# Suites that drive tools which insist on the default socket directory (the
# GNUmed bootstrap) find the private cluster there too, on its own port.
if [ "$(id -u)" -eq 0 ]; then
    mkdir -p /var/run/postgresql && chown postgres: /var/run/postgresql
    CLUSTER_EXTRA_SOCKET_DIRS=/var/run/postgresql
fi
cluster_start "careflags.worker_database = 'careflags_test'" "careflags.worker_interval = 1"

# The shared database of the core suite: pgTAP and careflags, nothing else.
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE careflags_test" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d careflags_test \
     -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION careflags" >/dev/null

# Suite preparation hooks, in name order.  A suite whose setup.sh starts
# servers of its own stops them in an executable tests/<suite>/teardown.sh,
# run on exit (also after a failure) before the cluster is removed.
TEARDOWNS=""
suite_teardown() {
    for t in $TEARDOWNS; do "$t" || true; done
}
trap 'rc=$?; suite_teardown; cluster_stop; exit $rc' EXIT
for setup in tests/*/setup.sh; do
    [ -x "$setup" ] || continue
    suite=$(dirname "$setup")
    case " $TESTS " in
        *" tests/ "*|*" tests "*|*" $suite "*|*" $suite/"*) ;;
        *) continue ;;
    esac
    echo "# preparing $suite"
    [ -x "$suite/teardown.sh" ] && TEARDOWNS="$TEARDOWNS $suite/teardown.sh"
    "$setup"
done

export PGDATABASE=careflags_test
set +e
# shellcheck disable=SC2086
pg_prove --ext .sql --recurse --failures ${PG_PROVE_OPTS:-} $TESTS
rc=$?
set -e
if [ $rc -ne 0 ]; then
    echo "--- server log (last 60 lines) ---"
    tail -n 60 "$CLUSTER_DIR/server.log" || true
fi
exit $rc
