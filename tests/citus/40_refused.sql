-- tests/citus/40_refused.sql - what does not work on Citus yet fails with an
-- error through the coordinator, never silently answers from the
-- coordinator's empty tables (README: careflags on Citus): indicators() and
-- extract() are refused by Citus' planner (feature_not_supported),
-- recompute_patient() and tick() by careflags (feature_not_supported, with
-- careflags' hint).  On one server the same calls work (the core suite).  The
-- nurse's views, my_units() and the nurse's actions work through the
-- coordinator since 1.3 (tests/citus/50_nurse.sql; on a worker the actions
-- are refused there).
\set citus_status `cat "$PGHOST/careflags_citus.status" 2>/dev/null || echo 'not prepared: tests/citus/setup.sh did not run'`
SELECT :'citus_status' = 'ready' AS citus_ready \gset
\if :citus_ready
\set coord `. "$PGHOST/citus-suite/env" && echo "postgresql:///careflags_citus?host=$CITUS_HOST&port=$CITUS_COORD_PORT"`
\c :coord
SET client_min_messages = error;
BEGIN;
SELECT plan(4);
SELECT throws_ok('SELECT count(*) FROM careflags.indicators()', '0A000', NULL, 'indicators(): refused');
SELECT throws_ok('SELECT count(*) FROM careflags.extract()', '0A000', NULL, 'extract(): refused');
SELECT throws_like('SELECT careflags.recompute_patient(1)', '%does not work on a Citus cluster yet%',
                   'recompute_patient(): careflags says why');
SELECT throws_ok('SELECT careflags.tick()', '0A000', NULL, 'tick(): refused (feature_not_supported)');
SELECT * FROM finish();
ROLLBACK;
\else
\echo 1..0 # SKIP Citus cluster unavailable: :citus_status
\endif
