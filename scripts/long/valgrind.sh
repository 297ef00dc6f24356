#!/bin/sh
# scripts/long/valgrind.sh - careflags under valgrind memcheck, by hand.
#
#   scripts/long/valgrind.sh [pg_prove test files...]
#       (default: tests/core and the reliability files that need no setup)
#
# Starts a private cluster whose postmaster runs under valgrind
# (--trace-children=yes, PostgreSQL's own suppression file when the source
# tree provides one, else a small one for the server's known false
# positives), runs the pgTAP files against it, stops it and reports every
# valgrind error whose stack passes through careflags.so.  Slow (20-50x):
# expect an hour for tests/core on two cores.  The Debian server is built
# without USE_VALGRIND, so palloc'd memory is not tracked per chunk: this
# finds invalid reads/writes and uses of uninitialised values in careflags'
# code and in what it calls, not leaks inside memory contexts.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
PGBIN=${PGBIN:-$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir)}
[ $# -gt 0 ] || set -- tests/core tests/reliability/60_security.sql
dir=$(mktemp -d /tmp/careflags-valgrind.XXXXXX)
chmod 755 "$dir"; chown postgres: "$dir"
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
stop() { as_owner $PGBIN/pg_ctl -D "$dir/data" -m fast -w -t 600 stop >/dev/null 2>&1 || true; }
trap 'stop; echo "# logs kept in $dir"' EXIT
as_owner $PGBIN/initdb -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
port=$(( 50000 + $$ % 5000 ))
cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
port = $port
unix_socket_directories = '$dir'
shared_preload_libraries = 'careflags'
careflags.worker_database = 'careflags_test'
careflags.worker_interval = 1
fsync = off
max_connections = 20
timezone = 'UTC'
jit = off
CONF
# The server writes WAL and statistics buffers with uninitialised padding (a
# server built without USE_VALGRIND does not mark it defined): not ours.
cat >"$dir/pg.supp" <<'SUPP'
{
   postgres-uninitialised-padding-pwrite
   Memcheck:Param
   pwrite64(buf)
   fun:pwrite
   obj:*/bin/postgres
}
{
   postgres-uninitialised-padding-write
   Memcheck:Param
   write(buf)
   fun:write
   ...
   obj:*/bin/postgres
}
SUPP
chown postgres: "$dir/pg.supp"
echo "# $(date -u '+%F %T') starting the server under valgrind; $(uptime)"
as_owner sh -c "cd '$dir' && valgrind --quiet --trace-children=yes --track-origins=yes --read-var-info=no \
    --num-callers=30 --error-limit=no --suppressions='$dir/pg.supp' --log-file='$dir/valgrind.%p.log' \
    $PGBIN/postgres -D '$dir/data' >'$dir/server.log' 2>&1 &"
i=0
until $PGBIN/pg_isready -q -h "$dir" -p "$port"; do
    i=$((i + 1))
    if [ $i -ge 600 ] || ! pgrep -u postgres -f "valgrind.*$dir" >/dev/null; then cat "$dir"/valgrind.*.log >&2; exit 1; fi
    sleep 1
done
export PGHOST="$dir" PGPORT="$port" PGUSER=postgres
psql -X -q -d postgres -c 'CREATE DATABASE careflags_test'
psql -X -q -d careflags_test -c 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION careflags'
psql -X -q -d postgres -c 'CREATE DATABASE careflags_reliability'
psql -X -q -d careflags_reliability -c 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION careflags'
set +e
PGDATABASE=careflags_test pg_prove --ext .sql --recurse "$@"
rc=$?
set -e
stop
sleep 2
errors=$(cat "$dir"/valgrind.*.log | grep -c '^==[0-9]*== [A-Z].*\(Invalid\|uninitialised\|Mismatched\|overlap\)' || true)
ours=$(awk '/^==[0-9]+== [A-Z]/ { blk = $0; next } /careflags\.so/ { print blk }' "$dir"/valgrind.*.log | sort | uniq -c | sort -rn)
echo "# $(date -u '+%F %T') pg_prove exit $rc; valgrind errors in all processes: $errors; $(uptime)"
if [ -n "$ours" ]; then echo "# errors through careflags.so:"; echo "$ours"; exit 1; fi
echo "# no valgrind error through careflags.so"
exit $rc
