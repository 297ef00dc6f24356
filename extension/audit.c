/*-------------------------------------------------------------------------
 *
 * audit.c
 *	  What a nurse does with a flag - acknowledge, snooze, exempt - and the
 *	  tamper-evident audit of it.  The same on a row of careflags.actions
 *	  (acknowledge_action, snooze_action, exempt_action): every flag behind
 *	  the row, one audit entry naming them all (detail "row" and "flags").
 *
 *	  Each action first looks the flag up as the caller, through row-level
 *	  security, so a nurse acts only on flags of her units; the writes are
 *	  then done as the extension owner (the caller has no write rights on
 *	  careflags.flag or careflags.audit).  No SECURITY DEFINER function is
 *	  needed, and the actor recorded is the calling role.
 *
 *	  The audit is a hash chain per patient: hash = SHA-256(domain,
 *	  prev_hash, audit_id, patient_id, flag_id, acted_at, action, actor,
 *	  detail), each field length-prefixed, prev_hash the hash of the same
 *	  patient's previous row.  careflags.audit_chain keeps each patient's
 *	  head (last id, last hash, row count), so removing a patient's last rows
 *	  is noticed as well.  An append locks only that patient's head row (to
 *	  the end of the transaction): a nurse who acts and leaves her
 *	  transaction open holds up actions on that patient only, never other
 *	  nurses' actions on other patients, and never a fact write (facts never
 *	  touch the audit).  The audit id is taken after that lock, so a
 *	  patient's rows follow its chain in id order.  Before it touches the
 *	  flag an action takes the patient's action lock in share mode
 *	  (patient_lock.c), which tells record writes to skip the flag rows it
 *	  holds instead of waiting for them.
 *
 *	  What the database alone cannot show - a superuser who rewrites a chain
 *	  and its head consistently, or removes both - is shown from outside:
 *	  at every commit of an action the new head is written to the server log
 *	  ("careflags audit head: ..."), and careflags.audit_witness() gives the
 *	  heads for a copy kept elsewhere (careflags check --audit-witness FILE
 *	  compares and renews one).
 *
 *	  Rows written before 1.3 form one chain over all patients (domain
 *	  careflags-audit-v1, ordered by audit_id, head in the singleton
 *	  careflags.audit_head, which stays as it was at the upgrade); rows after
 *	  audit_head.last_id are per patient (domain careflags-audit-v2).  With
 *	  1.2's objects (no careflags.audit_chain yet) appends keep the 1.2 way:
 *	  one chain under a SHARE ROW EXCLUSIVE lock on careflags.audit.
 *
 *	  On Citus (careflags.distribute()) the actions run on the coordinator:
 *	  the flag is looked up through the nurse's views (which read the
 *	  shards), updated on its shard, and the entry appended to the
 *	  coordinator's chain (careflags.audit and audit_chain stay plain tables
 *	  there); on a worker they are refused.  The entries careflags itself
 *	  writes from a shard's trigger (reopen, correct_resolution) go to that
 *	  worker's own chain, which verify_audit() on the coordinator checks too.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/evp.h>

#include "access/xact.h"
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
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "audit.h"
#include "careflags.h"
#include "shard.h"
#include "flags.h"

#define HASH_LEN 32

typedef struct FlagRow
{
	int64		patient_id;
	char	   *rule_id;
	bool		open;
	Interval   *max_snooze;
	char	   *unit_id;
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

/* the hash domains: one chain over all patients (before 1.3), per patient */
#define DOMAIN_GLOBAL "careflags-audit-v1"
#define DOMAIN_PATIENT "careflags-audit-v2"

/* One row's hash: SHA-256 over the domain, the previous hash and the row. */
static void
chain_hash(const char *domain, const unsigned char *prev, size_t prev_len, int64 audit_id,
		   int64 patient_id, int64 flag_id, TimestampTz at, const char *action,
		   const char *actor, const char *detail, unsigned char *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len = 0;

	if (ctx == NULL ||
		EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
	{
		if (ctx)
			EVP_MD_CTX_free(ctx);
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("careflags: OpenSSL could not start a SHA-256 digest")));
	}
	put_bytes(ctx, domain, strlen(domain));
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

	/*
	 * (the rule is read per row, not joined: on Citus my_flags reads through
	 * a function, which Citus would otherwise plan with the reference table
	 * rule on another node)
	 */
	ret = SPI_execute_with_args(own_units ?
								"SELECT f.patient_id, f.rule_id, true, "
								"  (SELECT r.max_snooze FROM careflags.rule r WHERE r.rule_id OPERATOR(pg_catalog.=) f.rule_id), "
								"  f.unit_id "
								"FROM (SELECT m.* FROM careflags.my_flags m "
								"      WHERE m.flag_id OPERATOR(pg_catalog.=) $1 OFFSET 0) f" :
								"SELECT f.patient_id, f.rule_id, f.resolved_at IS NULL, r.max_snooze, f.unit_id "
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
	fr.unit_id = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5);
	if (!fr.open)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("flag " INT64_FORMAT " is already resolved", flag_id)));
	return fr;
}

/* ---- heads written to the server log at commit ---- */

/* A head an action of this transaction wrote, logged if it commits. */
typedef struct PendingHead
{
	int64		patient_id;
	int64		audit_id;
	int64		row_count;
	char		hash_hex[HASH_LEN * 2 + 1];
	SubTransactionId subid;
	struct PendingHead *next;
} PendingHead;

static PendingHead *pending_heads = NULL;
static bool head_callbacks_registered = false;

/* At commit, one LOG line per head written; nothing for an aborted one. */
static void
head_xact_callback(XactEvent event, void *arg)
{
	if (pending_heads == NULL)
		return;
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)
	{
		for (PendingHead *h = pending_heads; h != NULL; h = h->next)
			ereport(LOG,
					(errmsg("careflags audit head: patient " INT64_FORMAT " row " INT64_FORMAT
							" count " INT64_FORMAT " hash %s",
							h->patient_id, h->audit_id, h->row_count, h->hash_hex),
					 errhidestmt(true)));
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
		pending_heads = NULL;	/* the memory goes with TopTransactionContext */
}

/* A rolled-back savepoint takes its heads with it; a released one passes them up. */
static void
head_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	PendingHead **link = &pending_heads;

	while (*link != NULL)
	{
		PendingHead *h = *link;

		if (h->subid == mySubid && event == SUBXACT_EVENT_ABORT_SUB)
		{
			*link = h->next;
			continue;
		}
		if (h->subid == mySubid && event == SUBXACT_EVENT_COMMIT_SUB)
			h->subid = parentSubid;
		link = &h->next;
	}
}

static void
remember_head(int64 patient_id, int64 audit_id, int64 row_count, const unsigned char *hash)
{
	PendingHead *h = MemoryContextAlloc(TopTransactionContext, sizeof(PendingHead));
	static const char hex[] = "0123456789abcdef";

	if (!head_callbacks_registered)
	{
		RegisterXactCallback(head_xact_callback, NULL);
		RegisterSubXactCallback(head_subxact_callback, NULL);
		head_callbacks_registered = true;
	}
	h->patient_id = patient_id;
	h->audit_id = audit_id;
	h->row_count = row_count;
	for (int i = 0; i < HASH_LEN; i++)
	{
		h->hash_hex[2 * i] = hex[hash[i] >> 4];
		h->hash_hex[2 * i + 1] = hex[hash[i] & 0xf];
	}
	h->hash_hex[HASH_LEN * 2] = '\0';
	h->subid = GetCurrentSubTransactionId();
	h->next = pending_heads;
	pending_heads = h;
}

/* careflags.audit_chain exists (1.3 objects): chains per patient */
static bool
chains_per_patient(void)
{
	Oid			nsp = get_namespace_oid(CF_SCHEMA, true);

	return OidIsValid(nsp) && OidIsValid(get_relname_relid("audit_chain", nsp));
}

/* Insert one audit row. */
static void
insert_audit_row(int64 audit_id, int64 patient_id, int64 flag_id, const char *action,
				 const char *actor, TimestampTz at, Datum jb, const unsigned char *prev,
				 size_t prev_len, const unsigned char *hash)
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

static int64
next_audit_id(void)
{
	bool		isnull;

	if (SPI_execute("SELECT pg_catalog.nextval('careflags.audit_id_seq')", false, 1) != SPI_OK_SELECT)
		elog(ERROR, "careflags: could not number the audit row");
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Append to the patient's chain.  The upsert locks the patient's head row
 * (and under READ COMMITTED returns its latest committed version; under
 * REPEATABLE READ a head moved by a transaction the snapshot cannot see is a
 * serialization failure), so appends of one patient are serialised and
 * those of different patients never wait on each other.
 */
static int64
append_patient_chain(int64 patient_id, int64 flag_id, const char *action, const char *actor,
					 TimestampTz at, Datum jb, const char *detail)
{
	Oid			types[1] = {INT8OID};
	Datum		v1[1] = {Int64GetDatum(patient_id)};
	unsigned char prev[HASH_LEN];
	size_t		prev_len = 0;
	int64		row_count;
	int64		audit_id;
	unsigned char hash[HASH_LEN];
	bool		isnull;
	bytea	   *h;

	if (SPI_execute_with_args("INSERT INTO careflags.audit_chain AS c (patient_id, last_id, last_hash, row_count) "
							  "VALUES ($1, 0, '\\x', 0) ON CONFLICT (patient_id) DO UPDATE "
							  "SET patient_id = EXCLUDED.patient_id RETURNING c.last_hash, c.row_count",
							  1, types, v1, NULL, false, 0) != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "careflags: could not lock the patient's audit chain");
	h = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	row_count = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	if (row_count > 0)
	{
		prev_len = Min(VARSIZE_ANY_EXHDR(h), HASH_LEN);
		memcpy(prev, VARDATA_ANY(h), prev_len);
	}
	audit_id = next_audit_id();
	chain_hash(DOMAIN_PATIENT, prev, prev_len, audit_id, patient_id, flag_id, at, action, actor,
			   detail, hash);
	insert_audit_row(audit_id, patient_id, flag_id, action, actor, at, jb, prev, prev_len, hash);
	{
		Oid			t[4] = {INT8OID, INT8OID, BYTEAOID, INT8OID};
		Datum		v[4] = {Int64GetDatum(patient_id), Int64GetDatum(audit_id),
			PointerGetDatum(to_bytea(hash, HASH_LEN)), Int64GetDatum(row_count + 1)};

		if (SPI_execute_with_args("UPDATE careflags.audit_chain SET last_id = $2, last_hash = $3, row_count = $4 "
								  "WHERE patient_id OPERATOR(pg_catalog.=) $1",
								  4, t, v, NULL, false, 0) != SPI_OK_UPDATE || SPI_processed != 1)
			elog(ERROR, "careflags: could not move the patient's audit head");
	}
	remember_head(patient_id, audit_id, row_count + 1, hash);
	return audit_id;
}

/* 1.2's objects: one chain, appends serialised by a table lock. */
static int64
append_global_chain(int64 patient_id, int64 flag_id, const char *action, const char *actor,
					TimestampTz at, Datum jb, const char *detail)
{
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
	audit_id = next_audit_id();
	chain_hash(DOMAIN_GLOBAL, prev, prev_len, audit_id, patient_id, flag_id, at, action, actor,
			   detail, hash);
	insert_audit_row(audit_id, patient_id, flag_id, action, actor, at, jb, prev, prev_len, hash);
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

/* Append to the audit (as the owner); returns the audit id. */
static int64
audit_append(int64 patient_id, int64 flag_id, const char *action, const char *actor,
			 TimestampTz at, const char *detail_json)
{
	Datum		jb = DirectFunctionCall1(jsonb_in, CStringGetDatum(detail_json));
	char	   *detail = DatumGetCString(DirectFunctionCall1(jsonb_out, jb));

	if (chains_per_patient())
		return append_patient_chain(patient_id, flag_id, action, actor, at, jb, detail);
	return append_global_chain(patient_id, flag_id, action, actor, at, jb, detail);
}

/*
 * A change careflags itself made to a resolved flag (reopened, resolution
 * corrected), appended to the patient's audit chain: the actor is the
 * session user whose write or recomputation led to it.  SPI connected, as
 * the owner.
 */
void
cf_audit_system_change(int64 patient_id, int64 flag_id, const char *action,
					   TimestampTz at, const char *detail_json)
{
	char	   *actor = GetUserNameFromId(GetSessionUserId(), false);

	(void) audit_append(patient_id, flag_id, action, actor, at, detail_json);
}

/*
 * After the UPDATE of an open flag: 0 rows means that a record write
 * resolved it while the action waited for its row.
 */
static void
flag_still_open(int64 flag_id)
{
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("flag " INT64_FORMAT " is already resolved", flag_id),
				 errdetail("A write of the record resolved it while this action waited.")));
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
	/*
	 * On Citus the audit chain (careflags.audit, audit_chain: plain tables,
	 * not distributed) is the coordinator's, and the flag is updated on its
	 * shard through the coordinator: one chain for every action.  A worker
	 * would start a chain of its own.
	 */
	cf_refuse_on_citus_worker("acknowledge(), snooze() and exempt()",
							  "Connect to the coordinator to act on a flag.");
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

/* ---- the actions, on one flag or on every flag of a row ---- */

/* Acknowledge one open flag (owner context, SPI connected). */
static void
ack_flag(const ActionContext *ac, const FlagRow *fr, int64 flag_id)
{
	Oid			types[4] = {INT8OID, INT8OID, TIMESTAMPTZOID, NAMEOID};
	Datum		v[4] = {Int64GetDatum(fr->patient_id), Int64GetDatum(flag_id),
		TimestampTzGetDatum(ac->now), DirectFunctionCall1(namein, CStringGetDatum(ac->actor))};

	if (SPI_execute_with_args("UPDATE careflags.flag SET acknowledged_at = $3, acknowledged_by = $4 "
							  "WHERE patient_id OPERATOR(pg_catalog.=) $1 AND flag_id OPERATOR(pg_catalog.=) $2 "
							  "  AND resolved_at IS NULL",
							  4, types, v, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "careflags: could not acknowledge");
	flag_still_open(flag_id);
}

/* A snooze time must lie ahead and within the rule's max_snooze. */
static void
check_snooze(const ActionContext *ac, const FlagRow *fr, TimestampTz until)
{
	TimestampTz limit = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
																TimestampTzGetDatum(ac->now),
																IntervalPGetDatum(fr->max_snooze)));

	if (until <= ac->now)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("snooze until %s is not in the future",
						DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(until))))));
	if (until > limit)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rule %s allows snoozing for at most %s", fr->rule_id,
						DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(fr->max_snooze)))),
				 errhint("Snooze until %s at the latest.",
						 DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(limit))))));
}

/* Snooze one open flag (owner context, SPI connected). */
static void
snooze_flag(const FlagRow *fr, int64 flag_id, TimestampTz until)
{
	Oid			types[3] = {INT8OID, INT8OID, TIMESTAMPTZOID};
	Datum		v[3] = {Int64GetDatum(fr->patient_id), Int64GetDatum(flag_id), TimestampTzGetDatum(until)};

	if (SPI_execute_with_args("UPDATE careflags.flag SET snoozed_until = $3 "
							  "WHERE patient_id OPERATOR(pg_catalog.=) $1 AND flag_id OPERATOR(pg_catalog.=) $2 "
							  "  AND resolved_at IS NULL",
							  3, types, v, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "careflags: could not snooze");
	flag_still_open(flag_id);
}

/* 2200-01-01 UTC: the guard's upper bound for the times of facts */
static TimestampTz
exemption_time_limit(void)
{
	return DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum("2200-01-01 00:00+00"),
												   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

/* An exemption's reason: not blank. */
static char *
exemption_reason(text *t)
{
	char	   *reason = cf_bounded_text(t, "reason");

	for (char *p = reason; *p; p++)
		if (!isspace((unsigned char) *p))
			return reason;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("an exemption needs a reason, e.g. \"end-of-life care\"")));
	return NULL;				/* keep the compiler quiet */
}

/* An exemption's end, when given: ahead, and a time careflags can reckon with. */
static void
check_valid_until(const ActionContext *ac, bool given, TimestampTz valid_until)
{
	if (!given)
		return;
	if (valid_until <= ac->now)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("valid_until must be in the future")));
	/* the guard's bound for every time of a fact (guard.c), checked before auditing */
	if (TIMESTAMP_NOT_FINITE(valid_until) || valid_until >= exemption_time_limit())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("valid_until must be before 2200"),
				 errdetail("An exemption's end is a time careflags can reckon with, as every time of a fact."),
				 errhint("Leave valid_until NULL for an exemption without an end.")));
}

/* The audit detail of an exemption: {"reason": ..., "valid_until": ...}. */
static void
exemption_detail(StringInfo d, const char *reason, bool given, TimestampTz valid_until)
{
	appendStringInfoString(d, "\"reason\": ");
	escape_json(d, reason);
	if (given)
		appendStringInfo(d, ", \"valid_until\": \"%s\"",
						 DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(valid_until))));
}

/*
 * Was the flag resolved as exempt by the evaluation of the exemption just
 * recorded?  On Citus the shard's row trigger evaluates the exemption at
 * once (careflags.defer_evaluation does not reach the shards), resolving
 * the flag 'exempt' and writing its event, before the action resolves it.
 */
static bool
exempted_by_evaluation(const FlagRow *fr, int64 flag_id)
{
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		v[2] = {Int64GetDatum(fr->patient_id), Int64GetDatum(flag_id)};

	if (SPI_execute_with_args("SELECT FROM careflags.flag WHERE patient_id OPERATOR(pg_catalog.=) $1 "
							  "AND flag_id OPERATOR(pg_catalog.=) $2 AND resolution OPERATOR(pg_catalog.=) 'exempt'",
							  2, types, v, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "careflags: could not read the exempted flag");
	return SPI_processed == 1;
}

/*
 * Exempt one open flag (owner context, SPI connected): record the exemption
 * fact of its rule under the key given and resolve the flag.  The exemption
 * fact is evaluated at commit (as with careflags.defer_evaluation), not now:
 * evaluating now would lock the patient's row to the end of the nurse's
 * transaction and hold up every write of the record for that patient while
 * she leaves it open.  The flag is resolved here instead, which holds only
 * its own row (writes skip a held flag, reconcile.c).
 */
static void
exempt_flag(const ActionContext *ac, const FlagRow *fr, int64 flag_id, const char *key,
			const char *reason, bool given, TimestampTz valid_until)
{
	(void) set_config_option("careflags.defer_evaluation", "on", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	{
		Oid			types[7] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, NAMEOID};
		Datum		v[7];
		char		nulls[7] = "       ";

		v[0] = Int64GetDatum(fr->patient_id);
		v[1] = CStringGetTextDatum(key);
		v[2] = CStringGetTextDatum(fr->rule_id);
		v[3] = CStringGetTextDatum(reason);
		v[4] = TimestampTzGetDatum(ac->now);
		if (!given)
			nulls[5] = 'n';
		else
			v[5] = TimestampTzGetDatum(valid_until);
		v[6] = DirectFunctionCall1(namein, CStringGetDatum(ac->actor));
		if (SPI_execute_with_args("INSERT INTO careflags.exemption (patient_id, source_system, source_key, scope, "
								  "reason, valid_from, valid_until, recorded_by) "
								  "VALUES ($1, 'careflags', $2, $3, $4, $5, $6, $7)",
								  7, types, v, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "careflags: could not record the exemption");
		/* the guard quarantined it: no exemption, so no action (and no audit row) */
		if (SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the exemption was not accepted"),
					 errdetail("careflags.fact_guard put it in careflags.quarantine (see the warning above).")));
	}
	{
		Oid			types[3] = {INT8OID, INT8OID, TIMESTAMPTZOID};
		Datum		v[3] = {Int64GetDatum(fr->patient_id), Int64GetDatum(flag_id), TimestampTzGetDatum(ac->now)};

		if (SPI_execute_with_args("UPDATE careflags.flag SET resolved_at = $3, resolution = 'exempt' "
								  "WHERE patient_id OPERATOR(pg_catalog.=) $1 AND flag_id OPERATOR(pg_catalog.=) $2 "
								  "  AND resolved_at IS NULL",
								  3, types, v, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "careflags: could not resolve the exempted flag");
		if (SPI_processed == 0 && exempted_by_evaluation(fr, flag_id))
			return;
		flag_still_open(flag_id);
		cf_notify("resolved", flag_id, fr->patient_id, fr->rule_id, fr->unit_id);
	}
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
	cf_lock_patient_actions(fr.patient_id);
	cf_enter_owner_context(&oc);
	ack_flag(&ac, &fr, flag_id);
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
	StringInfoData d;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("flag_id and until must not be NULL")));
	flag_id = PG_GETARG_INT64(0);
	until = PG_GETARG_TIMESTAMPTZ(1);

	begin_action(&ac);
	fr = visible_flag(flag_id);
	cf_lock_patient_actions(fr.patient_id);
	check_snooze(&ac, &fr, until);

	cf_enter_owner_context(&oc);
	snooze_flag(&fr, flag_id, until);
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
	bool		given = !PG_ARGISNULL(2);
	TimestampTz valid_until = given ? PG_GETARG_TIMESTAMPTZ(2) : 0;
	ActionContext ac;
	FlagRow		fr;
	CfOwnerContext oc;
	int64		audit_id;
	StringInfoData d;
	char		key[96];

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("flag_id and reason must not be NULL")));
	flag_id = PG_GETARG_INT64(0);
	reason = exemption_reason(PG_GETARG_TEXT_PP(1));

	begin_action(&ac);
	check_valid_until(&ac, given, valid_until);
	fr = visible_flag(flag_id);
	cf_lock_patient_actions(fr.patient_id);
	cf_enter_owner_context(&oc);

	initStringInfo(&d);
	appendStringInfoChar(&d, '{');
	exemption_detail(&d, reason, given, valid_until);
	appendStringInfoChar(&d, '}');
	audit_id = audit_append(fr.patient_id, flag_id, "exempt", ac.actor, ac.now, d.data);
	snprintf(key, sizeof(key), "audit/" INT64_FORMAT, audit_id);
	exempt_flag(&ac, &fr, flag_id, key, reason, given, valid_until);
	cf_leave_owner_context(&oc);
	end_action(&ac);
	PG_RETURN_INT64(audit_id);
}

/*
 * An action on a row of careflags.actions (clinical-rules.md §7.18): the
 * flags behind one of the caller's rows, each looked up as the caller
 * (visible_flag), the patient's action lock taken once.  action_flags()
 * raises no_data_found when the caller has no such row.
 */
typedef struct RowFlags
{
	int			n;
	int64	   *ids;
	FlagRow    *rows;
	char	   *ids_json;		/* [1, 2, 3] */
} RowFlags;

static RowFlags
row_flags(int64 patient_id, const char *action)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		v[2] = {Int64GetDatum(patient_id), CStringGetTextDatum(action)};
	RowFlags	rf;
	StringInfoData j;
	bool		isnull;

	if (SPI_execute_with_args("SELECT f FROM pg_catalog.unnest(careflags.action_flags($1, $2)) AS f ORDER BY f",
							  2, types, v, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "careflags: could not read the row's flags");
	rf.n = (int) SPI_processed;
	rf.ids = palloc(sizeof(int64) * Max(rf.n, 1));
	rf.rows = palloc(sizeof(FlagRow) * Max(rf.n, 1));
	for (int i = 0; i < rf.n; i++)
		rf.ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	initStringInfo(&j);
	appendStringInfoChar(&j, '[');
	for (int i = 0; i < rf.n; i++)
	{
		rf.rows[i] = visible_flag(rf.ids[i]);
		if (rf.rows[i].patient_id != patient_id)
			elog(ERROR, "careflags: flag " INT64_FORMAT " of the row is not of patient " INT64_FORMAT,
				 rf.ids[i], patient_id);
		appendStringInfo(&j, "%s" INT64_FORMAT, i > 0 ? ", " : "", rf.ids[i]);
	}
	appendStringInfoChar(&j, ']');
	rf.ids_json = j.data;
	if (rf.n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("no open action \"%s\" for patient " INT64_FORMAT, action, patient_id)));
	cf_lock_patient_actions(patient_id);
	return rf;
}

/* The row's audit detail starts: {"row": "medication_review", "flags": [...] */
static void
row_detail(StringInfo d, const char *action, const RowFlags *rf)
{
	appendStringInfoString(d, "{\"row\": ");
	escape_json(d, action);
	appendStringInfo(d, ", \"flags\": %s", rf->ids_json);
}

/* The arguments every row action has: patient_id and action, not NULL. */
static char *
row_args(FunctionCallInfo fcinfo, int64 *patient_id)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("patient_id and action must not be NULL")));
	*patient_id = PG_GETARG_INT64(0);
	return cf_bounded_text(PG_GETARG_TEXT_PP(1), "action");
}

/*
 * careflags.acknowledge_action(patient_id, action, note): every flag behind
 * the row acknowledged, one audit entry naming them all (its flag_id the
 * first of them).
 */
PG_FUNCTION_INFO_V1(careflags_acknowledge_action);
Datum
careflags_acknowledge_action(PG_FUNCTION_ARGS)
{
	int64		patient_id;
	char	   *action = row_args(fcinfo, &patient_id);
	char	   *note = PG_ARGISNULL(2) ? NULL : cf_bounded_text(PG_GETARG_TEXT_PP(2), "note");
	ActionContext ac;
	RowFlags	rf;
	CfOwnerContext oc;
	StringInfoData d;
	int64		audit_id;

	begin_action(&ac);
	rf = row_flags(patient_id, action);
	cf_enter_owner_context(&oc);
	for (int i = 0; i < rf.n; i++)
		ack_flag(&ac, &rf.rows[i], rf.ids[i]);
	initStringInfo(&d);
	row_detail(&d, action, &rf);
	if (note)
	{
		appendStringInfoString(&d, ", \"note\": ");
		escape_json(&d, note);
	}
	appendStringInfoChar(&d, '}');
	audit_id = audit_append(patient_id, rf.ids[0], "acknowledge", ac.actor, ac.now, d.data);
	cf_leave_owner_context(&oc);
	end_action(&ac);
	PG_RETURN_INT64(audit_id);
}

/* careflags.snooze_action(patient_id, action, until, note): the whole row, one audit entry. */
PG_FUNCTION_INFO_V1(careflags_snooze_action);
Datum
careflags_snooze_action(PG_FUNCTION_ARGS)
{
	int64		patient_id;
	char	   *action = row_args(fcinfo, &patient_id);
	TimestampTz until;
	char	   *note = PG_ARGISNULL(3) ? NULL : cf_bounded_text(PG_GETARG_TEXT_PP(3), "note");
	ActionContext ac;
	RowFlags	rf;
	CfOwnerContext oc;
	StringInfoData d;
	int64		audit_id;

	if (PG_ARGISNULL(2))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("until must not be NULL")));
	until = PG_GETARG_TIMESTAMPTZ(2);

	begin_action(&ac);
	rf = row_flags(patient_id, action);
	/* every rule's max_snooze first: the row is snoozed whole or not at all */
	for (int i = 0; i < rf.n; i++)
		check_snooze(&ac, &rf.rows[i], until);
	cf_enter_owner_context(&oc);
	for (int i = 0; i < rf.n; i++)
		snooze_flag(&rf.rows[i], rf.ids[i], until);
	initStringInfo(&d);
	row_detail(&d, action, &rf);
	appendStringInfo(&d, ", \"until\": \"%s\"",
					 DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(until))));
	if (note)
	{
		appendStringInfoString(&d, ", \"note\": ");
		escape_json(&d, note);
	}
	appendStringInfoChar(&d, '}');
	audit_id = audit_append(patient_id, rf.ids[0], "snooze", ac.actor, ac.now, d.data);
	cf_leave_owner_context(&oc);
	end_action(&ac);
	PG_RETURN_INT64(audit_id);
}

/*
 * careflags.exempt_action(patient_id, action, reason, valid_until): every
 * rule behind the row not relevant for the patient; one audit entry, one
 * exemption per rule (key audit/<audit id>/<flag id>).
 */
PG_FUNCTION_INFO_V1(careflags_exempt_action);
Datum
careflags_exempt_action(PG_FUNCTION_ARGS)
{
	int64		patient_id;
	char	   *action = row_args(fcinfo, &patient_id);
	char	   *reason;
	bool		given = !PG_ARGISNULL(3);
	TimestampTz valid_until = given ? PG_GETARG_TIMESTAMPTZ(3) : 0;
	ActionContext ac;
	RowFlags	rf;
	CfOwnerContext oc;
	StringInfoData d;
	int64		audit_id;

	if (PG_ARGISNULL(2))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("reason must not be NULL")));
	reason = exemption_reason(PG_GETARG_TEXT_PP(2));

	begin_action(&ac);
	check_valid_until(&ac, given, valid_until);
	rf = row_flags(patient_id, action);
	cf_enter_owner_context(&oc);
	initStringInfo(&d);
	row_detail(&d, action, &rf);
	appendStringInfoString(&d, ", ");
	exemption_detail(&d, reason, given, valid_until);
	appendStringInfoChar(&d, '}');
	audit_id = audit_append(patient_id, rf.ids[0], "exempt", ac.actor, ac.now, d.data);
	for (int i = 0; i < rf.n; i++)
	{
		char		key[96];

		snprintf(key, sizeof(key), "audit/" INT64_FORMAT "/" INT64_FORMAT, audit_id, rf.ids[i]);
		exempt_flag(&ac, &rf.rows[i], rf.ids[i], key, reason, given, valid_until);
	}
	cf_leave_owner_context(&oc);
	end_action(&ac);
	PG_RETURN_INT64(audit_id);
}

/* State of a walk along a chain. */
typedef struct ChainWalk
{
	unsigned char prev[HASH_LEN];
	size_t		prev_len;
	int64		count;			/* rows of this chain so far */
	int64		last_id;
	int64		checked;		/* rows of all chains */
	int64		broken;
	char	   *problem;
} ChainWalk;

/*
 * Check one row against the chain so far (prev_hash links to the previous
 * row's hash, hash is the row's own) and move the chain on.
 */
static void
walk_row(ChainWalk *w, const char *domain, HeapTuple t, TupleDesc d)
{
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

	w->checked++;
	if ((stored_prev == NULL) != (w->prev_len == 0) ||
		(stored_prev != NULL &&
		 (VARSIZE_ANY_EXHDR(stored_prev) != w->prev_len ||
		  memcmp(VARDATA_ANY(stored_prev), w->prev, w->prev_len) != 0)))
	{
		w->broken = id;
		w->problem = psprintf("audit row " INT64_FORMAT " does not link to the row before it (a row was removed, inserted or reordered)", id);
		return;
	}
	chain_hash(domain, w->prev, w->prev_len, id, pid, fid, at, action, actor, detail, expect);
	if (stored == NULL || VARSIZE_ANY_EXHDR(stored) != HASH_LEN ||
		memcmp(VARDATA_ANY(stored), expect, HASH_LEN) != 0)
	{
		w->broken = id;
		w->problem = psprintf("audit row " INT64_FORMAT " was changed after it was written", id);
		return;
	}
	memcpy(w->prev, VARDATA_ANY(stored), HASH_LEN);
	w->prev_len = HASH_LEN;
	w->count++;
	w->last_id = id;
}

/* Does the chain walked end where its stored head says? */
static void
compare_head(ChainWalk *w, const char *chain, int64 hid, bytea *hh, int64 cnt)
{
	if (w->problem != NULL)
		return;
	if (hid != w->last_id || cnt != w->count || VARSIZE_ANY_EXHDR(hh) != w->prev_len ||
		memcmp(VARDATA_ANY(hh), w->prev, w->prev_len) != 0)
	{
		w->broken = w->last_id + 1;
		w->problem = psprintf("the audit %s ends at row " INT64_FORMAT " (%lld rows) but was last written at row " INT64_FORMAT " (%lld rows): rows were removed",
							  chain, w->last_id, (long long) w->count, hid, (long long) cnt);
	}
}

#define AUDIT_COLUMNS "a.audit_id, a.patient_id, a.flag_id, a.action, a.actor::pg_catalog.text, a.acted_at, " \
	"a.detail::pg_catalog.text, a.prev_hash, a.hash"

/*
 * The chain of the rows written before 1.3 (ids up to audit_head.last_id),
 * or every row with 1.2's objects.
 */
static void
walk_global(ChainWalk *w, int64 upto)
{
	Oid			types[1] = {INT8OID};
	Datum		v[1] = {Int64GetDatum(upto)};
	Portal		portal;

	portal = SPI_cursor_open_with_args(NULL,
									   "SELECT " AUDIT_COLUMNS " FROM careflags.audit a "
									   "WHERE a.audit_id OPERATOR(pg_catalog.<=) $1 ORDER BY a.audit_id",
									   1, types, v, NULL, true, 0);
	while (w->problem == NULL)
	{
		SPI_cursor_fetch(portal, true, 1000);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed && w->problem == NULL; i++)
			walk_row(w, DOMAIN_GLOBAL, SPI_tuptable->vals[i], SPI_tuptable->tupdesc);
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
}

/*
 * The chains per patient (rows after `after`), each compared with its head
 * in careflags.audit_chain; then heads whose rows are all gone.
 */
static void
walk_patients(ChainWalk *w, int64 after)
{
	Oid			types[1] = {INT8OID};
	Datum		v[1] = {Int64GetDatum(after)};
	Portal		portal;
	int64		cur = 0;
	bool		in_chain = false;
	bool		head_null = true;
	int64		hid = 0,
				hcnt = 0;
	bytea	   *hh = NULL;
	MemoryContext walk_cxt = CurrentMemoryContext;

	portal = SPI_cursor_open_with_args(NULL,
									   "SELECT " AUDIT_COLUMNS ", c.last_id, c.last_hash, c.row_count "
									   "FROM careflags.audit a LEFT JOIN careflags.audit_chain c "
									   "  ON c.patient_id OPERATOR(pg_catalog.=) a.patient_id "
									   "WHERE a.audit_id OPERATOR(pg_catalog.>) $1 ORDER BY a.patient_id, a.audit_id",
									   1, types, v, NULL, true, 0);
	while (w->problem == NULL)
	{
		SPI_cursor_fetch(portal, true, 1000);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed && w->problem == NULL; i++)
		{
			HeapTuple	t = SPI_tuptable->vals[i];
			TupleDesc	d = SPI_tuptable->tupdesc;
			bool		isnull;
			int64		pid = DatumGetInt64(SPI_getbinval(t, d, 2, &isnull));

			if (!in_chain || pid != cur)
			{
				if (in_chain)
				{
					if (head_null)
						w->problem = psprintf("the audit of patient " INT64_FORMAT " has rows but no head in careflags.audit_chain", cur);
					else
						compare_head(w, psprintf("of patient " INT64_FORMAT, cur), hid, hh, hcnt);
					if (w->problem != NULL)
						break;
				}
				in_chain = true;
				cur = pid;
				w->prev_len = 0;
				w->count = 0;
				w->last_id = 0;
				(void) SPI_getbinval(t, d, 10, &head_null);
				if (!head_null)
				{
					MemoryContext old = MemoryContextSwitchTo(walk_cxt);

					hid = DatumGetInt64(SPI_getbinval(t, d, 10, &isnull));
					hh = DatumGetByteaPCopy(SPI_getbinval(t, d, 11, &isnull));
					hcnt = DatumGetInt64(SPI_getbinval(t, d, 12, &isnull));
					MemoryContextSwitchTo(old);
				}
			}
			walk_row(w, DOMAIN_PATIENT, t, d);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	if (w->problem == NULL && in_chain)
	{
		if (head_null)
			w->problem = psprintf("the audit of patient " INT64_FORMAT " has rows but no head in careflags.audit_chain", cur);
		else
			compare_head(w, psprintf("of patient " INT64_FORMAT, cur), hid, hh, hcnt);
	}
	if (w->problem != NULL)
		return;
	/* a head with rows written, whose rows are all gone */
	if (SPI_execute_with_args("SELECT c.patient_id, c.last_id, c.row_count FROM careflags.audit_chain c "
							  "WHERE c.row_count OPERATOR(pg_catalog.>) 0 AND NOT EXISTS (SELECT FROM careflags.audit a "
							  "  WHERE a.patient_id OPERATOR(pg_catalog.=) c.patient_id "
							  "    AND a.audit_id OPERATOR(pg_catalog.>) $1) ORDER BY c.patient_id LIMIT 1",
							  1, types, v, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "careflags: could not read the audit heads");
	if (SPI_processed == 1)
	{
		bool		isnull;
		int64		pid = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

		w->broken = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		w->problem = psprintf("the audit of patient " INT64_FORMAT " was last written at row " INT64_FORMAT " (%lld rows) but has no rows: rows were removed",
							  pid, w->broken,
							  (long long) DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull)));
	}
}

/*
 * On a Citus coordinator, the workers' own chains too (the entries shard
 * triggers write: reopen, correct_resolution): verify_audit() on each
 * worker (run_command_on_workers, as the owner); the rows they checked are
 * added, the first problem of a worker is reported with the worker's name.
 * SPI connected.
 */
static void
verify_workers(ChainWalk *w)
{
	if (SPI_execute("SELECT r.nodename OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||) r.nodeport::pg_catalog.text, "
					"r.success, r.result FROM pg_catalog.run_command_on_workers("
					"'SELECT v.intact::pg_catalog.text OPERATOR(pg_catalog.||) '' '' OPERATOR(pg_catalog.||) v.checked "
					"OPERATOR(pg_catalog.||) '' '' OPERATOR(pg_catalog.||) COALESCE(v.first_broken, 0) "
					"OPERATOR(pg_catalog.||) '' '' OPERATOR(pg_catalog.||) COALESCE(v.problem, '''') "
					"FROM careflags.verify_audit() v') r ORDER BY 1",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "careflags: could not verify the workers' audit");
	for (uint64 i = 0; i < SPI_processed && w->problem == NULL; i++)
	{
		bool		isnull;
		char	   *node = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		bool		ok = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		char	   *result = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3);
		char		intact[8];
		long long	checked = 0,
					broken = 0;
		int			used = 0;

		if (!ok || result == NULL ||
			sscanf(result, "%7s %lld %lld %n", intact, &checked, &broken, &used) < 3)
		{
			w->broken = 0;
			w->problem = psprintf("the audit of worker %s could not be verified: %s", node,
								  result ? result : "no result");
			break;
		}
		w->checked += checked;
		if (strcmp(intact, "true") != 0)
		{
			w->broken = broken;
			w->problem = psprintf("worker %s: %s", node, result + used);
		}
	}
}

/* careflags.verify_audit(): walk the chains; report the first broken link. */
PG_FUNCTION_INFO_V1(careflags_verify_audit);
Datum
careflags_verify_audit(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		out[4];
	bool		outnull[4] = {false, false, true, true};
	ChainWalk	w;
	CfOwnerContext oc;
	MemoryContext cxt = CurrentMemoryContext;
	bool		per_patient = chains_per_patient();
	bool		has_head = false;
	int64		hid = 0,
				hcnt = 0;
	bytea	   *hh = NULL;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "careflags.verify_audit() must return a record");

	memset(&w, 0, sizeof(w));
	cf_enter_owner_context(&oc);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	if (SPI_execute("SELECT last_id, last_hash, row_count FROM careflags.audit_head", true, 1) != SPI_OK_SELECT)
		elog(ERROR, "careflags: could not read the audit head");
	if (SPI_processed == 1)
	{
		bool		isnull;

		has_head = true;
		hid = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		hh = DatumGetByteaPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		hcnt = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	}

	/* the chain over all patients: rows before 1.3 (all rows with 1.2's objects) */
	if (has_head || !per_patient)
	{
		walk_global(&w, per_patient ? hid : PG_INT64_MAX);
		if (has_head)
			compare_head(&w, "chain", hid, hh, hcnt);
		else if (w.problem == NULL && w.checked > 0)
			w.problem = pstrdup("the audit has rows but its head is missing");
	}
	if (w.problem == NULL && per_patient)
		walk_patients(&w, has_head ? hid : 0);
	if (w.problem == NULL && cf_citus_coordinator())
		verify_workers(&w);

	if (w.problem)
		w.problem = MemoryContextStrdup(cxt, w.problem);
	SPI_finish();
	cf_leave_owner_context(&oc);
	MemoryContextSwitchTo(cxt);

	out[0] = BoolGetDatum(w.problem == NULL);
	out[1] = Int64GetDatum(w.checked);
	if (w.problem)
	{
		outnull[2] = false;
		outnull[3] = false;
		out[2] = Int64GetDatum(w.broken);
		out[3] = CStringGetTextDatum(w.problem);
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, out, outnull)));
}
