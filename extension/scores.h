/*-------------------------------------------------------------------------
 *
 * scores.h
 *	  Clinical scores: nutrition screening (MST, MNA-SF, MUST, NRS 2002) and
 *	  fall risk (Morse, STRATIFY, Downton, Hendrich II), as plain C over item
 *	  answers, shared by the SQL scoring functions and the fact guard.
 *
 *	  The tables are those of clinical-rules.md §4.  Nothing here raises an
 *	  error: bad input is reported through *errmsg so that a caller can raise
 *	  (direct SQL calls) or quarantine (facts written by a record system).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CAREFLAGS_SCORES_H
#define CAREFLAGS_SCORES_H

#include "postgres.h"
#include "utils/jsonb.h"

/* Same order as the SQL enum careflags.instrument. */
typedef enum CfInstrument
{
	CF_MST = 0,
	CF_MNA_SF,
	CF_MUST,
	CF_NRS_2002,
	CF_NUTRITION_UNSPECIFIED,
	CF_MORSE,
	CF_STRATIFY,
	CF_DOWNTON,
	CF_HENDRICH_II,
	CF_FALL_RISK_UNSPECIFIED,
	CF_INSTRUMENT_COUNT
} CfInstrument;

typedef struct CfScore
{
	double		total;			/* the instrument's total */
	const char *band;			/* static string: e.g. "low", "at_risk", "high" */
	bool		at_risk;		/* nutrition: at risk; fall risk: high band */
} CfScore;

/* Instrument by its SQL enum label ("mst", "morse", ...); -1 if unknown. */
extern int	cf_instrument_from_name(const char *name);
extern const char *cf_instrument_name(CfInstrument inst);
extern bool cf_instrument_is_nutrition(CfInstrument inst);

/*
 * Score item answers given as a jsonb object (keys as documented on the SQL
 * function careflags.score).  Returns false and sets *errmsg (palloc'd, names
 * the item and the allowed values) on bad input.
 */
extern bool cf_score_items(CfInstrument inst, Jsonb *items, CfScore *out, char **errmsg);

/*
 * Band a recorded total (no item answers).  Returns false and sets *errmsg
 * when the total is outside the instrument's range or not a whole number.
 */
extern bool cf_score_total(CfInstrument inst, double total, CfScore *out, char **errmsg);

#endif							/* CAREFLAGS_SCORES_H */
