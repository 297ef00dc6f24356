-- tests/install/99_stop.sql - stop the install suite's cluster without preloading (the last file of the suite).
\set stopped `tests/install/nopreload.sh stop; s=$(tests/install/nopreload.sh state); . "$s/env"; [ -f "$NP_DATA/postmaster.pid" ] && echo running || echo stopped`
BEGIN;
SELECT plan(1);
SELECT is(:'stopped'::text, 'stopped', 'the install suite''s cluster without preloading is stopped');
SELECT * FROM finish();
ROLLBACK;
