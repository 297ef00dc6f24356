-- tests/citus/30_load_consistency.sql - on the Citus cluster, through the
-- coordinator: a bulk load (INSERT ... SELECT of 300 patients with their
-- episodes, screenings and weights), then 8 concurrent writers, each
-- committing transactions that write patients on both workers (two-phase
-- commit: a NOTIFY on a shard would fail them at PREPARE), and then
-- check_consistency() empty.  A flag changed by hand is found by
-- check_consistency() and put right by recompute_all(); distribute() a
-- second time is refused with feature_not_supported.  The rows stay (the cluster is the
-- suite's own); they are tagged source_system 'citus-load'.
\set citus_status `cat "$PGHOST/careflags_citus.status" 2>/dev/null || echo 'not prepared: tests/citus/setup.sh did not run'`
SELECT :'citus_status' = 'ready' AS citus_ready \gset
\if :citus_ready
\set coord `. "$PGHOST/citus-suite/env" && echo "postgresql:///careflags_citus?host=$CITUS_HOST&port=$CITUS_COORD_PORT"`
\set coord_conninfo `. "$PGHOST/citus-suite/env" && echo "host=$CITUS_HOST port=$CITUS_COORD_PORT dbname=careflags_citus"`
\c :coord
SET client_min_messages = error;
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT plan(12);

-- 1. Bulk load: 300 patients, then their facts, each one INSERT ... SELECT.
DELETE FROM careflags.patient WHERE source_system = 'citus-load';
INSERT INTO careflags.unit VALUES ('cw-load', 'Citus load ward', 'nursing_home_long_term') ON CONFLICT DO NOTHING;
INSERT INTO careflags.patient (source_system, source_key, display_name, birth_date)
SELECT 'citus-load', 'p' || i, 'Load patient ' || i, DATE '1930-01-01' + i FROM generate_series(1, 300) i;
INSERT INTO careflags.episode (patient_id, source_system, setting, unit_id, started_at)
SELECT patient_id, 'citus-load', 'nursing_home_long_term', 'cw-load', now() - interval '20 days'
  FROM careflags.patient WHERE source_system = 'citus-load';
INSERT INTO careflags.assessment (patient_id, source_system, instrument, assessed_at, total)
SELECT patient_id, 'citus-load', 'mst', now() - interval '19 days', patient_id % 4
  FROM careflags.patient WHERE source_system = 'citus-load' AND patient_id % 3 = 0;
INSERT INTO careflags.measurement (patient_id, source_system, kind, value, measured_at)
SELECT patient_id, 'citus-load', 'weight', 60 + patient_id % 20, now() - interval '10 days'
  FROM careflags.patient WHERE source_system = 'citus-load';

SELECT count(DISTINCT patient_id) AS flagged FROM careflags.flag f
 WHERE f.unit_id = 'cw-load' AND f.resolved_at IS NULL \gset
SELECT is(:flagged::int, 300, 'the bulk load raised open flags for all 300 patients (evaluated on the shards)');
SELECT count(*) AS unscored FROM careflags.assessment WHERE source_system = 'citus-load' AND band IS NULL \gset
SELECT is(:unscored::int, 0, 'every MST row of the load was scored on its shard (band filled in)');

-- 2. Eight concurrent writers through the coordinator, 10 transactions each,
-- each writer its own patients (those of a writer's transaction lie on both
-- workers); every patient of the load gets one weight.
SELECT dblink_connect('w' || i, :'coord_conninfo') FROM generate_series(1, 8) i \g /dev/null
SELECT dblink_send_query('w' || w, string_agg(format(
           'BEGIN; INSERT INTO careflags.measurement (patient_id, kind, value, measured_at) '
           'SELECT patient_id, ''weight'', %s, now() - interval ''%s minutes'' FROM careflags.patient '
           'WHERE source_system = ''citus-load'' AND patient_id %% 80 = %s; '
           'UPDATE careflags.episode SET unit_id = ''cw-load'' '
           'WHERE source_system = ''citus-load'' AND patient_id %% 80 = %s; COMMIT;',
           55 + t, w * 100 + t, (w - 1) * 10 + t - 1, (w - 1) * 10 + t - 1), ' '))
  FROM generate_series(1, 8) w CROSS JOIN generate_series(1, 10) t GROUP BY w \g /dev/null
-- (each writer's results, one per statement, are read until there are none)
CREATE FUNCTION pg_temp.drain(c text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    LOOP
        PERFORM * FROM dblink_get_result(c) AS x(r text);
        EXIT WHEN NOT FOUND;
    END LOOP;
    RETURN 'OK';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLERRM;
END $$;
CREATE TEMP TABLE writer_result AS SELECT w, pg_temp.drain('w' || w) AS error FROM generate_series(1, 8) w;
SELECT COALESCE(string_agg(w || ': ' || error, '; '), 'none') AS writer_errors FROM writer_result WHERE error <> 'OK' \gset
SELECT is(:'writer_errors'::text, 'none'::text, '8 concurrent writers: no transaction failed (each writes shards on both workers: no NOTIFY at PREPARE)');
SELECT count(*) AS written FROM careflags.measurement m
 WHERE m.source_system = 'manual' AND m.patient_id IN (SELECT patient_id FROM careflags.patient WHERE source_system = 'citus-load') \gset
SELECT is(:written::int, 300, 'all 80 transactions of the writers committed (a weight for each of the 300 patients)');
SELECT dblink_disconnect('w' || i) FROM generate_series(1, 8) i \g /dev/null

SELECT count(*) AS differences FROM careflags.check_consistency() \gset
SELECT is(:differences::int, 0, 'check_consistency() through the coordinator: no difference after the load and the writers');

-- 3. A wrong flag, committed by hand: found, then put right.
SELECT patient_id AS wrong_pid, flag_id AS wrong_flag FROM careflags.flag
 WHERE unit_id = 'cw-load' AND resolved_at IS NULL ORDER BY patient_id, flag_id LIMIT 1 \gset
UPDATE careflags.flag SET resolved_at = now(), resolution = 'cleared'
 WHERE patient_id = :wrong_pid AND flag_id = :wrong_flag;
SELECT count(*) AS differences, min(patient_id) AS diff_pid FROM careflags.check_consistency() \gset
SELECT is(:differences::int, 1, 'check_consistency() finds the flag resolved by hand, on its shard');
SELECT is(:diff_pid::bigint, :wrong_pid::bigint, 'and names its patient');
SELECT careflags.recompute_all() AS changes \gset
SELECT ok(:changes::int >= 1, 'recompute_all() through the coordinator puts it right (flag changes on the shards)');
SELECT count(*) AS differences FROM careflags.check_consistency() \gset
SELECT is(:differences::int, 0, 'check_consistency() is empty again');

-- 4. The outbox: flag events written on the shards, read from the coordinator.
SELECT count(*) AS events FROM careflags.flag_event WHERE unit_id = 'cw-load' AND kind = 'raised' \gset
SELECT ok(:events::int >= 300, 'the raised flags are in careflags.flag_event, read from the coordinator');

-- 5. recompute_patient() on the coordinator works on the patient's shard
-- (tests/citus/67_recompute_patient.sql): nothing is left to change;
-- distribute() is refused, not silently done twice.
SELECT careflags.recompute_patient(:wrong_pid) AS changes \gset
SELECT is(:changes::int, 0, 'recompute_patient() through the coordinator: nothing left to change for that patient');
SELECT throws_ok('SELECT careflags.distribute()', '0A000', NULL, 'distribute() runs once');

SELECT * FROM finish();
\else
\echo 1..0 # SKIP Citus cluster unavailable: :citus_status
\endif
