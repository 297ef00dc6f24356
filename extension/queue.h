/*-------------------------------------------------------------------------
 *
 * queue.h
 *	  Evaluation by the background worker (careflags.evaluate_in_worker):
 *	  the queue of patients written by committed transactions.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CAREFLAGS_QUEUE_H
#define CAREFLAGS_QUEUE_H

#include "postgres.h"

/* _PG_init, in shared_preload_libraries: the worker's shared state */
extern void cf_queue_shmem_init(void);

/* the worker: announce that it serves this database */
extern void cf_queue_worker_publish(void);

/*
 * Whether the background worker serves this database and this is not the
 * worker itself: then it relays this session's flag events (notify.c).
 */
extern bool cf_worker_relays_here(void);
/* Wake the worker when this transaction commits (events to relay). */
extern void cf_wake_worker_at_commit(void);
/*
 * A writing statement: queue the patients (sorted, distinct) for the worker.
 * False when the worker does not serve this database: evaluate them now.
 */
extern bool cf_queue_for_worker(const int64 *ids, int n, uint32 written);

/*
 * The worker: evaluate and remove what committed transactions queued; held
 * gets the number of patients another session held, queued again.
 */
extern int64 cf_queue_evaluate(int *held);

/*
 * Evaluate the patients now, in a subtransaction: a failure is quarantined,
 * or raised when may_raise and careflags.strict or not isolate_evaluation
 * (triggers.c).
 */
extern void cf_evaluate_now(int64 *ids, int n, const char *table, uint32 written, bool may_raise);

#endif							/* CAREFLAGS_QUEUE_H */
