-- tests/cli/25_html_language.sql - issue 15 item 4: the quality lead's HTML
-- report in Norwegian by default (--language nb, nn or en), with the
-- html lang attribute, headings, decimal commas and the latest national
-- figure of each indicator that has one (careflags.national_figure, with
-- year and source); rendered by headless Chromium with a checking script
-- added to a copy of the page: every element with text must have a box,
-- lie inside its chart (an SVG label cut off at the chart's edge fails) and
-- not overflow its box.  A long unit name ("Solsiden sykehjem,
-- langtidsavdeling", whose first characters used to be cut off) is set for
-- the run and put back after.  The checking script: tests/cli/visible_check.html.
\set pe `tests/cli/cf.sh psql -Atc "SELECT careflags.report_today() - 1"`
\set renamed `tests/cli/cf.sh psql -Atc "UPDATE careflags.unit SET name = 'Solsiden sykehjem, langtidsavdeling' WHERE unit_id = 'LT-A' RETURNING name"`
\set html_rc `s=$(tests/cli/cf.sh state); tests/cli/cf.sh report --format html --period-end :pe -o "$s/report-nb.html" && tests/cli/cf.sh report --format html --language nn --period-end :pe -o "$s/report-nn.html" && tests/cli/cf.sh report --format html --language en --period-end :pe -o "$s/report-en.html"; echo $?`
\set restored `tests/cli/cf.sh psql -Atc "UPDATE careflags.unit SET name = 'Long-term ward A' WHERE unit_id = 'LT-A' RETURNING name"`
\set dom_nb `s=$(tests/cli/cf.sh state); awk -v f=tests/cli/visible_check.html '/<\/body>/ { while ((getline l < f) > 0) print l } { print }' "$s/report-nb.html" > "$s/report-nb-check.html"; p=$(mktemp -d); timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$p" --window-size=1100,2600 --dump-dom "file://$s/report-nb-check.html" 2>/dev/null; rm -rf "$p"`
\set dom_nn `s=$(tests/cli/cf.sh state); awk -v f=tests/cli/visible_check.html '/<\/body>/ { while ((getline l < f) > 0) print l } { print }' "$s/report-nn.html" > "$s/report-nn-check.html"; p=$(mktemp -d); timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$p" --window-size=1100,2600 --dump-dom "file://$s/report-nn-check.html" 2>/dev/null; rm -rf "$p"`
\set html_en `s=$(tests/cli/cf.sh state); cat "$s/report-en.html"`
\set nat `tests/cli/cf.sh psql -Atc "SELECT string_agg(indicator || '=' || year || ':' || share, ' ' ORDER BY indicator) FROM careflags.national_figure_latest"`

BEGIN;
SELECT plan(12);

SELECT is(:'renamed'::text, 'Solsiden sykehjem, langtidsavdeling', 'a unit with a long name for the run');
SELECT is(:'html_rc'::int, 0, 'report --format html in bokmål (default), nynorsk and English');
SELECT ok(:'dom_nb' ~ '<html lang="nb">' AND :'dom_nb' ~ '<h1>Kvalitetsindikatorer</h1>', 'bokmål by default: lang="nb" and a Norwegian heading');
SELECT ok(:'dom_nb' ~ '<h2>Ernæringsscreening siste 12 måneder: ' AND :'dom_nb' ~ '<h2>Svartid på flagg</h2>'
          AND :'dom_nb' ~ '<figcaption>Andel per enhet' AND :'dom_nb' ~ '<th>Nevner</th>',
          'headings, captions and table headings in bokmål');
SELECT is((SELECT count(*)::int FROM unnest(ARRAY['Quality indicators', 'Share per unit', 'Monthly trend', 'Flag response times',
                                                 'Numerator', 'Denominator', 'Not assessed', 'no patients', ' of ']) AS u
            WHERE strpos(regexp_replace(:'dom_nb', '<script.*</script>', ''), u) > 0), 0, 'no English words of the page are left in bokmål');
SELECT is(:'nat'::text, 'medication_review=2023:61.7 nutrition_plan=2023:64.3 nutrition_screening=2023:57.0',
          'the national figures of §2 and §3: the latest year of each');
SELECT ok(:'dom_nb' ~ 'Landstall 2023: 57,0 % \(langtidsbeboere 67\+ på sykehjem; kilde: Helsedirektoratet'
          AND :'dom_nb' ~ 'Landstall 2023: 64,3 %' AND :'dom_nb' ~ 'Landstall 2023: 61,7 %'
          AND :'dom_nb' ~ '<td class="n" data-field="national">57,0 \(2023\)</td>',
          'each indicator with a national figure shows it with year and source, with a decimal comma');
SELECT cmp_ok((regexp_match(:'dom_nb', 'data-checked="([0-9]+)"'))[1]::int, '>', 100, 'Chromium ran the check over the page''s texts');
SELECT is((regexp_match(:'dom_nb', 'data-bad="([^"]*)"'))[1], '', 'bokmål: every text has a box, none is clipped by its chart or overflows');
SELECT ok(:'dom_nb' ~ '>Solsiden sykehjem, langtidsavdeling</text>', 'the long unit name is a chart label (checked whole above)');
SELECT ok(:'dom_nn' ~ '<html lang="nn">' AND :'dom_nn' ~ '<h1>Kvalitetsindikatorar</h1>' AND :'dom_nn' ~ 'Landstal 2023: 57,0 %'
          AND (regexp_match(:'dom_nn', 'data-bad="([^"]*)"'))[1] = '',
          'nynorsk: lang="nn", Norwegian headings, every text visible');
SELECT ok(:'html_en' ~ '<html lang="en">' AND :'html_en' ~ '<h1>Quality indicators</h1>' AND :'html_en' ~ 'National figure 2023: 57.0 %',
          'English when chosen');

SELECT * FROM finish();
ROLLBACK;
