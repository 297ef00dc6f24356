-- tests/cli/15_options.sql - options are parsed by getopt_long, as in
-- PostgreSQL's own client programs: unique abbreviations of long options,
-- --opt=value and --opt value, bundled short options, "--" ending the
-- options, and clear errors for unknown options, missing values and stray
-- arguments (exit 2, a hint naming --help).
\set pe `tests/cli/cf.sh psql -Atc "SELECT careflags.report_today() - 1"`
\set csv `tests/cli/cf.sh report --format csv --period-end :pe`
\set abbrev `tests/cli/cf.sh report --form=csv --period :pe`
\set bundled `tests/cli/cf.sh check -wd careflags_cli; echo "exit=$?"`
\set dashdash `tests/cli/cf.sh report --format csv --period-end :pe -- 2>&1; echo "exit=$?"`
\set stray `tests/cli/cf.sh report --format csv extra 2>&1; echo "exit=$?"`
\set unknown `tests/cli/cf.sh watch --no-such-option 2>&1; echo "exit=$?"`
\set ambiguous `tests/cli/cf.sh report --p 2026-01-01 2>&1; echo "exit=$?"`
\set novalue `tests/cli/cf.sh check --max-quarantine 2>&1; echo "exit=$?"`
\set qhelp `tests/cli/cf.sh watch -? ; echo "exit=$?"`
\set help_late `tests/cli/cf.sh check -d careflags_cli --help; echo "exit=$?"`

BEGIN;
SELECT plan(9);

SELECT is(:'abbrev'::text, :'csv'::text, 'unique abbreviations of long options (--form=csv --period DATE)');
SELECT ok(:'bundled' ~ 'careflags check: healthy' AND :'bundled' ~ 'exit=0$', 'bundled short options (-wd DBNAME)');
SELECT is(:'dashdash'::text, :'csv' || E'\nexit=0', '"--" ends the options');
SELECT ok(:'stray' ~ 'too many command-line arguments \(first is "extra"\)' AND :'stray' ~ 'careflags report --help' AND :'stray' ~ 'exit=2$',
          'a stray argument: an error naming it, exit 2');
SELECT ok(:'unknown' ~ 'careflags watch: unrecognized option .--no-such-option.' AND :'unknown' ~ 'Try "careflags watch --help"' AND :'unknown' ~ 'exit=2$',
          'an unknown option: getopt_long''s message with the command, a hint, exit 2');
SELECT ok(:'ambiguous' ~ 'careflags report: option .--p. is ambiguous' AND :'ambiguous' ~ 'exit=2$', 'an ambiguous abbreviation (--p: --period-end, --port, --password)');
SELECT ok(:'novalue' ~ 'careflags check: option .--max-quarantine. requires an argument' AND :'novalue' ~ 'exit=2$', 'a missing value');
SELECT ok(:'qhelp' ~ 'careflags watch - print flags' AND :'qhelp' ~ 'exit=0$', '-? shows the help');
SELECT ok(:'help_late' ~ 'careflags check - is the careflags install' AND :'help_late' ~ 'exit=0$', '--help after other options shows the help');

SELECT * FROM finish();
ROLLBACK;
