-- careflags 1.2 -> 1.3 (ALTER EXTENSION careflags UPDATE TO '1.3').
--
-- Exactly what sql/parts/ gained since 1.2, so that an upgraded database and
-- a fresh 1.3 one are alike object by object (tests/reliability/50_upgrade.sql).
-- No flag, audit row or site customisation is lost.
\echo Use "ALTER EXTENSION careflags UPDATE TO '1.3'" to load this file. \quit

-- ==== a record store's code runs as its owner: run_as_owner() (issue 13) ====
CREATE FUNCTION careflags.run_as_owner(target regclass, statement text, VARIADIC args text[] DEFAULT '{}')
    RETURNS SETOF text[]
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'careflags_run_as_owner';
COMMENT ON FUNCTION careflags.run_as_owner(regclass, text, text[]) IS
    'runs one SELECT/INSERT/UPDATE/DELETE (text parameters $1.., cast in the statement) as the owner of target, in a security-restricted operation with search_path pg_catalog, pg_temp; returns each result row as text[]; only for roles that already have the owner''s privileges (it never raises rights); for plugins writing a record system''s tables';
REVOKE ALL ON FUNCTION careflags.run_as_owner(regclass, text, text[]) FROM PUBLIC;
