-- tests/citus/67_recompute_patient.sql - careflags.recompute_patient() on
-- Citus (issue 19): through the coordinator it re-evaluates the one patient
-- in its shard, on the worker node that holds it, and returns the number of
-- flag changes, as on one server.  Shown: flags broken by hand (deleted, and
-- resolved, on their shards, careflags' triggers not involved: flags have
-- none) for a patient on each worker node are put right by
-- recompute_patient(id) through the coordinator, the count returned is the
-- number of differences check_consistency() found and of the flags written,
-- the other patients' flags are untouched, check_consistency() is empty
-- afterwards; a patient that does not exist changes nothing (0); the call
-- works in the caller's transaction (it sees the caller's own change and is
-- undone by its rollback), on a worker node (its own patient and the other
-- node's), and pushed down to the shards with a query around it; the same
-- privileges as on one server (careflags_admin may, another role may not,
-- nobody but a superuser calls the per-shard part).  Before, it was refused
-- with feature_not_supported.  The patients and roles are removed at the end.
\set citus_status `cat "$PGHOST/careflags_citus.status" 2>/dev/null || echo 'not prepared: tests/citus/setup.sh did not run'`
SELECT :'citus_status' = 'ready' AS citus_ready \gset
\if :citus_ready
\set coord `. "$PGHOST/citus-suite/env" && echo "postgresql:///careflags_citus?host=$CITUS_HOST&port=$CITUS_COORD_PORT"`
\set w1_port `. "$PGHOST/citus-suite/env" && echo "$CITUS_W1_PORT"`
\set w2_port `. "$PGHOST/citus-suite/env" && echo "$CITUS_W2_PORT"`
\set w1 `. "$PGHOST/citus-suite/env" && echo "host=$CITUS_HOST port=$CITUS_W1_PORT dbname=careflags_citus"`
\c :coord
SET client_min_messages = error;
CREATE EXTENSION IF NOT EXISTS dblink;
DELETE FROM careflags.patient WHERE source_system = 'citus-rp';
DROP ROLE IF EXISTS cf_rp_admin;
DROP ROLE IF EXISTS cf_rp_other;
SELECT plan(23);

-- the worker node (port) holding a patient's shard
CREATE FUNCTION pg_temp.node_of(p bigint) RETURNS integer LANGUAGE sql AS $$
    SELECT n.nodeport FROM pg_dist_placement pl JOIN pg_dist_node n ON n.groupid = pl.groupid
     WHERE pl.shardid = get_shard_id_for_distribution_column('careflags.patient', p) AND pl.shardstate = 1 $$;
-- the flags of the suite's patients but two, as text (to compare before and after)
CREATE FUNCTION pg_temp.other_flags(a bigint, b bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t text;
BEGIN
    SELECT string_agg(format('%s %s %s %s %s %s', f.patient_id, f.flag_id, f.rule_id, f.resolved_at, f.resolution, f.notified_state),
                      ', ' ORDER BY f.flag_id) INTO t
      FROM careflags.flag f
     WHERE f.patient_id IN (SELECT patient_id FROM careflags.patient WHERE source_system = 'citus-rp')
       AND f.patient_id NOT IN (a, b);
    RETURN t;
END $$;

-- 1. Ten patients admitted to a long-term ward: three open admission flags each.
INSERT INTO careflags.unit VALUES ('cw-rp', 'Citus recompute ward', 'nursing_home_long_term') ON CONFLICT DO NOTHING;
INSERT INTO careflags.patient (source_system, source_key, display_name, birth_date)
SELECT 'citus-rp', 'p' || i, 'Recompute patient ' || i, DATE '1935-01-01' + i FROM generate_series(1, 10) i;
INSERT INTO careflags.episode (patient_id, source_system, setting, unit_id, started_at)
SELECT patient_id, 'citus-rp', 'nursing_home_long_term', 'cw-rp', now() - interval '2 days'
  FROM careflags.patient WHERE source_system = 'citus-rp';
CREATE TEMP TABLE rp AS SELECT patient_id FROM careflags.patient WHERE source_system = 'citus-rp';
SELECT min(patient_id) FILTER (WHERE pg_temp.node_of(patient_id) = :w1_port) AS p1,
       min(patient_id) FILTER (WHERE pg_temp.node_of(patient_id) = :w2_port) AS p2,
       max(patient_id) + 1000 AS nobody
  FROM rp \gset
SELECT ok(:'p1' <> '' AND :'p2' <> '', 'a patient of the ward on each worker node');
SELECT count(*) AS open_flags FROM careflags.flag WHERE patient_id IN (SELECT patient_id FROM rp) AND resolved_at IS NULL \gset
SELECT is(:open_flags::int, 30, 'the admissions raised three open flags for each of the ten patients');
SELECT count(*) AS differences FROM careflags.check_consistency() \gset
SELECT is(:differences::int, 0, 'check_consistency() is empty before');
SELECT pg_temp.other_flags(:p1, :p2) AS others_before \gset

-- 2. Flags broken by hand on their shards: p1 (worker 1) lost an open flag;
-- p2 (worker 2) lost one and had another resolved without cause.
DELETE FROM careflags.flag WHERE patient_id = :p1 AND rule_id = 'medication_review.admission' AND resolved_at IS NULL;
DELETE FROM careflags.flag WHERE patient_id = :p2 AND rule_id = 'medication_review.admission' AND resolved_at IS NULL;
UPDATE careflags.flag SET resolved_at = now(), resolution = 'cleared'
 WHERE patient_id = :p2 AND rule_id = 'fall_risk.assessment.admission' AND resolved_at IS NULL;
SELECT count(*) FILTER (WHERE patient_id = :p1) AS d1, count(*) FILTER (WHERE patient_id = :p2) AS d2,
       count(*) AS d_all FROM careflags.check_consistency() \gset
SELECT ok(:d1::int = 1 AND :d2::int = 2 AND :d_all::int = 3, 'check_consistency() finds the broken flags: one of p1, two of p2, no other');
SELECT max(flag_id) FILTER (WHERE patient_id = :p1) AS max1, max(flag_id) FILTER (WHERE patient_id = :p2) AS max2
  FROM careflags.flag WHERE patient_id IN (:p1, :p2) \gset

-- 3. recompute_patient(p1) through the coordinator: p1 only, on worker 1.
SELECT careflags.recompute_patient(:p1) AS c1 \gset
SELECT is(:c1::int, :d1::int, 'recompute_patient(p1) through the coordinator returns the number of flag changes (= the differences found)');
SELECT count(*) AS written1 FROM careflags.flag WHERE patient_id = :p1 AND flag_id > :max1 \gset
SELECT is(:written1::int, :c1::int, '... = the flags it wrote');
SELECT count(*) AS open1 FROM careflags.flag WHERE patient_id = :p1 AND rule_id = 'medication_review.admission' AND resolved_at IS NULL \gset
SELECT is(:open1::int, 1, 'p1''s deleted flag is open again, on its shard');
SELECT count(*) FILTER (WHERE patient_id = :p2) AS d2_left, count(*) AS d_left FROM careflags.check_consistency() \gset
SELECT ok(:d2_left::int = 2 AND :d_left::int = 2, 'p2 (on the other worker) is not touched by it: its two differences are left');

-- 4. recompute_patient(p2): worker 2.
SELECT careflags.recompute_patient(:p2) AS c2 \gset
SELECT is(:c2::int, :d2::int, 'recompute_patient(p2) returns its number of flag changes (= the differences found)');
SELECT count(*) AS written2 FROM careflags.flag WHERE patient_id = :p2 AND flag_id > :max2 \gset
SELECT is(:written2::int, :c2::int, '... = the flags it wrote');
SELECT count(*) AS open2 FROM careflags.flag WHERE patient_id = :p2 AND resolved_at IS NULL \gset
SELECT is(:open2::int, 3, 'p2 has its three open admission flags again');
SELECT count(*) AS differences FROM careflags.check_consistency() \gset
SELECT is(:differences::int, 0, 'check_consistency() is empty afterwards');
SELECT pg_temp.other_flags(:p1, :p2) AS others_after \gset
SELECT is(:'others_after'::text, :'others_before'::text, 'the other eight patients'' flags are untouched');
SELECT careflags.recompute_patient(:p1) AS again \gset
SELECT is(:again::int, 0, 'once put right, recompute_patient() changes nothing');

-- 5. A patient that does not exist: as on one server, no change.
SELECT careflags.recompute_patient(:nobody) AS c_nobody, careflags.recompute_patient(NULL) IS NULL AS null_null \gset
SELECT ok(:c_nobody::int = 0 AND :'null_null'::boolean, 'a patient that does not exist: 0 changes (NULL: NULL)');

-- 6. In the caller's transaction: it sees the caller's own uncommitted
-- change, and the caller's rollback undoes it with that change.
SELECT count(*) AS n_before, max(flag_id) AS max_before FROM careflags.flag WHERE patient_id = :p2 \gset
BEGIN;
DELETE FROM careflags.flag WHERE patient_id = :p2 AND rule_id = 'nutrition.screening.admission_long_term' AND resolved_at IS NULL;
SELECT careflags.recompute_patient(:p2) AS c_tx \gset
SELECT count(*) AS open_tx, max(flag_id) > :max_before AS new_tx FROM careflags.flag WHERE patient_id = :p2 AND resolved_at IS NULL \gset
ROLLBACK;
SELECT ok(:c_tx::int = 1 AND :open_tx::int = 3 AND :'new_tx'::boolean,
          'in a transaction it sees the caller''s own uncommitted change and puts it right (1 change, a new flag)');
SELECT count(*) AS n_rb, max(flag_id) AS max_rb FROM careflags.flag WHERE patient_id = :p2 \gset
SELECT count(*) AS differences FROM careflags.check_consistency() \gset
SELECT ok(:n_rb::int = :n_before::int AND :max_rb::bigint = :max_before::bigint AND :differences::int = 0,
          '... and the caller''s rollback undoes both (the original flag is back, the new one gone)');

-- 7. On a worker node: its own patient (here), the other node's (routed there).
DELETE FROM careflags.flag WHERE patient_id IN (:p1, :p2) AND rule_id = 'medication_review.admission' AND resolved_at IS NULL;
SELECT r AS w1_p1 FROM dblink(:'w1', format('SELECT careflags.recompute_patient(%s)', :p1)) AS t(r bigint) \gset
SELECT r AS w1_p2 FROM dblink(:'w1', format('SELECT careflags.recompute_patient(%s)', :p2)) AS t(r bigint) \gset
SELECT ok(:w1_p1::int = 1 AND :w1_p2::int = 1, 'on worker node 1: recompute_patient() of its own patient, and of worker 2''s, one change each');
SELECT count(*) AS differences FROM careflags.check_consistency() \gset
SELECT is(:differences::int, 0, '... check_consistency() is empty again');

-- 8. Pushed down to the shards with the query around it.
DELETE FROM careflags.flag WHERE patient_id IN (:p1, :p2) AND rule_id = 'medication_review.admission' AND resolved_at IS NULL;
SELECT sum(careflags.recompute_patient(patient_id)) AS pushed FROM careflags.patient WHERE source_system = 'citus-rp' \gset
SELECT count(*) AS differences FROM careflags.check_consistency() \gset
SELECT ok(:pushed::int = 2 AND :differences::int = 0,
          'SELECT recompute_patient(patient_id) FROM careflags.patient ...: every patient on its shard, 2 changes, check_consistency() empty');

-- 9. Privileges as on one server: careflags_admin may, another role may not;
-- the per-shard part is for nobody but a superuser.
CREATE ROLE cf_rp_admin IN ROLE careflags_admin;
CREATE ROLE cf_rp_other;
GRANT USAGE ON SCHEMA careflags TO cf_rp_other;
DELETE FROM careflags.flag WHERE patient_id = :p2 AND rule_id = 'medication_review.admission' AND resolved_at IS NULL;
SET ROLE cf_rp_admin;
SELECT careflags.recompute_patient(:p2) AS c_admin \gset
RESET ROLE;
SELECT count(*) AS differences FROM careflags.check_consistency() \gset
SELECT ok(:c_admin::int = 1 AND :differences::int = 0, 'a careflags_admin may call recompute_patient() through the coordinator (it puts the patient right)');
SET ROLE cf_rp_other;
SELECT throws_ok(format('SELECT careflags.recompute_patient(%s)', :p2), '42501', NULL,
                 'a role without careflags_admin may not (insufficient_privilege)');
RESET ROLE;
SET ROLE cf_rp_admin;
SELECT throws_ok(format('SELECT careflags.recompute_patient_shard(''careflags.patient'', %s)', :p2), '42501', NULL,
                 'recompute_patient_shard() is not granted, not even to careflags_admin');
RESET ROLE;

DELETE FROM careflags.patient WHERE source_system = 'citus-rp';
REVOKE USAGE ON SCHEMA careflags FROM cf_rp_other;
DROP ROLE cf_rp_admin;
DROP ROLE cf_rp_other;
SELECT * FROM finish();
\else
\echo 1..0 # SKIP Citus cluster unavailable: :citus_status
\endif
