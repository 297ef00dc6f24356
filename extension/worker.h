/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  The careflags background worker: re-evaluates patients whose flags
 *	  change with time and notifies flags that become due or overdue.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CAREFLAGS_WORKER_H
#define CAREFLAGS_WORKER_H

extern void cf_worker_register(void);

/*
 * Set while the background worker runs careflags.tick(): on a Citus node it
 * ticks the shards placed on that node only (recompute.c).
 */
extern bool cf_tick_local_only;

#endif							/* CAREFLAGS_WORKER_H */
