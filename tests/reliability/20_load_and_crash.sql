-- Reliability 1 and 2: concurrent load and kill -9, on the private cluster
-- of drivers/stress.sh (run by setup.sh), asserted from its figures.
--
-- Load: 16 sessions write facts for 200 overlapping patients (single rows,
-- three-patient statements, deferred two-patient transactions), acknowledge
-- and snooze flags and recompute patients while the background worker ticks
-- every second.  Crash: a backend in a bulk INSERT is killed with SIGKILL
-- (the postmaster resets all sessions), then a backend in recompute_all().
-- "Nothing lost": every transaction pgbench saw commit is in the tables,
-- row for row; every flag action in the ledger (same transaction) is in the
-- audit; the audit chain verifies; flags are consistent (after a crash in
-- recompute_all(), check_consistency() tells the DBA and recompute_all()
-- mends it).
\c careflags_reliability
\set QUIET 1
BEGIN;
SELECT plan(36);
CREATE FUNCTION pg_temp.r(s text, m text) RETURNS numeric LANGUAGE sql STABLE AS
$$ SELECT value FROM public.result WHERE scenario = s AND measure = m $$;

-- 1. concurrency
SELECT is(pg_temp.r('load', 'clients'), 16::numeric, 'load: 16 concurrent sessions');
SELECT cmp_ok(pg_temp.r('load', 'transactions'), '>', 500::numeric, 'load: more than 500 transactions in the run');
SELECT is(pg_temp.r('load', 'failed_transactions'), 0::numeric, 'load: no transaction failed');
SELECT is(pg_temp.r('load', 'aborted_clients'), 0::numeric, 'load: no session aborted');
SELECT is(pg_temp.r('load', 'deadlocks'), 0::numeric, 'load: no deadlock detected in the server log');
SELECT is(pg_temp.r('load', 'server_errors'), 0::numeric, 'load: no ERROR in the server log');
SELECT is(pg_temp.r('load', 'worker_running'), 1::numeric, 'load: the background worker ran throughout');
SELECT is(pg_temp.r('load', 'stored_measurement'), pg_temp.r('load', 'committed_measurement'), 'load: every committed measurement stored');
SELECT is(pg_temp.r('load', 'stored_assessment'), pg_temp.r('load', 'committed_assessment'), 'load: every committed assessment stored');
SELECT is(pg_temp.r('load', 'stored_medication'), pg_temp.r('load', 'committed_medication'), 'load: every committed medicine stored');
SELECT is(pg_temp.r('load', 'stored_review'), pg_temp.r('load', 'committed_review'), 'load: every medication review of the three-patient statements stored');
SELECT is(pg_temp.r('load', 'stored_fall'), pg_temp.r('load', 'committed_fall'), 'load: every fall of the deferred transactions stored');
SELECT is(pg_temp.r('load', 'stored_care_plan'), pg_temp.r('load', 'committed_care_plan'), 'load: every care plan of the deferred transactions stored');
SELECT is(pg_temp.r('load', 'quarantined'), 0::numeric, 'load: nothing quarantined (no evaluation failed; patients left for later while a nurse held a flag are counted apart)');
SELECT is(pg_temp.r('load', 'audit_rows'), pg_temp.r('load', 'ledger_actions'), 'load: one audit row per acknowledgement and snooze that committed');
SELECT cmp_ok(pg_temp.r('load', 'flags_after'), '>', pg_temp.r('load', 'flags_before'), 'load: flags were raised and resolved during the run');
SELECT is(pg_temp.r('load', 'inconsistent'), 0::numeric, 'load: check_consistency() empty at the end');
SELECT is(pg_temp.r('load', 'audit_intact'), 1::numeric, 'load: the audit chain verifies after concurrent acknowledgements');

-- 2. kill -9 in the middle of a bulk load (with deferred transactions and acknowledgements)
SELECT is(pg_temp.r('crash_bulk', 'victim_found') * pg_temp.r('crash_bulk', 'reset_logged'), 1::numeric,
          'bulk crash: a backend in a bulk INSERT was killed with signal 9');
SELECT is(pg_temp.r('crash_bulk', 'recovered'), 1::numeric, 'bulk crash: the server recovered and accepts connections');
SELECT cmp_ok(pg_temp.r('crash_bulk', 'committed_rows'), '>=', 1000::numeric, 'bulk crash: at least 1000 rows were committed before the kill');
-- A transaction can commit on the server while the crash cuts its client off
-- before the acknowledgement arrives: stored may exceed what pgbench saw
-- commit, by whole transactions, at most one per session (6).
SELECT cmp_ok(pg_temp.r('crash_bulk', 'stored_rows'), '>=', pg_temp.r('crash_bulk', 'committed_rows'), 'bulk crash: every bulk row pgbench saw commit is there');
SELECT ok((pg_temp.r('crash_bulk', 'stored_rows') - pg_temp.r('crash_bulk', 'committed_rows')) % 100 = 0
          AND pg_temp.r('crash_bulk', 'stored_rows') - pg_temp.r('crash_bulk', 'committed_rows') <= 600,
          'bulk crash: beyond that only whole 100-row transactions, at most one per session (no partial statement)');
SELECT ok(pg_temp.r('crash_bulk', 'stored_deferred') BETWEEN pg_temp.r('crash_bulk', 'committed_deferred') AND pg_temp.r('crash_bulk', 'committed_deferred') + 6,
          'bulk crash: every deferred transaction pgbench saw commit is there (and at most one unacknowledged per session)');
SELECT is(pg_temp.r('crash_bulk', 'audit_rows'), pg_temp.r('crash_bulk', 'ledger_actions'), 'bulk crash: audit rows match the committed acknowledgements');
SELECT is(pg_temp.r('crash_bulk', 'audit_intact'), 1::numeric, 'bulk crash: the audit chain verifies after recovery');
SELECT is(pg_temp.r('crash_bulk', 'inconsistent'), 0::numeric, 'bulk crash: check_consistency() empty after recovery');

-- 3. kill -9 in the middle of recompute_all()
SELECT is(pg_temp.r('crash_recompute', 'victim_found') * pg_temp.r('crash_recompute', 'reset_logged'), 1::numeric,
          'recompute crash: the backend running recompute_all() was killed with signal 9');
SELECT is(pg_temp.r('crash_recompute', 'recovered'), 1::numeric, 'recompute crash: the server recovered');
SELECT is(pg_temp.r('crash_recompute', 'facts_after'), pg_temp.r('crash_recompute', 'facts_before'), 'recompute crash: every fact is there');
SELECT cmp_ok(pg_temp.r('crash_recompute', 'inconsistent_before_kill'), '>', 0::numeric,
              'recompute crash: a rule edit left flags for recompute_all() to change, and the check lists them');
SELECT is(pg_temp.r('crash_recompute', 'inconsistent_after_restart'), pg_temp.r('crash_recompute', 'inconsistent_before_kill'),
          'recompute crash: the killed recompute_all() left nothing half-done (same differences as before it)');
SELECT is(pg_temp.r('crash_recompute', 'recompute_changes'), pg_temp.r('crash_recompute', 'inconsistent_after_restart'),
          'recompute crash: recompute_all() after restart changes exactly what the check reported');
SELECT is(pg_temp.r('crash_recompute', 'inconsistent_after_recompute'), 0::numeric, 'recompute crash: check_consistency() empty after recompute_all()');
SELECT is(pg_temp.r('crash_recompute', 'audit_intact'), 1::numeric, 'recompute crash: the audit chain verifies');
SELECT is(pg_temp.r('crash_recompute', 'worker_back'), 1::numeric, 'recompute crash: the background worker is back');
SELECT * FROM finish();
ROLLBACK;
