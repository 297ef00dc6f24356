#!/bin/sh
# scripts/long/load-and-crash.sh - the reliability suite's concurrency and
# kill -9 scenarios, longer and larger, by hand.
#
#   scripts/long/load-and-crash.sh [SECONDS] [CLIENTS] [PATIENTS]
#
# Defaults: 600 s, 16 sessions, 2000 patients; the bulk load runs 20 s
# before the kill, recompute_all() is killed over 20000 patients.  Runs on a
# private cluster of its own (tests/reliability/drivers/stress.sh), prints
# the figures (scenario, measure, value) and whether each "nothing lost"
# count matches; exit status 1 when one does not.
set -eu
cd "$(dirname "$0")/../.."
export LOAD_SECONDS=${1:-600} CLIENTS=${2:-16} NPAT=${3:-2000}
export CRASH_SECONDS=${CRASH_SECONDS:-20} RECOMPUTE_NPAT=${RECOMPUTE_NPAT:-20000}
out=$(mktemp /tmp/careflags-long.XXXXXX)
trap 'rm -f "$out"' EXIT
echo "# $(date -u '+%F %T') load ${LOAD_SECONDS}s x ${CLIENTS} sessions, ${NPAT} patients; $(uptime)"
tests/reliability/drivers/stress.sh "$out"
column -t -s "$(printf '\t')" "$out"
awk -F '\t' '
    { v[$1 "/" $2] = $3 }
    END {
        bad = 0
        n = split("measurement assessment medication review fall care_plan", k, " ")
        for (i = 1; i <= n; i++)
            if (v["load/committed_" k[i]] != v["load/stored_" k[i]]) { print "LOST: load " k[i]; bad = 1 }
        if (v["load/ledger_actions"] != v["load/audit_rows"]) { print "LOST: load audit rows"; bad = 1 }
        # stored may exceed acknowledged by whole transactions that committed
        # while the crash cut their client off (at most one per session)
        d = v["crash_bulk/stored_rows"] - v["crash_bulk/committed_rows"]
        if (d < 0 || d % 100 != 0 || d > 600) { print "LOST or partial: bulk rows (" d ")"; bad = 1 }
        else if (d > 0) print "# " d / 100 " bulk transaction(s) committed without reaching their client"
        d = v["crash_bulk/stored_deferred"] - v["crash_bulk/committed_deferred"]
        if (d < 0 || d > 6) { print "LOST: deferred transactions (" d ")"; bad = 1 }
        if (v["crash_recompute/facts_before"] != v["crash_recompute/facts_after"]) { print "LOST: facts at recompute crash"; bad = 1 }
        if (v["load/deadlocks"] + v["load/failed_transactions"] > 0) { print "deadlocks or failed transactions"; bad = 1 }
        if (v["load/inconsistent"] + v["crash_bulk/inconsistent"] + v["crash_recompute/inconsistent_after_recompute"] > 0) { print "INCONSISTENT flags"; bad = 1 }
        if (!bad) print "# nothing lost: every committed fact and flag action counted back"
        exit bad
    }' "$out"
echo "# $(date -u '+%F %T') done; $(uptime)"
