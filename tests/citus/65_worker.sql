-- tests/citus/65_worker.sql - time-based re-evaluation on Citus (issue 19,
-- item 4): careflags' background worker runs on every node
-- (careflags.worker_database, tests/citus/setup.sh) and re-evaluates the due
-- patients of the shards placed on its own node; nobody calls
-- recompute_all().  Shown: a flag that becomes overdue with no write (a
-- deadline a few seconds away, as tests/core/36_worker.sql on one server),
-- and a flag that comes back when an exemption ends
-- (patient_state.next_check_at on the shard), both by the workers alone;
-- careflags.tick() on the coordinator does every shard, on its node, while
-- the nodes' workers are stopped; `careflags check` reports the cluster
-- healthy.  The patients are removed at the end.
\set citus_status `cat "$PGHOST/careflags_citus.status" 2>/dev/null || echo 'not prepared: tests/citus/setup.sh did not run'`
SELECT :'citus_status' = 'ready' AS citus_ready \gset
\if :citus_ready
\set coord `. "$PGHOST/citus-suite/env" && echo "postgresql:///careflags_citus?host=$CITUS_HOST&port=$CITUS_COORD_PORT"`
\c :coord
SET client_min_messages = error;
DELETE FROM careflags.patient WHERE source_system = 'citus-time';
SELECT plan(17);

-- wait up to `seconds` for the query q to return true
CREATE FUNCTION pg_temp.wait_for(q text, seconds integer) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    ok boolean;
BEGIN
    FOR i IN 1..seconds * 4 LOOP
        EXECUTE q INTO ok;
        IF ok THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.25);
    END LOOP;
    RETURN false;
END $$;
-- the careflags workers running in this database on the worker nodes
CREATE FUNCTION pg_temp.node_workers() RETURNS integer LANGUAGE sql AS $$
    SELECT COALESCE(sum(result::int), 0)::int FROM run_command_on_workers(
        $c$SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'careflags worker' AND datname = current_database()$c$)
     WHERE success $$;

SELECT ok(pg_temp.wait_for('SELECT pg_temp.node_workers() = 2', 30), 'careflags'' worker runs on both worker nodes');
SELECT ok(EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'careflags worker' AND datname = current_database()),
          '... and on the coordinator');

-- 1. A flag that becomes overdue as time passes: a short-term stay whose
-- one-day screening deadline is six seconds away.
INSERT INTO careflags.unit VALUES ('cw-time', 'Citus time ward', 'nursing_home_short_term') ON CONFLICT DO NOTHING;
INSERT INTO careflags.patient (source_system, source_key, display_name, birth_date)
     VALUES ('citus-time', 'overdue', 'Time Overdue', '1941-01-01') RETURNING patient_id AS p_over \gset
INSERT INTO careflags.episode (patient_id, source_system, setting, unit_id, started_at)
     VALUES (:p_over, 'citus-time', 'nursing_home_short_term', 'cw-time', clock_timestamp() - interval '1 day' + interval '6 seconds');
SELECT notified_state AS raised_state, due_at > clock_timestamp() AS not_yet FROM careflags.flag
 WHERE patient_id = :p_over AND rule_id = 'nutrition.screening.admission_short_term' \gset
SELECT ok(:'raised_state' <> 'overdue' AND :'not_yet'::boolean, 'the short-term screening flag is raised, not overdue yet (on the worker holding the patient)');
SELECT ok(pg_temp.wait_for(format($$SELECT EXISTS (SELECT FROM careflags.flag WHERE patient_id = %s
                                     AND rule_id = 'nutrition.screening.admission_short_term' AND notified_state = 'overdue')$$, :p_over), 20),
          'without any write, the node''s worker finds it overdue');
SELECT ok(pg_temp.wait_for(format($$SELECT EXISTS (SELECT FROM careflags.flag_event WHERE patient_id = %s AND kind = 'overdue'
                                     AND relayed_at IS NOT NULL)$$, :p_over), 20),
          'its overdue event is in the outbox and relayed by the coordinator (NOTIFY careflags)');

-- 2. A flag that comes back when an exemption ends, in a few seconds: the
-- end is the patient's next_check_at on its shard, and the node's worker
-- re-evaluates the patient then.
INSERT INTO careflags.unit VALUES ('cw-time-lt', 'Citus time ward, long term', 'nursing_home_long_term') ON CONFLICT DO NOTHING;
INSERT INTO careflags.patient (source_system, source_key, display_name, birth_date)
     VALUES ('citus-time', 'exempt', 'Time Exempt', '1941-01-01') RETURNING patient_id AS p_ex \gset
INSERT INTO careflags.episode (patient_id, source_system, setting, unit_id, started_at)
     VALUES (:p_ex, 'citus-time', 'nursing_home_long_term', 'cw-time-lt', now() - interval '1 hour');
INSERT INTO careflags.exemption (patient_id, source_system, scope, reason, valid_from, valid_until)
     VALUES (:p_ex, 'citus-time', 'nutrition', 'a few seconds', now() - interval '1 hour', clock_timestamp() + interval '8 seconds')
     RETURNING valid_until AS ex_until \gset
SELECT count(*) AS open_before FROM careflags.flag
 WHERE patient_id = :p_ex AND rule_id = 'nutrition.screening.admission_long_term' AND resolved_at IS NULL \gset
SELECT (next_check_at = :'ex_until'::timestamptz) AS next_is_end FROM careflags.patient_state WHERE patient_id = :p_ex \gset
SELECT ok(:open_before::int = 0 AND :'next_is_end'::boolean, 'exempt: no open screening flag; the exemption''s end is the next check (patient_state on the shard)');
SELECT ok(pg_temp.wait_for(format($$SELECT EXISTS (SELECT FROM careflags.flag WHERE patient_id = %s
                                     AND rule_id = 'nutrition.screening.admission_long_term' AND resolved_at IS NULL)$$, :p_ex), 30),
          'after the exemption ends the node''s worker raises the flag again, with no write and no recompute_all()');

-- 3. tick() through the coordinator: every shard, on its node.  The nodes'
-- workers are stopped first (the postmaster starts them again after 10 s),
-- so only tick() can raise the flag here.
SELECT sum(result::int) AS stopped FROM run_command_on_workers(
    $c$SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE backend_type = 'careflags worker' AND datname = current_database()$c$) \gset
INSERT INTO careflags.patient (source_system, source_key, display_name, birth_date)
     VALUES ('citus-time', 'tick', 'Time Tick', '1941-01-01') RETURNING patient_id AS p_tick \gset
INSERT INTO careflags.episode (patient_id, source_system, setting, unit_id, started_at)
     VALUES (:p_tick, 'citus-time', 'nursing_home_long_term', 'cw-time-lt', now() - interval '1 hour');
INSERT INTO careflags.exemption (patient_id, source_system, scope, reason, valid_from, valid_until)
     VALUES (:p_tick, 'citus-time', 'nutrition', 'two seconds', now() - interval '1 hour', clock_timestamp() + interval '2 seconds');
SELECT pg_sleep(2.5) \g /dev/null
SELECT count(*) AS open_before FROM careflags.flag
 WHERE patient_id = :p_tick AND rule_id = 'nutrition.screening.admission_long_term' AND resolved_at IS NULL \gset
SELECT ok(:stopped::int = 2 AND :open_before::int = 0, 'the nodes'' workers stopped, the exemption ended: the flag is not back yet');
SELECT patients_reevaluated AS ticked FROM careflags.tick() \gset
SELECT cmp_ok(:ticked::int, '>=', 1, 'careflags.tick() on the coordinator re-evaluates the due patients of every shard');
SELECT count(*) AS open_after FROM careflags.flag
 WHERE patient_id = :p_tick AND rule_id = 'nutrition.screening.admission_long_term' AND resolved_at IS NULL \gset
SELECT is(:open_after::int, 1, '... and the flag is back, raised on the patient''s worker');
SELECT ok(pg_temp.wait_for('SELECT pg_temp.node_workers() = 2', 30), 'the nodes'' workers are started again by their postmasters');
SELECT is((SELECT count(*) FROM run_command_on_workers('SELECT (careflags.tick()).patients_reevaluated') WHERE success), 2::bigint,
          'tick() by hand on a worker node works too (that node''s shards)');

-- 4. careflags check through the coordinator: healthy.
\set check_out `. "$PGHOST/citus-suite/env" && cli/careflags check -h "$CITUS_HOST" -p "$CITUS_COORD_PORT" -U postgres -d careflags_citus 2>&1; echo "exit=$?"`
SELECT ok(:'check_out' ~ 'careflags check: healthy' AND :'check_out' ~ 'exit=0', 'careflags check reports the Citus cluster healthy');
SELECT diag(:'check_out') WHERE :'check_out' !~ 'careflags check: healthy';
SELECT ok(:'check_out' ~ 'worker nodes' AND :'check_out' !~ 'FAIL', 'it checks the careflags worker of each worker node too');

-- 5. Deferred and worker evaluation cannot work on the shards (each shard's
-- row trigger evaluates at once): setting them is refused, not ignored.
SELECT throws_ok('SET careflags.defer_evaluation = on', '0A000', 'careflags.defer_evaluation does not work on a Citus cluster',
                 'SET careflags.defer_evaluation on the coordinator is refused (feature_not_supported)');
SELECT throws_ok('SET LOCAL careflags.evaluate_in_worker = on', '0A000', 'careflags.evaluate_in_worker does not work on a Citus cluster',
                 'SET LOCAL careflags.evaluate_in_worker is refused');
SELECT throws_ok('ALTER ROLE CURRENT_USER SET careflags.defer_evaluation = on', '0A000', NULL,
                 'ALTER ROLE ... SET careflags.defer_evaluation is refused too');

DELETE FROM careflags.patient WHERE source_system = 'citus-time';
SELECT * FROM finish();
\else
\echo 1..0 # SKIP Citus cluster unavailable: :citus_status
\endif
