/*-------------------------------------------------------------------------
 *
 * evaluate.c
 *	  cf_evaluate_patients(): re-evaluate a set of patients chunk by chunk
 *	  (lock and load: patient_lock.c; rules: rule_cache.c; reconcile:
 *	  reconcile.c), as the extension owner (owner.c).
 *
 *	  Incremental evaluation: a fact write evaluates only the rules of the
 *	  domains its table feeds (a rule of a domain reads the tables
 *	  domain_tables() gives), from only the tables those rules read; the
 *	  other domains' flags are left as they are and their next check times
 *	  are kept (patient_state.next_check_by_domain).  A write of a table
 *	  that every rule reads (patient, episode, exemption), a patient
 *	  without per-domain times (evaluated before 1.3) or a database at 1.2
 *	  objects is evaluated whole, as recompute_all() and the worker always
 *	  do; check_consistency() evaluates whole, so it compares the two.
 *
 *	  Memory: one context per chunk of up to 500 patients, reset after each.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "calendar.h"
#include "careflags.h"
#include "evaluate.h"
#include "evaluator.h"
#include "owner.h"
#include "patient_lock.h"
#include "reconcile.h"
#include "rule_cache.h"

bool		cf_reconciling = false;

/* Patients read and reconciled together (one query per table per chunk). */
#define CF_CHUNK 500

/* qsort comparator of int64 values. */
static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/* See evaluate.h. */
int
cf_unique_ids(int64 *ids, int n)
{
	int			k = 0;

	if (n <= 1)
		return n;
	qsort(ids, n, sizeof(int64), cmp_int64);
	for (int i = 0; i < n; i++)
		if (k == 0 || ids[k - 1] != ids[i])
			ids[k++] = ids[i];
	return k;
}

/*
 * The tables a rule of domain d with anchor a reads (its events, the facts
 * its anchor looks at, the action facts that resolve it done), beyond those
 * every evaluation reads (CF_FT_ALWAYS).
 */
static uint32
anchor_tables(CfDomain d, CfAnchor a)
{
	uint32		t = d == CF_DOM_MEDICATION_REVIEW ? CF_FT_BIT(CF_FT_MEDICATION_REVIEW) :
		CF_FT_BIT(CF_FT_ASSESSMENT) | CF_FT_BIT(CF_FT_CARE_PLAN);

	switch (a)
	{
		case CF_ANCHOR_EPISODE_START:
		case CF_ANCHOR_LAST_EVENT:
			/* the repeat fall-risk assessment waits for the after-fall one (§7.4) */
			if (d == CF_DOM_FALL_RISK)
				t |= CF_FT_BIT(CF_FT_FALL);
			break;
		case CF_ANCHOR_RISK_RESULT:
		case CF_ANCHOR_PLAN_EVALUATION:
			t |= CF_FT_BIT(CF_FT_ASSESSMENT) | CF_FT_BIT(CF_FT_CARE_PLAN);
			break;
		case CF_ANCHOR_WEIGHT_SERIES:
			t |= CF_FT_BIT(CF_FT_MEASUREMENT);
			break;
		case CF_ANCHOR_MEDICINE_COUNT:
			t |= CF_FT_BIT(CF_FT_MEDICATION) | CF_FT_BIT(CF_FT_MEDICATION_REVIEW);
			break;
		case CF_ANCHOR_FALL:
			t |= CF_FT_BIT(CF_FT_FALL) | CF_FT_BIT(CF_FT_ASSESSMENT);
			if (d == CF_DOM_MEDICATION_REVIEW)
				t |= CF_FT_BIT(CF_FT_MEDICATION) | CF_FT_BIT(CF_FT_MEDICATION_REVIEW);
			break;
		case CF_ANCHOR_COUNT:
			break;
	}
	return t;
}

/* The tables the rules of domain d read. */
static uint32
domain_tables(const CfRuleSet *rs, CfDomain d)
{
	uint32		t = anchor_tables(d, CF_ANCHOR_EPISODE_START);

	for (int r = 0; r < rs->n; r++)
		if (rs->rules[r].domain == d)
			t |= anchor_tables(d, rs->rules[r].anchor);
	return t;
}

/*
 * The domains (bits) whose rules a write of the tables `written` (bits of
 * CfFactTable; 0: not known) feeds, and in *tables what those rules read;
 * every domain and table when a table is one every rule reads.  Of those,
 * only the domains the rows concern when `written` knows them
 * (CF_WRITTEN_DOMAINS: an MST screening feeds no fall-risk rule).  Without the
 * flags resolved done when the statements only inserted (see evaluate.h).
 */
static uint32
domains_fed(const CfRuleSet *rs, uint32 written, uint32 *tables)
{
	uint32		domains = 0;
	uint32		no_done = (written & CF_WRITTEN_INSERTS) ? CF_FT_BIT(CF_FT_DONE_FLAG) : 0;
	uint32		only = (1u << CF_DOM_COUNT) - 1;

	if (written & CF_WRITTEN_DOMAINS_KNOWN)
		only = (written >> CF_WRITTEN_DOMAINS_SHIFT) & ((1u << CF_DOM_COUNT) - 1);
	written = CF_WRITTEN_TABLES_ONLY(written) & ~CF_WRITTEN_INSERTS;
	*tables = CF_FT_ALL & ~no_done;
	if (written == 0 || (CF_FT_ALWAYS & written))
		return (1u << CF_DOM_COUNT) - 1;
	*tables = CF_FT_ALWAYS & ~no_done;
	for (int d = 0; d < CF_DOM_COUNT; d++)
	{
		uint32		t = domain_tables(rs, (CfDomain) d);

		if ((t & written) && (only & (1u << d)))
		{
			domains |= 1u << d;
			*tables |= t;
		}
	}
	if (domains == (1u << CF_DOM_COUNT) - 1)
		*tables = CF_FT_ALL & ~no_done;
	return domains;
}

/*
 * Drop from the chunk's open and done flags those of rules in the rule set
 * `all` whose domain is not being evaluated (flags of rules gone or
 * disabled stay: any evaluation resolves those).
 */
static void
keep_domain_flags(CfChunk *c, const CfRuleSet *all, uint32 domains)
{
	for (int i = 0; i < c->n; i++)
	{
		for (int pass = 0; pass < 2; pass++)
		{
			CfOpenFlag *f = pass == 0 ? c->open[i] : c->done[i];
			int		   *n = pass == 0 ? &c->n_open[i] : &c->n_done[i];
			int			k = 0;

			for (int j = 0; j < *n; j++)
			{
				bool		keep = true;

				for (int r = 0; r < all->n; r++)
					if (strcmp(all->rules[r].rule_id, f[j].rule_id) == 0)
					{
						keep = (domains & (1u << all->rules[r].domain)) != 0;
						break;
					}
				if (keep)
					f[k++] = f[j];
			}
			*n = k;
		}
	}
}

/*
 * See evaluate.h.  Works in chunks of CF_CHUNK patients, as the extension
 * owner; memory: one context per chunk, reset after each.
 */
int64
cf_evaluate_patients(const int64 *patient_ids, int n, CfReconcileMode mode,
					 CfDifferenceFn on_difference, void *arg)
{
	return cf_evaluate_written(patient_ids, n, mode, on_difference, arg, 0, NULL);
}

/*
 * See evaluate.h: as cf_evaluate_patients, for a write of the tables
 * `written` (CF_FT_BITs; 0: every rule), reading relids (per CfFactTable,
 * or NULL) where given.
 */
int64
cf_evaluate_written(const int64 *patient_ids, int n, CfReconcileMode mode,
					CfDifferenceFn on_difference, void *arg, uint32 written, const Oid *relids)
{
	CfOwnerContext oc;
	MemoryContext patient_cxt;
	MemoryContext old;
	CfRuleSet	rs;
	CfRuleSet	all;
	uint32		domains;
	uint32		tables;
	CfEvalOps	ops;
	CfFlagResult *res;
	volatile int64 changes = 0;

	cf_held_reset();
	if (n <= 0)
		return 0;

	cf_enter_owner_context(&oc);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	rs = *cf_cached_rules(mode == CF_RECONCILE_CHECK);
	all = rs;
	domains = domains_fed(&all, mode == CF_RECONCILE_WRITE ? written : 0, &tables);
	if (domains == 0)
	{
		/* the table feeds no rule: no flag can change */
		SPI_finish();
		cf_leave_owner_context(&oc);
		return 0;
	}
	if (tables != CF_FT_ALL)
	{
		/* the rules of those domains, in their order */
		rs.rules = palloc(sizeof(CfRule) * Max(all.n, 1));
		rs.n = 0;
		for (int r = 0; r < all.n; r++)
			if (domains & (1u << all.rules[r].domain))
				rs.rules[rs.n++] = all.rules[r];
	}
	cf_calendar_ops(&ops);

	/* one result buffer for all patients (the evaluator clears it) */
	res = palloc(sizeof(CfFlagResult) * Max(all.n, 1));
	patient_cxt = AllocSetContextCreate(CurrentMemoryContext, "careflags chunk",
										ALLOCSET_DEFAULT_SIZES);
	cf_reconciling = true;
	PG_TRY();
	{
		for (int start = 0; start < n; start += CF_CHUNK)
		{
			CfChunk		c;
			CfNewFlags	nf;

			CHECK_FOR_INTERRUPTS();
			memset(&nf, 0, sizeof(nf));
			old = MemoryContextSwitchTo(patient_cxt);
			memset(&c, 0, sizeof(c));
			c.n = Min(CF_CHUNK, n - start);
			c.ids = patient_ids + start;
			c.tables = tables;
			c.relids = relids;
			cf_load_chunk(&c, mode == CF_RECONCILE_WRITE, &ops);
			/* (the reader widens to every table when a patient lacks per-domain times) */
			c.domains = c.tables == CF_FT_ALL ? (1u << CF_DOM_COUNT) - 1 : domains;
			if (c.tables != CF_FT_ALL)
				keep_domain_flags(&c, &all, domains);
			for (int i = 0; i < c.n; i++)
				changes += cf_reconcile_patient(&c, i, c.tables == CF_FT_ALL ? &all : &rs, &ops, mode,
												on_difference, arg, &nf, res);
			cf_new_flags_flush(&nf, (CfTime) cf_now());
			MemoryContextSwitchTo(old);
			SPI_freetuptable(SPI_tuptable);
			SPI_tuptable = NULL;
			MemoryContextReset(patient_cxt);
		}
	}
	PG_FINALLY();
	{
		cf_reconciling = false;
	}
	PG_END_TRY();
	MemoryContextDelete(patient_cxt);

	SPI_finish();
	cf_leave_owner_context(&oc);
	return changes;
}
