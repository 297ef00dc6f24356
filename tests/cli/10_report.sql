-- tests/cli/10_report.sql - `careflags report` in every text format, against the SQL functions.
--
-- Runs the client against the suite's private cluster (tests/cli/setup.sh)
-- and compares what it prints with what careflags.indicators() returns there.
\set pe `tests/cli/cf.sh psql -Atc "SELECT careflags.report_today() - 1"`
\set truth `tests/cli/cf.sh psql -Atc "SELECT jsonb_agg(to_jsonb(i)) FROM (SELECT * FROM careflags.indicators(':pe')) i"`
\set truth_unit `tests/cli/cf.sh psql -Atc "SELECT jsonb_agg(to_jsonb(i)) FROM (SELECT * FROM careflags.indicators(':pe', 67, NULL, 'LT-A')) i"`
\set truth_csv `tests/cli/cf.sh psql -Atc "COPY (SELECT indicator, title, period_end, setting, unit_id, numerator, denominator, share, assessed, not_assessed, not_relevant, not_recorded, population, disclosure FROM careflags.indicators(':pe')) TO STDOUT WITH (FORMAT csv, HEADER)"`
\set truth_resolved `tests/cli/cf.sh psql -Atc "SELECT resolved FROM careflags.flag_response_times(':pe') WHERE domain IS NULL"`
\set csv `tests/cli/cf.sh report --format csv --period-end :pe`
\set csv_unit `tests/cli/cf.sh report --format=csv --period-end=:pe --unit LT-A`
\set js `tests/cli/cf.sh report --format json --period-end :pe`
\set tbl `tests/cli/cf.sh report --period-end :pe`
\set tbl_default `tests/cli/cf.sh report`
\set out_file `f=$(tests/cli/cf.sh state)/report.json; tests/cli/cf.sh report --format json --period-end :pe -o "$f"; cat "$f"`
\set bad_format `tests/cli/cf.sh report --format pdf 2>&1 >/dev/null; echo "exit=$?"`
\set bad_date `tests/cli/cf.sh report --period-end not-a-date 2>&1 >/dev/null; echo "exit=$?"`
\set bad_date_stdout `tests/cli/cf.sh report --period-end not-a-date 2>/dev/null; true`
\set help `tests/cli/cf.sh report --help; echo "exit=$?"`
\set nodb `tests/cli/cf.sh report -d "dbname=no_such_db password=s3cret-pw" 2>&1; echo "exit=$?"`
\set svc `s=$(tests/cli/cf.sh state); env -u PGHOST -u PGPORT -u PGDATABASE -u PGUSER PGSERVICEFILE="$s/pg_service.conf" PGSERVICE=clisuite $(tests/cli/cf.sh client) report --format csv --period-end :pe`
\set flags `tests/cli/cf.sh report -h "$(tests/cli/cf.sh state)" -p "$(. $(tests/cli/cf.sh state)/env; echo $CLI_PORT)" -U postgres -d careflags_cli --format csv --period-end :pe`

BEGIN;
SELECT plan(17);

SELECT is(jsonb_array_length(:'truth'::jsonb), 5, 'five indicators in the private database');
SELECT is(replace(:'csv', E'\r', ''), :'truth_csv', 'csv: the same rows and fields as careflags.indicators()');
SELECT ok(:'csv' LIKE E'indicator,title,period_end,%\r\n%', 'csv: a header, CRLF line ends (RFC 4180)');
SELECT is((:'js'::jsonb) -> 'indicators', :'truth'::jsonb, 'json: indicators equal careflags.indicators() as JSON');
SELECT is((:'js'::jsonb) ->> 'period_end', (:'truth'::jsonb) -> 0 ->> 'period_end',
          'json: the period end (the month end the server took it to)');
SELECT is(((:'js'::jsonb) -> 'response_times' -> -1 ->> 'resolved'), :'truth_resolved', 'json: flag response times, overall');
SELECT is((SELECT count(*) FROM jsonb_to_recordset(:'truth'::jsonb)
             AS t(indicator text, numerator bigint, denominator bigint, share numeric, not_relevant bigint, not_recorded bigint)
           WHERE :'tbl' ~ ('\n ' || t.indicator || ' +\| +' || t.numerator || ' \| +' || t.denominator
                           || ' \| +' || coalesce(t.share::text, '') || ' \| .*\| +' || t.not_relevant
                           || ' \| +' || t.not_recorded || '(\n|$)')),
          5::bigint, 'table: each indicator''s line carries its numbers');
SELECT ok(:'tbl_default' ~ ('12 måneder til og med ' || (date_trunc('month', current_date) - interval '1 day')::date),
          'table: the period ends with the last month that is over by default');
SELECT is((SELECT string_agg(split_part(l, ',', 1) || ':' || split_part(l, ',', 6) || '/' || split_part(l, ',', 7), ' ')
           FROM regexp_split_to_table(replace(:'csv_unit', E'\r', ''), E'\n') WITH ORDINALITY AS x(l, n) WHERE n > 1),
          (SELECT string_agg((e ->> 'indicator') || ':' || (e ->> 'numerator') || '/' || (e ->> 'denominator'), ' ')
           FROM jsonb_array_elements(:'truth_unit'::jsonb) e),
          '--unit: the numbers of that unit');
SELECT is(:'out_file'::text, :'js'::text, '-o writes the same report to a file');
SELECT ok(:'bad_format' ~ 'unknown format "pdf".*exit=2', 'an unknown format: message on stderr, exit 2');
SELECT ok(:'bad_date' ~ 'invalid input syntax for type date.*exit=1', 'a bad date: the server''s message on stderr, exit 1');
SELECT is(:'bad_date_stdout'::text, ''::text, '... and nothing on stdout');
SELECT ok(:'help' ~ '--period-end=DATE' AND :'help' ~ '--format=FORMAT' AND :'help' ~ 'exit=0', 'report --help');
SELECT ok(:'nodb' ~ 'no_such_db' AND :'nodb' ~ 'exit=2' AND :'nodb' !~ 's3cret', 'a failed connection: exit 2, and the password is not shown');
SELECT is(:'svc'::text, :'csv'::text, 'PGSERVICE and a service file work as for psql');
SELECT is(:'flags'::text, :'csv'::text, '-h -p -U -d work as for psql');

SELECT * FROM finish();
ROLLBACK;
