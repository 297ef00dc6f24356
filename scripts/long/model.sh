#!/bin/sh
# scripts/long/model.sh - the model-based test of flag histories
# (tests/reliability/80_model.sql) for longer and with other seeds, by hand.
#
#   scripts/long/model.sh [RUNS] [SECONDS]     (default 5 runs x 600 s)
#
# Needs a cluster with careflags_reliability prepared (tests/reliability/
# setup.sh, or a dev cluster: PGHOST/PGPORT/PGUSER set, the database made with
# CREATE EXTENSION pgtap and careflags).  Run r uses seed r; the assertions
# are those of the test file, which prints the histories and steps it ran
# and the first violations it found.
set -eu
cd "$(dirname "$0")/../.."
runs=${1:-5}
seconds=${2:-600}
fail=0
for r in $(seq 1 "$runs"); do
    echo "# run $r: seed $r, $seconds s; $(uptime)"
    CAREFLAGS_MODEL_SEED=$r CAREFLAGS_MODEL_SECONDS=$seconds PGDATABASE=careflags_reliability \
        pg_prove --verbose tests/reliability/80_model.sql | grep -v '^ok' || fail=1
done
exit $fail
