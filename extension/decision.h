/*-------------------------------------------------------------------------
 *
 * decision.h
 *	  The reconciliation decision, in plain C: given a stored flag, the
 *	  fresh evaluation of its rule and the patient's facts, what is true of
 *	  the flag now (clinical-rules.md §7.16, §7.17).
 *
 *	  No PostgreSQL calls: reconcile.c applies the decision to careflags.flag,
 *	  fuzz/harness.c checks it on arbitrary inputs and unit cases.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CAREFLAGS_DECISION_H
#define CAREFLAGS_DECISION_H

#include "evaluator.h"

/* The kind of fact that is the action a rule asks for. */
typedef enum
{
	CF_ACT_NONE = 0,			/* the rule has no action fact (weight loss) */
	CF_ACT_ASSESSMENT,			/* careflags.assessment */
	CF_ACT_REVIEW,				/* careflags.medication_review */
	CF_ACT_PLAN					/* careflags.care_plan (made or evaluated) */
} CfActionKind;

/* One action fact: which table, its id there, and when it was done. */
typedef struct CfAction
{
	CfActionKind kind;
	int64_t		id;
	CfTime		at;
} CfAction;

/* A stored flag, as far as the decision needs it. */
typedef struct CfStoredFlag
{
	int64_t		episode_id;		/* -1 when unknown */
	CfTime		due_from;
	CfTime		trigger_at;		/* the fact its due time counts from; NONE: unknown */
	CfAction	action;			/* resolved done: the action fact named */
} CfStoredFlag;

typedef enum
{
	CF_DECIDE_NOTHING = 0,		/* no flag, none needed */
	CF_DECIDE_RAISE,			/* no open flag: raise one */
	CF_DECIDE_SAME_GAP,			/* keep the open flag, due times and reason brought up to date */
	CF_DECIDE_RESOLVE,			/* resolve the open flag */
	CF_DECIDE_REPLACE,			/* resolve the open flag and raise a new one (a new gap) */
	CF_DECIDE_KEEP,				/* resolved flag: its resolution is still true */
	CF_DECIDE_REOPEN,			/* resolved done flag: the action is gone, the gap is open again */
	CF_DECIDE_RELABEL			/* resolved done flag: another resolution (or action) is the true one */
} CfDecisionKind;

typedef struct CfDecision
{
	CfDecisionKind kind;
	const char *resolution;		/* RESOLVE, REPLACE, RELABEL: done, cleared, corrected, ... */
	CfAction	action;			/* resolution done: the action fact */
} CfDecision;

/*
 * An open flag of the rule (NULL when none) against the rule's fresh
 * result.  done only when a qualifying action fact lies in the flag's
 * window (after its trigger, up to now); corrected when the fact that
 * raised it is gone; a new gap only after such an action (§7.16).
 */
extern CfDecision cf_decide_open(const CfRule *rule, const CfStoredFlag *open,
								 const CfFlagResult *res, const CfPatientFacts *facts,
								 CfTime now);

/*
 * A flag resolved done (naming its action) against the facts: keep it,
 * name another qualifying action, reopen it (the action was deleted or
 * corrected and the gap is open), or say why else it is closed.
 */
extern CfDecision cf_decide_done(const CfRule *rule, const CfStoredFlag *done,
								 const CfFlagResult *res, const CfPatientFacts *facts,
								 CfTime now);

/* The earliest qualifying action of the rule in [from, now] ((from, now] if strict). */
extern bool cf_first_action(const CfRule *rule, const CfPatientFacts *facts,
							CfTime from, bool strict, CfTime now, CfAction *out);

/* Table names of action kinds ("assessment", ...); NULL for CF_ACT_NONE. */
extern const char *cf_action_table(CfActionKind kind);
extern CfActionKind cf_action_kind_from_table(const char *table);

#endif							/* CAREFLAGS_DECISION_H */
