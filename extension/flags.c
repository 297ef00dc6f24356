/*-------------------------------------------------------------------------
 *
 * flags.c
 *	  Lock a chunk of patients, read their facts (fact_reader.c), evaluate,
 *	  and reconcile careflags.flag: insert new flags, update the reason of
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
 *	  Memory: one context per chunk of up to 500 patients, reset after each.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "calendar.h"
#include "careflags.h"
#include "evaluator.h"
#include "fact_reader.h"
#include "flags.h"
#include "scores.h"


bool		cf_reconciling = false;

/* ---- owner context ---- */

/*
 * The extension's owner, looked up once per installation: the cache is kept
 * while the careflags schema (a member of the extension, so dropped and made
 * anew with it) keeps its oid, which costs a syscache probe per call instead
 * of a pg_extension scan.
 */
Oid
cf_extension_owner(void)
{
	static Oid	owner = InvalidOid;
	static Oid	owner_nsp = InvalidOid;
	Oid			nsp = get_namespace_oid(CF_SCHEMA, true);
	Oid			cur;

	if (OidIsValid(nsp) && nsp == owner_nsp && OidIsValid(owner))
		return owner;
	cur = get_extension_oid("careflags", true);
	if (!OidIsValid(cur) || !OidIsValid(nsp))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"careflags\" is not installed in this database")));
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
		owner_nsp = nsp;
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
	 * careflags' statements touch one patient's rows through an index led by
	 * patient_id.  Their plans are prepared once per backend and kept, and
	 * are (re)built when first executed; a plan made while a table was small
	 * (or had no statistics, as in the transaction that loads it) must not
	 * stay a sequential scan as the table grows, so sequential scans are
	 * ruled out whenever they may be planned.
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

/* Patients read and reconciled together (one query per table per chunk). */
#define CF_CHUNK 500

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
	"WHERE patient_id OPERATOR(pg_catalog.=) $1 AND flag_id OPERATOR(pg_catalog.=) $2 "
#define RESOLVE_FLAG_SQL "UPDATE careflags.flag SET resolved_at = $3, resolution = $4, action_at = $5 " \
	"WHERE patient_id OPERATOR(pg_catalog.=) $1 AND flag_id OPERATOR(pg_catalog.=) $2 "

/*
 * While a nurse's action on the patient is open (patient_actions_quiet), an
 * open flag is updated only if no other session holds its row: her
 * acknowledge or snooze holds it to the end of her transaction, and a write
 * of the record must not wait for that (0 rows: the patient is left for
 * later, see note_held).
 */
#define FLAG_ROW_FREE \
	"AND flag_id OPERATOR(pg_catalog.=) (SELECT l.flag_id FROM careflags.flag l " \
	"WHERE l.patient_id OPERATOR(pg_catalog.=) $1 AND l.flag_id OPERATOR(pg_catalog.=) $2 " \
	"FOR NO KEY UPDATE SKIP LOCKED)"

static const char *const query_text[Q_COUNT] = {
	/* (the facts are read by fact_reader.c, straight from the indexes) */
	/* new flags of a whole chunk in one statement: arrays, one element a flag */
	[Q_INSERT_FLAG] = "INSERT INTO careflags.flag (patient_id, rule_id, domain, episode_id, unit_id, setting, "
	"severity, raised_at, due_from, due_at, due_soon_window, reason, notified_state) "
	"SELECT u.p, u.r, u.d::careflags.domain, u.e, u.un, u.s::careflags.care_setting, u.sev, $8, u.f, u.a, u.w, u.re, "
	"careflags.flag_state(u.f, u.a, u.w, $8) "
	"FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4), "
	"pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7), pg_catalog.unnest($9), "
	"pg_catalog.unnest($10), pg_catalog.unnest($11), pg_catalog.unnest($12)) AS u(p, r, d, e, un, s, sev, f, a, w, re) "
	"RETURNING flag_id, patient_id, rule_id, unit_id",
	[Q_UPDATE_FLAG] = UPDATE_FLAG_SQL,
	[Q_RESOLVE_FLAG] = RESOLVE_FLAG_SQL,
	[Q_UPDATE_FLAG_IF_FREE] = UPDATE_FLAG_SQL FLAG_ROW_FREE,
	[Q_RESOLVE_FLAG_IF_FREE] = RESOLVE_FLAG_SQL FLAG_ROW_FREE,
	[Q_STATE] = "INSERT INTO careflags.patient_state AS s (patient_id, evaluated_at, next_check_at) "
	"VALUES ($1, $2, $3) ON CONFLICT (patient_id) DO UPDATE "
	"SET evaluated_at = EXCLUDED.evaluated_at, next_check_at = EXCLUDED.next_check_at",
};

static const int query_nargs[Q_COUNT] = {
	[Q_INSERT_FLAG] = 12,[Q_UPDATE_FLAG] = 9,
	[Q_RESOLVE_FLAG] = 5,[Q_STATE] = 3,
	[Q_UPDATE_FLAG_IF_FREE] = 9,[Q_RESOLVE_FLAG_IF_FREE] = 5,
};

static const Oid query_argtypes[Q_COUNT][12] = {
	[Q_INSERT_FLAG] = {INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
	INT4ARRAYOID, TIMESTAMPTZOID, TIMESTAMPTZARRAYOID, TIMESTAMPTZARRAYOID, INTERVALARRAYOID, TEXTARRAYOID},
	[Q_UPDATE_FLAG] = {INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, INT4OID, INTERVALOID, TIMESTAMPTZOID, TIMESTAMPTZOID},
	[Q_RESOLVE_FLAG] = {INT8OID, INT8OID, TIMESTAMPTZOID, TEXTOID, TIMESTAMPTZOID},
	[Q_STATE] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID},
	[Q_UPDATE_FLAG_IF_FREE] = {INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, INT4OID, INTERVALOID, TIMESTAMPTZOID, TIMESTAMPTZOID},
	[Q_RESOLVE_FLAG_IF_FREE] = {INT8OID, INT8OID, TIMESTAMPTZOID, TEXTOID, TIMESTAMPTZOID},
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
			s = cf_setting_from_name(TextDatumGetCString(elems[k]));
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

/*
 * The rule set is read once per backend and kept in TopMemoryContext until
 * careflags.rule or careflags.frid_atc changes: the statement trigger
 * careflags.rules_changed() sends a relcache invalidation for the table
 * (seen here at the next command, by other backends at commit, and undone
 * on abort), and the callback below drops the cache.
 */
static MemoryContext rules_cxt = NULL;
static RuleSet *rules_cache = NULL;
static Oid	rules_cache_ext = InvalidOid;
static Oid	rules_relid = InvalidOid;
static Oid	frid_relid = InvalidOid;
static bool rules_callback_registered = false;

static void
rules_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == rules_relid || relid == frid_relid)
		rules_cache = NULL;
}

static char *
copy_str(const char *s)
{
	return s ? pstrdup(s) : NULL;
}

static RuleSet *
cached_rules(void)
{
	Oid			ext = get_namespace_oid(CF_SCHEMA, false);
	RuleSet		fresh;
	MemoryContext old;
	RuleSet    *rs;

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
	load_rules(&fresh);

	old = MemoryContextSwitchTo(rules_cxt);
	rs = palloc0(sizeof(RuleSet));
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
	return PointerGetDatum(NULL);
}

/* ---- patients left for later ---- */

bool		cf_skip_locked_patients = false;
static int64 *held_ids = NULL;
static int	held_n = 0;
static int	held_cap = 0;

static LocalTransactionId held_lxid = InvalidLocalTransactionId;

/* Forget what an earlier call left (its memory went with its transaction). */
static void
held_reset(void)
{
	if (held_lxid != MyProc->lxid)
	{
		held_ids = NULL;
		held_cap = 0;
		held_lxid = MyProc->lxid;
	}
	held_n = 0;
}

/* Remember a patient whose evaluation was left for later. */
static void
note_held(int64 patient_id)
{
	if (held_lxid != MyProc->lxid)
		held_reset();
	if (held_n > 0 && held_ids[held_n - 1] == patient_id)
		return;
	if (held_n == held_cap)
	{
		held_cap = Max(16, held_cap * 2);
		held_ids = held_ids == NULL ?
			MemoryContextAlloc(TopTransactionContext, sizeof(int64) * held_cap) :
			repalloc(held_ids, sizeof(int64) * held_cap);
	}
	held_ids[held_n++] = patient_id;
}

/* The patients the last cf_evaluate_patients() left for later. */
int
cf_held_patients(int64 **ids)
{
	*ids = held_ids;
	return held_n;
}

/*
 * The patient's action lock (an advisory lock tag of careflags' own, shown
 * in pg_locks as advisory with objsubid CF_ACTION_LOCK): a nurse's action
 * takes it in share mode before it touches a flag and keeps it to the end
 * of her transaction (nurses do not wait on each other for it).  An
 * evaluation tries it in exclusive mode for as long as it reconciles the
 * patient, never waiting: when it gets it no open action holds a flag of
 * the patient, and plain updates cannot wait for a nurse (a nurse arriving
 * meanwhile waits the few milliseconds of the reconciliation); when it does
 * not, updates skip the rows a nurse holds.  So a write pays the row-lock
 * check only while a nurse's action on that patient is open.
 */
#define CF_ACTION_LOCK 0x4346

static void
action_lock_tag(LOCKTAG *tag, int64 patient_id)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) ((uint64) patient_id >> 32),
						 (uint32) patient_id, CF_ACTION_LOCK);
}

void
cf_lock_patient_actions(int64 patient_id)
{
	LOCKTAG		tag;

	action_lock_tag(&tag, patient_id);
	(void) LockAcquire(&tag, ShareLock, false, false);
}

/* True (and the lock taken, to release) when no action on the patient is open. */
static bool
patient_actions_quiet(int64 patient_id)
{
	LOCKTAG		tag;

	action_lock_tag(&tag, patient_id);
	return LockAcquire(&tag, ExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL;
}

static void
patient_actions_release(int64 patient_id)
{
	LOCKTAG		tag;

	action_lock_tag(&tag, patient_id);
	LockRelease(&tag, ExclusiveLock, false);
}

/*
 * Run an UPDATE of one open flag (Q_UPDATE_FLAG, Q_RESOLVE_FLAG); while a
 * nurse's action on the patient is open, only if its row is free.  False
 * when the row was held: the patient is left for later.
 */
static bool
update_open_flag(QueryId q, Datum *v, const char *nulls, int64 patient_id, bool quiet)
{
	if (!quiet)
		q = (q == Q_UPDATE_FLAG) ? Q_UPDATE_FLAG_IF_FREE : Q_RESOLVE_FLAG_IF_FREE;
	run(q, v, nulls, false, SPI_OK_UPDATE);
	if (SPI_processed == 1)
		return true;
	note_held(patient_id);
	return false;
}

/* ---- facts, for a chunk of patients ---- */

/*
 * Lock the patients' rows FOR NO KEY UPDATE, in ascending id order, as
 * SELECT ... ORDER BY patient_id FOR NO KEY UPDATE would (see ExecLockRows):
 * under READ COMMITTED the latest version of a row updated meanwhile is
 * locked; under REPEATABLE READ and SERIALIZABLE such a row is a
 * serialization failure.  A patient deleted meanwhile is skipped.  The
 * locked version of each row gives the patient's own columns (it is the
 * version the reading after the locks sees).
 */
static void
lock_patients(CfChunk *c, Snapshot snap)
{
	Oid			nsp = get_namespace_oid(CF_SCHEMA, false);
	Relation	rel = table_open(get_relname_relid("patient", nsp), RowShareLock);
	Relation	idx = index_open(get_relname_relid("patient_pkey", nsp), AccessShareLock);
	IndexScanDesc scan = index_beginscan(rel, idx, snap, 1, 0);
	TupleTableSlot *found = table_slot_create(rel, NULL);
	TupleTableSlot *locked = table_slot_create(rel, NULL);
	CfPatientColumns cols;
	CommandId	cid = GetCurrentCommandId(true);
	int			flags = TUPLE_LOCK_FLAG_LOCK_UPDATE_IN_PROGRESS;
	ScanKeyData key;

	cf_patient_columns(RelationGetDescr(rel), &cols);
	if (!IsolationUsesXactSnapshot())
		flags |= TUPLE_LOCK_FLAG_FIND_LAST_VERSION;
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(0));
	for (int i = 0; i < c->n; i++)
	{
		TM_FailureData tmfd;
		TM_Result	res;

		key.sk_argument = Int64GetDatum(c->ids[i]);
		index_rescan(scan, &key, 1, NULL, 0);
		if (!index_getnext_slot(scan, ForwardScanDirection, found))
			continue;
		res = table_tuple_lock(rel, &found->tts_tid, snap, locked, cid, LockTupleNoKeyExclusive,
							   cf_skip_locked_patients ? LockWaitSkip : LockWaitBlock, flags, &tmfd);
		switch (res)
		{
			case TM_Ok:
				cf_chunk_patient_from_slot(c, i, locked, &cols);
				break;
			case TM_WouldBlock:
				/* the worker: another session holds the patient; later */
				note_held(c->ids[i]);
				break;
			case TM_SelfModified:
				cf_chunk_patient_from_slot(c, i, found, &cols);
				break;
			case TM_Updated:
			case TM_Deleted:
				if (IsolationUsesXactSnapshot())
					ereport(ERROR,
							(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
							 errmsg("could not serialize access due to concurrent update")));
				/* read committed: deleted meanwhile */
				break;
			default:
				elog(ERROR, "careflags: unexpected result %d locking patient %lld",
					 (int) res, (long long) c->ids[i]);
		}
	}
	c->patients_read = true;
	ExecDropSingleTupleTableSlot(found);
	ExecDropSingleTupleTableSlot(locked);
	index_endscan(scan);
	index_close(idx, NoLock);
	table_close(rel, NoLock);
}

/*
 * Writing: lock the patients first (ascending ids), then read everything
 * under one fresh snapshot taken after the locks, so that a session that
 * waited for another one's reconciliation of a patient sees its committed
 * facts and flags.  Checking: read under the statement's snapshot.
 */
static void
load_chunk(CfChunk *c, bool lock, const CfEvalOps *ops)
{
	cf_chunk_init(c);
	if (lock)
	{
		/* as SPI does for a statement that writes: see our own changes */
		CommandCounterIncrement();
		PushActiveSnapshot(GetTransactionSnapshot());
		UpdateActiveSnapshotCommandId();
		lock_patients(c, GetActiveSnapshot());
		PopActiveSnapshot();
		CommandCounterIncrement();
		PushActiveSnapshot(GetTransactionSnapshot());
		UpdateActiveSnapshotCommandId();
	}
	cf_read_chunk(c, (CfTime) cf_now(), ops);
	if (lock)
		PopActiveSnapshot();
}

/* ---- reconciliation ---- */

/* Flags to insert at the end of a chunk, column by column. */
typedef struct NewFlags
{
	int			n;
	int			cap;
	Datum	   *col[11];		/* p, r, d, e, un, s, sev, f, a, w, re */
	bool	   *unit_null;
} NewFlags;

static const Oid new_flag_elem_type[11] = {
	INT8OID, TEXTOID, TEXTOID, INT8OID, TEXTOID, TEXTOID, INT4OID,
	TIMESTAMPTZOID, TIMESTAMPTZOID, INTERVALOID, TEXTOID
};

static void
new_flag_add(NewFlags *nf, Datum *v, bool unit_null)
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
static void
new_flags_flush(NewFlags *nf, CfTime now)
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
	run(Q_INSERT_FLAG, args, NULL, false, SPI_OK_INSERT_RETURNING);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int64		flag_id = DatumGetInt64(col((int) i, 1, &isnull));
		int64		pid = DatumGetInt64(col((int) i, 2, &isnull));
		char	   *rule_id = col_text((int) i, 3);
		char	   *unit_id = col_text((int) i, 4);

		cf_notify("raised", flag_id, pid, rule_id, unit_id);
	}
	nf->n = 0;
}

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

static char *
ts_text(CfTime t)
{
	return DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum((TimestampTz) t)));
}

static int64
reconcile_patient(CfChunk *c, int ci, const RuleSet *rs, const CfEvalOps *ops,
				  CfReconcileMode mode, CfDifferenceFn on_difference, void *arg,
				  NewFlags *new_flags, CfFlagResult *res)
{
	int64		patient_id = c->ids[ci];
	CfPatientFacts *fp = &c->facts[ci];
	CfTime		next_check;
	CfTime		now = (CfTime) cf_now();
	CfOpenFlag *open = c->open[ci];
	int			n_open = c->n_open[ci];
	int64		changes = 0;
	CfPatientFacts facts;
	int			held_before = held_n;
	bool		quiet = false;

	if (!c->exists[ci])
		return 0;				/* patient deleted, or held by another session */
	if (mode == CF_RECONCILE_WRITE)
		quiet = patient_actions_quiet(patient_id);
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
				v[6] = from_cf_interval(&rule->due_soon_window);
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
			v[9] = from_cf_interval(&rule->due_soon_window);
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
	if (mode == CF_RECONCILE_WRITE && held_n == held_before &&
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
		run(Q_STATE, v, nulls, false, SPI_OK_INSERT);
	}
	if (quiet)
		patient_actions_release(patient_id);
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
	CfFlagResult *res;
	volatile int64 changes = 0;

	held_reset();
	if (n <= 0)
		return 0;

	cf_enter_owner_context(&oc);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	read_only_batch = (mode == CF_RECONCILE_CHECK);
	rs = *cached_rules();
	cf_calendar_ops(&ops);

	/* one result buffer for all patients (the evaluator clears it) */
	res = palloc(sizeof(CfFlagResult) * Max(rs.n, 1));
	patient_cxt = AllocSetContextCreate(CurrentMemoryContext, "careflags chunk",
										ALLOCSET_DEFAULT_SIZES);
	cf_reconciling = true;
	PG_TRY();
	{
		for (int start = 0; start < n; start += CF_CHUNK)
		{
			CfChunk		c;
			NewFlags	nf;

			CHECK_FOR_INTERRUPTS();
			memset(&nf, 0, sizeof(nf));
			old = MemoryContextSwitchTo(patient_cxt);
			memset(&c, 0, sizeof(c));
			c.n = Min(CF_CHUNK, n - start);
			c.ids = patient_ids + start;
			load_chunk(&c, mode == CF_RECONCILE_WRITE, &ops);
			for (int i = 0; i < c.n; i++)
				changes += reconcile_patient(&c, i, &rs, &ops, mode, on_difference, arg, &nf, res);
			new_flags_flush(&nf, (CfTime) cf_now());
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
