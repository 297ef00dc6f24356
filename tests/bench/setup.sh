#!/bin/sh
# tests/bench/setup.sh - a reduced-scale run of the benchmark harness.
#
# Loads a generated municipality of 2,000 patients into careflags_bench_test
# (bench/load.sh) and runs every step of bench/harness.sh at a few seconds'
# length.  A failure of the harness does not stop the suite here: its exit
# status is recorded in bench.result (step "harness") and
# tests/bench/10_harness.sql fails on it, with the log in
# $PGHOST/bench-suite.log.
set -u
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
log=${PGHOST:?PGHOST must name the test cluster}/bench-suite.log
db=careflags_bench_test
cd "$ROOT"
if ! BENCH_QUIET=1 bench/load.sh "$db" 2000 42 >"$log" 2>&1; then
    echo "tests/bench/setup.sh: bench/load.sh failed (see $log)" >&2
    tail -5 "$log" >&2
    exit 0
fi
psql -X -q -d "$db" -c "CREATE EXTENSION IF NOT EXISTS pgtap" >/dev/null
BENCH_QUIET=1 BENCH_RUNS=1 BENCH_CLIENTS=4 BENCH_SECONDS=2 BENCH_BULK_ROWS=20000 \
    BENCH_WORKLIST_TX=20 BENCH_BASELINE_TX=1 BENCH_INDICATOR_TX=1 \
    bench/harness.sh "$db" >>"$log" 2>&1
rc=$?
psql -X -q -d "$db" -c "SELECT bench.record('harness', 'bench/harness.sh exit status', 'exit_status', $rc, NULL, NULL)" >/dev/null
[ $rc -eq 0 ] || { echo "tests/bench/setup.sh: bench/harness.sh failed with $rc (see $log)" >&2; tail -5 "$log" >&2; }
exit 0
