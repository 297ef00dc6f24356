/*-------------------------------------------------------------------------
 *
 * scores_sql.c
 *	  SQL entry points of the clinical scores: careflags.score,
 *	  careflags.score_total (with and without explicit Morse cut-offs) and
 *	  careflags.bmi.  Thin wrappers over scores.c; a bad answer or total is
 *	  raised as 22023 (invalid_parameter_value) with the message scores.c
 *	  wrote, which names the item and its allowed values.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "scores.h"

/* The instrument of an enum careflags.instrument argument. */
static CfInstrument
instrument_arg(FunctionCallInfo fcinfo, int argno)
{
	Oid			label_oid = PG_GETARG_OID(argno);
	char	   *label;
	int			inst;

	label = DatumGetCString(DirectFunctionCall1(enum_out, ObjectIdGetDatum(label_oid)));
	inst = cf_instrument_from_name(label);
	if (inst < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("careflags cannot score the instrument \"%s\"", label),
				 errhint("This library is older than the careflags.instrument type: update the extension.")));
	pfree(label);
	return (CfInstrument) inst;
}

/* Explicit Morse cut-offs from two integer arguments; NULL is an error. */
static CfScoreOptions
cutoff_args(FunctionCallInfo fcinfo, int argno)
{
	CfScoreOptions o;

	if (PG_ARGISNULL(argno) || PG_ARGISNULL(argno + 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("Morse cut-offs moderate_from and high_above must not be null"),
				 errhint("The defaults are moderate_from 25 and high_above 45.")));
	o.morse_moderate_from = PG_GETARG_INT32(argno);
	o.morse_high_above = PG_GETARG_INT32(argno + 1);
	return o;
}

static void
raise_score_error(const char *msg)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s", msg),
			 errhint("The items and answers of every instrument are listed in COMMENT ON FUNCTION careflags.score and docs/scores.md.")));
}

/* The composite careflags.score_result of a score. */
static Datum
score_result(FunctionCallInfo fcinfo, const CfScore *s)
{
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	if (isnan(s->total))
		nulls[0] = true;
	else
		values[0] = DirectFunctionCall1(float8_numeric, Float8GetDatum(s->total));
	values[1] = CStringGetTextDatum(s->band);
	values[2] = BoolGetDatum(s->at_risk);
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/* A numeric total as a double; NaN, infinities and fractions are rejected here. */
static double
total_arg(FunctionCallInfo fcinfo, int argno, CfInstrument inst)
{
	double		total;
	bool		whole;

	if (!cf_numeric_to_double(PG_GETARG_NUMERIC(argno), &total, &whole) || !whole)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s total is not a whole number; allowed: a whole number from 0 to %d",
						cf_instrument_name(inst), cf_instrument_max_total(inst))));
	return total;
}

/* careflags.score(instrument, items jsonb): score item answers. */
PG_FUNCTION_INFO_V1(careflags_score);
Datum
careflags_score(PG_FUNCTION_ARGS)
{
	CfInstrument inst = instrument_arg(fcinfo, 0);
	Jsonb	   *items = PG_GETARG_JSONB_P(1);
	CfScore		s;
	char	   *msg = NULL;

	if (!cf_score_items(inst, items, &s, &msg))
		raise_score_error(msg);
	PG_RETURN_DATUM(score_result(fcinfo, &s));
}

/* careflags.score(instrument, items, morse_moderate_from, morse_high_above). */
PG_FUNCTION_INFO_V1(careflags_score_cutoffs);
Datum
careflags_score_cutoffs(PG_FUNCTION_ARGS)
{
	CfInstrument inst;
	CfScoreOptions o;
	CfScore		s;
	char	   *msg = NULL;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	inst = instrument_arg(fcinfo, 0);
	o = cutoff_args(fcinfo, 2);
	if (!cf_score_items_opts(inst, PG_GETARG_JSONB_P(1), &o, &s, &msg))
		raise_score_error(msg);
	PG_RETURN_DATUM(score_result(fcinfo, &s));
}

/* careflags.score_total(instrument, total numeric): band a recorded total. */
PG_FUNCTION_INFO_V1(careflags_score_total);
Datum
careflags_score_total(PG_FUNCTION_ARGS)
{
	CfInstrument inst = instrument_arg(fcinfo, 0);
	CfScore		s;
	char	   *msg = NULL;

	if (!cf_score_total(inst, total_arg(fcinfo, 1, inst), &s, &msg))
		raise_score_error(msg);
	PG_RETURN_DATUM(score_result(fcinfo, &s));
}

/* careflags.score_total(instrument, total, morse_moderate_from, morse_high_above). */
PG_FUNCTION_INFO_V1(careflags_score_total_cutoffs);
Datum
careflags_score_total_cutoffs(PG_FUNCTION_ARGS)
{
	CfInstrument inst;
	CfScoreOptions o;
	CfScore		s;
	char	   *msg = NULL;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	inst = instrument_arg(fcinfo, 0);
	o = cutoff_args(fcinfo, 2);
	if (!cf_score_total_opts(inst, total_arg(fcinfo, 1, inst), &o, &s, &msg))
		raise_score_error(msg);
	PG_RETURN_DATUM(score_result(fcinfo, &s));
}

/* A numeric argument checked against a plausible range. */
static Numeric
measure_arg(FunctionCallInfo fcinfo, int argno, const char *name, double lo_excl,
			double lo, double hi, const char *allowed)
{
	Numeric		n = PG_GETARG_NUMERIC(argno);
	double		d;
	bool		whole;

	if (!cf_numeric_to_double(n, &d, &whole) || d <= lo_excl || d < lo || d > hi)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is not plausible; allowed: %s", name, allowed)));
	return n;
}

/* careflags.bmi(weight_kg, height_cm): body-mass index, one decimal. */
PG_FUNCTION_INFO_V1(careflags_bmi);
Datum
careflags_bmi(PG_FUNCTION_ARGS)
{
	Numeric		weight = measure_arg(fcinfo, 0, "weight_kg", 0, 0, 500,
									 "more than 0 and at most 500 kg");
	Numeric		height = measure_arg(fcinfo, 1, "height_cm", -1, 30, 300,
									 "30 to 300 cm");
	Datum		metres,
				square,
				bmi;

	metres = DirectFunctionCall2(numeric_div, NumericGetDatum(height),
								 DirectFunctionCall1(int4_numeric, Int32GetDatum(100)));
	square = DirectFunctionCall2(numeric_mul, metres, metres);
	bmi = DirectFunctionCall2(numeric_div, NumericGetDatum(weight), square);
	PG_RETURN_DATUM(DirectFunctionCall2(numeric_round, bmi, Int32GetDatum(1)));
}
