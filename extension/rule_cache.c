/*-------------------------------------------------------------------------
 *
 * rule_cache.c
 *	  The rule set (careflags.rule, careflags.frid_atc) for the evaluator.
 *
 *	  Read once per backend into TopMemoryContext and kept until either
 *	  table changes: the statement trigger careflags.rules_changed() sends a
 *	  relcache invalidation for the table (seen here at the next command, by
 *	  other backends at commit, and undone on abort), and the relcache
 *	  callback drops the cache.  The cache also belongs to one installation
 *	  of the extension (the careflags schema's oid).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "careflags.h"
#include "evaluator.h"
#include "fact_reader.h"
#include "rule_cache.h"
#include "shard.h"
#include "spi_plans.h"

/* Read the enabled rules and the fall-risk drug list (SPI connected). */
static void
load_rules(CfRuleSet *rs, bool read_only)
{
	static const char *const anchors[CF_ANCHOR_COUNT] = {
		"episode_start", "last_event", "risk_result", "plan_evaluation",
		"weight_series", "medicine_count", "fall"
	};
	int			ret;

	ret = SPI_execute("SELECT rule_id, title, domain::pg_catalog.text, anchor::pg_catalog.text, "
					  "settings::pg_catalog.text[], min_age, due_interval, due_soon_window, follow_up, "
					  "COALESCE(threshold, 0), severity FROM careflags.rule WHERE enabled ORDER BY rule_id",
					  read_only, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read careflags.rule");
	rs->n = (int) SPI_processed;
	rs->rules = palloc0(sizeof(CfRule) * Max(rs->n, 1));
	for (int i = 0; i < rs->n; i++)
	{
		CfRule	   *r = &rs->rules[i];
		bool		isnull;
		char	   *dom = cf_col_text(i, 3);
		char	   *anc = cf_col_text(i, 4);
		ArrayType  *arr = DatumGetArrayTypeP(cf_col(i, 5, &isnull));
		Datum	   *elems;
		bool	   *enulls;
		int			nelems;

		r->rule_id = cf_col_text(i, 1);
		r->title = cf_col_text(i, 2);
		r->domain = strcmp(dom, "nutrition") == 0 ? CF_DOM_NUTRITION :
			strcmp(dom, "medication_review") == 0 ? CF_DOM_MEDICATION_REVIEW : CF_DOM_FALL_RISK;
		r->anchor = CF_ANCHOR_COUNT;
		for (int a = 0; a < CF_ANCHOR_COUNT; a++)
			if (strcmp(anc, anchors[a]) == 0)
				r->anchor = (CfAnchor) a;
		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &enulls, &nelems);
		for (int k = 0; k < nelems; k++)
		{
			int			s;

			if (enulls[k])
				continue;
			s = cf_setting_from_name(TextDatumGetCString(elems[k]));
			if (s >= 0)
				r->settings |= (1u << s);
		}
		r->min_age = DatumGetInt32(cf_col(i, 6, &isnull));
		r->due_interval = cf_to_interval(cf_col(i, 7, &isnull));
		r->due_soon_window = cf_to_interval(cf_col(i, 8, &isnull));
		r->follow_up = cf_to_interval(cf_col(i, 9, &isnull));
		r->threshold = DatumGetInt32(cf_col(i, 10, &isnull));
		r->severity = DatumGetInt32(cf_col(i, 11, &isnull));
	}

	ret = SPI_execute("SELECT atc_prefix, description FROM careflags.frid_atc "
					  "ORDER BY pg_catalog.length(atc_prefix) DESC, atc_prefix", read_only, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read careflags.frid_atc");
	{
		int			n = (int) SPI_processed;
		const char **p = palloc0(sizeof(char *) * Max(n, 1));
		const char **d = palloc0(sizeof(char *) * Max(n, 1));

		for (int i = 0; i < n; i++)
		{
			p[i] = cf_col_text(i, 1);
			d[i] = cf_col_text(i, 2);
		}
		rs->frids.prefixes = p;
		rs->frids.descriptions = d;
		rs->frids.n = n;
	}
}

/*
 * The rule set is read once per backend and kept in TopMemoryContext until
 * careflags.rule or careflags.frid_atc changes: the statement trigger
 * careflags.rules_changed() sends a relcache invalidation for the table
 * (seen here at the next command, by other backends at commit, and undone
 * on abort), and the callback below drops the cache.
 */
static MemoryContext rules_cxt = NULL;
static CfRuleSet *rules_cache = NULL;
static Oid	rules_cache_ext = InvalidOid;
static Oid	rules_relid = InvalidOid;
static Oid	frid_relid = InvalidOid;
static bool rules_callback_registered = false;

/* A change of either rule table drops the cache. */
static void
rules_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == rules_relid || relid == frid_relid)
		rules_cache = NULL;
}

/* A copy of s (or NULL) in the current memory context. */
static char *
copy_str(const char *s)
{
	return s ? pstrdup(s) : NULL;
}

/* See rule_cache.h. */
CfRuleSet *
cf_cached_rules(bool read_only)
{
	Oid			ext = get_namespace_oid(CF_SCHEMA, false);
	CfRuleSet		fresh;
	MemoryContext old;
	CfRuleSet    *rs;

	if (rules_cache != NULL && rules_cache_ext == ext)
		return rules_cache;

	if (!rules_callback_registered)
	{
		CacheRegisterRelcacheCallback(rules_relcache_callback, (Datum) 0);
		rules_callback_registered = true;
	}
	if (rules_cxt == NULL)
		rules_cxt = AllocSetContextCreate(TopMemoryContext, "careflags rules", ALLOCSET_SMALL_SIZES);
	MemoryContextReset(rules_cxt);
	rules_cache = NULL;

	{
		Oid			nsp = get_namespace_oid(CF_SCHEMA, false);

		rules_relid = get_relname_relid("rule", nsp);
		frid_relid = get_relname_relid("frid_atc", nsp);
	}
	load_rules(&fresh, read_only);

	old = MemoryContextSwitchTo(rules_cxt);
	rs = palloc0(sizeof(CfRuleSet));
	rs->n = fresh.n;
	rs->rules = palloc0(sizeof(CfRule) * Max(fresh.n, 1));
	for (int i = 0; i < fresh.n; i++)
	{
		rs->rules[i] = fresh.rules[i];
		rs->rules[i].rule_id = copy_str(fresh.rules[i].rule_id);
		rs->rules[i].title = copy_str(fresh.rules[i].title);
	}
	{
		const char **p = palloc0(sizeof(char *) * Max(fresh.frids.n, 1));
		const char **d = palloc0(sizeof(char *) * Max(fresh.frids.n, 1));

		for (int i = 0; i < fresh.frids.n; i++)
		{
			p[i] = copy_str(fresh.frids.prefixes[i]);
			d[i] = copy_str(fresh.frids.descriptions[i]);
		}
		rs->frids.prefixes = p;
		rs->frids.descriptions = d;
		rs->frids.n = fresh.frids.n;
	}
	MemoryContextSwitchTo(old);
	rules_cache = rs;
	rules_cache_ext = ext;
	return rs;
}

/* careflags.rules_changed(): statement trigger on the rule tables. */
PG_FUNCTION_INFO_V1(careflags_rules_changed);
Datum
careflags_rules_changed(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("careflags.rules_changed() must be called as a trigger")));
	CacheInvalidateRelcache(td->tg_relation);

	/*
	 * On a Citus node the trigger fires on the reference table's placement
	 * (rule_102008): the backends there cache the rules under the table's
	 * own oid, so invalidate that too.
	 */
	{
		int64		shardid;
		const char *logical = cf_logical_relname(td->tg_relation, &shardid);

		if (shardid != 0)
			CacheInvalidateRelcacheByRelid(get_relname_relid(logical, RelationGetNamespace(td->tg_relation)));
	}
	return PointerGetDatum(NULL);
}
