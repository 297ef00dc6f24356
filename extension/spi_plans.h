/*-------------------------------------------------------------------------
 *
 * spi_plans.h
 *	  Prepared SPI statements kept for the life of the backend, and the
 *	  small readers and converters for their results and arguments.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CAREFLAGS_SPI_PLANS_H
#define CAREFLAGS_SPI_PLANS_H

#include "postgres.h"

#include "executor/spi.h"
#include "utils/builtins.h"

#include "evaluator.h"

#define CF_QUERY_MAX_ARGS 12

/*
 * One statement: its text and argument types, and the plan once prepared
 * (NULL until first run).
 */
typedef struct CfQuery
{
	const char *text;
	int			nargs;
	Oid			argtypes[CF_QUERY_MAX_ARGS];
	SPIPlanPtr	plan;
} CfQuery;

/*
 * Execute q (prepared at first use, generic plan, kept); error unless SPI
 * returns expect.  Frees the previous result first and keeps the caller's
 * memory context current.
 */
extern void cf_query_run(CfQuery *q, Datum *values, const char *nulls,
						 bool read_only, int expect);

/* Column c (1-based) of result row `row` of the last SPI statement. */
static inline Datum
cf_col(int row, int c, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, c, isnull);
}

/* The same as a palloc'd C string, NULL for SQL NULL. */
static inline char *
cf_col_text(int row, int c)
{
	bool		isnull;
	Datum		d = cf_col(row, c, &isnull);

	if (isnull)
		return NULL;
	return TextDatumGetCString(d);
}

/* interval <-> the evaluator's CfInterval */
extern CfInterval cf_to_interval(Datum d);
extern Datum cf_from_interval(const CfInterval *c);

#endif							/* CAREFLAGS_SPI_PLANS_H */
