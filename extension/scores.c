/*-------------------------------------------------------------------------
 *
 * scores.c
 *	  Clinical scores in plain C (see scores.h): the item tables of every
 *	  instrument of clinical-rules.md §4, scoring of item answers given as a
 *	  jsonb object, and banding of recorded totals.
 *
 *	  Each instrument is a table of items (key, kind, points per answer,
 *	  range); a jsonb object is first read into one answer slot per item
 *	  (unknown keys, wrong JSON types, unknown answers and out-of-range
 *	  numbers are rejected there, with a message naming the item and its
 *	  allowed values), then the instrument's total is computed from the
 *	  slots and banded.  Nothing here raises an error for bad input: the
 *	  caller decides (the SQL functions raise 22023, the fact guard
 *	  quarantines).  The jsonb is only iterated at its top level, so nested
 *	  containers of any depth cost nothing and are reported as wrong types.
 *
 *	  The Morse cut-offs are parameters: explicit in cf_score_*_opts, and
 *	  otherwise taken from careflags.morse_moderate_from and
 *	  careflags.morse_high_above (superuser-set, e.g. per database).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "scores.h"

/* Settings: the default Morse cut-offs (clinical-rules.md §4). */
int			cf_morse_moderate_from = CF_MORSE_MODERATE_FROM_DEFAULT;
int			cf_morse_high_above = CF_MORSE_HIGH_ABOVE_DEFAULT;

typedef enum CfItemKind
{
	CF_ITEM_BOOL,				/* JSON true/false */
	CF_ITEM_CHOICE,				/* JSON string from a fixed list */
	CF_ITEM_NUMBER,				/* JSON number within [min, max] */
	CF_ITEM_INTEGER				/* JSON whole number within [min, max] */
} CfItemKind;

typedef struct CfChoice
{
	const char *value;
	int			points;
} CfChoice;

typedef struct CfItem
{
	const char *key;
	CfItemKind	kind;
	int			if_true;		/* BOOL: points for true */
	int			if_false;		/* BOOL: points for false */
	const CfChoice *choices;	/* CHOICE: terminated by a NULL value */
	double		min;			/* NUMBER, INTEGER: inclusive range */
	double		max;
	const char *unit;			/* NUMBER, INTEGER: for messages, or NULL */
} CfItem;

/* One answer slot per item of an instrument. */
typedef struct CfAnswer
{
	bool		given;
	bool		b;				/* BOOL */
	int			choice;			/* CHOICE: index into choices */
	double		num;			/* NUMBER, INTEGER */
} CfAnswer;

#define CF_MAX_ITEMS 16

typedef struct CfInstrumentDef
{
	const char *name;
	const CfItem *items;
	int			nitems;
	int			max_total;
	/* NULL: every item is required and the total is the sum of points */
	bool		(*total) (const struct CfInstrumentDef *def, const CfAnswer *ans,
						  double *total, char **errmsg);
} CfInstrumentDef;

#define BOOL_ITEM(k, t, f)	{ (k), CF_ITEM_BOOL, (t), (f), NULL, 0, 0, NULL }
#define CHOICE_ITEM(k, c)	{ (k), CF_ITEM_CHOICE, 0, 0, (c), 0, 0, NULL }
#define NUMBER_ITEM(k, lo, hi, u)	{ (k), CF_ITEM_NUMBER, 0, 0, NULL, (lo), (hi), (u) }
#define INTEGER_ITEM(k, lo, hi, u)	{ (k), CF_ITEM_INTEGER, 0, 0, NULL, (lo), (hi), (u) }
#define lengthof_items(a) ((int) (sizeof(a) / sizeof((a)[0])))

/* ---- MST ---------------------------------------------------------------- */
static const CfChoice mst_weight_loss[] = {
	{"no", 0}, {"unsure", 2}, {"1_to_5_kg", 1}, {"6_to_10_kg", 2},
	{"11_to_15_kg", 3}, {"more_than_15_kg", 4}, {"amount_unknown", 2}, {NULL, 0}
};
static const CfItem mst_items[] = {
	CHOICE_ITEM("weight_loss", mst_weight_loss),
	BOOL_ITEM("eating_less", 1, 0),
};

/* ---- MNA-SF -------------------------------------------------------------- */
static const CfChoice mna_food_intake[] = {
	{"severe_decrease", 0}, {"moderate_decrease", 1}, {"no_decrease", 2}, {NULL, 0}
};
static const CfChoice mna_weight_loss[] = {
	{"more_than_3_kg", 0}, {"does_not_know", 1}, {"1_to_3_kg", 2}, {"none", 3}, {NULL, 0}
};
static const CfChoice mna_mobility[] = {
	{"bed_or_chair_bound", 0}, {"out_of_bed_not_outside", 1}, {"goes_out", 2}, {NULL, 0}
};
static const CfChoice mna_neuro[] = {
	{"severe_dementia_or_depression", 0}, {"mild_dementia", 1}, {"none", 2}, {NULL, 0}
};
enum
{
	MNA_FOOD, MNA_WEIGHT, MNA_MOBILITY, MNA_STRESS, MNA_NEURO, MNA_BMI, MNA_CALF
};
static const CfItem mna_items[] = {
	CHOICE_ITEM("food_intake", mna_food_intake),
	CHOICE_ITEM("weight_loss", mna_weight_loss),
	CHOICE_ITEM("mobility", mna_mobility),
	BOOL_ITEM("psychological_stress_or_acute_disease", 0, 2),
	CHOICE_ITEM("neuropsychological_problems", mna_neuro),
	NUMBER_ITEM("bmi", 5, 150, "kg/m²"),
	NUMBER_ITEM("calf_circumference", 5, 100, "cm"),
};

/* ---- MUST ---------------------------------------------------------------- */
enum
{
	MUST_BMI, MUST_LOSS, MUST_ACUTE
};
static const CfItem must_items[] = {
	NUMBER_ITEM("bmi", 5, 150, "kg/m²"),
	NUMBER_ITEM("weight_loss_percent", 0, 100, "% of body weight, unplanned, last 3-6 months"),
	BOOL_ITEM("acutely_ill_no_intake", 2, 0),
};

/* ---- NRS 2002 ------------------------------------------------------------ */
enum
{
	NRS_BMI_LOW, NRS_LOSS, NRS_INTAKE, NRS_ILL, NRS_STATUS, NRS_SEVERITY, NRS_AGE
};
static const CfItem nrs_items[] = {
	BOOL_ITEM("bmi_below_20_5", 0, 0),
	BOOL_ITEM("weight_loss_3_months", 0, 0),
	BOOL_ITEM("reduced_intake_last_week", 0, 0),
	BOOL_ITEM("severely_ill", 0, 0),
	INTEGER_ITEM("nutritional_status", 0, 3, NULL),
	INTEGER_ITEM("disease_severity", 0, 3, NULL),
	INTEGER_ITEM("age", 0, 150, "years"),
};

/* ---- Morse Fall Scale ---------------------------------------------------- */
static const CfChoice morse_aid[] = {
	{"none", 0}, {"bed_rest", 0}, {"nurse_assist", 0},
	{"crutches_cane_walker", 15}, {"furniture", 30}, {NULL, 0}
};
static const CfChoice morse_gait[] = {
	{"normal", 0}, {"bed_rest", 0}, {"wheelchair", 0}, {"weak", 10}, {"impaired", 20}, {NULL, 0}
};
static const CfChoice morse_mental[] = {
	{"knows_limits", 0}, {"overestimates_or_forgets", 15}, {NULL, 0}
};
static const CfItem morse_items[] = {
	BOOL_ITEM("history_of_falling", 25, 0),
	BOOL_ITEM("secondary_diagnosis", 15, 0),
	CHOICE_ITEM("ambulatory_aid", morse_aid),
	BOOL_ITEM("iv_or_heparin_lock", 20, 0),
	CHOICE_ITEM("gait", morse_gait),
	CHOICE_ITEM("mental_status", morse_mental),
};

/* ---- STRATIFY ------------------------------------------------------------ */
static const CfItem stratify_items[] = {
	BOOL_ITEM("fall_history", 1, 0),
	BOOL_ITEM("agitated", 1, 0),
	BOOL_ITEM("visual_impairment", 1, 0),
	BOOL_ITEM("frequent_toileting", 1, 0),
	BOOL_ITEM("transfer_mobility_3_or_4", 1, 0),
};

/* ---- Downton Fall Risk Index --------------------------------------------- */
static const CfChoice downton_mental[] = {
	{"oriented", 0}, {"confused", 1}, {NULL, 0}
};
static const CfChoice downton_gait[] = {
	{"normal", 0}, {"safe_with_aids", 1}, {"unsafe", 1}, {"unable", 1}, {NULL, 0}
};
static const CfItem downton_items[] = {
	BOOL_ITEM("known_previous_falls", 1, 0),
	BOOL_ITEM("tranquillisers_sedatives", 1, 0),
	BOOL_ITEM("diuretics", 1, 0),
	BOOL_ITEM("antihypertensives", 1, 0),
	BOOL_ITEM("antiparkinsonian", 1, 0),
	BOOL_ITEM("antidepressants", 1, 0),
	BOOL_ITEM("visual_impairment", 1, 0),
	BOOL_ITEM("hearing_impairment", 1, 0),
	BOOL_ITEM("impaired_limb_function", 1, 0),
	CHOICE_ITEM("mental_state", downton_mental),
	CHOICE_ITEM("gait", downton_gait),
};

/* ---- Hendrich II --------------------------------------------------------- */
static const CfChoice hendrich_gug[] = {
	{"rises_in_one_movement", 0}, {"pushes_up_one_attempt", 1},
	{"multiple_attempts", 3}, {"unable_without_help", 4}, {NULL, 0}
};
static const CfItem hendrich_items[] = {
	BOOL_ITEM("confusion_disorientation_impulsivity", 4, 0),
	BOOL_ITEM("symptomatic_depression", 2, 0),
	BOOL_ITEM("altered_elimination", 1, 0),
	BOOL_ITEM("dizziness_vertigo", 1, 0),
	BOOL_ITEM("male", 1, 0),
	BOOL_ITEM("antiepileptic", 2, 0),
	BOOL_ITEM("benzodiazepine", 1, 0),
	CHOICE_ITEM("get_up_and_go", hendrich_gug),
};

static bool mna_total(const CfInstrumentDef *def, const CfAnswer *ans, double *total, char **errmsg);
static bool must_total(const CfInstrumentDef *def, const CfAnswer *ans, double *total, char **errmsg);
static bool nrs_total(const CfInstrumentDef *def, const CfAnswer *ans, double *total, char **errmsg);

/* Same order as CfInstrument and the SQL enum careflags.instrument. */
static const CfInstrumentDef cf_instruments[CF_INSTRUMENT_COUNT] = {
	{"mst", mst_items, lengthof_items(mst_items), 5, NULL},
	{"mna_sf", mna_items, lengthof_items(mna_items), 14, mna_total},
	{"must", must_items, lengthof_items(must_items), 6, must_total},
	{"nrs_2002", nrs_items, lengthof_items(nrs_items), 7, nrs_total},
	{"nutrition_unspecified", NULL, 0, 0, NULL},
	{"morse", morse_items, lengthof_items(morse_items), 125, NULL},
	{"stratify", stratify_items, lengthof_items(stratify_items), 5, NULL},
	{"downton", downton_items, lengthof_items(downton_items), 11, NULL},
	{"hendrich_ii", hendrich_items, lengthof_items(hendrich_items), 16, NULL},
	{"fall_risk_unspecified", NULL, 0, 0, NULL},
};

StaticAssertDecl(lengthof(cf_instruments) == CF_INSTRUMENT_COUNT,
				 "one definition per instrument");

int
cf_instrument_from_name(const char *name)
{
	int			i;

	if (name == NULL)
		return -1;
	for (i = 0; i < CF_INSTRUMENT_COUNT; i++)
		if (strcmp(name, cf_instruments[i].name) == 0)
			return i;
	return -1;
}

const char *
cf_instrument_name(CfInstrument inst)
{
	if ((int) inst < 0 || inst >= CF_INSTRUMENT_COUNT)
		return "unknown";
	return cf_instruments[inst].name;
}

bool
cf_instrument_is_nutrition(CfInstrument inst)
{
	return (int) inst >= 0 && inst <= CF_NUTRITION_UNSPECIFIED;
}

int
cf_instrument_max_total(CfInstrument inst)
{
	if ((int) inst < 0 || inst >= CF_INSTRUMENT_COUNT)
		return 0;
	return cf_instruments[inst].max_total;
}

static bool
is_unspecified(CfInstrument inst)
{
	return inst == CF_NUTRITION_UNSPECIFIED || inst == CF_FALL_RISK_UNSPECIFIED;
}

/* "a number from 5 to 150 kg/m²", "true or false", "\"no\", \"yes\"" */
static void
append_allowed(StringInfo buf, const CfItem *item)
{
	int			i;

	switch (item->kind)
	{
		case CF_ITEM_BOOL:
			appendStringInfoString(buf, "true or false");
			break;
		case CF_ITEM_CHOICE:
			for (i = 0; item->choices[i].value != NULL; i++)
				appendStringInfo(buf, "%s\"%s\"", i > 0 ? ", " : "", item->choices[i].value);
			break;
		case CF_ITEM_NUMBER:
		case CF_ITEM_INTEGER:
			appendStringInfo(buf, "%s from %g to %g%s%s",
							 item->kind == CF_ITEM_INTEGER ? "a whole number" : "a number",
							 item->min, item->max,
							 item->unit ? " " : "", item->unit ? item->unit : "");
			break;
	}
}

static char *
item_error(const CfInstrumentDef *def, const CfItem *item, const char *problem)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s item \"%s\" %s; allowed: ", def->name, item->key, problem);
	append_allowed(&buf, item);
	return buf.data;
}

static const char *
jbv_type_name(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "a string";
		case jbvNumeric:
			return "a number";
		case jbvBool:
			return "a boolean";
		case jbvBinary:
			return JsonContainerIsArray(v->val.binary.data) ? "an array" : "an object";
		case jbvArray:
			return "an array";
		case jbvObject:
			return "an object";
		default:
			return "an unsupported value";
	}
}

/*
 * A numeric as a double without raising errors (huge magnitudes become
 * +-Infinity; NaN and infinities give false), and whether it is a whole number, judged on the exact
 * decimal value rather than on the double.
 */
bool
cf_numeric_to_double(Numeric num, double *result, bool *is_whole)
{
	char	   *str;
	char	   *dot;
	char	   *end;

	if (numeric_is_nan(num) || numeric_is_inf(num))
	{
		*result = get_float8_nan();
		*is_whole = false;
		return false;
	}
	str = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num)));
	*result = strtod(str, &end);
	*is_whole = true;
	dot = strchr(str, '.');
	if (dot != NULL)
	{
		for (dot++; *dot; dot++)
			if (*dot != '0')
				*is_whole = false;
	}
	pfree(str);
	return true;
}

/* Read one jsonb value into the item's answer slot. */
static bool
read_answer(const CfInstrumentDef *def, const CfItem *item, const JsonbValue *v,
			CfAnswer *ans, char **errmsg)
{
	int			i;

	if (v->type == jbvNull)
		return true;			/* JSON null: not answered */

	switch (item->kind)
	{
		case CF_ITEM_BOOL:
			if (v->type != jbvBool)
			{
				*errmsg = item_error(def, item, psprintf("must be a JSON boolean, not %s", jbv_type_name(v)));
				return false;
			}
			ans->b = v->val.boolean;
			break;
		case CF_ITEM_CHOICE:
			if (v->type != jbvString)
			{
				*errmsg = item_error(def, item, psprintf("must be a JSON string, not %s", jbv_type_name(v)));
				return false;
			}
			for (i = 0; item->choices[i].value != NULL; i++)
			{
				const char *c = item->choices[i].value;

				if ((int) strlen(c) == v->val.string.len &&
					memcmp(c, v->val.string.val, v->val.string.len) == 0)
					break;
			}
			if (item->choices[i].value == NULL)
			{
				int			shown = pg_mbcliplen(v->val.string.val, v->val.string.len, 40);

				*errmsg = item_error(def, item,
									 psprintf("has the unknown answer \"%.*s%s\"",
											  shown, v->val.string.val,
											  shown < v->val.string.len ? "..." : ""));
				return false;
			}
			ans->choice = i;
			break;
		case CF_ITEM_NUMBER:
		case CF_ITEM_INTEGER:
			{
				bool		whole;

				if (v->type != jbvNumeric)
				{
					*errmsg = item_error(def, item, psprintf("must be a JSON number, not %s", jbv_type_name(v)));
					return false;
				}
				if (!cf_numeric_to_double(v->val.numeric, &ans->num, &whole) ||
					!(ans->num >= item->min && ans->num <= item->max))
				{
					*errmsg = item_error(def, item, psprintf("is out of range (%g)", ans->num));
					return false;
				}
				if (item->kind == CF_ITEM_INTEGER && !whole)
				{
					*errmsg = item_error(def, item, "is not a whole number");
					return false;
				}
			}
			break;
	}
	ans->given = true;
	return true;
}

static char *
missing_error(const CfInstrumentDef *def, int idx)
{
	return item_error(def, &def->items[idx], "is missing");
}

/* Points of an answered BOOL or CHOICE item. */
static int
item_points(const CfItem *item, const CfAnswer *ans)
{
	if (item->kind == CF_ITEM_BOOL)
		return ans->b ? item->if_true : item->if_false;
	if (item->kind == CF_ITEM_CHOICE)
		return item->choices[ans->choice].points;
	return 0;
}

static bool
mna_total(const CfInstrumentDef *def, const CfAnswer *ans, double *total, char **errmsg)
{
	int			i;
	int			sum = 0;

	for (i = MNA_FOOD; i <= MNA_NEURO; i++)
	{
		if (!ans[i].given)
		{
			*errmsg = missing_error(def, i);
			return false;
		}
		sum += item_points(&def->items[i], &ans[i]);
	}
	/* F1 (BMI) when given; F2 (calf circumference) only without a BMI. */
	if (ans[MNA_BMI].given)
	{
		double		bmi = ans[MNA_BMI].num;

		sum += bmi < 19 ? 0 : bmi < 21 ? 1 : bmi < 23 ? 2 : 3;
	}
	else if (ans[MNA_CALF].given)
		sum += ans[MNA_CALF].num < 31 ? 0 : 3;
	else
	{
		*errmsg = psprintf("mna_sf item \"bmi\" is missing; allowed: a number from 5 to 150 kg/m² "
						   "(F1), or, when BMI is not available, \"calf_circumference\": "
						   "a number from 5 to 100 cm (F2)");
		return false;
	}
	*total = sum;
	return true;
}

static bool
must_total(const CfInstrumentDef *def, const CfAnswer *ans, double *total, char **errmsg)
{
	int			i;
	double		bmi,
				loss;

	for (i = 0; i < def->nitems; i++)
		if (!ans[i].given)
		{
			*errmsg = missing_error(def, i);
			return false;
		}
	bmi = ans[MUST_BMI].num;
	loss = ans[MUST_LOSS].num;
	*total = (bmi > 20 ? 0 : bmi >= 18.5 ? 1 : 2) +
		(loss < 5 ? 0 : loss <= 10 ? 1 : 2) +
		item_points(&def->items[MUST_ACUTE], &ans[MUST_ACUTE]);
	return true;
}

/*
 * NRS 2002: the four pre-screening answers (all or none) and the full
 * screening.  When all four pre-screening answers are no and no full
 * screening was recorded, the result is "not at risk" without a total (NaN).
 */
static bool
nrs_total(const CfInstrumentDef *def, const CfAnswer *ans, double *total, char **errmsg)
{
	int			i;
	int			pre_given = 0;
	bool		pre_positive = false;
	bool		full_any = false;

	for (i = NRS_BMI_LOW; i <= NRS_ILL; i++)
		if (ans[i].given)
		{
			pre_given++;
			pre_positive |= ans[i].b;
		}
	if (pre_given > 0 && pre_given < 4)
	{
		for (i = NRS_BMI_LOW; ans[i].given; i++)
			;
		*errmsg = item_error(def, &def->items[i],
							 "is missing (the four pre-screening answers go together)");
		return false;
	}
	for (i = NRS_STATUS; i <= NRS_AGE; i++)
		full_any |= ans[i].given;
	if (pre_given == 4 && !pre_positive && !full_any)
	{
		*total = get_float8_nan();
		return true;
	}
	for (i = NRS_STATUS; i <= NRS_AGE; i++)
		if (!ans[i].given)
		{
			*errmsg = item_error(def, &def->items[i],
								 pre_given ? "is missing (a pre-screening answer is yes, so the full screening is needed)"
								 : "is missing");
			return false;
		}
	*total = ans[NRS_STATUS].num + ans[NRS_SEVERITY].num + (ans[NRS_AGE].num >= 70 ? 1 : 0);
	return true;
}

static bool
check_opts(const CfScoreOptions *opts, char **errmsg)
{
	if (opts->morse_moderate_from < 0 || opts->morse_moderate_from > 125 ||
		opts->morse_high_above < 0 || opts->morse_high_above > 124 ||
		opts->morse_moderate_from > opts->morse_high_above + 1)
	{
		*errmsg = psprintf("Morse cut-offs moderate_from %d and high_above %d are not usable; allowed: "
						   "whole numbers with 0 <= moderate_from <= high_above + 1 and high_above < 125",
						   opts->morse_moderate_from, opts->morse_high_above);
		return false;
	}
	return true;
}

/* Band a total (known to be in range) of a scored instrument. */
static void
band_total(CfInstrument inst, double t, const CfScoreOptions *opts, CfScore *out)
{
	out->total = t;
	if (isnan(t))
	{
		/* NRS 2002 with a negative pre-screening */
		out->band = "not_at_risk";
		out->at_risk = false;
		return;
	}
	switch (inst)
	{
		case CF_MST:
			out->at_risk = t >= 2;
			out->band = out->at_risk ? "at_risk" : "not_at_risk";
			break;
		case CF_MNA_SF:
			out->at_risk = t <= 11;
			out->band = t >= 12 ? "normal" : t >= 8 ? "at_risk" : "malnourished";
			break;
		case CF_MUST:
			out->at_risk = t >= 1;
			out->band = t >= 2 ? "high" : t >= 1 ? "medium" : "low";
			break;
		case CF_NRS_2002:
			out->at_risk = t >= 3;
			out->band = out->at_risk ? "at_risk" : "not_at_risk";
			break;
		case CF_MORSE:
			out->band = t > opts->morse_high_above ? "high" :
				t >= opts->morse_moderate_from ? "moderate" : "low";
			out->at_risk = t > opts->morse_high_above;
			break;
		case CF_STRATIFY:
			out->at_risk = t >= 2;
			out->band = out->at_risk ? "high" : "low";
			break;
		case CF_DOWNTON:
			out->at_risk = t >= 3;
			out->band = out->at_risk ? "high" : "low";
			break;
		case CF_HENDRICH_II:
			out->at_risk = t >= 5;
			out->band = out->at_risk ? "high" : "low";
			break;
		default:
			out->band = "unscored";
			out->at_risk = false;
			break;
	}
}

static bool
valid_instrument(CfInstrument inst, char **errmsg)
{
	if ((int) inst < 0 || inst >= CF_INSTRUMENT_COUNT)
	{
		*errmsg = psprintf("unknown instrument %d", (int) inst);
		return false;
	}
	return true;
}

static CfScoreOptions
current_opts(void)
{
	CfScoreOptions o;

	o.morse_moderate_from = cf_morse_moderate_from;
	o.morse_high_above = cf_morse_high_above;
	return o;
}

bool
cf_score_items_opts(CfInstrument inst, Jsonb *items, const CfScoreOptions *opts,
					CfScore *out, char **errmsg)
{
	const CfInstrumentDef *def;
	CfAnswer	ans[CF_MAX_ITEMS];
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	v;
	double		total;
	int			i;

	if (!valid_instrument(inst, errmsg))
		return false;
	def = &cf_instruments[inst];
	Assert(def->nitems <= CF_MAX_ITEMS);

	if (items == NULL || !JB_ROOT_IS_OBJECT(items) || JB_ROOT_IS_SCALAR(items))
	{
		if (items == NULL && is_unspecified(inst))
		{
			out->total = get_float8_nan();
			out->band = "unscored";
			out->at_risk = false;
			return true;
		}
		*errmsg = psprintf("%s items must be a JSON object of item answers, not %s",
						   def->name,
						   items == NULL ? "null" :
						   JB_ROOT_IS_SCALAR(items) ? "a scalar" : "an array");
		return false;
	}

	if (is_unspecified(inst))
	{
		if (JB_ROOT_COUNT(items) != 0)
		{
			*errmsg = psprintf("%s takes no items (an assessment recorded without a score); "
							   "allowed: an empty object {}", def->name);
			return false;
		}
		out->total = get_float8_nan();
		out->band = "unscored";
		out->at_risk = false;
		return true;
	}

	memset(ans, 0, sizeof(ans));
	it = JsonbIteratorInit(&items->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		const CfItem *item = NULL;
		char	   *key;
		int			idx = -1;

		if (tok != WJB_KEY)
			continue;
		for (i = 0; i < def->nitems; i++)
		{
			const char *k = def->items[i].key;

			if ((int) strlen(k) == v.val.string.len &&
				memcmp(k, v.val.string.val, v.val.string.len) == 0)
			{
				item = &def->items[i];
				idx = i;
				break;
			}
		}
		if (item == NULL)
		{
			StringInfoData buf;
			int			shown = pg_mbcliplen(v.val.string.val, v.val.string.len, 40);

			key = pnstrdup(v.val.string.val, shown);
			initStringInfo(&buf);
			appendStringInfo(&buf, "%s has no item \"%s%s\"; items: ", def->name, key,
							 shown < v.val.string.len ? "..." : "");
			for (i = 0; i < def->nitems; i++)
				appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", def->items[i].key);
			*errmsg = buf.data;
			return false;
		}
		tok = JsonbIteratorNext(&it, &v, true);
		if (tok != WJB_VALUE)
		{
			*errmsg = psprintf("%s items: malformed object", def->name);
			return false;
		}
		if (!read_answer(def, item, &v, &ans[idx], errmsg))
			return false;
	}

	if (def->total != NULL)
	{
		if (!def->total(def, ans, &total, errmsg))
			return false;
	}
	else
	{
		int			sum = 0;

		for (i = 0; i < def->nitems; i++)
		{
			if (!ans[i].given)
			{
				*errmsg = missing_error(def, i);
				return false;
			}
			sum += item_points(&def->items[i], &ans[i]);
		}
		total = sum;
	}
	if (inst == CF_MORSE && !check_opts(opts, errmsg))
		return false;
	band_total(inst, total, opts, out);
	return true;
}

bool
cf_score_items(CfInstrument inst, Jsonb *items, CfScore *out, char **errmsg)
{
	CfScoreOptions o = current_opts();

	return cf_score_items_opts(inst, items, &o, out, errmsg);
}

bool
cf_score_total_opts(CfInstrument inst, double total, const CfScoreOptions *opts,
					CfScore *out, char **errmsg)
{
	const CfInstrumentDef *def;

	if (!valid_instrument(inst, errmsg))
		return false;
	def = &cf_instruments[inst];
	if (is_unspecified(inst))
	{
		*errmsg = psprintf("%s has no total (an assessment recorded without a score); "
						   "record it without one, or name the instrument", def->name);
		return false;
	}
	if (!(total >= 0 && total <= def->max_total))
	{
		*errmsg = psprintf("%s total %g is out of range; allowed: a whole number from 0 to %d",
						   def->name, total, def->max_total);
		return false;
	}
	if (total != floor(total))
	{
		*errmsg = psprintf("%s total %g is not a whole number; allowed: a whole number from 0 to %d",
						   def->name, total, def->max_total);
		return false;
	}
	if (inst == CF_MORSE && !check_opts(opts, errmsg))
		return false;
	band_total(inst, total, opts, out);
	return true;
}

bool
cf_score_total(CfInstrument inst, double total, CfScore *out, char **errmsg)
{
	CfScoreOptions o = current_opts();

	return cf_score_total_opts(inst, total, &o, out, errmsg);
}

/* careflags.morse_moderate_from, careflags.morse_high_above */
void
cf_scores_define_gucs(void)
{
	DefineCustomIntVariable("careflags.morse_moderate_from",
							"Lowest Morse Fall Scale total in the moderate band.",
							"Used when an assessment is scored without explicit cut-offs (careflags.score, the fact guard).",
							&cf_morse_moderate_from, CF_MORSE_MODERATE_FROM_DEFAULT, 0, 125,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("careflags.morse_high_above",
							"Morse Fall Scale totals above this are in the high band (high fall risk).",
							"Used when an assessment is scored without explicit cut-offs (careflags.score, the fact guard).",
							&cf_morse_high_above, CF_MORSE_HIGH_ABOVE_DEFAULT, 0, 124,
							PGC_SUSET, 0, NULL, NULL, NULL);
}
