#!/bin/sh
# bench/fhir_load.sh - time loading all Synthea data in data/ through careflags_fhir.
#
# Usage (against a running cluster, PGHOST/PGPORT/PGUSER set; careflags and
# careflags_fhir installed):  bench/fhir_load.sh [tables|resource] [runs] [episodes]
# With "episodes", Encounters of class AMB become home-nursing episodes (the
# stress case: the evaluator then reads ~1,200 episodes and raises flags).
# Creates and drops a scratch database per run.  The files are read and
# decompressed by psql before the timed transaction starts.
set -eu
cd "$(dirname "$0")/.."
layout=${1:-tables}
runs=${2:-3}
episodes=${3:-}
data=data
for run in $(seq 1 "$runs"); do
    db=careflags_fhir_bench_$$
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
    psql -X -q -d "$db" -c "SET client_min_messages = warning" -c "CREATE EXTENSION careflags_fhir CASCADE" >/dev/null
    {
        echo "SET client_min_messages = error;"
        i=0
        for f in "$data"/synthea-bundles/*.json*; do
            i=$((i + 1))
            case $f in *.gz) echo "\\set b$i \`zcat '$f'\`" ;; *) echo "\\set b$i \`cat '$f'\`" ;; esac
        done
        nb=$i
        j=0
        for f in "$data"/synthea-bulk-10/*.ndjson*; do
            j=$((j + 1))
            t=$(basename "$f" | sed 's/\..*//')
            case $f in *.gz) echo "\\set n$j \`zcat '$f'\`" ;; *) echo "\\set n$j \`cat '$f'\`" ;; esac
            echo "\\set ty$j $t"
        done
        echo "BEGIN;"
        echo "SELECT careflags_fhir.setup('$layout') \\g /dev/null"
        if [ "$episodes" = episodes ]; then
            echo "INSERT INTO careflags_fhir.setting_map (resource_type, match_kind, system, code, setting, unit_id) VALUES ('Encounter', 'class', 'http://terminology.hl7.org/CodeSystem/v3-ActCode', 'AMB', 'home_nursing', 'district');"
        fi
        echo "SELECT clock_timestamp() AS t0 \\gset"
        for k in $(seq 1 "$nb"); do echo "SELECT careflags_fhir.load_bundle(:'b$k'::jsonb) \\g /dev/null"; done
        echo "SELECT clock_timestamp() AS t1 \\gset"
        for k in $(seq 1 "$j"); do echo "SELECT careflags_fhir.load_ndjson(:'ty$k', :'n$k') \\g /dev/null"; done
        echo "SELECT round(extract(epoch FROM :'t1'::timestamptz - :'t0'::timestamptz)::numeric, 2) AS bundles_s,"
        echo "       round(extract(epoch FROM clock_timestamp() - :'t1'::timestamptz)::numeric, 2) AS ndjson_s,"
        echo "       round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 2) AS total_s,"
        echo "       (SELECT count(*) FROM careflags_fhir.resource_map) AS resources,"
        echo "       (SELECT count(*) FROM careflags.episode) AS episodes;"
        echo "COMMIT;"
    } > /tmp/fhir_load_$$.sql
    echo "run $run ($layout): $(psql -X -q -A -t -F ' ' -d "$db" -f /tmp/fhir_load_$$.sql | tail -1 | awk '{print "bundles " $1 " s, ndjson " $2 " s, total " $3 " s, " $4 " resources, " $5 " episodes"}')"
    psql -X -q -d postgres -c "DROP DATABASE $db" >/dev/null
    rm -f /tmp/fhir_load_$$.sql
done
