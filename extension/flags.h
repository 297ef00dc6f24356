/*-------------------------------------------------------------------------
 *
 * flags.h
 *	  Keeping careflags.flag true: load one patient's facts, evaluate, and
 *	  reconcile the stored flags (insert new, update changed, resolve
 *	  cleared), under a per-patient lock, as the extension owner.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CAREFLAGS_FLAGS_H
#define CAREFLAGS_FLAGS_H

#include "postgres.h"

#include "funcapi.h"

/* What to do with the differences found. */
typedef enum CfReconcileMode
{
	CF_RECONCILE_WRITE,			/* write them to careflags.flag */
	CF_RECONCILE_CHECK			/* only report them */
} CfReconcileMode;

/* A difference found in CF_RECONCILE_CHECK mode. */
typedef void (*CfDifferenceFn) (void *arg, int64 patient_id, const char *rule_id,
								const char *difference);

/*
 * Re-evaluate the given patients (sorted, distinct) and reconcile their flags.
 * Returns how many flags were raised, changed or resolved.
 */
extern int64 cf_evaluate_patients(const int64 *patient_ids, int n,
								  CfReconcileMode mode,
								  CfDifferenceFn on_difference, void *arg);

/* Sort and de-duplicate patient ids in place; returns the new count. */
extern int	cf_unique_ids(int64 *ids, int n);

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

/* Run a function as the extension owner with search_path pinned. */
typedef struct CfOwnerContext
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
} CfOwnerContext;

extern void cf_enter_owner_context(CfOwnerContext *ctx);
extern void cf_leave_owner_context(CfOwnerContext *ctx);
extern Oid	cf_extension_owner(void);

/* True while careflags itself writes careflags.flag. */
extern bool cf_reconciling;

/* NOTIFY careflags with ids only. */
extern void cf_notify(const char *event, int64 flag_id, int64 patient_id,
					  const char *rule_id, const char *unit_id);

#endif							/* CAREFLAGS_FLAGS_H */
