/*-------------------------------------------------------------------------
 *
 * spi_plans.c
 *	  Prepared SPI statements: each is prepared once per backend (always
 *	  the generic plan, never re-planned per call), kept with SPI_keepplan,
 *	  and run with parameters; plus conversions of the values they take.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "shard.h"
#include "spi_plans.h"

/* The kept plan of q, prepared at first use. */
static SPIPlanPtr
plan_for(CfQuery *q)
{
	if (q->plan == NULL)
	{
		/* always the generic plan: planned once, never re-planned per call */
		SPIPlanPtr	p = SPI_prepare_cursor(q->text, q->nargs, q->argtypes,
										   CURSOR_OPT_GENERIC_PLAN);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed for careflags query \"%s\": %s", q->text,
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "SPI_keepplan failed");
		q->plan = p;
	}
	return q->plan;
}

/*
 * Execute a prepared statement.  The previous result is freed first (its
 * values were copied out), and the caller's memory context is restored, as
 * SPI leaves the procedure context current.
 */
void
cf_query_run(CfQuery *q, Datum *values, const char *nulls, bool read_only, int expect)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			ret;

	char	   *shard_text;

	SPI_freetuptable(SPI_tuptable);
	shard_text = cf_shard_query_text(q->text);
	if (shard_text != NULL)
	{
		/*
		 * On a Citus shard: the statement names the co-located shard itself
		 * (Citus cannot plan a multi-row INSERT ... SELECT inside a shard's
		 * trigger), allowed for the statement's time only.
		 */
		int			nest = NewGUCNestLevel();

		(void) set_config_option("citus.enable_manual_changes_to_shards", "on", PGC_USERSET,
								 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
		ret = SPI_execute_with_args(shard_text, q->nargs, q->argtypes, values, nulls, read_only, 0);
		AtEOXact_GUC(true, nest);
	}
	else
		ret = SPI_execute_plan(plan_for(q), values, nulls, read_only, 0);
	MemoryContextSwitchTo(cxt);
	if (ret != expect)
		elog(ERROR, "careflags query \"%s\" failed: %s", q->text, SPI_result_code_string(ret));
}

/* An interval Datum as the evaluator's CfInterval. */
CfInterval
cf_to_interval(Datum d)
{
	Interval   *iv = DatumGetIntervalP(d);
	CfInterval	r = {iv->month, iv->day, iv->time};

	return r;
}

/* A CfInterval as a palloc'd interval Datum. */
Datum
cf_from_interval(const CfInterval *c)
{
	Interval   *iv = palloc(sizeof(Interval));

	iv->month = c->months;
	iv->day = c->days;
	iv->time = c->usecs;
	return IntervalPGetDatum(iv);
}
