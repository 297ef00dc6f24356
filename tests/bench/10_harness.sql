-- tests/bench/10_harness.sql - the reduced-scale benchmark run of setup.sh:
-- every harness step ran and produced figures, and careflags and the
-- hand-written baseline agree on every flag and indicator.
\c careflags_bench_test
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(19);

SELECT is((SELECT value FROM bench.result WHERE step = 'harness' ORDER BY result_id DESC LIMIT 1), 0::numeric,
          'bench/harness.sh ran to the end (exit status 0)');
SELECT is((SELECT count(*)::integer FROM careflags.patient), 2000, 'the generated municipality has 2,000 patients');
SELECT cmp_ok((SELECT count(*) FROM careflags.measurement) + (SELECT count(*) FROM careflags.assessment)
              + (SELECT count(*) FROM careflags.medication), '>', 150000::bigint,
              'about a hundred facts per patient were loaded');

SELECT is_empty($$SELECT step FROM unnest(ARRAY['machine', 'agree', 'recompute', 'write', 'rate', 'bulk', 'worklist', 'indicators']) AS step
                  EXCEPT SELECT step FROM bench.result$$,
                'every harness step recorded figures');

-- agreement, as recorded by the harness and checked again here
SELECT is((SELECT value FROM bench.result WHERE step = 'agree' AND what LIKE 'flags:%' ORDER BY result_id DESC LIMIT 1), 0::numeric,
          'the harness found no difference between careflags and the baseline flags');
SELECT is_empty($$SELECT * FROM (SELECT patient_id, rule_id, due_from, due_at FROM careflags.flag WHERE resolved_at IS NULL) c
                  FULL JOIN (SELECT patient_id, rule_id, due_from, due_at FROM baseline.flag) b USING (patient_id, rule_id)
                  WHERE c.due_at IS DISTINCT FROM b.due_at OR c.due_from IS DISTINCT FROM b.due_from$$,
                'careflags'' open flags equal baseline.flag (patient, rule, due_from, due_at)');
SELECT is_empty($$SELECT rule_id FROM baseline.rule
                  EXCEPT SELECT rule_id FROM careflags.flag WHERE resolved_at IS NULL$$,
                'the comparison covers every default rule (each has open flags)');
-- exact counts at the last month end: the small-cell rule off for the comparison
SET careflags.min_cell_size = 1;
SELECT is_empty($$SELECT l.indicator FROM careflags.indicator_list() l,
                         careflags.indicator(l.indicator, careflags.report_month_end(NULL)) c,
                         baseline.indicator(l.indicator, careflags.report_month_end(NULL)) b
                  WHERE (c.numerator, c.denominator, c.assessed, c.not_assessed, c.not_relevant, c.not_recorded, c.population)
                        IS DISTINCT FROM (b.numerator, b.denominator, b.assessed, b.not_assessed, b.not_relevant, b.not_recorded, b.population)$$,
                'careflags'' indicators equal the baseline''s counts');

-- the comparison can fail: one flag resolved behind careflags' back
SAVEPOINT tamper;
UPDATE careflags.flag SET resolved_at = careflags.clock(), resolution = 'cleared'
 WHERE flag_id = (SELECT min(flag_id) FROM careflags.flag WHERE resolved_at IS NULL);
SELECT is((SELECT count(*)::integer FROM (SELECT patient_id, rule_id, due_from, due_at FROM careflags.flag WHERE resolved_at IS NULL) c
           FULL JOIN (SELECT patient_id, rule_id, due_from, due_at FROM baseline.flag) b USING (patient_id, rule_id)
           WHERE c.due_at IS DISTINCT FROM b.due_at OR c.due_from IS DISTINCT FROM b.due_from), 1,
          'a flag missing from careflags is found by the comparison');
ROLLBACK TO SAVEPOINT tamper;

-- figures of each step
SELECT cmp_ok((SELECT min(value) FROM bench.result WHERE step = 'recompute' AND metric = 'patients_per_s'), '>', 0::numeric,
              'recompute_all: patients per second measured');
SELECT cmp_ok((SELECT min(value) FROM bench.result WHERE step = 'recompute' AND metric = 'peak_rss_anon_kb'), '>', 0::numeric,
              'recompute_all: backend memory sampled');
SELECT is((SELECT count(*)::integer FROM bench.result WHERE step = 'write' AND metric = 'tps' AND value > 0), 2,
          'single-row writes: throughput with and without careflags');
SELECT is((SELECT count(*)::integer FROM bench.result WHERE step = 'bulk' AND metric = 'ratio' AND value > 0), 2,
          'bulk INSERT ... SELECT and COPY: ratio with / without careflags');
SELECT is((SELECT value FROM bench.result WHERE step = 'worklist' AND metric = 'differences'), 0::numeric,
          'worklist of one unit: careflags and the baseline list the same flags');
SELECT is((SELECT count(*)::integer FROM bench.result WHERE step = 'worklist' AND metric IN ('p50_ms', 'p99_ms') AND value > 0), 11,
          'worklist and actions: p50 and p99 as a nurse and as superuser, the baseline''s, and SELECT 1''s p50');
SELECT is((SELECT count(*)::integer FROM bench.result WHERE step = 'worklist' AND metric = 'ratio' AND value > 0), 2,
          'worklist and actions: the nurse''s p99 over the superuser''s');
SELECT is((SELECT string_agg(DISTINCT metric, ',' ORDER BY metric) FROM bench.result
            WHERE step = 'rate' AND what LIKE '%median of%' AND value > 0 AND what LIKE '%without careflags%'), 'p50_ms,p90_ms,p99_ms',
          'steady-rate writes: p50, p90 and p99 without careflags');
SELECT is((SELECT count(*)::integer FROM bench.result WHERE step = 'rate' AND metric = 'ratio' AND value > 0
              AND what LIKE '%in the writing statement%'), 1,
          'steady-rate writes: p99 with careflags over p99 without');
SELECT is((SELECT count(*)::integer FROM bench.result WHERE step = 'indicators' AND metric = 'p50_ms' AND value > 0), 10,
          'each indicator timed through careflags and through the baseline');

SELECT * FROM finish();
ROLLBACK;
