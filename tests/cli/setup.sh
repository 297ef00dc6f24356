#!/bin/sh
# tests/cli/setup.sh - prepare the client suite.
#
# The client is tested against a private cluster of its own (not the shared
# test cluster): `careflags check` needs the background worker, which serves
# the one database named in careflags.worker_database, a postmaster setting.
# The cluster lives in $PGHOST/cli-suite, inside the shared test cluster's
# directory, so it goes when that goes (a postmaster whose data directory
# disappears shuts itself down); tests/cli/99_stop.sql stops it first.
# Also installs the Debian package chromium (headless rendering of the HTML
# report) when it is missing and we are root.
set -eu
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
PGBIN=${PGBIN:-$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir)}
state=${PGHOST:?PGHOST must name the test cluster}/cli-suite
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "# installing chromium (headless rendering of the HTML report)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core \
            >"${TMPDIR:-/tmp}/careflags-chromium-install.log" 2>&1 ||
            { echo "tests/cli/setup.sh: apt-get install chromium failed" >&2; tail -5 "${TMPDIR:-/tmp}/careflags-chromium-install.log" >&2; exit 1; }
    else
        echo "tests/cli/setup.sh: chromium is missing (apt-get install chromium, as root)" >&2
        exit 1
    fi
fi

if [ -f "$state/env" ]; then
    . "$state/env"
    as_owner "$PGBIN/pg_ctl" -D "$CLI_DATA" -m immediate -w stop >/dev/null 2>&1 || true
fi
rm -rf "$state"
mkdir -p "$state"
chmod 755 "$state"
[ "$(id -u)" -eq 0 ] && chown postgres: "$state"
as_owner "$PGBIN/initdb" -D "$state/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$state/initdb.log" 2>&1 ||
    { cat "$state/initdb.log" >&2; exit 1; }
port=$(( 20000 + ($$ * 7 % 20000) ))
while [ -e "/tmp/.s.PGSQL.$port" ] || [ -e "/var/run/postgresql/.s.PGSQL.$port" ] ||
      (ss -ltn 2>/dev/null | grep -q ":$port ") || [ -n "$(find /tmp -maxdepth 3 -name ".s.PGSQL.$port" 2>/dev/null | head -1)" ]; do
    port=$((port + 1))
done
cat >>"$state/data/postgresql.conf" <<CONF
listen_addresses = ''
port = $port
unix_socket_directories = '$state'
shared_preload_libraries = 'careflags'
careflags.worker_database = 'careflags_cli'
careflags.worker_interval = 1
# the client tests compare what it prints with the SQL functions on 80
# patients, number by number; the small-cell rule (k, default 5) is tested
# in tests/core/61_disclosure.sql
careflags.min_cell_size = 1
fsync = off
max_connections = 30
log_min_messages = warning
timezone = 'UTC'
CONF
as_owner "$PGBIN/pg_ctl" -D "$state/data" -l "$state/server.log" -w start >/dev/null ||
    { cat "$state/server.log" >&2; exit 1; }
cat >"$state/pg_service.conf" <<SERVICE
[clisuite]
host=$state
port=$port
dbname=careflags_cli
user=postgres
SERVICE
cat >"$state/env" <<ENV
CLI_HOST='$state'
CLI_PORT=$port
CLI_DATA='$state/data'
ENV

PGHOST=$state PGPORT=$port PGUSER=postgres
export PGHOST PGPORT PGUSER
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE careflags_cli" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d careflags_cli -c "CREATE EXTENSION careflags" \
     -f "$ROOT/tests/cli/population.psql" >/dev/null
# The worker gave up on the database that did not exist yet: a restart
# starts it at once; wait until it is connected.
as_owner "$PGBIN/pg_ctl" -D "$state/data" -l "$state/server.log" -m fast -w restart >/dev/null
i=0
until [ "$(psql -X -At -d careflags_cli -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'careflags worker'")" -ge 1 ]; do
    i=$((i + 1))
    [ $i -le 60 ] || { echo "tests/cli/setup.sh: the careflags worker did not start" >&2; tail -20 "$state/server.log" >&2; exit 1; }
    sleep 0.5
done
