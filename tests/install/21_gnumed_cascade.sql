-- tests/install/21_gnumed_cascade.sql - CREATE EXTENSION careflags_gnumed
-- CASCADE on the server without preloading, in a copy of the GNUmed database
-- the GNUmed suite built (tests/install/setup.sh copies it without
-- careflags): careflags comes with it (one NOTICE), GNUmed's existing
-- resident is backfilled and careflags' hints are registered.  Skipped
-- visibly when there is no GNUmed database.
\set np_status `cat "$PGHOST/install-suite/gnumed.status" 2>/dev/null || echo 'not prepared: tests/install/setup.sh did not run'`
SELECT :'np_status' = 'ready' AS gm_ready \gset
\if :gm_ready
\set QUIET 1
\set create_out `tests/install/nopreload.sh psql -X -d gnumed_v22 -c 'SET default_transaction_read_only = off' -c 'CREATE EXTENSION careflags_gnumed CASCADE' -c "SELECT 'session alive'" 2>&1; echo "exit=$?"`
\set np_host `. "$PGHOST/install-suite/env"; echo "$NP_HOST"`
\set np_port `. "$PGHOST/install-suite/env"; echo "$NP_PORT"`
\c gnumed_v22 postgres :np_host :np_port
SET default_transaction_read_only = off;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
BEGIN;
SELECT plan(5);
SELECT ok(:'create_out' ~ 'exit=0$' AND :'create_out' ~ 'session alive' AND :'create_out' !~ 'FATAL',
          'CREATE EXTENSION careflags_gnumed CASCADE without preloading: created, and the session goes on');
SELECT is(regexp_count(:'create_out', 'NOTICE:  careflags is not in shared_preload_libraries'), 1,
          'careflags, created by CASCADE, says once what is missing');
SELECT set_eq($$SELECT extname::text FROM pg_extension WHERE extname LIKE 'careflags%'$$,
              ARRAY['careflags', 'careflags_gnumed'], 'both extensions are installed');
SELECT is((SELECT count(*)::int FROM ref.auto_hint WHERE source = 'careflags'), 15,
          'one GNUmed hint per action and language is registered (5 actions: nutrition screening and plan, medication review, fall-risk assessment and plan; nb, nn, en)');
SELECT ok(EXISTS (SELECT FROM careflags.flag f JOIN careflags.patient p USING (patient_id)
                   WHERE p.source_system = 'gnumed' AND f.resolved_at IS NULL),
          'the resident GNUmed held before the install has open flags (backfill)');
SELECT * FROM finish();
ROLLBACK;
\else
-- TAP "skip all": pg_prove reports the file as skipped, with the reason.
\echo 1..0 # SKIP GNUmed database unavailable: :np_status
\endif
