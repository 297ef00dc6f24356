-- tests/citus/55_reports.sql - the quality lead's reports through the Citus
-- coordinator (issue 19): indicators() national, per setting and per unit,
-- indicator_by_unit(), indicator_series(), flag_response_times() and the
-- pseudonymised extract() give, as careflags_quality and careflags_admin,
-- the same rows on the cluster as on one server for the same population
-- (tests/citus/reports.psql, figures as text by reports_text.psql), with and
-- without small-cell suppression.  The pseudonyms are computed on the
-- coordinator: no command the coordinator sends to a worker names the
-- secret or the HMAC; the secret is not on the workers; careflags_quality
-- cannot read careflags.pseudonym_key on any node.  (Before, indicators()
-- and extract() failed on Citus with 0A000, tests/citus/40_refused.sql.)
\set citus_status `cat "$PGHOST/careflags_citus.status" 2>/dev/null || echo 'not prepared: tests/citus/setup.sh did not run'`
SELECT :'citus_status' = 'ready' AS citus_ready \gset
\if :citus_ready
\set QUIET 1
-- 1. One server: the core suite's database, rolled back afterwards.
BEGIN;
SET LOCAL client_min_messages = error;
\o /dev/null
\ir reports.psql
\ir reports_text.psql
\o
\set s_ind_k1 :ind_k1
\set s_byunit_k1 :byunit_k1
\set s_ind_k5 :ind_k5
\set s_byunit_k5 :byunit_k5
\set s_series :series
\set s_responses :responses
\set s_extract_k1 :extract_k1
\set s_extract_k5 :extract_k5
\set s_admin_text :admin_text
ROLLBACK;

-- 2. The Citus cluster, through its coordinator.
\set coord `. "$PGHOST/citus-suite/env" && echo "postgresql:///careflags_citus?host=$CITUS_HOST&port=$CITUS_COORD_PORT"`
\set coord_log `. "$PGHOST/citus-suite/env" && echo "$CITUS_HOST/coord.log"`
\c :coord
SET client_min_messages = error;
-- the secret of every node (committed): the coordinator's is on no worker
SELECT encode(secret, 'hex') AS coord_secret FROM careflags.pseudonym_key \gset
SELECT count(*) FILTER (WHERE NOT success OR result <> '0') AS secret_copies,
       count(*) AS workers_asked
  FROM run_command_on_workers(format('SELECT count(*) FROM careflags.pseudonym_key WHERE secret = %L::bytea',
                                     '\x' || :'coord_secret')) \gset
-- careflags_quality and the key on every node (coordinator and workers)
SELECT count(*) FILTER (WHERE NOT success AND result ~ 'permission denied for table pseudonym_key') AS key_refused,
       count(*) AS nodes
  FROM run_command_on_all_nodes($cmd$DO $d$ BEGIN SET LOCAL ROLE careflags_quality;
                                  PERFORM count(*) FROM careflags.pseudonym_key; END $d$$cmd$) \gset
SELECT count(*) FILTER (WHERE success AND result = 'f') AS key_no_privilege
  FROM run_command_on_all_nodes($$SELECT has_table_privilege('careflags_quality', 'careflags.pseudonym_key', 'SELECT')$$) \gset

BEGIN;
\o /dev/null
\ir reports.psql
\o
-- what the coordinator sends to the workers while the reports run goes to
-- its log (citus.log_remote_commands: a NOTICE "issuing <command>" per
-- command, one line each)
\set log_before `wc -c < :'coord_log'`
SET LOCAL citus.log_remote_commands = on;
SET LOCAL log_min_messages = notice;
\o /dev/null
\ir reports_text.psql
\o
SET LOCAL citus.log_remote_commands = off;
\set remote_commands `tail -c +$((:log_before + 1)) :'coord_log' | { grep -c 'issuing' || true; }`
\set remote_extract `tail -c +$((:log_before + 1)) :'coord_log' | grep 'issuing' | { grep -c 'careflags.patient_[0-9]' || true; }`
\set remote_secret `tail -c +$((:log_before + 1)) :'coord_log' | grep 'issuing' | { grep -c -i -e '00112233445566778899aabbccddeeff' -e 'pseudonym_hmac' -e 'pseudonym_key' || true; }`
\unset QUIET
SELECT plan(16);
SELECT ok(:'s_byunit_k5' ~ 'units counted together' AND :'s_ind_k5' ~ 'withheld' AND :'s_extract_k5' ~ 'age_band,unit_id'
          AND :'s_ind_k1' ~ 'nutrition_plan' AND :'s_extract_k1' ~ '90\+',
          'the population gives published, merged and withheld figures, and generalised extract rows (one server)');
SELECT is(:'ind_k1'::text, :'s_ind_k1'::text, 'indicators() national, per setting, per unit, another age limit; indicator() and indicator_<name>(): the same as one server (k = 1)');
SELECT is(:'byunit_k1'::text, :'s_byunit_k1'::text, 'indicator_by_unit() of each indicator: the same as one server (k = 1)');
SELECT is(:'ind_k5'::text, :'s_ind_k5'::text, 'indicators() with small cells suppressed: the same figures and disclosures');
SELECT is(:'byunit_k5'::text, :'s_byunit_k5'::text, 'indicator_by_unit() with small cells suppressed: the same merged and withheld units');
SELECT is(:'series'::text, :'s_series'::text, 'indicator_series(): the same months');
SELECT is(:'responses'::text, :'s_responses'::text, 'flag_response_times(): the same');
SELECT is(:'extract_k1'::text, :'s_extract_k1'::text, 'extract(): the same rows, pseudonyms and categories as one server under the same secret (k = 1)');
SELECT is(:'extract_k5'::text, :'s_extract_k5'::text, 'extract() with classes of at least 5: the same rows, generalised and left out alike');
SELECT is(:'admin_text'::text, :'s_admin_text'::text, 'careflags_admin gets the same indicators and extract as on one server');
SELECT ok(:remote_commands::int > 0 AND :remote_extract::int > 0,
          'the reports ran on the workers (the coordinator logged the commands it sent, reading the patient shards)');
SELECT is(:remote_secret::int, 0, 'no command sent to a worker names the secret, the HMAC function or the key table: pseudonyms are made on the coordinator');
SELECT is(:secret_copies::int, 0, 'the coordinator''s secret is on no worker');
SELECT is(:workers_asked::int, 2, '... (both workers asked)');
SELECT is(:key_refused::int, :nodes::int, 'careflags_quality cannot read careflags.pseudonym_key on any node (coordinator and workers)');
SELECT is(format('%s of %s', :key_no_privilege, :nodes), '3 of 3', '... and has no privilege on it on any of the three nodes');
SELECT * FROM finish();
ROLLBACK;
\else
\echo 1..0 # SKIP Citus cluster unavailable: :citus_status
\endif
