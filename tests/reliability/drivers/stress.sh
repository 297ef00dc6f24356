#!/bin/sh
# tests/reliability/drivers/stress.sh - concurrency and crash scenarios on a
# private cluster that may be killed.  Writes one result a line to $1:
#   scenario <TAB> measure <TAB> value
# which tests/reliability/setup.sh loads and 20_load_and_crash.sql asserts.
#
#   LOAD_SECONDS (15)  CLIENTS (16)  NPAT (200)   the concurrent load
#   CRASH_SECONDS (3)  bulk load time before the kill
#   RECOMPUTE_NPAT (12000)  patients in the database when recompute_all is killed
#
# 1. load: CLIENTS sessions for LOAD_SECONDS write facts for overlapping
#    patients (single rows, multi-patient statements, deferred two-patient
#    transactions), acknowledge and snooze flags and recompute patients,
#    while the background worker ticks every second.  Counted: facts per
#    table against the transactions pgbench saw commit, audit rows against
#    the ledger written in the same transactions, deadlocks in the server
#    log, check_consistency(), verify_audit().
# 2. crash_bulk: 4 sessions bulk-load (100 rows a statement) while others
#    acknowledge; a backend in the middle of a bulk INSERT is killed with
#    SIGKILL; the postmaster resets every session and recovers.  Counted: the
#    rows of every bulk transaction whose commit pgbench saw, and the rest.
# 3. crash_recompute: recompute_all() over RECOMPUTE_NPAT patients is killed
#    half-way.  Counted: facts before and after, check_consistency(),
#    verify_audit(), and recompute_all() + check after.
set -eu
out=${1:?usage: stress.sh RESULT_FILE}
HERE=$(cd "$(dirname "$0")/.." && pwd)
LOAD_SECONDS=${LOAD_SECONDS:-15}
CLIENTS=${CLIENTS:-16}
NPAT=${NPAT:-200}
CRASH_SECONDS=${CRASH_SECONDS:-3}
RECOMPUTE_NPAT=${RECOMPUTE_NPAT:-12000}
PC_DB=careflags_rel
. "$HERE/drivers/private_cluster.sh"

work=$(mktemp -d /tmp/careflags-rel-work.XXXXXX)
chmod 777 "$work"
trap 'pc_stop; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
pc_start

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$PC_DB" -c "$1"; }
res() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$out"; }
: >"$out"

psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $PC_DB" >/dev/null
q "CREATE EXTENSION careflags" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "$PC_DB" -v npat="$NPAT" -f "$HERE/load/population.psql" >/dev/null

# committed transactions of script number $2 in the pgbench logs with prefix $1
committed() {
    cat "$1"/log.* 2>/dev/null | awk -v s="$2" '$4 == s && $3 != "failed" && $3 != "skipped" { n++ } END { print n + 0 }'
}
count() { q "SELECT count(*) FROM careflags.$1 WHERE source_system = '$2'"; }

# ---- 1. concurrent load --------------------------------------------------
res load clients "$CLIENTS"
res load seconds "$LOAD_SECONDS"
res load patients "$NPAT"
flags_before=$(q "SELECT count(*) FROM careflags.flag")
set +e
(mkdir -p "$work/load/txlog" && cd "$work/load" && pgbench -n -d "$PC_DB" -c "$CLIENTS" -j 2 -T "$LOAD_SECONDS" -D npat="$NPAT" -l --log-prefix=txlog/log \
    -f "$HERE/load/fact_measurement.pgb@4" -f "$HERE/load/fact_assessment.pgb@3" \
    -f "$HERE/load/fact_medication.pgb@3" -f "$HERE/load/fact_multi.pgb@2" \
    -f "$HERE/load/fact_deferred.pgb@2" -f "$HERE/load/acknowledge.pgb@2" \
    -f "$HERE/load/snooze.pgb@1" -f "$HERE/load/recompute.pgb@1" >"$work/load.out" 2>&1)
res load pgbench_exit $?
set -e
res load failed_transactions "$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$work/load.out" | head -1)"
res load aborted_clients "$(grep -c 'aborted in command' "$work/load.out" || true)"
res load transactions "$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/load.out")"
res load tps "$(sed -n 's/^tps = \([0-9]*\).*/\1/p' "$work/load.out")"
res load committed_measurement "$(committed "$work/load/txlog" 0)"
res load stored_measurement "$(count measurement load)"
res load committed_assessment "$(committed "$work/load/txlog" 1)"
res load stored_assessment "$(count assessment load)"
res load committed_medication "$(committed "$work/load/txlog" 2)"
res load stored_medication "$(count medication load)"
res load committed_review "$(( $(committed "$work/load/txlog" 3) * 3 ))"
res load stored_review "$(count medication_review load)"
res load committed_fall "$(committed "$work/load/txlog" 4)"
res load stored_fall "$(count fall load)"
res load committed_care_plan "$(committed "$work/load/txlog" 4)"
res load stored_care_plan "$(count care_plan load)"
res load committed_flag_actions "$(( $(committed "$work/load/txlog" 5) + $(committed "$work/load/txlog" 6) ))"
res load ledger_actions "$(q "SELECT count(*) FROM public.ledger")"
res load audit_rows "$(q "SELECT count(*) FROM careflags.audit")"
res load quarantined "$(q "SELECT count(*) FROM careflags.quarantine WHERE reason NOT LIKE 'a flag of the patient is held by another session%'")"
res load left_for_later "$(q "SELECT count(*) FROM careflags.quarantine WHERE reason LIKE 'a flag of the patient is held by another session%'")"
res load refused_actions "$(q "SELECT count(*) FROM public.refused")"
res load flags_before "$flags_before"
res load flags_after "$(q "SELECT count(*) FROM careflags.flag")"
res load deadlocks "$(grep -c 'deadlock detected' "$PC_DIR/server.log" || true)"
res load server_errors "$(grep -c 'ERROR:' "$PC_DIR/server.log" || true)"
res load worker_running "$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'careflags worker'")"
res load inconsistent "$(q "SELECT count(*) FROM careflags.check_consistency()")"
res load audit_intact "$(q "SELECT intact::int FROM careflags.verify_audit()")"
res load audit_checked "$(q "SELECT checked FROM careflags.verify_audit()")"

# ---- 2. kill -9 during a bulk load ---------------------------------------
log_lines_before=$(wc -l <"$PC_DIR/server.log")
audit_before=$(q "SELECT count(*) FROM careflags.audit")
plans_before=$(count care_plan load)
set +e
(mkdir -p "$work/bulk/txlog" && cd "$work/bulk" && pgbench -n -d "$PC_DB" -c 6 -j 2 -T 60 -D npat="$NPAT" -l --log-prefix=txlog/log \
    -f "$HERE/load/bulk.pgb@4" -f "$HERE/load/fact_deferred.pgb@1" -f "$HERE/load/acknowledge.pgb@1" \
    >"$work/bulk.out" 2>&1) &
bench=$!
set -e
sleep "$CRASH_SECONDS"
victim=""
i=0
while [ -z "$victim" ] && [ $i -lt 50 ]; do
    victim=$(q "SELECT pid FROM pg_stat_activity WHERE datname = '$PC_DB' AND state = 'active'
                  AND query LIKE '%''bulk''%' AND backend_type = 'client backend' LIMIT 1")
    i=$((i + 1))
    [ -z "$victim" ] && sleep 0.05
done
res crash_bulk victim_found "$([ -n "$victim" ] && echo 1 || echo 0)"
[ -n "$victim" ] && kill -9 "$victim"
wait "$bench" || true
if pc_wait_ready 60; then res crash_bulk recovered 1; else res crash_bulk recovered 0; fi
res crash_bulk reset_logged "$(tail -n +"$log_lines_before" "$PC_DIR/server.log" | grep -c 'terminated by signal 9' || true)"
res crash_bulk committed_rows "$(( $(committed "$work/bulk/txlog" 0) * 100 ))"
res crash_bulk stored_rows "$(count measurement bulk)"
res crash_bulk committed_deferred "$(committed "$work/bulk/txlog" 1)"
res crash_bulk stored_deferred "$(( $(count care_plan load) - plans_before ))"
res crash_bulk aborted_clients "$(grep -c 'aborted' "$work/bulk.out" || true)"
res crash_bulk ledger_actions "$(q "SELECT count(*) FROM public.ledger")"
res crash_bulk audit_rows "$(q "SELECT count(*) FROM careflags.audit")"
res crash_bulk audit_rows_before "$audit_before"
res crash_bulk audit_intact "$(q "SELECT intact::int FROM careflags.verify_audit()")"
res crash_bulk inconsistent "$(q "SELECT count(*) FROM careflags.check_consistency()")"

# ---- 3. kill -9 during recompute_all() -----------------------------------
q "INSERT INTO careflags.patient (source_system, source_key, birth_date)
     SELECT 'rel', 'r' || g, DATE '1930-01-01' + (g % 5000) FROM generate_series($NPAT + 1, $RECOMPUTE_NPAT) g;
   INSERT INTO careflags.episode (patient_id, source_system, setting, unit_id, started_at)
     SELECT patient_id, 'rel', 'home_nursing', 'rel-a', now() - interval '40 days'
       FROM careflags.patient WHERE source_key LIKE 'r%';" >/dev/null
facts() {
    q "SELECT (SELECT count(*) FROM careflags.patient) + (SELECT count(*) FROM careflags.episode)
            + (SELECT count(*) FROM careflags.measurement) + (SELECT count(*) FROM careflags.assessment)
            + (SELECT count(*) FROM careflags.medication) + (SELECT count(*) FROM careflags.medication_review)
            + (SELECT count(*) FROM careflags.fall) + (SELECT count(*) FROM careflags.care_plan)"
}
facts_before=$(facts)
open_before=$(q "SELECT count(*) FROM careflags.flag WHERE resolved_at IS NULL")
# make every flag stale: the recompute has work to do for each patient
q "UPDATE careflags.rule SET due_interval = due_interval + interval '1 day'
    WHERE rule_id = 'fall_risk.assessment.admission'" >/dev/null
res crash_recompute inconsistent_before_kill "$(q "SELECT count(*) FROM careflags.check_consistency()")"
log_lines_before=$(wc -l <"$PC_DIR/server.log")
psql -X -q -d "$PC_DB" -c "SET client_min_messages = warning; SELECT careflags.recompute_all()" >"$work/recompute.out" 2>&1 &
rc_pid=$!
victim=""
i=0
while [ -z "$victim" ] && [ $i -lt 100 ]; do
    victim=$(q "SELECT pid FROM pg_stat_activity WHERE query LIKE '%recompute_all()%' AND state = 'active'
                  AND pid <> pg_backend_pid() AND now() - query_start > interval '100 ms' LIMIT 1")
    i=$((i + 1))
    [ -z "$victim" ] && sleep 0.05
done
res crash_recompute victim_found "$([ -n "$victim" ] && echo 1 || echo 0)"
[ -n "$victim" ] && kill -9 "$victim"
wait "$rc_pid" || true
if pc_wait_ready 60; then res crash_recompute recovered 1; else res crash_recompute recovered 0; fi
res crash_recompute reset_logged "$(tail -n +"$log_lines_before" "$PC_DIR/server.log" | grep -c 'terminated by signal 9' || true)"
res crash_recompute facts_before "$facts_before"
res crash_recompute facts_after "$(facts)"
res crash_recompute open_flags_before "$open_before"
res crash_recompute inconsistent_after_restart "$(q "SELECT count(*) FROM careflags.check_consistency()")"
res crash_recompute audit_intact "$(q "SELECT intact::int FROM careflags.verify_audit()")"
res crash_recompute recompute_changes "$(q "SET client_min_messages = warning; SELECT careflags.recompute_all()" | tail -1)"
res crash_recompute inconsistent_after_recompute "$(q "SELECT count(*) FROM careflags.check_consistency()")"
res crash_recompute worker_back "$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'careflags worker'")"
