/*-------------------------------------------------------------------------
 *
 * worklist.c
 *	  What the nurse's views (careflags.worklist, careflags.actions,
 *	  careflags.my_flags, my_patients, my_flag_events) compute per query and
 *	  per row, in C: the caller's units (careflags.my_units()), a flag's
 *	  state (careflags.flag_state()), when it becomes due soon
 *	  (careflags.due_soon_from()) and the action it asks for
 *	  (careflags.action_of()).
 *
 *	  Until 1.3 these were SQL functions.  Each pins its search_path, so the
 *	  planner could not inline them: every call went through the function
 *	  manager's SET handling (a GUC nest level, search_path set and reset)
 *	  and the SQL function executor, per row of the worklist, and
 *	  my_units() planned its body afresh in every query.  A profile of a
 *	  nurse's worklist spent about half its time there.  In C they cost a
 *	  comparison or two per row.
 *
 *	  my_units() reads careflags.unit_access directly (a few hundred rows at
 *	  most) under the statement's snapshot and keeps each row whose role
 *	  exists and has the current role as a member (pg_has_role(...,
 *	  'MEMBER'), as the SQL version did).  The answer is kept for as long as
 *	  nothing it depends on can have changed: the same current role, the
 *	  same transaction, the same command (a change to unit_access in this
 *	  transaction bumps it), the same snapshot of committed transactions
 *	  (snapXactCompletionCount: any commit elsewhere gives later statements
 *	  a new count), and no invalidation of roles or role memberships since.
 *	  So under REPEATABLE READ it is resolved once per transaction; under
 *	  READ COMMITTED once per statement, as a unit taken away from a role by
 *	  another session must be gone at the transaction's next statement.
 *	  The key can only make the cache miss more often than needed, never
 *	  answer for another role or an older state (tests/core/34_security.sql,
 *	  section (g)).  On Citus unit_access is a reference table and each node
 *	  reads its own copy (extension/shard.c).
 *
 *	  reads_every_unit() switches the views' branch for roles that read
 *	  every unit; its planner support function decides it at planning for
 *	  a role that may not, so that a nurse's plan is her branch alone.  On
 *	  Citus the views read through careflags.<view>_rows()
 *	  (careflags_nurse_view_rows, at the end of this file).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/pathnodes.h"
#include "nodes/supportnodes.h"
#include "parser/parse_relation.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "calendar.h"
#include "careflags.h"
#include "owner.h"
#include "shard.h"

/* ---- the caller's units, cached per (role, snapshot) ---- */

typedef struct UnitCacheKey
{
	Oid			userid;
	LocalTransactionId lxid;
	CommandId	curcid;
	uint64		completions;
	TransactionId xmin;
	TransactionId xmax;
	uint64		role_generation;
} UnitCacheKey;

static bool unit_cache_valid = false;
static UnitCacheKey unit_cache_key;
static int	unit_cache_n = 0;
static char **unit_cache = NULL;	/* in unit_cache_cxt */
static MemoryContext unit_cache_cxt = NULL;
static uint64 role_generation = 0;
static bool role_callbacks = false;

/* A role or a role membership changed (here or, once seen, elsewhere). */
static void
roles_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	role_generation++;
}

/* Forget the cached units (their memory goes too). */
static void
unit_cache_reset(void)
{
	if (unit_cache_cxt == NULL)
		unit_cache_cxt = AllocSetContextCreate(TopMemoryContext, "careflags my_units",
											   ALLOCSET_SMALL_SIZES);
	MemoryContextReset(unit_cache_cxt);
	unit_cache = NULL;
	unit_cache_n = 0;
	unit_cache_valid = false;
}

/*
 * The key of the current state: false when there is none to cache under
 * (no active snapshot, or one without a completion count).
 */
static bool
unit_cache_current_key(UnitCacheKey *key)
{
	Snapshot	snap;

	if (!ActiveSnapshotSet())
		return false;
	snap = GetActiveSnapshot();
	if (snap->snapshot_type != SNAPSHOT_MVCC || snap->snapXactCompletionCount == 0)
		return false;
	memset(key, 0, sizeof(*key));
	key->userid = GetUserId();
	key->lxid = MyProc->lxid;
	key->curcid = snap->curcid;
	key->completions = snap->snapXactCompletionCount;
	key->xmin = snap->xmin;
	key->xmax = snap->xmax;
	key->role_generation = role_generation;
	return true;
}

/* qsort comparator for unit ids. */
static int
cmp_units(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * Read careflags.unit_access under the active snapshot and collect, sorted
 * and without duplicates, the units of the rows whose role exists and has
 * the current role as a member, into unit_cache_cxt.
 */
static void
unit_cache_fill(void)
{
	Oid			nsp = get_namespace_oid(CF_SCHEMA, false);
	Oid			relid;
	Oid			userid = GetUserId();
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;
	TupleDesc	desc;
	int			unit_att,
				role_att;
	int			cap = 16,
				n = 0,
				i,
				kept = 0;
	char	  **units;

	/*
	 * On Citus unit_access is a reference table: the table of that name is
	 * an empty shell on every node, the rows are in this node's copy (its
	 * shard), which is read instead (extension/shard.c).
	 */
	relid = cf_reference_relation(nsp, "unit_access");
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table careflags.unit_access does not exist"),
				 errhint("Run ALTER EXTENSION careflags UPDATE.")));
	rel = table_open(relid, AccessShareLock);
	desc = RelationGetDescr(rel);
	unit_att = attnameAttNum(rel, "unit_id", false);
	role_att = attnameAttNum(rel, "role", false);
	if (unit_att == InvalidAttrNumber || role_att == InvalidAttrNumber ||
		TupleDescAttr(desc, unit_att - 1)->atttypid != TEXTOID ||
		TupleDescAttr(desc, role_att - 1)->atttypid != REGROLEOID)
		elog(ERROR, "careflags.unit_access does not have the columns unit_id text and role regrole");

	units = MemoryContextAlloc(unit_cache_cxt, cap * sizeof(char *));
	scan = systable_beginscan(rel, InvalidOid, false, GetActiveSnapshot(), 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;
		Datum		role = heap_getattr(tup, role_att, desc, &isnull);
		Datum		unit;

		if (isnull)
			continue;
		if (!SearchSysCacheExists1(AUTHOID, role) ||
			!is_member_of_role(userid, DatumGetObjectId(role)))
			continue;
		unit = heap_getattr(tup, unit_att, desc, &isnull);
		if (isnull)
			continue;
		if (n == cap)
		{
			cap *= 2;
			units = repalloc(units, cap * sizeof(char *));
		}
		units[n++] = MemoryContextStrdup(unit_cache_cxt, TextDatumGetCString(unit));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	qsort(units, n, sizeof(char *), cmp_units);
	for (i = 0; i < n; i++)
	{
		if (kept == 0 || strcmp(units[kept - 1], units[i]) != 0)
			units[kept++] = units[i];
	}
	unit_cache = units;
	unit_cache_n = kept;
}

/*
 * The units whose flags the current role may see, as text[] (sorted, no
 * duplicates; '{}' for none): careflags.my_units().
 */
static ArrayType *
my_units(void)
{
	UnitCacheKey key;
	bool		have_key;
	Datum	   *elems;
	int			i;
	int			n;
	ArrayType  *result;

	if (!role_callbacks)
	{
		CacheRegisterSyscacheCallback(AUTHOID, roles_changed, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, roles_changed, (Datum) 0);
		role_callbacks = true;
	}
	/* role invalidations pending from other sessions are taken in first */
	AcceptInvalidationMessages();
	have_key = unit_cache_current_key(&key);
	if (!have_key || !unit_cache_valid || memcmp(&key, &unit_cache_key, sizeof(key)) != 0)
	{
		unit_cache_reset();
		unit_cache_fill();
		/* the membership checks may themselves have taken invalidations */
		have_key = have_key && unit_cache_current_key(&key);
		if (have_key)
		{
			memcpy(&unit_cache_key, &key, sizeof(key));
			unit_cache_valid = true;
		}
	}
	n = unit_cache_n;
	elems = palloc(Max(n, 1) * sizeof(Datum));
	for (i = 0; i < n; i++)
		elems[i] = CStringGetTextDatum(unit_cache[i]);
	result = construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT);
	if (!have_key)
		unit_cache_reset();
	return result;
}

/* careflags.my_units() (see my_units()). */
PG_FUNCTION_INFO_V1(careflags_my_units);
Datum
careflags_my_units(PG_FUNCTION_ARGS)
{
	PG_RETURN_ARRAYTYPE_P(my_units());
}

/* ---- a flag's state ---- */

/*
 * due_from - window, the window's days and months counted in
 * careflags.timezone: (due_from AT TIME ZONE tz - window) AT TIME ZONE tz,
 * computed by calendar.c with the zone looked up once per backend (by name
 * in every call, through timestamptz_zone(), it was 4 % of a worklist).
 */
static TimestampTz
due_soon_from(TimestampTz due_from, Datum window)
{
	return cf_calendar_local_minus(due_from, DatumGetIntervalP(window));
}

/* careflags.due_soon_from(due_from, window): when a flag becomes due soon. */
PG_FUNCTION_INFO_V1(careflags_due_soon_from);
Datum
careflags_due_soon_from(PG_FUNCTION_ARGS)
{
	/* declared STRICT */
	PG_RETURN_TIMESTAMPTZ(due_soon_from(PG_GETARG_TIMESTAMPTZ(0), PG_GETARG_DATUM(1)));
}

/*
 * careflags.flag_state(due_from, due_at, window, at): overdue from due_at,
 * due from due_from, due_soon from due_soon_from(), else upcoming (a NULL
 * bound is never reached, as in the SQL CASE it replaces).
 */
PG_FUNCTION_INFO_V1(careflags_flag_state);
Datum
careflags_flag_state(PG_FUNCTION_ARGS)
{
	const char *state = "upcoming";

	if (!PG_ARGISNULL(3))
	{
		TimestampTz at = PG_GETARG_TIMESTAMPTZ(3);

		if (!PG_ARGISNULL(1) && at >= PG_GETARG_TIMESTAMPTZ(1))
			state = "overdue";
		else if (!PG_ARGISNULL(0) && at >= PG_GETARG_TIMESTAMPTZ(0))
			state = "due";
		else if (!PG_ARGISNULL(0) && !PG_ARGISNULL(2) &&
				 at >= due_soon_from(PG_GETARG_TIMESTAMPTZ(0), PG_GETARG_DATUM(2)))
			state = "due_soon";
	}
	PG_RETURN_TEXT_P(cstring_to_text(state));
}

/* ---- the action a flag asks for ---- */

/* The label of an enum value, or NULL for a NULL argument. */
static const char *
enum_label(FunctionCallInfo fcinfo, int argno)
{
	HeapTuple	tup;
	char	   *label;

	if (PG_ARGISNULL(argno))
		return NULL;
	tup = SearchSysCache1(ENUMOID, PG_GETARG_DATUM(argno));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for enum value %u", PG_GETARG_OID(argno));
	label = pstrdup(NameStr(((Form_pg_enum) GETSTRUCT(tup))->enumlabel));
	ReleaseSysCache(tup);
	return label;
}

/* The action of a domain and an anchor (labels, NULL for a NULL argument). */
static const char *
action_for(const char *domain, const char *anchor)
{
	bool		plan = anchor != NULL &&
		(strcmp(anchor, "risk_result") == 0 || strcmp(anchor, "plan_evaluation") == 0);

	if (domain != NULL && strcmp(domain, "medication_review") == 0)
		return "medication_review";
	else if (domain != NULL && strcmp(domain, "nutrition") == 0)
		return plan ? "nutrition_plan" : "nutrition_screening";
	else
		return plan ? "fall_prevention_plan" : "fall_risk_assessment";
}

/*
 * The answers of one call site of action_of() in one query, by the enum
 * values' oids (InvalidOid for NULL): a worklist calls it per row with a
 * handful of distinct pairs, and each answer took two catalog look-ups.
 * Kept in fn_extra, so no longer than the query (an enum label renamed
 * meanwhile is seen by the next one).
 */
#define ACTION_MEMO_MAX 32

typedef struct ActionMemo
{
	int			n;
	Oid			domain[ACTION_MEMO_MAX];
	Oid			anchor[ACTION_MEMO_MAX];
	const char *action[ACTION_MEMO_MAX];	/* static strings */
} ActionMemo;

/*
 * careflags.action_of(domain, anchor) (clinical-rules.md §7.18):
 * medication_review; nutrition_plan or nutrition_screening; fall_prevention_plan
 * or fall_risk_assessment, the plans for the anchors risk_result and
 * plan_evaluation.
 */
PG_FUNCTION_INFO_V1(careflags_action_of);
Datum
careflags_action_of(PG_FUNCTION_ARGS)
{
	Oid			dom = PG_ARGISNULL(0) ? InvalidOid : PG_GETARG_OID(0);
	Oid			anc = PG_ARGISNULL(1) ? InvalidOid : PG_GETARG_OID(1);
	ActionMemo *memo = (ActionMemo *) fcinfo->flinfo->fn_extra;
	const char *action;

	if (memo == NULL)
	{
		memo = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ActionMemo));
		fcinfo->flinfo->fn_extra = memo;
	}
	for (int i = 0; i < memo->n; i++)
		if (memo->domain[i] == dom && memo->anchor[i] == anc)
			PG_RETURN_TEXT_P(cstring_to_text(memo->action[i]));
	action = action_for(enum_label(fcinfo, 0), enum_label(fcinfo, 1));
	if (memo->n < ACTION_MEMO_MAX)
	{
		memo->domain[memo->n] = dom;
		memo->anchor[memo->n] = anc;
		memo->action[memo->n] = action;
		memo->n++;
	}
	PG_RETURN_TEXT_P(cstring_to_text(action));
}

/* ---- roles that read every unit ---- */

/*
 * Can the current role SELECT every table of the regclass[] array (as
 * has_table_privilege() does)?  A NULL element or an empty array: no.
 */
static bool
reads_every_table(ArrayType *tables)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	Oid			userid = GetUserId();

	deconstruct_array(tables, REGCLASSOID, sizeof(Oid), true, TYPALIGN_INT, &elems, &nulls, &n);
	if (n == 0)
		return false;
	for (int i = 0; i < n; i++)
	{
		if (nulls[i] || pg_class_aclcheck(DatumGetObjectId(elems[i]), userid, ACL_SELECT) != ACLCHECK_OK)
			return false;
	}
	return true;
}

/*
 * careflags.reads_every_unit(tables regclass[]): may the current role read
 * every table given?  The nurse's views show such a role (careflags_admin,
 * a superuser) every unit through a second branch, and everyone else their
 * units (my_units()).
 */
PG_FUNCTION_INFO_V1(careflags_reads_every_unit);
Datum
careflags_reads_every_unit(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(reads_every_table(PG_GETARG_ARRAYTYPE_P(0)));
}

/*
 * Planner support of careflags.reads_every_unit() (SupportRequestSimplify):
 * when the query is planned and the tables are constants, a role that may
 * not read them gets the constant false, so that the planner drops the
 * views' branch for roles that read every unit: a nurse's plan is her
 * branch alone (issue 18: that branch was planned, costed and started for
 * every nurse's query only to be switched off).  For a role that may read
 * them the call stays and is decided again at run time.  Either way the
 * plan is marked as depending on the role (PlannerGlobal.dependsOnRole), so
 * that a cached plan is planned again when another role uses it; and since
 * only the nurse's branch, which filters by the caller's units at run time
 * anyway, is ever kept without a run-time check, a plan that outlived a
 * privilege never shows more than the role may see.
 */
PG_FUNCTION_INFO_V1(careflags_reads_every_unit_support);
Datum
careflags_reads_every_unit_support(PG_FUNCTION_ARGS)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);
	SupportRequestSimplify *req;
	Node	   *arg;

	if (!IsA(rawreq, SupportRequestSimplify))
		PG_RETURN_POINTER(NULL);
	req = (SupportRequestSimplify *) rawreq;
	if (req->root == NULL || list_length(req->fcall->args) != 1)
		PG_RETURN_POINTER(NULL);
	arg = (Node *) linitial(req->fcall->args);
	if (!IsA(arg, Const) || ((Const *) arg)->constisnull)
		PG_RETURN_POINTER(NULL);
	req->root->glob->dependsOnRole = true;
	if (reads_every_table(DatumGetArrayTypeP(((Const *) arg)->constvalue)))
		PG_RETURN_POINTER(NULL);
	PG_RETURN_POINTER(makeBoolConst(false, false));
}

/* ---- the nurse's views on a Citus cluster ---- */

/*
 * What each view of every row reads: the view the rows come from, and the
 * tables a role must be able to read to see every unit (as in the view on
 * one server).
 */
typedef struct NurseRows
{
	const char *all_view;
	const char *every[2];
} NurseRows;

static const NurseRows nurse_rows[] = {
	{"worklist_all", {"flag", "patient"}},
	{"my_flags_all", {"flag", NULL}},
	{"my_patients_all", {"patient", NULL}},
	{"my_flag_events_all", {"flag_event", NULL}},
};

/*
 * careflags.<view>_rows(): on a Citus cluster, the rows of the nurse's view
 * <view> for the caller, as careflags.distribute() redefines the view.
 *
 * Citus reads a view's shards as the user who queries it, not as the view's
 * owner (https://github.com/citusdata/citus/issues/1683): a nurse, who may
 * read no base table, would be refused on every shard.  So the units and the
 * right to read every unit are decided here as the caller (my_units(), the
 * table privileges), and the rows are then read as the extension owner from
 * careflags.<view>_all (the same rows, every unit, joined by patient and to
 * reference tables, which Citus pushes down to the shards), keeping only
 * those units: unit_id = ANY (units) OR every.  The caller names nothing:
 * which view is read follows from the function's own return type.
 */
PG_FUNCTION_INFO_V1(careflags_nurse_view_rows);
Datum
careflags_nurse_view_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			rettype = get_func_rettype(fcinfo->flinfo->fn_oid);
	Oid			relid = get_typ_typrelid(rettype);
	const char *relname = OidIsValid(relid) ? get_rel_name(relid) : NULL;
	Oid			nsp = get_namespace_oid(CF_SCHEMA, false);
	const NurseRows *nr = NULL;
	bool		every = true;
	ArrayType  *units;
	Oid			types[2] = {TEXTARRAYOID, BOOLOID};
	Datum		values[2];
	CfOwnerContext oc;
	MemoryContext per_query;
	MemoryContext old;
	Tuplestorestate *store;
	TupleDesc	desc;
	char	   *query;
	Portal		portal;

	for (int i = 0; i < (int) lengthof(nurse_rows) && relname != NULL; i++)
		if (strcmp(nurse_rows[i].all_view, relname) == 0 && get_rel_namespace(relid) == nsp)
			nr = &nurse_rows[i];
	if (nr == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("careflags_nurse_view_rows must return the rows of a careflags.*_all view")));
	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) || (rsinfo->allowedModes & SFRM_Materialize) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));

	/* as the caller: her units, and whether she may read every unit */
	units = my_units();
	for (int i = 0; i < 2 && nr->every[i] != NULL; i++)
	{
		Oid			t = get_relname_relid(nr->every[i], nsp);

		if (!OidIsValid(t) || pg_class_aclcheck(t, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
			every = false;
	}
	values[0] = PointerGetDatum(units);
	values[1] = BoolGetDatum(every);

	per_query = rsinfo->econtext->ecxt_per_query_memory;
	old = MemoryContextSwitchTo(per_query);
	desc = lookup_rowtype_tupdesc_copy(rettype, -1);
	store = tuplestore_begin_heap(true, false, work_mem);
	MemoryContextSwitchTo(old);

	/* as the owner: the rows of those units */
	query = psprintf("SELECT * FROM %s v WHERE v.unit_id OPERATOR(pg_catalog.=) ANY ($1) OR $2",
					 quote_qualified_identifier(CF_SCHEMA, relname));
	cf_enter_owner_context(&oc);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	portal = SPI_cursor_open_with_args(NULL, query, 2, types, values, NULL, true, 0);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, 1000);
		if (SPI_processed == 0)
			break;
		old = MemoryContextSwitchTo(per_query);
		for (uint64 i = 0; i < SPI_processed; i++)
			tuplestore_puttuple(store, SPI_tuptable->vals[i]);
		MemoryContextSwitchTo(old);
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	SPI_finish();
	cf_leave_owner_context(&oc);

	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = store;
	rsinfo->setDesc = desc;
	return (Datum) 0;
}
