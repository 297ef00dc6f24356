/*-------------------------------------------------------------------------
 *
 * audit.h
 *	  Appending to the tamper-evident audit of flag actions from C (audit.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CAREFLAGS_AUDIT_H
#define CAREFLAGS_AUDIT_H

#include "postgres.h"

#include "datatype/timestamp.h"

/*
 * Append an entry to the audit (SPI connected, as the extension owner):
 * the patient's chain, or 1.2's single chain on 1.2 objects; returns the
 * audit id.  detail_json is the entry's detail as JSON text.
 */
extern int64 cf_audit_append(int64 patient_id, int64 flag_id, const char *action, const char *actor,
							 TimestampTz at, const char *detail_json);

/*
 * Record a change careflags made to a resolved flag (action "reopen" or
 * "correct_resolution"); SPI connected, as the extension owner.
 */
extern void cf_audit_system_change(int64 patient_id, int64 flag_id, const char *action,
								   TimestampTz at, const char *detail_json);

#endif							/* CAREFLAGS_AUDIT_H */
