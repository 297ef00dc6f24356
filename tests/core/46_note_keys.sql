-- careflags.note_keys(): a C row trigger that only notes a row's key in the
-- transaction's memory; at commit (the deferred trigger
-- careflags.keys_at_commit on careflags.noted_keys) the function it names is
-- called once per table and takes the distinct keys with
-- careflags.take_noted_keys(); with a number of keys it is called at once
-- when that many wait; a rolled-back savepoint drops the keys it noted and
-- gives back those it took (issue 17).  Here on a table that is not a
-- record system's: a plugin's own table and commit function.
BEGIN;
SELECT plan(25);

CREATE SCHEMA cft_note;
CREATE TABLE cft_note.item (id bigint PRIMARY KEY, v integer, label text);
CREATE TABLE cft_note.small (id smallint PRIMARY KEY);
CREATE TABLE cft_note.log (n serial, tbl regclass, taken bigint[], who name);
CREATE FUNCTION cft_note.take(tbl regclass) RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    INSERT INTO cft_note.log (tbl, taken, who) VALUES (tbl, careflags.take_noted_keys(tbl), session_user);
END $$;
CREATE TRIGGER note AFTER INSERT OR UPDATE OR DELETE ON cft_note.item
    FOR EACH ROW EXECUTE FUNCTION careflags.note_keys('id', 'cft_note.take(regclass)');
CREATE TRIGGER note AFTER INSERT OR UPDATE OR DELETE ON cft_note.small
    FOR EACH ROW EXECUTE FUNCTION careflags.note_keys('id', 'cft_note.take(regclass)', '3');
CREATE ROLE cft_note_writer NOLOGIN;
GRANT USAGE ON SCHEMA cft_note TO cft_note_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON cft_note.item, cft_note.small TO cft_note_writer;

-- A writer with no right on careflags' tables writes rows, each inserted and updated.
SET LOCAL ROLE cft_note_writer;
INSERT INTO cft_note.item VALUES (20, 1), (10, 1);
UPDATE cft_note.item SET v = 2 WHERE id = 20;
UPDATE cft_note.item SET v = 3 WHERE id = 20;
RESET ROLE;
SELECT is((SELECT count(*)::int FROM cft_note.log), 0, 'before the commit point the keys are only noted: the function is not called');
SELECT is((SELECT count(*)::int FROM careflags.noted_keys), 1, 'one marker queued for the transaction, also for a writer without rights on careflags');
SET LOCAL ROLE cft_note_writer;
SELECT lives_ok('SET CONSTRAINTS ALL IMMEDIATE', 'the commit point runs as the writer');
RESET ROLE;
SELECT results_eq('SELECT tbl, taken FROM cft_note.log ORDER BY n',
                  $$VALUES ('cft_note.item'::regclass, '{10,20}'::bigint[])$$,
                  'at the commit point the function is called once with the table and takes each key once, in order');
SELECT is((SELECT count(*)::int FROM careflags.noted_keys), 0, 'the marker is removed');
SELECT is(careflags.take_noted_keys('cft_note.item'), '{}'::bigint[], 'nothing is left to take');
SELECT is(careflags.take_noted_keys('cft_note.log'), '{}'::bigint[], 'a table nothing was noted for has no keys');

-- A delete notes the old key; an update that changes the key notes both.
SET CONSTRAINTS ALL DEFERRED;
DELETE FROM cft_note.item WHERE id = 10;
UPDATE cft_note.item SET id = 30 WHERE id = 20;
SELECT is((SELECT count(*)::int FROM careflags.noted_keys), 1, 'a later write in the transaction queues a new marker');
SET CONSTRAINTS ALL IMMEDIATE;
SELECT is((SELECT taken FROM cft_note.log ORDER BY n DESC LIMIT 1), '{10,20,30}'::bigint[],
          'a deleted row''s key and both keys of a changed key are noted');

-- A rolled-back savepoint drops the keys it noted.
SET CONSTRAINTS ALL DEFERRED;
INSERT INTO cft_note.item VALUES (40, 1);
SAVEPOINT s1;
INSERT INTO cft_note.item VALUES (41, 1);
SAVEPOINT s2;
INSERT INTO cft_note.item VALUES (42, 1);
RELEASE SAVEPOINT s2;
ROLLBACK TO SAVEPOINT s1;
INSERT INTO cft_note.item VALUES (43, 1);
SAVEPOINT s3;
INSERT INTO cft_note.item VALUES (44, 1);
RELEASE SAVEPOINT s3;
SET CONSTRAINTS ALL IMMEDIATE;
SELECT is((SELECT taken FROM cft_note.log ORDER BY n DESC LIMIT 1), '{40,43,44}'::bigint[],
          'keys noted in a rolled-back savepoint (and its released child) are dropped, those of a released one kept');

-- A savepoint that rolls back its marker: the next note queues it again.
SET CONSTRAINTS ALL DEFERRED;
SAVEPOINT s4;
INSERT INTO cft_note.item VALUES (45, 1);
ROLLBACK TO SAVEPOINT s4;
SELECT is((SELECT count(*)::int FROM careflags.noted_keys), 0, 'the rolled-back savepoint took its marker with it');
INSERT INTO cft_note.item VALUES (46, 1);
SELECT is((SELECT count(*)::int FROM careflags.noted_keys), 1, 'the next note queues a marker again');
SET CONSTRAINTS ALL IMMEDIATE;
SELECT is((SELECT taken FROM cft_note.log ORDER BY n DESC LIMIT 1), '{46}'::bigint[], 'and its key is taken at the commit point');

-- With a number of keys: the function is called as soon as that many wait.
SET CONSTRAINTS ALL DEFERRED;
SELECT max(n) AS n0 FROM cft_note.log \gset
INSERT INTO cft_note.small SELECT g FROM generate_series(1, 7) g;
SELECT results_eq('SELECT taken FROM cft_note.log WHERE n > ' || :n0 || ' ORDER BY n',
                  $$VALUES ('{1,2,3}'::bigint[]), ('{4,5,6}')$$,
                  'a statement of 7 rows with 3 keys per call: called at 3 and 6, before the commit point');
SET CONSTRAINTS ALL IMMEDIATE;
SELECT results_eq('SELECT taken FROM cft_note.log WHERE n > ' || :n0 || ' ORDER BY n',
                  $$VALUES ('{1,2,3}'::bigint[]), ('{4,5,6}'), ('{7}')$$,
                  'the last key at the commit point (smallint keys)');

-- A take inside a savepoint that rolls back gives the keys back (the facts
-- made from them were rolled back too).
SET CONSTRAINTS ALL DEFERRED;
SELECT max(n) AS n1 FROM cft_note.log \gset
INSERT INTO cft_note.small VALUES (11), (12);
SAVEPOINT s5;
INSERT INTO cft_note.small VALUES (13);
SELECT is((SELECT taken FROM cft_note.log WHERE n > :n1), '{11,12,13}'::bigint[], 'the third key called the function inside the savepoint');
ROLLBACK TO SAVEPOINT s5;
SET CONSTRAINTS ALL IMMEDIATE;
SELECT results_eq('SELECT taken FROM cft_note.log WHERE n > ' || :n1 || ' ORDER BY n',
                  $$VALUES ('{11,12}'::bigint[])$$,
                  'after the rollback the keys noted before the savepoint are given back and taken at the commit point, the savepoint''s key is dropped');

-- SET CONSTRAINTS careflags.keys_at_commit IMMEDIATE: at each statement's end.
SET CONSTRAINTS careflags.keys_at_commit IMMEDIATE;
SELECT max(n) AS n2 FROM cft_note.log \gset
INSERT INTO cft_note.item VALUES (50, 1);
SELECT is((SELECT taken FROM cft_note.log WHERE n > :n2), '{50}'::bigint[], 'with the trigger immediate the key is taken at the end of its statement');
SET CONSTRAINTS ALL DEFERRED;

-- The commit function's error reaches the commit (a plugin decides what to
-- raise: careflags_gnumed raises only with careflags.strict).
CREATE OR REPLACE FUNCTION cft_note.take(tbl regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'commit step refused' USING ERRCODE = 'check_violation';
END $$;
SAVEPOINT s6;
INSERT INTO cft_note.item VALUES (60, 1);
SELECT throws_ok('SET CONSTRAINTS ALL IMMEDIATE', '23514', 'commit step refused', 'an error of the commit function fails the commit point');
ROLLBACK TO SAVEPOINT s6;

-- Misuse: clear errors.
CREATE TABLE cft_note.bad (id integer, t text);
CREATE TRIGGER b BEFORE INSERT ON cft_note.bad FOR EACH ROW EXECUTE FUNCTION careflags.note_keys('id', 'cft_note.take(regclass)');
SELECT throws_ok('INSERT INTO cft_note.bad VALUES (1, ''x'')', '39P01', NULL, 'a BEFORE trigger is refused');
DROP TRIGGER b ON cft_note.bad;
CREATE TRIGGER b AFTER INSERT ON cft_note.bad FOR EACH ROW EXECUTE FUNCTION careflags.note_keys('t', 'cft_note.take(regclass)');
SELECT throws_ok('INSERT INTO cft_note.bad VALUES (1, ''x'')', '42804', NULL, 'a key column that is not an integer is refused');
DROP TRIGGER b ON cft_note.bad;
CREATE TRIGGER b AFTER INSERT ON cft_note.bad FOR EACH ROW EXECUTE FUNCTION careflags.note_keys('nope', 'cft_note.take(regclass)');
SELECT throws_ok('INSERT INTO cft_note.bad VALUES (1, ''x'')', '42703', NULL, 'a missing key column is refused');
DROP TRIGGER b ON cft_note.bad;
CREATE TRIGGER b AFTER INSERT ON cft_note.bad FOR EACH ROW EXECUTE FUNCTION careflags.note_keys('id', 'cft_note.take(regclass)', '-1');
SELECT throws_ok('INSERT INTO cft_note.bad VALUES (1, ''x'')', '22023', NULL, 'a negative number of keys is refused');
DROP TRIGGER b ON cft_note.bad;
CREATE TRIGGER b AFTER INSERT ON cft_note.bad FOR EACH ROW EXECUTE FUNCTION careflags.note_keys('id', 'pg_catalog.abs(integer)');
SELECT throws_ok('INSERT INTO cft_note.bad VALUES (1, ''x'')', '22023', NULL, 'a function that does not take a regclass is refused');
DROP TRIGGER b ON cft_note.bad;
CREATE TRIGGER b AFTER INSERT ON cft_note.bad FOR EACH ROW EXECUTE FUNCTION careflags.note_keys('id');
SELECT throws_ok('INSERT INTO cft_note.bad VALUES (1, ''x'')', '39P01', NULL, 'a trigger without a function is refused');

SELECT * FROM finish();
ROLLBACK;
