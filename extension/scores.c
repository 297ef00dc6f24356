/*-------------------------------------------------------------------------
 *
 * scores.c
 *	  Clinical scores in plain C (see scores.h): instrument names, scoring of
 *	  item answers and banding of recorded totals.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "scores.h"

static const char *const cf_instrument_names[CF_INSTRUMENT_COUNT] = {
	"mst", "mna_sf", "must", "nrs_2002", "nutrition_unspecified",
	"morse", "stratify", "downton", "hendrich_ii", "fall_risk_unspecified"
};

int
cf_instrument_from_name(const char *name)
{
	int			i;

	if (name == NULL)
		return -1;
	for (i = 0; i < CF_INSTRUMENT_COUNT; i++)
		if (strcmp(name, cf_instrument_names[i]) == 0)
			return i;
	return -1;
}

const char *
cf_instrument_name(CfInstrument inst)
{
	if ((int) inst < 0 || inst >= CF_INSTRUMENT_COUNT)
		return "unknown";
	return cf_instrument_names[inst];
}

bool
cf_instrument_is_nutrition(CfInstrument inst)
{
	return inst <= CF_NUTRITION_UNSPECIFIED;
}

bool
cf_score_items(CfInstrument inst, Jsonb *items, CfScore *out, char **errmsg)
{
	*errmsg = psprintf("scoring of %s is not implemented yet", cf_instrument_name(inst));
	return false;
}

bool
cf_score_total(CfInstrument inst, double total, CfScore *out, char **errmsg)
{
	*errmsg = psprintf("scoring of %s is not implemented yet", cf_instrument_name(inst));
	return false;
}
