/*-------------------------------------------------------------------------
 *
 * recompute.c
 *	  SQL entry points of the evaluator outside triggers:
 *	  recompute_patient(), recompute_all(), check_consistency(), tick() (one
 *	  pass of what the background worker does), set_trigger_mode().
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "careflags.h"
#include "flags.h"

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

/* careflags.recompute_patient(patient_id): re-evaluate one patient. */
PG_FUNCTION_INFO_V1(careflags_recompute_patient);
Datum
careflags_recompute_patient(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	int64		changes = cf_evaluate_patients(&id, 1, CF_RECONCILE_WRITE, NULL, NULL);
	int64	   *held;

	warn_held(cf_held_patients(&held));
	PG_RETURN_INT64(changes);
}

/* careflags.recompute_all(): re-evaluate every patient, reporting progress. */
PG_FUNCTION_INFO_V1(careflags_recompute_all);
Datum
careflags_recompute_all(PG_FUNCTION_ARGS)
{
	int			n;
	int64	   *ids = query_ids("SELECT patient_id FROM careflags.patient ORDER BY patient_id", &n);
	int64		changes = 0;
	int			batch = 1000;
	int			next_report = n / 10;
	int			held = 0;

	for (int i = 0; i < n; i += batch)
	{
		int			k = Min(batch, n - i);

		int64	   *h;

		changes += cf_evaluate_patients(ids + i, k, CF_RECONCILE_WRITE, NULL, NULL);
		held += cf_held_patients(&h);
		if (n >= 10000 && i + k >= next_report && i + k < n)
		{
			ereport(NOTICE,
					(errmsg("careflags: recomputed %d of %d patients (%d %%)",
							i + k, n, (int) ((int64) (i + k) * 100 / n))));
			next_report += n / 10;
		}
	}
	ereport(NOTICE,
			(errmsg("careflags: recomputed %d patients, " INT64_FORMAT " flag changes", n, changes)));
	warn_held(held);
	PG_RETURN_INT64(changes);
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

/* careflags.check_consistency(): differences between stored and fresh flags. */
PG_FUNCTION_INFO_V1(careflags_check_consistency);
Datum
careflags_check_consistency(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DiffSink	sink;
	int			n;
	int64	   *ids;

	InitMaterializedSRF(fcinfo, 0);
	sink.ts = rsinfo->setResult;
	sink.desc = rsinfo->setDesc;

	ids = query_ids("SELECT patient_id FROM careflags.patient ORDER BY patient_id", &n);
	for (int i = 0; i < n; i += 1000)
		(void) cf_evaluate_patients(ids + i, Min(1000, n - i), CF_RECONCILE_CHECK,
									add_difference, &sink);
	return (Datum) 0;
}

/*
 * careflags.tick(): what the background worker does each interval:
 * re-evaluate the patients whose flags change with time (next_check_at
 * passed), and notify flags that became due or overdue.
 */
PG_FUNCTION_INFO_V1(careflags_tick);
Datum
careflags_tick(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	int			n;
	int64	   *ids;
	int64		notified = 0;
	CfOwnerContext oc;
	MemoryContext cxt = CurrentMemoryContext;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "careflags.tick() must return a record");

	ids = query_ids("SELECT patient_id FROM careflags.patient_state "
					"WHERE next_check_at OPERATOR(pg_catalog.<=) careflags.clock() ORDER BY patient_id", &n);
	for (int i = 0; i < n; i += 1000)
		(void) cf_evaluate_patients(ids + i, Min(1000, n - i), CF_RECONCILE_WRITE, NULL, NULL);

	cf_enter_owner_context(&oc);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* a flag a nurse's open action holds is announced at a later tick, not waited for */
	if (SPI_execute("WITH changed AS ("
					" SELECT patient_id, flag_id, careflags.flag_state(due_from, due_at, due_soon_window, careflags.clock()) AS state"
					" FROM careflags.flag"
					" WHERE resolved_at IS NULL AND notified_state OPERATOR(pg_catalog.<>) 'overdue'"
					"   AND due_from OPERATOR(pg_catalog.<=) careflags.clock()"
					"   AND notified_state OPERATOR(pg_catalog.<>) careflags.flag_state(due_from, due_at, due_soon_window, careflags.clock())"
					" FOR NO KEY UPDATE SKIP LOCKED)"
					" UPDATE careflags.flag f SET notified_state = c.state FROM changed c"
					" WHERE f.patient_id OPERATOR(pg_catalog.=) c.patient_id AND f.flag_id OPERATOR(pg_catalog.=) c.flag_id"
					"   AND f.notified_state OPERATOR(pg_catalog.<>) c.state"
					" RETURNING f.flag_id, f.patient_id, f.rule_id, f.unit_id, c.state",
					false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "careflags: could not update notified states");
	notified = (int64) SPI_processed;
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		flag_id = DatumGetInt64(SPI_getbinval(t, d, 1, &isnull));
		int64		patient_id = DatumGetInt64(SPI_getbinval(t, d, 2, &isnull));

		cf_notify(SPI_getvalue(t, d, 5), flag_id, patient_id, SPI_getvalue(t, d, 3),
				  SPI_getvalue(t, d, 4));
	}
	SPI_finish();
	cf_leave_owner_context(&oc);
	MemoryContextSwitchTo(cxt);

	values[0] = Int32GetDatum(n);
	values[1] = Int64GetDatum(notified);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
