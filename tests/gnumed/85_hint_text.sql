-- tests/gnumed/85_hint_text.sql - careflags' GNUmed hint lines are short,
-- correct and complete (issue 17, problem 5): at most 140 characters, the
-- due date once per flag, instruments by their names (MNA-SF, Morse, not
-- mna_sf, morse), every fall-risk drug the resident takes.
\set gm_status `cat "$PGHOST/careflags_gnumed.status" 2>/dev/null || echo 'not prepared: tests/gnumed/setup.sh did not run'`
SELECT :'gm_status' = 'ready' AS gm_ready \gset
\if :gm_ready
\c gnumed_v22
SET default_transaction_read_only = off;
SET client_min_messages = warning;
BEGIN;
SELECT plan(9);
\ir fixture.psql
RESET ROLE;
INSERT INTO careflags_gnumed.substance_atc (substance_pattern, atc) VALUES ('furosemide', 'C03CA01'), ('oxazepam', 'N05BA04');
SET LOCAL ROLE "any-doc";

-- Two fall-risk drugs (furosemide has been taken longest), a Morse total of
-- 60 and an MNA-SF total of 9 (at risk), written as the client writes them.
INSERT INTO ref.substance (description)
SELECT d FROM (VALUES ('Furosemide'), ('Oxazepam')) v(d) WHERE NOT EXISTS (SELECT FROM ref.substance s WHERE s.description = v.d);
INSERT INTO ref.dose (fk_substance, amount, unit)
SELECT s.pk, 10, 'mg' FROM ref.substance s
 WHERE s.description IN ('Furosemide', 'Oxazepam') AND NOT EXISTS (SELECT FROM ref.dose d WHERE d.fk_substance = s.pk);
INSERT INTO ref.drug_product (description, preparation, is_fake) VALUES ('Furosemide 40 mg', 'tablet', true), ('Oxazepam 10 mg', 'tablet', true);
INSERT INTO ref.lnk_dose2drug (fk_drug_product, fk_dose)
SELECT p.pk, (SELECT min(d.pk) FROM ref.dose d JOIN ref.substance s ON s.pk = d.fk_substance
               WHERE s.description = split_part(p.description, ' ', 1))
  FROM ref.drug_product p WHERE p.description IN ('Furosemide 40 mg', 'Oxazepam 10 mg');
INSERT INTO clin.substance_intake (fk_encounter, fk_episode, fk_drug_component, intake_is_approved_of, schedule, is_long_term)
SELECT :enc, :epi, l.pk, true, '1-0-0-0', true
  FROM ref.lnk_dose2drug l JOIN ref.drug_product p ON p.pk = l.fk_drug_product
 WHERE p.description IN ('Furosemide 40 mg', 'Oxazepam 10 mg');
UPDATE clin.substance_intake i SET clin_when = now() - CASE WHEN s.description = 'Furosemide' THEN interval '9 days' ELSE interval '5 days' END
  FROM ref.lnk_dose2drug l, ref.dose d, ref.substance s
 WHERE i.fk_encounter = :enc AND l.pk = i.fk_drug_component AND d.pk = l.fk_dose AND s.pk = d.fk_substance;
INSERT INTO clin.test_type (fk_test_org, name, abbrev, loinc, reference_unit)
VALUES (:test_org, 'Morse Fall Scale total', 'Morse', '59460-6', '{score}') RETURNING pk AS morse \gset
INSERT INTO clin.test_result (fk_encounter, fk_episode, fk_type, val_num, val_unit, fk_intended_reviewer)
VALUES (:enc, :epi, :morse, 60, '{score}', :staff) RETURNING pk AS res \gset
UPDATE clin.test_result SET clin_when = now() - interval '4 days' WHERE pk = :res;
INSERT INTO clin.test_type (fk_test_org, name, abbrev, reference_unit)
VALUES (:test_org, 'MNA-SF', 'MNA-SF', '{score}') RETURNING pk AS mna \gset
INSERT INTO clin.test_result (fk_encounter, fk_episode, fk_type, val_num, val_unit, fk_intended_reviewer)
VALUES (:enc, :epi, :mna, 9, '{score}', :staff) RETURNING pk AS res2 \gset
UPDATE clin.test_result SET clin_when = now() - interval '3 days' WHERE pk = :res2;

CREATE TEMP TABLE hints AS SELECT * FROM clin.get_hints_for_patient(:pat) WHERE source = 'careflags';
RESET ROLE;
-- one entry per flag: a "- " line and its continuation lines
CREATE TEMP VIEW hint_lines AS
SELECT h.title, l.line FROM hints h, regexp_split_to_table(h.recommendation, E'\n') l(line);
CREATE TEMP VIEW hint_entries AS
SELECT h.title, e.entry FROM hints h, regexp_split_to_table(h.recommendation, E'\n(?=- )') e(entry);

SELECT ok((SELECT count(*) FROM hint_entries) >= 4, 'the resident has careflags hint lines (' || (SELECT count(*) FROM hint_entries) || ' flags)');
SELECT is((SELECT max(length(line)) <= 140 FROM hint_lines), true,
          'every hint line is at most 140 characters (longest: ' || (SELECT max(length(line)) FROM hint_lines) || ')');
SELECT is((SELECT string_agg(entry, ' / ') FROM hint_entries
            WHERE (SELECT count(*) FROM regexp_matches(entry, '(overdue since|due by|due soon, by|coming up from) [0-9]', 'g')) <> 1),
          NULL, 'each flag states its due state with one date');
SELECT is((SELECT string_agg(entry, ' / ') FROM hint_entries WHERE entry ~ ';\s*((next |evaluation |review )?due|assess( again)? by) '),
          NULL, 'no reason repeats a due date');
SELECT is((SELECT string_agg(entry, ' / ') FROM hint_entries
            WHERE entry ~ '\m(mst|mna_sf|must|nrs_2002|nutrition_unspecified|morse|stratify|downton|hendrich_ii|fall_risk_unspecified)\M'),
          NULL, 'no internal instrument name (mna_sf, morse, ...) in any line');
SELECT ok((SELECT bool_or(entry ~ '\mMNA-SF 9\M') FROM hint_entries) AND (SELECT bool_or(entry ~ '\mMorse 60\M') FROM hint_entries),
          'instruments by the names clinicians know: MNA-SF, Morse');
SELECT matches((SELECT entry FROM hint_entries WHERE entry LIKE '- Medication review: fall-risk-increasing drugs:%'),
               'fall-risk drugs: Furosemide, Oxazepam$', 'the fall-risk-drug line names every fall-risk drug the resident takes');
SELECT is((SELECT count(*)::int FROM hint_entries WHERE entry ~ '[0-9]{1,2} (January|February|March|April|June|July|August|September|October|November|December) [0-9]{4}'),
          0, 'dates written short (7 Dec 2026)');
SELECT is((SELECT count(*)::int FROM careflags_gnumed.hint_line(
              (SELECT f FROM careflags.flag f JOIN careflags.patient p USING (patient_id) WHERE p.source_key = :'pat' LIMIT 1),
              repeat('A very long rule title ', 10)) l, regexp_split_to_table(l, E'\n') x WHERE length(x) > 140), 0,
          'a line that would be longer is wrapped at 140 characters');

SET CONSTRAINTS ALL IMMEDIATE;
SELECT * FROM finish();
ROLLBACK;
\else
-- TAP "skip all": pg_prove reports the file as skipped, with the reason.
\echo 1..0 # SKIP GNUmed database unavailable: :gm_status
\endif
