/*-------------------------------------------------------------------------
 *
 * recompute.c
 *	  SQL entry points of the evaluator outside triggers:
 *	  recompute_patient(), recompute_all(), check_consistency(), tick() (one
 *	  pass of what the background worker does), set_trigger_mode(), and on
 *	  Citus their per-shard parts (recompute_shard, recompute_patient_shard,
 *	  check_consistency_shard, tick_shard), run on the node that holds the
 *	  shard.
 *
 *	  recompute_all(), tick() and check_consistency() evaluate chunks of
 *	  patients, each in a subtransaction; a chunk that fails is retried
 *	  patient by patient, and a patient that still fails is quarantined with
 *	  the reason (check_consistency: reported as a difference), so one bad
 *	  patient never stops the others.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

#include "careflags.h"
#include "shard.h"
#include "flags.h"
#include "quarantine.h"
#include "worker.h"

/* Collect patient ids from a query (no parameters, first column bigint). */
static int64 *
query_ids(const char *sql, int *n)
{
	int64	   *ids;
	MemoryContext cxt = CurrentMemoryContext;
	CfOwnerContext oc;

	cf_enter_owner_context(&oc);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(sql, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "careflags: could not list patients");
	*n = (int) SPI_processed;
	ids = MemoryContextAlloc(cxt, sizeof(int64) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
	{
		bool		isnull;

		ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_finish();
	cf_leave_owner_context(&oc);
	MemoryContextSwitchTo(cxt);
	return ids;
}

/* Say so when patients were left for later (a flag held by an open action). */
static void
warn_held(int n)
{
	if (n > 0)
		ereport(WARNING,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("flags of %d patient(s) were not all brought up to date", n),
				 errdetail("Another session holds one of their flags (an acknowledge or snooze not yet committed)."),
				 errhint("Run it again after that transaction has ended.")));
}

static int64 recompute_in_shard(Oid shard, int64 id, bool check);

/*
 * On Citus (any node, outside a shard context): recompute_patient() of id in
 * its shard of careflags.patient, on the node that holds it, in the
 * caller's transaction.  When that shard is on this node (a call on a
 * worker node, or one Citus pushed down to the shards with the query around
 * it), here.  Otherwise a query routed by the patient's id (Citus' router
 * planner) calls recompute_patient_shard() with the shard it reads
 * (tableoid) on that shard's node, in the caller's distributed transaction:
 * over the connection that already wrote the patient in this transaction,
 * if one did, so it sees the caller's own writes and is undone with the
 * caller's rollback.  Run as the extension's owner, as the evaluation on one
 * server is: the caller's right is EXECUTE on recompute_patient(), not access
 * to the shards.  A patient that does not exist has no row to route to: no
 * change, as on one server.
 */
static int64
recompute_patient_routed(int64 id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	int64		changes = 0;
	Oid			local = InvalidOid;
	CfOwnerContext oc;
	MemoryContext cxt = CurrentMemoryContext;

	values[0] = Int64GetDatum(id);
	cf_enter_owner_context(&oc);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* the patient's shard, when its active placement is on this node */
	if (SPI_execute_with_args("SELECT pg_catalog.to_regclass('careflags.patient_' OPERATOR(pg_catalog.||) s.shardid::pg_catalog.text)::pg_catalog.oid "
							  "FROM (SELECT pg_catalog.get_shard_id_for_distribution_column('careflags.patient'::pg_catalog.regclass, $1) AS shardid) s "
							  "WHERE EXISTS (SELECT FROM pg_catalog.pg_dist_placement p "
							  "              WHERE p.shardid OPERATOR(pg_catalog.=) s.shardid AND p.shardstate OPERATOR(pg_catalog.=) 1 "
							  "                AND p.groupid OPERATOR(pg_catalog.=) (SELECT groupid FROM pg_catalog.pg_dist_local_group))",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "careflags: could not find the shard of patient " INT64_FORMAT, id);
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			local = DatumGetObjectId(d);
	}
	if (OidIsValid(local))
	{
		SPI_finish();
		cf_leave_owner_context(&oc);
		MemoryContextSwitchTo(cxt);
		return recompute_in_shard(local, id, false);
	}

	if (SPI_execute_with_args("SELECT careflags.recompute_patient_shard(p.tableoid::pg_catalog.regclass, p.patient_id) "
							  "FROM careflags.patient p WHERE p.patient_id OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "careflags: could not re-evaluate the patient on its shard");
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			changes = DatumGetInt64(d);
	}
	SPI_finish();
	cf_leave_owner_context(&oc);
	MemoryContextSwitchTo(cxt);
	return changes;
}

/*
 * careflags.recompute_patient(patient_id): re-evaluate one patient.  On
 * Citus, in the patient's shard on its node (recompute_patient_routed).
 */
PG_FUNCTION_INFO_V1(careflags_recompute_patient);
Datum
careflags_recompute_patient(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	int64		changes;
	int64	   *held;

	if (cf_shard_context() == 0 && cf_citus_distributed())
		PG_RETURN_INT64(recompute_patient_routed(id));
	changes = cf_evaluate_patients(&id, 1, CF_RECONCILE_WRITE, NULL, NULL);

	warn_held(cf_held_patients(&held));
	PG_RETURN_INT64(changes);
}

/* patients left for later by evaluate_isolated() calls (see warn_held) */
static int	held_total = 0;

/*
 * Evaluate ids[0..n) in a subtransaction.  Returns true and adds to
 * *changes on success; on an error that is about the data (not a cancel,
 * a shutdown, a deadlock or a lock timeout, which are raised again), rolls
 * the subtransaction back, leaves the message in *message and returns false.
 */
static bool
evaluate_isolated(int64 *ids, int n, CfReconcileMode mode, CfDifferenceFn fn, void *arg,
				  int64 *changes, char **message)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile bool ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		int64	   *held;

		*changes += cf_evaluate_patients(ids, n, mode, fn, arg);
		held_total += cf_held_patients(&held);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
			edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN ||
			edata->sqlerrcode == ERRCODE_T_R_SERIALIZATION_FAILURE ||
			edata->sqlerrcode == ERRCODE_T_R_DEADLOCK_DETECTED ||
			edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
			PG_RE_THROW();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		*message = pstrdup(edata->message ? edata->message : "unknown error");
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/*
 * Evaluate ids[0..n) in chunks of 1000, each in a subtransaction; a chunk
 * that fails is evaluated again patient by patient, and each patient that
 * still fails goes to fn_failed (quarantine, or a difference).  Returns the
 * number of patients that failed.
 */
static int
evaluate_all_isolated(int64 *ids, int n, CfReconcileMode mode, CfDifferenceFn fn, void *arg,
					  void (*fn_failed) (void *arg, int64 patient_id, const char *message),
					  int64 *changes, bool progress)
{
	int			batch = 1000;
	int			next_report = n / 10;
	int			failed = 0;

	for (int i = 0; i < n; i += batch)
	{
		int			k = Min(batch, n - i);
		char	   *message = NULL;

		if (!evaluate_isolated(ids + i, k, mode, fn, arg, changes, &message))
		{
			for (int j = 0; j < k; j++)
			{
				if (evaluate_isolated(ids + i + j, 1, mode, fn, arg, changes, &message))
					continue;
				failed++;
				fn_failed(arg, ids[i + j], message);
			}
		}
		CHECK_FOR_INTERRUPTS();
		if (progress && n >= 10000 && i + k >= next_report && i + k < n)
		{
			ereport(NOTICE,
					(errmsg("careflags: recomputed %d of %d patients (%d %%)",
							i + k, n, (int) ((int64) (i + k) * 100 / n))));
			next_report += n / 10;
		}
	}
	return failed;
}

/* A patient recompute_all() or tick() could not evaluate: quarantined. */
static void
quarantine_failed(void *arg, int64 patient_id, const char *message)
{
	cf_quarantine_pass_failure((const char *) arg, patient_id, message);
}

/* Re-evaluate the patients the query lists (recompute_all, one shard's). */
static int64
recompute_listed(const char *sql)
{
	int			n;
	int64	   *ids = query_ids(sql, &n);
	int64		changes = 0;
	int			failed;

	held_total = 0;
	failed = evaluate_all_isolated(ids, n, CF_RECONCILE_WRITE, NULL, "recompute_all",
								   quarantine_failed, &changes, true);
	if (failed > 0)
		ereport(WARNING,
				(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
				 errmsg("careflags: %d of %d patients could not be evaluated", failed, n),
				 errdetail("Each is in careflags.quarantine (fact_table \"evaluation\") with the reason."),
				 errhint("Correct their facts and run careflags.recompute_patient() for each.")));
	ereport(NOTICE,
			(errmsg("careflags: recomputed %d patients, " INT64_FORMAT " flag changes", n - failed, changes)));
	warn_held(held_total);
	return changes;
}

/*
 * On a Citus coordinator: run command (a %L for the shard's name) on every
 * shard of careflags.patient, each on its node in a connection of its own
 * (run_command_on_shards: each shard's work commits on its own), and return
 * the results; a shard that failed is an error.  The connections are made
 * as the extension's owner, as the evaluation runs on one server: the
 * per-shard functions are not granted to careflags_admin, who may still run
 * recompute_all(), check_consistency() and tick().
 */
static List *
on_every_shard(const char *command)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	MemoryContext cxt = CurrentMemoryContext;
	List	   *results = NIL;
	CfOwnerContext oc;

	values[0] = CStringGetTextDatum(command);
	cf_enter_owner_context(&oc);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT r.shardid, r.success, r.result "
							  "FROM pg_catalog.run_command_on_shards('careflags.patient', $1) r",
							  1, types, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "careflags: could not run a command on the shards");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;
		bool		ok = DatumGetBool(SPI_getbinval(t, d, 2, &isnull));
		char	   *result = SPI_getvalue(t, d, 3);

		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
					 errmsg("careflags: shard %s of careflags.patient failed: %s",
							SPI_getvalue(t, d, 1), result ? result : "?")));
		results = lappend(results, MemoryContextStrdup(cxt, result ? result : ""));
	}
	SPI_finish();
	cf_leave_owner_context(&oc);
	MemoryContextSwitchTo(cxt);
	return results;
}

/* careflags.recompute_all(): re-evaluate every patient, reporting progress. */
PG_FUNCTION_INFO_V1(careflags_recompute_all);
Datum
careflags_recompute_all(PG_FUNCTION_ARGS)
{
	int64		changes = 0;
	ListCell   *lc;

	if (cf_shard_context() != 0 || !cf_citus_distributed())
		PG_RETURN_INT64(recompute_listed("SELECT patient_id FROM careflags.patient ORDER BY patient_id"));

	/* Citus: every shard re-evaluates its own patients, on its node */
	foreach(lc, on_every_shard("SELECT careflags.recompute_shard(%L)"))
		changes += pg_strtoint64((char *) lfirst(lc));
	ereport(NOTICE,
			(errmsg("careflags: recomputed every shard, " INT64_FORMAT " flag changes", changes)));
	PG_RETURN_INT64(changes);
}

/*
 * Open shard (a shard of careflags.patient, on this node) and make it the
 * shard context; returns the previous context and the query listing its
 * patients.
 */
static int64
enter_patient_shard(Oid shard, char **sql)
{
	Relation	rel = relation_open(shard, AccessShareLock);
	int64		shardid;
	const char *logical = cf_logical_relname(rel, &shardid);
	int64		previous;

	if (shardid == 0 || strcmp(logical, "patient") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" is not a shard of careflags.patient", RelationGetRelationName(rel)),
				 errhint("careflags.recompute_all(), careflags.recompute_patient(), careflags.check_consistency() and careflags.tick() call this on a shard.")));
	*sql = psprintf("SELECT patient_id FROM %s ORDER BY patient_id",
					quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
											   RelationGetRelationName(rel)));
	previous = cf_shard_context_enter(rel);
	relation_close(rel, NoLock);
	return previous;
}

/* careflags.recompute_shard(shard): recompute_all() for one shard's patients. */
PG_FUNCTION_INFO_V1(careflags_recompute_shard);
Datum
careflags_recompute_shard(PG_FUNCTION_ARGS)
{
	char	   *sql;
	int64		previous = enter_patient_shard(PG_GETARG_OID(0), &sql);
	int64		changes = 0;

	PG_TRY();
	{
		changes = recompute_listed(sql);
	}
	PG_FINALLY();
	{
		cf_shard_context_leave(previous);
	}
	PG_END_TRY();
	PG_RETURN_INT64(changes);
}

/*
 * Is patient_id's row in shard shardid of careflags.patient (Citus' hash of
 * the distribution column)?  Read from Citus' metadata, which every node
 * has.
 */
static bool
patient_in_shard(int64 patient_id, int64 shardid)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	MemoryContext cxt = CurrentMemoryContext;
	bool		in = false;

	values[0] = Int64GetDatum(patient_id);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT pg_catalog.get_shard_id_for_distribution_column("
							  "'careflags.patient'::pg_catalog.regclass, $1)",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "careflags: could not find the shard of patient " INT64_FORMAT, patient_id);
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		in = !isnull && DatumGetInt64(d) == shardid;
	}
	SPI_finish();
	MemoryContextSwitchTo(cxt);
	return in;
}

/*
 * recompute_patient() of patient id in shard (a shard of careflags.patient
 * on this node), reading and writing the co-located shards; check: make
 * sure the patient belongs to that shard first.
 *
 * Called from a query on a shard (recompute_patient_shard, or
 * recompute_patient() in a query Citus pushed down to the shards), where
 * Citus refuses any statement on a distributed or reference table unless it
 * runs in a trigger; the evaluation's statements are those a shard's row
 * trigger runs (the patient's co-located shards, the reference tables' copy
 * on this node, all executed locally), so nested execution is allowed for
 * their time, as Citus allows it in a trigger.
 */
static int64
recompute_in_shard(Oid shard, int64 id, bool check)
{
	char	   *sql;
	int64		previous = enter_patient_shard(shard, &sql);
	int64		changes = 0;

	PG_TRY();
	{
		int64	   *held;
		int			nest;

		if (check && !patient_in_shard(id, cf_shard_context()))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("patient " INT64_FORMAT " is not in shard " INT64_FORMAT " of careflags.patient",
							id, cf_shard_context()),
					 errhint("Call careflags.recompute_patient(), which finds the patient's shard.")));
		nest = NewGUCNestLevel();
		(void) set_config_option("citus.allow_nested_distributed_execution", "on",
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
		changes = cf_evaluate_patients(&id, 1, CF_RECONCILE_WRITE, NULL, NULL);
		AtEOXact_GUC(true, nest);
		warn_held(cf_held_patients(&held));
	}
	PG_FINALLY();
	{
		cf_shard_context_leave(previous);
	}
	PG_END_TRY();
	return changes;
}

/*
 * careflags.recompute_patient_shard(shard, patient_id): recompute_patient()
 * for a patient of one shard of careflags.patient on this node.
 */
PG_FUNCTION_INFO_V1(careflags_recompute_patient_shard);
Datum
careflags_recompute_patient_shard(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(recompute_in_shard(PG_GETARG_OID(0), PG_GETARG_INT64(1), true));
}

typedef struct DiffSink
{
	Tuplestorestate *ts;
	TupleDesc	desc;
} DiffSink;

static void
add_difference(void *arg, int64 patient_id, const char *rule_id, const char *difference)
{
	DiffSink   *sink = (DiffSink *) arg;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	values[0] = Int64GetDatum(patient_id);
	values[1] = CStringGetTextDatum(rule_id);
	values[2] = CStringGetTextDatum(difference);
	tuplestore_putvalues(sink->ts, sink->desc, values, nulls);
}

/* A patient check_consistency() could not evaluate: one difference row. */
static void
add_failure(void *arg, int64 patient_id, const char *message)
{
	char	   *d = psprintf("could not be evaluated: %s", message);

	add_difference(arg, patient_id, "*", d);
}

/* careflags.check_consistency(): differences between stored and fresh flags. */
PG_FUNCTION_INFO_V1(careflags_check_consistency);
Datum
careflags_check_consistency(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DiffSink	sink;
	int			n;
	int64	   *ids;
	int64		changes = 0;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	sink.ts = rsinfo->setResult;
	sink.desc = rsinfo->setDesc;

	if (cf_shard_context() != 0 || !cf_citus_distributed())
	{
		ids = query_ids("SELECT patient_id FROM careflags.patient ORDER BY patient_id", &n);
		(void) evaluate_all_isolated(ids, n, CF_RECONCILE_CHECK, add_difference, &sink,
									 add_failure, &changes, false);
		return (Datum) 0;
	}

	/* Citus: every shard checks its own patients, on its node */
	foreach(lc, on_every_shard("SELECT COALESCE(pg_catalog.json_agg(c), '[]') "
							   "FROM careflags.check_consistency_shard(%L) c"))
	{
		Oid			types[1] = {TEXTOID};
		Datum		values[1];
		MemoryContext cxt = CurrentMemoryContext;

		values[0] = CStringGetTextDatum((char *) lfirst(lc));
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute_with_args("SELECT d.patient_id, d.rule_id, d.difference "
								  "FROM pg_catalog.json_to_recordset($1::pg_catalog.json) "
								  "AS d(patient_id bigint, rule_id text, difference text)",
								  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "careflags: could not read a shard's differences");
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	t = SPI_tuptable->vals[i];
			bool		isnull;

			MemoryContextSwitchTo(cxt);
			add_difference(&sink, DatumGetInt64(SPI_getbinval(t, SPI_tuptable->tupdesc, 1, &isnull)),
						   SPI_getvalue(t, SPI_tuptable->tupdesc, 2),
						   SPI_getvalue(t, SPI_tuptable->tupdesc, 3));
		}
		SPI_finish();
		MemoryContextSwitchTo(cxt);
	}
	return (Datum) 0;
}

/* careflags.check_consistency_shard(shard): check_consistency() for one shard's patients. */
PG_FUNCTION_INFO_V1(careflags_check_consistency_shard);
Datum
careflags_check_consistency_shard(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DiffSink	sink;
	char	   *sql;
	int64		previous;
	int64		changes = 0;

	InitMaterializedSRF(fcinfo, 0);
	sink.ts = rsinfo->setResult;
	sink.desc = rsinfo->setDesc;
	previous = enter_patient_shard(PG_GETARG_OID(0), &sql);
	PG_TRY();
	{
		int			n;
		int64	   *ids = query_ids(sql, &n);

		(void) evaluate_all_isolated(ids, n, CF_RECONCILE_CHECK, add_difference, &sink,
									 add_failure, &changes, false);
	}
	PG_FINALLY();
	{
		cf_shard_context_leave(previous);
	}
	PG_END_TRY();
	return (Datum) 0;
}

/*
 * Set by the background worker around its tick: on a Citus node it looks
 * after the shards placed on its own node only (each node's worker does its
 * own), never dispatches to the other nodes.
 */
bool		cf_tick_local_only = false;

/*
 * One tick over the patients patients_sql lists (their next_check_at
 * passed) and the open flags of flag_rel (careflags.flag, or in a shard
 * context its co-located shard): re-evaluate them, then record (and on one
 * server NOTIFY) the flags that became due or overdue.  Adds to *patients
 * and *notified.
 */
static void
tick_listed(const char *patients_sql, const char *flag_rel, int *patients, int64 *notified)
{
	int			n;
	int64	   *ids;
	int64		changes = 0;
	CfOwnerContext oc;
	MemoryContext cxt = CurrentMemoryContext;
	char	   *update;

	ids = query_ids(patients_sql, &n);
	(void) evaluate_all_isolated(ids, n, CF_RECONCILE_WRITE, NULL, "tick",
								 quarantine_failed, &changes, false);
	*patients += n;

	/* flag_rel is careflags' own table or its shard (a catalog name, quoted) */
	update = psprintf("WITH changed AS ("
					  " SELECT patient_id, flag_id, careflags.flag_state(due_from, due_at, due_soon_window, careflags.clock()) AS state"
					  " FROM %s"
					  " WHERE resolved_at IS NULL AND notified_state OPERATOR(pg_catalog.<>) 'overdue'"
					  "   AND due_from OPERATOR(pg_catalog.<=) careflags.clock()"
					  "   AND notified_state OPERATOR(pg_catalog.<>) careflags.flag_state(due_from, due_at, due_soon_window, careflags.clock())"
					  " FOR NO KEY UPDATE SKIP LOCKED)"
					  " UPDATE %s f SET notified_state = c.state FROM changed c"
					  " WHERE f.patient_id OPERATOR(pg_catalog.=) c.patient_id AND f.flag_id OPERATOR(pg_catalog.=) c.flag_id"
					  "   AND f.notified_state OPERATOR(pg_catalog.<>) c.state"
					  " RETURNING f.flag_id, f.patient_id, f.rule_id, f.unit_id, c.state",
					  flag_rel, flag_rel);
	cf_enter_owner_context(&oc);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* a flag a nurse's open action holds is announced at a later tick, not waited for */
	if (SPI_execute(update, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "careflags: could not update notified states");
	*notified += (int64) SPI_processed;
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		flag_id = DatumGetInt64(SPI_getbinval(t, d, 1, &isnull));
		int64		patient_id = DatumGetInt64(SPI_getbinval(t, d, 2, &isnull));

		/* in a shard context only the outbox row: the coordinator relays it */
		cf_notify(SPI_getvalue(t, d, 5), flag_id, patient_id, SPI_getvalue(t, d, 3),
				  SPI_getvalue(t, d, 4));
	}
	SPI_finish();
	cf_leave_owner_context(&oc);
	MemoryContextSwitchTo(cxt);
	pfree(update);
}

/*
 * tick_listed() for one shard of careflags.patient on this node: its
 * patients due in the co-located shard of patient_state, the open flags of
 * the co-located shard of flag.
 */
static void
tick_shard(Oid shard, int *patients, int64 *notified)
{
	char	   *sql;
	int64		previous = enter_patient_shard(shard, &sql);

	PG_TRY();
	{
		Oid			nsp = get_namespace_oid(CF_SCHEMA, false);
		char	   *state = quote_qualified_identifier(CF_SCHEMA,
													   get_rel_name(cf_relation_to_read(nsp, "patient_state", NULL)));
		char	   *flag = quote_qualified_identifier(CF_SCHEMA,
													  get_rel_name(cf_relation_to_read(nsp, "flag", NULL)));

		tick_listed(psprintf("SELECT patient_id FROM %s "
							 "WHERE next_check_at OPERATOR(pg_catalog.<=) careflags.clock() ORDER BY patient_id", state),
					flag, patients, notified);
	}
	PG_FINALLY();
	{
		cf_shard_context_leave(previous);
	}
	PG_END_TRY();
}

/*
 * careflags.tick(): what the background worker does each interval:
 * re-evaluate the patients whose flags change with time (next_check_at
 * passed), and notify flags that became due or overdue.
 *
 * On Citus the work is done per shard of careflags.patient, on the node
 * that holds it (tick_shard): the background worker of each node does the
 * shards placed on its node; called on the coordinator, tick() does every
 * shard, each on its node (as recompute_all(); each shard's part commits on
 * its own); called by hand on a worker node, that node's shards.
 */
PG_FUNCTION_INFO_V1(careflags_tick);
Datum
careflags_tick(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	int			n = 0;
	int64		notified = 0;
	int			group;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "careflags.tick() must return a record");

	group = cf_shard_context() != 0 ? -1 : cf_citus_local_group();
	if (group < 0)
		tick_listed("SELECT patient_id FROM careflags.patient_state "
					"WHERE next_check_at OPERATOR(pg_catalog.<=) careflags.clock() ORDER BY patient_id",
					"careflags.flag", &n, &notified);
	else if (group == 0 && !cf_tick_local_only)
	{
		ListCell   *lc;

		/* the coordinator: every shard, on its node */
		foreach(lc, on_every_shard("SELECT t.patients_reevaluated::pg_catalog.text OPERATOR(pg_catalog.||) ' ' "
								   "OPERATOR(pg_catalog.||) t.flags_notified::pg_catalog.text "
								   "FROM careflags.tick_shard(%L) t"))
		{
			int			p;
			long long	f;

			if (sscanf((char *) lfirst(lc), "%d %lld", &p, &f) != 2)
				elog(ERROR, "careflags: unexpected result of a shard's tick: %s", (char *) lfirst(lc));
			n += p;
			notified += (int64) f;
		}
	}
	else
	{
		ListCell   *lc;

		/* this node's shards */
		foreach(lc, cf_local_shards("patient"))
			tick_shard(lfirst_oid(lc), &n, &notified);
	}

	values[0] = Int32GetDatum(n);
	values[1] = Int64GetDatum(notified);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

/* careflags.tick_shard(shard): tick() for one shard of careflags.patient on this node. */
PG_FUNCTION_INFO_V1(careflags_tick_shard);
Datum
careflags_tick_shard(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	int			n = 0;
	int64		notified = 0;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "careflags.tick_shard() must return a record");
	tick_shard(PG_GETARG_OID(0), &n, &notified);
	values[0] = Int32GetDatum(n);
	values[1] = Int64GetDatum(notified);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
