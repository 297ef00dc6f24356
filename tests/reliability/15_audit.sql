-- Reliability 1 (audit): appends to the audit chain under concurrency and
-- several actions in one statement.  audit_append() takes the audit lock,
-- then reads careflags.audit_head; the read must see the head as it is
-- after the lock was granted.  Two cases where the statement's snapshot is
-- older than that: a second session that waited for the lock, and a
-- statement acknowledging several flags.  Both must leave a chain that
-- verifies (docs/reliability.md, "audit head").
\c careflags_reliability
\set QUIET 1
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
DELETE FROM careflags.patient WHERE source_system = 'aud';
INSERT INTO careflags.patient (source_system, source_key, birth_date)
SELECT 'aud', 'a' || g, DATE '1936-02-01' FROM generate_series(1, 3) g;
INSERT INTO careflags.episode (patient_id, source_system, setting, started_at)
SELECT patient_id, 'aud', 'nursing_home_long_term', now() - interval '2 days'
  FROM careflags.patient WHERE source_system = 'aud';
SELECT format('host=%s port=%s dbname=%s user=%s', split_part(current_setting('unix_socket_directories'), ',', 1),
              current_setting('port'), current_database(), current_user) AS conn \gset
SELECT dblink_connect('a', :'conn'), dblink_connect('b', :'conn') \g /dev/null
SELECT array_agg(f.flag_id ORDER BY f.flag_id) AS ids FROM careflags.flag f JOIN careflags.patient p USING (patient_id)
 WHERE p.source_system = 'aud' AND f.resolved_at IS NULL \gset

BEGIN;
SELECT plan(5);
SELECT cmp_ok(cardinality(:'ids'::bigint[]), '>=', 6, 'six open flags to act on');
-- two sessions: a holds the audit lock, b waits for it
SELECT dblink_exec('a', 'BEGIN') \g /dev/null
SELECT * FROM dblink('a', format('SELECT careflags.acknowledge(%s)', (:'ids'::bigint[])[1])) AS t(id bigint) \g /dev/null
SELECT dblink_send_query('b', format('SELECT careflags.acknowledge(%s)', (:'ids'::bigint[])[2])) \g /dev/null
SELECT pg_sleep(0.3) \g /dev/null
SELECT dblink_exec('a', 'COMMIT') \g /dev/null
SELECT is((SELECT count(*) FROM dblink_get_result('b') AS t(id bigint)), 1::bigint, 'b''s acknowledgement completes after a commits');
SELECT count(*) FROM dblink_get_result('b') AS t(id bigint) \g /dev/null
SELECT is((SELECT v FROM dblink('a', 'SELECT intact::text FROM careflags.verify_audit()') AS t(v text)), 'true',
          'the chain verifies after two sessions appended one after the other');
-- one statement, three actions
SELECT * FROM dblink('a', format('SELECT careflags.acknowledge(id) FROM unnest(%L::bigint[]) id', (:'ids'::bigint[])[3:5])) AS t(id bigint) \g /dev/null
SELECT is((SELECT v FROM dblink('a', 'SELECT intact::text FROM careflags.verify_audit()') AS t(v text)), 'true',
          'the chain verifies after one statement acknowledged three flags');
SELECT is((SELECT v FROM dblink('a', 'SELECT (row_count = (SELECT count(*) FROM careflags.audit))::text FROM careflags.audit_head') AS t(v text)), 'true',
          'the audit head counts every row');
SELECT * FROM finish();
ROLLBACK;
SELECT dblink_disconnect('a'), dblink_disconnect('b') \g /dev/null
DELETE FROM careflags.patient WHERE source_system = 'aud';
