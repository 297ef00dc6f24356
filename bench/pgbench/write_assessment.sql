-- one MST screening for a random patient (bench/harness.sh, single-row writes)
\set p random(1, :patients)
\set total random(0, 5)
\set ago random(0, 2592000)
INSERT INTO careflags.assessment (patient_id, source_system, instrument, assessed_at, total)
VALUES (:p::bigint, 'bench_write', 'mst', pg_catalog.to_timestamp(:anchor_epoch::bigint - :ago::bigint), :total::numeric);
