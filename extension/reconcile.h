/*-------------------------------------------------------------------------
 *
 * reconcile.h
 *	  Bringing one patient's stored flags in line with a fresh evaluation.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CAREFLAGS_RECONCILE_H
#define CAREFLAGS_RECONCILE_H

#include "postgres.h"

#include "evaluator.h"
#include "fact_reader.h"
#include "rule_cache.h"

/* What to do with the differences found. */
typedef enum CfReconcileMode
{
	CF_RECONCILE_WRITE,			/* write them to careflags.flag */
	CF_RECONCILE_CHECK			/* only report them */
} CfReconcileMode;

/* A difference found in CF_RECONCILE_CHECK mode. */
typedef void (*CfDifferenceFn) (void *arg, int64 patient_id, const char *rule_id,
								const char *difference);

/* Flags to insert at the end of a chunk, column by column. */
typedef struct CfNewFlags
{
	int			n;
	int			cap;
	Datum	   *col[11];		/* p, r, d, e, un, s, sev, f, a, w, re */
	bool	   *unit_null;
} CfNewFlags;

/*
 * Evaluate patient ci of chunk c and reconcile its flags (SPI connected):
 * changed and resolved flags are written at once, new ones added to
 * new_flags; in CF_RECONCILE_CHECK mode differences are only reported.
 * res: a result buffer of rs->n entries.  Returns the number of changes.
 */
extern int64 cf_reconcile_patient(CfChunk *c, int ci, const CfRuleSet *rs,
								  const CfEvalOps *ops, CfReconcileMode mode,
								  CfDifferenceFn on_difference, void *arg,
								  CfNewFlags *new_flags, CfFlagResult *res);

/* Insert the chunk's new flags in one statement and announce each. */
extern void cf_new_flags_flush(CfNewFlags *nf, CfTime now);

#endif							/* CAREFLAGS_RECONCILE_H */
