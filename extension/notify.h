/*-------------------------------------------------------------------------
 *
 * notify.h
 *	  Announcing flag changes on the careflags NOTIFY channel.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CAREFLAGS_NOTIFY_H
#define CAREFLAGS_NOTIFY_H

#include "postgres.h"

/* NOTIFY careflags with ids only. */
extern void cf_notify(const char *event, int64 flag_id, int64 patient_id,
					  const char *rule_id, const char *unit_id);

#endif							/* CAREFLAGS_NOTIFY_H */
