/*-------------------------------------------------------------------------
 *
 * patient_lock.c
 *	  Lock a chunk of patients and load their facts (fact_reader.c).
 *
 *	  Locking: before reconciling, the patient's row in careflags.patient is
 *	  locked FOR NO KEY UPDATE, patients in ascending id order.  Two sessions
 *	  writing facts of the same patient therefore reconcile one after the
 *	  other; different patients never wait on each other; and the lock does
 *	  not block the foreign-key checks of concurrent fact inserts (they take
 *	  FOR KEY SHARE).  A row lock lives in the tuple, not in the shared lock
 *	  table, so recompute_all() can hold one per patient for any population.
 *	  With cf_skip_locked_patients (the worker) a patient another session
 *	  holds is not waited for but left for later.
 *
 *	  The patient's action lock: a nurse's action (audit.c) takes it in share
 *	  mode before it touches a flag and keeps it to the end of her
 *	  transaction; the evaluation tries it in exclusive mode, never waiting,
 *	  while it reconciles the patient (reconcile.c).  When it gets it no
 *	  action holds a flag of the patient, and plain flag updates cannot wait
 *	  for a nurse; when it does not, updates skip the rows a nurse holds.
 *	  It is an advisory lock tag of careflags' own (pg_locks: advisory,
 *	  objsubid CF_ACTION_LOCK), released by the evaluation after the patient.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/memutils.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "careflags.h"
#include "evaluate.h"
#include "fact_reader.h"
#include "patient_lock.h"

/* ---- patients left for later ---- */

bool		cf_skip_locked_patients = false;
static int64 *held_ids = NULL;
static int	held_n = 0;
static int	held_cap = 0;
static LocalTransactionId held_lxid = InvalidLocalTransactionId;

/* Forget what an earlier call left (its memory went with its transaction). */
void
cf_held_reset(void)
{
	if (held_lxid != MyProc->lxid)
	{
		held_ids = NULL;
		held_cap = 0;
		held_lxid = MyProc->lxid;
	}
	held_n = 0;
}

/* Remember a patient whose evaluation was left for later. */
void
cf_note_held(int64 patient_id)
{
	if (held_lxid != MyProc->lxid)
		cf_held_reset();
	if (held_n > 0 && held_ids[held_n - 1] == patient_id)
		return;
	if (held_n == held_cap)
	{
		held_cap = Max(16, held_cap * 2);
		held_ids = held_ids == NULL ?
			MemoryContextAlloc(TopTransactionContext, sizeof(int64) * held_cap) :
			repalloc(held_ids, sizeof(int64) * held_cap);
	}
	held_ids[held_n++] = patient_id;
}

/* How many patients were left for later so far. */
int
cf_held_count(void)
{
	return held_lxid == MyProc->lxid ? held_n : 0;
}

/* See evaluate.h. */
int
cf_held_patients(int64 **ids)
{
	*ids = held_ids;
	return cf_held_count();
}

/* ---- the patients' action lock ---- */

#define CF_ACTION_LOCK 0x4346

static void
action_lock_tag(LOCKTAG *tag, int64 patient_id)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) ((uint64) patient_id >> 32),
						 (uint32) patient_id, CF_ACTION_LOCK);
}

/* See evaluate.h. */
void
cf_lock_patient_actions(int64 patient_id)
{
	LOCKTAG		tag;

	action_lock_tag(&tag, patient_id);
	(void) LockAcquire(&tag, ShareLock, false, false);
}

/* See patient_lock.h. */
bool
cf_patient_actions_quiet(int64 patient_id)
{
	LOCKTAG		tag;

	action_lock_tag(&tag, patient_id);
	return LockAcquire(&tag, ExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL;
}

/* See patient_lock.h. */
void
cf_patient_actions_release(int64 patient_id)
{
	LOCKTAG		tag;

	action_lock_tag(&tag, patient_id);
	LockRelease(&tag, ExclusiveLock, false);
}

/* ---- locking and loading a chunk ---- */

/*
 * Lock the patients' rows FOR NO KEY UPDATE, in ascending id order, as
 * SELECT ... ORDER BY patient_id FOR NO KEY UPDATE would (see ExecLockRows):
 * under READ COMMITTED the latest version of a row updated meanwhile is
 * locked; under REPEATABLE READ and SERIALIZABLE such a row is a
 * serialization failure.  A patient deleted meanwhile is skipped.  The
 * locked version of each row gives the patient's own columns (it is the
 * version the reading after the locks sees).
 */
static void
lock_patients(CfChunk *c, Snapshot snap)
{
	Oid			nsp = get_namespace_oid(CF_SCHEMA, false);
	Relation	rel = table_open(get_relname_relid("patient", nsp), RowShareLock);
	Relation	idx = index_open(get_relname_relid("patient_pkey", nsp), AccessShareLock);
	IndexScanDesc scan = index_beginscan(rel, idx, snap, 1, 0);
	TupleTableSlot *found = table_slot_create(rel, NULL);
	TupleTableSlot *locked = table_slot_create(rel, NULL);
	CfPatientColumns cols;
	CommandId	cid = GetCurrentCommandId(true);
	int			flags = TUPLE_LOCK_FLAG_LOCK_UPDATE_IN_PROGRESS;
	ScanKeyData key;

	cf_patient_columns(RelationGetDescr(rel), &cols);
	if (!IsolationUsesXactSnapshot())
		flags |= TUPLE_LOCK_FLAG_FIND_LAST_VERSION;
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(0));
	for (int i = 0; i < c->n; i++)
	{
		TM_FailureData tmfd;
		TM_Result	res;

		key.sk_argument = Int64GetDatum(c->ids[i]);
		index_rescan(scan, &key, 1, NULL, 0);
		if (!index_getnext_slot(scan, ForwardScanDirection, found))
			continue;
		res = table_tuple_lock(rel, &found->tts_tid, snap, locked, cid, LockTupleNoKeyExclusive,
							   cf_skip_locked_patients ? LockWaitSkip : LockWaitBlock, flags, &tmfd);
		switch (res)
		{
			case TM_Ok:
				cf_chunk_patient_from_slot(c, i, locked, &cols);
				break;
			case TM_WouldBlock:
				/* the worker: another session holds the patient; later */
				cf_note_held(c->ids[i]);
				break;
			case TM_SelfModified:
				cf_chunk_patient_from_slot(c, i, found, &cols);
				break;
			case TM_Updated:
			case TM_Deleted:
				if (IsolationUsesXactSnapshot())
					ereport(ERROR,
							(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
							 errmsg("could not serialize access due to concurrent update")));
				/* read committed: deleted meanwhile */
				break;
			default:
				elog(ERROR, "careflags: unexpected result %d locking patient %lld",
					 (int) res, (long long) c->ids[i]);
		}
	}
	c->patients_read = true;
	ExecDropSingleTupleTableSlot(found);
	ExecDropSingleTupleTableSlot(locked);
	index_endscan(scan);
	index_close(idx, NoLock);
	table_close(rel, NoLock);
}

/*
 * Writing: lock the patients first (ascending ids), then read everything
 * under one fresh snapshot taken after the locks, so that a session that
 * waited for another one's reconciliation of a patient sees its committed
 * facts and flags.  Checking: read under the statement's snapshot.
 */
void
cf_load_chunk(CfChunk *c, bool lock, const CfEvalOps *ops)
{
	cf_chunk_init(c);
	if (lock)
	{
		/* as SPI does for a statement that writes: see our own changes */
		CommandCounterIncrement();
		PushActiveSnapshot(GetTransactionSnapshot());
		UpdateActiveSnapshotCommandId();
		lock_patients(c, GetActiveSnapshot());
		PopActiveSnapshot();
		CommandCounterIncrement();
		PushActiveSnapshot(GetTransactionSnapshot());
		UpdateActiveSnapshotCommandId();
	}
	cf_read_chunk(c, (CfTime) cf_now(), ops);
	if (c->tables != CF_FT_ALL)
	{
		/*
		 * Only some domains are to be evaluated: the others' next check
		 * times must be known to keep them, else the patient is read whole.
		 */
		bool		whole = !c->state_v13;

		for (int i = 0; i < c->n && !whole; i++)
			whole = c->exists[i] && !c->has_next_dom[i];
		if (whole)
		{
			c->tables = CF_FT_ALL & ~c->tables;
			c->tables |= CF_FT_BIT(CF_FT_PATIENT_STATE) | CF_FT_BIT(CF_FT_OPEN_FLAG) |
				CF_FT_BIT(CF_FT_DONE_FLAG);
			cf_read_chunk(c, (CfTime) cf_now(), ops);
			c->tables = CF_FT_ALL;
		}
	}
	if (lock)
		PopActiveSnapshot();
}
