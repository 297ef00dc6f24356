#!/bin/sh
# tests/citus/setup.sh - prepares the Citus suite: a real Citus 13.2.2
# cluster on this machine, a coordinator and two workers, each its own
# PostgreSQL 15 server with shared_preload_libraries = 'citus,careflags',
# and the database careflags_citus on each, distributed by
# careflags.distribute(), careflags' background worker serving it on every
# node.
#
# Citus is not in Debian's packages: scripts/citus-build.sh builds it from
# its source archive into the PostgreSQL that PG_CONFIG names (once; cached).
# In a clone without that archive the suite is skipped: the outcome goes to
# "$PGHOST/careflags_citus.status" ("ready", or the reason), and every test
# file plans a visible skip with it.  With CAREFLAGS_CITUS_REQUIRED=1 (CI
# with the archive) a failure exits non-zero instead.
#
# The nodes live in $PGHOST/citus-suite (inside the shared test cluster's
# directory), listen on Unix sockets there only, and are stopped by
# tests/citus/teardown.sh, which scripts/test.sh runs on exit.
# "$PGHOST/citus-suite/env" names them for the test files (CITUS_HOST,
# CITUS_COORD_PORT, CITUS_W1_PORT, CITUS_W2_PORT).
#
# Run by scripts/test.sh with PGHOST/PGPORT/PGUSER set; ROOT is the repo root.
set -u
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=${PGBIN:-$("$PG_CONFIG" --bindir)}
main_host=${PGHOST:?PGHOST must name the test cluster}
STATUS=$main_host/careflags_citus.status
state=$main_host/citus-suite
LOG=$main_host/careflags_citus.log
DB=careflags_citus
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
: >"$LOG"

unavailable() {
    echo "# Citus suite unavailable: $1" >&2
    printf 'unavailable: %s\n' "$1" >"$STATUS"
    if [ "${CAREFLAGS_CITUS_REQUIRED:-0}" = 1 ]; then
        tail -n 40 "$LOG" >&2
        exit 1
    fi
    exit 0
}

echo "not prepared: tests/citus/setup.sh did not finish" >"$STATUS"

# 1. Citus itself (the archive is optional: skip without it).
PG_CONFIG="$PG_CONFIG" "$ROOT/scripts/citus-build.sh" >>"$LOG" 2>&1
rc=$?
[ $rc -eq 77 ] && unavailable "the Citus 13.2.2 source archive is absent (see scripts/citus-build.sh; CITUS_TARBALL names another), and Citus is not in Debian's packages"
[ $rc -ne 0 ] && unavailable "building Citus failed (see $LOG)"

# 2. Three servers: coordinator, worker 1, worker 2.
"$ROOT/tests/citus/teardown.sh" >/dev/null 2>&1 || true
rm -rf "$state"
mkdir -p "$state"
chmod 755 "$state"
[ "$(id -u)" -eq 0 ] && chown postgres: "$state"

free_port() {
    p=$1
    while [ -e "/tmp/.s.PGSQL.$p" ] || [ -e "/var/run/postgresql/.s.PGSQL.$p" ] ||
          (ss -ltn 2>/dev/null | grep -q ":$p ") ||
          [ -n "$(find /tmp -maxdepth 3 -name ".s.PGSQL.$p" 2>/dev/null | head -1)" ]; do
        p=$((p + 1))
    done
    echo "$p"
}

port=$(( 20000 + ($$ * 13 % 20000) ))
for node in coord w1 w2; do
    port=$(free_port "$port")
    as_owner "$PGBIN/initdb" -D "$state/$node" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
        >>"$LOG" 2>&1 || unavailable "initdb of the $node node failed (see $LOG)"
    cat >>"$state/$node/postgresql.conf" <<CONF
listen_addresses = ''
port = $port
unix_socket_directories = '$state'
shared_preload_libraries = 'citus,careflags'
fsync = off
max_connections = 60
max_prepared_transactions = 60
max_worker_processes = 16
log_min_messages = warning
timezone = 'UTC'
citus.enable_statistics_collection = off
CONF
    as_owner "$PGBIN/pg_ctl" -D "$state/$node" -l "$state/$node.log" -w start >>"$LOG" 2>&1 ||
        unavailable "the $node node did not start (see $state/$node.log)"
    eval "port_$node=$port"
    port=$((port + 1))
done
# shellcheck disable=SC2154
cat >"$state/env" <<ENV
CITUS_HOST=$state
CITUS_COORD_PORT=$port_coord
CITUS_W1_PORT=$port_w1
CITUS_W2_PORT=$port_w2
ENV

# 3. The database on every node, Citus in it, the workers added, then
# careflags created once on the coordinator (Citus creates it on the
# workers) and distributed.
for p in $port_coord $port_w1 $port_w2; do
    psql -X -q -v ON_ERROR_STOP=1 -h "$state" -p "$p" -d postgres -c "CREATE DATABASE $DB" >>"$LOG" 2>&1 &&
    psql -X -q -v ON_ERROR_STOP=1 -h "$state" -p "$p" -d "$DB" -c "CREATE EXTENSION citus" >>"$LOG" 2>&1 ||
        unavailable "CREATE EXTENSION citus failed on port $p (see $LOG)"
done
PGOPTIONS="-c client_min_messages=warning" \
psql -X -q -v ON_ERROR_STOP=1 -h "$state" -p "$port_coord" -d "$DB" >>"$LOG" 2>&1 <<SQL || unavailable "the cluster could not be set up (see $LOG)"
SELECT citus_set_coordinator_host('$state', $port_coord);
SELECT citus_add_node('$state', $port_w1);
SELECT citus_add_node('$state', $port_w2);
CREATE EXTENSION pgtap;
CREATE EXTENSION careflags;
SELECT careflags.distribute();
SQL

# 4. careflags' background worker on every node, in the database (a
# postmaster setting: set now that the database exists and is distributed,
# then each node restarted): each node's worker re-evaluates the due patients
# of the shards it holds; the coordinator's relays the shards' flag events as
# NOTIFY careflags (tests/citus/60_notify.sql, 65_worker.sql).
for node in coord w1 w2; do
    cat >>"$state/$node/postgresql.conf" <<CONF
careflags.worker_database = '$DB'
careflags.worker_interval = 2
careflags.relay_interval = 500
CONF
    as_owner "$PGBIN/pg_ctl" -D "$state/$node" -l "$state/$node.log" -m fast -w restart >>"$LOG" 2>&1 ||
        unavailable "the $node node did not restart with careflags' worker (see $state/$node.log)"
done

echo ready >"$STATUS"
echo "# Citus cluster ready: coordinator on port $port_coord, workers on $port_w1 and $port_w2"
