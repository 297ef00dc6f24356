-- careflags 1.1 -> 1.2 (ALTER EXTENSION careflags UPDATE TO '1.2').
--
-- Evaluation by the background worker: with careflags.evaluate_in_worker on,
-- a statement that writes facts queues its patients in the new table
-- careflags.evaluation_queue instead of evaluating them itself, and the
-- worker evaluates them right after the writing transaction commits (for
-- write-heavy record systems; see the README).
-- The evaluator reads a patient's medicines through an index on
-- (patient_id, stopped_at) instead of (patient_id), so that the medicines
-- stopped long ago are not read at every evaluation.
-- No row, rule, flag, audit row or site customisation is touched.  The same
-- objects are in the 1.2 install script (sql/parts/), so an upgraded
-- database and a fresh 1.2 one are alike (tests/reliability/50_upgrade.sql).
\echo Use "ALTER EXTENSION careflags UPDATE TO '1.2'" to load this file. \quit

CREATE TABLE careflags.evaluation_queue (
    queued_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    patient_ids bigint[] NOT NULL
);
COMMENT ON TABLE careflags.evaluation_queue IS
    'patients whose facts committed transactions changed, waiting for the background worker to evaluate them (careflags.evaluate_in_worker); empty when the worker keeps up';
SELECT pg_catalog.pg_extension_config_dump('careflags.evaluation_queue', '');
GRANT SELECT ON careflags.evaluation_queue TO careflags_admin;

CREATE INDEX medication_patient_stop ON careflags.medication (patient_id, stopped_at);
DROP INDEX careflags.medication_patient;
