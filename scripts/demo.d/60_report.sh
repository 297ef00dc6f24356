#!/bin/sh
# Demo step 60: what a quality lead sees.  The national indicators for the
# last 12 months with `careflags report` (a table, with data quality beside
# each result), the per-unit comparison and a few rows of the pseudonymised
# extract in SQL, and the HTML report (inline SVG charts) written to a file
# that outlives the throwaway cluster.
set -eu
cd "${ROOT:-.}"
client=$(command -v careflags || echo "$(pwd)/cli/careflags")
out=${CAREFLAGS_DEMO_REPORT:-${TMPDIR:-/tmp}/careflags-report.html}

echo
echo "=== careflags report: quality indicators, last 12 months (careflags_quality's view) ==="
"$client" report
echo
echo "=== per-unit comparison: nutrition screening ==="
psql -X -q -v ON_ERROR_STOP=1 -P pager=off <<'SQL'
SET ROLE careflags_quality;
SELECT unit_name AS unit, numerator, denominator, share AS "share %", not_relevant, not_recorded
  FROM careflags.indicator_by_unit('nutrition_screening');
SQL
echo "=== pseudonymised extract (first rows): no names, birth dates or source keys ==="
psql -X -q -v ON_ERROR_STOP=1 -P pager=off <<'SQL'
SET ROLE careflags_quality;
SELECT left(pseudonym, 16) || '…' AS pseudonym, key_generation AS gen, age_band, sex, setting, nutrition_screening,
       nutrition_at_risk AS at_risk, nutrition_plan, medication_review, fall_risk_assessment
  FROM careflags.extract() ORDER BY pseudonym LIMIT 6;
SQL
"$client" report --format html -o "$out"
echo "HTML report with charts (indicator per unit, monthly trend): $out"
