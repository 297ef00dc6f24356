-- tests/cli/30_check.sql - `careflags check`: healthy, then unhealthy after a
-- deliberate tamper with the audit chain, then healthy again once repaired;
-- the quarantine threshold.
\set healthy `tests/cli/cf.sh check; echo "exit=$?"`
-- an audit entry to tamper with: acknowledge one open flag
\set ack `tests/cli/cf.sh psql -Atc "SELECT careflags.acknowledge(flag_id, 'seen') FROM careflags.flag WHERE resolved_at IS NULL ORDER BY flag_id LIMIT 1"`
\set after_ack `tests/cli/cf.sh check; echo "exit=$?"`
\set tamper `tests/cli/cf.sh psql -Atc "SET session_replication_role = replica" -c "UPDATE careflags.audit SET actor = 'mallory' WHERE audit_id = :ack" -c "SELECT 'tampered'"`
\set tampered `tests/cli/cf.sh check; echo "exit=$?"`
\set repair `tests/cli/cf.sh psql -Atc "SET session_replication_role = replica" -c "UPDATE careflags.audit SET actor = 'postgres' WHERE audit_id = :ack" -c "SELECT 'repaired'"`
\set repaired `tests/cli/cf.sh check; echo "exit=$?"`
-- a fact the guard cannot accept goes to quarantine
\set bad_fact `tests/cli/cf.sh psql -Atc "SET client_min_messages = error" -c "INSERT INTO careflags.assessment (patient_id, instrument, assessed_at, total) VALUES (1, 'mst', now(), 99)" -c "SELECT count(*) FROM careflags.quarantine WHERE resolved_at IS NULL"`
\set q_warn `tests/cli/cf.sh check; echo "exit=$?"`
\set q_fail `tests/cli/cf.sh check --max-quarantine 0; echo "exit=$?"`
\set q_clear `tests/cli/cf.sh psql -Atc "UPDATE careflags.quarantine SET resolved_at = now() WHERE resolved_at IS NULL" -c "SELECT 'cleared'"`
\set nodb `tests/cli/cf.sh check -d no_such_db 2>&1; echo "exit=$?"`
\set help `tests/cli/cf.sh check --help; echo "exit=$?"`

BEGIN;
SELECT plan(15);

SELECT ok(:'healthy' ~ 'careflags check: healthy' AND :'healthy' ~ 'exit=0$', 'a fresh install is healthy: exit 0');
SELECT ok(:'healthy' ~ '(^|\n)ok +extension +careflags [0-9.]+ \(library [0-9.]+\)', 'it names the versions');
SELECT ok(:'healthy' ~ '(^|\n)ok +worker +background worker running', 'the background worker is running');
SELECT ok(:'healthy' ~ '(^|\n)ok +queue +no patients waiting for the worker''s evaluation', 'no patients are waiting in the evaluation queue');
SELECT ok(:'healthy' ~ '(^|\n)ok +consistency' AND :'healthy' ~ '(^|\n)ok +audit' AND :'healthy' ~ '(^|\n)ok +quarantine +empty'
          AND :'healthy' ~ '(^|\n)ok +plugins',
          'consistency, audit chain, quarantine and plugins are checked');
SELECT ok(:'ack' ~ '^[0-9]+$' AND :'after_ack' ~ 'audit chain intact \([1-9][0-9]* entries checked\)' AND :'after_ack' ~ 'exit=0$',
          'an acknowledged flag: still healthy, the audit chain has entries');
SELECT is(:'tamper'::text, 'tampered', 'an audit entry was changed behind the extension''s back');
SELECT ok(:'tampered' ~ '(^|\n)FAIL +audit +audit chain broken at entry [0-9]+', 'check names the broken audit entry');
SELECT ok(:'tampered' ~ 'UNHEALTHY' AND :'tampered' ~ 'exit=1$', 'and exits 1');
SELECT ok(:'repair' ~ 'repaired' AND :'repaired' ~ 'healthy' AND :'repaired' ~ 'exit=0$', 'repaired: healthy again');
SELECT ok(:'bad_fact' ~ '^[1-9]' AND :'q_warn' ~ '(^|\n)warn +quarantine +[0-9]+ fact' AND :'q_warn' ~ 'exit=0$',
          'a quarantined fact is a warning');
SELECT ok(:'q_fail' ~ '(^|\n)FAIL +quarantine' AND :'q_fail' ~ 'exit=1$', '... and a failure over --max-quarantine');
SELECT is(:'q_clear'::text, 'cleared', 'quarantine cleared');
SELECT ok(:'nodb' ~ 'could not connect' AND :'nodb' ~ 'exit=2$', 'no connection: stderr, exit 2');
SELECT ok(:'help' ~ 'Exit status: 0 healthy, 1 unhealthy' AND :'help' ~ 'exit=0$', 'check --help');

SELECT * FROM finish();
ROLLBACK;
