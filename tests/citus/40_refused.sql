-- tests/citus/40_refused.sql - what does not work on Citus yet fails with an
-- error through the coordinator, never silently answers from the
-- coordinator's empty tables (README: careflags on Citus): the nurse views
-- are refused by Citus' planner (feature_not_supported; indicators() and
-- extract() work now, tests/citus/55_reports.sql), the nurse actions by careflags
-- (feature_not_supported, with careflags' hint), my_units() and my_flags too.  On one
-- server the same calls work (the core suite).  (recompute_patient() works on
-- Citus: tests/citus/67_recompute_patient.sql.)
\set citus_status `cat "$PGHOST/careflags_citus.status" 2>/dev/null || echo 'not prepared: tests/citus/setup.sh did not run'`
SELECT :'citus_status' = 'ready' AS citus_ready \gset
\if :citus_ready
\set coord `. "$PGHOST/citus-suite/env" && echo "postgresql:///careflags_citus?host=$CITUS_HOST&port=$CITUS_COORD_PORT"`
\c :coord
SET client_min_messages = error;
BEGIN;
SELECT plan(7);
SELECT throws_ok('SELECT count(*) FROM careflags.worklist', '0A000', NULL, 'worklist: refused (feature_not_supported)');
SELECT throws_ok('SELECT count(*) FROM careflags.my_flags', '0A000', NULL, 'my_flags: refused, feature_not_supported (through my_units(), which would find no unit in the coordinator''s empty table)');
SELECT throws_ok('SELECT count(*) FROM careflags.actions', '0A000', NULL, 'actions: refused');
SELECT throws_ok('SELECT count(*) FROM careflags.my_patients', '0A000', NULL, 'my_patients: refused');
SELECT throws_ok('SELECT count(*) FROM careflags.my_flag_events', '0A000', NULL, 'my_flag_events: refused');
SELECT throws_ok('SELECT careflags.my_units()', '0A000', NULL, 'my_units(): refused, feature_not_supported (it would read the coordinator''s empty unit_access, not its shard)');
SELECT throws_like('SELECT careflags.acknowledge(1)', '%does not work on a Citus cluster yet%',
                   'acknowledge() (and snooze(), exempt()): refused, careflags says why');
SELECT * FROM finish();
ROLLBACK;
\else
\echo 1..0 # SKIP Citus cluster unavailable: :citus_status
\endif
