-- tests/cli/99_stop.sql - stop the client suite's private cluster (the last file of the suite).
\set stopped `tests/cli/cf.sh stop; s=$(tests/cli/cf.sh state); . "$s/env"; [ -f "$CLI_DATA/postmaster.pid" ] && echo running || echo stopped`
BEGIN;
SELECT plan(1);
SELECT is(:'stopped'::text, 'stopped', 'the client suite''s private cluster is stopped');
SELECT * FROM finish();
ROLLBACK;
