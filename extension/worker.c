/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The careflags background worker (registered only under
 *	  shared_preload_libraries).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "worker.h"

void
cf_worker_register(void)
{
}
