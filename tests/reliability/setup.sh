#!/bin/sh
# tests/reliability/setup.sh - prepares the reliability suite.
#
# Makes careflags_reliability on the suite's cluster (pgTAP, careflags,
# dblink for second sessions, pgrowlocks) with a table public.result; runs what
# cannot run inside a pgTAP file and records its figures there:
#   - drivers/stress.sh: 16 concurrent sessions and two kill -9 crashes on a
#     private cluster of its own (the suite's cluster is never killed);
#   - drivers/fuzz.sh: the evaluator fuzzer for a bounded time, and the
#     plain-C unit run under AddressSanitizer and UndefinedBehaviorSanitizer.
# The test files assert the figures (20_load_and_crash.sql, 70_fuzz.sql).
# Run by scripts/test.sh with PGHOST/PGPORT/PGUSER set; ROOT is the repo root.
set -eu
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
HERE=$ROOT/tests/reliability
DB=careflags_reliability

PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -d postgres \
    -c "DROP DATABASE IF EXISTS $DB" -c "DROP DATABASE IF EXISTS ${DB}_restored" \
    -c "CREATE DATABASE $DB" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION careflags" \
    -c "CREATE EXTENSION dblink" -c "CREATE EXTENSION pgrowlocks" \
    -c "CREATE TABLE public.result (scenario text, measure text, value numeric, PRIMARY KEY (scenario, measure))" \
    >/dev/null

# The fuzzer needs clang and its libFuzzer runtime (the project's bootstrap
# installs missing Debian packages and does nothing when all are there).
CAREFLAGS_EXTRA_PACKAGES="clang libclang-rt-14-dev" "$ROOT/scripts/bootstrap.sh"

results=$(mktemp /tmp/careflags-rel-results.XXXXXX)
trap 'rm -f "$results" "$results.fuzz"' EXIT
# The drivers start their own cluster: keep the suite's connection settings.
( "$HERE/drivers/stress.sh" "$results" ) || echo "# stress driver failed (exit $?); 20_load_and_crash.sql will say what is missing" >&2
( "$HERE/../../fuzz/run.sh" "$results.fuzz" ) || echo "# fuzz driver failed (exit $?); 70_fuzz.sql will say what is missing" >&2
cat "$results.fuzz" >>"$results" 2>/dev/null || true
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c "\\copy public.result FROM '$results'" >/dev/null
