-- Reliability 3 and 7 (C level): the plain-C evaluator, reconciliation
-- decision and reason renderer (fuzz/reason_test.c, issue 15: every text
-- valid UTF-8, every action row at most 140 characters with its deadline)
-- under fuzzing and sanitizers, from the figures fuzz/run.sh recorded (setup.sh runs it for a
-- bounded time; scripts/long/fuzz.sh runs it for hours).  The harness
-- (fuzz/harness.c) aborts when an invariant of the evaluator's results does
-- not hold, so "no artifact" means no crash, no hang (5 s per input), no
-- sanitizer report and no broken invariant.
\c careflags_reliability
\set QUIET 1
BEGIN;
SELECT plan(14);
CREATE FUNCTION pg_temp.r(m text) RETURNS numeric LANGUAGE sql STABLE AS
$$ SELECT value FROM public.result WHERE scenario = 'fuzz' AND measure = m $$;
SELECT is(pg_temp.r('built'), 1::numeric, 'the evaluator builds as plain C: gcc -Werror, gcc with ASan+UBSan, clang with libFuzzer');
SELECT is(pg_temp.r('unit_exit'), 0::numeric, 'stand-alone run: every invariant holds');
SELECT is(pg_temp.r('asan_exit'), 0::numeric, 'under -fsanitize=address,undefined: clean exit');
SELECT is(pg_temp.r('decision_unit_exit'), 0::numeric, 'the reconciliation decision''s unit cases pass (fuzz/decision_test.c, under the sanitizers)');
SELECT cmp_ok(pg_temp.r('decision_unit_cases'), '>=', 20::numeric, 'at least 20 decision cases ran');
SELECT is(pg_temp.r('reason_exit'), 0::numeric, 'the text renderer''s unit cases and fuzz run pass (fuzz/reason_test.c, under the sanitizers)');
SELECT cmp_ok(pg_temp.r('reason_cases'), '>=', 18::numeric, 'at least 18 renderer checks passed');
SELECT cmp_ok(pg_temp.r('reason_inputs'), '>=', 20000::numeric, 'at least 20000 pseudo-random reasons and action rows in every language');
SELECT is(pg_temp.r('reason_failures') + pg_temp.r('reason_sanitizer_reports'), 0::numeric,
          'no failed renderer check and no sanitizer report (a row always fits 140 characters and keeps its deadline)');
SELECT is(pg_temp.r('asan_reports'), 0::numeric, 'no AddressSanitizer or UndefinedBehaviorSanitizer report');
SELECT cmp_ok(pg_temp.r('unit_inputs'), '>=', 20000::numeric, 'at least 20000 inputs through the sanitizers');
SELECT is(pg_temp.r('fuzz_exit'), 0::numeric, 'libFuzzer: no crash, timeout or leak in the bounded run');
SELECT cmp_ok(pg_temp.r('fuzz_runs'), '>', 10000::numeric, 'libFuzzer executed more than 10000 inputs');
SELECT is(pg_temp.r('fuzz_artifacts'), 0::numeric, 'no crash input kept');
SELECT * FROM finish();
ROLLBACK;
