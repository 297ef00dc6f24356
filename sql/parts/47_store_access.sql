-- sql/parts/47_store_access.sql - a record store's code runs as its owner.
\echo Use "CREATE EXTENSION careflags" to load this file. \quit

-- Plugins write into the record system's own tables (a FHIR "Flag", a GNUmed
-- hint) and read them; whatever the record system attached to those tables
-- (triggers, rules, defaults, index expressions, its types' functions, a
-- view in the table's place) must run with its owner's rights, not with the
-- extension owner's (extension/store_access.c).
CREATE FUNCTION @extschema@.run_as_owner(target regclass, statement text, VARIADIC args text[] DEFAULT '{}')
    RETURNS SETOF text[]
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'careflags_run_as_owner';
COMMENT ON FUNCTION @extschema@.run_as_owner(regclass, text, text[]) IS
    'runs one SELECT/INSERT/UPDATE/DELETE (text parameters $1.., cast in the statement) as the owner of target, in a security-restricted operation with search_path pg_catalog, pg_temp; returns each result row as text[]; only for roles that already have the owner''s privileges (it never raises rights); for plugins writing a record system''s tables';
REVOKE ALL ON FUNCTION @extschema@.run_as_owner(regclass, text, text[]) FROM PUBLIC;
