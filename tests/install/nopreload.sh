#!/bin/sh
# tests/install/nopreload.sh - run a command against the install suite's
# cluster without preloading (made by tests/install/setup.sh under
# $PGHOST/install-suite): libpq's PGHOST/PGPORT/PGUSER point at it.
#
#   tests/install/nopreload.sh psql -d careflags_nopreload -c 'SELECT ...'
#   tests/install/nopreload.sh make installcheck PG_CONFIG=...
#   tests/install/nopreload.sh stop          stop it (the last test file does)
#   tests/install/nopreload.sh state         print the suite's state directory
set -eu
state=${PGHOST:?PGHOST must name the test cluster}/install-suite
[ -f "$state/env" ] || { echo "nopreload.sh: no cluster in $state (run tests/install/setup.sh)" >&2; exit 2; }
. "$state/env"
PGBIN=${PGBIN:-$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir)}
export PGHOST="$NP_HOST" PGPORT="$NP_PORT" PGUSER=postgres
unset PGDATABASE PGSERVICE PGPASSWORD
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case ${1:?usage: nopreload.sh COMMAND...|stop|state} in
    stop)  as_owner "$PGBIN/pg_ctl" -D "$NP_DATA" -m immediate -w stop >/dev/null 2>&1 || true ;;
    state) echo "$state" ;;
    *)     exec "$@" ;;
esac
