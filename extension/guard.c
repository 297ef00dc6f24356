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
 *	  Bounds the guard enforces on every fact (settings, superuser only):
 *	  identifiers (source system and key, unit id, scope, codes) at most
 *	  careflags.max_identifier_length bytes, other text and JSON (names,
 *	  reasons, item answers) at most careflags.max_text_length bytes, and
 *	  weight, height and BMI within plausible adult ranges
 *	  (careflags.weight_min/max, height_min/max, bmi_min/max).  An episode's
 *	  unit must be one of careflags.unit; unit and rule ids (administrators'
 *	  writes, through the same trigger) are refused with an error when too
 *	  long.  A quarantined row keeps at most a prefix of an
 *	  oversized value, so the quarantine does not store what was refused.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/detoast.h"
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/timestamp.h"

#include "careflags.h"
#include "flags.h"
#include "quarantine.h"
#include "scores.h"
#include "shard.h"

#define MAX_CHANGES 4

/* Settings of the guard (defined in cf_guard_define_gucs). */
int			cf_max_identifier_length = 200;
int			cf_max_text_length = 65536;
int			cf_min_cell_size = 5;
static double cf_weight_min = 20.0;
static double cf_weight_max = 350.0;
static double cf_height_min = 100.0;
static double cf_height_max = 250.0;
static double cf_bmi_min = 10.0;
static double cf_bmi_max = 80.0;

/* Columns that hold identifiers: bounded by careflags.max_identifier_length. */
static const char *const identifier_columns[] = {
	"source_system", "source_key", "unit_id", "rule_id", "scope", "atc", "code", "band", "kind", NULL
};

/* Quarantined rows keep at most this many bytes of an oversized value. */
#define QUARANTINE_PREFIX 200

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

/*
 * Is unit_id one of careflags.unit?  Read as the extension owner, through a
 * plan prepared once per backend (episodes come in bulk loads too).
 */
static bool
unit_exists(const char *unit_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		found;
	CfOwnerContext oc;
	MemoryContext cxt = CurrentMemoryContext;

	values[0] = CStringGetTextDatum(unit_id);
	cf_enter_owner_context(&oc);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare("SELECT FROM careflags.unit WHERE unit_id OPERATOR(pg_catalog.=) $1",
									1, types);

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "careflags: could not prepare the unit lookup");
		plan = p;
	}
	if (SPI_execute_plan(plan, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "careflags: could not read careflags.unit");
	found = SPI_processed > 0;
	SPI_finish();
	cf_leave_owner_context(&oc);
	MemoryContextSwitchTo(cxt);
	return found;
}

static char *
guard_episode(Row *row)
{
	char	   *unit = get_text(row, "unit_id");

	if (unit != NULL && unit[0] == '\0')
		set(row, "unit_id", (Datum) 0, true);
	/*
	 * A restore (pg_dump's output runs with row_security off) loads the
	 * tables in name order, episodes before units: the unit it names comes a
	 * moment later, so it is not looked up then.
	 */
	else if (unit != NULL && row_security && !unit_exists(unit))
		return psprintf("unit \"%s\" is not in careflags.unit (its flags would appear on no worklist)", unit);
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
	const char *unit;
	const char *setting;

	if (isnull)
		return pstrdup("value is missing");
	if (!cf_numeric_to_double(DatumGetNumeric(v), &x, &whole))
		return psprintf("%s value %s is not a number", kind, get_text(row, "value"));
	if (strcmp(kind, "weight") == 0)
		lo = cf_weight_min, hi = cf_weight_max, unit = "kg", setting = "careflags.weight_min/weight_max";
	else if (strcmp(kind, "height") == 0)
		lo = cf_height_min, hi = cf_height_max, unit = "cm", setting = "careflags.height_min/height_max";
	else if (strcmp(kind, "bmi") == 0)
		lo = cf_bmi_min, hi = cf_bmi_max, unit = "kg/m²", setting = "careflags.bmi_min/bmi_max";
	else
		lo = 5, hi = 100, unit = "cm", setting = NULL;
	if (x < lo || x > hi)
		return psprintf("%s %s %s is not a plausible adult value (allowed: %g to %g %s%s%s)",
						kind, get_text(row, "value"), unit, lo, hi, unit,
						setting ? "; " : "", setting ? setting : "");
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

/* Is the column one of identifier_columns? */
static bool
is_identifier(Form_pg_attribute att)
{
	for (int k = 0; identifier_columns[k] != NULL; k++)
		if (strcmp(NameStr(att->attname), identifier_columns[k]) == 0)
			return true;
	return false;
}

/* The size bound of a text or JSON column, in bytes. */
static int
limit_of(Form_pg_attribute att)
{
	return is_identifier(att) ? cf_max_identifier_length : cf_max_text_length;
}

/*
 * Every text and JSON value within its bound: identifiers within
 * careflags.max_identifier_length bytes, other text within
 * careflags.max_text_length.  The size is the stored (possibly compressed
 * on disk, but here detoasted) length, so a huge value is refused before
 * anything parses it further.
 */
static char *
guard_sizes(Row *row)
{
	for (int i = 0; i < row->desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(row->desc, i);
		bool		isnull;
		Datum		d;
		Size		len;
		bool		ident = false;
		int			limit;

		if (att->attisdropped || att->attlen != -1)
			continue;
		if (att->atttypid != TEXTOID && att->atttypid != JSONBOID)
			continue;
		d = heap_getattr(row->tuple, i + 1, row->desc, &isnull);
		if (isnull)
			continue;
		len = toast_raw_datum_size(d) - VARHDRSZ;
		ident = is_identifier(att);
		limit = limit_of(att);
		if (len > (Size) limit)
			return psprintf("%s is %zu bytes long; at most %d allowed (careflags.%s)",
							NameStr(att->attname), len, limit,
							ident ? "max_identifier_length" : "max_text_length");
	}
	return NULL;
}

/*
 * The row as it goes to the quarantine: every text value longer than the
 * bound cut to a prefix (and a JSON value too long replaced by a note), so
 * refusing a 10 MB value does not store it anyway.
 */
static HeapTuple
quarantine_copy(Row *row)
{
	int			natts = row->desc->natts;
	Datum	   *values = palloc(sizeof(Datum) * natts);
	bool	   *nulls = palloc(sizeof(bool) * natts);
	bool		changed = false;

	heap_deform_tuple(row->tuple, row->desc, values, nulls);
	for (int i = 0; i < natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(row->desc, i);
		Size		len;

		if (nulls[i] || att->attisdropped || att->attlen != -1)
			continue;
		if (att->atttypid != TEXTOID && att->atttypid != JSONBOID)
			continue;
		len = toast_raw_datum_size(values[i]) - VARHDRSZ;
		if (len <= (Size) limit_of(att))
			continue;
		if (att->atttypid == TEXTOID)
		{
			text	   *t = DatumGetTextPSlice(values[i], 0, QUARANTINE_PREFIX);
			char	   *s = text_to_cstring(t);
			int			k = pg_mbcliplen(s, strlen(s), strlen(s));

			s[k] = '\0';
			values[i] = CStringGetTextDatum(psprintf("%s... (%zu bytes, cut)", s, len));
		}
		else
			values[i] = DirectFunctionCall1(jsonb_in,
											CStringGetDatum(psprintf("{\"cut\": \"%zu bytes\"}", len)));
		changed = true;
	}
	return changed ? heap_form_tuple(row->desc, values, nulls) : row->tuple;
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
	int64		shardid;
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
	/* on a Citus shard (assessment_102081): the table it is a shard of */
	table = cf_logical_relname(row.rel, &shardid);

	reason = guard_sizes(&row);
	/* units and rules: an administrator's write, refused with an error */
	if (strcmp(table, "unit") == 0 || strcmp(table, "rule") == 0)
	{
		if (reason != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
					 errmsg("%s too long", strcmp(table, "unit") == 0 ? "unit" : "rule"),
					 errdetail("The %s's %s", table, reason)));
		return PointerGetDatum(row.tuple);
	}
	if (reason == NULL)
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
		cf_quarantine_row(row.rel, quarantine_copy(&row), reason);
		/* skip the row: an insert is not stored, an update leaves the old row */
		return PointerGetDatum(NULL);
	}
	if (row.n > 0)
		row.tuple = heap_modify_tuple_by_cols(row.tuple, row.desc, row.n, row.cols,
											  row.values, row.nulls);
	return PointerGetDatum(row.tuple);
}

/* The settings of the guard and of the reports' small-cell rule. */
void
cf_guard_define_gucs(void)
{
	DefineCustomIntVariable("careflags.max_identifier_length",
							"Longest identifier (source system and key, unit id, scope, code) a fact may carry, in bytes.",
							"Longer ones are quarantined (an error with careflags.strict).",
							&cf_max_identifier_length, 200, 1, 10000, PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("careflags.max_text_length",
							"Longest text or JSON value (names, reasons, item answers) a fact may carry, in bytes.",
							"Longer ones are quarantined (an error with careflags.strict).",
							&cf_max_text_length, 65536, 1, 100 * 1024 * 1024, PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomRealVariable("careflags.weight_min", "Lowest plausible adult weight, kg.", NULL,
							 &cf_weight_min, 20.0, 0.0, 1000.0, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("careflags.weight_max", "Highest plausible adult weight, kg.", NULL,
							 &cf_weight_max, 350.0, 0.0, 1000.0, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("careflags.height_min", "Lowest plausible adult height, cm.", NULL,
							 &cf_height_min, 100.0, 0.0, 400.0, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("careflags.height_max", "Highest plausible adult height, cm.", NULL,
							 &cf_height_max, 250.0, 0.0, 400.0, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("careflags.bmi_min", "Lowest plausible adult BMI, kg/m².", NULL,
							 &cf_bmi_min, 10.0, 0.0, 500.0, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("careflags.bmi_max", "Highest plausible adult BMI, kg/m².", NULL,
							 &cf_bmi_max, 80.0, 0.0, 500.0, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("careflags.min_cell_size",
							"Smallest count the reports and the extract publish (k); smaller cells are merged or suppressed and marked.",
							"1 publishes every count as it is.",
							&cf_min_cell_size, 5, 1, 1000, PGC_SUSET, 0,
							NULL, NULL, NULL);
}

/*
 * A nurse's note or reason as a C string, refused with a clear error when it
 * is longer than careflags.max_text_length (a direct call: an error, not a
 * quarantine).
 */
char *
cf_bounded_text(text *t, const char *what)
{
	Size		len = VARSIZE_ANY_EXHDR(t);

	if (len > (Size) cf_max_text_length)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("%s is too long", what),
				 errdetail("The %s is %zu bytes long; at most %d are allowed.", what, len, cf_max_text_length),
				 errhint("careflags.max_text_length sets the limit.")));
	return text_to_cstring(t);
}
