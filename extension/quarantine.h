/*-------------------------------------------------------------------------
 *
 * quarantine.h
 *	  Facts careflags cannot accept go to careflags.quarantine with a reason,
 *	  and the record's own write goes through.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CAREFLAGS_QUARANTINE_H
#define CAREFLAGS_QUARANTINE_H

#include "postgres.h"

#include "access/htup.h"
#include "utils/relcache.h"

/* Quarantine a fact row (with its whole content as payload). */
extern void cf_quarantine_row(Relation rel, HeapTuple tuple, const char *reason);

/* Quarantine a failed evaluation of some patients. */
extern void cf_quarantine_evaluation(const char *table, const int64 *ids, int n,
									 const char *reason);

/* Quarantine a patient a whole-database pass (recompute_all, tick) could not evaluate. */
extern void cf_quarantine_pass_failure(const char *caller, int64 patient_id,
									   const char *reason);

#endif							/* CAREFLAGS_QUARANTINE_H */
