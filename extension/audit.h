/*-------------------------------------------------------------------------
 *
 * audit.h
 *	  Appending to the tamper-evident audit of flag actions from C.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CAREFLAGS_AUDIT_H
#define CAREFLAGS_AUDIT_H

#include "postgres.h"

#include "datatype/timestamp.h"

/*
 * Record a change careflags made to a resolved flag (action "reopen" or
 * "correct_resolution"); SPI connected, as the extension owner.
 */
extern void cf_audit_system_change(int64 patient_id, int64 flag_id, const char *action,
								   TimestampTz at, const char *detail_json);

#endif							/* CAREFLAGS_AUDIT_H */
