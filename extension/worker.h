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

#endif							/* CAREFLAGS_WORKER_H */
