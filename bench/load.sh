#!/bin/sh
# bench/load.sh - create a benchmark database and load a generated municipality.
#
# Usage (PGHOST/PGPORT/PGUSER of a running cluster with careflags installed,
# as a superuser):
#   bench/load.sh DB [patients] [seed]
# Environment: BENCH_ANCHOR (the "now" of the data set, default
# 2026-11-25 12:00 UTC), BENCH_YEARS (history, default 5).
#
# Drops and creates DB, installs careflags, runs bench/generate.sql and
# bench/baseline.sql, and
# streams every table with COPY (SELECT ... FROM bench.gen_x) TO STDOUT into
# COPY careflags.x FROM STDIN (generation and loading run in two backends at
# once).  The row guard (careflags.fact_guard: scores, validation) stays on
# during the load; the evaluation triggers are switched off and the flags are
# then built with one careflags.recompute_all(), which is timed and recorded
# in bench.result as "recompute_all (initial)".  The database's clocks are
# frozen at the anchor (ALTER DATABASE ... SET careflags.frozen_now and
# baseline.now), so every session - also a nurse's - sees the data set at
# the same instant.
set -eu
cd "$(dirname "$0")/.."
db=${1:?usage: bench/load.sh DB [patients] [seed]}
patients=${2:-100000}
seed=${3:-42}
anchor=${BENCH_ANCHOR:-2026-11-25 12:00:00+00}
years=${BENCH_YEARS:-5}
PSQL="psql -X -q -v ON_ERROR_STOP=1"
PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
export PGOPTIONS

now_s() { date +%s.%N; }
say() { [ -n "${BENCH_QUIET:-}" ] || echo "$@"; }

$PSQL -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
$PSQL -d "$db" -c "SET client_min_messages = warning" -c "CREATE EXTENSION careflags" >/dev/null
$PSQL -d "$db" -v patients="$patients" -v seed="$seed" -v anchor="$anchor" -v years="$years" \
      -f bench/generate.sql >/dev/null
$PSQL -d "$db" -f bench/results.sql >/dev/null
$PSQL -d "$db" -f bench/baseline.sql >/dev/null
$PSQL -d "$db" -c "ALTER DATABASE $db SET careflags.frozen_now = '$anchor'" \
      -c "ALTER DATABASE $db SET baseline.now = '$anchor'" >/dev/null

# evaluation_triggers ENABLE|DISABLE: careflags' evaluation triggers on the
# fact tables (the guard stays on either way)
evaluation_triggers() {
    $PSQL -d "$db" -v action="$1" >/dev/null <<'SQL'
SELECT format('ALTER TABLE careflags.%I %s TRIGGER %I', c.relname, :'action', t.tgname)
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = 'careflags'::regnamespace AND t.tgname LIKE 'z_evaluate%'
   AND c.relname IN ('patient', 'episode', 'assessment', 'measurement', 'medication',
                     'medication_review', 'care_plan', 'fall', 'exemption') \gexec
SQL
}

# evaluation triggers off for the load (the guard stays on)
evaluation_triggers DISABLE

copy_table() {
    table=$1
    cols=$2
    t0=$(now_s)
    $PSQL -d "$db" -c "COPY (SELECT $cols FROM bench.gen_$table) TO STDOUT" |
        $PSQL -d "$db" -c "COPY careflags.$table ($cols) FROM STDIN"
    t1=$(now_s)
    n=$($PSQL -At -d "$db" -c "SELECT count(*) FROM careflags.$table")
    secs=$(echo "$t1 - $t0" | bc -l)
    $PSQL -d "$db" -c "SELECT bench.record('load', 'COPY careflags.$table', 'rows', $n, 'rows', round($secs, 2) || ' s')" >/dev/null
    say "  $table: $n rows in $(printf '%.1f' "$secs") s"
}

say "loading $patients patients (seed $seed, anchor $anchor) into $db"
t_start=$(now_s)
copy_table unit "unit_id, name, setting"
copy_table patient "patient_id, source_system, source_key, display_name, birth_date, sex, deceased, deceased_at, updated_at"
$PSQL -d "$db" -c "SELECT setval('careflags.patient_patient_id_seq', (SELECT max(patient_id) FROM careflags.patient))" >/dev/null
copy_table episode "patient_id, source_system, source_key, setting, unit_id, started_at, ended_at"
copy_table measurement "patient_id, source_system, source_key, kind, value, measured_at"
copy_table assessment "patient_id, source_system, source_key, instrument, assessed_at, total"
copy_table medication "patient_id, source_system, source_key, atc, code, name, started_at, stopped_at, as_needed, status"
copy_table medication_review "patient_id, source_system, source_key, reviewed_at, code"
copy_table care_plan "patient_id, source_system, source_key, kind, started_at, ended_at, last_evaluated_at"
copy_table fall "patient_id, source_system, source_key, fell_at, code"
copy_table exemption "patient_id, source_system, source_key, scope, reason, valid_from, valid_until, recorded_by"
t_loaded=$(now_s)
quarantined=$($PSQL -At -d "$db" -c "SELECT count(*) FROM careflags.quarantine")
if [ "$quarantined" -ne 0 ]; then
    echo "bench/load.sh: $quarantined generated facts were quarantined:" >&2
    $PSQL -d "$db" -c "SELECT fact_table, reason, count(*) FROM careflags.quarantine GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 10" >&2
    exit 1
fi

evaluation_triggers ENABLE
$PSQL -d "$db" -c "VACUUM ANALYZE" >/dev/null
t_vac=$(now_s)
facts=$($PSQL -At -d "$db" -c "SELECT (SELECT count(*) FROM careflags.assessment) + (SELECT count(*) FROM careflags.measurement) + (SELECT count(*) FROM careflags.medication) + (SELECT count(*) FROM careflags.medication_review) + (SELECT count(*) FROM careflags.care_plan) + (SELECT count(*) FROM careflags.fall) + (SELECT count(*) FROM careflags.exemption) + (SELECT count(*) FROM careflags.episode)")
$PSQL -d "$db" -c "SELECT bench.record('load', 'generate and COPY, all tables', 'facts', $facts, 'rows', round($(echo "$t_loaded - $t_start" | bc -l), 1) || ' s')" >/dev/null
$PSQL -d "$db" -c "SELECT bench.record('load', 'VACUUM ANALYZE', 'seconds', round($(echo "$t_vac - $t_loaded" | bc -l), 1), 's', NULL)" >/dev/null
say "  $facts facts loaded in $(printf '%.0f' "$(echo "$t_loaded - $t_start" | bc -l)") s; VACUUM ANALYZE $(printf '%.0f' "$(echo "$t_vac - $t_loaded" | bc -l)") s"

# the flags: one recompute_all, timed
t0=$(now_s)
$PSQL -d "$db" -c "SET client_min_messages = warning" -c "SELECT careflags.recompute_all()" >/dev/null
t1=$(now_s)
secs=$(echo "$t1 - $t0" | bc -l)
$PSQL -d "$db" -c "SELECT bench.record('recompute', 'recompute_all (initial: raises every flag)', 'patients_per_s', round($patients / $secs), 'patients/s', round($secs, 1) || ' s for $patients patients')" >/dev/null
$PSQL -d "$db" -c "VACUUM ANALYZE careflags.flag, careflags.patient_state" >/dev/null
say "  recompute_all (initial) $(printf '%.1f' "$secs") s; open flags: $($PSQL -At -d "$db" -c "SELECT count(*) FROM careflags.flag WHERE resolved_at IS NULL")"
