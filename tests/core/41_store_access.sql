-- careflags.run_as_owner(): a record store's code (triggers, defaults, an
-- index expression, a view in a table's place, deferred triggers) runs with
-- its owner's rights, never the caller's; it cannot be used to gain rights;
-- and careflags' own deferred evaluation still works from inside it
-- (issue 13).
BEGIN;
\ir fixtures.psql
SELECT plan(27);

CREATE ROLE cft_store_owner NOLOGIN;
CREATE ROLE cft_other NOLOGIN;
CREATE SCHEMA cft_store AUTHORIZATION cft_store_owner;

-- The store's own code, written by its owner: it records who runs it and
-- tries what a hostile owner would.
SET LOCAL ROLE cft_store_owner;
CREATE TABLE cft_store.seen (what text, who name, sec text, note text);
CREATE FUNCTION cft_store.who() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO cft_store.seen VALUES ('default', current_user, NULL, current_setting('search_path'));
    RETURN current_user;
END $$;
CREATE TABLE cft_store.item (id int PRIMARY KEY, note text, written_by text DEFAULT cft_store.who());
CREATE FUNCTION cft_store.escalate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO cft_store.seen VALUES ('trigger', current_user, NULL, NULL);
    BEGIN
        ALTER ROLE cft_store_owner SUPERUSER;
        INSERT INTO cft_store.seen VALUES ('alter role', current_user, 'succeeded', NULL);
    EXCEPTION WHEN OTHERS THEN
        INSERT INTO cft_store.seen VALUES ('alter role', current_user, SQLSTATE, SQLERRM);
    END;
    BEGIN
        SET ROLE postgres;
        INSERT INTO cft_store.seen VALUES ('set role', current_user, 'succeeded', NULL);
    EXCEPTION WHEN OTHERS THEN
        INSERT INTO cft_store.seen VALUES ('set role', current_user, SQLSTATE, SQLERRM);
    END;
    -- a session-level SET would outlive the write in the caller's session
    PERFORM set_config('search_path', 'cft_store, public', false);
    PERFORM set_config('application_name', 'set by the store', false);
    BEGIN
        CREATE TEMP TABLE planted (x int);
        INSERT INTO cft_store.seen VALUES ('temp table', current_user, 'succeeded', NULL);
    EXCEPTION WHEN OTHERS THEN
        INSERT INTO cft_store.seen VALUES ('temp table', current_user, SQLSTATE, SQLERRM);
    END;
    RETURN NULL;
END $$;
CREATE TRIGGER escalate AFTER INSERT OR UPDATE ON cft_store.item FOR EACH ROW EXECUTE FUNCTION cft_store.escalate();
-- an index expression: counts who evaluates it (a non-volatile function may still call nextval)
CREATE SEQUENCE cft_store.ix_as_owner;
CREATE SEQUENCE cft_store.ix_as_other;
CREATE FUNCTION cft_store.ix(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF current_user = 'cft_store_owner' THEN
        PERFORM nextval('cft_store.ix_as_owner');
    ELSE
        PERFORM nextval('cft_store.ix_as_other');
    END IF;
    RETURN t;
END $$;
CREATE INDEX item_ix ON cft_store.item (cft_store.ix(note));
CREATE FUNCTION cft_store.peek(t text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO cft_store.seen VALUES ('view', current_user, NULL, NULL);
    RETURN t;
END $$;
CREATE VIEW cft_store.item_view AS SELECT id, cft_store.peek(note) AS note FROM cft_store.item;
RESET ROLE;

SELECT ok(NOT has_function_privilege('public', 'careflags.run_as_owner(regclass, text, text[])', 'EXECUTE'),
          'run_as_owner is not executable by PUBLIC');

-- A superuser (the plugins' SECURITY DEFINER functions) writes the store.
SELECT results_eq($$SELECT * FROM careflags.run_as_owner('cft_store.item',
                      'INSERT INTO cft_store.item (id, note) VALUES ($1::int, $2) RETURNING id, note, written_by', '1', 'first')$$,
                  $$VALUES (ARRAY['1', 'first', 'cft_store_owner'])$$,
                  'an INSERT with text parameters; its RETURNING row as text[], the default computed as the owner');
SELECT is((SELECT array_agg(DISTINCT who) FROM cft_store.seen), ARRAY['cft_store_owner']::name[],
          'the default and the trigger ran as the store owner, not as the superuser');
SELECT ok((SELECT is_called FROM cft_store.ix_as_owner) AND NOT (SELECT is_called FROM cft_store.ix_as_other),
          'the index expression was evaluated as the store owner only');
SELECT is((SELECT note FROM cft_store.seen WHERE what = 'default'), 'pg_catalog, pg_temp',
          'with search_path pinned to pg_catalog, pg_temp');
SELECT is((SELECT sec FROM cft_store.seen WHERE what = 'alter role'), '42501',
          'the trigger''s ALTER ROLE ... SUPERUSER is refused');
SELECT ok(NOT (SELECT rolsuper FROM pg_roles WHERE rolname = 'cft_store_owner'), 'the store owner is not superuser');
SELECT is((SELECT sec FROM cft_store.seen WHERE what = 'set role'), '42501', 'SET ROLE is refused inside (restricted operation)');
SELECT is((SELECT sec FROM cft_store.seen WHERE what = 'temp table'), '42501', 'temporary tables are refused inside');
SELECT is(current_user, session_user, 'afterwards the caller is itself again');
SELECT isnt(current_setting('search_path'), 'pg_catalog, pg_temp', 'and its search_path is its own again');
SELECT ok(current_setting('search_path') NOT LIKE '%cft_store%' AND current_setting('application_name') <> 'set by the store',
          'settings the store''s code changed for the session are undone (no search_path planted in the caller''s session)');

-- Reads: a view in the table's place runs as its owner too.
DELETE FROM cft_store.seen;
SELECT results_eq($$SELECT * FROM careflags.run_as_owner('cft_store.item_view', 'SELECT id, note FROM cft_store.item_view WHERE id = $1::int', '1')$$,
                  $$VALUES (ARRAY['1', 'first'])$$, 'a SELECT returns its rows as text[]');
SELECT is((SELECT array_agg(who) FROM cft_store.seen WHERE what = 'view'), ARRAY['cft_store_owner']::name[],
          'the view''s function ran as the owner');
SELECT is_empty($$SELECT * FROM careflags.run_as_owner('cft_store.item', 'UPDATE cft_store.item SET note = $1 WHERE id = 7', 'x')$$,
                'a write without RETURNING returns no rows');
SELECT results_eq($$SELECT * FROM careflags.run_as_owner('cft_store.item', 'SELECT $1, $2', NULL, 'b')$$,
                  $$VALUES (ARRAY[NULL, 'b'])$$, 'a NULL parameter is an SQL NULL');

-- A failure inside restores the caller.
SET LOCAL ROLE cft_store_owner;
CREATE OR REPLACE FUNCTION cft_store.escalate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    ALTER ROLE cft_store_owner SUPERUSER;
    RETURN NULL;
END $$;
RESET ROLE;
SELECT throws_ok($$SELECT * FROM careflags.run_as_owner('cft_store.item', 'INSERT INTO cft_store.item (id) VALUES (2)')$$,
                 '42501', NULL, 'an escalating trigger that does not catch its error: the write fails with 42501');
SELECT is(current_user, session_user, 'after the failure the caller is itself again');
SELECT ok(NOT (SELECT rolsuper FROM pg_roles WHERE rolname = 'cft_store_owner'), 'and the owner is still not superuser');

-- Deferred triggers would run later as whoever commits: refused.
SET LOCAL ROLE cft_store_owner;
CREATE OR REPLACE FUNCTION cft_store.escalate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE CONSTRAINT TRIGGER later AFTER INSERT ON cft_store.item DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION cft_store.escalate();
RESET ROLE;
SELECT throws_ok($$SELECT * FROM careflags.run_as_owner('cft_store.item', 'INSERT INTO cft_store.item (id) VALUES (3)')$$,
                 '42501', 'cannot fire deferred trigger within security-restricted operation',
                 'a deferred trigger of the store is refused (it would run at commit as someone else)');
DROP TRIGGER later ON cft_store.item;

-- Only statements that read or write; one at a time.
SELECT throws_ok($$SELECT * FROM careflags.run_as_owner('cft_store.item', 'ALTER ROLE cft_store_owner SUPERUSER')$$,
                 '22023', NULL, 'DDL and utility statements are refused');
SELECT throws_ok($$SELECT * FROM careflags.run_as_owner('cft_store.item', 'SELECT 1; SELECT 2')$$,
                 '22023', NULL, 'more than one statement is refused');

-- Never more rights than the caller has.
GRANT EXECUTE ON FUNCTION careflags.run_as_owner(regclass, text, text[]) TO cft_other;
GRANT USAGE ON SCHEMA careflags TO cft_other;
SET LOCAL ROLE cft_other;
SELECT throws_ok($$SELECT * FROM careflags.run_as_owner('cft_store.item', 'SELECT 1')$$,
                 '42501', NULL, 'a role without the owner''s privileges cannot run as the owner (even when granted EXECUTE)');
SELECT throws_ok($$SELECT * FROM careflags.run_as_owner('pg_catalog.pg_authid', 'SELECT rolname FROM pg_catalog.pg_authid')$$,
                 '42501', NULL, 'nor as the owner of a catalog (a superuser)');
RESET ROLE;
SELECT throws_ok($$SELECT * FROM careflags.run_as_owner(NULL, 'SELECT 1')$$, '22004', NULL, 'a NULL target is an error');

-- careflags' own deferred evaluation still works from inside: a plugin's
-- SECURITY DEFINER trigger on the store writes a fact while the load defers.
INSERT INTO careflags.patient (source_system, source_key, birth_date) VALUES ('store-test', 'p1', '1940-01-01');
CREATE FUNCTION cft.plugin_trigger() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO careflags.measurement (patient_id, source_system, source_key, kind, value, measured_at)
        SELECT p.patient_id, 'store-test', 'w' || NEW.id, 'weight', 60, careflags.clock()
          FROM careflags.patient AS p WHERE p.source_system = 'store-test' AND p.source_key = 'p1';
    RETURN NULL;
END $$;
CREATE TRIGGER plugin AFTER INSERT ON cft_store.item FOR EACH ROW EXECUTE FUNCTION cft.plugin_trigger();
SET LOCAL careflags.defer_evaluation = on;
SELECT lives_ok($$SELECT * FROM careflags.run_as_owner('cft_store.item', 'INSERT INTO cft_store.item (id) VALUES (4)')$$,
                'a fact written from inside while careflags.defer_evaluation is on: careflags queues its own deferred evaluation');
SELECT is(careflags.evaluate_deferred(), 1, 'and evaluates that patient');
RESET careflags.defer_evaluation;

SELECT * FROM finish();
ROLLBACK;
