/*-------------------------------------------------------------------------
 *
 * flags.h
 *	  What the rest of the core uses to keep careflags.flag true: the
 *	  extension-owner context (owner.h), flag notifications (notify.h) and
 *	  re-evaluation of patients (evaluate.h).  The work itself is split by
 *	  job: owner.c, notify.c, spi_plans.c, rule_cache.c, patient_lock.c,
 *	  reconcile.c, evaluate.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CAREFLAGS_FLAGS_H
#define CAREFLAGS_FLAGS_H

#include "evaluate.h"
#include "notify.h"
#include "owner.h"

#endif							/* CAREFLAGS_FLAGS_H */
