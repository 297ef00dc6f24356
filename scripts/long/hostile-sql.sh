#!/bin/sh
# scripts/long/hostile-sql.sh - the randomised SQL writes of
# tests/reliability/30_hostile.sql with other seeds and more writes, by hand.
#
#   scripts/long/hostile-sql.sh [RUNS] [WRITES]     (default 10 runs x 20000 writes)
#
# Needs a cluster with careflags_reliability prepared (tests/reliability/
# setup.sh, or a dev cluster: PGHOST/PGPORT/PGUSER set).  Each run uses the
# seed 0.<run number>; the assertions are those of the test file.
set -eu
cd "$(dirname "$0")/../.."
runs=${1:-10}
writes=${2:-20000}
tmp=$(mktemp /tmp/careflags-hostile.XXXXXX.sql)
trap 'rm -f "$tmp"' EXIT
fail=0
for r in $(seq 1 "$runs"); do
    sed -e "s/setseed(0.20260601)/setseed(0.$r)/" -e "s/FOR i IN 1 .. 3000 LOOP/FOR i IN 1 .. $writes LOOP/" \
        -e "s/3000::bigint, '(a) 3000 random writes tried'/$writes::bigint, '(a) $writes random writes tried'/" \
        tests/reliability/30_hostile.sql >"$tmp"
    echo "# run $r: seed 0.$r, $writes writes; $(uptime)"
    PGDATABASE=careflags_reliability pg_prove "$tmp" || fail=1
done
exit $fail
