-- tests/citus/68_admin.sql - careflags_admin runs recompute_all(),
-- check_consistency() and tick() through the Citus coordinator, as on one
-- server (issue 19).  The coordinator runs their per-shard parts on every
-- shard's node in connections of their own; those are made as the
-- extension's owner (the per-shard functions are not granted to
-- careflags_admin, and must not be: anyone else is still refused them).
-- Before, an admin's call failed on the first shard with "permission
-- denied for function recompute_shard".  The role is removed at the end.
\set citus_status `cat "$PGHOST/careflags_citus.status" 2>/dev/null || echo 'not prepared: tests/citus/setup.sh did not run'`
SELECT :'citus_status' = 'ready' AS citus_ready \gset
\if :citus_ready
\set coord `. "$PGHOST/citus-suite/env" && echo "postgresql:///careflags_citus?host=$CITUS_HOST&port=$CITUS_COORD_PORT"`
\c :coord
SET client_min_messages = error;
DROP ROLE IF EXISTS cf_adm_citus;
DROP ROLE IF EXISTS cf_adm_other;
CREATE ROLE cf_adm_citus LOGIN IN ROLE careflags_admin;
CREATE ROLE cf_adm_other LOGIN;
GRANT USAGE ON SCHEMA careflags TO cf_adm_other;
SELECT plan(8);

-- a broken flag for the admin's recompute to put right: one patient, its
-- admission flags, one of them deleted on its shard (flags have no triggers)
INSERT INTO careflags.unit VALUES ('cw-adm', 'Citus admin ward', 'nursing_home_long_term') ON CONFLICT DO NOTHING;
INSERT INTO careflags.patient (source_system, source_key, display_name, birth_date)
VALUES ('citus-adm', 'p1', 'Admin test patient', DATE '1936-03-01');
SELECT patient_id AS p FROM careflags.patient WHERE source_system = 'citus-adm' \gset
INSERT INTO careflags.episode (patient_id, source_system, setting, unit_id, started_at)
VALUES (:p, 'citus-adm', 'nursing_home_long_term', 'cw-adm', now() - interval '2 days');
SELECT count(*) AS open_before FROM careflags.flag WHERE patient_id = :p AND resolved_at IS NULL \gset
DELETE FROM careflags.flag WHERE patient_id = :p AND flag_id = (SELECT min(flag_id) FROM careflags.flag WHERE patient_id = :p);

SET ROLE cf_adm_citus;
SELECT ok((SELECT count(*) FROM careflags.check_consistency() WHERE patient_id = :p) >= 1,
          'careflags_admin: check_consistency() through the coordinator finds the deleted flag');
SELECT ok(careflags.recompute_all() >= 1,
          'careflags_admin: recompute_all() through the coordinator runs on every shard and puts it right');
SELECT is((SELECT count(*) FROM careflags.check_consistency()), 0::bigint,
          'careflags_admin: check_consistency() is empty afterwards');
SELECT lives_ok('SELECT careflags.tick()', 'careflags_admin: tick() through the coordinator');
RESET ROLE;
-- (read first: a router query would take the pgTAP call to the worker)
SELECT count(*) AS open_after FROM careflags.flag WHERE patient_id = :p AND resolved_at IS NULL \gset
SELECT is(:open_after::bigint, :open_before::bigint, 'the patient has its open flags back');

-- the per-shard parts stay refused to anyone but the owner, the admin too
SET ROLE cf_adm_citus;
SELECT throws_ok($$SELECT careflags.recompute_shard('careflags.patient')$$,
                 '42501', NULL, 'careflags_admin may not call recompute_shard() itself');
RESET ROLE;
SET ROLE cf_adm_other;
SELECT throws_ok('SELECT careflags.recompute_all()', '42501', NULL,
                 'a role that is not careflags_admin may not run recompute_all()');
SELECT throws_ok('SELECT count(*) FROM careflags.check_consistency()', '42501', NULL,
                 'nor check_consistency()');
RESET ROLE;

DELETE FROM careflags.patient WHERE source_system = 'citus-adm';
REVOKE USAGE ON SCHEMA careflags FROM cf_adm_other;
DROP ROLE cf_adm_citus;
DROP ROLE cf_adm_other;
SELECT * FROM finish();
\else
\echo 1..0 # SKIP Citus cluster unavailable: :citus_status
\endif
