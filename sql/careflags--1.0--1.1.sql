-- careflags 1.0 -> 1.1 (ALTER EXTENSION careflags UPDATE TO '1.1').
--
-- 1. pg_dump saves careflags.patient_state.  In 1.0 it did not: a restore
--    (which loads the saved flags and does not re-evaluate) left it empty,
--    so the background worker no longer knew when a patient's flags change
--    with time alone (an exemption ending, a birthday, a future-dated fact)
--    until the next write or recompute_all()
--    (tests/reliability/40_dump_restore.sql).
-- 2. Every object has a comment: the type sex, three trigger functions and
--    the twelve identity sequences that 1.0 left without one, so that \dT+,
--    \df+, \ds+ and pg_description tell a DBA what each is.
-- No row, rule, flag, audit row or site customisation is touched.  The same
-- changes are in the 1.1 install script (sql/parts/), so an upgraded
-- database and a fresh 1.1 one are alike (tests/reliability/50_upgrade.sql
-- compares them).
\echo Use "ALTER EXTENSION careflags UPDATE TO '1.1'" to load this file. \quit

SELECT pg_catalog.pg_extension_config_dump('careflags.patient_state', '');

COMMENT ON TYPE careflags.sex IS 'a patient''s sex as the record gives it (reports break indicators down by it; the extract carries it)';

COMMENT ON FUNCTION careflags.rule_remember_change() IS
    'AFTER trigger on careflags.rule: keeps each site edit of a rule (whole row) in careflags.rule_site_change; refuses to delete a default rule';
COMMENT ON FUNCTION careflags.rule_apply_change() IS
    'AFTER INSERT trigger on careflags.rule_site_change: re-applies a saved site edit to careflags.rule (pg_restore)';
COMMENT ON FUNCTION careflags.audit_is_append_only() IS
    'BEFORE UPDATE/DELETE/TRUNCATE trigger on careflags.audit: refuses every change (the audit is append-only)';

COMMENT ON SEQUENCE careflags.patient_patient_id_seq IS 'ids of careflags.patient (saved by pg_dump)';
COMMENT ON SEQUENCE careflags.episode_episode_id_seq IS 'ids of careflags.episode (saved by pg_dump)';
COMMENT ON SEQUENCE careflags.assessment_assessment_id_seq IS 'ids of careflags.assessment (saved by pg_dump)';
COMMENT ON SEQUENCE careflags.measurement_measurement_id_seq IS 'ids of careflags.measurement (saved by pg_dump)';
COMMENT ON SEQUENCE careflags.medication_medication_id_seq IS 'ids of careflags.medication (saved by pg_dump)';
COMMENT ON SEQUENCE careflags.medication_review_review_id_seq IS 'ids of careflags.medication_review (saved by pg_dump)';
COMMENT ON SEQUENCE careflags.care_plan_plan_id_seq IS 'ids of careflags.care_plan (saved by pg_dump)';
COMMENT ON SEQUENCE careflags.fall_fall_id_seq IS 'ids of careflags.fall (saved by pg_dump)';
COMMENT ON SEQUENCE careflags.exemption_exemption_id_seq IS 'ids of careflags.exemption (saved by pg_dump)';
COMMENT ON SEQUENCE careflags.quarantine_quarantine_id_seq IS 'ids of careflags.quarantine (saved by pg_dump)';
COMMENT ON SEQUENCE careflags.flag_flag_id_seq IS 'ids of careflags.flag (saved by pg_dump)';
COMMENT ON SEQUENCE careflags.audit_id_seq IS 'audit ids, taken under the audit lock so that they follow the chain (saved by pg_dump)';
