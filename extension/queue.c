/*-------------------------------------------------------------------------
 *
 * queue.c
 *	  Evaluation by the background worker (careflags.evaluate_in_worker).
 *
 *	  A statement that writes facts normally re-evaluates its patients
 *	  itself, before it returns.  With careflags.evaluate_in_worker on it
 *	  only appends their ids to careflags.evaluation_queue (one row per
 *	  statement, a plain heap insert) and, when its transaction commits, sets
 *	  the worker's latch.  The worker deletes the queued rows and evaluates
 *	  those patients in one transaction, right after the writers commit; the
 *	  rows of a transaction still running are not visible to it yet and wait
 *	  for the next pass; those of an aborted one never become visible.
 *
 *	  The worker never waits for a patient another session holds (a writer,
 *	  or a session left idle in its transaction): it locks patients with
 *	  SKIP LOCKED semantics, evaluates the rest, puts the held ones back in
 *	  the queue in the same transaction and comes back to them a second
 *	  later (worker.c), until they are free.
 *
 *	  Each queued row names the tables its statement wrote (written), so
 *	  that the worker too evaluates only the rules those tables feed; a row
 *	  without it (queued again for a held patient, or by a 1.2 library)
 *	  makes the pass evaluate whole patients.
 *
 *	  The queue is a logged table: a crash, a stopped worker or a restart
 *	  loses nothing, the worker takes up what is there when it starts.
 *	  Writes queue only when the worker serves their database (the worker
 *	  publishes its database and latch in shared memory); otherwise, and
 *	  with careflags.strict (whose errors must reach the writer), they
 *	  evaluate in the statement as usual.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "careflags.h"
#include "evaluate.h"
#include "evaluator.h"
#include "flags.h"
#include "queue.h"

/* What the worker publishes: the database it serves and its latch. */
typedef struct CfWorkerShared
{
	slock_t		mutex;
	Oid			database;
	Latch	   *latch;
} CfWorkerShared;

static CfWorkerShared *shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
queue_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(CfWorkerShared)));
}

static void
queue_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("careflags worker", sizeof(CfWorkerShared), &found);
	if (!found)
	{
		SpinLockInit(&shared->mutex);
		shared->database = InvalidOid;
		shared->latch = NULL;
	}
	LWLockRelease(AddinShmemInitLock);
}

void
cf_queue_shmem_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = queue_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = queue_shmem_startup;
}

/* The worker's latch if it serves this database, else NULL. */
static Latch *
worker_latch(void)
{
	Latch	   *latch = NULL;

	if (shared == NULL)
		return NULL;
	SpinLockAcquire(&shared->mutex);
	if (shared->database == MyDatabaseId)
		latch = shared->latch;
	SpinLockRelease(&shared->mutex);
	return latch;
}

static void
worker_unpublish(int code, Datum arg)
{
	SpinLockAcquire(&shared->mutex);
	shared->database = InvalidOid;
	shared->latch = NULL;
	SpinLockRelease(&shared->mutex);
}

void
cf_queue_worker_publish(void)
{
	if (shared == NULL)
		return;
	SpinLockAcquire(&shared->mutex);
	shared->database = MyDatabaseId;
	shared->latch = MyLatch;
	SpinLockRelease(&shared->mutex);
	before_shmem_exit(worker_unpublish, (Datum) 0);
}

/* careflags.evaluation_queue, or InvalidOid (before ALTER EXTENSION UPDATE) */
static Oid
queue_relid(void)
{
	Oid			nsp = get_namespace_oid(CF_SCHEMA, true);

	return OidIsValid(nsp) ? get_relname_relid("evaluation_queue", nsp) : InvalidOid;
}

/* ---- writers ---- */

static bool queued_in_xact = false;
static bool xact_callback_registered = false;

static void
queue_xact_callback(XactEvent event, void *arg)
{
	if (!queued_in_xact)
		return;
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)
	{
		Latch	   *latch = worker_latch();

		/* the worker re-queuing what it had to leave comes back on its own */
		if (latch != NULL && latch != MyLatch)
			SetLatch(latch);
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT)
		queued_in_xact = false;
}

/* See queue.h. */
bool
cf_worker_relays_here(void)
{
	Latch	   *latch = worker_latch();

	return latch != NULL && latch != MyLatch;
}

/* See queue.h: the commit callback below sets the worker's latch. */
void
cf_wake_worker_at_commit(void)
{
	if (!xact_callback_registered)
	{
		RegisterXactCallback(queue_xact_callback, NULL);
		xact_callback_registered = true;
	}
	queued_in_xact = true;
}

bool
cf_queue_for_worker(const int64 *ids, int n, uint32 written)
{
	Oid			relid;
	Relation	rel;
	TupleDesc	td;
	Datum	   *values;
	bool	   *nulls;
	Datum	   *elems;
	HeapTuple	tup;

	if (n <= 0 || worker_latch() == NULL)
		return false;
	relid = queue_relid();
	if (!OidIsValid(relid))
		return false;

	rel = table_open(relid, RowExclusiveLock);
	td = RelationGetDescr(rel);
	values = palloc0(sizeof(Datum) * td->natts);
	nulls = palloc(sizeof(bool) * td->natts);
	memset(nulls, true, sizeof(bool) * td->natts);
	elems = palloc(sizeof(Datum) * n);
	for (int i = 0; i < n; i++)
		elems[i] = Int64GetDatum(ids[i]);
	for (int i = 0; i < td->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(td, i);

		if (a->attisdropped)
			continue;
		if (strcmp(NameStr(a->attname), "queued_at") == 0)
			values[i] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
		else if (strcmp(NameStr(a->attname), "patient_ids") == 0)
			values[i] = PointerGetDatum(construct_array(elems, n, INT8OID, sizeof(int64),
														FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		else if (strcmp(NameStr(a->attname), "written") == 0 && written != 0)
			values[i] = Int32GetDatum((int32) written);
		else
			continue;
		nulls[i] = false;
	}
	tup = heap_form_tuple(td, values, nulls);
	simple_heap_insert(rel, tup);
	heap_freetuple(tup);
	table_close(rel, NoLock);

	cf_wake_worker_at_commit();
	return true;
}

/* ---- the worker ---- */

/* A queued patient and what its queued writes wrote (see evaluate.h). */
typedef struct QueuedPatient
{
	int64		id;
	uint32		written;		/* combined; 0: every rule */
} QueuedPatient;

/* qsort: by patient id */
static int
cmp_queued_id(const void *a, const void *b)
{
	const QueuedPatient *x = a;
	const QueuedPatient *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

/* qsort: by what was written, then by patient id */
static int
cmp_queued(const void *a, const void *b)
{
	const QueuedPatient *x = a;
	const QueuedPatient *y = b;

	if (x->written != y->written)
		return x->written < y->written ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

/*
 * What several queued writes of one patient wrote, as one `written`: the
 * union of their tables and of their domains (every domain when one of them
 * does not know its rows' domains), inserts only if all only inserted;
 * 0 (every rule) when one of them does not know its table.
 */
static uint32
combine_written(uint32 a, uint32 b)
{
	const uint32 dom_all = (1u << CF_DOM_COUNT) - 1;
	uint32		tables;
	uint32		domains;

	if (CF_WRITTEN_TABLES_ONLY(a & ~CF_WRITTEN_INSERTS) == 0 ||
		CF_WRITTEN_TABLES_ONLY(b & ~CF_WRITTEN_INSERTS) == 0)
		return 0;
	tables = CF_WRITTEN_TABLES_ONLY(a | b) & ~CF_WRITTEN_INSERTS;
	domains = ((a & CF_WRITTEN_DOMAINS_KNOWN) ? (a >> CF_WRITTEN_DOMAINS_SHIFT) & dom_all : dom_all) |
		((b & CF_WRITTEN_DOMAINS_KNOWN) ? (b >> CF_WRITTEN_DOMAINS_SHIFT) & dom_all : dom_all);
	return tables | (domains != dom_all ? CF_WRITTEN_DOMAINS(domains) : 0) |
		(a & b & CF_WRITTEN_INSERTS);
}

/*
 * Evaluate the patients (ids, in the order of q) group by group of the same
 * `written`.  Never wait for a patient another session holds (a writer or
 * any session left idle in a transaction): evaluate the others, put the held
 * ones back in the queue (cf_evaluate_now does) and come back to them.
 */
static void
evaluate_groups(const QueuedPatient *q, int64 *ids, int n, int *held)
{
	cf_skip_locked_patients = true;
	PG_TRY();
	{
		for (int g = 0, k = 0; g < n; g = k)
		{
			for (k = g + 1; k < n && q[k].written == q[g].written; k++)
				;
			/* only the rules these patients' queued writes fed (evaluate.c) */
			cf_evaluate_now(ids + g, k - g, "evaluation_queue", q[g].written, false);
			if (held != NULL)
			{
				int64	   *h;

				*held += cf_held_patients(&h);
			}
		}
	}
	PG_FINALLY();
	{
		cf_skip_locked_patients = false;
	}
	PG_END_TRY();
}

/*
 * Evaluate the queued patients and empty the queue.  Each patient is
 * evaluated for what its own queued writes fed (a weight: the nutrition
 * rules; a medicine: the medication-review rules), not for the union of the
 * whole batch: patients with the same writes are evaluated together, one
 * group after the other.  *held: the patients other sessions held (queued
 * again, to come back to).
 */
int64
cf_queue_evaluate(int *held)
{
	MemoryContext cxt = CurrentMemoryContext;
	QueuedPatient *q = NULL;
	int64	   *ids;
	int			n = 0;
	int			k;
	int			cap = 0;
	bool		has_written;
	bool		wnull;

	if (held != NULL)
		*held = 0;
	if (!OidIsValid(queue_relid()))
		return 0;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* 1.3: with the tables the queued writes wrote (NULL: not known) */
	has_written = SPI_execute("SELECT FROM pg_catalog.pg_attribute WHERE attrelid = "
							  "'careflags.evaluation_queue'::pg_catalog.regclass AND attname = 'written' "
							  "AND NOT attisdropped", true, 0) == SPI_OK_SELECT && SPI_processed == 1;
	if (SPI_execute(has_written ? "DELETE FROM careflags.evaluation_queue RETURNING patient_ids, written" :
					"DELETE FROM careflags.evaluation_queue RETURNING patient_ids, NULL::integer",
					false, 0) != SPI_OK_DELETE_RETURNING)
		elog(ERROR, "careflags: could not read the evaluation queue");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull);
		Datum		w;
		uint32		written;
		Datum	   *elems;
		bool	   *enulls;
		int			ne;

		if (isnull)
			continue;
		w = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &wnull);
		written = wnull ? 0 : (uint32) DatumGetInt32(w);
		deconstruct_array(DatumGetArrayTypeP(d), INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
						  TYPALIGN_DOUBLE, &elems, &enulls, &ne);
		if (n + ne > cap)
		{
			MemoryContext old = MemoryContextSwitchTo(cxt);

			cap = Max(cap * 2, n + ne + 1024);
			q = q ? repalloc_huge(q, sizeof(QueuedPatient) * cap) :
				MemoryContextAllocHuge(cxt, sizeof(QueuedPatient) * cap);
			MemoryContextSwitchTo(old);
		}
		for (int i = 0; i < ne; i++)
			if (!enulls[i])
			{
				q[n].id = DatumGetInt64(elems[i]);
				q[n++].written = written;
			}
	}
	SPI_finish();
	MemoryContextSwitchTo(cxt);
	if (n == 0)
		return 0;

	/* one entry per patient, with what all its queued writes wrote */
	qsort(q, n, sizeof(QueuedPatient), cmp_queued_id);
	k = 0;
	for (int i = 0; i < n; i++)
	{
		if (k > 0 && q[k - 1].id == q[i].id)
			q[k - 1].written = combine_written(q[k - 1].written, q[i].written);
		else
			q[k++] = q[i];
	}
	n = k;
	/* then the patients with the same writes together */
	qsort(q, n, sizeof(QueuedPatient), cmp_queued);
	ids = palloc(sizeof(int64) * n);
	for (int i = 0; i < n; i++)
		ids[i] = q[i].id;

	evaluate_groups(q, ids, n, held);
	return n;
}
