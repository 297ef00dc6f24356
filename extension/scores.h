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

/* ---- additions: explicit Morse cut-offs, settings, numeric helper ---- */

#include "utils/numeric.h"

/* Default Morse bands: < 25 low, 25-45 moderate, > 45 high. */
#define CF_MORSE_MODERATE_FROM_DEFAULT 25
#define CF_MORSE_HIGH_ABOVE_DEFAULT 45

/* Parameters of the bands; only Morse has any today. */
typedef struct CfScoreOptions
{
	int			morse_moderate_from;	/* lowest total in the moderate band */
	int			morse_high_above;	/* totals above this are high */
} CfScoreOptions;

/* Settings careflags.morse_moderate_from / morse_high_above (scores.c). */
extern int	cf_morse_moderate_from;
extern int	cf_morse_high_above;

/* cf_score_items / cf_score_total with explicit cut-offs instead of the settings. */
extern bool cf_score_items_opts(CfInstrument inst, Jsonb *items, const CfScoreOptions *opts,
								CfScore *out, char **errmsg);
extern bool cf_score_total_opts(CfInstrument inst, double total, const CfScoreOptions *opts,
								CfScore *out, char **errmsg);

/*
 * A numeric as a double, never raising an error; false for NaN and
 * infinities.  *is_whole tells whether the exact decimal value is a whole
 * number.
 */
extern bool cf_numeric_to_double(Numeric num, double *result, bool *is_whole);

/* Highest total of an instrument (0 for the *_unspecified ones). */
extern int	cf_instrument_max_total(CfInstrument inst);

/* Defines the settings above; called once from _PG_init. */
extern void cf_scores_define_gucs(void);

#endif							/* CAREFLAGS_SCORES_H */
