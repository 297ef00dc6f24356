/*-------------------------------------------------------------------------
 *
 * audit.c
 *	  What a nurse does with a flag - acknowledge, snooze, exempt - and the
 *	  tamper-evident audit of it.
 *
 *	  Each action first looks the flag up as the caller, through row-level
 *	  security, so a nurse acts only on flags of her units; the writes are
 *	  then done as the extension owner (the caller has no write rights on
 *	  careflags.flag or careflags.audit).  No SECURITY DEFINER function is
 *	  needed, and the actor recorded is the calling role.
 *
 *	  The audit is a hash chain: hash = SHA-256(prev_hash, audit_id,
 *	  patient_id, flag_id, acted_at, action, actor, detail), each field
 *	  length-prefixed.  Appends are serialised by a SHARE ROW EXCLUSIVE lock
 *	  on careflags.audit (actions are rare; fact writes never take it).
 *	  careflags.audit_head keeps the end of the chain, so removing the last
 *	  rows is noticed as well.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/evp.h>

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "audit.h"
#include "careflags.h"
#include "flags.h"

#define HASH_LEN 32

typedef struct FlagRow
{
	int64		patient_id;
	char	   *rule_id;
	bool		open;
	Interval   *max_snooze;
} FlagRow;

static void
put_u64(EVP_MD_CTX *ctx, uint64 v)
{
	unsigned char b[8];

	for (int i = 7; i >= 0; i--)
	{
		b[i] = (unsigned char) (v & 0xff);
		v >>= 8;
	}
	EVP_DigestUpdate(ctx, b, 8);
}

static void
put_bytes(EVP_MD_CTX *ctx, const void *p, size_t len)
{
	put_u64(ctx, (uint64) len);
	if (len > 0)
		EVP_DigestUpdate(ctx, p, len);
}

static void
chain_hash(const unsigned char *prev, size_t prev_len, int64 audit_id, int64 patient_id,
		   int64 flag_id, TimestampTz at, const char *action, const char *actor,
		   const char *detail, unsigned char *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len = 0;
	static const char domain[] = "careflags-audit-v1";

	if (ctx == NULL ||
		EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
	{
		if (ctx)
			EVP_MD_CTX_free(ctx);
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("careflags: OpenSSL could not start a SHA-256 digest")));
	}
	put_bytes(ctx, domain, sizeof(domain) - 1);
	put_bytes(ctx, prev, prev_len);
	put_u64(ctx, (uint64) audit_id);
	put_u64(ctx, (uint64) patient_id);
	put_u64(ctx, (uint64) flag_id);
	put_u64(ctx, (uint64) at);
	put_bytes(ctx, action, strlen(action));
	put_bytes(ctx, actor, strlen(actor));
	put_bytes(ctx, detail, strlen(detail));
	if (EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != HASH_LEN)
	{
		EVP_MD_CTX_free(ctx);
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("careflags: OpenSSL could not finish a SHA-256 digest")));
	}
	EVP_MD_CTX_free(ctx);
}

static bytea *
to_bytea(const unsigned char *p, size_t len)
{
	bytea	   *b = palloc(VARHDRSZ + len);

	SET_VARSIZE(b, VARHDRSZ + len);
	memcpy(VARDATA(b), p, len);
	return b;
}

/*
 * Look the flag up as the caller.  A role that may read careflags.flag
 * (careflags_admin, under row-level security) reads it there; a nurse, who
 * has no grant on the table since 1.3, reads careflags.my_flags (the open
 * flags of her units); on 1.2 objects she still reads the table under its
 * row-level security.
 */
static FlagRow
visible_flag(int64 flag_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(flag_id)};
	FlagRow		fr;
	bool		isnull;
	int			ret;
	Oid			nsp = get_namespace_oid(CF_SCHEMA, false);
	Oid			flag_rel = get_relname_relid("flag", nsp);
	bool		own_units = pg_class_aclcheck(flag_rel, GetUserId(), ACL_SELECT) != ACLCHECK_OK &&
		OidIsValid(get_relname_relid("my_flags", nsp));

	ret = SPI_execute_with_args(own_units ?
								"SELECT f.patient_id, f.rule_id, true, r.max_snooze "
								"FROM careflags.my_flags f JOIN careflags.rule r "
								"  ON r.rule_id OPERATOR(pg_catalog.=) f.rule_id "
								"WHERE f.flag_id OPERATOR(pg_catalog.=) $1" :
								"SELECT f.patient_id, f.rule_id, f.resolved_at IS NULL, r.max_snooze "
								"FROM careflags.flag f JOIN careflags.rule r "
								"  ON r.rule_id OPERATOR(pg_catalog.=) f.rule_id "
								"WHERE f.flag_id OPERATOR(pg_catalog.=) $1",
								1, types, values, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "careflags: could not read the flag");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("flag " INT64_FORMAT " does not exist or is not on one of your units", flag_id)));
	fr.patient_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	fr.rule_id = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	fr.open = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	fr.max_snooze = DatumGetIntervalP(datumCopy(SPI_getbinval(SPI_tuptable->vals[0],
															  SPI_tuptable->tupdesc, 4, &isnull),
												false, sizeof(Interval)));
	if (!fr.open)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("flag " INT64_FORMAT " is already resolved", flag_id)));
	return fr;
}

/* Append to the audit chain (as the owner); returns the audit id. */
static int64
audit_append(int64 patient_id, int64 flag_id, const char *action, const char *actor,
			 TimestampTz at, const char *detail_json)
{
	Datum		jb = DirectFunctionCall1(jsonb_in, CStringGetDatum(detail_json));
	char	   *detail = DatumGetCString(DirectFunctionCall1(jsonb_out, jb));
	unsigned char prev[HASH_LEN];
	size_t		prev_len = 0;
	int64		row_count = 0;
	int64		audit_id;
	unsigned char hash[HASH_LEN];
	bool		isnull;

	if (SPI_execute("LOCK TABLE careflags.audit IN SHARE ROW EXCLUSIVE MODE", false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "careflags: could not lock the audit");
	/* a fresh snapshot, taken after the lock: the head another session just wrote */
	if (SPI_execute("SELECT last_hash, row_count FROM careflags.audit_head", false, 1) != SPI_OK_SELECT)
		elog(ERROR, "careflags: could not read the audit head");
	if (SPI_processed == 1)
	{
		bytea	   *h = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

		prev_len = Min(VARSIZE_ANY_EXHDR(h), HASH_LEN);
		memcpy(prev, VARDATA_ANY(h), prev_len);
		row_count = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	}
	if (SPI_execute("SELECT pg_catalog.nextval('careflags.audit_id_seq')", false, 1) != SPI_OK_SELECT)
		elog(ERROR, "careflags: could not number the audit row");
	audit_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	chain_hash(prev, prev_len, audit_id, patient_id, flag_id, at, action, actor, detail, hash);

	{
		Oid			types[9] = {INT8OID, INT8OID, INT8OID, TEXTOID, NAMEOID, TIMESTAMPTZOID,
		JSONBOID, BYTEAOID, BYTEAOID};
		Datum		v[9];
		char		nulls[9] = "         ";

		v[0] = Int64GetDatum(audit_id);
		v[1] = Int64GetDatum(patient_id);
		v[2] = Int64GetDatum(flag_id);
		v[3] = CStringGetTextDatum(action);
		v[4] = DirectFunctionCall1(namein, CStringGetDatum(actor));
		v[5] = TimestampTzGetDatum(at);
		v[6] = jb;
		if (prev_len > 0)
			v[7] = PointerGetDatum(to_bytea(prev, prev_len));
		else
			nulls[7] = 'n';
		v[8] = PointerGetDatum(to_bytea(hash, HASH_LEN));
		if (SPI_execute_with_args("INSERT INTO careflags.audit (audit_id, patient_id, flag_id, action, actor, "
								  "acted_at, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
								  9, types, v, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "careflags: could not append to the audit");
	}
	{
		Oid			types[3] = {INT8OID, BYTEAOID, INT8OID};
		Datum		v[3] = {Int64GetDatum(audit_id), PointerGetDatum(to_bytea(hash, HASH_LEN)),
		Int64GetDatum(row_count + 1)};

		if (SPI_execute_with_args("INSERT INTO careflags.audit_head AS h (singleton, last_id, last_hash, row_count) "
								  "VALUES (true, $1, $2, $3) ON CONFLICT (singleton) DO UPDATE "
								  "SET last_id = EXCLUDED.last_id, last_hash = EXCLUDED.last_hash, row_count = EXCLUDED.row_count",
								  3, types, v, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "careflags: could not move the audit head");
	}
	return audit_id;
}

/*
 * A change careflags itself made to a resolved flag (reopened, resolution
 * corrected), appended to the audit chain: the actor is the session user
 * whose write or recomputation led to it.  SPI connected, as the owner.
 */
void
cf_audit_system_change(int64 patient_id, int64 flag_id, const char *action,
					   TimestampTz at, const char *detail_json)
{
	char	   *actor = GetUserNameFromId(GetSessionUserId(), false);

	(void) audit_append(patient_id, flag_id, action, actor, at, detail_json);
}

typedef struct ActionContext
{
	int			nestlevel;
	char	   *actor;
	TimestampTz now;
} ActionContext;

static void
begin_action(ActionContext *ac)
{
	ac->actor = GetUserNameFromId(GetUserId(), false);
	ac->now = cf_now();
	ac->nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

static void
end_action(ActionContext *ac)
{
	SPI_finish();
	AtEOXact_GUC(true, ac->nestlevel);
}

static char *
json_note(const char *key, const char *value)
{
	StringInfoData b;

	initStringInfo(&b);
	appendStringInfoChar(&b, '{');
	if (value != NULL)
	{
		escape_json(&b, key);
		appendStringInfoString(&b, ": ");
		escape_json(&b, value);
	}
	appendStringInfoChar(&b, '}');
	return b.data;
}

/* careflags.acknowledge(flag_id, note): the nurse has seen the flag. */
PG_FUNCTION_INFO_V1(careflags_acknowledge);
Datum
careflags_acknowledge(PG_FUNCTION_ARGS)
{
	int64		flag_id;
	char	   *note = PG_ARGISNULL(1) ? NULL : cf_bounded_text(PG_GETARG_TEXT_PP(1), "note");
	ActionContext ac;
	FlagRow		fr;
	CfOwnerContext oc;
	int64		audit_id;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("flag_id must not be NULL")));
	flag_id = PG_GETARG_INT64(0);

	begin_action(&ac);
	fr = visible_flag(flag_id);
	cf_enter_owner_context(&oc);
	{
		Oid			types[4] = {INT8OID, INT8OID, TIMESTAMPTZOID, NAMEOID};
		Datum		v[4] = {Int64GetDatum(fr.patient_id), Int64GetDatum(flag_id),
			TimestampTzGetDatum(ac.now), DirectFunctionCall1(namein, CStringGetDatum(ac.actor))};

		if (SPI_execute_with_args("UPDATE careflags.flag SET acknowledged_at = $3, acknowledged_by = $4 "
								  "WHERE patient_id OPERATOR(pg_catalog.=) $1 AND flag_id OPERATOR(pg_catalog.=) $2",
								  4, types, v, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "careflags: could not acknowledge");
	}
	audit_id = audit_append(fr.patient_id, flag_id, "acknowledge", ac.actor, ac.now,
							json_note("note", note));
	cf_leave_owner_context(&oc);
	end_action(&ac);
	PG_RETURN_INT64(audit_id);
}

/* careflags.snooze(flag_id, until, note): hide from the worklist for a while. */
PG_FUNCTION_INFO_V1(careflags_snooze);
Datum
careflags_snooze(PG_FUNCTION_ARGS)
{
	int64		flag_id;
	TimestampTz until;
	char	   *note = PG_ARGISNULL(2) ? NULL : cf_bounded_text(PG_GETARG_TEXT_PP(2), "note");
	ActionContext ac;
	FlagRow		fr;
	CfOwnerContext oc;
	int64		audit_id;
	TimestampTz limit;
	StringInfoData d;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("flag_id and until must not be NULL")));
	flag_id = PG_GETARG_INT64(0);
	until = PG_GETARG_TIMESTAMPTZ(1);

	begin_action(&ac);
	fr = visible_flag(flag_id);
	limit = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													TimestampTzGetDatum(ac.now),
													IntervalPGetDatum(fr.max_snooze)));
	if (until <= ac.now)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("snooze until %s is not in the future",
						DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(until))))));
	if (until > limit)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rule %s allows snoozing for at most %s", fr.rule_id,
						DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(fr.max_snooze)))),
				 errhint("Snooze until %s at the latest.",
						 DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(limit))))));

	cf_enter_owner_context(&oc);
	{
		Oid			types[3] = {INT8OID, INT8OID, TIMESTAMPTZOID};
		Datum		v[3] = {Int64GetDatum(fr.patient_id), Int64GetDatum(flag_id), TimestampTzGetDatum(until)};

		if (SPI_execute_with_args("UPDATE careflags.flag SET snoozed_until = $3 "
								  "WHERE patient_id OPERATOR(pg_catalog.=) $1 AND flag_id OPERATOR(pg_catalog.=) $2",
								  3, types, v, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "careflags: could not snooze");
	}
	initStringInfo(&d);
	appendStringInfo(&d, "{\"until\": \"%s\"",
					 DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(until))));
	if (note)
	{
		appendStringInfoString(&d, ", \"note\": ");
		escape_json(&d, note);
	}
	appendStringInfoChar(&d, '}');
	audit_id = audit_append(fr.patient_id, flag_id, "snooze", ac.actor, ac.now, d.data);
	cf_leave_owner_context(&oc);
	end_action(&ac);
	PG_RETURN_INT64(audit_id);
}

/* careflags.exempt(flag_id, reason, valid_until): not relevant for this patient. */
PG_FUNCTION_INFO_V1(careflags_exempt);
Datum
careflags_exempt(PG_FUNCTION_ARGS)
{
	int64		flag_id;
	char	   *reason;
	ActionContext ac;
	FlagRow		fr;
	CfOwnerContext oc;
	int64		audit_id;
	bool		blank = true;
	StringInfoData d;
	char		key[96];

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("flag_id and reason must not be NULL")));
	flag_id = PG_GETARG_INT64(0);
	reason = cf_bounded_text(PG_GETARG_TEXT_PP(1), "reason");
	for (char *p = reason; *p; p++)
		if (!isspace((unsigned char) *p))
			blank = false;
	if (blank)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an exemption needs a reason, e.g. \"end-of-life care\"")));

	begin_action(&ac);
	if (!PG_ARGISNULL(2) && PG_GETARG_TIMESTAMPTZ(2) <= ac.now)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("valid_until must be in the future")));
	fr = visible_flag(flag_id);
	cf_enter_owner_context(&oc);

	initStringInfo(&d);
	appendStringInfoString(&d, "{\"reason\": ");
	escape_json(&d, reason);
	if (!PG_ARGISNULL(2))
		appendStringInfo(&d, ", \"valid_until\": \"%s\"",
						 DatumGetCString(DirectFunctionCall1(timestamptz_out, PG_GETARG_DATUM(2))));
	appendStringInfoChar(&d, '}');
	audit_id = audit_append(fr.patient_id, flag_id, "exempt", ac.actor, ac.now, d.data);

	snprintf(key, sizeof(key), "audit/" INT64_FORMAT, audit_id);
	{
		Oid			types[7] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, NAMEOID};
		Datum		v[7];
		char		nulls[7] = "       ";

		v[0] = Int64GetDatum(fr.patient_id);
		v[1] = CStringGetTextDatum(key);
		v[2] = CStringGetTextDatum(fr.rule_id);
		v[3] = CStringGetTextDatum(reason);
		v[4] = TimestampTzGetDatum(ac.now);
		if (PG_ARGISNULL(2))
			nulls[5] = 'n';
		else
			v[5] = PG_GETARG_DATUM(2);
		v[6] = DirectFunctionCall1(namein, CStringGetDatum(ac.actor));
		if (SPI_execute_with_args("INSERT INTO careflags.exemption (patient_id, source_system, source_key, scope, "
								  "reason, valid_from, valid_until, recorded_by) "
								  "VALUES ($1, 'careflags', $2, $3, $4, $5, $6, $7)",
								  7, types, v, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "careflags: could not record the exemption");
	}
	cf_leave_owner_context(&oc);
	end_action(&ac);
	PG_RETURN_INT64(audit_id);
}

/* careflags.verify_audit(): walk the chain; report the first broken link. */
PG_FUNCTION_INFO_V1(careflags_verify_audit);
Datum
careflags_verify_audit(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		out[4];
	bool		outnull[4] = {false, false, true, true};
	unsigned char prev[HASH_LEN];
	size_t		prev_len = 0;
	int64		checked = 0;
	int64		broken = 0;
	char	   *problem = NULL;
	int64		last_id = 0;
	Portal		portal;
	CfOwnerContext oc;
	MemoryContext cxt = CurrentMemoryContext;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "careflags.verify_audit() must return a record");

	cf_enter_owner_context(&oc);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	portal = SPI_cursor_open_with_args(NULL,
									   "SELECT audit_id, patient_id, flag_id, action, actor::pg_catalog.text, acted_at, "
									   "detail::pg_catalog.text, prev_hash, hash FROM careflags.audit ORDER BY audit_id",
									   0, NULL, NULL, NULL, true, 0);
	while (problem == NULL)
	{
		SPI_cursor_fetch(portal, true, 1000);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed && problem == NULL; i++)
		{
			HeapTuple	t = SPI_tuptable->vals[i];
			TupleDesc	d = SPI_tuptable->tupdesc;
			bool		isnull,
						pnull,
						hnull;
			int64		id = DatumGetInt64(SPI_getbinval(t, d, 1, &isnull));
			int64		pid = DatumGetInt64(SPI_getbinval(t, d, 2, &isnull));
			int64		fid = DatumGetInt64(SPI_getbinval(t, d, 3, &isnull));
			char	   *action = SPI_getvalue(t, d, 4);
			char	   *actor = SPI_getvalue(t, d, 5);
			TimestampTz at = DatumGetTimestampTz(SPI_getbinval(t, d, 6, &isnull));
			char	   *detail = SPI_getvalue(t, d, 7);
			Datum		ph = SPI_getbinval(t, d, 8, &pnull);
			Datum		h = SPI_getbinval(t, d, 9, &hnull);
			unsigned char expect[HASH_LEN];
			bytea	   *stored_prev = pnull ? NULL : DatumGetByteaPP(ph);
			bytea	   *stored = hnull ? NULL : DatumGetByteaPP(h);

			checked++;
			if ((stored_prev == NULL) != (prev_len == 0) ||
				(stored_prev != NULL &&
				 (VARSIZE_ANY_EXHDR(stored_prev) != prev_len ||
				  memcmp(VARDATA_ANY(stored_prev), prev, prev_len) != 0)))
			{
				broken = id;
				problem = psprintf("audit row " INT64_FORMAT " does not link to the row before it (a row was removed, inserted or reordered)", id);
				break;
			}
			chain_hash(prev, prev_len, id, pid, fid, at, action, actor, detail, expect);
			if (stored == NULL || VARSIZE_ANY_EXHDR(stored) != HASH_LEN ||
				memcmp(VARDATA_ANY(stored), expect, HASH_LEN) != 0)
			{
				broken = id;
				problem = psprintf("audit row " INT64_FORMAT " was changed after it was written", id);
				break;
			}
			memcpy(prev, VARDATA_ANY(stored), HASH_LEN);
			prev_len = HASH_LEN;
			last_id = id;
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);

	if (problem == NULL)
	{
		if (SPI_execute("SELECT last_id, last_hash, row_count FROM careflags.audit_head", true, 1) != SPI_OK_SELECT)
			elog(ERROR, "careflags: could not read the audit head");
		if (SPI_processed == 1)
		{
			bool		isnull;
			int64		hid = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
			bytea	   *hh = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
			int64		cnt = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));

			if (hid != last_id || cnt != checked || VARSIZE_ANY_EXHDR(hh) != prev_len ||
				memcmp(VARDATA_ANY(hh), prev, prev_len) != 0)
			{
				broken = last_id + 1;
				problem = psprintf("the audit ends at row " INT64_FORMAT " (%lld rows) but was last written at row " INT64_FORMAT " (%lld rows): rows were removed",
								   last_id, (long long) checked, hid, (long long) cnt);
			}
		}
		else if (checked > 0)
		{
			broken = 0;
			problem = pstrdup("the audit has rows but its head is missing");
		}
	}
	if (problem)
		problem = MemoryContextStrdup(cxt, problem);
	SPI_finish();
	cf_leave_owner_context(&oc);
	MemoryContextSwitchTo(cxt);

	out[0] = BoolGetDatum(problem == NULL);
	out[1] = Int64GetDatum(checked);
	if (problem)
	{
		outnull[2] = false;
		outnull[3] = false;
		out[2] = Int64GetDatum(broken);
		out[3] = CStringGetTextDatum(problem);
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, out, outnull)));
}
