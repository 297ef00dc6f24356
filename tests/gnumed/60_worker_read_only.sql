-- tests/gnumed/60_worker_read_only.sql - the background worker in a database
-- that is read-only by default, as GNUmed's is (issue 17, problem 1), and
-- `careflags check` naming the real cause of a failing worker pass.
--
-- Works in the database the cluster's worker serves
-- (careflags.worker_database: careflags_test in the test cluster, gnumed_v22
-- in a practice).  If that database is not read-only by default yet, it is
-- made so for this file (ALTER DATABASE, then the worker is restarted) and
-- put back at the end.  The data is committed (the worker must see it) and
-- removed at the end.
\set gm_status `cat "$PGHOST/careflags_gnumed.status" 2>/dev/null || echo 'not prepared: tests/gnumed/setup.sh did not run'`
SELECT :'gm_status' = 'ready' AS gm_ready \gset
\if :gm_ready
\set ON_ERROR_STOP 1
\set QUIET 1
SELECT current_setting('careflags.worker_database') AS worker_db \gset
\set client `if [ -x cli/careflags ]; then echo "$(pwd)/cli/careflags"; else command -v careflags; fi`
\c :worker_db
SET client_min_messages = warning;
SET default_transaction_read_only = off;
-- was the database already read-only by default (GNUmed's own setting)?
SELECT EXISTS (SELECT FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
                WHERE d.datname = current_database() AND s.setrole = 0
                  AND 'default_transaction_read_only=on' = ANY (s.setconfig)) AS was_read_only \gset
ALTER DATABASE :"worker_db" SET default_transaction_read_only = on;

-- Restart the worker so that it starts under the database's setting.
CREATE FUNCTION pg_temp.restart_worker() RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    started timestamptz := clock_timestamp();
BEGIN
    PERFORM pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'careflags worker';
    FOR i IN 1..120 LOOP
        PERFORM pg_stat_clear_snapshot();
        IF EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'careflags worker'
                    AND datname = current_database() AND backend_start > started) THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.25);
    END LOOP;
    RETURN false;
END $$;
-- Waits until the worker's activity matches a pattern (or 15 s pass).
CREATE FUNCTION pg_temp.worker_activity(pattern text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    q text;
BEGIN
    FOR i IN 1..60 LOOP
        PERFORM pg_stat_clear_snapshot();
        SELECT query INTO q FROM pg_stat_activity
         WHERE backend_type = 'careflags worker' AND datname = current_database();
        EXIT WHEN q ~ pattern;
        PERFORM pg_sleep(0.25);
    END LOOP;
    RETURN q;
END $$;
-- Waits until the test patient's flag was notified as overdue (or 15 s pass).
CREATE FUNCTION pg_temp.notified_state() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    s text;
BEGIN
    FOR i IN 1..60 LOOP
        SELECT f.notified_state INTO s FROM careflags.flag f JOIN careflags.patient p USING (patient_id)
         WHERE p.source_system = 'worker-ro-test' AND f.rule_id = 'nutrition.screening.admission_short_term';
        EXIT WHEN s = 'overdue';
        PERFORM pg_sleep(0.25);
    END LOOP;
    RETURN s;
END $$;

SELECT plan(8);
SELECT ok(pg_temp.restart_worker(), 'the worker (re)starts in the read-only-by-default database ' || :'worker_db');
SELECT ok(EXISTS (SELECT FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
                   WHERE d.datname = current_database() AND s.setrole = 0
                     AND 'default_transaction_read_only=on' = ANY (s.setconfig)),
          'the database sets default_transaction_read_only = on (as GNUmed does)');
SELECT pid AS worker_pid FROM pg_stat_activity WHERE backend_type = 'careflags worker' AND datname = current_database() \gset

-- A rule whose deadline passes in two seconds, and a failing pass: a
-- trigger (standing in for any error in the worker's transaction) refuses
-- the worker's update of the test patient's flag.
UPDATE careflags.rule SET due_interval = '2 seconds', due_soon_window = '0' WHERE rule_id = 'nutrition.screening.admission_short_term';
CREATE FUNCTION public.worker_ro_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.patient_id = (SELECT patient_id FROM careflags.patient WHERE source_system = 'worker-ro-test') THEN
        RAISE EXCEPTION 'worker_ro_test: flag % may not change now', NEW.flag_id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
INSERT INTO careflags.patient (source_system, source_key, birth_date) VALUES ('worker-ro-test', 'w1', '1940-01-01');
INSERT INTO careflags.episode (patient_id, setting, started_at)
     SELECT patient_id, 'nursing_home_short_term', now() FROM careflags.patient WHERE source_system = 'worker-ro-test';
CREATE TRIGGER worker_ro_test_refuse BEFORE UPDATE ON careflags.flag FOR EACH ROW
    WHEN (OLD.notified_state IS DISTINCT FROM NEW.notified_state)
    EXECUTE FUNCTION public.worker_ro_test_refuse();

SELECT matches(pg_temp.worker_activity('last pass failed'),
               '^careflags worker: last pass failed: worker_ro_test: flag [0-9]+ may not change now \(SQLSTATE 23514\)',
               'a failing pass leaves its error as the worker''s activity, and the worker keeps running');
\set check_failed `:'client' check -d :'worker_db' 2>&1 | grep -E '^(ok|FAIL|warn) +worker'`
SELECT matches(:'check_failed'::text,
               '^FAIL +worker +background worker running, but its last pass failed: worker_ro_test: flag [0-9]+ may not change now \(SQLSTATE 23514\)',
               'careflags check names the real cause of the worker''s failure');

DROP TRIGGER worker_ro_test_refuse ON careflags.flag;
SELECT is(pg_temp.notified_state(), 'overdue',
          'in the read-only-by-default database the worker''s own transactions write: the flag is notified overdue with no write');
SELECT matches(pg_temp.worker_activity('last pass succeeded'), 'last pass succeeded',
               'after a good pass the failure is no longer shown');
\set check_ok `:'client' check -d :'worker_db' 2>&1 | grep -E '^(ok|FAIL|warn) +worker'`
SELECT matches(:'check_ok'::text, '^ok +worker +background worker running', 'careflags check: the worker is fine again');
SELECT is((SELECT array_agg(pid) FROM pg_stat_activity WHERE backend_type = 'careflags worker' AND datname = current_database()),
          ARRAY[:worker_pid], 'the same worker process throughout: the failure did not end it (no crash loop)');

-- Clean up: data, rule, and the database setting if this file made it.
DELETE FROM careflags.patient WHERE source_system = 'worker-ro-test';
UPDATE careflags.rule SET due_interval = '1 day', due_soon_window = '7 days' WHERE rule_id = 'nutrition.screening.admission_short_term';
DELETE FROM careflags.rule_site_change WHERE rule_id = 'nutrition.screening.admission_short_term';
DROP FUNCTION public.worker_ro_test_refuse();
\if :was_read_only
\else
ALTER DATABASE :"worker_db" RESET default_transaction_read_only;
SELECT pg_temp.restart_worker() AS restarted \gset
\endif
SELECT * FROM finish();
\else
-- TAP "skip all": pg_prove reports the file as skipped, with the reason.
\echo 1..0 # SKIP GNUmed database unavailable: :gm_status
\endif
