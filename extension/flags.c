/*-------------------------------------------------------------------------
 *
 * flags.c
 *	  Load one patient's facts into the evaluator's structs, evaluate, and
 *	  reconcile careflags.flag: insert new flags, update the reason of
 *	  unchanged ones, resolve those whose condition cleared (never delete).
 *
 *	  Locking: before reconciling, the patient's row in careflags.patient is
 *	  locked FOR NO KEY UPDATE, patients in ascending id order.  Two sessions
 *	  writing facts of the same patient therefore reconcile one after the
 *	  other; different patients never wait on each other; and the lock does
 *	  not block the foreign-key checks of concurrent fact inserts (they take
 *	  FOR KEY SHARE).  A row lock lives in the tuple, not in the shared lock
 *	  table, so recompute_all() can hold one per patient for any population.
 *
 *	  Privileges: the work runs as the extension owner with search_path
 *	  pinned to pg_catalog, pg_temp (the C equivalent of SECURITY DEFINER
 *	  SET search_path), so a record system's role that may write facts needs
 *	  no rights on careflags.flag, and nothing on its search_path is called.
 *
 *	  Memory: one context per patient, reset after each.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "calendar.h"
#include "careflags.h"
#include "evaluator.h"
#include "flags.h"
#include "scores.h"


bool		cf_reconciling = false;

/* ---- owner context ---- */

Oid
cf_extension_owner(void)
{
	static Oid	owner = InvalidOid;
	static Oid	ext = InvalidOid;
	Oid			cur = get_extension_oid("careflags", true);

	if (!OidIsValid(cur))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"careflags\" is not installed in this database")));
	if (cur != ext || !OidIsValid(owner))
	{
		int			ret;
		bool		isnull;
		Datum		d;
		Oid			argtypes[1] = {OIDOID};
		Datum		values[1] = {ObjectIdGetDatum(cur)};

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		ret = SPI_execute_with_args("SELECT extowner FROM pg_catalog.pg_extension WHERE oid OPERATOR(pg_catalog.=) $1",
									1, argtypes, values, NULL, true, 1);
		if (ret != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "could not find the owner of extension careflags");
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		owner = DatumGetObjectId(d);
		ext = cur;
		SPI_finish();
	}
	return owner;
}

void
cf_enter_owner_context(CfOwnerContext *ctx)
{
	Oid			owner = cf_extension_owner();

	GetUserIdAndSecContext(&ctx->save_userid, &ctx->save_sec_context);
	SetUserIdAndSecContext(owner, ctx->save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	ctx->save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);

	/*
	 * careflags' statements read one patient through an index led by
	 * patient_id.  Their plans are prepared once per backend and kept; a plan
	 * made while a table was small (or had no statistics, as in the
	 * transaction that loads it) must not stay a sequential scan as the table
	 * grows, so sequential scans are ruled out when they are planned.
	 */
	(void) set_config_option("enable_seqscan", "off",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	/* ... which makes small scans look expensive: never JIT-compile them */
	(void) set_config_option("jit", "off",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
}

void
cf_leave_owner_context(CfOwnerContext *ctx)
{
	AtEOXact_GUC(true, ctx->save_nestlevel);
	SetUserIdAndSecContext(ctx->save_userid, ctx->save_sec_context);
}

/* ---- notifications ---- */

void
cf_notify(const char *event, int64 flag_id, int64 patient_id,
		  const char *rule_id, const char *unit_id)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"event\": \"%s\", \"flag_id\": " INT64_FORMAT
					 ", \"patient_id\": " INT64_FORMAT ", \"rule_id\": ",
					 event, flag_id, patient_id);
	escape_json(&buf, rule_id);
	appendStringInfoString(&buf, ", \"unit_id\": ");
	if (unit_id)
		escape_json(&buf, unit_id);
	else
		appendStringInfoString(&buf, "null");
	appendStringInfoChar(&buf, '}');
	Async_Notify("careflags", buf.data);
	pfree(buf.data);
}

/* ---- ids ---- */

static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

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

/* ---- prepared statements ---- */

typedef enum
{
	Q_PATIENT,
	Q_PATIENT_LOCK,
	Q_EPISODES,
	Q_ASSESSMENTS,
	Q_MEASUREMENTS,
	Q_MEDICATIONS,
	Q_REVIEWS,
	Q_PLANS,
	Q_FALLS,
	Q_EXEMPTIONS,
	Q_OPEN_FLAGS,
	Q_INSERT_FLAG,
	Q_UPDATE_FLAG,
	Q_RESOLVE_FLAG,
	Q_STATE,
	Q_COUNT
} QueryId;

static const char *const query_text[Q_COUNT] = {
	[Q_PATIENT] = "SELECT birth_date, deceased, deceased_at FROM careflags.patient "
	"WHERE patient_id OPERATOR(pg_catalog.=) $1",
	/* the per-patient serialisation: a row lock that does not block FK checks */
	[Q_PATIENT_LOCK] = "SELECT birth_date, deceased, deceased_at FROM careflags.patient "
	"WHERE patient_id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE",
	[Q_EPISODES] = "SELECT episode_id, setting::pg_catalog.text, unit_id, started_at, ended_at "
	"FROM careflags.episode WHERE patient_id OPERATOR(pg_catalog.=) $1 ORDER BY started_at, episode_id",
	[Q_ASSESSMENTS] = "SELECT instrument::pg_catalog.text, assessed_at, total IS NOT NULL, "
	"COALESCE(at_risk, false), COALESCE(total, 0)::pg_catalog.float8 "
	"FROM careflags.assessment WHERE patient_id OPERATOR(pg_catalog.=) $1 ORDER BY assessed_at",
	[Q_MEASUREMENTS] = "SELECT kind::pg_catalog.text, value::pg_catalog.float8, measured_at "
	"FROM careflags.measurement WHERE patient_id OPERATOR(pg_catalog.=) $1 ORDER BY measured_at",
	[Q_MEDICATIONS] = "SELECT COALESCE(atc, code, 'medication/' OPERATOR(pg_catalog.||) medication_id::pg_catalog.text), "
	"atc, name, started_at, stopped_at, as_needed, "
	"(status OPERATOR(pg_catalog.=) ANY ('{cancelled,entered_in_error}'::careflags.medication_status[]) "
	" OR (stopped_at IS NULL AND status OPERATOR(pg_catalog.=) ANY ('{stopped,completed}'::careflags.medication_status[]))) "
	"FROM careflags.medication WHERE patient_id OPERATOR(pg_catalog.=) $1 ORDER BY started_at",
	[Q_REVIEWS] = "SELECT reviewed_at FROM careflags.medication_review "
	"WHERE patient_id OPERATOR(pg_catalog.=) $1 ORDER BY reviewed_at",
	[Q_PLANS] = "SELECT kind::pg_catalog.text, started_at, ended_at, last_evaluated_at "
	"FROM careflags.care_plan WHERE patient_id OPERATOR(pg_catalog.=) $1 ORDER BY started_at",
	[Q_FALLS] = "SELECT fell_at FROM careflags.fall WHERE patient_id OPERATOR(pg_catalog.=) $1 ORDER BY fell_at",
	[Q_EXEMPTIONS] = "SELECT scope, valid_from, valid_until FROM careflags.exemption "
	"WHERE patient_id OPERATOR(pg_catalog.=) $1",
	[Q_OPEN_FLAGS] = "SELECT flag_id, rule_id, due_from, due_at, episode_id, unit_id, reason, severity, "
	"setting::pg_catalog.text FROM careflags.flag "
	"WHERE patient_id OPERATOR(pg_catalog.=) $1 AND resolved_at IS NULL",
	[Q_INSERT_FLAG] = "INSERT INTO careflags.flag (patient_id, rule_id, domain, episode_id, unit_id, setting, "
	"severity, raised_at, due_from, due_at, due_soon_window, reason, notified_state) "
	"VALUES ($1, $2, $3::pg_catalog.text::careflags.domain, $4, $5, $6::pg_catalog.text::careflags.care_setting, "
	"$7, $8, $9, $10, $11, $12, careflags.flag_state($9, $10, $11, $8)) RETURNING flag_id",
	[Q_UPDATE_FLAG] = "UPDATE careflags.flag SET reason = $3, unit_id = $4, "
	"setting = $5::pg_catalog.text::careflags.care_setting, severity = $6, due_soon_window = $7 "
	"WHERE patient_id OPERATOR(pg_catalog.=) $1 AND flag_id OPERATOR(pg_catalog.=) $2",
	[Q_RESOLVE_FLAG] = "UPDATE careflags.flag SET resolved_at = $3, resolution = $4, action_at = $5 "
	"WHERE patient_id OPERATOR(pg_catalog.=) $1 AND flag_id OPERATOR(pg_catalog.=) $2",
	[Q_STATE] = "INSERT INTO careflags.patient_state AS s (patient_id, evaluated_at, next_check_at) "
	"VALUES ($1, $2, $3) ON CONFLICT (patient_id) DO UPDATE "
	"SET evaluated_at = EXCLUDED.evaluated_at, next_check_at = EXCLUDED.next_check_at",
};

static const int query_nargs[Q_COUNT] = {
	[Q_PATIENT] = 1,[Q_PATIENT_LOCK] = 1,[Q_EPISODES] = 1,[Q_ASSESSMENTS] = 1,[Q_MEASUREMENTS] = 1,
	[Q_MEDICATIONS] = 1,[Q_REVIEWS] = 1,[Q_PLANS] = 1,[Q_FALLS] = 1,
	[Q_EXEMPTIONS] = 1,[Q_OPEN_FLAGS] = 1,[Q_INSERT_FLAG] = 12,[Q_UPDATE_FLAG] = 7,
	[Q_RESOLVE_FLAG] = 5,[Q_STATE] = 3,
};

static const Oid query_argtypes[Q_COUNT][12] = {
	[Q_PATIENT] = {INT8OID},[Q_PATIENT_LOCK] = {INT8OID},[Q_EPISODES] = {INT8OID},[Q_ASSESSMENTS] = {INT8OID},
	[Q_MEASUREMENTS] = {INT8OID},[Q_MEDICATIONS] = {INT8OID},[Q_REVIEWS] = {INT8OID},
	[Q_PLANS] = {INT8OID},[Q_FALLS] = {INT8OID},[Q_EXEMPTIONS] = {INT8OID},
	[Q_OPEN_FLAGS] = {INT8OID},
	[Q_INSERT_FLAG] = {INT8OID, TEXTOID, TEXTOID, INT8OID, TEXTOID, TEXTOID, INT4OID,
	TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INTERVALOID, TEXTOID},
	[Q_UPDATE_FLAG] = {INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, INT4OID, INTERVALOID},
	[Q_RESOLVE_FLAG] = {INT8OID, INT8OID, TIMESTAMPTZOID, TEXTOID, TIMESTAMPTZOID},
	[Q_STATE] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID},
};

static SPIPlanPtr plans[Q_COUNT];

/*
 * Reads see the current command's own writes only when not read-only (SPI
 * then takes a new snapshot after a CommandCounterIncrement): an AFTER
 * trigger must see the rows its statement just wrote.
 */
static bool read_only_batch = false;

static SPIPlanPtr
plan_for(QueryId q)
{
	if (plans[q] == NULL)
	{
		/* always the generic plan: planned once, never re-planned per call */
		SPIPlanPtr	p = SPI_prepare_cursor(query_text[q], query_nargs[q], (Oid *) query_argtypes[q],
										   CURSOR_OPT_GENERIC_PLAN);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed for careflags query %d: %s", (int) q,
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "SPI_keepplan failed");
		plans[q] = p;
	}
	return plans[q];
}

/*
 * Execute a prepared statement.  The previous result is freed first (its
 * values were copied out), and the caller's memory context is restored, as
 * SPI leaves the procedure context current.
 */
static void
run(QueryId q, Datum *values, const char *nulls, bool read_only, int expect)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			ret;

	SPI_freetuptable(SPI_tuptable);
	ret = SPI_execute_plan(plan_for(q), values, nulls, read_only, 0);
	MemoryContextSwitchTo(cxt);
	if (ret != expect)
		elog(ERROR, "careflags query %d failed: %s", (int) q, SPI_result_code_string(ret));
}

/* ---- reading values ---- */

static inline bool
col_null(int row, int col)
{
	bool		isnull;

	(void) SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);
	return isnull;
}

static inline Datum
col(int row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);
}

static inline CfTime
col_time(int row, int c)
{
	bool		isnull;
	Datum		d = col(row, c, &isnull);

	if (isnull)
		return CF_TIME_NONE;
	return (CfTime) DatumGetTimestampTz(d);
}

static inline char *
col_text(int row, int c)
{
	bool		isnull;
	Datum		d = col(row, c, &isnull);

	if (isnull)
		return NULL;
	return TextDatumGetCString(d);
}

static inline bool
col_bool(int row, int c)
{
	bool		isnull;
	Datum		d = col(row, c, &isnull);

	return !isnull && DatumGetBool(d);
}

static inline double
col_float(int row, int c)
{
	bool		isnull;
	Datum		d = col(row, c, &isnull);

	return isnull ? 0.0 : DatumGetFloat8(d);
}

static int
setting_from_name(const char *s)
{
	static const char *const names[CF_SET_COUNT] = {
		"nursing_home_long_term", "nursing_home_short_term", "home_nursing", "home_services", "gp"
	};

	for (int i = 0; i < CF_SET_COUNT; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

static const char *
setting_name(CfSetting s)
{
	static const char *const names[CF_SET_COUNT] = {
		"nursing_home_long_term", "nursing_home_short_term", "home_nursing", "home_services", "gp"
	};

	return names[s];
}

static const char *
domain_name(CfDomain d)
{
	static const char *const names[CF_DOM_COUNT] = {"nutrition", "medication_review", "fall_risk"};

	return names[d];
}

static CfInterval
to_cf_interval(Datum d)
{
	Interval   *iv = DatumGetIntervalP(d);
	CfInterval	r = {iv->month, iv->day, iv->time};

	return r;
}

static Datum
from_cf_interval(const CfInterval *c)
{
	Interval   *iv = palloc(sizeof(Interval));

	iv->month = c->months;
	iv->day = c->days;
	iv->time = c->usecs;
	return IntervalPGetDatum(iv);
}

/* ---- rules ---- */

typedef struct RuleSet
{
	CfRule	   *rules;
	int			n;
	CfFridList	frids;
} RuleSet;

static void
load_rules(RuleSet *rs)
{
	static const char *const anchors[CF_ANCHOR_COUNT] = {
		"episode_start", "last_event", "risk_result", "plan_evaluation",
		"weight_series", "medicine_count", "fall"
	};
	int			ret;

	ret = SPI_execute("SELECT rule_id, title, domain::pg_catalog.text, anchor::pg_catalog.text, "
					  "settings::pg_catalog.text[], min_age, due_interval, due_soon_window, follow_up, "
					  "COALESCE(threshold, 0), severity FROM careflags.rule WHERE enabled ORDER BY rule_id",
					  read_only_batch, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read careflags.rule");
	rs->n = (int) SPI_processed;
	rs->rules = palloc0(sizeof(CfRule) * Max(rs->n, 1));
	for (int i = 0; i < rs->n; i++)
	{
		CfRule	   *r = &rs->rules[i];
		bool		isnull;
		char	   *dom = col_text(i, 3);
		char	   *anc = col_text(i, 4);
		ArrayType  *arr = DatumGetArrayTypeP(col(i, 5, &isnull));
		Datum	   *elems;
		bool	   *enulls;
		int			nelems;

		r->rule_id = col_text(i, 1);
		r->title = col_text(i, 2);
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
			s = setting_from_name(TextDatumGetCString(elems[k]));
			if (s >= 0)
				r->settings |= (1u << s);
		}
		r->min_age = DatumGetInt32(col(i, 6, &isnull));
		r->due_interval = to_cf_interval(col(i, 7, &isnull));
		r->due_soon_window = to_cf_interval(col(i, 8, &isnull));
		r->follow_up = to_cf_interval(col(i, 9, &isnull));
		r->threshold = DatumGetInt32(col(i, 10, &isnull));
		r->severity = DatumGetInt32(col(i, 11, &isnull));
	}

	ret = SPI_execute("SELECT atc_prefix, description FROM careflags.frid_atc "
					  "ORDER BY pg_catalog.length(atc_prefix) DESC, atc_prefix", read_only_batch, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read careflags.frid_atc");
	{
		int			n = (int) SPI_processed;
		const char **p = palloc0(sizeof(char *) * Max(n, 1));
		const char **d = palloc0(sizeof(char *) * Max(n, 1));

		for (int i = 0; i < n; i++)
		{
			p[i] = col_text(i, 1);
			d[i] = col_text(i, 2);
		}
		rs->frids.prefixes = p;
		rs->frids.descriptions = d;
		rs->frids.n = n;
	}
}

/* ---- facts ---- */

static bool
load_facts(int64 patient_id, CfPatientFacts *f)
{
	Datum		arg[1] = {Int64GetDatum(patient_id)};
	int			n;

	memset(f, 0, sizeof(*f));
	f->patient_id = patient_id;

	run(Q_PATIENT, arg, NULL, true, SPI_OK_SELECT);
	if (SPI_processed == 0)
		return false;
	f->has_birth_date = !col_null(0, 1);
	if (f->has_birth_date)
	{
		bool		isnull;

		f->birth_date = DatumGetDateADT(col(0, 1, &isnull));
	}
	f->deceased = col_bool(0, 2);
	f->deceased_at = col_time(0, 3);

	run(Q_EPISODES, arg, NULL, true, SPI_OK_SELECT);
	n = (int) SPI_processed;
	if (n > 0)
	{
		CfEpisode  *e = palloc0(sizeof(CfEpisode) * n);

		for (int i = 0; i < n; i++)
		{
			bool		isnull;
			int			s = setting_from_name(col_text(i, 2));

			e[i].episode_id = DatumGetInt64(col(i, 1, &isnull));
			e[i].setting = s < 0 ? CF_SET_GP : (CfSetting) s;
			e[i].unit_id = col_text(i, 3);
			e[i].started_at = col_time(i, 4);
			e[i].ended_at = col_time(i, 5);
		}
		f->episodes = e;
		f->n_episodes = n;
	}
	if (f->n_episodes == 0 && !f->deceased)
		return true;			/* nothing else matters without an episode */

	run(Q_ASSESSMENTS, arg, NULL, true, SPI_OK_SELECT);
	n = (int) SPI_processed;
	if (n > 0)
	{
		CfAssessment *a = palloc0(sizeof(CfAssessment) * n);

		for (int i = 0; i < n; i++)
		{
			char	   *inst = col_text(i, 1);
			int			k = cf_instrument_from_name(inst);

			a[i].instrument = inst;
			a[i].domain = (k >= 0 && cf_instrument_is_nutrition((CfInstrument) k)) ?
				CF_DOM_NUTRITION : CF_DOM_FALL_RISK;
			a[i].assessed_at = col_time(i, 2);
			a[i].scored = col_bool(i, 3);
			a[i].at_risk = col_bool(i, 4);
			a[i].total = col_float(i, 5);
		}
		f->assessments = a;
		f->n_assessments = n;
	}

	run(Q_MEASUREMENTS, arg, NULL, true, SPI_OK_SELECT);
	n = (int) SPI_processed;
	if (n > 0)
	{
		CfMeasurement *m = palloc0(sizeof(CfMeasurement) * n);

		for (int i = 0; i < n; i++)
		{
			char	   *k = col_text(i, 1);

			m[i].kind = strcmp(k, "weight") == 0 ? CF_MEAS_WEIGHT :
				strcmp(k, "height") == 0 ? CF_MEAS_HEIGHT :
				strcmp(k, "bmi") == 0 ? CF_MEAS_BMI : CF_MEAS_CALF;
			m[i].value = col_float(i, 2);
			m[i].measured_at = col_time(i, 3);
		}
		f->measurements = m;
		f->n_measurements = n;
	}

	run(Q_MEDICATIONS, arg, NULL, true, SPI_OK_SELECT);
	n = (int) SPI_processed;
	if (n > 0)
	{
		CfMedication *m = palloc0(sizeof(CfMedication) * n);

		for (int i = 0; i < n; i++)
		{
			m[i].key = col_text(i, 1);
			m[i].atc = col_text(i, 2);
			m[i].name = col_text(i, 3);
			m[i].started_at = col_time(i, 4);
			m[i].stopped_at = col_time(i, 5);
			m[i].as_needed = col_bool(i, 6);
			m[i].cancelled = col_bool(i, 7);
		}
		f->medications = m;
		f->n_medications = n;
	}

	run(Q_REVIEWS, arg, NULL, true, SPI_OK_SELECT);
	n = (int) SPI_processed;
	if (n > 0)
	{
		CfTime	   *t = palloc(sizeof(CfTime) * n);

		for (int i = 0; i < n; i++)
			t[i] = col_time(i, 1);
		f->reviews = t;
		f->n_reviews = n;
	}

	run(Q_PLANS, arg, NULL, true, SPI_OK_SELECT);
	n = (int) SPI_processed;
	if (n > 0)
	{
		CfPlan	   *p = palloc0(sizeof(CfPlan) * n);

		for (int i = 0; i < n; i++)
		{
			p[i].kind = strcmp(col_text(i, 1), "nutrition") == 0 ? CF_PLAN_NUTRITION : CF_PLAN_FALL_PREVENTION;
			p[i].started_at = col_time(i, 2);
			p[i].ended_at = col_time(i, 3);
			p[i].last_evaluated_at = col_time(i, 4);
		}
		f->plans = p;
		f->n_plans = n;
	}

	run(Q_FALLS, arg, NULL, true, SPI_OK_SELECT);
	n = (int) SPI_processed;
	if (n > 0)
	{
		CfTime	   *t = palloc(sizeof(CfTime) * n);

		for (int i = 0; i < n; i++)
			t[i] = col_time(i, 1);
		f->falls = t;
		f->n_falls = n;
	}

	run(Q_EXEMPTIONS, arg, NULL, true, SPI_OK_SELECT);
	n = (int) SPI_processed;
	if (n > 0)
	{
		CfExemption *e = palloc0(sizeof(CfExemption) * n);

		for (int i = 0; i < n; i++)
		{
			e[i].scope = col_text(i, 1);
			e[i].valid_from = col_time(i, 2);
			e[i].valid_until = col_time(i, 3);
		}
		f->exemptions = e;
		f->n_exemptions = n;
	}
	return true;
}

/* ---- reconciliation ---- */

typedef struct OpenFlag
{
	int64		flag_id;
	char	   *rule_id;
	CfTime		due_from;
	CfTime		due_at;
	int64		episode_id;		/* -1 when NULL */
	char	   *unit_id;
	char	   *reason;
	int			severity;
	char	   *setting;
	bool		matched;
} OpenFlag;

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

static char *
ts_text(CfTime t)
{
	return DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum((TimestampTz) t)));
}

static int64
reconcile_patient(int64 patient_id, const RuleSet *rs, const CfEvalOps *ops,
				  CfReconcileMode mode, CfDifferenceFn on_difference, void *arg)
{
	CfPatientFacts facts;
	CfFlagResult *res;
	CfTime		next_check;
	CfTime		now = (CfTime) cf_now();
	Datum		a1[1] = {Int64GetDatum(patient_id)};
	OpenFlag   *open;
	int			n_open;
	int64		changes = 0;

	/*
	 * Writing: lock the patient first, then read everything under one fresh
	 * snapshot taken after the lock, so that a session that waited for
	 * another one's reconciliation of this patient sees its committed facts
	 * and flags.  Checking: read under the statement's snapshot.
	 */
	if (mode == CF_RECONCILE_WRITE)
	{
		run(Q_PATIENT_LOCK, a1, NULL, false, SPI_OK_SELECT);
		if (SPI_processed == 0)
			return 0;			/* patient deleted */
		CommandCounterIncrement();
		PushActiveSnapshot(GetTransactionSnapshot());
	}
	if (!load_facts(patient_id, &facts))
	{
		if (mode == CF_RECONCILE_WRITE)
			PopActiveSnapshot();
		return 0;				/* patient deleted */
	}

	res = palloc0(sizeof(CfFlagResult) * Max(rs->n, 1));
	cf_evaluate(&facts, rs->rules, rs->n, &rs->frids, now, ops, res, &next_check);

	run(Q_OPEN_FLAGS, a1, NULL, true, SPI_OK_SELECT);
	n_open = (int) SPI_processed;
	open = palloc0(sizeof(OpenFlag) * Max(n_open, 1));
	for (int i = 0; i < n_open; i++)
	{
		bool		isnull;
		Datum		d;

		open[i].flag_id = DatumGetInt64(col(i, 1, &isnull));
		open[i].rule_id = col_text(i, 2);
		open[i].due_from = col_time(i, 3);
		open[i].due_at = col_time(i, 4);
		d = col(i, 5, &isnull);
		open[i].episode_id = isnull ? -1 : DatumGetInt64(d);
		open[i].unit_id = col_text(i, 6);
		open[i].reason = col_text(i, 7);
		open[i].severity = DatumGetInt32(col(i, 8, &isnull));
		open[i].setting = col_text(i, 9);
	}
	if (mode == CF_RECONCILE_WRITE)
		PopActiveSnapshot();

	for (int r = 0; r < rs->n; r++)
	{
		CfFlagResult *fr = &res[r];
		const CfRule *rule = fr->rule;
		OpenFlag   *of = NULL;

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
				run(Q_RESOLVE_FLAG, v, nulls, false, SPI_OK_UPDATE);
				cf_notify("resolved", of->flag_id, patient_id, rule->rule_id, of->unit_id);
			}
			continue;
		}

		/* a flag applies */
		if (of != NULL && of->due_from == fr->due_from && of->due_at == fr->due_at &&
			of->episode_id == fr->episode->episode_id)
		{
			const char *set = setting_name(fr->episode->setting);

			if (str_eq(of->reason, fr->reason) && str_eq(of->unit_id, fr->episode->unit_id) &&
				of->severity == rule->severity && str_eq(of->setting, set))
				continue;
			changes++;
			if (mode == CF_RECONCILE_CHECK)
			{
				report(on_difference, arg, patient_id, rule->rule_id,
					   "open flag %lld has reason \"%s\", expected \"%s\"",
					   (long long) of->flag_id, of->reason, fr->reason);
				continue;
			}
			{
				Datum		v[7];
				char		nulls[7] = "       ";

				v[0] = Int64GetDatum(patient_id);
				v[1] = Int64GetDatum(of->flag_id);
				v[2] = CStringGetTextDatum(fr->reason);
				if (fr->episode->unit_id)
					v[3] = CStringGetTextDatum(fr->episode->unit_id);
				else
					nulls[3] = 'n';
				v[4] = CStringGetTextDatum(set);
				v[5] = Int32GetDatum(rule->severity);
				v[6] = from_cf_interval(&rule->due_soon_window);
				run(Q_UPDATE_FLAG, v, nulls, false, SPI_OK_UPDATE);
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
			else if (fr->due_from > of->due_from)
			{
				/* a newer event moved the due time on: that event was the action */
				why = "done";
				if (fr->event_at != CF_TIME_NONE)
				{
					v[4] = TimestampTzGetDatum((TimestampTz) fr->event_at);
					nulls[4] = ' ';
				}
			}
			else
				why = "superseded";
			v[0] = Int64GetDatum(patient_id);
			v[1] = Int64GetDatum(of->flag_id);
			v[2] = TimestampTzGetDatum((TimestampTz) now);
			v[3] = CStringGetTextDatum(why);
			run(Q_RESOLVE_FLAG, v, nulls, false, SPI_OK_UPDATE);
			cf_notify("resolved", of->flag_id, patient_id, rule->rule_id, of->unit_id);
		}
		{
			Datum		v[12];
			char		nulls[12] = "            ";
			bool		isnull;
			int64		flag_id;

			v[0] = Int64GetDatum(patient_id);
			v[1] = CStringGetTextDatum(rule->rule_id);
			v[2] = CStringGetTextDatum(domain_name(rule->domain));
			v[3] = Int64GetDatum(fr->episode->episode_id);
			if (fr->episode->unit_id)
				v[4] = CStringGetTextDatum(fr->episode->unit_id);
			else
				nulls[4] = 'n';
			v[5] = CStringGetTextDatum(setting_name(fr->episode->setting));
			v[6] = Int32GetDatum(rule->severity);
			v[7] = TimestampTzGetDatum((TimestampTz) now);
			v[8] = TimestampTzGetDatum((TimestampTz) fr->due_from);
			v[9] = TimestampTzGetDatum((TimestampTz) fr->due_at);
			v[10] = from_cf_interval(&rule->due_soon_window);
			v[11] = CStringGetTextDatum(fr->reason);
			run(Q_INSERT_FLAG, v, nulls, false, SPI_OK_INSERT_RETURNING);
			flag_id = DatumGetInt64(col(0, 1, &isnull));
			cf_notify("raised", flag_id, patient_id, rule->rule_id, fr->episode->unit_id);
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

			run(Q_RESOLVE_FLAG, v, "    n", false, SPI_OK_UPDATE);
			cf_notify("resolved", open[i].flag_id, patient_id, open[i].rule_id, open[i].unit_id);
		}
	}

	if (mode == CF_RECONCILE_WRITE)
	{
		Datum		v[3];
		char		nulls[3] = "   ";

		v[0] = Int64GetDatum(patient_id);
		v[1] = TimestampTzGetDatum((TimestampTz) now);
		if (next_check == CF_TIME_NEVER)
			nulls[2] = 'n';
		else
			v[2] = TimestampTzGetDatum((TimestampTz) next_check);
		run(Q_STATE, v, nulls, false, SPI_OK_INSERT);
	}
	return changes;
}

int64
cf_evaluate_patients(const int64 *patient_ids, int n, CfReconcileMode mode,
					 CfDifferenceFn on_difference, void *arg)
{
	CfOwnerContext oc;
	MemoryContext patient_cxt;
	MemoryContext old;
	RuleSet		rs;
	CfEvalOps	ops;
	volatile int64 changes = 0;

	if (n <= 0)
		return 0;

	cf_enter_owner_context(&oc);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	read_only_batch = (mode == CF_RECONCILE_CHECK);
	load_rules(&rs);
	cf_calendar_ops(&ops);

	patient_cxt = AllocSetContextCreate(CurrentMemoryContext, "careflags patient",
										ALLOCSET_DEFAULT_SIZES);
	cf_reconciling = true;
	PG_TRY();
	{
		for (int i = 0; i < n; i++)
		{
			CHECK_FOR_INTERRUPTS();
			old = MemoryContextSwitchTo(patient_cxt);
			changes += reconcile_patient(patient_ids[i], &rs, &ops, mode, on_difference, arg);
			MemoryContextSwitchTo(old);
			SPI_freetuptable(SPI_tuptable);
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
