#!/bin/sh
# tests/citus/teardown.sh - stops the Citus suite's three servers (started by
# tests/citus/setup.sh in $PGHOST/citus-suite).  scripts/test.sh runs it on
# exit, also after a failure; safe to run when nothing was started.
set -u
PGBIN=${PGBIN:-$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir)}
state=${PGHOST:?PGHOST must name the test cluster}/citus-suite
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
for node in coord w1 w2; do
    if [ -f "$state/$node/postmaster.pid" ]; then
        as_owner "$PGBIN/pg_ctl" -D "$state/$node" -m immediate -w stop >/dev/null 2>&1 || true
    fi
done
