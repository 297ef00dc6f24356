-- The background worker: running, and turning a flag overdue with no write
-- (committed data, real clock; cleaned up at the end).
\set ON_ERROR_STOP 1
\set QUIET 1
-- Needs the background worker serving this database: skipped (visibly) where
-- careflags is not preloaded or serves another database (make installcheck).
SELECT careflags.preloaded() AND current_setting('careflags.worker_database', true) = current_database() AS worker_here \gset
\if :worker_here
SET client_min_messages = warning;
SELECT plan(9);

-- the worker retries every 10 s when it started before this database
-- existed (a run of a few test files): give it that long to connect
DO $$
BEGIN
    FOR i IN 1..60 LOOP
        EXIT WHEN EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'careflags worker');
        PERFORM pg_sleep(0.25);
    END LOOP;
END $$;
SELECT ok(EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'careflags worker'),
          'the careflags worker runs (shared_preload_libraries)');
SELECT is(current_setting('careflags.worker_interval'), '1s', 'every second in the test cluster');

-- a rule whose deadline passes in two seconds
UPDATE careflags.rule SET due_interval = '2 seconds', due_soon_window = '0' WHERE rule_id = 'nutrition.screening.admission_short_term';
INSERT INTO careflags.patient (source_system, source_key, birth_date) VALUES ('worker-test', 'w1', '1940-01-01');
INSERT INTO careflags.episode (patient_id, setting, started_at)
     SELECT patient_id, 'nursing_home_short_term', now() FROM careflags.patient WHERE source_system = 'worker-test';
SELECT is((SELECT notified_state FROM careflags.flag f JOIN careflags.patient p USING (patient_id)
            WHERE p.source_system = 'worker-test' AND f.rule_id = 'nutrition.screening.admission_short_term'),
          'due', 'the flag is raised due');

DO $$
BEGIN
    FOR i IN 1..40 LOOP
        PERFORM pg_sleep(0.25);
        EXIT WHEN EXISTS (SELECT FROM careflags.flag f JOIN careflags.patient p USING (patient_id)
                           WHERE p.source_system = 'worker-test' AND f.notified_state = 'overdue');
    END LOOP;
END $$;
SELECT is((SELECT notified_state FROM careflags.flag f JOIN careflags.patient p USING (patient_id)
            WHERE p.source_system = 'worker-test' AND f.rule_id = 'nutrition.screening.admission_short_term'),
          'overdue', 'without any write, the worker notices it became overdue (and sends NOTIFY careflags)');
SELECT ok((SELECT count(*) >= 2 AND count(*) FILTER (WHERE e.relayed_at IS NULL) = 0 FROM careflags.flag_event e JOIN careflags.patient p USING (patient_id)
            WHERE p.source_system = 'worker-test'),
          'each event (raised, overdue) is marked notified (relayed_at)');

-- NOTIFY careflags of a writer's events comes from the worker (issue 18): a
-- writing transaction records the event and leaves its NOTIFY to the
-- worker, so that writers never queue for PostgreSQL's database-wide
-- NOTIFY lock at commit; a listener hears the event's id once, soon after.
CREATE EXTENSION IF NOT EXISTS dblink SCHEMA public;
SELECT format('host=%s port=%s dbname=%s user=%s', split_part(current_setting('unix_socket_directories'), ',', 1),
              current_setting('port'), current_database(), current_user) AS conn \gset
SELECT dblink_connect('listener', :'conn') \g /dev/null
SELECT dblink_exec('listener', 'LISTEN careflags') \g /dev/null
BEGIN;
INSERT INTO careflags.patient (source_system, source_key, birth_date) VALUES ('worker-test', 'w2', '1940-01-01');
INSERT INTO careflags.episode (patient_id, setting, started_at)
     SELECT patient_id, 'nursing_home_long_term', now() FROM careflags.patient WHERE source_system = 'worker-test' AND source_key = 'w2';
SELECT is((SELECT count(*) FILTER (WHERE e.relayed_at IS NULL) FROM careflags.flag_event e JOIN careflags.patient p USING (patient_id)
            WHERE p.source_key = 'w2'),
          (SELECT count(*) FROM careflags.flag f JOIN careflags.patient p USING (patient_id) WHERE p.source_key = 'w2'),
          'the writing transaction records an event per raised flag and leaves its NOTIFY to the worker');
COMMIT;
CREATE TEMP TABLE heard (payload text, sender integer);
DO $$
BEGIN
    FOR i IN 1..40 LOOP
        INSERT INTO heard SELECT extra, be_pid FROM public.dblink_get_notify('listener') WHERE notify_name = 'careflags';
        EXIT WHEN (SELECT count(*) FROM heard) >= (SELECT count(*) FROM careflags.flag_event e JOIN careflags.patient p USING (patient_id)
                                                    WHERE p.source_key = 'w2');
        PERFORM pg_sleep(0.25);
    END LOOP;
END $$;
SELECT is((SELECT array_agg(payload::bigint ORDER BY payload::bigint) FROM heard),
          (SELECT array_agg(e.event_id ORDER BY e.event_id) FROM careflags.flag_event e JOIN careflags.patient p USING (patient_id)
            WHERE p.source_key = 'w2'),
          'after the commit, a listener hears each event''s id once');
SELECT is((SELECT array_agg(DISTINCT sender) FROM heard),
          (SELECT array_agg(pid) FROM pg_stat_activity WHERE backend_type = 'careflags worker' AND datname = current_database()),
          'sent by the worker, not by the writer');
SELECT is((SELECT count(*) FILTER (WHERE e.relayed_at IS NULL) FROM careflags.flag_event e JOIN careflags.patient p USING (patient_id)
            WHERE p.source_key = 'w2'), 0::bigint, 'and the worker marked them relayed');
SELECT dblink_disconnect('listener') \g /dev/null

DELETE FROM careflags.patient WHERE source_system = 'worker-test';
UPDATE careflags.rule SET due_interval = '1 day', due_soon_window = '7 days' WHERE rule_id = 'nutrition.screening.admission_short_term';
DELETE FROM careflags.rule_site_change WHERE rule_id = 'nutrition.screening.admission_short_term';
SELECT * FROM finish();
\else
-- TAP "skip all": pg_prove reports the file as skipped, with the reason.
\echo 1..0 # SKIP needs the careflags background worker serving this database (shared_preload_libraries = careflags, careflags.worker_database); make test runs it
\endif
