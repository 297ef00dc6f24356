/*-------------------------------------------------------------------------
 *
 * evaluate.c
 *	  cf_evaluate_patients(): re-evaluate a set of patients chunk by chunk
 *	  (lock and load: patient_lock.c; rules: rule_cache.c; reconcile:
 *	  reconcile.c), as the extension owner (owner.c).
 *
 *	  Memory: one context per chunk of up to 500 patients, reset after each.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "calendar.h"
#include "careflags.h"
#include "evaluate.h"
#include "evaluator.h"
#include "owner.h"
#include "patient_lock.h"
#include "reconcile.h"
#include "rule_cache.h"

bool		cf_reconciling = false;

/* Patients read and reconciled together (one query per table per chunk). */
#define CF_CHUNK 500

/* qsort comparator of int64 values. */
static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/* See evaluate.h. */
int
cf_unique_ids(int64 *ids, int n)
{
	int			k = 0;

	if (n <= 1)
		return n;
	qsort(ids, n, sizeof(int64), cmp_int64);
	for (int i = 0; i < n; i++)
		if (k == 0 || ids[k - 1] != ids[i])
			ids[k++] = ids[i];
	return k;
}

/*
 * See evaluate.h.  Works in chunks of CF_CHUNK patients, as the extension
 * owner; memory: one context per chunk, reset after each.
 */
int64
cf_evaluate_patients(const int64 *patient_ids, int n, CfReconcileMode mode,
					 CfDifferenceFn on_difference, void *arg)
{
	CfOwnerContext oc;
	MemoryContext patient_cxt;
	MemoryContext old;
	CfRuleSet	rs;
	CfEvalOps	ops;
	CfFlagResult *res;
	volatile int64 changes = 0;

	cf_held_reset();
	if (n <= 0)
		return 0;

	cf_enter_owner_context(&oc);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	rs = *cf_cached_rules(mode == CF_RECONCILE_CHECK);
	cf_calendar_ops(&ops);

	/* one result buffer for all patients (the evaluator clears it) */
	res = palloc(sizeof(CfFlagResult) * Max(rs.n, 1));
	patient_cxt = AllocSetContextCreate(CurrentMemoryContext, "careflags chunk",
										ALLOCSET_DEFAULT_SIZES);
	cf_reconciling = true;
	PG_TRY();
	{
		for (int start = 0; start < n; start += CF_CHUNK)
		{
			CfChunk		c;
			CfNewFlags	nf;

			CHECK_FOR_INTERRUPTS();
			memset(&nf, 0, sizeof(nf));
			old = MemoryContextSwitchTo(patient_cxt);
			memset(&c, 0, sizeof(c));
			c.n = Min(CF_CHUNK, n - start);
			c.ids = patient_ids + start;
			cf_load_chunk(&c, mode == CF_RECONCILE_WRITE, &ops);
			for (int i = 0; i < c.n; i++)
				changes += cf_reconcile_patient(&c, i, &rs, &ops, mode, on_difference, arg, &nf, res);
			cf_new_flags_flush(&nf, (CfTime) cf_now());
			MemoryContextSwitchTo(old);
			SPI_freetuptable(SPI_tuptable);
			SPI_tuptable = NULL;
			MemoryContextReset(patient_cxt);
		}
	}
	PG_FINALLY();
	{
		cf_reconciling = false;
	}
	PG_END_TRY();
	MemoryContextDelete(patient_cxt);

	SPI_finish();
	cf_leave_owner_context(&oc);
	return changes;
}
