/*-------------------------------------------------------------------------
 *
 * owner.h
 *	  Running careflags' own work as the extension owner, with search_path
 *	  pinned (the C equivalent of SECURITY DEFINER SET search_path).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CAREFLAGS_OWNER_H
#define CAREFLAGS_OWNER_H

#include "postgres.h"

/* What cf_enter_owner_context() saved, for cf_leave_owner_context(). */
typedef struct CfOwnerContext
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
} CfOwnerContext;

/* Switch to the extension owner, search_path pg_catalog, pg_temp. */
extern void cf_enter_owner_context(CfOwnerContext *ctx);

/* Undo cf_enter_owner_context(). */
extern void cf_leave_owner_context(CfOwnerContext *ctx);

/* The owner of extension careflags (cached per installation). */
extern Oid	cf_extension_owner(void);

#endif							/* CAREFLAGS_OWNER_H */
