/*-------------------------------------------------------------------------
 *
 * careflags.h
 *	  Shared declarations of the careflags core module: settings (GUCs),
 *	  the clock, and the entry points each C file offers the others.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CAREFLAGS_H
#define CAREFLAGS_H

#include "postgres.h"
#include "datatype/timestamp.h"

/* settings (careflags.c) */
extern bool cf_strict;
extern bool cf_isolate_evaluation;
extern bool cf_defer_evaluation;
extern bool cf_evaluate_in_worker;
extern char *cf_timezone_name;
extern int	cf_worker_interval;
extern int	cf_worker_queue_delay;
extern int	cf_relay_interval;
extern char *cf_worker_database;
extern int	cf_max_identifier_length;
extern int	cf_max_text_length;
extern int	cf_min_cell_size;
extern char *cf_language;		/* reason_sql.c */

/* careflags.language's check hook (reason_sql.c). */
#include "utils/guc.h"
extern bool cf_check_language(char **newval, void **extra, GucSource source);

/* The time careflags reasons with: now(), or careflags.frozen_now. */
extern TimestampTz cf_now(void);
extern void cf_guard_define_gucs(void);
extern char *cf_bounded_text(text *t, const char *what);

/* Row mode's one evaluation per statement: the ExecutorFinish hook (triggers.c). */
extern void cf_triggers_init(void);

/* Name of the schema the extension lives in (always "careflags"). */
#define CF_SCHEMA "careflags"

#endif							/* CAREFLAGS_H */
