-- one weight for a random patient (bench/harness.sh, single-row writes)
\set p random(1, :patients)
\set kg random(400, 1100)
\set ago random(0, 2592000)
INSERT INTO careflags.measurement (patient_id, source_system, kind, value, measured_at)
VALUES (:p::bigint, 'bench_write', 'weight', :kg::numeric / 10.0, pg_catalog.to_timestamp(:anchor_epoch::bigint - :ago::bigint));
