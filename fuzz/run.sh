#!/bin/sh
# fuzz/run.sh - build and run the evaluator harness for a bounded time.
#
#   fuzz/run.sh [RESULT_FILE]     FUZZ_SECONDS (20), UNIT_INPUTS (20000)
#
# 1. evaluator_unit (gcc -Werror) and evaluator_asan (-fsanitize=address,
#    undefined, no recovery) run the fixed and pseudo-random inputs (the
#    evaluator and the reconciliation decision); decision_test runs the
#    decision's unit cases (under the sanitizers too); reason_test runs the
#    text renderer's unit cases and UNIT_INPUTS pseudo-random reasons and
#    action rows in every language (under the sanitizers too);
# 2. evaluator_fuzz (libFuzzer) runs FUZZ_SECONDS from an empty corpus with
#    a 5 s per-input timeout (a hang is a failure) and 1 GB RSS limit.
# Appends "fuzz <TAB> measure <TAB> value" lines to RESULT_FILE (for
# tests/reliability/70_fuzz.sql); a crash input is kept in fuzz/crashes/.
set -eu
cd "$(dirname "$0")"
out=${1:-/dev/stdout}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
UNIT_INPUTS=${UNIT_INPUTS:-20000}
res() { printf 'fuzz\t%s\t%s\n' "$1" "$2" >>"$out"; }

if make -s unit asan fuzz >build.log 2>&1; then res built 1; else res built 0; cat build.log >&2; exit 1; fi
rm -f build.log
set +e
./evaluator_unit -n "$UNIT_INPUTS" >/dev/null 2>&1; res unit_exit $?
./decision_test >decision.log 2>&1; res decision_unit_exit $?
res decision_unit_cases "$(grep -c '^ok - ' decision.log)"
rm -f decision.log
./reason_test -n "$UNIT_INPUTS" >reason.log 2>&1; rc=$?
res reason_exit $rc
res reason_cases "$(grep -c '^ok - ' reason.log)"
res reason_failures "$(grep -c '^not ok - ' reason.log)"
res reason_inputs "$(sed -n 's/^# \([0-9]*\) pseudo-random inputs.*/\1/p' reason.log)"
res reason_sanitizer_reports "$(grep -c 'ERROR: AddressSanitizer\|runtime error' reason.log || true)"
[ "$rc" -eq 0 ] && rm -f reason.log
./evaluator_asan -n "$UNIT_INPUTS" >/dev/null 2>asan.log; rc=$?
set -e
res asan_exit $rc
res asan_reports "$(grep -c 'ERROR: AddressSanitizer\|runtime error' asan.log || true)"
[ "$rc" -eq 0 ] && rm -f asan.log
res unit_inputs "$((UNIT_INPUTS + 257))"

corpus=$(mktemp -d /tmp/careflags-fuzz.XXXXXX)
mkdir -p crashes
set +e
./evaluator_fuzz -max_total_time="$FUZZ_SECONDS" -max_len=4096 -timeout=5 -rss_limit_mb=1024 \
    -artifact_prefix=crashes/ -print_final_stats=1 "$corpus" >fuzz.log 2>&1
rc=$?
set -e
res fuzz_exit $rc
res fuzz_seconds "$FUZZ_SECONDS"
res fuzz_runs "$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' fuzz.log | tail -1)"
res fuzz_corpus "$(ls "$corpus" | wc -l)"
res fuzz_artifacts "$(ls crashes | wc -l)"
rm -rf "$corpus"
[ "$rc" -eq 0 ] && rm -f fuzz.log
rmdir crashes 2>/dev/null || true
exit 0
