-- tests/install/30_package.sql - the Debian package postgresql-15-careflags
-- (debian/, pg_buildext): built, installed into the PostgreSQL the suite runs
-- (tests/install/package.sh: dpkg -i for the system's, dpkg-deb -x for a copy),
-- and `make installcheck` run against the installed files on the server
-- without preloading: the core suite passes, the worker's tests are skipped
-- with the reason; and installcheck fails when a test fails.
\set QUIET 1
\set built `tests/install/package.sh build 2>&1; echo "exit=$?"`
\set contents `d=$(ls "$PGHOST"/install-suite/deb/*.deb 2>/dev/null | head -1); [ -n "$d" ] && dpkg-deb -c "$d" | awk '{print $6}' | tr '\n' ' '`
\set installed `tests/install/package.sh install 2>&1; echo "exit=$?"`
\set verified `tests/install/package.sh verify 2>&1`
\set core_files `ls tests/core/*.sql | wc -l`
\set check `tests/install/nopreload.sh make -s installcheck PG_CONFIG="${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" 2>&1; echo "exit=$?"`
\set failing `f="$PGHOST/install-suite/failing.sql"; printf '%s\n' 'BEGIN;' 'SELECT plan(1);' "SELECT ok(false, 'a deliberately failing test');" 'SELECT * FROM finish();' 'ROLLBACK;' >"$f"; INSTALLCHECK_TESTS="$f" tests/install/nopreload.sh make -s installcheck PG_CONFIG="${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" 2>&1; echo "exit=$?"`
BEGIN;
SELECT plan(10);

SELECT ok(:'built' ~ '/postgresql-15-careflags_[0-9.]+_[a-z0-9]+\.deb\nexit=0$', 'the package postgresql-15-careflags builds (dpkg-buildpackage, pg_buildext)');
SELECT ok(:'contents' ~ 'usr/lib/postgresql/15/lib/careflags\.so' AND :'contents' ~ 'usr/share/postgresql/15/extension/careflags\.control'
          AND :'contents' ~ 'usr/share/postgresql/15/extension/careflags--1\.0\.sql' AND :'contents' ~ 'careflags--1\.2--1\.3\.sql',
          'it holds the core: library, control file, base script and upgrade chain');
SELECT ok(:'contents' ~ 'careflags_fhir\.control' AND :'contents' ~ 'careflags_gnumed\.control' AND :'contents' ~ '\./usr/bin/careflags ',
          'the plugins and the client (in /usr/bin)');
SELECT ok(:'installed' ~ 'installed with' AND :'installed' ~ 'exit=0$', 'it installs into the PostgreSQL under test');
SELECT ok(:'verified' ~ '^[1-9][0-9]* files of the package, 0 differ$', 'every file of the package is in place, byte for byte');
SELECT ok(:'check' ~ '(^|\n)tests/core/33_engine\.sql \.+' AND :'check' ~ '(^|\n)All tests successful\.'
          AND :'check' ~ ('(^|\n)Files=' || :'core_files' || ', Tests=[1-9][0-9]{2,}') AND :'check' ~ 'exit=0$',
          'make installcheck runs the core suite against the installed package and passes');
SELECT ok(:'check' ~ 'careflags is not in shared_preload_libraries: the tests of the background worker are skipped'
          AND :'check' ~ '36_worker\.sql \.+ skipped: needs the careflags background worker',
          'what needs the preloaded worker is skipped, with the reason');
SELECT ok(:'check' ~ 'not run here: tests/fhir and tests/gnumed \(a plugin''s record system',
          'the plugins'' record-system suites are named as not run');
SELECT ok(:'failing' ~ 'not ok 1 - a deliberately failing test' AND :'failing' ~ 'Result: FAIL', 'a failing test is reported');
SELECT ok(:'failing' ~ 'exit=[1-9][0-9]*$', 'and make installcheck fails');

-- what make installcheck printed, when something above failed
SELECT diag(:'check') WHERE :'check' !~ 'All tests successful' OR :'check' !~ 'exit=0$';
SELECT diag(:'built') WHERE :'built' !~ 'exit=0$';
SELECT diag(:'installed') WHERE :'installed' !~ 'exit=0$';
SELECT * FROM finish();
ROLLBACK;
