/*-------------------------------------------------------------------------
 *
 * evaluate.h
 *	  Re-evaluating a set of patients and reconciling their flags.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CAREFLAGS_EVALUATE_H
#define CAREFLAGS_EVALUATE_H

#include "postgres.h"

#include "reconcile.h"

/*
 * Re-evaluate the given patients (sorted, distinct) and reconcile their flags.
 * Returns how many flags were raised, changed or resolved.
 */
extern int64 cf_evaluate_patients(const int64 *patient_ids, int n,
								  CfReconcileMode mode,
								  CfDifferenceFn on_difference, void *arg);

/* Sort and de-duplicate patient ids in place; returns the new count. */
extern int	cf_unique_ids(int64 *ids, int n);

/* True while careflags itself writes careflags.flag. */
extern bool cf_reconciling;

#endif							/* CAREFLAGS_EVALUATE_H */
