#!/bin/sh
# tests/cli/cf.sh - run the careflags client, psql or pg_ctl against the CLI
# suite's private cluster (made by tests/cli/setup.sh under $PGHOST/cli-suite).
#
#   tests/cli/cf.sh report --format csv     the client built in cli/ (else the installed one)
#   tests/cli/cf.sh psql -Atc 'SELECT ...'  psql on the suite's database careflags_cli
#   tests/cli/cf.sh restart                 restart the private server (fast)
#   tests/cli/cf.sh stop                    stop it (the last test file does)
#   tests/cli/cf.sh state                   print the suite's state directory
#   tests/cli/cf.sh client                  print the client's path
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
state=${CAREFLAGS_CLI_STATE:-${PGHOST:?PGHOST must name the test cluster}/cli-suite}
[ -f "$state/env" ] || { echo "cf.sh: no CLI cluster in $state (run tests/cli/setup.sh)" >&2; exit 2; }
. "$state/env"
export PGHOST="$CLI_HOST" PGPORT="$CLI_PORT" PGUSER=postgres PGDATABASE=careflags_cli
unset PGSERVICE PGPASSWORD
PGBIN=${PGBIN:-$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir)}
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
# The client built from this tree (scripts/test.sh builds it), else the installed
# one; CAREFLAGS_CLIENT names another binary (e.g. an older build, to compare).
if [ -n "${CAREFLAGS_CLIENT:-}" ]; then client=$CAREFLAGS_CLIENT
elif [ -x "$ROOT/cli/careflags" ]; then client=$ROOT/cli/careflags
else client=$(command -v careflags || echo "$ROOT/cli/careflags"); fi
cmd=${1:?usage: cf.sh report|watch|check|psql|restart|stop|state ...}
case $cmd in
    psql)    shift; exec psql -X -q -v ON_ERROR_STOP=1 "$@" ;;
    restart) as_owner "$PGBIN/pg_ctl" -D "$CLI_DATA" -l "$state/server.log" -m fast -w restart >/dev/null ;;
    stop)    as_owner "$PGBIN/pg_ctl" -D "$CLI_DATA" -m immediate -w stop >/dev/null 2>&1 || true ;;
    state)   echo "$state" ;;
    client)  echo "$client" ;;
    *)       exec "$client" "$@" ;;
esac
