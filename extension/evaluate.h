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

/*
 * In `written` below: the statements only inserted rows.  A fact inserted
 * takes no action fact away and moves no window, so the flags resolved done
 * need not be checked again (reconcile.c: recheck_done_flags); they are read
 * only after an update or delete.
 */
#define CF_WRITTEN_INSERTS (1u << 31)

/*
 * In `written`: the rows written can concern these domains only (bits of
 * CfDomain), as an assessment's instrument or a care plan's kind tells
 * (triggers.c).  Without CF_WRITTEN_DOMAINS_KNOWN every domain the table
 * feeds is evaluated.  The statement's own evaluation and the worker's
 * queue (per patient, queue.c) carry them; the deferred evaluation, which
 * gathers many statements' tables, drops them (CF_WRITTEN_TABLES_ONLY).
 */
#define CF_WRITTEN_DOMAINS_KNOWN (1u << 30)
#define CF_WRITTEN_DOMAINS_SHIFT 24
#define CF_WRITTEN_DOMAINS(mask) \
	(CF_WRITTEN_DOMAINS_KNOWN | ((uint32) (mask) << CF_WRITTEN_DOMAINS_SHIFT))
#define CF_WRITTEN_TABLES_ONLY(w) \
	((w) & ~(CF_WRITTEN_DOMAINS_KNOWN | (((1u << 6) - 1) << CF_WRITTEN_DOMAINS_SHIFT)))

/*
 * The same after a write of the tables `written` (CF_FT_BITs of
 * CfFactTable; 0: not known; and CF_WRITTEN_INSERTS):
 * only the rules of the domains that table feeds are evaluated, from the
 * tables they read (evaluate.c).  relids: per CfFactTable the relation to
 * read instead of the table of that name (e.g. the Citus shard the trigger
 * fired on), InvalidOid elsewhere; or NULL.
 */
extern int64 cf_evaluate_written(const int64 *patient_ids, int n,
								 CfReconcileMode mode,
								 CfDifferenceFn on_difference, void *arg,
								 uint32 written, const Oid *relids);

/* Sort and de-duplicate patient ids in place; returns the new count. */
extern int	cf_unique_ids(int64 *ids, int n);

/* True while careflags itself writes careflags.flag. */
extern bool cf_reconciling;

/*
 * Patients an evaluation left for later, without waiting: with
 * cf_skip_locked_patients (the worker) those whose row another session
 * holds; always those with a flag whose row another session holds (a nurse's
 * acknowledge or snooze not yet committed).  cf_held_patients() gives the
 * ids of the last cf_evaluate_patients() call (in TopTransactionContext).
 */
extern bool cf_skip_locked_patients;
extern int	cf_held_patients(int64 **ids);

/* a nurse's action: take the patient's action lock (share, to the end of the transaction) */
extern void cf_lock_patient_actions(int64 patient_id);

#endif							/* CAREFLAGS_EVALUATE_H */
