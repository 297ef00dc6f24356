-- tests/cli/12_server_formats.sql - the server writes the CSV and the JSON, and
-- parses the notifications' JSON; the client has no CSV or JSON writer or
-- parser of its own and no hard-coded type OIDs.
--
-- The client runs once with log_statement = all for its session (PGOPTIONS,
-- as superuser); the statements it sent are read back from the server log.
\set pe `tests/cli/cf.sh psql -Atc "SELECT careflags.report_today() - 1"`
\set csv `PGOPTIONS="-c log_statement=all" tests/cli/cf.sh report --format csv --period-end :pe`
\set js `PGOPTIONS="-c log_statement=all" tests/cli/cf.sh report --format json --period-end :pe`
\set truth_csv `tests/cli/cf.sh psql -Atc "COPY (SELECT indicator, title, period_end, setting, unit_id, numerator, denominator, share, assessed, not_assessed, not_relevant, not_recorded, population, disclosure FROM careflags.indicators(':pe')) TO STDOUT WITH (FORMAT csv, HEADER)"`
\set truth_json `tests/cli/cf.sh psql -Atc "SELECT json_agg(i) FROM (SELECT * FROM careflags.indicators(':pe')) i"`
\set logged `sleep 0.5; s=$(tests/cli/cf.sh state); grep -a 'statement: ' "$s/server.log" | grep -a -c 'COPY (SELECT indicator, title, period_end.*FROM careflags.indicators(.*) TO STDOUT (FORMAT csv, HEADER)'; grep -a 'statement: \|execute ' "$s/server.log" | grep -a -c 'pg_catalog.json_agg(i) FROM ind'; grep -a -c "statement: SELECT pg_catalog.set_config('search_path', '', false)" "$s/server.log"`
\set source `cd cli && grep -c 'PQftype\|cf_json_string\|cf_json_get\|cf_csv_field' *.c | awk -F: '{ n += $2 } END { print n }'`

BEGIN;
SELECT plan(5);

SELECT is(replace(:'csv', E'\r', ''), :'truth_csv', 'csv: what COPY ... (FORMAT csv, HEADER) gives, rows ending in CRLF');
SELECT is((:'js'::jsonb) -> 'indicators', (:'truth_json'::jsonb), 'json: the indicators as json_agg gives them');
SELECT is(split_part(:'logged', E'\n', 1)::int >= 1, true, 'the client asked the server for the CSV (COPY ... TO STDOUT (FORMAT csv, HEADER))');
SELECT is(split_part(:'logged', E'\n', 2)::int >= 1 AND split_part(:'logged', E'\n', 3)::int >= 2, true,
          'the client asked the server for the JSON (json_agg), each session after pinning search_path');
SELECT is(:'source'::int, 0, 'the client has no CSV/JSON writer or parser of its own and reads no type OIDs');

SELECT * FROM finish();
ROLLBACK;
