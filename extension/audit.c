/*-------------------------------------------------------------------------
 *
 * audit.c
 *	  The tamper-evident audit of what nurses do with flags: appending to it
 *	  (cf_audit_append, for actions.c; cf_audit_system_change, for the
 *	  changes careflags itself makes to a resolved flag), the heads written
 *	  to the server log at commit, and careflags.verify_audit().
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
 *	  patient's rows follow its chain in id order.
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
 *	  On Citus careflags.audit and audit_chain stay plain tables on each
 *	  node: the nurses' actions append to the coordinator's chain; the
 *	  entries careflags itself writes from a shard's trigger (reopen,
 *	  correct_resolution) go to that worker's own chain, which
 *	  verify_audit() on the coordinator checks too.
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

/* See audit.h. */
int64
cf_audit_append(int64 patient_id, int64 flag_id, const char *action, const char *actor,
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

	(void) cf_audit_append(patient_id, flag_id, action, actor, at, detail_json);
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
