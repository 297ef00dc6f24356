-- bench/results.sql - where the harness writes its figures (schema bench).
\set ON_ERROR_STOP 1
CREATE SCHEMA IF NOT EXISTS bench;

CREATE TABLE IF NOT EXISTS bench.result (
    result_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    step        text NOT NULL,
    what        text NOT NULL,
    metric      text NOT NULL,
    value       numeric,
    unit        text,
    detail      text,
    load        text NOT NULL DEFAULT pg_catalog.btrim(pg_catalog.split_part(pg_catalog.pg_read_file('/proc/loadavg'), ' ', 1))
);
COMMENT ON TABLE bench.result IS 'figures of bench/load.sh and bench/harness.sh: step, what was measured, metric, value, unit, detail, 1-minute load average then';

CREATE OR REPLACE FUNCTION bench.record(step text, what text, metric text, value numeric, unit text, detail text)
    RETURNS void LANGUAGE sql
    BEGIN ATOMIC
        INSERT INTO bench.result (step, what, metric, value, unit, detail) VALUES (step, what, metric, value, unit, detail);
    END;
COMMENT ON FUNCTION bench.record(text, text, text, numeric, text, text) IS 'append one figure to bench.result';
