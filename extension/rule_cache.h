/*-------------------------------------------------------------------------
 *
 * rule_cache.h
 *	  The enabled rules and the fall-risk drug list, read once per backend
 *	  and kept until careflags.rule or careflags.frid_atc changes.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CAREFLAGS_RULE_CACHE_H
#define CAREFLAGS_RULE_CACHE_H

#include "postgres.h"

#include "evaluator.h"

/* The rules the evaluator applies, in rule_id order. */
typedef struct CfRuleSet
{
	CfRule	   *rules;
	int			n;
	CfFridList	frids;
} CfRuleSet;

/*
 * The current rule set (SPI connected).  read_only: read the rule tables
 * under the statement's snapshot, as a read-only batch does.
 */
extern CfRuleSet *cf_cached_rules(bool read_only);

#endif							/* CAREFLAGS_RULE_CACHE_H */
