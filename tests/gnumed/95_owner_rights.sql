-- tests/gnumed/95_owner_rights.sql - careflags never runs GNUmed's code with
-- more rights than its tables' owner (issue 13, path 1, for GNUmed).  The
-- only GNUmed table careflags_gnumed writes is ref.auto_hint (its hints);
-- GNUmed's owner gm-dbo (not a superuser) puts a trigger on it that tries
-- to make gm-dbo superuser.  Installing and removing the hints - directly,
-- by DROP EXTENSION and by CREATE EXTENSION - runs that trigger as gm-dbo,
-- so the attempt fails, and the hints are still written.
\set gm_status `cat "$PGHOST/careflags_gnumed.status" 2>/dev/null || echo 'not prepared: tests/gnumed/setup.sh did not run'`
SELECT :'gm_status' = 'ready' AS gm_ready \gset
\if :gm_ready
\c gnumed_v22
SET default_transaction_read_only = off;
SET client_min_messages = warning;
BEGIN;
SELECT plan(8);

SELECT is((SELECT rolsuper FROM pg_roles WHERE rolname = 'gm-dbo'), false, 'gm-dbo, owner of ref.auto_hint, is no superuser');

SET LOCAL ROLE "gm-dbo";
CREATE TABLE ref.cf_test_escalation (who name, escalated boolean, op text);
CREATE FUNCTION ref.cf_test_escalate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        ALTER ROLE "gm-dbo" SUPERUSER;
        INSERT INTO ref.cf_test_escalation VALUES (current_user, true, TG_OP);
    EXCEPTION WHEN OTHERS THEN
        INSERT INTO ref.cf_test_escalation VALUES (current_user, false, TG_OP);
    END;
    RETURN NULL;
END $$;
CREATE TRIGGER cf_test_escalate AFTER INSERT OR DELETE ON ref.auto_hint
    FOR EACH ROW EXECUTE FUNCTION ref.cf_test_escalate();
RESET ROLE;

-- as the superuser who administers careflags
SELECT lives_ok('SELECT careflags_gnumed.remove_hints()', 'removing the hints works');
SELECT lives_ok('SELECT careflags_gnumed.install_hints()', 'installing them works');
DROP EXTENSION careflags_gnumed;
CREATE EXTENSION careflags_gnumed;
SELECT is((SELECT count(*)::int FROM ref.auto_hint WHERE source = 'careflags'), 15, 'DROP and CREATE EXTENSION: the 15 hints (5 actions, 3 languages) are there');
SELECT is((SELECT array_agg(DISTINCT op ORDER BY op) FROM ref.cf_test_escalation), ARRAY['DELETE', 'INSERT'],
          'GNUmed''s owner''s trigger ran on every insert and delete of a hint');
SELECT is((SELECT array_agg(DISTINCT who) FROM ref.cf_test_escalation), ARRAY['gm-dbo']::name[],
          'always as gm-dbo, the table''s owner, never as the superuser');
SELECT is((SELECT count(*)::int FROM ref.cf_test_escalation WHERE escalated), 0, 'its attempt to become superuser failed every time');
SELECT is((SELECT rolsuper FROM pg_roles WHERE rolname = 'gm-dbo'), false, 'gm-dbo is still no superuser');

SET CONSTRAINTS ALL IMMEDIATE;
SELECT * FROM finish();
ROLLBACK;
\else
-- TAP "skip all": pg_prove reports the file as skipped, with the reason.
\echo 1..0 # SKIP GNUmed database unavailable: :gm_status
\endif
