/*-------------------------------------------------------------------------
 *
 * calendar.h
 *	  Calendar arithmetic in careflags.timezone (default Europe/Oslo), never
 *	  in the writing session's TimeZone, so that the same facts give the same
 *	  due times whoever writes them (clinical-rules.md §7.15).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CAREFLAGS_CALENDAR_H
#define CAREFLAGS_CALENDAR_H

#include "datatype/timestamp.h"

#include "evaluator.h"

/* The evaluator's operations, backed by PostgreSQL's time zone code. */
extern void cf_calendar_ops(CfEvalOps *ops);

/* The care-time-zone date of t as yyyymmdd. */
extern int32 cf_calendar_local_date(CfTime t);

extern CfTime cf_calendar_add(CfTime t, const CfInterval *iv, int sign);

/* (t AT TIME ZONE tz - iv) AT TIME ZONE tz in careflags.timezone. */
extern TimestampTz cf_calendar_local_minus(TimestampTz t, Interval *iv);

#endif							/* CAREFLAGS_CALENDAR_H */
