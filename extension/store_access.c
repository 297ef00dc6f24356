/*-------------------------------------------------------------------------
 *
 * store_access.c
 *	  careflags.run_as_owner(target regclass, statement text,
 *	  VARIADIC args text[]): run one statement that reads or writes a record
 *	  system's table with the rights of that table's owner, never more.
 *
 *	  Why: a plugin (careflags_fhir, careflags_gnumed) writes into the record
 *	  system's own tables (a FHIR "Flag", a GNUmed hint) from SECURITY DEFINER
 *	  functions owned by the extension owner, a superuser.  Everything the
 *	  record system attached to its table -- triggers, rules, column
 *	  defaults, CHECK constraints, index expressions, its column types' and
 *	  domains' functions, a view put in the table's place -- runs as the
 *	  current user, and so would run as the superuser.  An application role
 *	  owning its tables would become superuser by adding a trigger.
 *
 *	  What it does: as PostgreSQL does for maintenance commands (VACUUM,
 *	  CREATE INDEX, REFRESH MATERIALIZED VIEW), the statement runs after
 *	  SetUserIdAndSecContext(owner of target, SECURITY_LOCAL_USERID_CHANGE |
 *	  SECURITY_RESTRICTED_OPERATION), with search_path pinned to
 *	  pg_catalog, pg_temp, in its own GUC nesting level:
 *	  - every piece of the store's code runs as the store's owner;
 *	  - inside, SET ROLE / SET SESSION AUTHORIZATION, temporary objects,
 *		cursors WITH HOLD, LISTEN and deferred triggers (which would run
 *		later, as whoever commits) are refused by PostgreSQL;
 *	  - the user id, security context and settings are restored afterwards,
 *		and by transaction or subtransaction abort when the statement fails.
 *
 *	  Rules a caller can rely on:
 *	  - It never gives anyone more rights: the calling role must already
 *		have the privileges of the target's owner (has_privs_of_role), so a
 *		superuser or the owner itself may switch to the owner, nobody else.
 *		It is not executable by PUBLIC either; the plugins' SECURITY DEFINER
 *		functions call it as the extension owner.
 *	  - One statement only, and only SELECT, INSERT, UPDATE or DELETE (with
 *		RETURNING as needed): it is for reading and writing records, not DDL.
 *	  - Parameters are text ($1, $2, ...); the statement casts them
 *		($1::uuid).  A NULL element is an SQL NULL.
 *	  - The result is one text[] per row (the output of each column,
 *		computed while still running as the owner): SELECT rows, or the
 *		RETURNING rows of a write; none for a write without RETURNING.
 *	  - The target is the table (or view) whose owner's rights are used; the
 *		statement should touch that table.  Resolve it by name at each call
 *		(to_regclass), so a table replaced by another object is run as the
 *		owner of what is there now.
 *	  - If the owner is a superuser, the store's code runs as a superuser:
 *		that owner could run anything anyway.  Roles the owner granted
 *		TRIGGER on can add code that runs as the owner; a plugin's setup
 *		should refuse such a store (careflags_fhir.setup() does).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

/*
 * The owner of target, after checking that it is a table-like relation and
 * that the calling role already has the owner's privileges.
 */
static Oid
store_owner(Oid relid)
{
	HeapTuple	tuple;
	Form_pg_class form;
	Oid			owner;
	char		relkind;

	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	form = (Form_pg_class) GETSTRUCT(tuple);
	owner = form->relowner;
	relkind = form->relkind;
	ReleaseSysCache(tuple);

	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE &&
		relkind != RELKIND_VIEW && relkind != RELKIND_FOREIGN_TABLE &&
		relkind != RELKIND_MATVIEW)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table or view", get_rel_name(relid))));

	if (!has_privs_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to run a statement as the owner of \"%s\"",
						get_rel_name(relid)),
				 errdetail("Role \"%s\" does not have the privileges of role \"%s\".",
						   GetUserNameFromId(GetUserId(), false),
						   GetUserNameFromId(owner, false)),
				 errhint("careflags.run_as_owner() only ever lowers rights.")));
	return owner;
}

/* Refuses anything but a single SELECT, INSERT, UPDATE or DELETE. */
static void
check_statement(const char *sql)
{
	List	   *parsed = raw_parser(sql, RAW_PARSE_DEFAULT);
	Node	   *stmt;

	if (list_length(parsed) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("careflags.run_as_owner() runs exactly one statement"),
				 errdetail("Found %d.", list_length(parsed))));
	stmt = linitial_node(RawStmt, parsed)->stmt;
	if (!IsA(stmt, SelectStmt) && !IsA(stmt, InsertStmt) &&
		!IsA(stmt, UpdateStmt) && !IsA(stmt, DeleteStmt))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("careflags.run_as_owner() runs SELECT, INSERT, UPDATE or DELETE only")));
}

/*
 * Runs sql with the text parameters args as owner (restricted operation),
 * appending one text[] per result row to tupstore.
 */
static void
run_restricted(Oid owner, const char *sql, ArrayType *args,
			   Tuplestorestate *tupstore, TupleDesc tupdesc)
{
	Datum	   *elems = NULL;
	bool	   *elem_nulls = NULL;
	int			nargs = 0;
	Oid		   *types;
	char	   *nulls;
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
	int			rc;
	MemoryContext cxt = CurrentMemoryContext;

	if (args != NULL)
	{
		if (ARR_NDIM(args) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("the parameters must be a one-dimensional array")));
		deconstruct_array(args, TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &elem_nulls, &nargs);
	}
	types = palloc(sizeof(Oid) * (nargs + 1));
	nulls = palloc(nargs + 1);
	for (int i = 0; i < nargs; i++)
	{
		types[i] = TEXTOID;
		nulls[i] = elem_nulls[i] ? 'n' : ' ';
	}

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args(sql, nargs, types, elems, nulls, false, 0);
	if (rc < 0)
		elog(ERROR, "careflags.run_as_owner: SPI_execute_with_args returned %d", rc);

	/* Output functions of the result columns also run as the owner. */
	if (SPI_tuptable != NULL)
	{
		TupleDesc	desc = SPI_tuptable->tupdesc;

		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	row = SPI_tuptable->vals[r];
			Datum	   *cols = palloc(sizeof(Datum) * Max(desc->natts, 1));
			bool	   *colnulls = palloc(sizeof(bool) * Max(desc->natts, 1));
			int			dims[1];
			int			lbs[1] = {1};
			ArrayType  *arr;
			Datum		value;
			bool		isnull = false;
			MemoryContext spi_cxt = MemoryContextSwitchTo(cxt);

			for (int c = 0; c < desc->natts; c++)
			{
				char	   *s = SPI_getvalue(row, desc, c + 1);

				colnulls[c] = (s == NULL);
				cols[c] = s ? CStringGetTextDatum(s) : (Datum) 0;
			}
			dims[0] = desc->natts;
			arr = construct_md_array(cols, colnulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT);
			value = PointerGetDatum(arr);
			tuplestore_putvalues(tupstore, tupdesc, &value, &isnull);
			MemoryContextSwitchTo(spi_cxt);
		}
	}
	SPI_finish();

	AtEOXact_GUC(false, save_nestlevel);
	SetUserIdAndSecContext(save_userid, save_sec_context);
}

/* careflags.run_as_owner(target regclass, statement text, VARIADIC args text[]) */
PG_FUNCTION_INFO_V1(careflags_run_as_owner);
Datum
careflags_run_as_owner(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			owner;
	char	   *sql;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the target and the statement must not be null")));
	owner = store_owner(PG_GETARG_OID(0));
	sql = text_to_cstring(PG_GETARG_TEXT_PP(1));
	check_statement(sql);

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	run_restricted(owner, sql, PG_ARGISNULL(2) ? NULL : PG_GETARG_ARRAYTYPE_P(2),
				   rsinfo->setResult, rsinfo->setDesc);
	return (Datum) 0;
}
