-- tests/citus/40_refused.sql - what does not work on Citus yet fails with an
-- error through the coordinator, never silently answers from the
-- coordinator's empty tables (README: careflags on Citus).  What is left
-- refused: the nurse's actions on a worker node (the audit chain is the
-- coordinator's; careflags says so, with its SQLSTATE) and the settings
-- that would defer the evaluation (a shard's row trigger evaluates at
-- once).  Everything else a DBA, nurse or quality lead calls works through
-- the coordinator since 1.3: the nurse's views, my_units() and actions
-- (tests/citus/50_nurse.sql), indicators() and extract() (55_reports.sql),
-- tick() and the relay (60_notify.sql, 65_worker.sql), recompute_patient()
-- (67_recompute_patient.sql), recompute_all() as careflags_admin (68_admin.sql).
\set citus_status `cat "$PGHOST/careflags_citus.status" 2>/dev/null || echo 'not prepared: tests/citus/setup.sh did not run'`
SELECT :'citus_status' = 'ready' AS citus_ready \gset
\if :citus_ready
\set coord `. "$PGHOST/citus-suite/env" && echo "postgresql:///careflags_citus?host=$CITUS_HOST&port=$CITUS_COORD_PORT"`
\c :coord
SET client_min_messages = error;
BEGIN;
SELECT plan(5);
SELECT is((SELECT count(*) FROM run_command_on_workers('SELECT careflags.acknowledge(1)')
            WHERE NOT success AND result ~ 'coordinator only'),
          2::bigint, 'acknowledge() on either worker node: refused, careflags says the coordinator only');
SELECT is((SELECT count(*) FROM run_command_on_workers('SELECT careflags.snooze(1, now() + interval ''1 hour'')')
            WHERE NOT success AND result ~ 'coordinator only'),
          2::bigint, 'snooze() on either worker node: refused');
SELECT throws_ok('SET LOCAL careflags.defer_evaluation = on', '0A000', NULL,
                 'SET careflags.defer_evaluation: refused (feature_not_supported)');
SELECT throws_ok('SET LOCAL careflags.evaluate_in_worker = on', '0A000', NULL,
                 'SET careflags.evaluate_in_worker: refused (feature_not_supported)');
SELECT lives_ok('SELECT count(*) FROM careflags.worklist',
                'the worklist, refused before 1.3, is read through the coordinator');
SELECT * FROM finish();
ROLLBACK;
\else
\echo 1..0 # SKIP Citus cluster unavailable: :citus_status
\endif
