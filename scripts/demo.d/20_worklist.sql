-- Demo step 20: what a nurse on the long-term ward sees, and a flag appearing
-- the moment the record changes.
\set QUIET 1
SET client_min_messages = warning;
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'demo_nurse_solsiden') THEN
        CREATE ROLE demo_nurse_solsiden IN ROLE careflags_nurse;
    END IF;
END $$;
INSERT INTO careflags.unit_access (unit_id, role) VALUES ('solsiden-lang', 'demo_nurse_solsiden');

\echo
\echo '== Open flags by rule and state (all units) =='
SELECT rule_id, count(*) FILTER (WHERE state = 'overdue') AS overdue, count(*) FILTER (WHERE state = 'due') AS due,
       count(*) FILTER (WHERE state = 'due_soon') AS due_soon
  FROM careflags.worklist GROUP BY rule_id ORDER BY rule_id;

\echo
\echo '== Worklist of a nurse on Solsiden long-term ward (careflags.worklist shows her units only) =='
SET ROLE demo_nurse_solsiden;
SELECT patient, title, state, to_char(due_at AT TIME ZONE 'Europe/Oslo', 'DD.MM.YYYY') AS due, reason
  FROM careflags.worklist LIMIT 12;
SELECT count(*) AS flags_on_her_worklist, count(DISTINCT unit_id) AS units_visible FROM careflags.worklist;
RESET ROLE;

\echo
\echo '== A new resident is admitted: flags appear with the write =='
INSERT INTO careflags.patient (source_system, source_key, display_name, birth_date, sex)
     VALUES ('demo', 'new', 'Sigrid Demo', '1938-04-02', 'female');
INSERT INTO careflags.episode (patient_id, source_system, source_key, setting, unit_id, started_at)
     SELECT patient_id, 'demo', 'e-new', 'nursing_home_long_term', 'solsiden-lang', now() - interval '2 days'
       FROM careflags.patient WHERE source_key = 'new';
SELECT rule_id, state, reason FROM careflags.worklist WHERE patient = 'Sigrid Demo';

\echo
\echo '== The nurse records an MST screening (at risk): the screening flag clears, a plan is asked for =='
INSERT INTO careflags.assessment (patient_id, source_system, source_key, instrument, assessed_at, items)
     SELECT patient_id, 'demo', 'mst-new', 'mst', now(), '{"weight_loss": "6_to_10_kg", "eating_less": true}'
       FROM careflags.patient WHERE source_key = 'new';
SELECT a.total, a.band, a.at_risk FROM careflags.assessment a WHERE a.source_key = 'mst-new';
SELECT rule_id, state, reason FROM careflags.worklist WHERE patient = 'Sigrid Demo';

\echo
\echo '== She acknowledges the medication-review flag; the audit chain verifies =='
SET ROLE demo_nurse_solsiden;
SELECT careflags.acknowledge(flag_id, 'doctor asked to review on Thursday') AS audit_id
  FROM careflags.worklist WHERE patient = 'Sigrid Demo' AND rule_id = 'medication_review.admission';
RESET ROLE;
SELECT * FROM careflags.verify_audit();
SELECT count(*) AS consistency_differences FROM careflags.check_consistency();
