-- Reliability 1 (audit): the audit of flag actions under concurrency, and
-- what can be shown about it from outside the database.
--
-- 1. Appends: each patient has its own chain; an append locks only that
--    patient's head (careflags.audit_chain), after which it reads the head.
--    A second session acting on the same patient waits and then builds on
--    the head the first committed; one statement acting on several flags;
--    both leave chains that verify, and the heads count every row.
-- 2. One open transaction stops no one else: a nurse who acknowledges (or
--    exempts) and leaves her transaction open holds up neither another
--    nurse's action on another patient nor a write of the record for her
--    own patient (lock_timeout 1 s: on 1.2 the first waited for the audit's
--    table lock, the second for the flag's row or the patient's row, and
--    both failed at the timeout).
--    Nor does careflags' own correction of a resolved flag (a deleted
--    screening reopens the flag it resolved, audited in the patient's chain):
--    left for later while the nurse's action is open, done after her commit.
-- 3. exempt(flag, reason, 'infinity') is refused before anything is audited;
--    acknowledge() finds its flag through an index (36,000 flags).
-- 4. A superuser who (a) recomputes a chain and its head with sha256(),
--    (b) removes the last row and moves the head back, or (c) wipes the rows
--    and the heads: verify_audit() cannot see it (the database alone holds
--    nothing the superuser cannot rewrite), the witness kept outside the
--    database by `careflags check --audit-witness FILE` does.  (In a
--    scratch database, careflags_audit_witness, dropped at the end.)
-- (docs/reliability.md, "The audit chain".)
\c careflags_reliability
\set QUIET 1
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
DELETE FROM careflags.patient WHERE source_system = 'aud';
INSERT INTO careflags.patient (source_system, source_key, birth_date)
SELECT 'aud', 'a' || g, DATE '1936-02-01' FROM generate_series(1, 5) g;
INSERT INTO careflags.episode (patient_id, source_system, setting, started_at)
SELECT patient_id, 'aud', 'nursing_home_long_term', now() - interval '2 days'
  FROM careflags.patient WHERE source_system = 'aud';
SELECT format('host=%s port=%s dbname=%s user=%s', split_part(current_setting('unix_socket_directories'), ',', 1),
              current_setting('port'), current_database(), current_user) AS conn \gset
SELECT dblink_connect('a', :'conn'), dblink_connect('b', :'conn') \g /dev/null
SELECT dblink_exec('a', 'SET client_min_messages = warning'), dblink_exec('b', 'SET client_min_messages = warning') \g /dev/null
-- the open flags of patient aN, by flag id
CREATE FUNCTION pg_temp.flags(key text) RETURNS bigint[] LANGUAGE sql AS $$
    SELECT array_agg(f.flag_id ORDER BY f.flag_id) FROM careflags.flag f JOIN careflags.patient p USING (patient_id)
     WHERE p.source_system = 'aud' AND p.source_key = key AND f.resolved_at IS NULL $$;
CREATE FUNCTION pg_temp.flag(key text, rule text) RETURNS bigint LANGUAGE sql AS $$
    SELECT f.flag_id FROM careflags.flag f JOIN careflags.patient p USING (patient_id)
     WHERE p.source_system = 'aud' AND p.source_key = key AND f.rule_id = rule AND f.resolved_at IS NULL $$;
SELECT patient_id AS a1 FROM careflags.patient WHERE source_system = 'aud' AND source_key = 'a1' \gset
SELECT patient_id AS a4 FROM careflags.patient WHERE source_system = 'aud' AND source_key = 'a4' \gset
SELECT patient_id AS a5 FROM careflags.patient WHERE source_system = 'aud' AND source_key = 'a5' \gset
-- how long a statement took, in ms, and whether it went through
CREATE FUNCTION pg_temp.timed(sql text, OUT ms numeric, OUT outcome text) LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
BEGIN
    EXECUTE sql;
    outcome := 'done';
    ms := round(extract(epoch FROM clock_timestamp() - t0) * 1000);
EXCEPTION WHEN OTHERS THEN
    outcome := SQLSTATE || ' ' || SQLERRM;
    ms := round(extract(epoch FROM clock_timestamp() - t0) * 1000);
END $$;

BEGIN;
SELECT plan(36);
SELECT cmp_ok(cardinality(pg_temp.flags('a1')), '>=', 3, 'three open flags of a1 to act on');

-- ---- 1. appends ----
-- a acts on a1 and keeps its transaction open; b acts on a1 too: it waits for a's head
SELECT dblink_exec('a', 'BEGIN') \g /dev/null
SELECT * FROM dblink('a', format('SELECT careflags.acknowledge(%s)', (pg_temp.flags('a1'))[1])) AS t(id bigint) \g /dev/null
SELECT dblink_send_query('b', format('SELECT careflags.acknowledge(%s)', (pg_temp.flags('a1'))[2])) \g /dev/null
SELECT pg_sleep(0.3) \g /dev/null
SELECT ok(dblink_is_busy('b') = 1, 'the same patient: b''s action waits for a''s open one (its chain''s head)');
SELECT dblink_exec('a', 'COMMIT') \g /dev/null
SELECT is((SELECT count(*) FROM dblink_get_result('b') AS t(id bigint)), 1::bigint, 'b''s acknowledgement completes after a commits');
SELECT count(*) FROM dblink_get_result('b') AS t(id bigint) \g /dev/null
SELECT is((SELECT v FROM dblink('a', 'SELECT intact::text FROM careflags.verify_audit()') AS t(v text)), 'true',
          'the chain verifies after two sessions appended one after the other');
-- one statement, three actions on three patients
SELECT * FROM dblink('a', format('SELECT careflags.acknowledge(id) FROM unnest(%L::bigint[]) id',
                                 ARRAY[(pg_temp.flags('a1'))[3], (pg_temp.flags('a2'))[1], (pg_temp.flags('a3'))[1]])) AS t(id bigint) \g /dev/null
SELECT is((SELECT v FROM dblink('a', 'SELECT intact::text FROM careflags.verify_audit()') AS t(v text)), 'true',
          'the chain verifies after one statement acknowledged three flags');
SELECT is((SELECT v FROM dblink('a', $$SELECT ((SELECT coalesce(sum(row_count), 0) FROM careflags.audit_chain)
                                              + (SELECT coalesce(sum(row_count), 0) FROM careflags.audit_head)
                                              = (SELECT count(*) FROM careflags.audit))::text$$) AS t(v text)), 'true',
          'the heads count every row');
SELECT is((SELECT v FROM dblink('a', format('SELECT row_count::text FROM careflags.audit_chain WHERE patient_id = %s', :a1)) AS t(v text)),
          '3', 'a1''s chain has its three rows');

-- ---- 2. one open transaction stops no one else ----
-- nurse a acknowledges a4's screening flag and leaves her transaction open
SELECT pg_temp.flag('a4', 'nutrition.screening.admission_long_term') AS a4_screening \gset
SELECT dblink_exec('a', 'BEGIN') \g /dev/null
SELECT * FROM dblink('a', format('SELECT careflags.acknowledge(%s, %L)', :a4_screening, 'will screen after lunch')) AS t(id bigint) \g /dev/null
SELECT dblink_exec('b', 'SET lock_timeout = ''1s''') \g /dev/null
SELECT dblink_exec('b', $b$CREATE FUNCTION pg_temp.timed(sql text, OUT ms numeric, OUT outcome text) LANGUAGE plpgsql AS $f$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
    EXECUTE sql; outcome := 'done'; ms := round(extract(epoch FROM clock_timestamp() - t0) * 1000);
EXCEPTION WHEN OTHERS THEN
    outcome := SQLSTATE || ' ' || SQLERRM; ms := round(extract(epoch FROM clock_timestamp() - t0) * 1000);
END $f$$b$) \g /dev/null
SELECT is((SELECT v FROM dblink('b', format($$SELECT outcome || CASE WHEN ms < 500 THEN ' at once' ELSE ' after ' || ms || ' ms' END
                                              FROM pg_temp.timed('SELECT careflags.acknowledge(%s)')$$, (pg_temp.flags('a2'))[2])) AS t(v text)),
          'done at once', 'another nurse''s action on another patient goes through at once while a''s is open (lock_timeout 1 s)');
-- the record writes a4's screening, which resolves the flag a holds: no wait, the write goes through
SET LOCAL lock_timeout = '1s';
SELECT is((SELECT outcome || CASE WHEN ms < 500 THEN ' at once' ELSE ' after ' || ms || ' ms' END
             FROM pg_temp.timed(format($$INSERT INTO careflags.assessment (patient_id, source_system, instrument, assessed_at, total)
                                         VALUES (%s, 'aud', 'mst', now(), 0)$$, :a4))),
          'done at once', 'a write of the record for a4 does not wait for the nurse''s open acknowledgement (lock_timeout 1 s)');
SELECT is((SELECT count(*) FROM careflags.assessment WHERE patient_id = :a4 AND source_system = 'aud'), 1::bigint,
          'the screening is stored');
SELECT ok(EXISTS (SELECT FROM careflags.quarantine WHERE fact_table = 'evaluation' AND patient_id = :a4
                     AND reason LIKE '%held by another session%'),
          'the patient left for later is quarantined with the reason (no worker serves this database)');
-- the worker's tick, two months on (flags become overdue: their notified state changes), does not wait either
SAVEPOINT month_on;
SELECT set_config('careflags.frozen_now', (now() + interval '60 days')::text, true) \g /dev/null
SELECT outcome || CASE WHEN ms < 500 THEN ' at once' ELSE ' after ' || ms || ' ms' END AS tick_outcome
  FROM pg_temp.timed('SELECT careflags.tick()') \gset
SELECT count(*) AS a4_overdue FROM careflags.flag
 WHERE patient_id = :a4 AND resolved_at IS NULL AND notified_state = 'overdue' \gset
ROLLBACK TO SAVEPOINT month_on;
SELECT is(:'tick_outcome'::text, 'done at once', 'careflags.tick() does not wait for the flag the nurse holds (lock_timeout 1 s)');
SELECT cmp_ok(:a4_overdue::int, '>', 0, 'and announces a4''s other flags that became overdue');
RESET lock_timeout;
SELECT dblink_exec('a', 'COMMIT') \g /dev/null
SELECT lives_ok(format('SELECT careflags.recompute_patient(%s)', :a4), 'once the nurse commits, the patient is evaluated again');
SELECT is(pg_temp.flag('a4', 'nutrition.screening.admission_long_term'), NULL, 'and the screening resolves the flag she acknowledged');

-- careflags' own correction of a resolved flag appends to the patient's chain too: the screening
-- deleted while a nurse's action on a4 is open, the flag it resolved is reopened only after her commit
SELECT flag_id AS a4_done FROM careflags.flag
 WHERE patient_id = :a4 AND rule_id = 'nutrition.screening.admission_long_term' AND resolution = 'done' \gset
SELECT dblink_exec('a', 'BEGIN') \g /dev/null
SELECT * FROM dblink('a', format('SELECT careflags.acknowledge(%s)', (pg_temp.flags('a4'))[1])) AS t(id bigint) \g /dev/null
SET LOCAL lock_timeout = '1s';
SELECT is((SELECT outcome || CASE WHEN ms < 500 THEN ' at once' ELSE ' after ' || ms || ' ms' END
             FROM pg_temp.timed(format($$DELETE FROM careflags.assessment WHERE patient_id = %s AND source_system = 'aud'$$, :a4))),
          'done at once', 'deleting the screening of a4 does not wait for the nurse''s open action on a4 (lock_timeout 1 s)');
RESET lock_timeout;
SELECT ok((SELECT resolution = 'done' FROM careflags.flag WHERE flag_id = :a4_done)
          AND pg_temp.flag('a4', 'nutrition.screening.admission_long_term') IS NULL,
          'while it is open the flag stays resolved and no second flag is raised (left for later)');
SELECT dblink_exec('a', 'COMMIT') \g /dev/null
SELECT lives_ok(format('SELECT careflags.recompute_patient(%s)', :a4), 'after her commit a4 is evaluated again');
SELECT is(pg_temp.flag('a4', 'nutrition.screening.admission_long_term'), :a4_done::bigint, 'the same flag is open again');
SELECT is((SELECT action FROM careflags.audit WHERE flag_id = :a4_done ORDER BY audit_id DESC LIMIT 1),
          'reopen', 'its reopening is in the audit, in a4''s chain after her acknowledgement');
SELECT ok((careflags.verify_audit()).intact, 'and the chains verify');

-- nurse a exempts a flag of a5 and leaves her transaction open: a5's record writes do not wait either
SELECT dblink_exec('a', 'BEGIN') \g /dev/null
SELECT * FROM dblink('a', format('SELECT careflags.exempt(%s, %L)', pg_temp.flag('a5', 'fall_risk.assessment.admission'), 'end-of-life care')) AS t(id bigint) \g /dev/null
SELECT is((SELECT v FROM dblink('a', format($$SELECT resolution FROM careflags.flag WHERE flag_id = %s$$,
                                             pg_temp.flag('a5', 'fall_risk.assessment.admission'))) AS t(v text)),
          'exempt', 'in her transaction the exempted flag is resolved at once');
-- (written by b, which commits at once: the nurse's commit evaluates a5 and waits for its writers)
SELECT is((SELECT v FROM dblink('b', format($$SELECT outcome || CASE WHEN ms < 500 THEN ' at once' ELSE ' after ' || ms || ' ms' END
                                              FROM pg_temp.timed(%L)$$,
                                             format($$INSERT INTO careflags.fall (patient_id, source_system, fell_at)
                                                      VALUES (%s, 'aud', now() - interval '1 hour')$$, :a5))) AS t(v text)),
          'done at once', 'a write of the record for a5 does not wait for the nurse''s open exemption (lock_timeout 1 s)');
SELECT dblink_exec('a', 'COMMIT') \g /dev/null
SELECT is((SELECT v FROM dblink('b', format($$SELECT count(*)::text FROM careflags.check_consistency() WHERE patient_id = %s$$, :a5)) AS t(v text)),
          '0', 'after her commit (evaluated then) a5''s committed flags are consistent');

-- ---- 3. an exemption the guard would quarantine is refused before it is audited ----
SELECT count(*) AS audit_rows FROM careflags.audit \gset
SELECT throws_ok(format('SELECT careflags.exempt(%s, %L, %L)', pg_temp.flag('a2', 'fall_risk.assessment.admission'), 'in hospital', 'infinity'),
                 '22023', 'valid_until must be before 2200', 'exempt(..., ''infinity'') is refused with a clear message');
SELECT is((SELECT count(*) FROM careflags.audit), :audit_rows::bigint, 'and nothing is audited');
SELECT isnt(pg_temp.flag('a2', 'fall_risk.assessment.admission'), NULL, 'the flag stays open, as the audit says');

-- ---- 3b. acknowledge() finds the flag by its id through an index, not by reading every flag ----
-- (36,000 resolved flags of a3; the pages read by the lookup acknowledge(), snooze() and exempt()
-- run (audit.c, visible_flag()); a scan of the table or of its primary key reads over 100)
SELECT patient_id AS a3 FROM careflags.patient WHERE source_system = 'aud' AND source_key = 'a3' \gset
INSERT INTO careflags.flag (patient_id, rule_id, domain, severity, raised_at, due_from, due_at, due_soon_window,
                            reason, resolved_at, resolution)
SELECT :a3, 'nutrition.screening.admission_long_term', 'nutrition', 1, now(), now(), now(), '1 day', 'history', now(), 'done'
  FROM generate_series(1, 36000);
ANALYZE careflags.flag;
CREATE FUNCTION pg_temp.pages_read(q text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    p json;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ' || q INTO p;
    RETURN (p -> 0 -> 'Plan' ->> 'Shared Hit Blocks')::bigint + (p -> 0 -> 'Plan' ->> 'Shared Read Blocks')::bigint;
END $$;
SELECT cmp_ok(pg_temp.pages_read(format($$SELECT f.patient_id, f.rule_id, f.resolved_at IS NULL, r.max_snooze, f.unit_id
                                           FROM careflags.flag f JOIN careflags.rule r
                                             ON r.rule_id OPERATOR(pg_catalog.=) f.rule_id
                                          WHERE f.flag_id OPERATOR(pg_catalog.=) %s$$,
                                         pg_temp.flag('a3', 'medication_review.admission'))), '<', 20::bigint,
              'with 36,000 flags, acknowledge() finds its flag reading a few pages, not the whole table');

-- ---- 4. tampering by a superuser: verify_audit() cannot see it, the witness can ----
\set wf `mktemp -u /tmp/careflags-witness.XXXXXX`
SELECT dblink_exec('a', 'DROP DATABASE IF EXISTS careflags_audit_witness') \g /dev/null
SELECT dblink_exec('a', 'CREATE DATABASE careflags_audit_witness') \g /dev/null
SELECT format('host=%s port=%s dbname=careflags_audit_witness user=%s', split_part(current_setting('unix_socket_directories'), ',', 1),
              current_setting('port'), current_user) AS wconn \gset
SELECT dblink_connect('w', :'wconn') \g /dev/null
SELECT dblink_exec('w', 'SET client_min_messages = warning') \g /dev/null
SELECT dblink_exec('w', $$CREATE EXTENSION careflags;
    INSERT INTO careflags.patient (source_key, birth_date) SELECT 'w' || g, '1936-02-01' FROM generate_series(1, 3) g;
    INSERT INTO careflags.episode (patient_id, setting, started_at)
         SELECT patient_id, 'nursing_home_long_term', now() - interval '2 days' FROM careflags.patient$$) \g /dev/null
SELECT count(*) FROM dblink('w', $$SELECT careflags.acknowledge(f.flag_id, 'seen') FROM careflags.flag f WHERE f.resolved_at IS NULL
       AND f.rule_id IN ('nutrition.screening.admission_long_term', 'fall_risk.assessment.admission') ORDER BY f.flag_id$$) AS t(id bigint) \g /dev/null
SELECT v AS w1 FROM dblink('w', 'SELECT min(patient_id)::text FROM careflags.patient') AS t(v text) \gset
SELECT v AS w2 FROM dblink('w', 'SELECT (min(patient_id) + 1)::text FROM careflags.patient') AS t(v text) \gset
\set out `cli/careflags check -d careflags_audit_witness --audit-witness :wf 2>&1 | grep '^[a-zA-Z]* *witness'`
SELECT matches(:'out'::text, '^ok +witness +.* written: 3 chain head', 'careflags check --audit-witness writes the heads of the three chains');
SELECT v AS w1_head FROM dblink('w', format($$SELECT format('patient %%s row %%s count %%s hash %%s', chain, last_id, row_count, last_hash)
                                                FROM careflags.audit_witness() WHERE chain = %L$$, :'w1')) AS t(v text) \gset
-- (a) the superuser changes a1's first note and recomputes the chain and its head with sha256()
SELECT dblink_exec('w', format($$
    CREATE FUNCTION pg_temp.f(b bytea) RETURNS bytea LANGUAGE sql AS 'SELECT int8send(length(b)) || b';
    CREATE FUNCTION pg_temp.h(prev bytea, a careflags.audit) RETURNS bytea LANGUAGE sql AS $h$
        SELECT sha256(pg_temp.f(convert_to('careflags-audit-v2', 'UTF8')) || pg_temp.f(coalesce(prev, '\x'))
                      || int8send(a.audit_id) || int8send(a.patient_id) || int8send(a.flag_id)
                      || int8send(((extract(epoch FROM a.acted_at) - 946684800) * 1000000)::bigint)
                      || pg_temp.f(convert_to(a.action, 'UTF8')) || pg_temp.f(convert_to(a.actor::text, 'UTF8'))
                      || pg_temp.f(convert_to(a.detail::text, 'UTF8'))) $h$;
    SET session_replication_role = replica;
    UPDATE careflags.audit SET detail = '{"note": "nothing to see"}'
     WHERE audit_id = (SELECT min(audit_id) FROM careflags.audit WHERE patient_id = %1$s);
    DO $d$
    DECLARE
        r careflags.audit;
        prev bytea := NULL;
    BEGIN
        FOR r IN SELECT * FROM careflags.audit WHERE patient_id = %1$s ORDER BY audit_id LOOP
            UPDATE careflags.audit SET prev_hash = prev, hash = pg_temp.h(prev, r) WHERE audit_id = r.audit_id;
            prev := pg_temp.h(prev, r);
        END LOOP;
        UPDATE careflags.audit_chain SET last_hash = prev WHERE patient_id = %1$s;
    END $d$;
    RESET session_replication_role$$, :w1)) \g /dev/null
SELECT is((SELECT v FROM dblink('w', 'SELECT intact::text FROM careflags.verify_audit()') AS t(v text)), 'true',
          '(a) a chain recomputed with sha256() still verifies inside the database (what verify_audit() cannot see)');
\set out `cli/careflags check -d careflags_audit_witness --audit-witness :wf 2>&1 | grep '^[a-zA-Z]* *witness'`
SELECT matches(:'out'::text, format('FAIL +witness +chain %s: row [0-9]+ has hash .* the chain was rewritten', :'w1'),
               '(a) the witness finds the rewritten chain');
\set logged `grep -c "careflags audit head: :w1_head" "$PGHOST/server.log"`
SELECT is(:'logged'::text, '1', '(a) the server log still has the chain''s head as it was written at commit');
-- (b) the superuser removes w2's last row and moves its head back
SELECT dblink_exec('w', format($$
    SET session_replication_role = replica;
    DELETE FROM careflags.audit WHERE audit_id = (SELECT max(audit_id) FROM careflags.audit WHERE patient_id = %1$s);
    UPDATE careflags.audit_chain c SET last_id = a.audit_id, last_hash = a.hash, row_count = c.row_count - 1
      FROM careflags.audit a WHERE c.patient_id = %1$s
       AND a.audit_id = (SELECT max(audit_id) FROM careflags.audit WHERE patient_id = %1$s);
    RESET session_replication_role$$, :w2)) \g /dev/null
SELECT is((SELECT v FROM dblink('w', 'SELECT intact::text FROM careflags.verify_audit()') AS t(v text)), 'true',
          '(b) a tail removed with its head moved back still verifies inside the database');
\set out `cli/careflags check -d careflags_audit_witness --audit-witness :wf 2>&1 | grep '^[a-zA-Z]* *witness'`
SELECT matches(:'out'::text, format('chain %s: row [0-9]+ \(its head of 2 rows when .* was written\) is gone', :'w2'),
               '(b) the witness finds the removed tail');
-- (c) the superuser wipes every row and every head
SELECT dblink_exec('w', $$SET session_replication_role = replica;
    DELETE FROM careflags.audit; DELETE FROM careflags.audit_chain; RESET session_replication_role$$) \g /dev/null
SELECT is((SELECT v FROM dblink('w', 'SELECT intact::text || '' '' || checked FROM careflags.verify_audit()') AS t(v text)), 'true 0',
          '(c) an audit wiped with its heads verifies as empty inside the database');
\set out `cli/careflags check -d careflags_audit_witness --audit-witness :wf 2>&1 | grep -c '^FAIL *witness.* is gone'`
SELECT is(:'out'::text, '3', '(c) the witness finds every chain gone');
SELECT * FROM finish();
ROLLBACK;
SELECT dblink_disconnect('w') \g /dev/null
SELECT dblink_exec('a', 'DROP DATABASE careflags_audit_witness') \g /dev/null
\set removed `rm -f :wf :wf.new`
SELECT dblink_disconnect('a'), dblink_disconnect('b') \g /dev/null
DELETE FROM careflags.quarantine WHERE patient_id IN (SELECT patient_id FROM careflags.patient WHERE source_system = 'aud');
DELETE FROM careflags.patient WHERE source_system = 'aud';
