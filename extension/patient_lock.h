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

/*
 * Patients an evaluation leaves for later (see evaluate.h): cf_held_reset()
 * at the start of cf_evaluate_patients(), cf_note_held() for each.
 */
extern void cf_held_reset(void);
extern void cf_note_held(int64 patient_id);
extern int	cf_held_count(void);

/*
 * The patient's action lock, tried by the evaluation while it reconciles
 * the patient: true (taken; release it after) when no nurse's action on
 * the patient is open.
 */
extern bool cf_patient_actions_quiet(int64 patient_id);
extern void cf_patient_actions_release(int64 patient_id);

#endif							/* CAREFLAGS_PATIENT_LOCK_H */
