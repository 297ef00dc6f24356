/*-------------------------------------------------------------------------
 *
 * owner.c
 *	  The extension-owner context: careflags' work on its own tables runs as
 *	  the extension owner with search_path pinned to pg_catalog, pg_temp (the
 *	  C equivalent of SECURITY DEFINER SET search_path), so a record system's
 *	  role that may write facts needs no rights on careflags.flag, and
 *	  nothing on its search_path is called.
 *
 *	  The context also turns sequential scans and JIT off for careflags'
 *	  per-patient statements (see cf_enter_owner_context()).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "careflags.h"
#include "owner.h"

/*
 * The extension's owner, looked up once per installation: the cache is kept
 * while the careflags schema (a member of the extension, so dropped and made
 * anew with it) keeps its oid, which costs a syscache probe per call instead
 * of a pg_extension scan.
 */
Oid
cf_extension_owner(void)
{
	static Oid	owner = InvalidOid;
	static Oid	owner_nsp = InvalidOid;
	Oid			nsp = get_namespace_oid(CF_SCHEMA, true);
	Oid			cur;

	if (OidIsValid(nsp) && nsp == owner_nsp && OidIsValid(owner))
		return owner;
	cur = get_extension_oid("careflags", true);
	if (!OidIsValid(cur) || !OidIsValid(nsp))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"careflags\" is not installed in this database")));
	{
		int			ret;
		bool		isnull;
		Datum		d;
		Oid			argtypes[1] = {OIDOID};
		Datum		values[1] = {ObjectIdGetDatum(cur)};

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		ret = SPI_execute_with_args("SELECT extowner FROM pg_catalog.pg_extension WHERE oid OPERATOR(pg_catalog.=) $1",
									1, argtypes, values, NULL, true, 1);
		if (ret != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "could not find the owner of extension careflags");
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		owner = DatumGetObjectId(d);
		owner_nsp = nsp;
		SPI_finish();
	}
	return owner;
}

/* Switch to the extension owner with search_path pinned (see owner.h). */
void
cf_enter_owner_context(CfOwnerContext *ctx)
{
	Oid			owner = cf_extension_owner();

	GetUserIdAndSecContext(&ctx->save_userid, &ctx->save_sec_context);
	SetUserIdAndSecContext(owner, ctx->save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	ctx->save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);

	/*
	 * careflags' statements touch one patient's rows through an index led by
	 * patient_id.  Their plans are prepared once per backend and kept, and
	 * are (re)built when first executed; a plan made while a table was small
	 * (or had no statistics, as in the transaction that loads it) must not
	 * stay a sequential scan as the table grows, so sequential scans are
	 * ruled out whenever they may be planned.
	 */
	(void) set_config_option("enable_seqscan", "off",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	/* ... which makes small scans look expensive: never JIT-compile them */
	(void) set_config_option("jit", "off",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
}

/* Restore the settings and the user saved by cf_enter_owner_context(). */
void
cf_leave_owner_context(CfOwnerContext *ctx)
{
	AtEOXact_GUC(true, ctx->save_nestlevel);
	SetUserIdAndSecContext(ctx->save_userid, ctx->save_sec_context);
}
