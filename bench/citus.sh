#!/bin/sh
# bench/citus.sh - single-row writes and recompute on a Citus cluster, with
# and without careflags, and on one server (issue 19).
#
#   bench/citus.sh ENV [patients] [writes]
#
# ENV is the env file of a running Citus test cluster (tests/citus/setup.sh
# writes $PGHOST/citus-suite/env: CITUS_HOST, CITUS_COORD_PORT), whose
# database careflags_citus was distributed by careflags.distribute().  The
# script loads [patients] (300) residents there and into careflags_bench_one,
# a database on the coordinator's server with careflags but not Citus (one
# server, statement triggers); then runs pgbench, one client, [writes] (500)
# transactions of one weight each for a random resident:
#   citus+careflags  careflags.measurement on the cluster (row trigger on the shard)
#   citus alone      a distributed copy of the table without careflags' triggers
#   one server       careflags.measurement on careflags_bench_one
# and times careflags.recompute_all() on the cluster and on one server.
# Prints one line per case: transactions per second, mean latency (ms).
# The rows stay (source_system 'citus-bench'); run it on a test cluster.
set -eu
ENV=${1:?usage: bench/citus.sh ENV [patients] [writes]}
PATIENTS=${2:-300}
WRITES=${3:-500}
. "$ENV"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
coord() { psql -X -q -v ON_ERROR_STOP=1 -h "$CITUS_HOST" -p "$CITUS_COORD_PORT" "$@"; }

coord -d postgres -c 'DROP DATABASE IF EXISTS careflags_bench_one' -c 'CREATE DATABASE careflags_bench_one'
coord -d careflags_bench_one -c 'CREATE EXTENSION careflags'

load='INSERT INTO careflags.unit VALUES ($$bench$$, $$Bench ward$$, $$nursing_home_long_term$$) ON CONFLICT DO NOTHING;
DELETE FROM careflags.patient WHERE source_system = $$citus-bench$$;
INSERT INTO careflags.patient (source_system, source_key, birth_date)
SELECT $$citus-bench$$, $$b$$ || i, DATE $$1935-01-01$$ + i FROM generate_series(1, :patients) i;
INSERT INTO careflags.episode (patient_id, setting, unit_id, started_at)
SELECT patient_id, $$nursing_home_long_term$$, $$bench$$, now() - interval $$40 days$$
  FROM careflags.patient WHERE source_system = $$citus-bench$$;'
echo "$load" | coord -d careflags_citus -v patients="$PATIENTS"
echo "$load" | coord -d careflags_bench_one -v patients="$PATIENTS"
coord -d careflags_citus <<'SQL'
CREATE SCHEMA IF NOT EXISTS bench;
DROP TABLE IF EXISTS bench.measurement;
CREATE TABLE bench.measurement (LIKE careflags.measurement INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING INDEXES INCLUDING CONSTRAINTS);
SELECT create_distributed_table('bench.measurement', 'patient_id', colocate_with => 'careflags.patient');
SQL

for db in careflags_citus careflags_bench_one; do
    coord -d "$db" -At -c "SELECT min(patient_id) || ' ' || max(patient_id) FROM careflags.patient WHERE source_system = 'citus-bench'" >"$work/$db.range"
done

run() { # name db table
    read -r lo hi <"$work/$2.range"
    cat >"$work/write.sql" <<SQL
\set pid random($lo, $hi)
INSERT INTO $3 (patient_id, kind, value, measured_at) VALUES (:pid, 'weight', 70, now());
SQL
    out=$(pgbench -n -h "$CITUS_HOST" -p "$CITUS_COORD_PORT" -c 1 -t "$WRITES" -f "$work/write.sql" "$2" 2>&1)
    tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -n 1)
    [ -n "$tps" ] || { echo "$1: pgbench failed: $out" >&2; exit 1; }
    lat=$(echo "$out" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')
    echo "$1: $tps tps, $lat ms per single-row write"
}
run "citus+careflags" careflags_citus careflags.measurement
run "citus alone" careflags_citus bench.measurement
run "one server+careflags" careflags_bench_one careflags.measurement

for db in careflags_citus careflags_bench_one; do
    ms=$(coord -d "$db" -At -c '\timing on' -c 'SET client_min_messages = warning' -c 'SELECT careflags.recompute_all()' |
         sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n 1)
    n=$(coord -d "$db" -At -c 'SELECT count(*) FROM careflags.patient')
    echo "recompute_all on $db: $ms ms for $n patients"
done
