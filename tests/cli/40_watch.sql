-- tests/cli/40_watch.sql - `careflags watch` prints flags raised by another
-- session, filters by unit, reconnects after the server restarts, and shows a
-- nurse the events of her own units only (it reads the events behind the
-- NOTIFY ids through careflags.my_flag_events; issue 13, item 4b), in the
-- reader's language (issue 15): bokmål by default, English for a session
-- that sets careflags.language = en, nynorsk for a role set to nn.
--
-- Each watch runs in the background with --count and --timeout, so it ends
-- by itself; the flags are raised by admitting a new 80-year-old patient to a
-- unit (psql, another session), which the evaluator answers with admission
-- flags (nutrition screening, fall risk, medication review).
\set wait_listen 'for i in $(seq 1 100); do n=$(tests/cli/cf.sh psql -Atc "SELECT count(*) FROM pg_stat_activity WHERE application_name = \'careflags\' AND query = \'LISTEN careflags\'"); [ "$n" -ge 1 ] && break; sleep 0.2; done; echo "$n"'

-- 1. a flag raised by another session
\! s=$(tests/cli/cf.sh state); rm -f "$s"/watch*.out "$s"/watch*.err; (tests/cli/cf.sh watch --count 1 --timeout 60 >"$s/watch1.out" 2>"$s/watch1.err" &)
\set listening1 `:wait_listen`
\set p1 `tests/cli/cf.sh psql -Atc "WITH p AS (INSERT INTO careflags.patient (source_system, source_key, display_name, birth_date) VALUES ('demo', 'watch-1', 'Watch One', current_date - interval '80 years') RETURNING patient_id), e AS (INSERT INTO careflags.episode (patient_id, setting, unit_id, started_at) SELECT patient_id, 'nursing_home_long_term', 'LT-A', now() FROM p) SELECT patient_id FROM p"`
\set w1 `s=$(tests/cli/cf.sh state); for i in $(seq 1 100); do [ -s "$s/watch1.out" ] && break; sleep 0.2; done; sleep 0.3; cat "$s/watch1.out"`
\set rules1 `tests/cli/cf.sh psql -Atc "SELECT string_agg(rule_id, '|') FROM careflags.flag WHERE patient_id = :p1 AND resolved_at IS NULL"`

-- 2. only one unit
\! s=$(tests/cli/cf.sh state); (tests/cli/cf.sh watch --unit HN-N --count 1 --timeout 60 >"$s/watch2.out" 2>"$s/watch2.err" &)
\set listening2 `:wait_listen`
\set p2 `tests/cli/cf.sh psql -Atc "WITH p AS (INSERT INTO careflags.patient (source_system, source_key, display_name, birth_date) VALUES ('demo', 'watch-2', 'Watch Two', current_date - interval '80 years') RETURNING patient_id), e AS (INSERT INTO careflags.episode (patient_id, setting, unit_id, started_at) SELECT patient_id, 'nursing_home_long_term', 'LT-B', now() FROM p) SELECT patient_id FROM p"`
\set p3 `sleep 1; tests/cli/cf.sh psql -Atc "WITH p AS (INSERT INTO careflags.patient (source_system, source_key, display_name, birth_date) VALUES ('demo', 'watch-3', 'Watch Three', current_date - interval '80 years') RETURNING patient_id), e AS (INSERT INTO careflags.episode (patient_id, setting, unit_id, started_at) SELECT patient_id, 'home_nursing', 'HN-N', now() FROM p) SELECT patient_id FROM p"`
\set w2 `s=$(tests/cli/cf.sh state); for i in $(seq 1 100); do [ -s "$s/watch2.out" ] && break; sleep 0.2; done; sleep 0.3; cat "$s/watch2.out"`

-- 3. the server restarts; the feed reconnects and goes on
\! s=$(tests/cli/cf.sh state); (PGOPTIONS='-c careflags.language=en' tests/cli/cf.sh watch --events raised --count 1 --timeout 120 >"$s/watch3.out" 2>"$s/watch3.err" &)
\set listening3 `:wait_listen`
\set restart `tests/cli/cf.sh restart && echo restarted`
\set reconnected `s=$(tests/cli/cf.sh state); for i in $(seq 1 150); do grep -q reconnected "$s/watch3.err" && break; sleep 0.2; done; cat "$s/watch3.err"`
\set p4 `tests/cli/cf.sh psql -Atc "WITH p AS (INSERT INTO careflags.patient (source_system, source_key, display_name, birth_date) VALUES ('demo', 'watch-4', 'Watch Four', current_date - interval '80 years') RETURNING patient_id), e AS (INSERT INTO careflags.episode (patient_id, setting, unit_id, started_at) SELECT patient_id, 'nursing_home_short_term', 'ST-1', now() FROM p) SELECT patient_id FROM p"`
\set w3 `s=$(tests/cli/cf.sh state); for i in $(seq 1 100); do [ -s "$s/watch3.out" ] && break; sleep 0.2; done; sleep 0.3; cat "$s/watch3.out"`
\set help `tests/cli/cf.sh watch --help; echo "exit=$?"`

-- 4. a nurse of LT-A: a flag of LT-B is raised first, then one of LT-A; with
--    --count 1 the feed prints only the first event it may show
\set mknurse `tests/cli/cf.sh psql -Atc "CREATE ROLE cli_watch_nurse LOGIN IN ROLE careflags_nurse" -c "ALTER ROLE cli_watch_nurse SET careflags.language = 'nn'" -c "INSERT INTO careflags.unit_access (unit_id, role) VALUES ('LT-A', 'cli_watch_nurse')" && echo made`
\! s=$(tests/cli/cf.sh state); (tests/cli/cf.sh watch -U cli_watch_nurse --count 1 --timeout 60 >"$s/watch4.out" 2>"$s/watch4.err" &)
\set listening4 `:wait_listen`
\set p5 `tests/cli/cf.sh psql -Atc "WITH p AS (INSERT INTO careflags.patient (source_system, source_key, display_name, birth_date) VALUES ('demo', 'watch-5', 'Watch Five', current_date - interval '80 years') RETURNING patient_id), e AS (INSERT INTO careflags.episode (patient_id, setting, unit_id, started_at) SELECT patient_id, 'nursing_home_long_term', 'LT-B', now() FROM p) SELECT patient_id FROM p"`
\set p6 `sleep 1; tests/cli/cf.sh psql -Atc "WITH p AS (INSERT INTO careflags.patient (source_system, source_key, display_name, birth_date) VALUES ('demo', 'watch-6', 'Watch Six', current_date - interval '80 years') RETURNING patient_id), e AS (INSERT INTO careflags.episode (patient_id, setting, unit_id, started_at) SELECT patient_id, 'nursing_home_long_term', 'LT-A', now() FROM p) SELECT patient_id FROM p"`
\set w4 `s=$(tests/cli/cf.sh state); for i in $(seq 1 100); do [ -s "$s/watch4.out" ] && break; sleep 0.2; done; sleep 0.3; cat "$s/watch4.out" "$s/watch4.err"`
\set rmnurse `tests/cli/cf.sh psql -Atc "DELETE FROM careflags.unit_access WHERE role = 'cli_watch_nurse'::regrole" -c "DROP ROLE cli_watch_nurse" && echo dropped`

BEGIN;
SELECT plan(17);

SELECT is(:'listening1'::int, 1, 'watch is listening');
SELECT ok(:'rules1' <> '', 'admitting the patient raised flags (' || :'rules1' || ')');
SELECT ok(:'w1' ~ ('ny +enhet LT-A +pasient ' || :'p1' || ' +(' || :'rules1' || ') +"[^"]+" +(kommende|frist snart|innen fristen|over fristen), '
                   || 'frist [0-9]{1,2}\. (jan\.|feb\.|mars|apr\.|mai|juni|juli|aug\.|sep\.|okt\.|nov\.|des\.) [0-9]{4} kl\. [0-9]{2}\.[0-9]{2}  '),
          'watch printed the raised flag in bokmål (the default): event, unit, patient, rule, title, state, deadline as a Norwegian date');
SELECT ok(:'w1' ~ '"[^"]* ved innkomst"  .* siden innkomst [0-9]{1,2}\. [a-zæøå]+ [0-9]{4}\. Frist ',
          'its title and reason are bokmål ("... ved innkomst", "Ingen ... siden innkomst 7. desember 2026. Frist ...")');
SELECT ok(:'w1' !~ '\m(raised|unit|patient|due by|since|overdue|No)\M', 'no English word in the bokmål line (rule ids stay as they are)');
SELECT is((SELECT count(*) FROM regexp_split_to_table(:'w1', E'\n') l WHERE l <> ''), 1::bigint, '--count 1: one line, then it ends');
SELECT ok(:'w2' ~ ('enhet HN-N +pasient ' || :'p3' || ' '), '--unit HN-N prints that unit''s flag');
SELECT ok(:'w2' !~ ('pasient ' || :'p2' || ' '), '... and not the other unit''s');
SELECT is(:'restart'::text, 'restarted', 'the server was restarted under the feed');
SELECT ok(:'reconnected' ~ 'connection lost; reconnecting', 'watch noticed the lost connection (stderr)');
SELECT ok(:'reconnected' ~ 'reconnected', '... and reconnected by itself');
SELECT ok(:'w3' ~ ('raised +unit ST-1 +patient ' || :'p4' || ' .*"  [a-z ]+, due by [0-9-]+ [0-9:]+  No '),
          'a flag raised after the restart is printed, in English for a session with careflags.language = en');
SELECT ok(:'help' ~ '--unit=UNIT' AND :'help' ~ 'reconnects' AND :'help' ~ 'exit=0', 'watch --help');
SELECT is(:'mknurse'::text, 'made', 'a nurse login of unit LT-A');
SELECT ok(:'w4' ~ ('ny +eining LT-A +pasient ' || :'p6' || ' '), 'her feed prints the flag raised on her unit');
SELECT ok(:'w4' !~ ('LT-B|pasient ' || :'p5' || ' '), '... and nothing of the flag raised on LT-B just before');
SELECT ok(:'w4' ~ ' sidan innkomst ', '... in nynorsk, the language set for her role');

SELECT * FROM finish();
ROLLBACK;
