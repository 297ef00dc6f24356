#!/bin/sh
# scripts/long/fuzz.sh - the evaluator fuzzer for hours, by hand.
#
#   scripts/long/fuzz.sh [SECONDS] [JOBS]      (default 3600 s, 1 job)
#
# Keeps its corpus in fuzz/corpus/ (not committed) so that runs build on
# each other; crash inputs land in fuzz/crashes-long/ - replay one with
# fuzz/evaluator_asan fuzz/crashes-long/<file>.  Also runs the stand-alone
# sanitizer build over 1,000,000 pseudo-random inputs.
set -eu
cd "$(dirname "$0")/../../fuzz"
secs=${1:-3600}
jobs=${2:-1}
make -s unit asan fuzz
mkdir -p corpus crashes-long
echo "# $(date -u '+%F %T') evaluator_asan, 1000000 inputs; $(uptime)"
./evaluator_asan -n 1000000
echo "# $(date -u '+%F %T') libFuzzer ${secs}s x ${jobs}; $(uptime)"
./evaluator_fuzz -max_total_time="$secs" -max_len=4096 -timeout=5 -rss_limit_mb=1024 \
    -artifact_prefix=crashes-long/ -print_final_stats=1 -jobs="$jobs" -workers="$jobs" corpus 2>&1 |
    grep -E '^(stat::|#[0-9]+ *DONE|==[0-9]+==|SUMMARY)' || true
echo "# corpus $(ls corpus | wc -l) inputs, crash inputs: $(ls crashes-long | wc -l); $(uptime)"
[ "$(ls crashes-long | wc -l)" -eq 0 ]
