/*-------------------------------------------------------------------------
 *
 * triggers.c
 *	  Trigger functions that keep flags true as the record changes.
 *
 *	  careflags.facts_changed(): AFTER ... FOR EACH STATEMENT with transition
 *	  tables on every fact table.  It collects the distinct patients of the
 *	  rows the statement touched (old and new rows) and re-evaluates each
 *	  once, so a bulk INSERT ... SELECT or COPY costs one evaluation per
 *	  patient, not per row.
 *
 *	  Only the rules the written table feeds are evaluated (evaluate.c:
 *	  incremental evaluation), and of those only the domains the rows can
 *	  concern (an assessment's instrument, a care plan's kind: an MST
 *	  screening reads no fall or medicine); a table every rule reads, the
 *	  deferred evaluation and the worker's evaluate the whole patient.
 *
 *	  careflags.fact_changed_row(): the same, FOR EACH ROW, for setups that
 *	  cannot have statement triggers with transition tables (Citus
 *	  distributed tables).  Switched with careflags.set_trigger_mode().  It
 *	  too evaluates each patient once per statement: the rows' patients are
 *	  collected and evaluated when the statement's triggers are done
 *	  (an ExecutorFinish hook).
 *
 *	  Failure isolation: the evaluation of one statement runs in a
 *	  subtransaction.  If it fails (it should not: facts were validated by
 *	  the guard), the failure is written to careflags.quarantine with a
 *	  WARNING and the record's write goes on, unless careflags.strict is on.
 *	  A query cancel, a deadlock, a serialization failure or a lock timeout
 *	  is never swallowed: the writer chose or must see those.  A transaction
 *	  of thousands of statements can SET LOCAL careflags.isolate_evaluation
 *	  = off to stay clear of subtransaction overflow.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/rls.h"
#include "utils/tuplestore.h"
#include "utils/memutils.h"

#include "careflags.h"
#include "evaluate.h"
#include "evaluator.h"
#include "fact_reader.h"
#include "flags.h"
#include "quarantine.h"
#include "queue.h"
#include "scores.h"
#include "shard.h"

typedef struct IdList
{
	int64	   *ids;
	int			n;
	int			cap;
} IdList;

static void
idlist_add(IdList *l, int64 id)
{
	if (l->n == l->cap)
	{
		l->cap = l->cap ? l->cap * 2 : 64;
		l->ids = l->ids ? repalloc_huge(l->ids, sizeof(int64) * l->cap) :
			palloc(sizeof(int64) * l->cap);
	}
	l->ids[l->n++] = id;
}

/*
 * Deferred evaluation (careflags.defer_evaluation): the patients written in
 * this transaction, kept in TopTransactionContext until a deferred
 * constraint trigger on careflags.deferred_evaluation evaluates them at
 * commit (one marker row per transaction queues it).
 */
static IdList *pending = NULL;
static uint32 pending_tables = 0;	/* CF_FT_BITs of the tables written */
static bool pending_unknown = false;	/* a write of another table: every rule */
static bool pending_updated = false;	/* a row updated or deleted */
static bool xact_callback_registered = false;

static void
pending_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT)
	{
		pending = NULL;			/* freed with the transaction's memory */
		pending_tables = 0;
		pending_unknown = false;
		pending_updated = false;
	}
}

static void
defer_ids(const int64 *ids, int n, uint32 written)
{
	MemoryContext old;
	bool		first = (pending == NULL);

	if (!xact_callback_registered)
	{
		RegisterXactCallback(pending_xact_callback, NULL);
		xact_callback_registered = true;
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	if (pending == NULL)
		pending = palloc0(sizeof(IdList));
	for (int i = 0; i < n; i++)
		idlist_add(pending, ids[i]);
	pending_tables |= written & ~CF_WRITTEN_INSERTS;
	if ((written & ~CF_WRITTEN_INSERTS) == 0)
		pending_unknown = true;
	if (!(written & CF_WRITTEN_INSERTS))
		pending_updated = true;
	MemoryContextSwitchTo(old);

	if (first)
	{
		CfOwnerContext oc;
		MemoryContext cxt = CurrentMemoryContext;

		Oid			uid;
		int			sec;

		cf_enter_owner_context(&oc);

		/*
		 * The marker's deferred trigger is careflags' own: queue it also when
		 * the fact was written from a store owner's security-restricted
		 * operation (careflags.run_as_owner), where PostgreSQL refuses to
		 * queue deferred triggers.  cf_leave_owner_context() restores the
		 * restriction.
		 */
		GetUserIdAndSecContext(&uid, &sec);
		SetUserIdAndSecContext(uid, sec & ~SECURITY_RESTRICTED_OPERATION);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute("INSERT INTO careflags.deferred_evaluation DEFAULT VALUES", false, 0) != SPI_OK_INSERT)
			elog(ERROR, "careflags: could not queue the deferred evaluation");
		SPI_finish();
		cf_leave_owner_context(&oc);
		MemoryContextSwitchTo(cxt);
	}
}

static void evaluate_isolated(int64 *ids, int n, const char *table, uint32 written);

/* Evaluate what was deferred so far; returns the number of patients. */
static int
evaluate_pending(void)
{
	int64	   *ids;
	int			n;
	uint32		written;

	if (pending == NULL || pending->n == 0)
		return 0;
	n = pending->n;
	ids = palloc(sizeof(int64) * n);
	memcpy(ids, pending->ids, sizeof(int64) * n);
	pending->n = 0;
	written = (pending_unknown ? 0 : pending_tables) | (pending_updated ? 0 : CF_WRITTEN_INSERTS);
	pending_tables = 0;
	pending_unknown = false;
	pending_updated = false;
	n = cf_unique_ids(ids, n);
	evaluate_isolated(ids, n, "deferred_evaluation", written);
	return n;
}

/*
 * The domain (bit) whose rules a row can concern, from the enum label of
 * the column that tells it (an assessment's instrument, a care plan's kind),
 * classified as the fact reader classifies it (fact_reader.c: assessment_row,
 * plan_row), so that a row can only feed the rules that would read it.
 */
static uint32
row_domains(Oid enum_oid, uint32 table)
{
	HeapTuple	tup = SearchSysCache1(ENUMOID, ObjectIdGetDatum(enum_oid));
	const char *label;
	bool		nutrition;

	if (!HeapTupleIsValid(tup))
		return (1u << CF_DOM_COUNT) - 1;
	label = NameStr(((Form_pg_enum) GETSTRUCT(tup))->enumlabel);
	if (table == CF_FT_BIT(CF_FT_ASSESSMENT))
	{
		int			k = cf_instrument_from_name(label);

		nutrition = k >= 0 && cf_instrument_is_nutrition((CfInstrument) k);
	}
	else
		nutrition = strcmp(label, "nutrition") == 0;
	ReleaseSysCache(tup);
	/* a fall-risk result also feeds the review of fall-risk drugs (§7.8) */
	return nutrition ? 1u << CF_DOM_NUTRITION :
		(1u << CF_DOM_FALL_RISK) | (1u << CF_DOM_MEDICATION_REVIEW);
}

/*
 * Add the patient ids of the rows of a transition table to l; with
 * class_attnum (> 0), also the domains of the rows (row_domains) to
 * *domains, every domain for a row where the column is null.
 */
static void
collect_ids(Tuplestorestate *ts, Relation rel, AttrNumber attnum, IdList *l,
			AttrNumber class_attnum, uint32 table, uint32 *domains)
{
	TupleTableSlot *slot;
	Oid			last = InvalidOid;	/* the last label looked up (bulk: one) */

	if (ts == NULL)
		return;
	slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsMinimalTuple);
	tuplestore_rescan(ts);
	while (tuplestore_gettupleslot(ts, true, false, slot))
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, attnum, &isnull);

		if (!isnull)
			idlist_add(l, DatumGetInt64(d));
		if (class_attnum > 0 && *domains != (1u << CF_DOM_COUNT) - 1)
		{
			d = slot_getattr(slot, class_attnum, &isnull);
			if (isnull)
				*domains = (1u << CF_DOM_COUNT) - 1;
			else if (DatumGetObjectId(d) != last)
			{
				last = DatumGetObjectId(d);
				*domains |= row_domains(last, table);
			}
		}
	}
	ExecDropSingleTupleTableSlot(slot);
}

/*
 * The column whose value tells which domains a row of the table concerns
 * (an enum: the assessment's instrument, the care plan's kind); 0 for the
 * other tables, or when the column is not the enum expected.
 */
static AttrNumber
class_attnum(Relation rel, uint32 table)
{
	const char *col = table == CF_FT_BIT(CF_FT_ASSESSMENT) ? "instrument" :
		table == CF_FT_BIT(CF_FT_CARE_PLAN) ? "kind" : NULL;
	AttrNumber	a;

	if (col == NULL)
		return 0;
	a = SPI_fnumber(RelationGetDescr(rel), col);
	if (a <= 0 || get_typtype(TupleDescAttr(RelationGetDescr(rel), a - 1)->atttypid) != TYPTYPE_ENUM)
		return 0;
	return a;
}

/*
 * Evaluate the patients; on failure, quarantine and carry on (or raise when
 * careflags.strict).
 */
static void
evaluate_isolated(int64 *ids, int n, const char *table, uint32 written)
{
	if (n == 0)
		return;

	/*
	 * pg_dump's output loads data with row_security off; so does nothing
	 * else in normal operation.  A restore brings the flags as they were
	 * saved, so the facts it loads are not evaluated again (which, with the
	 * tables loaded in name order, would run under rules not yet restored).
	 */
	if (!row_security)
		return;

	/*
	 * On a Citus shard the evaluation needs the shard the trigger fired on:
	 * neither the commit-time evaluation nor the worker's queue knows it, so
	 * a shard evaluates now (README: careflags on Citus).
	 */
	if (cf_shard_context() != 0)
	{
		cf_evaluate_now(ids, n, table, written, true);
		return;
	}
	if (cf_defer_evaluation && strcmp(table, "deferred_evaluation") != 0)
	{
		defer_ids(ids, n, CF_WRITTEN_TABLES_ONLY(written));
		return;
	}
	if (cf_evaluate_in_worker && !cf_strict && cf_queue_for_worker(ids, n, written))
		return;
	cf_evaluate_now(ids, n, table, written, true);
}

/*
 * Patients an evaluation left for later (reconcile.c, patient_lock.c: a
 * flag held by another session's open action, or in the worker a patient
 * row held): to the worker's queue when the worker serves this database
 * (it comes back to them until they are free), else quarantined with the
 * reason, so that check_consistency() lists them until the next write or
 * recompute.
 */
static void
leave_for_later(const char *table, const int64 *ids, int n, const char *reason)
{
	int64	   *copy;

	if (n <= 0)
		return;
	copy = palloc(sizeof(int64) * n);
	memcpy(copy, ids, sizeof(int64) * n);
	n = cf_unique_ids(copy, n);
	if (!cf_queue_for_worker(copy, n, 0))
		cf_quarantine_evaluation(table, copy, n, reason);
	pfree(copy);
}

#define HELD_REASON "a flag of the patient is held by another session's acknowledge or snooze, not yet committed: " \
	"the write went through without waiting; the patient is evaluated again by the worker, the next write or careflags.recompute_patient()"

void
cf_evaluate_now(int64 *ids, int n, const char *table, uint32 written, bool may_raise)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	int64	   *held;
	int			n_held;

	if (may_raise && (cf_strict || !cf_isolate_evaluation))
	{
		(void) cf_evaluate_written(ids, n, CF_RECONCILE_WRITE, NULL, NULL, written, NULL);
		n_held = cf_held_patients(&held);
		leave_for_later(table, held, n_held, HELD_REASON);
		return;
	}

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		(void) cf_evaluate_written(ids, n, CF_RECONCILE_WRITE, NULL, NULL, written, NULL);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		n_held = cf_held_patients(&held);
		leave_for_later(table, held, n_held, HELD_REASON);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
			edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN ||
			edata->sqlerrcode == ERRCODE_T_R_SERIALIZATION_FAILURE ||
			edata->sqlerrcode == ERRCODE_T_R_DEADLOCK_DETECTED)
			PG_RE_THROW();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;

		/*
		 * A lock_timeout while waiting for another writer of the patient: the
		 * record's write goes through (it must never fail because of
		 * careflags unless careflags.strict); the patients are quarantined
		 * with the reason and, when the worker serves this database, queued
		 * for it as well, so their flags catch up once the lock is free.
		 */
		if (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
			(void) cf_queue_for_worker(ids, n, 0);
		cf_quarantine_evaluation(table, ids, n, edata->message);
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

/*
 * The CF_FT_BIT of the table a trigger's relation is (a fact table of the
 * careflags schema), so that only the rules it feeds are evaluated; 0 for
 * any other relation: every rule.
 */
static uint32
written_table(Relation rel)
{
	Oid			nsp = get_namespace_oid(CF_SCHEMA, true);
	int64		shardid;
	int			ft;

	if (!OidIsValid(nsp) || RelationGetNamespace(rel) != nsp)
		return 0;
	/* a Citus shard (assessment_102081) feeds what its table feeds */
	ft = cf_fact_table_from_name(cf_logical_relname(rel, &shardid));
	return ft < 0 ? 0 : CF_FT_BIT(ft);
}

static AttrNumber
patient_attnum(Relation rel)
{
	AttrNumber	attnum = SPI_fnumber(RelationGetDescr(rel), "patient_id");

	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
				 errmsg("careflags trigger on table \"%s\" which has no patient_id column",
						RelationGetRelationName(rel))));
	return attnum;
}

/* careflags.facts_changed(): statement-level, reads the transition tables. */
PG_FUNCTION_INFO_V1(careflags_facts_changed);
Datum
careflags_facts_changed(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	IdList		ids = {0};
	AttrNumber	attnum;
	AttrNumber	cattnum;
	uint32		table;
	uint32		domains = 0;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("careflags.facts_changed() must be called as a trigger")));
	if (!TRIGGER_FIRED_AFTER(td->tg_event) || !TRIGGER_FIRED_FOR_STATEMENT(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("careflags.facts_changed() must be an AFTER ... FOR EACH STATEMENT trigger")));
	if (td->tg_newtable == NULL && td->tg_oldtable == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("careflags.facts_changed() needs REFERENCING NEW TABLE and/or OLD TABLE")));

	attnum = patient_attnum(td->tg_relation);
	table = written_table(td->tg_relation);
	cattnum = class_attnum(td->tg_relation, table);
	collect_ids(td->tg_newtable, td->tg_relation, attnum, &ids, cattnum, table, &domains);
	collect_ids(td->tg_oldtable, td->tg_relation, attnum, &ids, cattnum, table, &domains);
	ids.n = cf_unique_ids(ids.ids, ids.n);
	evaluate_isolated(ids.ids, ids.n, RelationGetRelationName(td->tg_relation),
					  table | (cattnum > 0 ? CF_WRITTEN_DOMAINS(domains) : 0) |
					  (TRIGGER_FIRED_BY_INSERT(td->tg_event) ? CF_WRITTEN_INSERTS : 0));
	return PointerGetDatum(NULL);
}

/*
 * Row mode, one evaluation per patient per statement: the row trigger
 * collects the patients of the statement whose ExecutorFinish fires it
 * (AFTER ROW triggers fire there), and cf_executor_finish evaluates them
 * once when that statement's triggers are done.  Levels are the nesting of
 * statements being finished; deeper than ROW_LEVELS (or outside any, e.g. a
 * top-level COPY) each row is evaluated as it fires.
 */
#define ROW_LEVELS 32

typedef struct RowLevel
{
	IdList		ids;
	uint32		written;
	bool		unknown;		/* a table of no known CfFactTable */
	bool		updated;		/* a row updated or deleted */
	uint32		domains;		/* of the rows, when every row told them */
	bool		domains_unknown;	/* a row that did not */
	char		table[NAMEDATALEN];
} RowLevel;

static RowLevel row_levels[ROW_LEVELS + 1];
static int	finish_depth = 0;
static ExecutorFinish_hook_type prev_executor_finish = NULL;

/* Keep the patients for the end of the statement; false: evaluate now. */
static bool
row_collect(const int64 *ids, int n, Relation rel, bool insert, uint32 written)
{
	RowLevel   *l;
	MemoryContext old;
	uint32		w = CF_WRITTEN_TABLES_ONLY(written) & ~CF_WRITTEN_INSERTS;

	if (finish_depth <= 0 || finish_depth > ROW_LEVELS)
		return false;
	l = &row_levels[finish_depth];
	old = MemoryContextSwitchTo(TopTransactionContext);
	for (int i = 0; i < n; i++)
		idlist_add(&l->ids, ids[i]);
	MemoryContextSwitchTo(old);
	l->written |= w;
	if (w == 0)
		l->unknown = true;
	if (written & CF_WRITTEN_DOMAINS_KNOWN)
		l->domains |= written >> CF_WRITTEN_DOMAINS_SHIFT;
	else
		l->domains_unknown = true;
	if (!insert)
		l->updated = true;
	strlcpy(l->table, RelationGetRelationName(rel), NAMEDATALEN);
	return true;
}

static void
row_level_reset(RowLevel *l)
{
	l->ids.ids = NULL;			/* in TopTransactionContext: freed with it */
	l->ids.n = 0;
	l->ids.cap = 0;
	l->written = 0;
	l->unknown = false;
	l->updated = false;
	l->domains = 0;
	l->domains_unknown = false;
	l->table[0] = '\0';
}

/*
 * ExecutorFinish hook: run the statement's AFTER triggers, then evaluate
 * once each patient its row triggers collected.
 */
static void
cf_executor_finish(QueryDesc *queryDesc)
{
	int			depth = ++finish_depth;
	RowLevel   *l = depth <= ROW_LEVELS ? &row_levels[depth] : NULL;

	if (l)
		row_level_reset(l);
	PG_TRY();
	{
		if (prev_executor_finish)
			prev_executor_finish(queryDesc);
		else
			standard_ExecutorFinish(queryDesc);
	}
	PG_CATCH();
	{
		if (l)
			row_level_reset(l);
		finish_depth = depth - 1;
		PG_RE_THROW();
	}
	PG_END_TRY();
	finish_depth = depth - 1;
	if (l && l->ids.n > 0)
	{
		int			n = l->ids.n;
		int64	   *ids = palloc(sizeof(int64) * n);
		uint32		written = (l->unknown ? 0 : l->written) | (l->updated ? 0 : CF_WRITTEN_INSERTS) |
			(l->domains_unknown ? 0 : CF_WRITTEN_DOMAINS(l->domains & ((1u << CF_DOM_COUNT) - 1)));
		char		table[NAMEDATALEN];

		memcpy(ids, l->ids.ids, sizeof(int64) * n);
		strlcpy(table, l->table, NAMEDATALEN);
		row_level_reset(l);
		n = cf_unique_ids(ids, n);
		evaluate_isolated(ids, n, table, written);
		pfree(ids);
	}
}

/* Forget the levels at the end of a transaction (their memory went with it). */
static void
row_levels_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT)
	{
		for (int i = 0; i <= ROW_LEVELS; i++)
			row_level_reset(&row_levels[i]);
		finish_depth = 0;
	}
}

/* See careflags.h: install the ExecutorFinish hook (from _PG_init). */
void
cf_triggers_init(void)
{
	prev_executor_finish = ExecutorFinish_hook;
	ExecutorFinish_hook = cf_executor_finish;
	RegisterXactCallback(row_levels_xact_callback, NULL);
}

/* careflags.fact_changed_row(): row-level, for setups without statement triggers. */
PG_FUNCTION_INFO_V1(careflags_fact_changed_row);
Datum
careflags_fact_changed_row(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	AttrNumber	attnum;
	int64		ids[2];
	int			n = 0;
	bool		isnull;
	Datum		d;
	TupleDesc	desc;
	uint32		written;
	AttrNumber	cattnum;
	const char *table;
	int64		previous;
	int64		shardid;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("careflags.fact_changed_row() must be called as a trigger")));
	if (!TRIGGER_FIRED_AFTER(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("careflags.fact_changed_row() must be an AFTER ... FOR EACH ROW trigger")));

	desc = RelationGetDescr(td->tg_relation);
	attnum = patient_attnum(td->tg_relation);
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		HeapTuple	t = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;

		d = heap_getattr(t, attnum, desc, &isnull);
		if (!isnull)
			ids[n++] = DatumGetInt64(d);
	}
	if (TRIGGER_FIRED_BY_DELETE(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		d = heap_getattr(td->tg_trigtuple, attnum, desc, &isnull);
		if (!isnull)
			ids[n++] = DatumGetInt64(d);
	}
	n = cf_unique_ids(ids, n);
	table = cf_logical_relname(td->tg_relation, &shardid);
	written = written_table(td->tg_relation);
	cattnum = class_attnum(td->tg_relation, written);
	if (cattnum > 0)
	{
		/* the domains of the new and the old row (see collect_ids) */
		uint32		domains = 0;

		for (int k = 0; k < 2; k++)
		{
			HeapTuple	t = k == 0 ? (TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple :
									  TRIGGER_FIRED_BY_INSERT(td->tg_event) ? td->tg_trigtuple : NULL) :
				(TRIGGER_FIRED_BY_INSERT(td->tg_event) ? NULL : td->tg_trigtuple);

			if (t == NULL)
				continue;
			d = heap_getattr(t, cattnum, desc, &isnull);
			domains |= isnull ? (1u << CF_DOM_COUNT) - 1 : row_domains(DatumGetObjectId(d), written);
		}
		written |= CF_WRITTEN_DOMAINS(domains);
	}
	written |= TRIGGER_FIRED_BY_INSERT(td->tg_event) ? CF_WRITTEN_INSERTS : 0;
	if (shardid == 0)
	{
		if (!row_collect(ids, n, td->tg_relation, TRIGGER_FIRED_BY_INSERT(td->tg_event), written))
			evaluate_isolated(ids, n, table, written);
		return PointerGetDatum(NULL);
	}

	/*
	 * On a Citus worker the trigger fires on a shard: the evaluation reads
	 * and locks in the shards co-located with it (shard.c), at once, since
	 * the end of the statement no longer knows the shard.
	 */
	previous = cf_shard_context_enter(td->tg_relation);
	PG_TRY();
	{
		evaluate_isolated(ids, n, table, written);
	}
	PG_FINALLY();
	{
		cf_shard_context_leave(previous);
	}
	PG_END_TRY();
	return PointerGetDatum(NULL);
}

/*
 * careflags.flag_restored_row_wins(): BEFORE INSERT ON careflags.flag.  A
 * flag written by anyone but careflags' evaluation (pg_restore loading the
 * saved flags) replaces a flag of the same id, or the open flag of the same
 * patient and rule, that the evaluation raised moments before.
 */
PG_FUNCTION_INFO_V1(careflags_flag_restored_row_wins);
Datum
careflags_flag_restored_row_wins(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	Datum		v[4];
	Oid			types[4] = {INT8OID, INT8OID, TEXTOID, BOOLOID};
	bool		isnull;
	MemoryContext cxt = CurrentMemoryContext;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_BY_INSERT(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("careflags.flag_restored_row_wins() must be a BEFORE INSERT ... FOR EACH ROW trigger")));
	if (cf_reconciling)
		return PointerGetDatum(td->tg_trigtuple);

	desc = RelationGetDescr(td->tg_relation);
	v[0] = heap_getattr(td->tg_trigtuple, SPI_fnumber(desc, "patient_id"), desc, &isnull);
	v[1] = heap_getattr(td->tg_trigtuple, SPI_fnumber(desc, "flag_id"), desc, &isnull);
	v[2] = heap_getattr(td->tg_trigtuple, SPI_fnumber(desc, "rule_id"), desc, &isnull);
	(void) heap_getattr(td->tg_trigtuple, SPI_fnumber(desc, "resolved_at"), desc, &isnull);
	v[3] = BoolGetDatum(isnull);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("DELETE FROM careflags.flag f "
							  "WHERE f.patient_id OPERATOR(pg_catalog.=) $1 "
							  "AND (f.flag_id OPERATOR(pg_catalog.=) $2 "
							  "OR ($4 AND f.resolved_at IS NULL AND f.rule_id OPERATOR(pg_catalog.=) $3))",
							  4, types, v, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "careflags: could not replace a restored flag");
	SPI_finish();
	MemoryContextSwitchTo(cxt);
	return PointerGetDatum(td->tg_trigtuple);
}

/*
 * careflags.evaluate_at_commit(): deferred constraint trigger on
 * careflags.deferred_evaluation; evaluates the patients this transaction
 * deferred, and removes the marker row.
 */
PG_FUNCTION_INFO_V1(careflags_evaluate_at_commit);
Datum
careflags_evaluate_at_commit(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	CfOwnerContext oc;
	MemoryContext cxt = CurrentMemoryContext;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("careflags.evaluate_at_commit() must be an AFTER ... FOR EACH ROW trigger")));
	(void) evaluate_pending();
	if (pending != NULL)
		pending = NULL;			/* a later deferral queues a new marker */
	cf_enter_owner_context(&oc);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) SPI_execute("DELETE FROM careflags.deferred_evaluation", false, 0);
	SPI_finish();
	cf_leave_owner_context(&oc);
	MemoryContextSwitchTo(cxt);
	return PointerGetDatum(NULL);
}

/* careflags.evaluate_deferred(): evaluate what was deferred, now. */
PG_FUNCTION_INFO_V1(careflags_evaluate_deferred);
Datum
careflags_evaluate_deferred(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(evaluate_pending());
}
