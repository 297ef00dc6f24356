-- tests/install/10_nopreload.sql - careflags on a server WITHOUT careflags in
-- shared_preload_libraries (the install suite's second cluster, made by
-- tests/install/setup.sh): CREATE EXTENSION works and the session lives on
-- (it used to end in "FATAL: cannot create PGC_POSTMASTER variables after
-- startup"); one NOTICE names what is missing and the setting; flags,
-- triggers, worklist and reports work; careflags.evaluate_in_worker is
-- refused with a hint; `careflags check` says it in a line of its own.
\set QUIET 1
\set create_out `tests/install/nopreload.sh psql -X -d careflags_nopreload -c 'CREATE EXTENSION careflags' -c "SELECT 'session alive'" 2>&1; echo "exit=$?"`
\set set_out `tests/install/nopreload.sh psql -X -d careflags_nopreload -c 'SELECT careflags.preloaded()' -c 'SET careflags.evaluate_in_worker = on' 2>&1; echo "exit=$?"`
\set set_early `tests/install/nopreload.sh psql -X -At -d careflags_nopreload -c 'SET careflags.evaluate_in_worker = on' -c 'SELECT careflags.preloaded()' -c 'SHOW careflags.evaluate_in_worker' 2>&1; echo "exit=$?"`
\set update_out `tests/install/nopreload.sh psql -X -q -d postgres -c 'DROP DATABASE IF EXISTS careflags_np_update' -c 'CREATE DATABASE careflags_np_update' 2>&1 && tests/install/nopreload.sh psql -X -d careflags_np_update -c "CREATE EXTENSION careflags VERSION '1.2'" -c 'ALTER EXTENSION careflags UPDATE' -c "SELECT 'at ' || extversion FROM pg_extension WHERE extname = 'careflags'" 2>&1; echo "exit=$?"`
\set check_out `client=cli/careflags; [ -x "$client" ] || client=careflags; tests/install/nopreload.sh "$client" check -d careflags_nopreload 2>&1; echo "exit=$?"`
\set np_host `. "$PGHOST/install-suite/env"; echo "$NP_HOST"`
\set np_port `. "$PGHOST/install-suite/env"; echo "$NP_PORT"`
\c careflags_nopreload postgres :np_host :np_port
SET client_min_messages = warning;
BEGIN;
SELECT plan(19);

SELECT ok(:'create_out' ~ 'exit=0$' AND :'create_out' ~ 'session alive' AND :'create_out' !~ 'FATAL',
          'CREATE EXTENSION careflags without preloading: created, and the session goes on');
SELECT ok(:'create_out' ~ 'NOTICE:  careflags is not in shared_preload_libraries: no background worker'
          AND :'create_out' ~ 'HINT:  Add careflags to shared_preload_libraries, set careflags.worker_database',
          'a NOTICE says what is missing, and its hint names the settings');
SELECT is(regexp_count(:'create_out', 'NOTICE:'), 1, 'said once');
SELECT is(careflags.preloaded(), false, 'careflags.preloaded() is false');
SELECT ok(:'update_out' ~ ('at ' || (SELECT default_version FROM pg_available_extensions WHERE name = 'careflags')) AND :'update_out' ~ 'exit=0$' AND regexp_count(:'update_out', 'NOTICE:  careflags is not in shared_preload_libraries') = 1,
          'an install of 1.2 updated without preloading: at the current version, one NOTICE');
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'careflags'),
          (SELECT default_version FROM pg_available_extensions WHERE name = 'careflags'), 'installed at the default version');
SELECT is(current_setting('careflags.worker_database', true), NULL, 'the worker''s settings are absent (no PGC_POSTMASTER setting defined late)');
SELECT is(current_setting('careflags.strict'), 'off', 'the session settings are there');

-- flags by trigger, the worklist, an assessment resolving a flag, reports
INSERT INTO careflags.unit VALUES ('np-ward', 'Ward without preload', 'nursing_home_long_term');
INSERT INTO careflags.patient (source_key, display_name, birth_date) VALUES ('np1', 'Kari Nordmann', '1940-05-01');
INSERT INTO careflags.episode (patient_id, setting, unit_id, started_at)
     SELECT patient_id, 'nursing_home_long_term', 'np-ward', now() - interval '2 days' FROM careflags.patient WHERE source_key = 'np1';
SELECT set_eq($$SELECT title FROM careflags.worklist WHERE unit_id = 'np-ward'$$,
              ARRAY['Fall-risk assessment at admission', 'Medication review at admission', 'Nutrition screening at admission'],
              'the admission writes raised the three admission flags (triggers, evaluator), shown in the worklist');
INSERT INTO careflags.assessment (patient_id, instrument, assessed_at, items)
     SELECT patient_id, 'mst', now(), '{"weight_loss": "6_to_10_kg", "eating_less": true}' FROM careflags.patient WHERE source_key = 'np1';
SELECT ok(NOT EXISTS (SELECT FROM careflags.worklist WHERE unit_id = 'np-ward' AND title = 'Nutrition screening at admission')
          AND EXISTS (SELECT FROM careflags.worklist WHERE unit_id = 'np-ward' AND title = 'Nutrition plan missing'),
          'an MST at risk resolves the screening flag and raises "Nutrition plan missing"');
SELECT is_empty('SELECT * FROM careflags.check_consistency()', 'flags are what a full evaluation gives');
SELECT ok((SELECT count(*) FROM careflags.indicators()) > 0, 'the quality indicators report');
SELECT lives_ok('SELECT * FROM careflags.tick()', 'the worker''s pass can be run by hand (cron, pg_cron)');

-- what needs the worker: refused, with a hint
SELECT throws_ok('SET careflags.evaluate_in_worker = on', '0A000', NULL,
                 'SET careflags.evaluate_in_worker = on is refused (feature_not_supported)');
SELECT ok(:'set_out' ~ 'ERROR:  invalid value for parameter "careflags.evaluate_in_worker"'
          AND :'set_out' ~ 'DETAIL:  careflags.evaluate_in_worker needs the careflags background worker'
          AND :'set_out' ~ 'HINT:  Add careflags to shared_preload_libraries',
          'with a detail and a hint naming the setting');
SELECT ok(:'set_early' ~ 'WARNING:  invalid value for parameter "careflags.evaluate_in_worker"' AND :'set_early' ~ 'HINT:  Add careflags to shared_preload_libraries'
          AND :'set_early' ~ '\noff\nexit=0$',
          'set before the library loaded: ignored when it loads, with a warning and the hint');
SELECT throws_ok('ALTER DATABASE careflags_nopreload SET careflags.evaluate_in_worker = on', '0A000', NULL,
                 'nor can it be set for a database');
SELECT ok(:'check_out' ~ '(^|\n)warn +worker +careflags is not in shared_preload_libraries: no background worker'
          AND :'check_out' ~ 'careflags.worker_database = ''careflags_nopreload''',
          'careflags check: one line says the worker is missing and what to set');
SELECT ok(:'check_out' ~ 'careflags check: healthy' AND :'check_out' ~ 'exit=0$' AND :'check_out' !~ 'FAIL',
          'and the install is otherwise healthy (a warning, not a failure)');

SELECT * FROM finish();
ROLLBACK;
