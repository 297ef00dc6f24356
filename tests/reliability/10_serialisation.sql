-- Reliability 1: how per-patient serialisation is done, shown with real
-- second and third sessions (dblink).  The evaluation of a write locks the
-- patient's row in careflags.patient FOR NO KEY UPDATE (patients in
-- ascending id order) until the transaction ends:
--   - a second writer of the same patient waits (on the first one's
--     transaction) and then goes through: nothing is lost;
--   - a writer of another patient never waits;
--   - the lock is not a table lock and does not block foreign-key checks
--     (FOR KEY SHARE): with careflags.defer_evaluation the statement itself
--     does not wait, only the evaluation at commit;
--   - two transactions writing two patients in opposite orders, each in its
--     own statement, deadlock with immediate evaluation (as any row-locking
--     application would); with careflags.defer_evaluation both lock in one
--     ascending pass at commit and neither fails.
-- The fixtures are committed (the other sessions must see them) and removed
-- at the end.
\c careflags_reliability
\set QUIET 1
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
DELETE FROM careflags.patient WHERE source_system = 'ser';
INSERT INTO careflags.patient (source_system, source_key, birth_date)
SELECT 'ser', 's' || g, DATE '1938-05-01' FROM generate_series(1, 4) g;
INSERT INTO careflags.episode (patient_id, source_system, setting, unit_id, started_at)
SELECT patient_id, 'ser', 'nursing_home_long_term', NULL, now() - interval '3 days'
  FROM careflags.patient WHERE source_system = 'ser';
SELECT min(patient_id) AS p1, min(patient_id) + 1 AS p2, min(patient_id) + 2 AS p3, min(patient_id) + 3 AS p4
  FROM careflags.patient WHERE source_system = 'ser' \gset
SELECT format('host=%s port=%s dbname=%s user=%s', split_part(current_setting('unix_socket_directories'), ',', 1),
              current_setting('port'), current_database(), current_user) AS conn \gset
SELECT dblink_connect('a', :'conn'), dblink_connect('b', :'conn');
SELECT dblink_exec('a', 'SET client_min_messages = warning'), dblink_exec('b', 'SET client_min_messages = warning');

CREATE FUNCTION pg_temp.fall(p bigint) RETURNS text LANGUAGE sql AS
$$ SELECT format('INSERT INTO careflags.fall (patient_id, source_system, fell_at) VALUES (%s, ''ser'', now() - interval ''1 hour'')', p) $$;
-- wait until a dblink session is waiting on a lock (at most 5 s); its wait event
SELECT t.pid AS apid FROM dblink('a', 'SELECT pg_backend_pid()') AS t(pid int) \gset
SELECT t.pid AS bpid FROM dblink('b', 'SELECT pg_backend_pid()') AS t(pid int) \gset
CREATE FUNCTION pg_temp.waiting(backend int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    w text;
BEGIN
    FOR i IN 1 .. 100 LOOP
        SELECT wait_event_type || '/' || wait_event INTO w FROM pg_stat_activity
         WHERE pid = backend AND wait_event_type = 'Lock';
        EXIT WHEN w IS NOT NULL;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN w;
END $$;

BEGIN;
SELECT plan(20);

-- 1. Session a writes a fall for p1 and keeps its transaction open.
SELECT dblink_exec('a', 'BEGIN');
SELECT dblink_exec('a', pg_temp.fall(:p1));
SELECT ok((SELECT 'For No Key Update' = ANY (modes) AND :apid = ANY (pids) AND NOT 'For Update' = ANY (modes)
             FROM pgrowlocks('careflags.patient') r JOIN careflags.patient p ON p.ctid = r.locked_row
            WHERE p.patient_id = :p1),
          'the evaluation of a''s write holds p1''s patient row FOR NO KEY UPDATE, in a''s backend (beside the FK check''s KEY SHARE)');
SELECT is((SELECT count(*) FROM pgrowlocks('careflags.patient') r JOIN careflags.patient p ON p.ctid = r.locked_row
            WHERE p.source_system = 'ser'), 1::bigint, 'no other patient row is locked');
SELECT is((SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
            WHERE c.relname = 'patient' AND l.mode IN ('ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')),
          0::bigint, 'no table lock on careflags.patient that would stop other patients');

-- 2. Another patient: no wait at all.  (Evaluation errors are isolated by
--    default: a lock timeout inside it would be quarantined, see 8.; here it
--    is let through to show the wait.)
SET LOCAL lock_timeout = '300ms';
SET LOCAL careflags.isolate_evaluation = off;
SELECT lives_ok(pg_temp.fall(:p2), 'a write for p2 goes through at once while p1 is held (lock_timeout 300 ms)');
-- 3. The same patient: waits.
SELECT throws_ok(pg_temp.fall(:p1), '55P03', NULL, 'a write for p1 waits on a (lock_timeout 300 ms expires)');
-- 8. With isolation on (the default), a lock timeout in the evaluation
--    never fails the record's write (only careflags.strict would): the write
--    goes through, the patient is quarantined with the reason and listed by
--    check_consistency() (and queued for the worker when one serves the
--    database).
SET LOCAL careflags.isolate_evaluation = on;
SELECT count(*) AS q0 FROM careflags.quarantine WHERE fact_table = 'evaluation' \gset
CREATE FUNCTION pg_temp.try_write(p bigint) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    -- a medication review: it would resolve the open medication_review.admission flag
    INSERT INTO careflags.medication_review (patient_id, source_system, reviewed_at) VALUES (p, 'ser', now());
    RETURN 'written';
EXCEPTION WHEN lock_not_available THEN
    RETURN 'refused';
END $$;
SELECT is(pg_temp.try_write(:p1), 'written', 'isolated evaluation hitting lock_timeout: the record''s write goes through');
SELECT ok((SELECT count(*) FROM careflags.quarantine WHERE fact_table = 'evaluation'
              AND patient_id = :p1 AND reason LIKE '%lock timeout%') = 1
          AND EXISTS (SELECT FROM careflags.check_consistency() WHERE patient_id = :p1),
          'the patient is quarantined with the reason and listed by check_consistency()');
RESET lock_timeout;

-- 4. Session b writes p1 too: it waits on a's transaction, then goes through.
SELECT dblink_send_query('b', pg_temp.fall(:p1));
SELECT is(pg_temp.waiting(:bpid), 'Lock/transactionid', 'b waits on a''s transaction (a row lock, not a table lock)');
SELECT ok(dblink_is_busy('b') = 1, 'b is still waiting while a is open');
SELECT dblink_exec('a', 'COMMIT');
SELECT is((SELECT status FROM dblink_get_result('b') AS t(status text)), 'INSERT 0 1', 'after a commits, b''s write completes');
SELECT count(*) FROM dblink_get_result('b') AS t(status text);
SELECT is((SELECT n FROM dblink('a', format('SELECT count(*) FROM careflags.fall WHERE patient_id = %s', :p1)) AS t(n bigint)),
          2::bigint, 'both falls of p1 are committed (seen from a third session): nothing lost');
SELECT is((SELECT n FROM dblink('a', format('SELECT count(*) FROM careflags.check_consistency() WHERE patient_id IN (%s, %s)', :p1, :p2)) AS t(n bigint)),
          0::bigint, 'p1''s and p2''s committed flags are consistent with both falls');

-- 5. Deferred evaluation: the statement does not wait (FK checks take FOR
--    KEY SHARE, which NO KEY UPDATE does not block); the evaluation does.
SELECT dblink_exec('a', 'BEGIN');
SELECT dblink_exec('a', pg_temp.fall(:p3));
SET LOCAL lock_timeout = '300ms';
SET LOCAL careflags.defer_evaluation = on;
SET LOCAL careflags.isolate_evaluation = off;
SELECT lives_ok(pg_temp.fall(:p3), 'deferred: the INSERT for p3 (with its foreign-key check) does not wait while a holds p3');
SELECT throws_ok('SELECT careflags.evaluate_deferred()', '55P03', NULL, 'deferred: evaluating p3 waits on a');
SET LOCAL careflags.defer_evaluation = off;
SET LOCAL careflags.isolate_evaluation = on;
RESET lock_timeout;
SELECT dblink_exec('a', 'ROLLBACK');

-- 6. Opposite orders, immediate evaluation: a deadlock, detected and broken.
SELECT dblink_exec('a', 'BEGIN'), dblink_exec('b', 'BEGIN');
SELECT dblink_exec('a', pg_temp.fall(:p3)), dblink_exec('b', pg_temp.fall(:p4));
SELECT dblink_send_query('a', pg_temp.fall(:p4));
SELECT is(pg_temp.waiting(:apid), 'Lock/transactionid', 'opposite orders: a waits for p4 held by b');
SELECT dblink_send_query('b', pg_temp.fall(:p3));
-- The victim's transaction is aborted but keeps its locks until it rolls
-- back: take its result and roll it back first, then the other one's.
CREATE FUNCTION pg_temp.settle() RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
    msgs text[] := '{}';
    first text;
    c text;
BEGIN
    FOR i IN 1 .. 200 LOOP
        first := CASE WHEN dblink_is_busy('a') = 0 THEN 'a' WHEN dblink_is_busy('b') = 0 THEN 'b' END;
        EXIT WHEN first IS NOT NULL;
        PERFORM pg_sleep(0.05);
    END LOOP;
    IF first IS NULL THEN
        RETURN ARRAY['neither session finished in 10 s'];
    END IF;
    FOREACH c IN ARRAY CASE first WHEN 'a' THEN ARRAY['a', 'b'] ELSE ARRAY['b', 'a'] END LOOP
        PERFORM count(*) FROM dblink_get_result(c, false) AS t(status text);
        msgs := msgs || COALESCE(NULLIF(dblink_error_message(c), 'OK'), 'ok');
        PERFORM count(*) FROM dblink_get_result(c, false) AS t(status text);
        PERFORM dblink_exec(c, 'ROLLBACK');
    END LOOP;
    RETURN msgs;
END $$;
SELECT is((SELECT count(*) FROM unnest(pg_temp.settle()) m WHERE m LIKE '%deadlock detected%'), 1::bigint,
          'immediate evaluation, two patients in opposite orders: one transaction gets "deadlock detected"');

-- 7. The same with careflags.defer_evaluation: no deadlock, both commit.
SELECT dblink_exec(c, 'BEGIN'), dblink_exec(c, 'SET LOCAL careflags.defer_evaluation = on') FROM unnest(ARRAY['a', 'b']) c;
SELECT dblink_exec('a', pg_temp.fall(:p3)), dblink_exec('b', pg_temp.fall(:p4));
SELECT dblink_exec('a', pg_temp.fall(:p4)), dblink_exec('b', pg_temp.fall(:p3));
SELECT is(dblink_exec('a', 'COMMIT'), 'COMMIT', 'deferred, opposite orders: a commits (p3 and p4 locked in ascending order at commit)');
SELECT is(dblink_exec('b', 'COMMIT'), 'COMMIT', 'deferred, opposite orders: b commits too');
SELECT is((SELECT n FROM dblink('a', format('SELECT count(*) FROM careflags.fall WHERE patient_id IN (%s, %s)', :p3, :p4)) AS t(n bigint)),
          4::bigint, 'all four falls committed');
SELECT is((SELECT n FROM dblink('a', format('SELECT count(*) FROM careflags.check_consistency() WHERE patient_id IN (%s, %s)', :p3, :p4)) AS t(n bigint)), 0::bigint,
          'p3''s and p4''s flags consistent after the deferred evaluations');

SELECT * FROM finish();
ROLLBACK;
SELECT dblink_disconnect('a'), dblink_disconnect('b');
DELETE FROM careflags.patient WHERE source_system = 'ser';
