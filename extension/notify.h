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

/* Record a flag event in careflags.flag_event and NOTIFY careflags with its id. */
extern void cf_notify(const char *event, int64 flag_id, int64 patient_id,
					  const char *rule_id, const char *unit_id);

/*
 * The relay (the background worker): NOTIFY careflags for each event no
 * NOTIFY was sent for yet (the shards' on a Citus coordinator, distributed;
 * the writers' on one server), marking them; returns how many (notify.c).
 */
extern int64 cf_relay_events(bool distributed);

#endif							/* CAREFLAGS_NOTIFY_H */
