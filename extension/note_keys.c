/*-------------------------------------------------------------------------
 *
 * note_keys.c
 *	  Keys of rows written in a transaction, noted for a step at its commit.
 *
 *	  A record system's client may write a row, then update it, statement by
 *	  statement; mapping each statement's row to careflags facts costs about
 *	  as much as the statement.  careflags.note_keys() is an AFTER ... FOR
 *	  EACH ROW trigger that only notes the row's key (an integer column),
 *	  per table, in the transaction's memory, as the deferred evaluation
 *	  notes patients (triggers.c).  The first key a transaction notes queues
 *	  a marker row in careflags.noted_keys, whose deferred constraint
 *	  trigger careflags.keys_at_commit() calls, at commit, the function the
 *	  note trigger names, once per table with keys noted, with the table as
 *	  argument; that function takes the keys with careflags.take_noted_keys()
 *	  and maps them set-based.  With a third argument the function is also
 *	  called as soon as that many keys wait (a long import maps as it goes).
 *
 *	  Trigger arguments: key column, commit function (regprocedure text,
 *	  taking one regclass), and optionally the number of keys after which
 *	  the function is called at once (0: only at commit).  One note_keys
 *	  trigger per table (the first one's arguments serve the transaction).
 *
 *	  Savepoints: every key remembers the subtransaction that noted it, and
 *	  every take the subtransaction that took; a rolled-back savepoint drops
 *	  the keys it noted and gives back the keys it took (the facts mapped
 *	  from them were rolled back with it), as a transaction-local setting
 *	  would.  Everything lives in TopTransactionContext and is forgotten at
 *	  the transaction's end.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/rel.h"

#include "careflags.h"
#include "evaluate.h"
#include "owner.h"

/* A take that a rolled-back savepoint gives back. */
typedef struct KeyTake
{
	SubTransactionId subid;
	int			prev_taken;
} KeyTake;

/* The keys noted for one table in this transaction. */
typedef struct NotedTable
{
	Oid			relid;
	Oid			fn;				/* called at commit with the table */
	int			every;			/* call at once when this many wait; 0: never */
	int64	   *keys;
	SubTransactionId *subids;	/* the subtransaction that noted each key */
	int			n;
	int			cap;
	int			taken;			/* keys[0 .. taken) were taken */
	KeyTake    *takes;
	int			ntakes;
	int			captakes;
	bool		calling;		/* fn runs (no call at once from inside it) */
} NotedTable;

static NotedTable *tables = NULL;	/* in TopTransactionContext */
static int	ntables = 0;
static int	captables = 0;
static bool marker_queued = false;
static SubTransactionId marker_subid = InvalidSubTransactionId;
static bool callbacks_registered = false;
static SPIPlanPtr insert_marker_plan = NULL;	/* kept across transactions */
static SPIPlanPtr delete_marker_plan = NULL;

/* Forget everything at the transaction's end (the memory goes with it). */
static void
note_keys_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT)
	{
		tables = NULL;
		ntables = captables = 0;
		marker_queued = false;
		marker_subid = InvalidSubTransactionId;
	}
}

/*
 * A rolled-back subtransaction drops the keys it (and its children) noted,
 * gives back what they took, and forgets a marker it queued.  Keys of a
 * subtransaction started later have higher ids and sit at the lists' ends.
 */
static void
note_keys_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						   SubTransactionId parentSubid, void *arg)
{
	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	for (int i = 0; i < ntables; i++)
	{
		NotedTable *t = &tables[i];

		while (t->n > 0 && t->subids[t->n - 1] >= mySubid)
			t->n--;
		while (t->ntakes > 0 && t->takes[t->ntakes - 1].subid >= mySubid)
			t->taken = t->takes[--t->ntakes].prev_taken;
		if (t->taken > t->n)
			t->taken = t->n;
	}
	if (marker_queued && marker_subid >= mySubid)
	{
		marker_queued = false;
		marker_subid = InvalidSubTransactionId;
	}
}

/* The entry of a table, or NULL. */
static NotedTable *
find_table(Oid relid)
{
	for (int i = 0; i < ntables; i++)
		if (tables[i].relid == relid)
			return &tables[i];
	return NULL;
}

/* The entry of a table, made with the trigger's arguments if new. */
static NotedTable *
table_entry(Relation rel, Trigger *trigger)
{
	NotedTable *t = find_table(RelationGetRelid(rel));
	MemoryContext old;
	Oid			fn;
	Oid		   *argtypes;
	int			nargs;
	int			every = 0;

	if (t != NULL)
		return t;

	fn = DatumGetObjectId(DirectFunctionCall1(regprocedurein,
											  CStringGetDatum(trigger->tgargs[1])));
	(void) get_func_signature(fn, &argtypes, &nargs);
	if (nargs != 1 || argtypes[0] != REGCLASSOID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("careflags.note_keys(): function %s must take one regclass", trigger->tgargs[1]),
				 errdetail("Trigger \"%s\" on \"%s\" names it.", trigger->tgname,
						   RelationGetRelationName(rel))));
	if (trigger->tgnargs > 2)
	{
		every = pg_strtoint32(trigger->tgargs[2]);
		if (every < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("careflags.note_keys(): the number of keys must not be negative"),
					 errdetail("Trigger \"%s\" on \"%s\" gives %d.", trigger->tgname,
							   RelationGetRelationName(rel), every)));
	}

	if (!callbacks_registered)
	{
		RegisterXactCallback(note_keys_xact_callback, NULL);
		RegisterSubXactCallback(note_keys_subxact_callback, NULL);
		callbacks_registered = true;
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	if (ntables == captables)
	{
		captables = captables ? captables * 2 : 4;
		tables = tables ? repalloc(tables, sizeof(NotedTable) * captables) :
			palloc(sizeof(NotedTable) * captables);
	}
	t = &tables[ntables++];
	memset(t, 0, sizeof(NotedTable));
	t->relid = RelationGetRelid(rel);
	t->fn = fn;
	t->every = every;
	MemoryContextSwitchTo(old);
	return t;
}

/* Append one key, noted by the current subtransaction. */
static void
add_key(NotedTable *t, int64 key)
{
	if (t->n == t->cap)
	{
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

		t->cap = t->cap ? t->cap * 2 : 256;
		t->keys = t->keys ? repalloc_huge(t->keys, sizeof(int64) * t->cap) :
			palloc(sizeof(int64) * t->cap);
		t->subids = t->subids ? repalloc_huge(t->subids, sizeof(SubTransactionId) * t->cap) :
			palloc(sizeof(SubTransactionId) * t->cap);
		MemoryContextSwitchTo(old);
	}
	t->keys[t->n] = key;
	t->subids[t->n] = GetCurrentSubTransactionId();
	t->n++;
}

/* The key column's value as int64; false when it is NULL. */
static bool
key_of(HeapTuple tuple, TupleDesc desc, int attnum, Oid typid, int64 *key)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, attnum, desc, &isnull);

	if (isnull)
		return false;
	switch (typid)
	{
		case INT2OID:
			*key = DatumGetInt16(d);
			break;
		case INT4OID:
			*key = DatumGetInt32(d);
			break;
		default:
			*key = DatumGetInt64(d);
			break;
	}
	return true;
}

/*
 * Queue the marker whose deferred trigger runs the commit step.  It is
 * careflags' own trigger: queued as the extension's owner, and also from a
 * security-restricted operation (careflags.run_as_owner), where PostgreSQL
 * refuses to queue deferred triggers (as triggers.c queues its marker).
 */
static void
queue_marker(void)
{
	CfOwnerContext oc;
	MemoryContext cxt = CurrentMemoryContext;
	Oid			uid;
	int			sec;

	/* first: with the trigger immediate, it runs (and clears it) in the INSERT */
	marker_queued = true;
	marker_subid = GetCurrentSubTransactionId();
	cf_enter_owner_context(&oc);
	GetUserIdAndSecContext(&uid, &sec);
	SetUserIdAndSecContext(uid, sec & ~SECURITY_RESTRICTED_OPERATION);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (insert_marker_plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare("INSERT INTO careflags.noted_keys DEFAULT VALUES", 0, NULL);

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "careflags: could not prepare the noted keys' marker");
		insert_marker_plan = p;
	}
	if (SPI_execute_plan(insert_marker_plan, NULL, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "careflags: could not queue the noted keys' commit step");
	SPI_finish();
	cf_leave_owner_context(&oc);
	MemoryContextSwitchTo(cxt);
}

/* Call a table's commit function with the table. */
static void
call_commit_function(NotedTable *t)
{
	LOCAL_FCINFO(fcinfo, 1);
	FmgrInfo	flinfo;
	Oid			relid = t->relid;
	Oid			fn = t->fn;

	fmgr_info(fn, &flinfo);
	InitFunctionCallInfoData(*fcinfo, &flinfo, 1, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = ObjectIdGetDatum(relid);
	fcinfo->args[0].isnull = false;
	t->calling = true;
	PG_TRY();
	{
		(void) FunctionCallInvoke(fcinfo);
	}
	PG_FINALLY();
	{
		/* the array may have moved: find the entry again */
		NotedTable *again = find_table(relid);

		if (again != NULL)
			again->calling = false;
	}
	PG_END_TRY();
}

/*
 * careflags.note_keys(): AFTER INSERT OR UPDATE OR DELETE ... FOR EACH ROW;
 * notes the row's key (the new row's, the old row's for a DELETE or when an
 * UPDATE changed it) for the commit step.
 */
PG_FUNCTION_INFO_V1(careflags_note_keys);
Datum
careflags_note_keys(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	Trigger    *trigger;
	NotedTable *t;
	int			attnum;
	Oid			typid;
	int64		key;
	int64		old_key;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("careflags.note_keys() must be an AFTER ... FOR EACH ROW trigger")));
	rel = td->tg_relation;
	desc = RelationGetDescr(rel);
	trigger = td->tg_trigger;
	if (trigger->tgnargs < 2 || trigger->tgnargs > 3)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("careflags.note_keys() takes a key column, a function and optionally a number of keys"),
				 errdetail("Trigger \"%s\" on \"%s\" has %d arguments.", trigger->tgname,
						   RelationGetRelationName(rel), trigger->tgnargs)));
	attnum = SPI_fnumber(desc, trigger->tgargs[0]);
	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("careflags.note_keys(): column \"%s\" of \"%s\" does not exist",
						trigger->tgargs[0], RelationGetRelationName(rel))));
	typid = TupleDescAttr(desc, attnum - 1)->atttypid;
	if (typid != INT2OID && typid != INT4OID && typid != INT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("careflags.note_keys(): column \"%s\" of \"%s\" is not an integer",
						trigger->tgargs[0], RelationGetRelationName(rel))));

	t = table_entry(rel, trigger);
	if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
	{
		if (key_of(td->tg_trigtuple, desc, attnum, typid, &key))
			add_key(t, key);
	}
	else
	{
		HeapTuple	newtuple = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;

		if (key_of(newtuple, desc, attnum, typid, &key))
			add_key(t, key);
		if (TRIGGER_FIRED_BY_UPDATE(td->tg_event) &&
			key_of(td->tg_trigtuple, desc, attnum, typid, &old_key) &&
			old_key != key)
			add_key(t, old_key);
	}

	/* the key first: with the marker's trigger immediate it maps it at once */
	if (!marker_queued)
		queue_marker();
	else if (t->every > 0 && !t->calling && t->n - t->taken >= t->every)
		call_commit_function(t);
	return PointerGetDatum(NULL);
}

/*
 * careflags.take_noted_keys(regclass): the distinct keys noted for a table
 * and not taken yet, in order; they count as taken from now on (given back
 * if the current savepoint is rolled back).
 */
PG_FUNCTION_INFO_V1(careflags_take_noted_keys);
Datum
careflags_take_noted_keys(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	NotedTable *t = find_table(relid);
	int64	   *ids;
	Datum	   *elems;
	int			n;

	if (t == NULL || t->n == t->taken)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(INT8OID));
	n = t->n - t->taken;
	ids = palloc(sizeof(int64) * n);
	memcpy(ids, t->keys + t->taken, sizeof(int64) * n);
	n = cf_unique_ids(ids, n);

	if (t->ntakes == t->captakes)
	{
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

		t->captakes = t->captakes ? t->captakes * 2 : 8;
		t->takes = t->takes ? repalloc(t->takes, sizeof(KeyTake) * t->captakes) :
			palloc(sizeof(KeyTake) * t->captakes);
		MemoryContextSwitchTo(old);
	}
	t->takes[t->ntakes].subid = GetCurrentSubTransactionId();
	t->takes[t->ntakes].prev_taken = t->taken;
	t->ntakes++;
	t->taken = t->n;

	elems = palloc(sizeof(Datum) * n);
	for (int i = 0; i < n; i++)
		elems[i] = Int64GetDatum(ids[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * careflags.keys_at_commit(): deferred constraint trigger on
 * careflags.noted_keys; calls each table's commit function while keys wait,
 * then removes the marker (a later note queues a new one).
 */
PG_FUNCTION_INFO_V1(careflags_keys_at_commit);
Datum
careflags_keys_at_commit(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	CfOwnerContext oc;
	MemoryContext cxt = CurrentMemoryContext;
	bool		more = true;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("careflags.keys_at_commit() must be an AFTER ... FOR EACH ROW trigger")));

	/* a note from here on queues a new marker */
	marker_queued = false;
	marker_subid = InvalidSubTransactionId;
	while (more)
	{
		more = false;
		for (int i = 0; i < ntables; i++)
		{
			int			n = tables[i].n;

			if (n > tables[i].taken && !tables[i].calling)
			{
				/* tables may grow (and move) inside the call: index again */
				call_commit_function(&tables[i]);
				/* keys the function did not take are dropped, not retried */
				if (tables[i].taken < n)
					tables[i].taken = n;
				more = true;
			}
		}
	}

	cf_enter_owner_context(&oc);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (delete_marker_plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare("DELETE FROM careflags.noted_keys", 0, NULL);

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "careflags: could not prepare the noted keys' marker removal");
		delete_marker_plan = p;
	}
	(void) SPI_execute_plan(delete_marker_plan, NULL, NULL, false, 0);
	SPI_finish();
	cf_leave_owner_context(&oc);
	MemoryContextSwitchTo(cxt);
	return PointerGetDatum(NULL);
}
