-- tests/cli/20_html.sql - the HTML report, rendered by headless Chromium.
--
-- The page is written by `careflags report --format html`, loaded in
-- Chromium (Debian package chromium, installed by setup.sh) and the DOM it
-- builds is compared with the SQL functions: the indicator table, one bar per
-- unit per indicator, one point per month per indicator.  A screenshot is
-- left beside it (report.png in the suite's state directory) for a person.
\set pe `tests/cli/cf.sh psql -Atc "SELECT careflags.report_today() - 1"`
\set html_rc `s=$(tests/cli/cf.sh state); tests/cli/cf.sh report --format html --period-end :pe -o "$s/report.html"; echo $?`
\set dom `s=$(tests/cli/cf.sh state); p=$(mktemp -d); timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$p" --dump-dom "file://$s/report.html" 2>/dev/null; rm -rf "$p"`
\set png `s=$(tests/cli/cf.sh state); p=$(mktemp -d); rm -f "$s/report.png"; timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$p" --window-size=1100,2600 --screenshot="$s/report.png" "file://$s/report.html" >/dev/null 2>&1; rm -rf "$p"; stat -c %s "$s/report.png" 2>/dev/null || echo 0`
\set truth_table `tests/cli/cf.sh psql -Atc "SELECT string_agg(indicator || ':' || numerator || '/' || denominator || '/' || coalesce(share::text, '') || '/' || assessed || '/' || not_assessed || '/' || not_relevant || '/' || not_recorded, ' ') FROM careflags.indicators(':pe')"`
\set truth_units `tests/cli/cf.sh psql -Atc "SELECT string_agg(l.indicator || ':' || coalesce(u.unit_id, '(no unit)') || '=' || coalesce(u.share::text, '') || '(' || u.numerator || '/' || u.denominator || ')', ' ' ORDER BY l.indicator, coalesce(u.unit_id, '(no unit)')) FROM careflags.indicator_list() l, careflags.indicator_by_unit(l.indicator, ':pe') u"`
\set truth_series `tests/cli/cf.sh psql -Atc "SELECT string_agg(l.indicator || ':' || s.period_end || '=' || s.share || '(' || s.numerator || '/' || s.denominator || ')', ' ' ORDER BY l.indicator, s.period_end) FROM careflags.indicator_list() l, careflags.indicator_series(l.indicator, ':pe') s WHERE s.share IS NOT NULL"`

BEGIN;
SELECT plan(10);

SELECT is(:'html_rc'::int, 0, 'report --format html -o FILE succeeds');
SELECT ok(length(:'dom') > 10000 AND :'dom' ~ '<h1>Kvalitetsindikatorer</h1>', 'Chromium renders the page');
SELECT is((SELECT count(*) FROM regexp_matches(:'dom', '<svg class="chart unit-chart"', 'g')), 5::bigint,
          'a per-unit chart for each of the five indicators');
SELECT is((SELECT count(*) FROM regexp_matches(:'dom', '<svg class="chart trend-chart"', 'g')), 5::bigint,
          'a monthly trend chart for each of the five indicators');
SELECT is(
    (SELECT string_agg(m[1] || ':' || m[2] || '/' || m[3] || '/' || m[4] || '/' || m[5] || '/' || m[6] || '/' || m[7] || '/' || m[8], ' ')
     FROM regexp_matches(:'dom',
        '<tr data-indicator="([a-z_]+)"><td data-field="title">[^<]*</td>'
        '<td class="n" data-field="numerator">([0-9]+)</td><td class="n" data-field="denominator">([0-9]+)</td>'
        '<td class="n" data-field="share">([0-9.]*)</td><td class="n" data-field="assessed">([0-9]+)</td>'
        '<td class="n" data-field="not_assessed">([0-9]+)</td><td class="n" data-field="not_relevant">([0-9]+)</td>'
        '<td class="n" data-field="not_recorded">([0-9]+)</td>', 'g') m),
    :'truth_table'::text,
    'the indicator table shows the numbers of careflags.indicators()');
SELECT is(
    (SELECT string_agg(s.ind || ':' || m[1] || '=' || m[2] || '(' || m[3] || '/' || m[4] || ')', ' ' ORDER BY s.ind, m[1])
     FROM (SELECT (regexp_match(seg, 'data-indicator="([a-z_]+)"'))[1] AS ind, seg
           FROM regexp_split_to_table(:'dom', '<svg ') seg WHERE seg LIKE 'class="chart unit-chart"%') s,
          regexp_matches(s.seg, '<rect class="bar" data-unit="([^"]*)" data-share="([^"]*)" data-numerator="([0-9]+)" data-denominator="([0-9]+)"', 'g') m),
    :'truth_units'::text,
    'each unit''s bar carries the share of careflags.indicator_by_unit()');
SELECT is(
    (SELECT string_agg(s.ind || ':' || m[1] || '=' || m[2] || '(' || m[3] || '/' || m[4] || ')', ' ' ORDER BY s.ind, m[1])
     FROM (SELECT (regexp_match(seg, 'data-indicator="([a-z_]+)"'))[1] AS ind, seg
           FROM regexp_split_to_table(:'dom', '<svg ') seg WHERE seg LIKE 'class="chart trend-chart"%') s,
          regexp_matches(s.seg, '<circle class="point" data-period-end="([0-9-]+)" data-share="([0-9.]+)" data-numerator="([0-9]+)" data-denominator="([0-9]+)"', 'g') m),
    :'truth_series'::text,
    'each month''s point carries the share of careflags.indicator_series()');
SELECT ok(:'dom' ~ '<table id="response-times">', 'the flag response times are there');
SELECT ok(:'dom' !~* '<script' AND :'dom' !~* '(src|href)="?(https?:|//)', 'self-contained: no scripts, nothing fetched');
SELECT ok(:'png'::int > 20000, 'a screenshot was taken (report.png in the state directory)');

SELECT * FROM finish();
ROLLBACK;
