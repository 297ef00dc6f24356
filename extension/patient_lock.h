/*-------------------------------------------------------------------------
 *
 * patient_lock.h
 *	  Locking a chunk of patients and loading their facts and open flags.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CAREFLAGS_PATIENT_LOCK_H
#define CAREFLAGS_PATIENT_LOCK_H

#include "postgres.h"

#include "evaluator.h"
#include "fact_reader.h"

/*
 * Fill chunk c (n and ids set) with its patients' facts and open flags.
 * lock: lock the patients first (writing); else read under the statement's
 * snapshot (checking).
 */
extern void cf_load_chunk(CfChunk *c, bool lock, const CfEvalOps *ops);

#endif							/* CAREFLAGS_PATIENT_LOCK_H */
