#!/bin/sh
# tests/install/setup.sh - prepare the install suite: a second private
# cluster WITHOUT careflags in shared_preload_libraries, as a DBA's server
# may be, where the suite creates careflags and its plugins (CASCADE), builds
# the Debian package, installs it and runs `make installcheck`.
#
# The cluster lives in $PGHOST/install-suite, inside the shared test
# cluster's directory, so it goes when that goes; tests/install/99_stop.sql
# stops it first.  tests/install/nopreload.sh runs commands against it.
#
# When the GNUmed suite prepared gnumed_v22 in the shared cluster
# ($PGHOST/careflags_gnumed.status = ready), GNUmed's own schemas and data
# (without careflags) are copied into this cluster's gnumed_v22, for
# careflags_gnumed's CREATE EXTENSION ... CASCADE; otherwise that test skips
# visibly with the reason.
set -eu
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
PGBIN=${PGBIN:-$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir)}
main_host=${PGHOST:?PGHOST must name the test cluster}
main_port=${PGPORT:?PGPORT must name the test cluster}
state=$main_host/install-suite
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if [ -f "$state/env" ]; then
    . "$state/env"
    as_owner "$PGBIN/pg_ctl" -D "$NP_DATA" -m immediate -w stop >/dev/null 2>&1 || true
fi
rm -rf "$state"
mkdir -p "$state"
chmod 755 "$state"
[ "$(id -u)" -eq 0 ] && chown postgres: "$state"
as_owner "$PGBIN/initdb" -D "$state/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$state/initdb.log" 2>&1 ||
    { cat "$state/initdb.log" >&2; exit 1; }
port=$(( 20000 + ($$ * 11 % 20000) ))
while [ -e "/tmp/.s.PGSQL.$port" ] || [ -e "/var/run/postgresql/.s.PGSQL.$port" ] ||
      (ss -ltn 2>/dev/null | grep -q ":$port ") || [ -n "$(find /tmp -maxdepth 3 -name ".s.PGSQL.$port" 2>/dev/null | head -1)" ]; do
    port=$((port + 1))
done
# No shared_preload_libraries: careflags is loaded by the sessions that use it.
cat >>"$state/data/postgresql.conf" <<CONF
listen_addresses = ''
port = $port
unix_socket_directories = '$state'
fsync = off
max_connections = 30
log_min_messages = warning
timezone = 'UTC'
CONF
as_owner "$PGBIN/pg_ctl" -D "$state/data" -l "$state/server.log" -w start >/dev/null ||
    { cat "$state/server.log" >&2; exit 1; }
cat >"$state/env" <<ENV
NP_HOST='$state'
NP_PORT=$port
NP_DATA='$state/data'
ENV

PGHOST=$state PGPORT=$port PGUSER=postgres
export PGHOST PGPORT PGUSER
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE careflags_nopreload" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d careflags_nopreload -c "CREATE EXTENSION pgtap" >/dev/null

# GNUmed, copied from the shared cluster without careflags.
status=$(cat "$main_host/careflags_gnumed.status" 2>/dev/null || echo "not prepared: tests/gnumed/setup.sh did not run")
if [ "$status" = ready ]; then
    echo "# copying GNUmed (gnumed_v22, without careflags) into the cluster without preloading"
    start=$(date +%s)
    log=$state/gnumed-copy.log
    dump=$state/gnumed.dump
    # GNUmed's roles first (cluster-wide); the existing ones only complain.
    PGHOST=$main_host PGPORT=$main_port pg_dumpall --roles-only 2>>"$log" |
        psql -X -q -d postgres >>"$log" 2>&1 || true
    if PGHOST=$main_host PGPORT=$main_port pg_dump -Fc -f "$dump" gnumed_v22 2>>"$log"; then
        # everything but careflags (its extensions, their data, triggers and
        # event triggers) and pgTAP
        pg_restore -l "$dump" | grep -v -i -E 'careflags|pgtap' >"$state/gnumed.list"
        psql -X -q -d postgres -c "CREATE DATABASE gnumed_v22" >>"$log" 2>&1
        pg_restore -d gnumed_v22 -L "$state/gnumed.list" "$dump" >>"$log" 2>&1 || true
        rm -f "$dump"
        # and careflags' hints, which its plugin wrote into GNUmed's own table
        psql -X -q -d gnumed_v22 -c "DELETE FROM ref.auto_hint WHERE source = 'careflags'" >>"$log" 2>&1 || true
    fi
    if [ "$(psql -X -At -d gnumed_v22 -c "SELECT to_regclass('clin.test_result') IS NOT NULL AND to_regclass('ref.auto_hint') IS NOT NULL
                                          AND NOT EXISTS (SELECT FROM pg_extension WHERE extname LIKE 'careflags%')
                                          AND NOT EXISTS (SELECT FROM ref.auto_hint WHERE source = 'careflags')" 2>>"$log")" = t ]; then
        echo ready >"$state/gnumed.status"
        echo "# GNUmed copied in $(( $(date +%s) - start ))s"
    else
        echo "unavailable: GNUmed could not be copied (see $log)" >"$state/gnumed.status"
    fi
else
    echo "unavailable: no GNUmed database in the test cluster ($status)" >"$state/gnumed.status"
fi
