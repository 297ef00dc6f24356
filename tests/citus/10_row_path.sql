-- tests/citus/10_row_path.sql - the README's getting-started example through
-- the coordinator of a real Citus cluster (a coordinator and two workers,
-- tests/citus/setup.sh): the row triggers evaluate on the shard they fire
-- on, the guard scores and validates there, quarantine rows are visible from
-- the coordinator, careflags.strict set on the coordinator reaches the shard
-- triggers.  (Issue 19: before, the same statements raised no flag, left the
-- MST's total NULL and quarantined nothing.)
\set citus_status `cat "$PGHOST/careflags_citus.status" 2>/dev/null || echo 'not prepared: tests/citus/setup.sh did not run'`
SELECT :'citus_status' = 'ready' AS citus_ready \gset
\if :citus_ready
\set coord `. "$PGHOST/citus-suite/env" && echo "postgresql:///careflags_citus?host=$CITUS_HOST&port=$CITUS_COORD_PORT"`
\c :coord
SET client_min_messages = error;
BEGIN;
SELECT plan(14);

SELECT is((SELECT count(*)::int FROM pg_dist_node WHERE noderole = 'primary' AND nodeport <> (SELECT setting::int FROM pg_settings WHERE name = 'port')),
          2, 'the cluster has two workers');
SELECT is((SELECT array_agg(DISTINCT partmethod::text) FROM pg_dist_partition
            WHERE logicalrelid IN ('careflags.patient'::regclass, 'careflags.assessment'::regclass, 'careflags.flag'::regclass,
                                   'careflags.quarantine'::regclass, 'careflags.patient_state'::regclass)),
          ARRAY['h'], 'patients, facts, flags, state and quarantine are hash-distributed');
SELECT is((SELECT count(DISTINCT colocationid)::int FROM pg_dist_partition
            WHERE logicalrelid::text ~ '^careflags\.' AND partmethod = 'h'),
          1, 'all distributed careflags tables are co-located (by patient_id)');
SELECT is((SELECT partmethod::text FROM pg_dist_partition WHERE logicalrelid = 'careflags.rule'::regclass),
          'n', 'rules are a reference table');

INSERT INTO careflags.unit VALUES ('cw-1', 'Citus ward 1', 'nursing_home_long_term') ON CONFLICT DO NOTHING;
INSERT INTO careflags.patient (source_key, display_name, birth_date)
     VALUES ('citus-p1', 'Kari Nordmann', '1940-05-01') RETURNING patient_id AS p1 \gset
INSERT INTO careflags.episode (patient_id, setting, unit_id, started_at)
     VALUES (:p1, 'nursing_home_long_term', 'cw-1', now() - interval '2 days');

-- (values are read first, then compared: a pgTAP call around a query of a
-- distributed table would be pushed down to a worker, away from the plan)
SELECT array_agg(rule_id ORDER BY rule_id)::text AS open_rules FROM careflags.flag
 WHERE patient_id = :p1 AND resolved_at IS NULL \gset
SELECT is(:'open_rules'::text, '{fall_risk.assessment.admission,medication_review.admission,nutrition.screening.admission_long_term}'::text,
          'the admission raises the three admission flags (evaluated on the worker holding the patient)');

INSERT INTO careflags.assessment (patient_id, instrument, assessed_at, items)
     VALUES (:p1, 'mst', now(), '{"weight_loss": "6_to_10_kg", "eating_less": true}');
SELECT format('%s %s %s', total, band, at_risk) AS scored FROM careflags.assessment WHERE patient_id = :p1 \gset
SELECT is(:'scored'::text, '3 at_risk t'::text, 'the guard scores the MST on the shard: total 3, at risk');
SELECT resolution AS screening FROM careflags.flag WHERE patient_id = :p1 AND rule_id = 'nutrition.screening.admission_long_term' \gset
SELECT is(:'screening'::text, 'done'::text, 'the screening flag is resolved as done');
SELECT count(*) AS plans FROM careflags.flag WHERE patient_id = :p1 AND rule_id ~ '^nutrition\.plan' AND resolved_at IS NULL \gset
SELECT is(:plans::int, 1, 'MST 3 raises the nutrition plan flag');
SELECT count(*) AS states FROM careflags.patient_state WHERE patient_id = :p1 \gset
SELECT is(:states::int, 1, 'the patient''s state row is written on its shard');

-- An impossible fact: quarantined on the worker, seen from the coordinator.
SELECT lives_ok($$INSERT INTO careflags.assessment (patient_id, instrument, assessed_at, items)
                  VALUES ($$ || :p1 || $$, 'mst', now(), '{"weight_loss": "a lot"}')$$,
                'an impossible MST answer does not fail the write');
SELECT count(*) AS quarantined FROM careflags.quarantine WHERE patient_id = :p1 AND fact_table = 'assessment' \gset
SELECT is(:quarantined::int, 1, 'its quarantine row is visible from the coordinator, naming the table (not the shard)');
SELECT count(*) AS stored FROM careflags.assessment WHERE patient_id = :p1 \gset
SELECT is(:stored::int, 1, 'and the impossible row was not stored');

-- careflags.strict set on the coordinator reaches the shard's guard.
SET LOCAL careflags.strict = on;
SELECT throws_ok($$INSERT INTO careflags.assessment (patient_id, instrument, assessed_at, items)
                   VALUES ($$ || :p1 || $$, 'mst', now(), '{"weight_loss": "a lot"}')$$,
                 '23514', NULL, 'with careflags.strict on (SET LOCAL on the coordinator) the shard''s guard refuses it');
SET LOCAL careflags.strict = off;
SELECT count(*) AS quarantined FROM careflags.quarantine WHERE patient_id = :p1 \gset
SELECT is(:quarantined::int, 1, 'nothing more was quarantined');

SELECT * FROM finish();
ROLLBACK;
\else
-- TAP "skip all": pg_prove reports the file as skipped, with the reason.
\echo 1..0 # SKIP Citus cluster unavailable: :citus_status
\endif
