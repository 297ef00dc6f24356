-- tests/citus/60_notify.sql - LISTEN careflags on the Citus coordinator hears
-- what it would hear on one server (issue 19, item 3).  The shards never
-- NOTIFY (a NOTIFY on a worker fails a transaction over two workers at
-- PREPARE); they record each event in careflags.flag_event with relayed_at
-- NULL, and the coordinator's background worker relays them as NOTIFY
-- careflags <event id> (extension/notify.c), marking them in the same
-- transaction.  Shown here, with a listener on a second connection (dblink):
-- the flags raised by one transaction that writes patients on both workers
-- arrive once each, as bare event ids (the one-server payload); after the
-- relay is stopped and restarted by the postmaster, the events written while
-- it was down arrive, once, and nothing already sent is sent again.  The rows
-- stay (the cluster is the suite's own), tagged source_system 'citus-notify'.
\set citus_status `cat "$PGHOST/careflags_citus.status" 2>/dev/null || echo 'not prepared: tests/citus/setup.sh did not run'`
SELECT :'citus_status' = 'ready' AS citus_ready \gset
\if :citus_ready
\set coord `. "$PGHOST/citus-suite/env" && echo "postgresql:///careflags_citus?host=$CITUS_HOST&port=$CITUS_COORD_PORT"`
\set coord_conninfo `. "$PGHOST/citus-suite/env" && echo "host=$CITUS_HOST port=$CITUS_COORD_PORT dbname=careflags_citus"`
\c :coord
SET client_min_messages = error;
CREATE EXTENSION IF NOT EXISTS dblink;
-- (a run before on the same cluster: its patients and their events go)
DELETE FROM careflags.patient WHERE source_system = 'citus-notify';
DELETE FROM careflags.flag_event WHERE patient_id BETWEEN 8000000000001 AND 8000000000064;
SELECT plan(15);

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

SELECT ok(pg_temp.wait_for($$SELECT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'careflags worker'
                                             AND datname = current_database())$$, 30),
          'the coordinator runs careflags'' background worker in the database (the relay)');

-- Two new patients, one on each worker (ids picked by their shard's node).
WITH c AS (SELECT id, (SELECT p.groupid FROM pg_dist_placement p
                        WHERE p.shardid = get_shard_id_for_distribution_column('careflags.patient', id)) AS g
             FROM generate_series(8000000000001, 8000000000064) id)
SELECT min(id) FILTER (WHERE g = (SELECT min(g) FROM c)) AS pa,
       min(id) FILTER (WHERE g = (SELECT max(g) FROM c)) AS pb,
       (SELECT count(DISTINCT g) FROM c) AS groups FROM c \gset
SELECT is(:groups::int, 2, 'the patients'' shards lie on two workers');

SELECT dblink_connect('listener', :'coord_conninfo'), dblink_connect('writer', :'coord_conninfo') \g /dev/null
SELECT dblink_exec('listener', 'LISTEN careflags') \g /dev/null
SELECT dblink_exec('writer', $w$INSERT INTO careflags.unit VALUES ('cw-notify', 'Citus notify ward', 'nursing_home_long_term')
                               ON CONFLICT DO NOTHING$w$) \g /dev/null

-- 1. One transaction admits both patients: it writes shards on both workers
-- (two-phase commit) and raises their admission flags there.
SELECT dblink_exec('writer', format($w$BEGIN;
    INSERT INTO careflags.patient (patient_id, source_system, source_key, display_name, birth_date)
         VALUES (%s, 'citus-notify', 'a', 'Notify A', '1938-02-03'), (%s, 'citus-notify', 'b', 'Notify B', '1939-04-05');
    INSERT INTO careflags.episode (patient_id, source_system, setting, unit_id, started_at)
         VALUES (%s, 'citus-notify', 'nursing_home_long_term', 'cw-notify', now()),
                (%s, 'citus-notify', 'nursing_home_long_term', 'cw-notify', now());
    COMMIT$w$, :pa, :pb, :pa, :pb)) AS written \gset
SELECT is(:'written'::text, 'COMMIT'::text, 'the transaction over both workers commits (no NOTIFY on the shards)');
SELECT ok(pg_temp.wait_for(format($$SELECT count(*) >= 6 AND bool_and(relayed_at IS NOT NULL) FROM careflags.flag_event
                                    WHERE patient_id IN (%s, %s)$$, :pa, :pb), 20),
          'the coordinator''s worker relays the events of both workers within seconds (relayed_at set)');
SELECT pg_sleep(0.5) \g /dev/null
CREATE TEMP TABLE heard1 AS SELECT * FROM dblink_get_notify('listener');
CREATE TEMP TABLE events1 AS
    SELECT event_id, kind, patient_id, flag_id FROM careflags.flag_event WHERE patient_id IN (:pa, :pb);
CREATE TEMP TABLE flags1 AS SELECT patient_id, flag_id FROM careflags.flag WHERE patient_id IN (:pa, :pb);

SELECT is((SELECT count(DISTINCT patient_id) FROM flags1), 2::bigint, 'both patients got their admission flags (on their workers)');
SELECT is((SELECT count(*) FROM events1 WHERE kind = 'raised'), (SELECT count(*) FROM flags1),
          'one raised event per flag in the outbox');
SELECT is((SELECT string_agg(extra, ', ') FROM heard1 WHERE notify_name = 'careflags' AND extra !~ '^[0-9]{1,19}$'), NULL,
          'every payload is a bare event id, as on one server');
SELECT is((SELECT count(*) FROM events1 e WHERE (SELECT count(*) FROM heard1 h WHERE h.notify_name = 'careflags'
                                                   AND h.extra = e.event_id::text) <> 1), 0::bigint,
          'the listener on the coordinator heard each event of the transaction over both workers exactly once');
SELECT is((SELECT count(DISTINCT f.patient_id) FROM heard1 h JOIN events1 e ON e.event_id::text = h.extra
             JOIN flags1 f USING (patient_id, flag_id) WHERE e.kind = 'raised'), 2::bigint,
          '... the raised flags of both patients, each from its own worker');

-- 2. The relay stops (terminated; the postmaster starts it again after 10 s).
-- Flags raised meanwhile wait in the outbox, and are sent once when it is
-- back; nothing sent before is sent again.
SELECT count(pg_terminate_backend(pid)) AS stopped FROM pg_stat_activity
 WHERE backend_type = 'careflags worker' AND datname = current_database() \gset
SELECT dblink_exec('writer', format($w$BEGIN;
    INSERT INTO careflags.assessment (patient_id, source_system, instrument, assessed_at, items)
         VALUES (%s, 'citus-notify', 'mst', now(), '{"weight_loss": "6_to_10_kg", "eating_less": true}'),
                (%s, 'citus-notify', 'mst', now(), '{"weight_loss": "6_to_10_kg", "eating_less": true}');
    COMMIT$w$, :pa, :pb)) AS written2 \gset
SELECT count(*) AS waiting FROM careflags.flag_event WHERE patient_id IN (:pa, :pb) AND relayed_at IS NULL \gset
SELECT ok(:stopped::int = 1 AND :waiting::int > 0,
          'with the relay stopped, the new events wait in the outbox (relayed_at NULL)');
SELECT ok(pg_temp.wait_for(format($$SELECT bool_and(relayed_at IS NOT NULL) FROM careflags.flag_event
                                    WHERE patient_id IN (%s, %s)$$, :pa, :pb), 40),
          'the restarted relay sends them (relayed_at set)');
SELECT pg_sleep(0.5) \g /dev/null
CREATE TEMP TABLE heard2 AS SELECT * FROM dblink_get_notify('listener');
CREATE TEMP TABLE events2 AS
    SELECT event_id, kind FROM careflags.flag_event WHERE patient_id IN (:pa, :pb)
       AND event_id NOT IN (SELECT event_id FROM events1);
SELECT is(:'written2' || ' ' || (SELECT count(*) FROM events2), 'COMMIT ' || :'waiting',
          'an MST at risk for each patient (both workers, one transaction) resolved and raised flags while the relay was down');
SELECT is((SELECT count(*) FROM events2 e WHERE (SELECT count(*) FROM heard2 h WHERE h.notify_name = 'careflags'
                                                   AND h.extra = e.event_id::text) <> 1), 0::bigint,
          'after the restart each of them arrives exactly once (nothing lost)');
SELECT is((SELECT count(*) FROM heard2 h JOIN events1 e ON e.event_id::text = h.extra), 0::bigint,
          'and no event sent before the restart is sent again');
SELECT ok(pg_temp.wait_for($$SELECT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'careflags worker'
                                             AND datname = current_database())$$, 30),
          'the coordinator''s worker runs again');

SELECT dblink_disconnect('listener'), dblink_disconnect('writer') \g /dev/null
SELECT * FROM finish();
\else
\echo 1..0 # SKIP Citus cluster unavailable: :citus_status
\endif
