/*-------------------------------------------------------------------------
 *
 * guard.c
 *	  careflags.fact_guard(): BEFORE INSERT OR UPDATE ... FOR EACH ROW on
 *	  every fact table.
 *
 *	  It checks what the table's CHECK constraints check, and more (a birth
 *	  date in the future, an assessment's items against its instrument), and
 *	  fills in what careflags derives (an assessment's total, band and
 *	  at_risk from its item answers; a normalised ATC code).  A fact it
 *	  cannot accept is moved to careflags.quarantine with the reason and a
 *	  WARNING, and the row is skipped, so the record system's transaction
 *	  commits; with careflags.strict = on it raises an error instead.  The
 *	  CHECK constraints stay as the last line of defence for writes that
 *	  bypass triggers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "careflags.h"
#include "quarantine.h"
#include "scores.h"

#define MAX_CHANGES 4

typedef struct Row
{
	Relation	rel;
	TupleDesc	desc;
	HeapTuple	tuple;
	int			n;				/* pending changes */
	int			cols[MAX_CHANGES];
	Datum		values[MAX_CHANGES];
	bool		nulls[MAX_CHANGES];
} Row;

static int
attnum_of(Row *row, const char *name)
{
	int			a = SPI_fnumber(row->desc, name);

	if (a <= 0)
		elog(ERROR, "careflags.fact_guard: table \"%s\" has no column \"%s\"",
			 RelationGetRelationName(row->rel), name);
	return a;
}

static Datum
get(Row *row, const char *name, bool *isnull)
{
	return heap_getattr(row->tuple, attnum_of(row, name), row->desc, isnull);
}

static char *
get_text(Row *row, const char *name)
{
	return SPI_getvalue(row->tuple, row->desc, attnum_of(row, name));
}

static void
set(Row *row, const char *name, Datum value, bool isnull)
{
	Assert(row->n < MAX_CHANGES);
	row->cols[row->n] = attnum_of(row, name);
	row->values[row->n] = value;
	row->nulls[row->n] = isnull;
	row->n++;
}

static char *
ts_out(Datum ts)
{
	return DatumGetCString(DirectFunctionCall1(timestamptz_out, ts));
}

/* later < earlier, both present: a reason naming both */
static char *
check_order(Row *row, const char *earlier, const char *later, const char *what)
{
	bool		n1,
				n2;
	Datum		a = get(row, earlier, &n1);
	Datum		b = get(row, later, &n2);

	if (n1 || n2)
		return NULL;
	if (DatumGetTimestampTz(b) < DatumGetTimestampTz(a))
		return psprintf("%s (%s %s) is before %s (%s)", what, later, ts_out(b), earlier, ts_out(a));
	return NULL;
}

static char *
guard_patient(Row *row)
{
	bool		isnull;
	Datum		d = get(row, "birth_date", &isnull);
	bool		dnull;
	Datum		deceased_at = get(row, "deceased_at", &dnull);

	if (!isnull)
	{
		DateADT		bd = DatumGetDateADT(d);
		DateADT		today = DatumGetDateADT(DirectFunctionCall1(timestamptz_date,
																TimestampTzGetDatum(cf_now())));

		if (bd > today)
			return psprintf("birth date %s is in the future", get_text(row, "birth_date"));
		if (bd < DatumGetDateADT(DirectFunctionCall1(date_in, CStringGetDatum("1850-01-01"))))
			return psprintf("birth date %s is not plausible", get_text(row, "birth_date"));
	}
	if (!dnull)
	{
		bool		bnull;
		Datum		dec = get(row, "deceased", &bnull);

		if (bnull || !DatumGetBool(dec))
			set(row, "deceased", BoolGetDatum(true), false);
		(void) deceased_at;
	}
	return NULL;
}

static char *
guard_episode(Row *row)
{
	char	   *unit = get_text(row, "unit_id");

	if (unit != NULL && unit[0] == '\0')
		set(row, "unit_id", (Datum) 0, true);
	return check_order(row, "started_at", "ended_at", "episode end");
}

static Datum
double_numeric(double v)
{
	return DirectFunctionCall1(float8_numeric, Float8GetDatum(v));
}

static char *
guard_assessment(Row *row)
{
	char	   *inst_name = get_text(row, "instrument");
	int			inst = cf_instrument_from_name(inst_name);
	bool		items_null,
				total_null;
	Datum		items = get(row, "items", &items_null);
	Datum		total = get(row, "total", &total_null);
	CfScore		score;
	char	   *err = NULL;
	bool		unspecified;

	if (inst < 0)
		return psprintf("unknown instrument \"%s\"", inst_name);
	unspecified = (inst == CF_NUTRITION_UNSPECIFIED || inst == CF_FALL_RISK_UNSPECIFIED);

	if (!items_null)
	{
		Jsonb	   *jb = DatumGetJsonbP(items);

		if (!JB_ROOT_IS_OBJECT(jb))
			return pstrdup("items must be a JSON object of item answers");
		if (JB_ROOT_COUNT(jb) == 0)
			items_null = true;
	}

	if (!items_null && !unspecified)
	{
		if (!cf_score_items((CfInstrument) inst, DatumGetJsonbP(items), &score, &err))
			return err;
		if (!total_null)
		{
			double		recorded;
			bool		whole;

			if (!cf_numeric_to_double(DatumGetNumeric(total), &recorded, &whole) ||
				recorded != score.total)
				return psprintf("recorded total %s differs from the total of the item answers (%g)",
								get_text(row, "total"), score.total);
		}
		/* NaN: a negative NRS 2002 pre-screening has no total */
		if (isnan(score.total))
			set(row, "total", (Datum) 0, true);
		else
			set(row, "total", double_numeric(score.total), false);
	}
	else if (!items_null && unspecified)
		return psprintf("instrument %s takes no item answers", inst_name);
	else if (!total_null)
	{
		double		recorded;
		bool		whole;

		if (unspecified)
			return psprintf("instrument %s takes no total; record the instrument used", inst_name);
		if (!cf_numeric_to_double(DatumGetNumeric(total), &recorded, &whole))
			return psprintf("total %s is not a number", get_text(row, "total"));
		if (!whole)
			return psprintf("%s total %s is not a whole number", inst_name, get_text(row, "total"));
		if (!cf_score_total((CfInstrument) inst, recorded, &score, &err))
			return err;
	}
	else
	{
		/* assessed, but no result recorded */
		set(row, "band", CStringGetTextDatum("unscored"), false);
		set(row, "at_risk", (Datum) 0, true);
		return NULL;
	}
	set(row, "band", CStringGetTextDatum(score.band), false);
	set(row, "at_risk", BoolGetDatum(score.at_risk), false);
	return NULL;
}

static char *
guard_measurement(Row *row)
{
	char	   *kind = get_text(row, "kind");
	bool		isnull;
	Datum		v = get(row, "value", &isnull);
	double		x;
	bool		whole;
	double		lo,
				hi;
	bool		lo_open = false;
	const char *unit;

	if (isnull)
		return pstrdup("value is missing");
	if (!cf_numeric_to_double(DatumGetNumeric(v), &x, &whole))
		return psprintf("%s value %s is not a number", kind, get_text(row, "value"));
	if (strcmp(kind, "weight") == 0)
	{
		lo = 0, hi = 500, lo_open = true, unit = "kg";
	}
	else if (strcmp(kind, "height") == 0)
		lo = 30, hi = 300, unit = "cm";
	else if (strcmp(kind, "bmi") == 0)
		lo = 5, hi = 150, unit = "kg/m²";
	else
		lo = 5, hi = 100, unit = "cm";
	if ((lo_open ? x <= lo : x < lo) || x > hi)
		return psprintf("%s %s %s is not possible (allowed: %s %g to %g %s)",
						kind, get_text(row, "value"), unit,
						lo_open ? "more than" : "from", lo, hi, unit);
	return NULL;
}

static char *
guard_medication(Row *row)
{
	char	   *atc = get_text(row, "atc");

	if (atc != NULL)
	{
		char	   *norm = pstrdup(atc);
		int			k = 0;

		for (char *p = atc; *p; p++)
			if (*p != ' ' && *p != '\t')
				norm[k++] = pg_toupper((unsigned char) *p);
		norm[k] = '\0';
		if (k == 0)
			set(row, "atc", (Datum) 0, true);
		else
		{
			bool		ok = (k == 1 || k == 3 || k == 4 || k == 5 || k == 7) &&
				norm[0] >= 'A' && norm[0] <= 'Z';

			for (int i = 1; ok && i < k; i++)
			{
				bool		digit = (i == 1 || i == 2 || i == 5 || i == 6);

				ok = digit ? (norm[i] >= '0' && norm[i] <= '9') : (norm[i] >= 'A' && norm[i] <= 'Z');
			}
			if (!ok)
				return psprintf("\"%s\" is not an ATC code (e.g. N05CF01, N05C, N)", atc);
			if (strcmp(norm, atc) != 0)
				set(row, "atc", CStringGetTextDatum(norm), false);
		}
	}
	return check_order(row, "started_at", "stopped_at", "medicine stop");
}

static char *
guard_care_plan(Row *row)
{
	char	   *r = check_order(row, "started_at", "ended_at", "plan end");

	if (r == NULL)
		r = check_order(row, "started_at", "last_evaluated_at", "plan evaluation");
	return r;
}

static char *
guard_exemption(Row *row)
{
	char	   *reason = get_text(row, "reason");
	char	   *scope = get_text(row, "scope");
	bool		isnull;
	Datum		from = get(row, "valid_from", &isnull);
	bool		unull;
	Datum		until = get(row, "valid_until", &unull);
	bool		blank = true;

	if (reason != NULL)
		for (char *p = reason; *p; p++)
			if (!isspace((unsigned char) *p))
				blank = false;
	if (blank)
		return pstrdup("an exemption needs a reason");
	if (scope != NULL && strcmp(scope, "*") != 0)
	{
		bool		ok = scope[0] != '\0' && scope[0] != '.';
		size_t		len = strlen(scope);

		for (char *p = scope; ok && *p; p++)
			ok = (*p >= 'a' && *p <= 'z') || *p == '_' || (*p == '.' && p[1] != '.');
		if (!ok || scope[len - 1] == '.')
			return psprintf("exemption scope \"%s\" is not '*', a rule id or a rule family such as 'nutrition'", scope);
	}
	if (!isnull && !unull && DatumGetTimestampTz(until) <= DatumGetTimestampTz(from))
		return psprintf("exemption ends (%s) before it starts (%s)", ts_out(until), ts_out(from));
	return NULL;
}

/*
 * Every time of a fact must be one careflags can reckon with: finite and
 * between 1850 and 2200 (facts are about living patients; the bounds keep
 * the calendar arithmetic of the evaluator far from the ends of the range).
 */
static char *
guard_times(Row *row)
{
	static TimestampTz lo = 0,
				hi = 0;

	if (lo == 0)
	{
		lo = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum("1850-01-01 00:00+00"),
													 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
		hi = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum("2200-01-01 00:00+00"),
													 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
	}
	for (int i = 0; i < row->desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(row->desc, i);
		bool		isnull;
		Datum		d;
		TimestampTz t;

		if (att->attisdropped || att->atttypid != TIMESTAMPTZOID)
			continue;
		d = heap_getattr(row->tuple, i + 1, row->desc, &isnull);
		if (isnull)
			continue;
		t = DatumGetTimestampTz(d);
		if (TIMESTAMP_NOT_FINITE(t) || t < lo || t > hi)
			return psprintf("%s %s is not a plausible time (allowed: 1850 to 2200)",
							NameStr(att->attname), ts_out(d));
	}
	return NULL;
}

/* careflags.fact_guard(): validate and complete a fact before it is stored. */
PG_FUNCTION_INFO_V1(careflags_fact_guard);
Datum
careflags_fact_guard(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Row			row;
	const char *table;
	char	   *reason = NULL;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("careflags.fact_guard() must be called as a trigger")));
	if (!TRIGGER_FIRED_BEFORE(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		TRIGGER_FIRED_BY_DELETE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("careflags.fact_guard() must be a BEFORE INSERT OR UPDATE ... FOR EACH ROW trigger")));

	memset(&row, 0, sizeof(row));
	row.rel = td->tg_relation;
	row.desc = RelationGetDescr(row.rel);
	row.tuple = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	table = RelationGetRelationName(row.rel);

	reason = guard_times(&row);
	if (reason != NULL)
		;
	else if (strcmp(table, "patient") == 0)
		reason = guard_patient(&row);
	else if (strcmp(table, "episode") == 0)
		reason = guard_episode(&row);
	else if (strcmp(table, "assessment") == 0)
		reason = guard_assessment(&row);
	else if (strcmp(table, "measurement") == 0)
		reason = guard_measurement(&row);
	else if (strcmp(table, "medication") == 0)
		reason = guard_medication(&row);
	else if (strcmp(table, "care_plan") == 0)
		reason = guard_care_plan(&row);
	else if (strcmp(table, "exemption") == 0)
		reason = guard_exemption(&row);

	if (reason != NULL)
	{
		if (cf_strict)
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("careflags: %s fact rejected: %s", table, reason),
					 errhint("careflags.strict is on; with it off the fact would be quarantined and the write kept.")));
		cf_quarantine_row(row.rel, row.tuple, reason);
		/* skip the row: an insert is not stored, an update leaves the old row */
		return PointerGetDatum(NULL);
	}
	if (row.n > 0)
		row.tuple = heap_modify_tuple_by_cols(row.tuple, row.desc, row.n, row.cols,
											  row.values, row.nulls);
	return PointerGetDatum(row.tuple);
}
