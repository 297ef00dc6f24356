-- one medicine started for a random patient (bench/harness.sh, single-row writes)
\set p random(1, :patients)
\set ago random(0, 2592000)
INSERT INTO careflags.medication (patient_id, source_system, atc, name, started_at)
VALUES (:p::bigint, 'bench_write', 'N05CF01', 'zopiclone', pg_catalog.to_timestamp(:anchor_epoch::bigint - :ago::bigint));
