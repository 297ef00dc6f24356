/*-------------------------------------------------------------------------
 *
 * reconcile.c
 *	  Reconcile one patient's careflags.flag rows with a fresh evaluation:
 *	  apply what decision.c decides for each rule (raise, update in place,
 *	  resolve with its reason and action fact, reopen, correct a resolution;
 *	  never delete); or, when checking, report the differences only.
 *
 *	  On a database still at 1.2 objects (no trigger_at, action_table,
 *	  action_id columns) flags are written without them and resolved flags
 *	  are not re-checked, until ALTER EXTENSION careflags UPDATE.
 *
 *	  A record write must not wait for a nurse's open action.  While one of
 *	  her actions on the patient is open (the patient's action lock, see
 *	  patient_lock.c, could not be taken) a flag row is changed only if no
 *	  other session holds it: it is first locked with SKIP LOCKED, and when
 *	  a nurse holds it the change is skipped and the patient is left for
 *	  later (cf_note_held), its patient_state not written so that its next
 *	  check stays due.
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

#include "audit.h"
#include "careflags.h"
#include "decision.h"
#include "evaluator.h"
#include "notify.h"
#include "patient_lock.h"
#include "reason.h"
#include "reconcile.h"
#include "spi_plans.h"

/* The statements that write careflags.flag and careflags.patient_state. */
typedef enum
{
	Q_INSERT_FLAG,
	Q_UPDATE_FLAG,
	Q_RESOLVE_FLAG,
	Q_INSERT_FLAG_13,
	Q_UPDATE_FLAG_13,
	Q_RESOLVE_FLAG_13,
	Q_REOPEN_FLAG,
	Q_RELABEL_FLAG,
	Q_STATE,
	Q_STATE_13,
	Q_LOCK_FLAG_IF_FREE,
	Q_COUNT
} QueryId;

#define INSERT_COLUMNS \
	"INSERT INTO careflags.flag (patient_id, rule_id, domain, episode_id, unit_id, setting, " \
	"severity, raised_at, due_from, due_at, due_soon_window, reason, notified_state"
#define INSERT_VALUES \
	"SELECT u.p, u.r, u.d::careflags.domain, u.e, u.un, u.s::careflags.care_setting, u.sev, $8, u.f, u.a, u.w, u.re, " \
	"careflags.flag_state(u.f, u.a, u.w, $8)"
#define INSERT_FROM \
	"FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4), " \
	"pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7), pg_catalog.unnest($9), " \
	"pg_catalog.unnest($10), pg_catalog.unnest($11), pg_catalog.unnest($12)"
#define INSERT_TYPES \
	INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, \
	INT4ARRAYOID, TIMESTAMPTZOID, TIMESTAMPTZARRAYOID, TIMESTAMPTZARRAYOID, INTERVALARRAYOID, TEXTARRAYOID
#define UPDATE_SET \
	"UPDATE careflags.flag SET reason = $3, details = $10::pg_catalog.text::pg_catalog.jsonb, unit_id = $4, " \
	"setting = $5::pg_catalog.text::careflags.care_setting, severity = $6, due_soon_window = $7, " \
	"due_from = $8, due_at = $9"
#define WHERE_FLAG \
	" WHERE patient_id OPERATOR(pg_catalog.=) $1 AND flag_id OPERATOR(pg_catalog.=) $2"

static CfQuery queries[Q_COUNT] = {
	/* (the facts are read by fact_reader.c, straight from the indexes) */
	/* new flags of a whole chunk in one statement: arrays, one element a flag */
	[Q_INSERT_FLAG] = {INSERT_COLUMNS ", details) " INSERT_VALUES ", u.j::pg_catalog.jsonb " INSERT_FROM
		", pg_catalog.unnest($13)) AS u(p, r, d, e, un, s, sev, f, a, w, re, j) "
		"RETURNING flag_id, patient_id, rule_id, unit_id",
	13, {INSERT_TYPES, TEXTARRAYOID}},
	[Q_UPDATE_FLAG] = {UPDATE_SET WHERE_FLAG,
		10, {INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, INT4OID, INTERVALOID, TIMESTAMPTZOID, TIMESTAMPTZOID,
	TEXTOID}},
	[Q_RESOLVE_FLAG] = {"UPDATE careflags.flag SET resolved_at = $3, resolution = $4, action_at = $5" WHERE_FLAG,
	5, {INT8OID, INT8OID, TIMESTAMPTZOID, TEXTOID, TIMESTAMPTZOID}},
	/* 1.3: the trigger time and the action fact are kept */
	[Q_INSERT_FLAG_13] = {INSERT_COLUMNS ", details, trigger_at) " INSERT_VALUES ", u.j::pg_catalog.jsonb, u.t "
		INSERT_FROM ", pg_catalog.unnest($13), pg_catalog.unnest($14)) AS u(p, r, d, e, un, s, sev, f, a, w, re, j, t) "
		"RETURNING flag_id, patient_id, rule_id, unit_id",
	14, {INSERT_TYPES, TEXTARRAYOID, TIMESTAMPTZARRAYOID}},
	[Q_UPDATE_FLAG_13] = {UPDATE_SET ", trigger_at = $11" WHERE_FLAG,
		11, {INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, INT4OID, INTERVALOID, TIMESTAMPTZOID, TIMESTAMPTZOID,
	TEXTOID, TIMESTAMPTZOID}},
	[Q_RESOLVE_FLAG_13] = {"UPDATE careflags.flag SET resolved_at = $3, resolution = $4, action_at = $5, "
		"action_table = $6, action_id = $7" WHERE_FLAG,
	7, {INT8OID, INT8OID, TIMESTAMPTZOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, INT8OID}},
	[Q_REOPEN_FLAG] = {"UPDATE careflags.flag SET resolved_at = NULL, resolution = NULL, action_at = NULL, "
		"action_table = NULL, action_id = NULL" WHERE_FLAG,
	2, {INT8OID, INT8OID}},
	[Q_RELABEL_FLAG] = {"UPDATE careflags.flag SET resolution = $3, action_at = $4, "
		"action_table = $5, action_id = $6" WHERE_FLAG,
	6, {INT8OID, INT8OID, TEXTOID, TIMESTAMPTZOID, TEXTOID, INT8OID}},
	[Q_STATE] = {"INSERT INTO careflags.patient_state AS s (patient_id, evaluated_at, next_check_at) "
		"VALUES ($1, $2, $3) ON CONFLICT (patient_id) DO UPDATE "
		"SET evaluated_at = EXCLUDED.evaluated_at, next_check_at = EXCLUDED.next_check_at",
	3, {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID}},
	/* 1.3: and the next check per domain */
	[Q_STATE_13] = {"INSERT INTO careflags.patient_state AS s (patient_id, evaluated_at, next_check_at, "
		"next_check_by_domain) VALUES ($1, $2, $3, $4) ON CONFLICT (patient_id) DO UPDATE "
		"SET evaluated_at = EXCLUDED.evaluated_at, next_check_at = EXCLUDED.next_check_at, "
		"next_check_by_domain = EXCLUDED.next_check_by_domain",
	4, {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZARRAYOID}},
	/* while a nurse's action on the patient is open: her flag rows are skipped */
	[Q_LOCK_FLAG_IF_FREE] = {"SELECT flag_id FROM careflags.flag" WHERE_FLAG " FOR NO KEY UPDATE SKIP LOCKED",
	2, {INT8OID, INT8OID}},
};

/* The domain's name as careflags.domain spells it. */
static const char *
domain_name(CfDomain d)
{
	static const char *const names[CF_DOM_COUNT] = {"nutrition", "medication_review", "fall_risk"};

	return names[d];
}

#define NEW_FLAG_COLUMNS 13

static const Oid new_flag_elem_type[NEW_FLAG_COLUMNS] = {
	INT8OID, TEXTOID, TEXTOID, INT8OID, TEXTOID, TEXTOID, INT4OID,
	TIMESTAMPTZOID, TIMESTAMPTZOID, INTERVALOID, TEXTOID, TEXTOID, TIMESTAMPTZOID
};

/* Add one new flag (13 column values: the last, trigger_at, 1.3 only) to nf. */
static void
new_flag_add(CfNewFlags *nf, Datum *v, bool unit_null, bool trigger_null)
{
	if (nf->n == nf->cap)
	{
		int			cap = nf->cap ? nf->cap * 2 : 64;

		for (int k = 0; k < NEW_FLAG_COLUMNS; k++)
			nf->col[k] = nf->cap ? repalloc(nf->col[k], sizeof(Datum) * cap) : palloc(sizeof(Datum) * cap);
		nf->unit_null = nf->cap ? repalloc(nf->unit_null, sizeof(bool) * cap) : palloc(sizeof(bool) * cap);
		nf->trigger_null = nf->cap ? repalloc(nf->trigger_null, sizeof(bool) * cap) : palloc(sizeof(bool) * cap);
		nf->cap = cap;
	}
	for (int k = 0; k < NEW_FLAG_COLUMNS; k++)
		nf->col[k][nf->n] = v[k];
	nf->unit_null[nf->n] = unit_null;
	nf->trigger_null[nf->n] = trigger_null;
	nf->n++;
}

/* Insert the chunk's new flags in one statement and announce each. */
void
cf_new_flags_flush(CfNewFlags *nf, CfTime now)
{
	Datum		args[14];
	int			map[NEW_FLAG_COLUMNS] = {0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13};
	int			ncols = nf->v13 ? NEW_FLAG_COLUMNS : NEW_FLAG_COLUMNS - 1;

	if (nf->n == 0)
		return;
	for (int k = 0; k < ncols; k++)
	{
		int16		typlen;
		bool		typbyval;
		char		typalign;
		int			dims[1] = {nf->n};
		int			lbs[1] = {1};
		bool	   *nulls = k == 4 ? nf->unit_null : k == 12 ? nf->trigger_null : NULL;

		get_typlenbyvalalign(new_flag_elem_type[k], &typlen, &typbyval, &typalign);
		args[map[k]] = PointerGetDatum(construct_md_array(nf->col[k], nulls,
														  1, dims, lbs, new_flag_elem_type[k],
														  typlen, typbyval, typalign));
	}
	args[7] = TimestampTzGetDatum((TimestampTz) now);
	cf_query_run(&queries[nf->v13 ? Q_INSERT_FLAG_13 : Q_INSERT_FLAG], args, NULL, false,
				 SPI_OK_INSERT_RETURNING);
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

/* A timestamp as text, for difference reports. */
static char *
ts_text(CfTime t)
{
	if (t == CF_TIME_NONE)
		return "(none)";
	return DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum((TimestampTz) t)));
}

/* A stored flag as the decision sees it. */
static CfStoredFlag
stored(const CfOpenFlag *o)
{
	CfStoredFlag s;

	s.episode_id = o->episode_id;
	s.due_from = o->due_from;
	s.trigger_at = o->trigger_at;
	s.action.kind = cf_action_kind_from_table(o->action_table);
	s.action.id = o->action_id;
	s.action.at = o->action_at;
	return s;
}

/* Context of one patient's reconciliation. */
typedef struct Rec
{
	CfChunk    *c;
	int			ci;
	int64		patient_id;
	CfReconcileMode mode;
	CfDifferenceFn on_difference;
	void	   *arg;
	CfTime		now;
	bool		v13;
	bool		quiet;			/* no nurse's action on the patient is open */
} Rec;

/*
 * May the flag's row be changed without waiting?  Always when no nurse's
 * action on the patient is open (rc->quiet: the plain updates cannot wait
 * for her).  Otherwise the row is locked here unless another session holds
 * it - a nurse's acknowledge or snooze not yet committed - and then the
 * patient is left for later (false).
 */
static bool
flag_row_free(Rec *rc, int64 flag_id)
{
	Datum		v[2];

	if (rc->quiet || rc->mode != CF_RECONCILE_WRITE)
		return true;
	v[0] = Int64GetDatum(rc->patient_id);
	v[1] = Int64GetDatum(flag_id);
	cf_query_run(&queries[Q_LOCK_FLAG_IF_FREE], v, NULL, false, SPI_OK_SELECT);
	if (SPI_processed == 1)
		return true;
	cf_note_held(rc->patient_id);
	return false;
}

/*
 * Resolve an open flag (write mode).  False, and nothing changed, when a
 * nurse holds its row (see flag_row_free).
 */
static bool
resolve_flag(Rec *rc, const CfOpenFlag *of, const char *rule_id, const char *resolution,
			 const CfAction *action)
{
	Datum		v[7];
	char		nulls[7] = "       ";
	bool		done = strcmp(resolution, "done") == 0 && action->kind != CF_ACT_NONE;

	if (!flag_row_free(rc, of->flag_id))
		return false;
	v[0] = Int64GetDatum(rc->patient_id);
	v[1] = Int64GetDatum(of->flag_id);
	v[2] = TimestampTzGetDatum((TimestampTz) rc->now);
	v[3] = CStringGetTextDatum(resolution);
	if (done && action->at != CF_TIME_NONE)
		v[4] = TimestampTzGetDatum((TimestampTz) action->at);
	else
		nulls[4] = 'n';
	if (done)
	{
		v[5] = CStringGetTextDatum(cf_action_table(action->kind));
		v[6] = Int64GetDatum(action->id);
	}
	else
		nulls[5] = nulls[6] = 'n';
	cf_query_run(&queries[rc->v13 ? Q_RESOLVE_FLAG_13 : Q_RESOLVE_FLAG], v, nulls, false, SPI_OK_UPDATE);
	cf_notify("resolved", of->flag_id, rc->patient_id, rule_id, of->unit_id);
	return true;
}

/*
 * Bring an open flag up to date with the result, in place (write mode);
 * left for later when a nurse holds its row (see flag_row_free).
 */
static void
update_flag(Rec *rc, const CfOpenFlag *of, const CfFlagResult *fr)
{
	const CfRule *rule = fr->rule;
	Datum		v[11];
	char		nulls[11] = "           ";
	char		json[CF_REASON_JSON_LEN];

	if (!flag_row_free(rc, of->flag_id))
		return;
	v[0] = Int64GetDatum(rc->patient_id);
	v[1] = Int64GetDatum(of->flag_id);
	v[2] = CStringGetTextDatum(fr->reason);
	if (fr->episode->unit_id)
		v[3] = CStringGetTextDatum(fr->episode->unit_id);
	else
		nulls[3] = 'n';
	v[4] = CStringGetTextDatum(cf_setting_name(fr->episode->setting));
	v[5] = Int32GetDatum(rule->severity);
	v[6] = cf_from_interval(&rule->due_soon_window);
	v[7] = TimestampTzGetDatum((TimestampTz) fr->due_from);
	v[8] = TimestampTzGetDatum((TimestampTz) fr->due_at);
	if (cf_reason_to_json(&fr->data, json, sizeof(json)) && fr->data.kind != CF_RK_NONE)
		v[9] = CStringGetTextDatum(json);
	else
		nulls[9] = 'n';
	if (fr->event_at != CF_TIME_NONE)
		v[10] = TimestampTzGetDatum((TimestampTz) fr->event_at);
	else
		nulls[10] = 'n';
	cf_query_run(&queries[rc->v13 ? Q_UPDATE_FLAG_13 : Q_UPDATE_FLAG], v, nulls, false, SPI_OK_UPDATE);
}

/* Queue a new flag for the result (write mode). */
static void
raise_flag(CfNewFlags *nf, int64 patient_id, const CfFlagResult *fr)
{
	const CfRule *rule = fr->rule;
	Datum		v[NEW_FLAG_COLUMNS];
	char		json[CF_REASON_JSON_LEN];

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
	/* the reason data; an empty object when there is none (never too long) */
	if (!cf_reason_to_json(&fr->data, json, sizeof(json)) || fr->data.kind == CF_RK_NONE)
		snprintf(json, sizeof(json), "{}");
	v[11] = CStringGetTextDatum(json);
	v[12] = fr->event_at != CF_TIME_NONE ? TimestampTzGetDatum((TimestampTz) fr->event_at) : (Datum) 0;
	new_flag_add(nf, v, fr->episode->unit_id == NULL, fr->event_at == CF_TIME_NONE);
}

/* Record a change careflags made to a resolved flag in the audit. */
static void
audit_resolution_change(Rec *rc, const CfOpenFlag *df, const char *action,
						const char *resolution, const CfAction *act)
{
	StringInfoData b;

	initStringInfo(&b);
	appendStringInfo(&b, "{\"by\": \"careflags\", \"was\": \"done\", \"action_table\": \"%s\", "
					 "\"action_id\": " INT64_FORMAT,
					 df->action_table ? df->action_table : "", df->action_id);
	if (resolution != NULL)
		appendStringInfo(&b, ", \"resolution\": \"%s\"", resolution);
	if (act != NULL && act->kind != CF_ACT_NONE)
		appendStringInfo(&b, ", \"new_action_table\": \"%s\", \"new_action_id\": " INT64_FORMAT,
						 cf_action_table(act->kind), act->id);
	appendStringInfoChar(&b, '}');
	cf_audit_system_change(rc->patient_id, df->flag_id, action, (TimestampTz) rc->now, b.data);
}

/*
 * Resolved done flags whose action fact is gone or moved out of the window
 * (§7.17): name another qualifying action, reopen the flag (same row) when
 * the gap is open again, or say why else it is closed.  A reopened flag
 * takes the place of the rule's open flag, which was raised only because
 * the gap seemed closed: that one is resolved as corrected.  Returns the
 * number of changes.
 */
static int64
recheck_done_flags(Rec *rc, const CfRuleSet *rs, CfFlagResult *res)
{
	CfChunk    *c = rc->c;
	int			ci = rc->ci;
	int64		changes = 0;

	for (int k = 0; k < c->n_done[ci]; k++)
	{
		CfOpenFlag *df = &c->done[ci][k];
		CfFlagResult *fr = NULL;
		CfStoredFlag s = stored(df);
		CfDecision d;

		for (int r = 0; r < rs->n; r++)
			if (strcmp(rs->rules[r].rule_id, df->rule_id) == 0)
				fr = &res[r];
		if (fr == NULL)
			continue;			/* a rule disabled or gone: its history stays */
		d = cf_decide_done(fr->rule, &s, fr, &c->facts[ci], rc->now);
		if (d.kind == CF_DECIDE_KEEP)
			continue;

		/*
		 * A correction appends to the patient's audit chain, whose head a
		 * nurse's open action holds: while one is open, left for later.
		 */
		if (rc->mode == CF_RECONCILE_WRITE && !rc->quiet)
		{
			cf_note_held(rc->patient_id);
			continue;
		}
		if (d.kind == CF_DECIDE_REOPEN)
		{
			CfOpenFlag *of = NULL;

			/* only one flag of a rule is open: the earliest wrong one is reopened */
			for (int i = 0; i < c->n_open[ci]; i++)
				if (strcmp(c->open[ci][i].rule_id, df->rule_id) == 0)
					of = &c->open[ci][i];
			if (of != NULL && of->reopened)
			{
				d.kind = CF_DECIDE_RELABEL;
				d.resolution = "corrected";
			}
			else
			{
				changes++;
				if (rc->mode == CF_RECONCILE_CHECK)
				{
					report(rc->on_difference, rc->arg, rc->patient_id, df->rule_id,
						   "flag %lld is resolved done by %s %lld, which no longer qualifies: should be open",
						   (long long) df->flag_id, df->action_table, (long long) df->action_id);
					continue;
				}
				if (of != NULL)
				{
					CfAction	none = {CF_ACT_NONE, 0, CF_TIME_NONE};

					(void) resolve_flag(rc, of, of->rule_id, "corrected", &none);
					/* the reopened flag takes its place in the reconciliation */
					*of = *df;
				}
				else
				{
					CfOpenFlag *grown = palloc(sizeof(CfOpenFlag) * (c->n_open[ci] + 1));

					if (c->n_open[ci] > 0)
						memcpy(grown, c->open[ci], sizeof(CfOpenFlag) * c->n_open[ci]);
					grown[c->n_open[ci]] = *df;
					c->open[ci] = grown;
					of = &grown[c->n_open[ci]++];
				}
				of->reopened = true;
				of->matched = false;
				of->action_table = NULL;
				of->action_id = 0;
				of->action_at = CF_TIME_NONE;
				/* reason and the rest are brought up to date by the reconciliation */
				of->reason = NULL;
				{
					Datum		v[2] = {Int64GetDatum(rc->patient_id), Int64GetDatum(df->flag_id)};

					cf_query_run(&queries[Q_REOPEN_FLAG], v, NULL, false, SPI_OK_UPDATE);
				}
				audit_resolution_change(rc, df, "reopen", NULL, NULL);
				/* on the worklist again: announced as raised (same flag id) */
				cf_notify("raised", df->flag_id, rc->patient_id, df->rule_id, df->unit_id);
				continue;
			}
		}
		/* RELABEL */
		changes++;
		if (rc->mode == CF_RECONCILE_CHECK)
		{
			report(rc->on_difference, rc->arg, rc->patient_id, df->rule_id,
				   "flag %lld is resolved done by %s %lld, which no longer qualifies: should be %s",
				   (long long) df->flag_id, df->action_table, (long long) df->action_id, d.resolution);
			continue;
		}
		{
			Datum		v[6];
			char		nulls[6] = "      ";
			bool		done = strcmp(d.resolution, "done") == 0;

			v[0] = Int64GetDatum(rc->patient_id);
			v[1] = Int64GetDatum(df->flag_id);
			v[2] = CStringGetTextDatum(d.resolution);
			if (done)
			{
				v[3] = TimestampTzGetDatum((TimestampTz) d.action.at);
				v[4] = CStringGetTextDatum(cf_action_table(d.action.kind));
				v[5] = Int64GetDatum(d.action.id);
			}
			else
				nulls[3] = nulls[4] = nulls[5] = 'n';
			cf_query_run(&queries[Q_RELABEL_FLAG], v, nulls, false, SPI_OK_UPDATE);
			audit_resolution_change(rc, df, "correct_resolution", d.resolution, done ? &d.action : NULL);
		}
	}
	return changes;
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
	CfTime		next_dom[CF_DOM_COUNT];
	bool		dom_changed;
	CfTime		now = (CfTime) cf_now();
	int64		changes = 0;
	CfPatientFacts facts;
	Rec			rc;
	CfOpenFlag *open;
	int			n_open;
	int			held_before = cf_held_count();

	if (!c->exists[ci])
		return 0;				/* patient deleted, or held by another session */
	facts = *fp;

	cf_evaluate_by_domain(&facts, rs->rules, rs->n, &rs->frids, now, ops, res, &next_check, next_dom);

	/*
	 * The domains not evaluated (a write of a table they do not read) keep
	 * their next check; the patient's is the earliest of all.
	 */
	dom_changed = !c->has_next_dom[ci];
	next_check = CF_TIME_NEVER;
	for (int d = 0; d < CF_DOM_COUNT; d++)
	{
		if (!(c->domains & (1u << d)))
			next_dom[d] = c->old_next_dom[ci * CF_DOM_COUNT + d];
		else if (c->has_next_dom[ci] && next_dom[d] != c->old_next_dom[ci * CF_DOM_COUNT + d])
			dom_changed = true;
		if (next_dom[d] < next_check)
			next_check = next_dom[d];
	}

	rc.c = c;
	rc.ci = ci;
	rc.patient_id = patient_id;
	rc.mode = mode;
	rc.on_difference = on_difference;
	rc.arg = arg;
	rc.now = now;
	rc.v13 = c->flag_v13;
	rc.quiet = mode == CF_RECONCILE_WRITE && cf_patient_actions_quiet(patient_id);
	new_flags->v13 = c->flag_v13;

	changes += recheck_done_flags(&rc, rs, res);
	if (cf_held_count() != held_before)
	{
		/*
		 * A resolved flag needs correcting while a nurse's action on the
		 * patient is open: the whole patient is left for later (raising a
		 * flag for its rule now would only be corrected then).
		 */
		if (rc.quiet)
			cf_patient_actions_release(patient_id);
		return changes;
	}
	open = c->open[ci];
	n_open = c->n_open[ci];

	for (int r = 0; r < rs->n; r++)
	{
		CfFlagResult *fr = &res[r];
		const CfRule *rule = fr->rule;
		CfOpenFlag *of = NULL;
		CfStoredFlag s;
		CfDecision	d;

		for (int i = 0; i < n_open; i++)
			if (!open[i].matched && strcmp(open[i].rule_id, rule->rule_id) == 0)
			{
				of = &open[i];
				of->matched = true;
				break;
			}
		if (of != NULL)
			s = stored(of);
		d = cf_decide_open(rule, of ? &s : NULL, fr, &facts, now);

		switch (d.kind)
		{
			case CF_DECIDE_NOTHING:
			case CF_DECIDE_KEEP:
				continue;
			case CF_DECIDE_SAME_GAP:
				{
					const char *set = cf_setting_name(fr->episode->setting);

					bool		same = of->due_from == fr->due_from && of->due_at == fr->due_at &&
						str_eq(of->reason, fr->reason) &&
						/* reason data missing (written before 1.3): filled in when writing */
						(of->has_details || mode == CF_RECONCILE_CHECK) &&
						str_eq(of->unit_id, fr->episode->unit_id) &&
						of->severity == rule->severity && str_eq(of->setting, set);

					if (same && (!rc.v13 || of->trigger_at == fr->event_at))
						continue;
					/* a flag raised before 1.3 does not know its trigger: filled in, not a difference */
					if (same && of->trigger_at == CF_TIME_NONE && mode == CF_RECONCILE_CHECK)
						continue;
					changes++;
					if (mode == CF_RECONCILE_CHECK)
					{
						if (of->due_from != fr->due_from || of->due_at != fr->due_at)
							report(on_difference, arg, patient_id, rule->rule_id,
								   "open flag %lld is due from %s to %s, expected %s to %s",
								   (long long) of->flag_id, ts_text(of->due_from), ts_text(of->due_at),
								   ts_text(fr->due_from), ts_text(fr->due_at));
						else if (!str_eq(of->reason, fr->reason))
							report(on_difference, arg, patient_id, rule->rule_id,
								   "open flag %lld has reason \"%s\", expected \"%s\"",
								   (long long) of->flag_id, of->reason ? of->reason : "", fr->reason);
						else
							report(on_difference, arg, patient_id, rule->rule_id,
								   "open flag %lld counts from %s, expected %s",
								   (long long) of->flag_id, ts_text(of->trigger_at), ts_text(fr->event_at));
						continue;
					}
					update_flag(&rc, of, fr);
					continue;
				}
			case CF_DECIDE_RESOLVE:
			case CF_DECIDE_REPLACE:
				changes++;
				if (mode == CF_RECONCILE_CHECK)
				{
					if (d.kind == CF_DECIDE_RESOLVE)
						report(on_difference, arg, patient_id, rule->rule_id,
							   "open flag %lld should be resolved (%s)", (long long) of->flag_id,
							   d.resolution);
					else
						report(on_difference, arg, patient_id, rule->rule_id,
							   "open flag %lld should be resolved (%s) and a new flag due from %s raised",
							   (long long) of->flag_id, d.resolution, ts_text(fr->due_from));
					continue;
				}
				if (!resolve_flag(&rc, of, rule->rule_id, d.resolution, &d.action))
					continue;	/* held: no successor while it is open */
				if (d.kind == CF_DECIDE_REPLACE)
					raise_flag(new_flags, patient_id, fr);
				continue;
			case CF_DECIDE_RAISE:
				changes++;
				if (mode == CF_RECONCILE_CHECK)
				{
					report(on_difference, arg, patient_id, rule->rule_id,
						   "missing flag due from %s: %s", ts_text(fr->due_from), fr->reason);
					continue;
				}
				raise_flag(new_flags, patient_id, fr);
				continue;
			case CF_DECIDE_REOPEN:
			case CF_DECIDE_RELABEL:
				/* only for resolved flags */
				continue;
		}
	}

	/* open flags of rules that are disabled or gone */
	for (int i = 0; i < n_open; i++)
	{
		CfAction	none = {CF_ACT_NONE, 0, CF_TIME_NONE};

		if (open[i].matched)
			continue;
		changes++;
		if (mode == CF_RECONCILE_CHECK)
		{
			report(on_difference, arg, patient_id, open[i].rule_id,
				   "open flag %lld belongs to a disabled rule", (long long) open[i].flag_id);
			continue;
		}
		(void) resolve_flag(&rc, &open[i], open[i].rule_id, "rule_disabled", &none);
	}

	/*
	 * patient_state: only when something changed, or it is missing; not when
	 * a flag was held (left for later), so that its next check stays due
	 */
	if (mode == CF_RECONCILE_WRITE && cf_held_count() == held_before &&
		(changes > 0 || !c->has_state[ci] || c->old_next[ci] != next_check ||
		 (c->state_v13 && dom_changed)))
	{
		Datum		v[4];
		char		nulls[4] = "    ";

		v[0] = Int64GetDatum(patient_id);
		v[1] = TimestampTzGetDatum((TimestampTz) now);
		if (next_check == CF_TIME_NEVER)
			nulls[2] = 'n';
		else
			v[2] = TimestampTzGetDatum((TimestampTz) next_check);
		if (c->state_v13)
		{
			Datum		e[CF_DOM_COUNT];
			bool		en[CF_DOM_COUNT];
			int			dims[1] = {CF_DOM_COUNT};
			int			lbs[1] = {1};

			for (int d = 0; d < CF_DOM_COUNT; d++)
			{
				en[d] = next_dom[d] == CF_TIME_NEVER;
				e[d] = en[d] ? (Datum) 0 : TimestampTzGetDatum((TimestampTz) next_dom[d]);
			}
			v[3] = PointerGetDatum(construct_md_array(e, en, 1, dims, lbs, TIMESTAMPTZOID,
													  sizeof(TimestampTz), FLOAT8PASSBYVAL,
													  TYPALIGN_DOUBLE));
		}
		cf_query_run(&queries[c->state_v13 ? Q_STATE_13 : Q_STATE], v, nulls, false, SPI_OK_INSERT);
	}
	if (rc.quiet)
		cf_patient_actions_release(patient_id);
	return changes;
}
