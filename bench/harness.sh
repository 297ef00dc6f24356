#!/bin/sh
# bench/harness.sh - what careflags costs a record system and how fast it
# answers, side by side with the hand-written SQL of bench/baseline.sql.
#
# Usage (PGHOST/PGPORT/PGUSER of the cluster, a superuser; DB loaded by
# bench/load.sh; run as root or as the cluster's owner, so that /proc of the
# backend can be read):
#   bench/harness.sh DB
# Steps (BENCH_STEPS, default all, in this order):
#   machine     the machine, the server settings and the data set
#   agree       careflags' open flags = baseline.flag (patient, rule,
#               due_from, due_at) at the frozen clock; indicators' counts
#               equal; the harness stops (exit 2) when they differ
#   recompute   careflags.recompute_all(): patients/s, backend memory
#               (peak RssAnon sampled from /proc every 0.1 s, and VmHWM)
#   write       single-row fact writes, BENCH_CLIENTS clients, pgbench:
#               tps with careflags' triggers vs with them disabled; and,
#               when the worker serves DB, with careflags.evaluate_in_worker
#               (counted until the worker has emptied the queue)
#   rate        the same writes at a steady BENCH_RATE per second (pgbench
#               --rate, per-transaction log): p50/p90/p99 latency counted
#               from each write's scheduled start (the schedule lag is part
#               of it, and its own p99 is recorded), without careflags, with
#               it, and in the worker when it serves DB
#   bulk        1,000,000 facts by INSERT ... SELECT and by COPY, each in a
#               transaction rolled back afterwards: with vs without triggers
#   worklist    one 30-bed unit's worklist (careflags.worklist, one row per
#               flag) and its careflags.actions (one row per patient and
#               action, the nurse's main view): p50/p99 as a nurse (RLS) and
#               as superuser reading the same unit, and the same question to
#               baseline.worklist
#   indicators  each national indicator: careflags vs baseline.indicator
# Durability: BENCH_DURABILITY lists the settings the write and rate steps
# run under: "asis" (the server's own, default) and/or "durable" (fsync = on
# by ALTER SYSTEM and reload for the step, synchronous_commit = on; the
# server's setting is restored afterwards).  Each figure names its setting.
# "Without careflags" = the same tables with every careflags trigger off
# (ALTER TABLE ... DISABLE TRIGGER USER: the guard and the evaluation; the
# foreign keys stay).  Every figure goes to bench.result in DB.
#
# Knobs (defaults are the full-scale run): BENCH_RUNS (3) repetitions of
# recompute and of each write/bulk mode, BENCH_CLIENTS (8), BENCH_SECONDS
# (30) per write run, BENCH_BULK_ROWS (1000000), BENCH_WORKLIST_TX (1000),
# BENCH_BASELINE_TX (5; 0 skips the baseline worklist), BENCH_INDICATOR_TX (5), BENCH_UNIT (nh-lt-001),
# BENCH_RATE (2000 writes/s), BENCH_RATE_SECONDS (BENCH_SECONDS),
# BENCH_DURABILITY (asis).
set -eu
cd "$(dirname "$0")/.."
db=${1:?usage: bench/harness.sh DB}
steps=${BENCH_STEPS:-machine agree recompute write rate bulk worklist indicators}
runs=${BENCH_RUNS:-3}
clients=${BENCH_CLIENTS:-8}
seconds=${BENCH_SECONDS:-30}
bulk_rows=${BENCH_BULK_ROWS:-1000000}
worklist_tx=${BENCH_WORKLIST_TX:-1000}
baseline_tx=${BENCH_BASELINE_TX:-5}
indicator_tx=${BENCH_INDICATOR_TX:-5}
unit=${BENCH_UNIT:-nh-lt-001}
rate=${BENCH_RATE:-2000}
rate_seconds=${BENCH_RATE_SECONDS:-$seconds}
durability=${BENCH_DURABILITY:-asis}
PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
export PGOPTIONS
PSQL="psql -X -q -v ON_ERROR_STOP=1 -d $db"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/careflags-bench.XXXXXX")
chmod 755 "$tmp"
durable_set=""
# a durable step changed fsync: give the server its own setting back
restore_durability() {
    if [ -n "$durable_set" ]; then
        $PSQL -At -c "ALTER SYSTEM RESET fsync" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
        durable_set=""
    fi
}
trap 'restore_durability; rm -rf "$tmp"' EXIT

q() { $PSQL -At -c "$1"; }
say() { [ -n "${BENCH_QUIET:-}" ] || echo "$@"; }
record() {  # step what metric value unit detail
    echo "SELECT bench.record(:'step', :'what', :'metric', NULLIF(:'value', '')::numeric, :'unit', NULLIF(:'detail', ''))" |
        $PSQL -v step="$1" -v what="$2" -v metric="$3" -v value="$4" -v unit="$5" -v detail="$6" >/dev/null
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
now_s() { date +%s.%N; }

patients=$(q "SELECT count(*) FROM careflags.patient")
anchor_epoch=$(q "SELECT extract(epoch FROM careflags.clock())::bigint")
# reports end at a month that is over (careflags.report_month_end)
period_end=${BENCH_PERIOD_END:-$(q "SELECT careflags.report_month_end(NULL)")}
t_harness=$(q "SELECT clock_timestamp()")
server_fsync=$(q "SHOW fsync")
say "careflags benchmark on $db: $patients patients, clock $(q "SELECT careflags.clock()")"

# latencies of a pgbench script: prints "p50 p99 mean" in ms
latencies() {  # label file transactions user [pgbench options...]
    label=$1 file=$2 tx=$3 user=$4
    shift 4
    rm -f "$tmp"/lat*
    pgbench -n -M prepared -c 1 -t "$tx" -U "$user" -l --log-prefix="$tmp/lat" "$@" -f "$file" "$db" \
        >"$tmp/pgbench.out" 2>&1 || { cat "$tmp/pgbench.out" >&2; echo "bench/harness.sh: $label failed" >&2; exit 1; }
    grep -q "number of failed transactions: 0" "$tmp/pgbench.out" ||
        { cat "$tmp/pgbench.out" >&2; echo "bench/harness.sh: $label had failed transactions" >&2; exit 1; }
    cat "$tmp"/lat* | awk '{ print $3 / 1000.0 }' | sort -g |
        awk '{ v[NR] = $1; s += $1 } END { i50 = int((NR + 1) * 0.50); i99 = int(NR * 0.99 + 0.999);
               if (i50 < 1) i50 = 1; if (i99 < 1) i99 = 1; if (i99 > NR) i99 = NR;
               printf "%.3f %.3f %.3f\n", v[i50], v[i99], s / NR }'
}

set_triggers() {  # on|off table...
    trigger_mode=$1
    shift
    for t in "$@"; do
        if [ "$trigger_mode" = on ]; then q "ALTER TABLE careflags.$t ENABLE TRIGGER USER" >/dev/null
        else q "ALTER TABLE careflags.$t DISABLE TRIGGER USER" >/dev/null; fi
    done
}

# durability asis|durable: the server's settings, or fsync = on (ALTER
# SYSTEM, reload) with synchronous_commit = on; prints the pgbench
# PGOPTIONS to add and sets $durability_label
set_durability() {
    if [ "$1" = durable ]; then
        durable_set=yes
        q "ALTER SYSTEM SET fsync = on" >/dev/null
        q "SELECT pg_reload_conf()" >/dev/null
        i=0
        while [ "$(q "SHOW fsync")" != on ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        durability_opts="-c synchronous_commit=on"
    else
        restore_durability
        i=0
        while [ "$(q "SHOW fsync")" != "$server_fsync" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        durability_opts=""
    fi
    durability_label="fsync=$(PGOPTIONS="$PGOPTIONS $durability_opts" q "SHOW fsync"), synchronous_commit=$(PGOPTIONS="$PGOPTIONS $durability_opts" q "SHOW synchronous_commit")"
}

# the evaluation modes of the write steps: off, on, and worker when the
# careflags worker serves DB
write_modes() {
    if [ "$(q "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'careflags worker' AND datname = current_database())
               AND to_regclass('careflags.evaluation_queue') IS NOT NULL")" = t ]; then
        echo "off on worker"
    else
        echo "off on"
    fi
}

# after a write run every run starts from the same data: the written facts
# go (evaluation off), the flags are made true again, and the dead rows of
# facts, flags and patient_state are vacuumed
reset_writes() {
    set_triggers off "$@"
    for t in "$@"; do q "DELETE FROM careflags.$t WHERE source_system = 'bench_write'" >/dev/null; done
    set_triggers on "$@"
    q "SELECT careflags.recompute_all()" >/dev/null
    q "VACUUM ANALYZE careflags.measurement, careflags.assessment, careflags.medication, careflags.flag, careflags.patient_state" >/dev/null
}

# wait until the worker has emptied the evaluation queue
drain_queue() {
    while [ "$(q "SELECT EXISTS (SELECT FROM careflags.evaluation_queue)")" = t ]; do sleep 0.05; done
}

for step in $steps; do
case $step in
machine)
    record machine "cores" count "$(nproc)" cores "$(uname -srm)"
    record machine "memory" GB "$(free -g | awk '/^Mem:/ { print $2 }')" GB ""
    record machine "load average (1, 5, 15 min)" load "$(cut -d' ' -f1 /proc/loadavg)" "" "$(cut -d' ' -f1-3 /proc/loadavg)"
    record machine "server" version "$(q "SHOW server_version_num")" "" "$(q "SELECT version()")"
    record machine "settings" "" "" "" "$(q "SELECT string_agg(name || '=' || setting || COALESCE(unit, ''), ', ' ORDER BY name) FROM pg_settings WHERE name IN ('shared_buffers', 'work_mem', 'fsync', 'synchronous_commit', 'max_wal_size', 'jit', 'max_parallel_workers_per_gather')")"
    record machine "careflags" version "" "" "$(q "SELECT careflags.version()")"
    record machine "patients" rows "$patients" rows ""
    for t in episode assessment measurement medication medication_review care_plan fall exemption; do
        record machine "careflags.$t" rows "$(q "SELECT count(*) FROM careflags.$t")" rows ""
    done
    record machine "open flags" rows "$(q "SELECT count(*) FROM careflags.flag WHERE resolved_at IS NULL")" rows ""
    record machine "database size" MB "$(q "SELECT pg_database_size(current_database()) / 1048576")" MB ""
    say "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
    ;;
agree)
    t0=$(now_s)
    $PSQL -At -F '|' >"$tmp/agree" <<'SQL'
WITH c AS (SELECT patient_id, rule_id, due_from, due_at FROM careflags.flag WHERE resolved_at IS NULL),
     b AS (SELECT patient_id, rule_id, due_from, due_at FROM baseline.flag),
     j AS (SELECT COALESCE(c.rule_id, b.rule_id) AS rule_id, c.patient_id AS cp, b.patient_id AS bp,
                  c.due_from IS DISTINCT FROM b.due_from OR c.due_at IS DISTINCT FROM b.due_at AS differ
           FROM c FULL JOIN b USING (patient_id, rule_id))
SELECT r.rule_id, count(j.cp), count(j.bp),
       count(*) FILTER (WHERE j.cp IS NULL AND j.bp IS NOT NULL),
       count(*) FILTER (WHERE j.bp IS NULL AND j.cp IS NOT NULL),
       count(*) FILTER (WHERE j.cp IS NOT NULL AND j.bp IS NOT NULL AND j.differ)
FROM baseline.rule r LEFT JOIN j ON j.rule_id = r.rule_id
GROUP BY r.rule_id ORDER BY r.rule_id;
SQL
    secs=$(echo "$(now_s) - $t0" | bc -l)
    bad=0
    while IFS='|' read -r rule ncf nbl onlyb onlyc differ; do
        record agree "$rule" open_flags "$ncf" flags "baseline $nbl; only baseline $onlyb; only careflags $onlyc; due times differ $differ"
        bad=$((bad + onlyb + onlyc + differ))
    done <"$tmp/agree"
    total=$(awk -F'|' '{ s += $2 } END { print s + 0 }' "$tmp/agree")
    record agree "flags: careflags vs baseline, all rules" differences "$bad" flags "$total open flags compared (patient, rule, due_from, due_at); $(printf '%.1f' "$secs") s"
    # exact counts: the small-cell rule off (superuser setting) for the comparison
    ind_bad=$(q "SET careflags.min_cell_size = 1; SELECT count(*) FROM careflags.indicator_list() l,
                      careflags.indicator(l.indicator, '$period_end') c, baseline.indicator(l.indicator, '$period_end') b
                 WHERE (c.numerator, c.denominator, c.assessed, c.not_assessed, c.not_relevant, c.not_recorded, c.population)
                       IS DISTINCT FROM (b.numerator, b.denominator, b.assessed, b.not_assessed, b.not_relevant, b.not_recorded, b.population)")
    record agree "indicators: careflags vs baseline, period ending $period_end" differences "$ind_bad" indicators ""
    say "agree: $total open flags, $bad differences; indicators differing: $ind_bad"
    if [ "$bad" -ne 0 ] || [ "$ind_bad" -ne 0 ]; then
        echo "bench/harness.sh: careflags and the baseline disagree; no timing" >&2
        exit 2
    fi
    ;;
recompute)
    for run in $(seq 1 "$runs"); do
        app=bench_recompute_$$_$run
        t0=$(now_s)
        PGAPPNAME=$app $PSQL -c "SELECT careflags.recompute_all()" >/dev/null &
        job=$!
        pid=""
        while [ -z "$pid" ] && kill -0 "$job" 2>/dev/null; do
            pid=$(q "SELECT pid FROM pg_stat_activity WHERE application_name = '$app'")
        done
        : >"$tmp/rss"
        while kill -0 "$job" 2>/dev/null; do
            [ -n "$pid" ] && [ -r "/proc/$pid/status" ] &&
                awk '/^(RssAnon|VmHWM|VmRSS):/ { v[$1] = $2 } END { if (v["RssAnon:"] != "") print v["RssAnon:"], v["VmHWM:"], v["VmRSS:"] }' \
                    "/proc/$pid/status" >>"$tmp/rss" 2>/dev/null || true
            sleep 0.1
        done
        wait "$job" || { echo "bench/harness.sh: recompute_all failed" >&2; exit 1; }
        secs=$(echo "$(now_s) - $t0" | bc -l)
        rate=$(echo "$patients / $secs" | bc -l)
        n=$(wc -l <"$tmp/rss")
        if [ "$n" -gt 0 ]; then
            peak=$(awk 'BEGIN { m = 0 } { if ($1 > m) m = $1 } END { print m }' "$tmp/rss")
            hwm=$(awk 'BEGIN { m = 0 } { if ($2 > m) m = $2 } END { print m }' "$tmp/rss")
            curve=$(awk -v n="$n" '{ v[NR] = $1 } END { printf "%d/%d/%d/%d/%d", v[1], v[int(n * 0.25) + 1], v[int(n * 0.5) + 1], v[int(n * 0.75) + 1], v[n] }' "$tmp/rss")
        else
            peak="" hwm="" curve="(too short to sample)"
        fi
        record recompute "recompute_all (steady state), run $run" patients_per_s "$(printf '%.0f' "$rate")" patients/s "$(printf '%.2f' "$secs") s for $patients patients"
        record recompute "backend private memory during recompute_all, run $run" peak_rss_anon_kb "$peak" kB "RssAnon at 0/25/50/75/100 % of the run: $curve kB ($n samples); VmHWM $hwm kB (includes shared buffers touched)"
        say "recompute run $run: $(printf '%.0f' "$rate") patients/s, peak RssAnon ${peak:-?} kB ($curve)"
    done
    ;;
write)
    tables="measurement assessment medication"
    scripts="-f bench/pgbench/write_measurement.sql@5 -f bench/pgbench/write_assessment.sql@3 -f bench/pgbench/write_medication.sql@2"
    # "worker" = careflags.evaluate_in_worker on: the writes queue their
    # patients and the background worker evaluates them after commit; its
    # CPU competes with the writers', and the run counts until the worker
    # has emptied the queue (the backlog a run leaves is part of its cost)
    modes=$(write_modes)
    case $modes in *worker*) ;; *) say "write: the careflags worker does not serve $db (careflags.worker_database): no run with careflags.evaluate_in_worker" ;; esac
    for dur in $durability; do
    set_durability "$dur"
    : >"$tmp/tps_on"; : >"$tmp/tps_off"; : >"$tmp/tps_worker"
    for run in $(seq 1 "$runs"); do
        for mode in $modes; do
            if [ "$mode" = off ]; then set_triggers off $tables; else set_triggers on $tables; fi
            opts="$durability_opts"
            [ "$mode" = worker ] && opts="$opts -c careflags.evaluate_in_worker=on"
            t0=$(now_s)
            # shellcheck disable=SC2086
            PGOPTIONS="$PGOPTIONS $opts" pgbench -n -M prepared -c "$clients" -j "$clients" -T "$seconds" -D patients="$patients" \
                    -D anchor_epoch="$anchor_epoch" $scripts "$db" >"$tmp/pgbench.out" 2>&1 ||
                { set_triggers on $tables; cat "$tmp/pgbench.out" >&2; exit 1; }
            t1=$(now_s)
            backlog="" t2=$t1
            if [ "$mode" = worker ]; then
                backlog=$(q "SELECT COALESCE(sum(cardinality(patient_ids)), 0) FROM careflags.evaluation_queue")
                drain_queue
                t2=$(now_s)
            fi
            tx=$(awk -F': ' '/number of transactions actually processed/ { split($2, a, "/"); print a[1] + 0; exit }' "$tmp/pgbench.out")
            lat=$(awk '/^latency average = / { print $4; exit }' "$tmp/pgbench.out")
            failed=$(awk -F': ' '/number of failed transactions/ { print $2 + 0; exit }' "$tmp/pgbench.out")
            # throughput over the writes and, with the worker, until it caught up
            tps=$(echo "$tx / ($t2 - $t0)" | bc -l | xargs printf '%.1f')
            drain=$(echo "$t2 - $t1" | bc -l | xargs printf '%.2f')
            echo "$tps" >>"$tmp/tps_$mode"
            case $mode in
            off) what="single-row writes, $clients clients, without careflags" ;;
            on) what="single-row writes, $clients clients, with careflags" ;;
            worker) what="single-row writes, $clients clients, with careflags evaluating in the worker" ;;
            esac
            [ "$dur" = durable ] && what="$what, $durability_label"
            what="$what, run $run"
            detail="$tx writes in $seconds s; latency average $lat ms; failed ${failed:-?}; measurement:assessment:medication = 5:3:2; $durability_label"
            [ "$mode" = worker ] && detail="$detail; queue at the end: $backlog patients, emptied $drain s later (counted)"
            record write "$what" tps "$tps" tx/s "$detail"
            say "write run $run ($durability_label), careflags $mode: $tps tps, $lat ms${backlog:+, backlog $backlog emptied in $drain s}"
            reset_writes $tables
        done
    done
    set_triggers on $tables
    off=$(median <"$tmp/tps_off")
    for mode in $modes; do
        [ "$mode" = off ] && continue
        v=$(median <"$tmp/tps_$mode")
        label="in the writing statement (default)"
        [ "$mode" = worker ] && label="in the worker (careflags.evaluate_in_worker)"
        target="<= 1.3"
        [ "$mode" = worker ] && target="<= 1.1"
        dlabel=""
        [ "$dur" = durable ] && dlabel=", $durability_label"
        record write "single-row writes: time per write with / without careflags, evaluation $label$dlabel" ratio \
            "$(echo "$off / $v" | bc -l | xargs printf '%.2f')" x "median tps with $v, without $off; $durability_label; target $target"
        say "write ($durability_label), evaluation $label: with/without time ratio $(echo "$off / $v" | bc -l | xargs printf '%.2f')"
    done
    done
    set_durability asis
    ;;
rate)
    tables="measurement assessment medication"
    scripts="-f bench/pgbench/write_measurement.sql@5 -f bench/pgbench/write_assessment.sql@3 -f bench/pgbench/write_medication.sql@2"
    modes=$(write_modes)
    for dur in $durability; do
    set_durability "$dur"
    for mode in $modes; do : >"$tmp/rate_p50_$mode"; : >"$tmp/rate_p90_$mode"; : >"$tmp/rate_p99_$mode"; done
    for run in $(seq 1 "$runs"); do
        for mode in $modes; do
            if [ "$mode" = off ]; then set_triggers off $tables; else set_triggers on $tables; fi
            opts="$durability_opts"
            [ "$mode" = worker ] && opts="$opts -c careflags.evaluate_in_worker=on"
            rm -f "$tmp"/rate.*
            # shellcheck disable=SC2086
            PGOPTIONS="$PGOPTIONS $opts" pgbench -n -M prepared -c "$clients" -j "$clients" -R "$rate" -T "$rate_seconds" \
                    -l --log-prefix="$tmp/rate" -D patients="$patients" -D anchor_epoch="$anchor_epoch" $scripts "$db" \
                    >"$tmp/pgbench.out" 2>&1 ||
                { set_triggers on $tables; cat "$tmp/pgbench.out" >&2; exit 1; }
            drain=""
            if [ "$mode" = worker ]; then
                t1=$(now_s)
                drain_queue
                drain=$(echo "$(now_s) - $t1" | bc -l | xargs printf '%.2f')
            fi
            failed=$(awk -F': ' '/number of failed transactions/ { print $2 + 0; exit }' "$tmp/pgbench.out")
            # log lines: client tx latency_us script epoch epoch_us lag_us;
            # with --rate the latency runs from the scheduled start
            cat "$tmp"/rate.* | awk '$3 ~ /^[0-9]+$/ { print $3 / 1000.0, $7 / 1000.0 }' >"$tmp/rate.all"
            pct='{ v[NR] = $1 } END { i50 = int(NR * 0.50 + 0.999); i90 = int(NR * 0.90 + 0.999); i99 = int(NR * 0.99 + 0.999);
                   if (NR == 0) { print 0, 0, 0, 0; exit } printf "%d %.3f %.3f %.3f\n", NR, v[i50], v[i90], v[i99] }'
            set -- $(awk '{ print $1 }' "$tmp/rate.all" | sort -g | awk "$pct") $(awk '{ print $2 }' "$tmp/rate.all" | sort -g | awk "$pct")
            n=$1 p50=$2 p90=$3 p99=$4 lag99=$8
            echo "$p50" >>"$tmp/rate_p50_$mode"; echo "$p90" >>"$tmp/rate_p90_$mode"; echo "$p99" >>"$tmp/rate_p99_$mode"
            case $mode in
            off) what="steady $rate writes/s, $clients clients, without careflags" ;;
            on) what="steady $rate writes/s, $clients clients, with careflags" ;;
            worker) what="steady $rate writes/s, $clients clients, with careflags evaluating in the worker" ;;
            esac
            [ "$dur" = durable ] && what="$what, $durability_label"
            detail="$n writes in $rate_seconds s; p50 $p50, p90 $p90, p99 $p99 ms from the scheduled start; schedule lag p99 $lag99 ms; failed ${failed:-?}; $durability_label"
            [ "$mode" = worker ] && detail="$detail; queue emptied $drain s after the run"
            record rate "$what, run $run" p99_ms "$p99" ms "$detail"
            say "rate run $run ($durability_label), careflags $mode: p50 $p50 p90 $p90 p99 $p99 ms (lag p99 $lag99 ms)${drain:+, queue emptied in $drain s}"
            reset_writes $tables
        done
    done
    set_triggers on $tables
    off99=$(median <"$tmp/rate_p99_off")
    for mode in $modes; do
        m50=$(median <"$tmp/rate_p50_$mode"); m90=$(median <"$tmp/rate_p90_$mode"); m99=$(median <"$tmp/rate_p99_$mode")
        case $mode in
        off) label="without careflags" ;;
        on) label="evaluation in the writing statement (default)" ;;
        worker) label="evaluation in the worker (careflags.evaluate_in_worker)" ;;
        esac
        dlabel=""
        [ "$dur" = durable ] && dlabel=", $durability_label"
        record rate "steady $rate writes/s, $label$dlabel, median of $runs" p50_ms "$m50" ms "$durability_label"
        record rate "steady $rate writes/s, $label$dlabel, median of $runs" p90_ms "$m90" ms "$durability_label"
        record rate "steady $rate writes/s, $label$dlabel, median of $runs" p99_ms "$m99" ms "$durability_label"
        [ "$mode" = off ] ||
            record rate "steady $rate writes/s: p99 with / without careflags, $label$dlabel" ratio \
                "$(echo "$m99 / $off99" | bc -l | xargs printf '%.2f')" x "p99 $m99 ms with, $off99 ms without; $durability_label; target <= 1.5"
        say "rate ($durability_label), $label: p50 $m50 p90 $m90 p99 $m99 ms"
    done
    done
    set_durability asis
    ;;
bulk)
    gen="SELECT 1 + i % $patients, 'bench_bulk', 'k' || i, 'weight'::careflags.measurement_kind, 40 + (i % 600) / 10.0,
                pg_catalog.to_timestamp($anchor_epoch - (i % 2000) * 3600)
         FROM pg_catalog.generate_series(1, $bulk_rows) AS i"
    cols="patient_id, source_system, source_key, kind, value, measured_at"
    $PSQL -c "\\copy ($gen) TO '$tmp/bulk.tsv'"
    for method in insert copy; do
        : >"$tmp/bulk_on"; : >"$tmp/bulk_off"
        for run in $(seq 1 "$runs"); do
            for mode in off on; do
                if [ "$method" = insert ]; then load="INSERT INTO careflags.measurement ($cols) $gen;"
                else load="\\copy careflags.measurement ($cols) FROM '$tmp/bulk.tsv'"; fi
                off_sql=""
                [ "$mode" = off ] && off_sql="ALTER TABLE careflags.measurement DISABLE TRIGGER USER;"
                secs=$($PSQL -At <<SQL
BEGIN;
$off_sql
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
$load
SELECT extract(epoch FROM clock_timestamp()) - :t0 AS secs \gset
ROLLBACK;
SELECT :secs;
SQL
)
                echo "$secs" >>"$tmp/bulk_$mode"
                label="with careflags (statement triggers)"
                [ "$mode" = off ] && label="without careflags"
                record bulk "$bulk_rows facts by $(echo "$method" | tr a-z A-Z), $label, run $run" seconds "$(printf '%.2f' "$secs")" s "over all $patients patients; rolled back afterwards"
                say "bulk $method run $run, careflags $mode: $(printf '%.1f' "$secs") s"
            done
            # the rolled-back rows: facts, and the flags and states the run changed
            q "VACUUM careflags.measurement, careflags.flag, careflags.patient_state" >/dev/null
        done
        on=$(median <"$tmp/bulk_on"); off=$(median <"$tmp/bulk_off")
        record bulk "$bulk_rows facts by $(echo "$method" | tr a-z A-Z): time with / without careflags" ratio "$(echo "$on / $off" | bc -l | xargs printf '%.2f')" x "median $(printf '%.1f' "$on") s with, $(printf '%.1f' "$off") s without; target <= 1.3"
    done
    rm -f "$tmp/bulk.tsv"
    q "VACUUM ANALYZE careflags.measurement" >/dev/null
    ;;
worklist)
    $PSQL >/dev/null <<SQL
DO \$\$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_nurse') THEN CREATE ROLE bench_nurse LOGIN; END IF;
END \$\$;
GRANT careflags_nurse TO bench_nurse;
INSERT INTO careflags.unit_access (unit_id, role) VALUES ('$unit', 'bench_nurse') ON CONFLICT DO NOTHING;
SQL
    beds=$(q "SELECT count(*) FROM baseline.current_episode WHERE unit_id = '$unit'")
    rows=$(q "SELECT count(*) FROM careflags.worklist WHERE unit_id = '$unit'")
    nurse_rows=$(psql -X -At -U bench_nurse -d "$db" -c "SELECT count(*) FROM careflags.worklist")
    differ=$(q "SELECT count(*) FROM ((SELECT patient_id, rule_id, due_from, due_at FROM careflags.worklist WHERE unit_id = '$unit'
                                      EXCEPT SELECT patient_id, rule_id, due_from, due_at FROM baseline.worklist WHERE unit_id = '$unit')
                                     UNION ALL
                                     (SELECT patient_id, rule_id, due_from, due_at FROM baseline.worklist WHERE unit_id = '$unit'
                                      EXCEPT SELECT patient_id, rule_id, due_from, due_at FROM careflags.worklist WHERE unit_id = '$unit')) d")
    record worklist "worklist of $unit: careflags vs baseline rows" differences "$differ" rows "$rows rows for $beds patients; the nurse sees $nurse_rows"
    if [ "$differ" -ne 0 ] || [ "$nurse_rows" -ne "$rows" ]; then
        echo "bench/harness.sh: the worklists of $unit differ" >&2
        exit 2
    fi
    set -- $(latencies "nurse worklist" bench/pgbench/worklist_nurse.sql "$worklist_tx" bench_nurse)
    record worklist "worklist, nurse of $unit (RLS)" p50_ms "$1" ms "p99 $2 ms; mean $3 ms; $worklist_tx queries; $rows rows"
    record worklist "worklist, nurse of $unit (RLS)" p99_ms "$2" ms "target < 1 ms"
    cf50=$1 n99=$2
    say "worklist nurse: p50 $1 ms, p99 $2 ms"
    set -- $(latencies "superuser worklist" bench/pgbench/worklist_unit.sql "$worklist_tx" "${PGUSER:-postgres}" -D unit="$unit")
    record worklist "worklist, superuser, WHERE unit_id = '$unit'" p50_ms "$1" ms "p99 $2 ms; mean $3 ms; $worklist_tx queries"
    record worklist "worklist, superuser, WHERE unit_id = '$unit'" p99_ms "$2" ms ""
    record worklist "worklist: nurse p99 / superuser p99 (the same rows)" ratio "$(echo "$n99 / $2" | bc -l | xargs printf '%.2f')" x "target <= 2"
    say "worklist superuser: p50 $1 ms, p99 $2 ms"
    arows=$(q "SELECT count(*) FROM careflags.actions WHERE unit_id = '$unit'")
    nurse_arows=$(psql -X -At -U bench_nurse -d "$db" -c "SELECT count(*) FROM careflags.actions")
    if [ "$nurse_arows" -ne "$arows" ]; then
        echo "bench/harness.sh: the nurse's careflags.actions ($nurse_arows rows) differ from $unit's ($arows)" >&2
        exit 2
    fi
    set -- $(latencies "nurse actions" bench/pgbench/actions_nurse.sql "$worklist_tx" bench_nurse)
    record worklist "actions, nurse of $unit (RLS)" p50_ms "$1" ms "p99 $2 ms; mean $3 ms; $worklist_tx queries; $arows rows"
    record worklist "actions, nurse of $unit (RLS)" p99_ms "$2" ms "target < 1 ms"
    n99=$2
    say "actions nurse: p50 $1 ms, p99 $2 ms"
    set -- $(latencies "superuser actions" bench/pgbench/actions_unit.sql "$worklist_tx" "${PGUSER:-postgres}" -D unit="$unit")
    record worklist "actions, superuser, WHERE unit_id = '$unit'" p50_ms "$1" ms "p99 $2 ms; mean $3 ms; $worklist_tx queries"
    record worklist "actions, superuser, WHERE unit_id = '$unit'" p99_ms "$2" ms ""
    record worklist "actions: nurse p99 / superuser p99 (the same rows)" ratio "$(echo "$n99 / $2" | bc -l | xargs printf '%.2f')" x "target <= 2"
    say "actions superuser: p50 $1 ms, p99 $2 ms"
    set -- $(latencies "select 1" bench/pgbench/select1.sql "$worklist_tx" bench_nurse)
    record worklist "SELECT 1 as the nurse (the floor: a round trip)" p50_ms "$1" ms "p99 $2 ms; $worklist_tx queries"
    if [ "$baseline_tx" -gt 0 ]; then
        set -- $(latencies "baseline worklist" bench/pgbench/worklist_baseline.sql "$baseline_tx" "${PGUSER:-postgres}" -D unit="$unit")
        record worklist "worklist, baseline.worklist WHERE unit_id = '$unit'" p50_ms "$1" ms "p99 $2 ms; mean $3 ms; $baseline_tx queries"
        record worklist "worklist, baseline.worklist WHERE unit_id = '$unit'" p99_ms "$2" ms ""
        record worklist "worklist: baseline p50 / careflags nurse p50" speedup "$(echo "$1 / $cf50" | bc -l | xargs printf '%.1f')" x "target >= 10"
        say "worklist baseline: p50 $1 ms, p99 $2 ms"
    else
        say "worklist baseline: skipped (BENCH_BASELINE_TX=0)"
    fi
    ;;
indicators)
    for ind in $(q "SELECT indicator FROM careflags.indicator_list()"); do
        set -- $(latencies "careflags $ind" bench/pgbench/indicator_careflags.sql "$indicator_tx" "${PGUSER:-postgres}" -D indicator="$ind" -D period_end="$period_end")
        cf=$1
        record indicators "careflags.indicator('$ind'), period ending $period_end" p50_ms "$1" ms "p99 $2 ms; $indicator_tx runs; target < 1000 ms"
        set -- $(latencies "baseline $ind" bench/pgbench/indicator_baseline.sql "$indicator_tx" "${PGUSER:-postgres}" -D indicator="$ind" -D period_end="$period_end")
        record indicators "baseline.indicator('$ind'), period ending $period_end" p50_ms "$1" ms "p99 $2 ms; $indicator_tx runs"
        record indicators "$ind: baseline p50 / careflags p50" speedup "$(echo "$1 / $cf" | bc -l | xargs printf '%.2f')" x ""
        say "indicator $ind: careflags p50 $cf ms, baseline p50 $1 ms"
    done
    ;;
*)
    echo "bench/harness.sh: unknown step \"$step\"" >&2
    exit 1
    ;;
esac
done

say ""
say "figures of this run (bench.result):"
[ -n "${BENCH_QUIET:-}" ] || $PSQL -c "SELECT step, what, metric, value, unit, detail, load FROM bench.result
                                        WHERE recorded_at >= '$t_harness' AND step <> 'agree' OR (step = 'agree' AND what LIKE '%all rules' AND recorded_at >= '$t_harness')
                                        ORDER BY result_id"
