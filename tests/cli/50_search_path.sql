-- tests/cli/50_search_path.sql - no careflags command runs an object planted on
-- the search_path (issue 13, path 2).
--
-- The database is set up as one upgraded from PostgreSQL 14 or older: schema
-- public writable by everyone.  A nurse-like login role (careflags_nurse, no
-- other rights) creates public.||(bigint, text) whose function makes it
-- superuser when a superuser calls it (and notes every call).  With the
-- default search_path that operator is what `patient_id || ' '` means (shown
-- below with the nurse's own session).  A stored flag is changed behind the
-- extension's back so that `careflags check` has a difference to describe
-- (the query that concatenates patient ids).  Then the DBA (postgres) runs
-- every command of the client: check, report in every format, watch.  The
-- nurse must not be superuser afterwards, and the planted function never ran
-- for the DBA.
\set plant `tests/cli/cf.sh psql -Atc "SET client_min_messages = warning" -c "GRANT CREATE ON SCHEMA public TO PUBLIC" -c "DROP ROLE IF EXISTS cf_mallory" -c "CREATE ROLE cf_mallory LOGIN NOSUPERUSER" -c "GRANT careflags_nurse TO cf_mallory" -c "SELECT 'planted-ready'"`
\set planted `tests/cli/cf.sh psql -U cf_mallory -Atc "CREATE TABLE public.cf_calls (caller name, at timestamptz DEFAULT now())" -c "GRANT INSERT, SELECT ON public.cf_calls TO PUBLIC" -c "CREATE FUNCTION public.cf_concat(bigint, text) RETURNS text LANGUAGE plpgsql AS 'BEGIN INSERT INTO public.cf_calls (caller) VALUES (current_user); BEGIN EXECUTE ''ALTER ROLE cf_mallory SUPERUSER''; EXCEPTION WHEN insufficient_privilege THEN NULL; END; RETURN \$1::text || \$2; END'" -c "CREATE OPERATOR public.|| (LEFTARG = bigint, RIGHTARG = text, FUNCTION = public.cf_concat)" -c "SELECT 'planted'"`
-- the planted operator is what the unqualified expression means with the default search_path
\set control `tests/cli/cf.sh psql -U cf_mallory -Atc "SELECT 7::bigint || ' days'" -c "SELECT count(*) FROM public.cf_calls WHERE caller = 'cf_mallory'"`
-- a difference for check to describe: an open flag's deadline moved without the triggers
\set tampered `tests/cli/cf.sh psql -Atc "SET session_replication_role = replica" -c "UPDATE careflags.flag SET due_at = due_at + interval '3 days' WHERE flag_id = (SELECT min(flag_id) FROM careflags.flag WHERE resolved_at IS NULL) RETURNING patient_id"`
\set check `tests/cli/cf.sh check 2>&1; echo "exit=$?"`
\set report `tests/cli/cf.sh report >/dev/null 2>&1; r1=$?; tests/cli/cf.sh report --format csv >/dev/null 2>&1; r2=$?; tests/cli/cf.sh report --format json >/dev/null 2>&1; r3=$?; tests/cli/cf.sh report --format html -o /dev/null 2>&1; echo "$r1 $r2 $r3 $?"`
\! s=$(tests/cli/cf.sh state); rm -f "$s/watch50.out"; (tests/cli/cf.sh watch --count 1 --timeout 60 >"$s/watch50.out" 2>"$s/watch50.err" &)
\set listening `for i in $(seq 1 100); do n=$(tests/cli/cf.sh psql -Atc "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'careflags' AND query = 'LISTEN careflags'"); [ "$n" -ge 1 ] && break; sleep 0.2; done; echo "$n"`
\set p50 `tests/cli/cf.sh psql -Atc "WITH p AS (INSERT INTO careflags.patient (source_system, source_key, display_name, birth_date) VALUES ('demo', 'sp-50', 'Search Path', current_date - interval '81 years') RETURNING patient_id), e AS (INSERT INTO careflags.episode (patient_id, setting, unit_id, started_at) SELECT patient_id, 'nursing_home_long_term', 'LT-B', now() FROM p) SELECT patient_id FROM p"`
\set watched `s=$(tests/cli/cf.sh state); for i in $(seq 1 100); do [ -s "$s/watch50.out" ] && break; sleep 0.2; done; sleep 0.3; cat "$s/watch50.out"`
\set after `tests/cli/cf.sh psql -Atc "SELECT rolsuper FROM pg_roles WHERE rolname = 'cf_mallory'" -c "SELECT count(*) FROM public.cf_calls WHERE caller <> 'cf_mallory'"`
-- clean up: the planted objects, the role, the flag (recomputed), public as PostgreSQL 15 has it
\set cleanup `tests/cli/cf.sh psql -Atc "SET client_min_messages = warning" -c "DROP OPERATOR IF EXISTS public.|| (bigint, text)" -c "DROP FUNCTION IF EXISTS public.cf_concat(bigint, text)" -c "DROP TABLE IF EXISTS public.cf_calls" -c "ALTER ROLE cf_mallory NOSUPERUSER" -c "DROP OWNED BY cf_mallory" -c "DROP ROLE cf_mallory" -c "REVOKE CREATE ON SCHEMA public FROM PUBLIC" -c "SELECT careflags.recompute_patient(:tampered) > 0" -c "SELECT count(*) FROM careflags.check_consistency()"`

BEGIN;
SELECT plan(9);

SELECT is(:'plant'::text, 'planted-ready', 'public is writable by everyone; a nurse-like login role exists');
SELECT is(:'planted'::text, 'planted', 'the nurse planted public.||(bigint, text)');
SELECT is(:'control'::text, E'7 days\n1', 'with the default search_path the planted operator is the one called');
SELECT ok(:'tampered' ~ '^[0-9]+$', 'an open flag was changed behind the extension''s back');
SELECT ok(:'check' ~ ('(^|\n)FAIL +consistency +1 stored flag\(s\) differ from the rules, e\.g\. patient ' || :'tampered' || ' '),
          'careflags check described the difference (its patient id || text query ran)');
SELECT is(:'report'::text, '0 0 0 0', 'careflags report ran in every format (table, csv, json, html)');
SELECT ok(:listening = 1 AND :'watched' ~ ('ny +enhet LT-B +pasient ' || :'p50' || ' .*"[^"]+"  [a-zæøå ]+, frist '),
          'careflags watch ran and printed an event (in bokmål: title, state and deadline rendered by the server)');
SELECT is(:'after'::text, E'f\n0', 'after the DBA ran every command: the nurse is not superuser, the planted function never ran for the DBA');
SELECT is(:'cleanup'::text, E't\n0', 'cleaned up: planted objects and role dropped, the flag recomputed, check_consistency() empty');

SELECT * FROM finish();
ROLLBACK;
