-- tests/citus/20_same_flags.sql - the same flag scenarios (tests/citus/scenarios.psql,
-- written with the core suite's fixtures) give the same flags on one server
-- (the core suite's database, statement triggers) as through the coordinator
-- of the Citus cluster (row triggers on the shards).
\set citus_status `cat "$PGHOST/careflags_citus.status" 2>/dev/null || echo 'not prepared: tests/citus/setup.sh did not run'`
SELECT :'citus_status' = 'ready' AS citus_ready \gset
\if :citus_ready
\set QUIET 1
-- 1. One server: the core suite's database, rolled back afterwards.
BEGIN;
\ir ../core/fixtures.psql
SET client_min_messages = error;
SELECT (SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger
         WHERE tgrelid = 'careflags.assessment'::regclass AND tgname ~ '^z_evaluate') AS single_triggers \gset
\o /dev/null
\ir scenarios.psql
\o
\set single_flags :scenario_flags
ROLLBACK;

-- 2. The Citus cluster, through its coordinator.
\set coord `. "$PGHOST/citus-suite/env" && echo "postgresql:///careflags_citus?host=$CITUS_HOST&port=$CITUS_COORD_PORT"`
\c :coord
BEGIN;
-- the fixtures stay on the coordinator (their functions route each write)
SET LOCAL citus.enable_ddl_propagation = off;
\ir ../core/fixtures.psql
SET client_min_messages = error;
\o /dev/null
\ir scenarios.psql
\o
\unset QUIET
SELECT plan(4);
SELECT is(:'single_triggers'::text, 'z_evaluate_delete,z_evaluate_insert,z_evaluate_update'::text,
          'one server: statement triggers, the default, unchanged');
SELECT is((SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger
            WHERE tgrelid = 'careflags.assessment'::regclass AND tgname ~ '^z_evaluate'),
          'z_evaluate_row'::text, 'the cluster: row triggers (careflags.distribute())');
SELECT ok(:'single_flags' ~ 'nutrition' AND :'single_flags' ~ 'medication_review' AND :'single_flags' ~ 'fall_risk'
          AND :'single_flags' ~ 'done' AND :'single_flags' ~ 'open', 'the scenarios raise and resolve flags of every domain');
SELECT is(:'scenario_flags'::text, :'single_flags'::text, 'the cluster gives the same flags, due times, resolutions and reasons as one server');
SELECT * FROM finish();
ROLLBACK;
\else
\echo 1..0 # SKIP Citus cluster unavailable: :citus_status
\endif
