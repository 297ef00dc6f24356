-- tests/gnumed/85_hint_text.sql - careflags' GNUmed hints are one per
-- patient and action, in the reader's language (issue 15, clinical-rules.md
-- §7.18 and §8): a title per action that fits GNUmed's popup, and as the
-- per-patient text the patient's row of careflags.actions (what, why, by
-- when; at most 140 characters) and its state, in bokmål by default, nynorsk
-- or English as careflags.language says; the same facts give the same rows
-- in the three languages; suppressing a hint acknowledges every flag behind
-- its row.
\set gm_status `cat "$PGHOST/careflags_gnumed.status" 2>/dev/null || echo 'not prepared: tests/gnumed/setup.sh did not run'`
SELECT :'gm_status' = 'ready' AS gm_ready \gset
\if :gm_ready
\c gnumed_v22
SET default_transaction_read_only = off;
SET client_min_messages = warning;
BEGIN;
SELECT plan(22);
\ir fixture.psql
RESET ROLE;
INSERT INTO careflags_gnumed.substance_atc (substance_pattern, atc) VALUES ('furosemide', 'C03CA01'), ('oxazepam', 'N05BA04');
SET LOCAL ROLE "any-doc";

-- Two fall-risk drugs, a Morse total of 60 (high fall risk) and an MNA-SF
-- total of 9 (at risk of malnutrition), written as the client writes them:
-- the admission review and the fall-risk-drug review are one action.
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

-- What GNUmed shows any-doc, in each language (careflags.language of the
-- session; bokmål is the default).
CREATE TEMP TABLE shown (lang text, title text, hint text, recommendation text);
INSERT INTO shown SELECT 'nb', title, hint, recommendation FROM clin.get_hints_for_patient(:pat) WHERE source = 'careflags';
SET LOCAL careflags.language = 'nn';
INSERT INTO shown SELECT 'nn', title, hint, recommendation FROM clin.get_hints_for_patient(:pat) WHERE source = 'careflags';
SET LOCAL careflags.language = 'en';
INSERT INTO shown SELECT 'en', title, hint, recommendation FROM clin.get_hints_for_patient(:pat) WHERE source = 'careflags';
RESET careflags.language;
RESET ROLE;

-- What careflags.actions says of her, in each language.
CREATE TEMP TABLE expected (lang text, action text, why text, state text, n_flags int);
SELECT patient_id AS pid FROM careflags.patient WHERE source_system = 'gnumed' AND source_key = :'pat' \gset
SET LOCAL careflags.language = 'nb';
INSERT INTO expected SELECT 'nb', action, why, state_text, cardinality(flag_ids) FROM careflags.actions WHERE patient_id = :pid;
SET LOCAL careflags.language = 'nn';
INSERT INTO expected SELECT 'nn', action, why, state_text, cardinality(flag_ids) FROM careflags.actions WHERE patient_id = :pid;
SET LOCAL careflags.language = 'en';
INSERT INTO expected SELECT 'en', action, why, state_text, cardinality(flag_ids) FROM careflags.actions WHERE patient_id = :pid;
RESET careflags.language;
CREATE TEMP VIEW shown_action AS
SELECT s.lang, h.action, s.title, s.hint, s.recommendation
  FROM shown s LEFT JOIN careflags_gnumed.hint h ON h.title = s.title AND h.language = s.lang;

-- The hints as installed.
SELECT is((SELECT string_agg(format('%s=%s', lang, n), ' ' ORDER BY lang)
             FROM (SELECT lang, count(*) n FROM ref.auto_hint WHERE source = 'careflags' GROUP BY lang) x),
          'en=5 nb=5 nn=5', 'GNUmed holds one careflags hint per action (5) and language (nb, nn, en)');
SELECT is((SELECT string_agg(title, ', ') FROM ref.auto_hint WHERE source = 'careflags' AND length(title) > 40), NULL,
          'every title fits the hint list of GNUmed''s 400-pixel popup (at most 40 characters)');
SELECT is((SELECT string_agg(title, ', ') FROM ref.auto_hint WHERE source = 'careflags' AND length(hint) > 140), NULL,
          'every hint text (what to do) is at most 140 characters');
SELECT set_eq($$SELECT title FROM ref.auto_hint WHERE source = 'careflags' AND lang = 'nb'$$,
              $$VALUES ('Ernæringsscreening skal gjøres'), ('Ernæringsplan skal lages/evalueres'), ('Legemiddelgjennomgang skal gjøres'),
                       ('Fallrisikovurdering skal gjøres'), ('Plan for fallforebygging skal lages')$$,
              'the bokmål titles say what is to be done');

-- Bokmål, the default.
SELECT ok((SELECT count(*) FROM expected WHERE lang = 'nb') >= 3, 'she has rows in careflags.actions ('
          || (SELECT string_agg(action, ', ' ORDER BY action) FROM expected WHERE lang = 'nb') || ')');
SELECT set_eq($$SELECT action FROM shown_action WHERE lang = 'nb'$$, $$SELECT action FROM expected WHERE lang = 'nb'$$,
              'GNUmed shows one careflags hint per row of careflags.actions, and no other');
SELECT is((SELECT count(*)::int FROM shown WHERE lang = 'nb' AND title = 'Legemiddelgjennomgang skal gjøres'), 1,
          'the medication review is one hint although several rules ask for it');
SELECT ok((SELECT n_flags FROM expected WHERE lang = 'nb' AND action = 'medication_review') >= 2,
          'the rules behind it: ' || (SELECT n_flags FROM expected WHERE lang = 'nb' AND action = 'medication_review') || ' open flags');
SELECT is((SELECT string_agg(s.title, ', ') FROM shown_action s JOIN expected e ON e.lang = s.lang AND e.action = s.action
            WHERE s.recommendation IS DISTINCT FROM e.why || E'\n' || upper(left(e.state, 1)) || substr(e.state, 2) || '.'),
          NULL, 'each hint''s text is the row of careflags.actions (what, why, by when) and its state, in the reader''s language');
SELECT matches((SELECT recommendation FROM shown WHERE lang = 'nb' AND title = 'Legemiddelgjennomgang skal gjøres'),
               '^Legemiddelgjennomgang: ved innkomst [0-9]{1,2}\. [a-zæøå]+\.?, bruker [a-zæøå]+ og [a-zæøå]+ ved høy fallrisiko\. Frist [0-9]{1,2}\. [a-zæøå]+\.\n(Over fristen|Innen fristen|Frist snart)\.$',
               'in plain bokmål: "Legemiddelgjennomgang: ved innkomst 27. nov., bruker furosemide og oxazepam ved høy fallrisiko. Frist 4. des." / "Over fristen."');
-- issue 17 item 5: every fall-risk drug she takes, longest in use first
SELECT is((SELECT string_agg(lang || ': ' || recommendation, ' | ' ORDER BY lang) FROM shown_action
            WHERE action = 'medication_review'
              AND (recommendation !~* ('\mfurosemide,? ' || CASE lang WHEN 'en' THEN 'and' ELSE 'og' END || ' oxazepam\M')
                   OR length(split_part(recommendation, E'\n', 1)) > 140)),
          NULL, 'the medication-review hint names both fall-risk drugs, Furosemide and Oxazepam, in a line of at most 140 characters, in nb, nn and en');
SELECT is((SELECT string_agg(title, ', ') FROM shown
            WHERE lang IN ('nb', 'nn') AND concat_ws(' ', title, hint, recommendation)
                  ~* '\m(due|overdue|screening|review|assessment|since|admission|takes|risk|careflags found)\M'), NULL,
          'no English in the Norwegian hints (title, what to do, the row)');
SELECT is((SELECT max(length(l)) <= 140 FROM shown, regexp_split_to_table(recommendation, E'\n') l), true,
          'every line of every hint is at most 140 characters (longest: '
          || (SELECT max(length(l)) FROM shown, regexp_split_to_table(recommendation, E'\n') l) || ')');

-- Nynorsk and English readers, the same facts.
SELECT set_eq($$SELECT action FROM shown_action WHERE lang = 'nn'$$, $$SELECT action FROM shown_action WHERE lang = 'nb'$$,
              'a nynorsk reader gets the same actions');
SELECT set_eq($$SELECT action FROM shown_action WHERE lang = 'en'$$, $$SELECT action FROM shown_action WHERE lang = 'nb'$$,
              'an English reader gets the same actions');
SELECT is((SELECT count(*)::int FROM shown_action WHERE action IS NULL), 0,
          'each reader sees only the hints of her own language (no bokmål title for a nynorsk reader, ...)');
SELECT is((SELECT title || ' | ' || recommendation FROM shown WHERE lang = 'nn' AND title LIKE 'Plan for fall%'),
          (SELECT 'Plan for fallførebygging skal lagast | ' || why || E'\n' || upper(left(state, 1)) || substr(state, 2) || '.'
             FROM expected WHERE lang = 'nn' AND action = 'fall_prevention_plan'),
          'nynorsk: "Plan for fallførebygging skal lagast", "... høg fallrisiko (Morse 60, ...)"');
SELECT matches((SELECT recommendation FROM shown WHERE lang = 'nn' AND title LIKE 'Plan for fall%'),
               '^Plan for fallførebygging: høg fallrisiko \(Morse 60, [0-9]{1,2}\. [a-zæøå]+\.?\)\. Frist .*\n(Over fristen|Innan fristen|Frist snart)\.$',
               'in plain nynorsk, Morse by its name');
SELECT matches((SELECT recommendation FROM shown WHERE lang = 'en' AND title = 'Medication review due'),
               '^Medication review: on admission [0-9]{1,2} [A-Z][a-z]{2}, takes [a-z]+ and [a-z]+ with high fall risk\. Due [0-9]{1,2} [A-Z][a-z]{2}\.\n(Overdue|Due|Due soon)\.$',
               'in English: "Medication review: on admission 27 Nov, takes furosemide and oxazepam with high fall risk. Due 4 Dec."');

-- Suppressing the hint in GNUmed acknowledges every flag behind the row.
SET LOCAL ROLE "any-doc";
INSERT INTO clin.suppressed_hint (fk_encounter, fk_hint, rationale, md5_sum)
SELECT :enc, pk_auto_hint, 'reviewed with the GP on Monday', md5_sum
  FROM ref.v_auto_hints WHERE title = 'Legemiddelgjennomgang skal gjøres';
RESET ROLE;
SELECT is((SELECT count(*)::int FROM careflags.flag f
            WHERE f.flag_id = ANY ((SELECT flag_ids FROM careflags.actions WHERE patient_id = :pid AND action = 'medication_review')::bigint[])
              AND f.acknowledged_at IS NULL), 0,
          'suppressing the medication-review hint acknowledged every flag behind its row');
SET LOCAL ROLE "any-doc";
SELECT is((SELECT count(*)::int FROM clin.get_hints_for_patient(:pat) WHERE title = 'Legemiddelgjennomgang skal gjøres' AND rationale4suppression IS NULL),
          0, 'and GNUmed no longer shows it');
SELECT is((SELECT count(*)::int FROM clin.get_hints_for_patient(:pat) WHERE source = 'careflags' AND rationale4suppression IS NULL),
          (SELECT count(*)::int - 1 FROM shown WHERE lang = 'nb'), 'the other hints stay');
RESET ROLE;

SET CONSTRAINTS ALL IMMEDIATE;
SELECT * FROM finish();
ROLLBACK;
\else
-- TAP "skip all": pg_prove reports the file as skipped, with the reason.
\echo 1..0 # SKIP GNUmed database unavailable: :gm_status
\endif
