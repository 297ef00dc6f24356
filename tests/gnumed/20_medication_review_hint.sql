-- tests/gnumed/20_medication_review_hint.sql - an intake of a
-- fall-risk-increasing drug plus a high Morse Fall Scale score, written the
-- way GNUmed's client writes them, raise the medication-review hint; a
-- recorded medication review (a GNUmed procedure) clears it.
\set gm_status `cat "$PGHOST/careflags_gnumed.status" 2>/dev/null || echo 'not prepared: tests/gnumed/setup.sh did not run'`
SELECT :'gm_status' = 'ready' AS gm_ready \gset
\if :gm_ready
\c gnumed_v22
SET default_transaction_read_only = off;
BEGIN;
SELECT plan(14);
\ir fixture.psql

-- The site maps a bootstrapped substance that carries no ATC (a DBA's edit).
RESET ROLE;
INSERT INTO careflags_gnumed.substance_atc (substance_pattern, atc, comment)
VALUES ('amitriptyline', 'N06AA09', 'GNUmed''s substance list carries no ATC for it');
SET LOCAL ROLE "any-doc";

-- Admission tasks are done on day 1, so only the fall/FRID rules speak.
INSERT INTO clin.procedure (fk_encounter, fk_episode, narrative, fk_org_unit)
VALUES (:enc, :epi, 'Medication review (legemiddelgjennomgang) at admission', :unit) RETURNING pk AS rev1 \gset
UPDATE clin.procedure SET clin_when = now() - interval '9 days' WHERE pk = :rev1;

-- The intake: the client makes a (fake) product for the substance's dose,
-- links the component and records the intake, then sets its start.
INSERT INTO ref.drug_product (description, preparation, is_fake)
VALUES ('Amitriptyline 25 mg', 'tablet', true) RETURNING pk AS product \gset
INSERT INTO ref.lnk_dose2drug (fk_drug_product, fk_dose)
VALUES (:product, (SELECT d.pk FROM ref.dose d JOIN ref.substance s ON s.pk = d.fk_substance
                    WHERE s.description = 'Amitriptyline' ORDER BY d.pk LIMIT 1))
RETURNING pk AS component \gset
INSERT INTO clin.substance_intake (fk_encounter, fk_episode, fk_drug_component, intake_is_approved_of, schedule, is_long_term)
VALUES (:enc, :epi, :component, true, '0-0-0-1', true) RETURNING pk AS intake \gset
UPDATE clin.substance_intake SET clin_when = now() - interval '8 days' WHERE pk = :intake;

-- The Morse Fall Scale total, under its LOINC, as a test result.
INSERT INTO clin.test_type (fk_test_org, name, abbrev, loinc, reference_unit)
VALUES (:test_org, 'Morse Fall Scale total', 'Morse', '59460-6', '{score}') RETURNING pk AS morse \gset
INSERT INTO clin.test_result (fk_encounter, fk_episode, fk_type, val_num, val_unit, fk_intended_reviewer)
VALUES (:enc, :epi, :morse, 60, '{score}', :staff) RETURNING pk AS res \gset
UPDATE clin.test_result SET clin_when = now() - interval '2 days' WHERE pk = :res;

RESET ROLE;
SELECT results_eq(
    $$SELECT atc, name, status::text, as_needed, stopped_at IS NULL FROM careflags.medication
       WHERE source_system = 'gnumed' AND source_key = 'substance_intake/$$ || :intake || $$'$$,
    $$VALUES ('N06AA09', 'Amitriptyline', 'active', false, true)$$,
    'the intake is an active regular medicine with the site-mapped ATC');
SELECT is((SELECT started_at FROM careflags.medication WHERE source_system = 'gnumed' AND source_key = 'substance_intake/' || :intake),
          (SELECT clin_when FROM clin.substance_intake WHERE pk = :intake),
          'the medicine starts when the client''s UPDATE says, not at the INSERT');
SELECT results_eq(
    $$SELECT instrument::text, total, at_risk FROM careflags.assessment
       WHERE source_system = 'gnumed' AND source_key = 'test_result/$$ || :res || $$'$$,
    $$VALUES ('morse', 60::numeric, true)$$,
    'the Morse total 60 (LOINC 59460-6) is a high fall-risk assessment');
SELECT ok(EXISTS (SELECT FROM careflags.flag f JOIN careflags.patient p USING (patient_id)
                   WHERE p.source_system = 'gnumed' AND p.source_key = :'pat' AND f.resolved_at IS NULL
                     AND f.rule_id = 'medication_review.fall_risk_drugs'),
          'the core raised medication_review.fall_risk_drugs');

SET LOCAL ROLE "any-doc";
CREATE TEMP TABLE hints AS SELECT * FROM clin.get_hints_for_patient(:pat);
SELECT is((SELECT count(*)::int FROM hints WHERE title = 'Legemiddelgjennomgang skal gjøres'), 1,
          'clin.get_hints_for_patient returns the medication-review hint');
SELECT is((SELECT source FROM hints WHERE title = 'Legemiddelgjennomgang skal gjøres'), 'careflags', 'with source "careflags"');
SELECT matches((SELECT recommendation FROM hints WHERE title = 'Legemiddelgjennomgang skal gjøres'),
               '^Legemiddelgjennomgang: .*\mbruker [^ ]+ ved høy fallrisiko\M.* Frist [0-9]+\. [a-zæøå]+\.?\n(Over fristen|Innen fristen|Frist snart)\.$',
               'its per-patient text says why (a fall-risk drug with a high fall risk), by when, and the state');
SELECT is((SELECT count(*)::int FROM hints WHERE title = 'Plan for fallforebygging skal lages'), 1,
          'the high score without a prevention plan also shows the fall-prevention-plan hint');

-- Without the intake there is no FRID: deleting it clears the flag.
SAVEPOINT before_delete;
DELETE FROM clin.substance_intake WHERE pk = :intake;
SELECT is((SELECT count(*)::int FROM clin.get_hints_for_patient(:pat) WHERE title = 'Legemiddelgjennomgang skal gjøres'), 0,
          'deleting the intake (no FRID left) clears the medication-review hint');
ROLLBACK TO SAVEPOINT before_delete;

-- The doctor reviews the medicines and records it as a procedure.
INSERT INTO clin.procedure (fk_encounter, fk_episode, narrative, fk_org_unit)
VALUES (:enc, :epi, 'Medication review', :unit) RETURNING pk AS rev2 \gset
UPDATE clin.procedure SET clin_when = now() - interval '1 hour' WHERE pk = :rev2;

RESET ROLE;
SELECT is((SELECT count(*)::int FROM careflags.medication_review
            WHERE source_system = 'gnumed' AND source_key IN ('procedure/' || :rev1, 'procedure/' || :rev2)), 2,
          'both procedures are medication reviews');
SELECT ok(NOT EXISTS (SELECT FROM careflags.flag f JOIN careflags.patient p USING (patient_id)
                       WHERE p.source_system = 'gnumed' AND p.source_key = :'pat' AND f.resolved_at IS NULL
                         AND f.rule_id = 'medication_review.fall_risk_drugs'),
          'the review resolves medication_review.fall_risk_drugs');
SET LOCAL ROLE "any-doc";
SELECT is((SELECT count(*)::int FROM clin.get_hints_for_patient(:pat) WHERE title = 'Legemiddelgjennomgang skal gjøres'), 0,
          'after the review clin.get_hints_for_patient no longer returns the medication-review hint');

RESET ROLE;
SELECT is((SELECT count(*)::int FROM careflags.quarantine WHERE source_system = 'gnumed'
             AND recorded_at >= transaction_timestamp()), 0, 'nothing was quarantined');
SELECT lives_ok('SET CONSTRAINTS ALL IMMEDIATE', 'GNUmed''s deferred checks (drug product, components) pass');
SELECT * FROM finish();
ROLLBACK;
\else
-- TAP "skip all": pg_prove reports the file as skipped, with the reason.
\echo 1..0 # SKIP GNUmed database unavailable: :gm_status
\endif
