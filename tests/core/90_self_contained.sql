-- tests/core/90_self_contained.sql - the repository alone runs the demo and the tests.
--
-- Nothing outside docs reads a directory beside the checkout (the project's
-- shared folder): the Synthea fixtures and the HL7 example live in data/
-- (with their licence notices), the FHIR validator in tools/fhir-validate.
-- (The pattern is spelled so that this file does not match itself.)
-- One optional reference is allowed: scripts/citus-build.sh's default for
-- the Citus source archive (CITUS_TARBALL).  Citus is not in Debian's
-- packages and its archive is not kept in this repository; without it the
-- Citus suite skips with the reason (tests/citus/setup.sh), nothing fails.
-- And one script that is neither demo, test nor benchmark:
-- scripts/gnumed-screenshot.sh makes the pictures in docs/img with GNUmed's
-- real client through the shared folder's screenshot tool (GNUMED_UI_SHOT
-- names another copy) and says so when the tool is absent.
\set outside `grep -rnE --exclude-dir=.git --exclude-dir=node_modules --exclude-dir=docs --exclude='*.md' --exclude=gnumed-screenshot.sh '(\.\./|/work/)shar[e]d' . 2>&1 | grep -vx '\./scripts/citus-build\.sh:[0-9]*:CITUS_TARBALL=\${CITUS_TARBALL:-\$ROOT/\.\./shar''ed/vendor/citus-\$VERSION\.tar\.gz}' | head -20`
\set named `grep -rhoE '(^|[ "=(])data/[A-Za-z0-9_./-]+[A-Za-z0-9]' scripts tests bench 2>/dev/null | sed -E 's/^[ "=(]//' | sort -u | tr '\n' ' '`
\set missing `for f in $(grep -rhoE '(^|[ "=(])data/[A-Za-z0-9_./-]+[A-Za-z0-9]' scripts tests bench 2>/dev/null | sed -E 's/^[ "=(]//' | sort -u); do [ -e "$f" ] || echo "$f"; done`
\set bench_data `sed -n 's/^data=//p' bench/fhir_load.sh`
\set notice `grep -c 'Apache License 2.0\|CC0-1.0' data/README.md; grep -c 'Apache License' data/LICENSE.Apache-2.0`
\set validator `ls tools/fhir-validate/package.json tools/fhir-validate/package-lock.json tools/fhir-validate/validate.mjs 2>&1 | wc -l`

BEGIN;
SELECT plan(6);

SELECT is(:'outside'::text, ''::text, 'no script, test or benchmark reads the shared folder beside the checkout');
SELECT ok(:'named' ~ 'data/synthea-bundles/' AND :'named' ~ 'data/synthea-bulk-10/' AND :'named' ~ 'data/fhir-r4-examples/Flag-example.json',
          'the demo and the FHIR tests read their fixtures from data/ in the repository');
SELECT is(:'missing'::text, ''::text, 'every data/ file they name is in the repository');
SELECT is(:'bench_data'::text, 'data', 'bench/fhir_load.sh reads data/ too');
SELECT ok(:'notice' ~ '^[1-9][0-9]*\n[1-9]', 'data/README.md gives origin and licence; the Apache-2.0 text is beside it');
SELECT is(:'validator'::int, 3, 'the FHIR validator (package.json, package-lock.json, validate.mjs) is in tools/fhir-validate');

SELECT * FROM finish();
ROLLBACK;
