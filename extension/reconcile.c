/*-------------------------------------------------------------------------
 *
 * reconcile.c
 *	  Reconcile one patient's careflags.flag rows with a fresh evaluation:
 *	  insert new flags, update the reason of unchanged ones, resolve those
 *	  whose condition cleared (never delete); or, when checking, report the
 *	  differences only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "careflags.h"
#include "evaluator.h"
#include "notify.h"
#include "patient_lock.h"
#include "reconcile.h"
#include "spi_plans.h"

/* The statements that write careflags.flag and careflags.patient_state. */
typedef enum
{
	Q_INSERT_FLAG,
	Q_UPDATE_FLAG,
	Q_RESOLVE_FLAG,
	Q_STATE,
	Q_UPDATE_FLAG_IF_FREE,
	Q_RESOLVE_FLAG_IF_FREE,
	Q_COUNT
} QueryId;

#define UPDATE_FLAG_SQL "UPDATE careflags.flag SET reason = $3, unit_id = $4, " \
	"setting = $5::pg_catalog.text::careflags.care_setting, severity = $6, due_soon_window = $7, " \
	"due_from = $8, due_at = $9 " \
	"WHERE patient_id OPERATOR(pg_catalog.=) $1 AND flag_id OPERATOR(pg_catalog.=) $2"
#define UPDATE_FLAG_ARGS 9, {INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, INT4OID, INTERVALOID, TIMESTAMPTZOID, TIMESTAMPTZOID}
#define RESOLVE_FLAG_SQL "UPDATE careflags.flag SET resolved_at = $3, resolution = $4, action_at = $5 " \
	"WHERE patient_id OPERATOR(pg_catalog.=) $1 AND flag_id OPERATOR(pg_catalog.=) $2"
#define RESOLVE_FLAG_ARGS 5, {INT8OID, INT8OID, TIMESTAMPTZOID, TEXTOID, TIMESTAMPTZOID}

/*
 * While a nurse's action on the patient is open (cf_patient_actions_quiet
 * false), an open flag is updated only if no other session holds its row:
 * her acknowledge or snooze holds it to the end of her transaction, and a
 * write of the record must not wait for that (0 rows: the patient is left
 * for later).
 */
#define FLAG_ROW_FREE \
	" AND flag_id OPERATOR(pg_catalog.=) (SELECT l.flag_id FROM careflags.flag l " \
	"WHERE l.patient_id OPERATOR(pg_catalog.=) $1 AND l.flag_id OPERATOR(pg_catalog.=) $2 " \
	"FOR NO KEY UPDATE SKIP LOCKED)"

static CfQuery queries[Q_COUNT] = {
	/* (the facts are read by fact_reader.c, straight from the indexes) */
	/* new flags of a whole chunk in one statement: arrays, one element a flag */
	[Q_INSERT_FLAG] = {"INSERT INTO careflags.flag (patient_id, rule_id, domain, episode_id, unit_id, setting, "
		"severity, raised_at, due_from, due_at, due_soon_window, reason, notified_state) "
		"SELECT u.p, u.r, u.d::careflags.domain, u.e, u.un, u.s::careflags.care_setting, u.sev, $8, u.f, u.a, u.w, u.re, "
		"careflags.flag_state(u.f, u.a, u.w, $8) "
		"FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4), "
		"pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7), pg_catalog.unnest($9), "
		"pg_catalog.unnest($10), pg_catalog.unnest($11), pg_catalog.unnest($12)) AS u(p, r, d, e, un, s, sev, f, a, w, re) "
		"RETURNING flag_id, patient_id, rule_id, unit_id",
		12, {INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
		INT4ARRAYOID, TIMESTAMPTZOID, TIMESTAMPTZARRAYOID, TIMESTAMPTZARRAYOID, INTERVALARRAYOID, TEXTARRAYOID}},
	[Q_UPDATE_FLAG] = {UPDATE_FLAG_SQL, UPDATE_FLAG_ARGS},
	[Q_RESOLVE_FLAG] = {RESOLVE_FLAG_SQL, RESOLVE_FLAG_ARGS},
	[Q_UPDATE_FLAG_IF_FREE] = {UPDATE_FLAG_SQL FLAG_ROW_FREE, UPDATE_FLAG_ARGS},
	[Q_RESOLVE_FLAG_IF_FREE] = {RESOLVE_FLAG_SQL FLAG_ROW_FREE, RESOLVE_FLAG_ARGS},
	[Q_STATE] = {"INSERT INTO careflags.patient_state AS s (patient_id, evaluated_at, next_check_at) "
		"VALUES ($1, $2, $3) ON CONFLICT (patient_id) DO UPDATE "
		"SET evaluated_at = EXCLUDED.evaluated_at, next_check_at = EXCLUDED.next_check_at",
		3, {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID}},
};

/* The domain's name as careflags.domain spells it. */
static const char *
domain_name(CfDomain d)
{
	static const char *const names[CF_DOM_COUNT] = {"nutrition", "medication_review", "fall_risk"};

	return names[d];
}

static const Oid new_flag_elem_type[11] = {
	INT8OID, TEXTOID, TEXTOID, INT8OID, TEXTOID, TEXTOID, INT4OID,
	TIMESTAMPTZOID, TIMESTAMPTZOID, INTERVALOID, TEXTOID
};

/* Add one new flag (11 column values) to nf. */
static void
new_flag_add(CfNewFlags *nf, Datum *v, bool unit_null)
{
	if (nf->n == nf->cap)
	{
		int			cap = nf->cap ? nf->cap * 2 : 64;

		for (int k = 0; k < 11; k++)
			nf->col[k] = nf->cap ? repalloc(nf->col[k], sizeof(Datum) * cap) : palloc(sizeof(Datum) * cap);
		nf->unit_null = nf->cap ? repalloc(nf->unit_null, sizeof(bool) * cap) : palloc(sizeof(bool) * cap);
		nf->cap = cap;
	}
	for (int k = 0; k < 11; k++)
		nf->col[k][nf->n] = v[k];
	nf->unit_null[nf->n] = unit_null;
	nf->n++;
}

/* Insert the chunk's new flags in one statement and announce each. */
void
cf_new_flags_flush(CfNewFlags *nf, CfTime now)
{
	Datum		args[12];
	int			map[11] = {0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11};

	if (nf->n == 0)
		return;
	for (int k = 0; k < 11; k++)
	{
		int16		typlen;
		bool		typbyval;
		char		typalign;
		int			dims[1] = {nf->n};
		int			lbs[1] = {1};

		get_typlenbyvalalign(new_flag_elem_type[k], &typlen, &typbyval, &typalign);
		args[map[k]] = PointerGetDatum(construct_md_array(nf->col[k], k == 4 ? nf->unit_null : NULL,
														  1, dims, lbs, new_flag_elem_type[k],
														  typlen, typbyval, typalign));
	}
	args[7] = TimestampTzGetDatum((TimestampTz) now);
	cf_query_run(&queries[Q_INSERT_FLAG], args, NULL, false, SPI_OK_INSERT_RETURNING);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int64		flag_id = DatumGetInt64(cf_col((int) i, 1, &isnull));
		int64		pid = DatumGetInt64(cf_col((int) i, 2, &isnull));
		char	   *rule_id = cf_col_text((int) i, 3);
		char	   *unit_id = cf_col_text((int) i, 4);

		cf_notify("raised", flag_id, pid, rule_id, unit_id);
	}
	nf->n = 0;
}

/* Equal strings, NULL equal only to NULL. */
static bool
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
report(CfDifferenceFn fn, void *arg, int64 patient_id, const char *rule_id, const char *fmt,...)
	pg_attribute_printf(5, 6);

/* Report one difference (CF_RECONCILE_CHECK), printf-style. */
static void
report(CfDifferenceFn fn, void *arg, int64 patient_id, const char *rule_id, const char *fmt,...)
{
	char		buf[512];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fn(arg, patient_id, rule_id, buf);
}

/*
 * Does a later due time of the same rule and episode mean that the action
 * the open flag asked for was done?  Yes where the due time counts from the
 * last action (a screening, a review, an evaluation, an assessment after a
 * fall); no where it counts from the start or from a new finding (a later
 * admission time, a newer weight, a newer at-risk result, a newer fall):
 * then the open flag is the same gap and is kept.
 */
static bool
later_due_means_done(const CfRule *r)
{
	switch (r->anchor)
	{
		case CF_ANCHOR_LAST_EVENT:
		case CF_ANCHOR_PLAN_EVALUATION:
		case CF_ANCHOR_MEDICINE_COUNT:
			return true;
		case CF_ANCHOR_FALL:
			return r->domain == CF_DOM_FALL_RISK;
		default:
			return false;
	}
}

/* A timestamp as text, for difference reports. */
static char *
ts_text(CfTime t)
{
	return DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum((TimestampTz) t)));
}

/*
 * Run an UPDATE of one open flag (Q_UPDATE_FLAG, Q_RESOLVE_FLAG); while a
 * nurse's action on the patient is open (not quiet), only if its row is
 * free.  False when the row was held: the patient is left for later.
 */
static bool
update_open_flag(QueryId q, Datum *v, const char *nulls, int64 patient_id, bool quiet)
{
	if (!quiet)
		q = (q == Q_UPDATE_FLAG) ? Q_UPDATE_FLAG_IF_FREE : Q_RESOLVE_FLAG_IF_FREE;
	cf_query_run(&queries[q], v, nulls, false, SPI_OK_UPDATE);
	if (SPI_processed == 1)
		return true;
	cf_note_held(patient_id);
	return false;
}

/* See reconcile.h. */
int64
cf_reconcile_patient(CfChunk *c, int ci, const CfRuleSet *rs, const CfEvalOps *ops,
				  CfReconcileMode mode, CfDifferenceFn on_difference, void *arg,
				  CfNewFlags *new_flags, CfFlagResult *res)
{
	int64		patient_id = c->ids[ci];
	CfPatientFacts *fp = &c->facts[ci];
	CfTime		next_check;
	CfTime		now = (CfTime) cf_now();
	CfOpenFlag *open = c->open[ci];
	int			n_open = c->n_open[ci];
	int64		changes = 0;
	CfPatientFacts facts;
	int			held_before = cf_held_count();
	bool		quiet = false;

	if (!c->exists[ci])
		return 0;				/* patient deleted, or held by another session */
	if (mode == CF_RECONCILE_WRITE)
		quiet = cf_patient_actions_quiet(patient_id);
	facts = *fp;

	cf_evaluate(&facts, rs->rules, rs->n, &rs->frids, now, ops, res, &next_check);


	for (int r = 0; r < rs->n; r++)
	{
		CfFlagResult *fr = &res[r];
		const CfRule *rule = fr->rule;
		CfOpenFlag *of = NULL;

		for (int i = 0; i < n_open; i++)
			if (!open[i].matched && strcmp(open[i].rule_id, rule->rule_id) == 0)
			{
				of = &open[i];
				of->matched = true;
				break;
			}

		if (fr->outcome != CF_OUT_FLAG)
		{
			if (of == NULL)
				continue;
			changes++;
			if (mode == CF_RECONCILE_CHECK)
			{
				report(on_difference, arg, patient_id, rule->rule_id,
					   "open flag %lld should be resolved (%s)", (long long) of->flag_id,
					   cf_outcome_resolution(fr->outcome));
				continue;
			}
			{
				Datum		v[5] = {Int64GetDatum(patient_id), Int64GetDatum(of->flag_id),
					TimestampTzGetDatum((TimestampTz) now),
					CStringGetTextDatum(cf_outcome_resolution(fr->outcome)),
				TimestampTzGetDatum((TimestampTz) fr->event_at)};
				char		nulls[5] = "     ";

				if (fr->outcome != CF_OUT_DONE || fr->event_at == CF_TIME_NONE)
					nulls[4] = 'n';
				if (update_open_flag(Q_RESOLVE_FLAG, v, nulls, patient_id, quiet))
					cf_notify("resolved", of->flag_id, patient_id, rule->rule_id, of->unit_id);
			}
			continue;
		}

		/*
		 * A flag applies.  The open flag of the same rule and episode is kept
		 * and brought up to date (its acknowledgement and snooze stay) unless
		 * its due time moved later: then the action it asked for was done,
		 * and the next gap gets a new flag.
		 */
		if (of != NULL && of->episode_id == fr->episode->episode_id &&
			(fr->due_from <= of->due_from || !later_due_means_done(rule)))
		{
			const char *set = cf_setting_name(fr->episode->setting);

			if (of->due_from == fr->due_from && of->due_at == fr->due_at &&
				str_eq(of->reason, fr->reason) && str_eq(of->unit_id, fr->episode->unit_id) &&
				of->severity == rule->severity && str_eq(of->setting, set))
				continue;
			changes++;
			if (mode == CF_RECONCILE_CHECK)
			{
				if (of->due_from != fr->due_from || of->due_at != fr->due_at)
					report(on_difference, arg, patient_id, rule->rule_id,
						   "open flag %lld is due from %s to %s, expected %s to %s",
						   (long long) of->flag_id, ts_text(of->due_from), ts_text(of->due_at),
						   ts_text(fr->due_from), ts_text(fr->due_at));
				else
					report(on_difference, arg, patient_id, rule->rule_id,
						   "open flag %lld has reason \"%s\", expected \"%s\"",
						   (long long) of->flag_id, of->reason, fr->reason);
				continue;
			}
			{
				Datum		v[9];
				char		nulls[9] = "         ";

				v[0] = Int64GetDatum(patient_id);
				v[1] = Int64GetDatum(of->flag_id);
				v[2] = CStringGetTextDatum(fr->reason);
				if (fr->episode->unit_id)
					v[3] = CStringGetTextDatum(fr->episode->unit_id);
				else
					nulls[3] = 'n';
				v[4] = CStringGetTextDatum(set);
				v[5] = Int32GetDatum(rule->severity);
				v[6] = cf_from_interval(&rule->due_soon_window);
				v[7] = TimestampTzGetDatum((TimestampTz) fr->due_from);
				v[8] = TimestampTzGetDatum((TimestampTz) fr->due_at);
				(void) update_open_flag(Q_UPDATE_FLAG, v, nulls, patient_id, quiet);
			}
			continue;
		}

		changes++;
		if (mode == CF_RECONCILE_CHECK)
		{
			if (of != NULL)
				report(on_difference, arg, patient_id, rule->rule_id,
					   "open flag %lld is due from %s to %s, expected %s to %s",
					   (long long) of->flag_id, ts_text(of->due_from), ts_text(of->due_at),
					   ts_text(fr->due_from), ts_text(fr->due_at));
			else
				report(on_difference, arg, patient_id, rule->rule_id,
					   "missing flag due from %s: %s", ts_text(fr->due_from), fr->reason);
			continue;
		}
		if (of != NULL)
		{
			const char *why;
			Datum		v[5];
			char		nulls[5] = "    n";

			if (of->episode_id != fr->episode->episode_id)
				why = "episode_ended";
			else
			{
				/* a newer event moved the due time on: that event was the action */
				why = "done";
				if (fr->event_at != CF_TIME_NONE)
				{
					v[4] = TimestampTzGetDatum((TimestampTz) fr->event_at);
					nulls[4] = ' ';
				}
			}
			v[0] = Int64GetDatum(patient_id);
			v[1] = Int64GetDatum(of->flag_id);
			v[2] = TimestampTzGetDatum((TimestampTz) now);
			v[3] = CStringGetTextDatum(why);
			if (!update_open_flag(Q_RESOLVE_FLAG, v, nulls, patient_id, quiet))
				continue;		/* held: no successor while it is open */
			cf_notify("resolved", of->flag_id, patient_id, rule->rule_id, of->unit_id);
		}
		{
			Datum		v[11];

			v[0] = Int64GetDatum(patient_id);
			v[1] = CStringGetTextDatum(rule->rule_id);
			v[2] = CStringGetTextDatum(domain_name(rule->domain));
			v[3] = Int64GetDatum(fr->episode->episode_id);
			v[4] = fr->episode->unit_id ? CStringGetTextDatum(fr->episode->unit_id) : (Datum) 0;
			v[5] = CStringGetTextDatum(cf_setting_name(fr->episode->setting));
			v[6] = Int32GetDatum(rule->severity);
			v[7] = TimestampTzGetDatum((TimestampTz) fr->due_from);
			v[8] = TimestampTzGetDatum((TimestampTz) fr->due_at);
			v[9] = cf_from_interval(&rule->due_soon_window);
			v[10] = CStringGetTextDatum(fr->reason);
			new_flag_add(new_flags, v, fr->episode->unit_id == NULL);
		}
	}

	/* open flags of rules that are disabled or gone */
	for (int i = 0; i < n_open; i++)
	{
		if (open[i].matched)
			continue;
		changes++;
		if (mode == CF_RECONCILE_CHECK)
		{
			report(on_difference, arg, patient_id, open[i].rule_id,
				   "open flag %lld belongs to a disabled rule", (long long) open[i].flag_id);
			continue;
		}
		{
			Datum		v[5] = {Int64GetDatum(patient_id), Int64GetDatum(open[i].flag_id),
				TimestampTzGetDatum((TimestampTz) now), CStringGetTextDatum("rule_disabled"), (Datum) 0};

			if (update_open_flag(Q_RESOLVE_FLAG, v, "    n", patient_id, quiet))
				cf_notify("resolved", open[i].flag_id, patient_id, open[i].rule_id, open[i].unit_id);
		}
	}

	/*
	 * patient_state: only when something changed, or it is missing; not when
	 * a flag was held (left for later), so that its next check stays due
	 */
	if (mode == CF_RECONCILE_WRITE && cf_held_count() == held_before &&
		(changes > 0 || !c->has_state[ci] || c->old_next[ci] != next_check))
	{
		Datum		v[3];
		char		nulls[3] = "   ";

		v[0] = Int64GetDatum(patient_id);
		v[1] = TimestampTzGetDatum((TimestampTz) now);
		if (next_check == CF_TIME_NEVER)
			nulls[2] = 'n';
		else
			v[2] = TimestampTzGetDatum((TimestampTz) next_check);
		cf_query_run(&queries[Q_STATE], v, nulls, false, SPI_OK_INSERT);
	}
	if (quiet)
		cf_patient_actions_release(patient_id);
	return changes;
}
