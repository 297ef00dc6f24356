#!/bin/sh
# bench/gnumed_write.sh - what careflags_gnumed costs a GNUmed write.
#
#   bench/gnumed_write.sh [DB] [runs] [patients]
#
# The workload (issue 17): 500 weight results and 200 substance intakes,
# written the way GNUmed's client writes them - each row inserted, then its
# clinical time set by an UPDATE - in one committed transaction, as GNUmed's
# test doctor any-doc, spread over [patients] nursing-home residents (100).
# pgbench runs it [runs] times (7) with careflags_gnumed's triggers enabled
# and [runs] times with them disabled (GNUmed as if the plugin were not
# installed: no trigger of careflags fires), interleaved, and prints the
# median transaction latency of each and their ratio.
#
# BENCH_OPTIONS adds server options to both cases' sessions, e.g.
# BENCH_OPTIONS='-c careflags.defer_evaluation=on' (evaluation once at commit).
# BENCH_CPU=1 measures the backend's CPU time of each transaction instead of
# its latency (psql, /proc/<backend>/schedstat; needs a superuser): on a
# shared machine the figure other sessions' load moves least.
# BENCH_WARM=1 runs each measured transaction as the second one of its
# connection (the first warms the backend's caches, as a GNUmed client's
# long-lived connection has them), else each run is a new connection.
#
# DB must be a GNUmed database (gnumed_v22) with careflags and
# careflags_gnumed installed; the residents are made once (committed, GNUmed
# rows named "careflags-bench") and the results and intakes of each run are
# committed too: run it on a copy, not on a practice's database.
set -eu
DB=${1:-gnumed_v22}
RUNS=${2:-7}
PATIENTS=${3:-100}
TAG="careflags-bench-$(date +%s)"
PER_RUN=1
[ -z "${BENCH_WARM:-}" ] || PER_RUN=2
[ $(( (RUNS * 2 + 2) * 200 * PER_RUN )) -le $(( 46 * PATIENTS )) ] ||
    { echo "gnumed_write.sh: too many runs for $PATIENTS residents ((runs * 2 + 2) * transactions per run <= 46 * patients / 200)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
psql_db() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }

# The residents: a nursing home with one ward, PATIENTS persons, each with an
# encounter, an episode and a stay admitted 30 days ago.
psql_db -v patients="$PATIENTS" -v tag="$TAG" <<'SQL'
SET default_transaction_read_only = off;
SET bench.patients = :patients;
SET bench.tag = :'tag';
BEGIN;
SET LOCAL ROLE "any-doc";
INSERT INTO dem.org_category (description)
SELECT 'Nursing Home' WHERE NOT EXISTS (SELECT FROM dem.org_category WHERE description = 'Nursing Home');
INSERT INTO dem.org (description, fk_category)
SELECT 'careflags-bench nursing home', (SELECT pk FROM dem.org_category WHERE description = 'Nursing Home')
 WHERE NOT EXISTS (SELECT FROM dem.org WHERE description = 'careflags-bench nursing home');
INSERT INTO dem.org_unit (description, fk_org)
SELECT 'careflags-bench ward', (SELECT pk FROM dem.org WHERE description = 'careflags-bench nursing home')
 WHERE NOT EXISTS (SELECT FROM dem.org_unit WHERE description = 'careflags-bench ward');
DO $$
DECLARE
    n integer := current_setting('bench.patients', true)::integer;
    tag text := current_setting('bench.tag');
    pat integer;
    enc integer;
    epi integer;
    stay integer;
BEGIN
    FOR i IN 1 .. n LOOP
        INSERT INTO dem.identity (gender, dob) VALUES ('f', '1935-01-01'::timestamptz + i * interval '11 days') RETURNING pk INTO pat;
        INSERT INTO dem.names (id_identity, lastnames, firstnames, active) VALUES (pat, tag, 'Resident ' || i, true);
        INSERT INTO clin.patient (fk_identity) VALUES (pat);
        INSERT INTO clin.encounter (fk_patient, fk_type, fk_location)
        VALUES (pat, (SELECT pk FROM clin.encounter_type ORDER BY pk LIMIT 1), (SELECT fk_location FROM clin.encounter ORDER BY pk LIMIT 1))
        RETURNING pk INTO enc;
        INSERT INTO clin.episode (fk_encounter, description, is_open) VALUES (enc, 'nursing home stay', true) RETURNING pk INTO epi;
        INSERT INTO clin.hospital_stay (fk_encounter, fk_episode, fk_org_unit)
        VALUES (enc, epi, (SELECT pk FROM dem.org_unit WHERE description = 'careflags-bench ward')) RETURNING pk INTO stay;
        UPDATE clin.hospital_stay SET clin_when = now() - interval '30 days' WHERE pk = stay;
    END LOOP;
END $$;
COMMIT;
SQL

# One run: 500 weights, then 200 intakes, each inserted and then updated
# (GNUmed links a drug component at most once per patient, and an intake of a
# multi-component product brings its other components: each intake takes a
# single-component product the resident has no intake of yet; GNUmed's
# bootstrap has 46, so runs * 2 + 2 <= 46 * patients / 200).
cat >"$work/write.sql" <<SQL
BEGIN READ WRITE;
SET LOCAL bench.tag = '$TAG';
SET LOCAL ROLE "any-doc";
DO \$\$
DECLARE
    encs integer[];
    epis integer[];
    ienc integer[];
    iepi integer[];
    icomp integer[];
    wght integer := (SELECT pk FROM clin.test_type WHERE abbrev = 'wght' ORDER BY pk LIMIT 1);
    staff integer := (SELECT pk FROM dem.staff WHERE db_user = 'any-doc');
    k integer;
    row_pk integer;
BEGIN
    SELECT array_agg(e.pk ORDER BY e.pk), array_agg(ep.pk ORDER BY e.pk) INTO encs, epis
      FROM dem.names n
      JOIN clin.encounter e ON e.fk_patient = n.id_identity
      JOIN clin.episode ep ON ep.fk_encounter = e.pk AND ep.description = 'nursing home stay'
     WHERE n.lastnames = current_setting('bench.tag');
    SELECT array_agg(x.enc ORDER BY x.rn, x.enc), array_agg(x.epi ORDER BY x.rn, x.enc), array_agg(x.comp ORDER BY x.rn, x.enc)
      INTO ienc, iepi, icomp
      FROM (SELECT e.pk AS enc, ep.pk AS epi, l.pk AS comp,
                   row_number() OVER (PARTITION BY e.pk ORDER BY l.pk) AS rn
              FROM dem.names n
              JOIN clin.encounter e ON e.fk_patient = n.id_identity
              JOIN clin.episode ep ON ep.fk_encounter = e.pk AND ep.description = 'nursing home stay'
              CROSS JOIN ref.lnk_dose2drug l
             WHERE n.lastnames = current_setting('bench.tag')
               AND NOT EXISTS (SELECT FROM ref.lnk_dose2drug l2
                                WHERE l2.fk_drug_product = l.fk_drug_product AND l2.pk <> l.pk)
               AND NOT EXISTS (SELECT FROM clin.substance_intake i JOIN clin.encounter ie ON ie.pk = i.fk_encounter
                                WHERE ie.fk_patient = n.id_identity AND i.fk_drug_component = l.pk)) x;
    FOR i IN 1..500 LOOP
        k := 1 + i % cardinality(encs);
        INSERT INTO clin.test_result (fk_encounter, fk_episode, fk_type, val_num, val_unit, fk_intended_reviewer)
        VALUES (encs[k], epis[k], wght, 55 + (i % 20), 'kg', staff) RETURNING clin.test_result.pk INTO row_pk;
        UPDATE clin.test_result SET clin_when = now() - (i % 60) * interval '1 hour' WHERE clin.test_result.pk = row_pk;
    END LOOP;
    FOR i IN 1..200 LOOP
        INSERT INTO clin.substance_intake (fk_encounter, fk_episode, fk_drug_component, intake_is_approved_of, schedule, is_long_term)
        VALUES (ienc[i], iepi[i], icomp[i], true, '1-0-1-0', true) RETURNING clin.substance_intake.pk INTO row_pk;
        UPDATE clin.substance_intake SET clin_when = now() - (i % 30) * interval '1 day' WHERE clin.substance_intake.pk = row_pk;
    END LOOP;
END \$\$;
COMMIT;
SQL

# careflags_gnumed's triggers on GNUmed's tables on or off (a temporary helper).
toggle() {
    psql_db -c "SET default_transaction_read_only = off" -c "
DO \$\$
DECLARE t record;
BEGIN
    FOR t IN SELECT tgrelid::regclass AS rel, tgname FROM pg_trigger
              WHERE tgname IN ('zzzz_careflags_sync', 'zzzz_careflags_note', 'zzzz_careflags_remap', 'zzzz_careflags_ack') LOOP
        EXECUTE format('ALTER TABLE %s %s TRIGGER %I', t.rel, CASE WHEN $1 THEN 'ENABLE' ELSE 'DISABLE' END, t.tgname);
    END LOOP;
END \$\$;"
}
trap 'toggle true >/dev/null 2>&1 || true; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

run() {
    if [ -n "${BENCH_CPU:-}" ]; then
        # the backend's own CPU time for the transaction (schedstat, ns): what
        # the write costs the server, whatever else the machine runs
        (cd "$work" && for t in $(seq 1 "$PER_RUN"); do
            { printf '%s\n' "SELECT split_part(pg_read_file('/proc/' || pg_backend_pid() || '/schedstat'), ' ', 1)::bigint AS c0 \\gset"
              cat write.sql
              printf '%s\n' "SELECT (split_part(pg_read_file('/proc/' || pg_backend_pid() || '/schedstat'), ' ', 1)::bigint - :c0) / 1000;"; }
          done >write_cpu.sql &&
          PGOPTIONS="-c default_transaction_read_only=off ${BENCH_OPTIONS:-}" \
              psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -f write_cpu.sql >"$work/psql.out" 2>&1 &&
          tail -n 1 "$work/psql.out" >>"$work/$1") || { cat "$work/psql.out" >&2; exit 1; }
        return
    fi
    (cd "$work" && rm -f pgbench_log.* && PGOPTIONS="-c default_transaction_read_only=off ${BENCH_OPTIONS:-}" \
        pgbench -n -t "$PER_RUN" -f write.sql -l "$DB" >"$work/pgbench.out" 2>&1 && ! grep -q 'error' "$work/pgbench.out" &&
        cat pgbench_log.* | awk -v n="$PER_RUN" 'NR == n {print $3}' >>"$work/$1") || { cat "$work/pgbench.out" >&2; exit 1; }
}

# warm-up, one each
toggle true; run warm; toggle false; run warm
for i in $(seq 1 "$RUNS"); do
    toggle true; run with
    toggle false; run without
done
toggle true

# The "with" runs (warm-up included) must have mapped every row: a faster
# figure that maps less measures nothing.
facts=$(psql_db -At -c "
SELECT (SELECT count(*) FROM careflags.measurement m JOIN careflags.patient p USING (patient_id)
         WHERE m.source_system = 'gnumed' AND p.display_name LIKE '$TAG, %')
       || ' ' ||
       (SELECT count(*) FROM careflags.medication m JOIN careflags.patient p USING (patient_id)
         WHERE m.source_system = 'gnumed' AND p.display_name LIKE '$TAG, %')")
[ "$facts" = "$(( (RUNS + 1) * PER_RUN * 500 )) $(( (RUNS + 1) * PER_RUN * 200 ))" ] ||
    { echo "gnumed_write.sh: the runs with the plugin mapped $facts measurements and medicines, not $(( (RUNS + 1) * PER_RUN * 500 )) $(( (RUNS + 1) * PER_RUN * 200 ))" >&2; exit 1; }

median() { sort -n "$work/$1" | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f", m / 1000}'; }
with=$(median with)
without=$(median without)
echo "runs per case: $RUNS; residents: $PATIENTS; rows per run: 500 weight results + 200 substance intakes (insert, then update); $( [ "$PER_RUN" = 2 ] && echo 'warm connection (second transaction)' || echo 'new connection per run')"
what=latency; [ -z "${BENCH_CPU:-}" ] || what="backend CPU"
echo "median ms with careflags_gnumed:    $with ($what)"
echo "median ms without (triggers off):   $without ($what)"
echo "ratio:                              $(echo "$with $without" | awk '{printf "%.2f", $1 / $2}')"
echo "facts mapped by the runs with it:   $facts (measurements, medicines; all of them)"
