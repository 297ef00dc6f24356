-- tests/install/50_clone.sql - a clone of the repository alone runs the demo
-- and the suite (issue 16, point 3: no file read from a directory beside the
-- checkout).  tests/install/clone.sh clones the committed HEAD into a fresh
-- temporary directory with nothing beside it and runs scripts/demo.sh and
-- scripts/test.sh (the FHIR files reading data/ and tools/fhir-validate, and
-- tests/core/90_self_contained.sql) there, against the PostgreSQL the suite
-- uses.  Its logs stay in the test cluster's directory (clone-*.log).
\set QUIET 1
\set out `tests/install/clone.sh 2>&1`
\set demo_tail `tail -n 25 "$PGHOST/clone-demo.log" 2>/dev/null`
\set demo_fhir `sed -n '/careflags_fhir: Synthea patients in a FHIR store/,$p' "$PGHOST/clone-demo.log" 2>/dev/null | awk '/Synthea patients in a FHIR store/ {h++} / mapped / {m++} END {print h+0, m+0}'`
\set suite_tail `grep -v '^20[0-9][0-9]-' "$PGHOST/clone-suite.log" 2>/dev/null | tail -n 25`
BEGIN;
SELECT plan(7);
CREATE TEMP TABLE fact AS
    SELECT split_part(l, '=', 1) AS k, substr(l, strpos(l, '=') + 1) AS v
    FROM regexp_split_to_table(:'out', E'\n') AS l WHERE l ~ '^[a-z_]+=';

SELECT coalesce((SELECT v FROM fact WHERE k = 'clone') = 'not-a-git-checkout', false) AS no_git \gset
\if :no_git
SELECT skip('not a git checkout (an unpacked archive): nothing to clone', 7);
\else
SELECT is((SELECT v FROM fact WHERE k = 'clone'), 'ok', 'git clone of the repository into a fresh directory');
SELECT is((SELECT v FROM fact WHERE k = 'beside'), 'careflags ', 'nothing beside the clone (no shared folder next to it)');
SELECT ok((SELECT v FROM fact WHERE k = 'demo_exit') = '0' AND (SELECT v FROM fact WHERE k = 'demo_finished') = 'yes',
          'scripts/demo.sh runs from the clone to its end and exits 0');
SELECT ok((SELECT v FROM fact WHERE k = 'suite_exit') = '0' AND (SELECT v FROM fact WHERE k = 'suite_result') = 'PASS'
          AND (SELECT v FROM fact WHERE k = 'suite_files') ~ '^4 files, [1-9][0-9]+ tests$',
          'scripts/test.sh runs the FHIR files reading data/ and the validator, and the self-containment check, from the clone: PASS ('
          || coalesce((SELECT v FROM fact WHERE k = 'suite_files'), '?') || ')');
SELECT is((SELECT v FROM fact WHERE k = 'outside'), '0',
          'no "No such file" and no path to the folder beside the checkout in their output');
SELECT ok(:'demo_fhir' ~ '^1 [1-9][0-9]*$', 'the demo''s FHIR step loaded the Synthea bundles from data/ (resources mapped)');
SELECT is((SELECT v FROM fact WHERE k = 'reinstalled_exit'), '0', 'the working tree''s build is installed again afterwards');
\endif

-- what went wrong, when something did
SELECT diag(:'out') WHERE :'out' !~ 'demo_exit=0' OR :'out' !~ 'suite_exit=0' OR :'out' !~ 'outside=0\n';
SELECT diag(:'demo_tail') WHERE :'out' !~ 'demo_exit=0';
SELECT diag(:'suite_tail') WHERE :'out' !~ 'suite_exit=0';
SELECT * FROM finish();
ROLLBACK;
