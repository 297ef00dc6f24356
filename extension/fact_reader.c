/*-------------------------------------------------------------------------
 *
 * fact_reader.c
 *	  Read a chunk of patients' facts and open flags into the evaluator's
 *	  structs, straight from the tables' patient indexes.
 *
 *	  Every evaluation reads a patient's current episode, assessments, the
 *	  recent part of the weight series, active medicines, reviews, plans,
 *	  falls, exemptions and open flags: a dozen short index range scans.
 *	  Through SPI each would cost an executor start-up, a plan check, result
 *	  tuples formed and copied, and a sort; here each is an index rescan with
 *	  the patient's id as key, the columns taken from the table's own tuple
 *	  in the buffer (the way ri_triggers.c and the catalog code read), and
 *	  the few rows of a patient sorted in C.  Reading 500 patients costs one
 *	  scan set-up per table and one index descent per patient and table.
 *
 *	  Visibility is the active snapshot's, as SPI's read-only queries would
 *	  see; the caller pushes a fresh one after locking the patients.  The
 *	  indexes are found by name in the careflags schema: they are part of the
 *	  install script, and a missing one is reported as such.
 *
 *	  What is read of the measurements and medicines is what the rules can
 *	  use (see the comments at read_measurements and read_medications).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/itup.h"
#include "access/relscan.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_enum.h"
#include "executor/tuptable.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/date.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "careflags.h"
#include "fact_reader.h"
#include "scores.h"
#include "shard.h"

/* ---- one table, read through one of its indexes ---- */

/*
 * A scan of one table through an index led by patient_id, over the patients
 * of a chunk: their index entries, patients in descending id order, each
 * patient's entries in descending index order (newest first for an index
 * on (patient_id, ..., time)).  The key columns are read from the index
 * tuple, so an entry that is not wanted costs no heap access (ts_fetch
 * fetches the row).
 *
 * A chunk whose ids lie close enough together for the table (recompute_all,
 * a bulk load, the worker's larger batches; see range_is_cheaper) is read
 * with one range scan over the ids, unless the caller reads only the head
 * of each patient's entries; otherwise each patient costs a descent of the
 * index.
 */
typedef struct TableScan
{
	Relation	heap;
	Relation	index;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	ScanKeyData key[2];
	const CfChunk *c;
	bool		range;			/* one scan over the chunk's id range */
	int			k;				/* the patient being read (index in chunk) */
	int			next;			/* per patient: the next patient to descend to */
	int64		pid;			/* range: patient_id of the last entry */
	bool		have_pid;
	bool		first;			/* per patient: no entry returned yet */
	bool		skip;			/* the rest of this patient's entries are not wanted */
} TableScan;

static Oid
careflags_namespace(void)
{
	return get_namespace_oid(CF_SCHEMA, false);
}

static Oid
relation_in_schema(Oid nsp, const char *table, const char *name, bool index)
{
	Oid			relid = cf_relation_to_read(nsp, table, index ? name : NULL);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("careflags: %s careflags.%s is missing", index ? "index" : "table", name),
				 errhint("careflags reads facts through the indexes of its install script; "
						 "recreate it as that script defines it.")));
	return relid;
}

/* reltuples of a relation in pg_class (-1 when unknown) */
static double
rel_tuples(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	double		n = -1;

	if (HeapTupleIsValid(tup))
	{
		n = ((Form_pg_class) GETSTRUCT(tup))->reltuples;
		ReleaseSysCache(tup);
	}
	return n;
}

/*
 * Is one scan over the chunk's id range cheaper than a descent per patient?
 * The range reads every entry of the patients in between, the wanted and
 * the others: with g ids per wanted patient and e entries per patient (the
 * statistics' estimate), about g * e entries per patient instead of one
 * descent (some 30 entries' worth of work: a few pages and binary searches).
 */
static bool
range_is_cheaper(Relation index, Oid nsp, const CfChunk *c)
{
	double		gap = (double) (c->ids[c->n - 1] - c->ids[0] + 1) / c->n;
	double		entries = index->rd_rel->reltuples;
	double		patients = rel_tuples(cf_relation_to_read(nsp, "patient", NULL));
	double		per_patient = (entries > 0 && patients > 0) ? Max(entries / patients, 1.0) : 1.0;

	return gap * per_patient <= 32.0;
}

/*
 * Open table for a chunk's scan through index (or, when that index is not
 * there, through the one an older install script made, if given).
 */
static void
ts_open_either(TableScan *t, Oid nsp, const char *table, const char *index,
			   const char *older_index, const CfChunk *c, Snapshot snap, bool may_range)
{
	Oid			indexid = cf_relation_to_read(nsp, table, index);

	if (!OidIsValid(indexid) && older_index != NULL)
		indexid = relation_in_schema(nsp, table, older_index, true);
	else if (!OidIsValid(indexid))
		indexid = relation_in_schema(nsp, table, index, true);
	memset(t, 0, sizeof(*t));
	t->heap = table_open(relation_in_schema(nsp, table, table, false), AccessShareLock);
	t->index = index_open(indexid, AccessShareLock);
	t->c = c;
	t->range = may_range && c->n > 1 && range_is_cheaper(t->index, nsp, c);
	t->slot = table_slot_create(t->heap, NULL);
	if (t->range)
	{
		ScanKeyInit(&t->key[0], 1, BTGreaterEqualStrategyNumber, F_INT8GE, Int64GetDatum(c->ids[0]));
		ScanKeyInit(&t->key[1], 1, BTLessEqualStrategyNumber, F_INT8LE, Int64GetDatum(c->ids[c->n - 1]));
		t->scan = index_beginscan(t->heap, t->index, snap, 2, 0);
		t->scan->xs_want_itup = true;
		index_rescan(t->scan, t->key, 2, NULL, 0);
	}
	else
	{
		ScanKeyInit(&t->key[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(0));
		t->scan = index_beginscan(t->heap, t->index, snap, 1, 0);
		t->scan->xs_want_itup = true;
		t->next = c->n - 1;
		t->k = -1;
	}
}

static void
ts_open(TableScan *t, Oid nsp, const char *table, const char *index, const CfChunk *c,
		Snapshot snap)
{
	ts_open_either(t, nsp, table, index, NULL, c, snap, true);
}

/* index of id in the chunk's sorted ids, -1 if absent */
static int
chunk_index(const CfChunk *c, int64 id)
{
	int			lo = 0,
				hi = c->n - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if (c->ids[mid] == id)
			return mid;
		if (c->ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/*
 * The next wanted index entry: *patient its patient's index in the chunk,
 * *first whether it is that patient's first entry.  False at the end.
 */
static bool
ts_next_entry(TableScan *t, int *patient, bool *first)
{
	if (t->range)
	{
		for (;;)
		{
			int64		pid;
			bool		isnull;

			if (index_getnext_tid(t->scan, BackwardScanDirection) == NULL)
				return false;
			pid = DatumGetInt64(index_getattr(t->scan->xs_itup, 1, t->scan->xs_itupdesc, &isnull));
			if (t->have_pid && pid == t->pid)
			{
				if (t->k < 0 || t->skip)
					continue;
				*patient = t->k;
				*first = false;
				return true;
			}
			t->pid = pid;
			t->have_pid = true;
			t->skip = false;
			t->k = chunk_index(t->c, pid);
			if (t->k < 0)
				continue;
			*patient = t->k;
			*first = true;
			return true;
		}
	}
	for (;;)
	{
		if (t->k >= 0 && !t->skip &&
			index_getnext_tid(t->scan, BackwardScanDirection) != NULL)
		{
			*patient = t->k;
			*first = t->first;
			t->first = false;
			return true;
		}
		if (t->next < 0)
			return false;
		t->k = t->next--;
		t->key[0].sk_argument = Int64GetDatum(t->c->ids[t->k]);
		index_rescan(t->scan, t->key, 1, NULL, 0);
		t->first = true;
		t->skip = false;
	}
}

/* The rest of the current patient's entries are not wanted. */
static inline void
ts_skip_patient(TableScan *t)
{
	t->skip = true;
}

/* Fetch the row of the current entry; false if it is not visible. */
static inline bool
ts_fetch(TableScan *t)
{
	return index_fetch_heap(t->scan, t->slot);
}

/* A key column of the current entry, from the index tuple. */
static inline Datum
ts_key(TableScan *t, int column, bool *isnull)
{
	return index_getattr(t->scan->xs_itup, column, t->scan->xs_itupdesc, isnull);
}

static void
ts_close(TableScan *t)
{
	index_endscan(t->scan);
	ExecDropSingleTupleTableSlot(t->slot);
	index_close(t->index, NoLock);
	table_close(t->heap, NoLock);
}

/* Column number by name (the tables' layout is the install script's). */
static AttrNumber
col_of(const TableScan *t, const char *name)
{
	TupleDesc	td = RelationGetDescr(t->heap);

	for (int i = 0; i < td->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(td, i);

		if (!a->attisdropped && strcmp(NameStr(a->attname), name) == 0)
			return a->attnum;
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("careflags: column %s of careflags.%s is missing", name,
					RelationGetRelationName(t->heap))));
	return InvalidAttrNumber;	/* keep the compiler quiet */
}

/* Column number by name, InvalidAttrNumber when the table lacks it. */
static AttrNumber
col_of_opt(const TableScan *t, const char *name)
{
	TupleDesc	td = RelationGetDescr(t->heap);

	for (int i = 0; i < td->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(td, i);

		if (!a->attisdropped && strcmp(NameStr(a->attname), name) == 0)
			return a->attnum;
	}
	return InvalidAttrNumber;
}

static inline CfTime
get_time(TableScan *t, AttrNumber a)
{
	bool		isnull;
	Datum		d = slot_getattr(t->slot, a, &isnull);

	return isnull ? CF_TIME_NONE : (CfTime) DatumGetTimestampTz(d);
}

static inline int64
get_int8(TableScan *t, AttrNumber a, int64 if_null)
{
	bool		isnull;
	Datum		d = slot_getattr(t->slot, a, &isnull);

	return isnull ? if_null : DatumGetInt64(d);
}

static inline int32
get_int4(TableScan *t, AttrNumber a, int32 if_null)
{
	bool		isnull;
	Datum		d = slot_getattr(t->slot, a, &isnull);

	return isnull ? if_null : DatumGetInt32(d);
}

static inline bool
get_bool(TableScan *t, AttrNumber a)
{
	bool		isnull;
	Datum		d = slot_getattr(t->slot, a, &isnull);

	return !isnull && DatumGetBool(d);
}

static inline char *
get_text(TableScan *t, AttrNumber a)
{
	bool		isnull;
	Datum		d = slot_getattr(t->slot, a, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* numeric as float8; is_null tells a NULL apart (then 0) */
static inline double
get_numeric(TableScan *t, AttrNumber a, bool *is_null)
{
	bool		isnull;
	Datum		d = slot_getattr(t->slot, a, &isnull);

	if (is_null)
		*is_null = isnull;
	return isnull ? 0.0 : DatumGetFloat8(DirectFunctionCall1(numeric_float8, d));
}

/* ---- enum labels ---- */

#define LABEL_MEMO 32

typedef struct LabelMemo
{
	int			n;
	Oid			oid[LABEL_MEMO];
	const char *label[LABEL_MEMO];
} LabelMemo;

/* The label of an enum value (NULL for NULL), memoised for the chunk. */
static const char *
get_label(TableScan *t, AttrNumber a, LabelMemo *memo)
{
	bool		isnull;
	Datum		d = slot_getattr(t->slot, a, &isnull);
	Oid			oid;
	HeapTuple	tup;
	char	   *label;

	if (isnull)
		return NULL;
	oid = DatumGetObjectId(d);
	for (int i = 0; i < memo->n; i++)
		if (memo->oid[i] == oid)
			return memo->label[i];
	tup = SearchSysCache1(ENUMOID, ObjectIdGetDatum(oid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "careflags: enum value %u not found", oid);
	label = pstrdup(NameStr(((Form_pg_enum) GETSTRUCT(tup))->enumlabel));
	ReleaseSysCache(tup);
	if (memo->n < LABEL_MEMO)
	{
		memo->oid[memo->n] = oid;
		memo->label[memo->n++] = label;
	}
	return label;
}

/* ---- collecting rows per patient ---- */

/* Sort key of a row: its time, then its id, as the rows' ORDER BY was. */
typedef struct SortKey
{
	CfTime		t;
	int64		id;
	int			pos;
} SortKey;

static int
cmp_sort_key(const void *a, const void *b)
{
	const SortKey *x = a;
	const SortKey *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return 0;
}

/*
 * Rows of one struct type for a whole chunk: each patient's rows gathered
 * in `tmp`, sorted by key, appended to `all`; start/count per patient.
 */
typedef struct Collect
{
	size_t		size;
	char	   *all;
	int			n_all;
	int			cap_all;
	char	   *tmp;
	int			n_tmp;
	int			cap_tmp;
	SortKey    *keys;
	int		   *start;
	int		   *count;
} Collect;

static void
collect_init(Collect *c, size_t size, int n_patients)
{
	memset(c, 0, sizeof(*c));
	c->size = size;
	c->start = palloc0(sizeof(int) * n_patients);
	c->count = palloc0(sizeof(int) * n_patients);
}

static inline void
collect_patient(Collect *c)
{
	c->n_tmp = 0;
}

/* A zeroed row for the current patient, sorted later by (t, id). */
static void *
collect_row(Collect *c, CfTime t, int64 id)
{
	void	   *row;

	if (c->n_tmp == c->cap_tmp)
	{
		c->cap_tmp = c->cap_tmp ? c->cap_tmp * 2 : 16;
		c->tmp = c->tmp ? repalloc(c->tmp, c->size * c->cap_tmp) : palloc(c->size * c->cap_tmp);
		c->keys = c->keys ? repalloc(c->keys, sizeof(SortKey) * c->cap_tmp) :
			palloc(sizeof(SortKey) * c->cap_tmp);
	}
	row = c->tmp + c->size * c->n_tmp;
	memset(row, 0, c->size);
	c->keys[c->n_tmp].t = t;
	c->keys[c->n_tmp].id = id;
	c->keys[c->n_tmp].pos = c->n_tmp;
	c->n_tmp++;
	return row;
}

static void
collect_done(Collect *c, int i)
{
	if (c->n_tmp > 1)
		qsort(c->keys, c->n_tmp, sizeof(SortKey), cmp_sort_key);
	if (c->n_all + c->n_tmp > c->cap_all)
	{
		c->cap_all = Max(c->cap_all * 2, c->n_all + c->n_tmp + 64);
		c->all = c->all ? repalloc(c->all, c->size * c->cap_all) : palloc(c->size * c->cap_all);
	}
	c->start[i] = c->n_all;
	c->count[i] = c->n_tmp;
	for (int j = 0; j < c->n_tmp; j++)
		memcpy(c->all + c->size * (c->n_all + j), c->tmp + c->size * c->keys[j].pos, c->size);
	c->n_all += c->n_tmp;
}

/* The patient's first row in the final array (NULL when none). */
static inline void *
collect_base(const Collect *c, int i)
{
	return c->count[i] > 0 ? c->all + c->size * c->start[i] : NULL;
}

/* ---- the tables ---- */

typedef struct Reader
{
	CfChunk    *c;
	Oid			nsp;
	Snapshot	snap;
	CfTime		now;
	const CfEvalOps *ops;
	LabelMemo	labels;
} Reader;

/* The enum labels of CfSetting, in its order. */
static const char *const setting_names[CF_SET_COUNT] = {
	"nursing_home_long_term", "nursing_home_short_term", "home_nursing", "home_services", "gp"
};

int
cf_setting_from_name(const char *s)
{
	if (s == NULL)
		return -1;
	for (int i = 0; i < CF_SET_COUNT; i++)
		if (strcmp(s, setting_names[i]) == 0)
			return i;
	return -1;
}

const char *
cf_setting_name(CfSetting s)
{
	return setting_names[s];
}

void
cf_patient_columns(TupleDesc td, CfPatientColumns *cols)
{
	cols->birth_date = cols->deceased = cols->deceased_at = InvalidAttrNumber;
	for (int k = 0; k < td->natts; k++)
	{
		Form_pg_attribute a = TupleDescAttr(td, k);
		const char *name = NameStr(a->attname);

		if (a->attisdropped)
			continue;
		if (strcmp(name, "birth_date") == 0)
			cols->birth_date = a->attnum;
		else if (strcmp(name, "deceased") == 0)
			cols->deceased = a->attnum;
		else if (strcmp(name, "deceased_at") == 0)
			cols->deceased_at = a->attnum;
	}
	if (cols->birth_date == InvalidAttrNumber || cols->deceased == InvalidAttrNumber ||
		cols->deceased_at == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("careflags: careflags.patient lacks birth_date, deceased or deceased_at")));
}

void
cf_chunk_patient_from_slot(CfChunk *c, int i, TupleTableSlot *slot, const CfPatientColumns *cols)
{
	CfPatientFacts *f = &c->facts[i];
	bool		isnull;
	Datum		d;

	c->exists[i] = true;
	d = slot_getattr(slot, cols->birth_date, &isnull);
	f->has_birth_date = !isnull;
	if (!isnull)
		f->birth_date = DatumGetDateADT(d);
	d = slot_getattr(slot, cols->deceased, &isnull);
	f->deceased = !isnull && DatumGetBool(d);
	d = slot_getattr(slot, cols->deceased_at, &isnull);
	f->deceased_at = isnull ? CF_TIME_NONE : (CfTime) DatumGetTimestampTz(d);
}

/*
 * Keep a Collect in step with a scan: a patient's first entry closes the
 * previous patient's rows and opens this one's.
 */
static inline void
collect_switch(Collect *col, int *prev, int i, bool first)
{
	if (!first)
		return;
	if (*prev >= 0)
		collect_done(col, *prev);
	collect_patient(col);
	*prev = i;
}

static inline void
collect_finish(Collect *col, int prev)
{
	if (prev >= 0)
		collect_done(col, prev);
}

static void
read_patients(Reader *r)
{
	CfChunk    *c = r->c;
	TableScan	s;
	AttrNumber	a_next;
	int			i;
	bool		first;

	if (!c->patients_read)
	{
		TableScan	p;
		CfPatientColumns cols;

		ts_open(&p, r->nsp, "patient", "patient_pkey", c, r->snap);
		cf_patient_columns(RelationGetDescr(p.heap), &cols);
		while (ts_next_entry(&p, &i, &first))
			if (ts_fetch(&p))
				cf_chunk_patient_from_slot(c, i, p.slot, &cols);
		ts_close(&p);
		c->patients_read = true;
	}
	for (i = 0; i < c->n; i++)
		c->old_next[i] = CF_TIME_NEVER;
	ts_open(&s, r->nsp, "patient_state", "patient_state_pkey", c, r->snap);
	a_next = col_of(&s, "next_check_at");
	while (ts_next_entry(&s, &i, &first))
	{
		CfTime		t;

		if (!ts_fetch(&s))
			continue;
		t = get_time(&s, a_next);
		c->has_state[i] = true;
		c->old_next[i] = t == CF_TIME_NONE ? CF_TIME_NEVER : t;
	}
	ts_close(&s);
}

static void
read_episodes(Reader *r)
{
	CfChunk    *c = r->c;
	TableScan	t;
	Collect		col;
	AttrNumber	a_id,
				a_setting,
				a_unit,
				a_start,
				a_end;
	int			i,
				prev = -1;
	bool		first;

	ts_open(&t, r->nsp, "episode", "episode_pkey", c, r->snap);
	a_id = col_of(&t, "episode_id");
	a_setting = col_of(&t, "setting");
	a_unit = col_of(&t, "unit_id");
	a_start = col_of(&t, "started_at");
	a_end = col_of(&t, "ended_at");
	collect_init(&col, sizeof(CfEpisode), c->n);
	while (ts_next_entry(&t, &i, &first))
	{
		int64		id;
		CfTime		start;
		CfEpisode  *e;
		int			s;

		collect_switch(&col, &prev, i, first);
		if (!ts_fetch(&t))
			continue;
		id = get_int8(&t, a_id, 0);
		start = get_time(&t, a_start);
		e = collect_row(&col, start, id);
		s = cf_setting_from_name(get_label(&t, a_setting, &r->labels));
		e->episode_id = id;
		e->setting = s < 0 ? CF_SET_GP : (CfSetting) s;
		e->unit_id = get_text(&t, a_unit);
		e->started_at = start;
		e->ended_at = get_time(&t, a_end);
	}
	collect_finish(&col, prev);
	for (i = 0; i < c->n; i++)
	{
		c->facts[i].episodes = collect_base(&col, i);
		c->facts[i].n_episodes = col.count[i];
	}
	ts_close(&t);
}

static void
read_assessments(Reader *r)
{
	CfChunk    *c = r->c;
	TableScan	t;
	Collect		col;
	AttrNumber	a_id,
				a_inst,
				a_at,
				a_total,
				a_risk;
	int			i,
				prev = -1;
	bool		first;

	ts_open(&t, r->nsp, "assessment", "assessment_patient_time", c, r->snap);
	a_id = col_of(&t, "assessment_id");
	a_inst = col_of(&t, "instrument");
	a_at = col_of(&t, "assessed_at");
	a_total = col_of(&t, "total");
	a_risk = col_of(&t, "at_risk");
	collect_init(&col, sizeof(CfAssessment), c->n);
	while (ts_next_entry(&t, &i, &first))
	{
		CfTime		at;
		CfAssessment *a;
		const char *inst;
		int			k;
		bool		no_total;

		collect_switch(&col, &prev, i, first);
		if (!ts_fetch(&t))
			continue;
		at = get_time(&t, a_at);
		a = collect_row(&col, at, get_int8(&t, a_id, 0));
		a->id = get_int8(&t, a_id, 0);
		inst = get_label(&t, a_inst, &r->labels);
		k = cf_instrument_from_name(inst);
		a->instrument = inst;
		a->domain = (k >= 0 && cf_instrument_is_nutrition((CfInstrument) k)) ?
			CF_DOM_NUTRITION : CF_DOM_FALL_RISK;
		a->assessed_at = at;
		a->total = get_numeric(&t, a_total, &no_total);
		a->scored = !no_total;
		a->at_risk = get_bool(&t, a_risk);
	}
	collect_finish(&col, prev);
	for (i = 0; i < c->n; i++)
	{
		c->facts[i].assessments = collect_base(&col, i);
		c->facts[i].n_assessments = col.count[i];
	}
	ts_close(&t);
}

/*
 * Of the measurement series only what the weight rule can use: weights from
 * 7 months before the latest one up to now (the rule looks back 6 calendar
 * months) and every later-dated one; the latest height and BMI; and any
 * other measurement dated after now (it sets the next check).
 *
 * The index is (patient_id, kind, measured_at): each kind comes newest
 * first, kind and time from the index tuple, so a row that cannot matter
 * costs no heap access, and the patient is done when the kind that sorts
 * first has nothing more to give.
 */
static void
read_measurements(Reader *r)
{
	static const CfInterval seven_months = {7, 0, 0};
	CfChunk    *c = r->c;
	TableScan	t;
	Collect		col;
	AttrNumber	a_id,
				a_value;
	int			n_kinds = 0;
	int			first_kind = 0;
	Oid			kind_oid[16];
	CfMeasurementKind kind[16];
	CfTime		latest[16];		/* per kind, the latest visible one up to now */
	CfTime		from[16];
	bool		done[16];
	int			i,
				prev = -1;
	bool		first;

	/*
	 * A patient's series is long and mostly not wanted: a descent per
	 * patient that stops early reads less than one pass over the chunk.
	 */
	ts_open_either(&t, r->nsp, "measurement", "measurement_patient_time", NULL, c, r->snap, false);
	a_id = col_of(&t, "measurement_id");
	a_value = col_of(&t, "value");
	{
		Oid			typid = TupleDescAttr(RelationGetDescr(t.heap), col_of(&t, "kind") - 1)->atttypid;
		CatCList   *list = SearchSysCacheList1(ENUMTYPOIDNAME, ObjectIdGetDatum(typid));
		float4		lowest = 0;

		for (int k = 0; k < list->n_members && n_kinds < (int) lengthof(kind_oid); k++)
		{
			Form_pg_enum e = (Form_pg_enum) GETSTRUCT(&list->members[k]->tuple);
			const char *l = NameStr(e->enumlabel);

			if (n_kinds == 0 || e->enumsortorder < lowest)
			{
				lowest = e->enumsortorder;
				first_kind = n_kinds;
			}
			kind_oid[n_kinds] = e->oid;
			kind[n_kinds++] = strcmp(l, "weight") == 0 ? CF_MEAS_WEIGHT :
				strcmp(l, "height") == 0 ? CF_MEAS_HEIGHT :
				strcmp(l, "bmi") == 0 ? CF_MEAS_BMI : CF_MEAS_CALF;
		}
		ReleaseSysCacheList(list);
	}
	collect_init(&col, sizeof(CfMeasurement), c->n);
	while (ts_next_entry(&t, &i, &first))
	{
		bool		isnull;
		Oid			oid = DatumGetObjectId(ts_key(&t, 2, &isnull));
		CfTime		at = (CfTime) DatumGetTimestampTz(ts_key(&t, 3, &isnull));
		CfMeasurement *m;
		int			k = 0;

		collect_switch(&col, &prev, i, first);
		if (first)
			for (int j = 0; j < n_kinds; j++)
			{
				latest[j] = CF_TIME_NONE;
				done[j] = false;
			}
		while (k < n_kinds && kind_oid[k] != oid)
			k++;
		if (k == n_kinds)
			continue;
		if (!done[k] && at <= r->now)
		{
			if (latest[k] != CF_TIME_NONE)
				done[k] = kind[k] != CF_MEAS_WEIGHT || at < from[k];
			else if (kind[k] == CF_MEAS_CALF)
				done[k] = true;
		}
		if (done[k])
		{
			if (k == first_kind)
				ts_skip_patient(&t);
			continue;
		}
		if (!ts_fetch(&t))
			continue;			/* not visible */
		if (at <= r->now && latest[k] == CF_TIME_NONE)
		{
			latest[k] = at;
			from[k] = r->ops->add_interval(r->ops->arg, at, &seven_months, -1);
		}
		m = collect_row(&col, at, get_int8(&t, a_id, 0));
		m->kind = kind[k];
		m->value = get_numeric(&t, a_value, NULL);
		m->measured_at = at;
	}
	collect_finish(&col, prev);
	for (i = 0; i < c->n; i++)
	{
		c->facts[i].measurements = collect_base(&col, i);
		c->facts[i].n_measurements = col.count[i];
	}
	ts_close(&t);
}

/*
 * Medicines that can still be active: not cancelled or entered in error,
 * not stopped before now (they can neither count nor be a FRID any more),
 * and not marked stopped or completed without a stop time.  The index is
 * (patient_id, stopped_at): the ones without a stop time come first, then
 * the latest stops, up to the first one stopped before now; the stop time
 * comes from the index tuple, so the long-stopped ones are never fetched.
 * (A database still at version 1.1, before ALTER EXTENSION ... UPDATE, has
 * the index on patient_id alone: then every medicine is fetched.)
 */
static void
read_medications(Reader *r)
{
	CfChunk    *c = r->c;
	TableScan	t;
	Collect		col;
	AttrNumber	a_id,
				a_atc,
				a_code,
				a_name,
				a_start,
				a_prn,
				a_status,
				a_stop;
	int			i,
				prev = -1;
	bool		first;
	bool		by_stop;

	ts_open_either(&t, r->nsp, "medication", "medication_patient_stop", "medication_patient", c, r->snap, true);
	by_stop = t.index->rd_index->indnatts >= 2;
	a_stop = col_of(&t, "stopped_at");
	a_id = col_of(&t, "medication_id");
	a_atc = col_of(&t, "atc");
	a_code = col_of(&t, "code");
	a_name = col_of(&t, "name");
	a_start = col_of(&t, "started_at");
	a_prn = col_of(&t, "as_needed");
	a_status = col_of(&t, "status");
	collect_init(&col, sizeof(CfMedication), c->n);
	while (ts_next_entry(&t, &i, &first))
	{
		bool		isnull;
		CfTime		stop = CF_TIME_NONE;
		CfTime		start;
		const char *status;
		int64		id;
		CfMedication *m;

		collect_switch(&col, &prev, i, first);
		if (by_stop)
		{
			Datum		d = ts_key(&t, 2, &isnull);

			stop = isnull ? CF_TIME_NONE : (CfTime) DatumGetTimestampTz(d);
			if (stop != CF_TIME_NONE && stop <= r->now)
			{
				ts_skip_patient(&t);
				continue;
			}
		}
		if (!ts_fetch(&t))
			continue;			/* not visible */
		if (!by_stop)
		{
			stop = get_time(&t, a_stop);
			if (stop != CF_TIME_NONE && stop <= r->now)
				continue;
		}
		status = get_label(&t, a_status, &r->labels);
		if (status != NULL &&
			(strcmp(status, "cancelled") == 0 || strcmp(status, "entered_in_error") == 0 ||
			 (stop == CF_TIME_NONE &&
			  (strcmp(status, "stopped") == 0 || strcmp(status, "completed") == 0))))
			continue;
		id = get_int8(&t, a_id, 0);
		start = get_time(&t, a_start);
		m = collect_row(&col, start, id);
		m->atc = get_text(&t, a_atc);
		m->key = m->atc;
		if (m->key == NULL)
			m->key = get_text(&t, a_code);
		if (m->key == NULL)
			m->key = psprintf("medication/%lld", (long long) id);
		m->name = get_text(&t, a_name);
		m->started_at = start;
		m->stopped_at = stop;
		m->as_needed = get_bool(&t, a_prn);
		m->cancelled = false;
	}
	collect_finish(&col, prev);
	for (i = 0; i < c->n; i++)
	{
		c->facts[i].medications = collect_base(&col, i);
		c->facts[i].n_medications = col.count[i];
	}
	ts_close(&t);
}

/* A fact of which only its time and id are read. */
typedef struct TimedId
{
	CfTime		at;
	int64		id;
} TimedId;

/*
 * A table of which only one time column (and the id) is read, in time
 * order: col gets TimedId rows, per patient.
 */
static void
read_times(Reader *r, const char *table, const char *index, const char *column,
		   const char *id_column, Collect *col)
{
	CfChunk    *c = r->c;
	TableScan	t;
	AttrNumber	a_at,
				a_id;
	int			i,
				prev = -1;
	bool		first;

	ts_open(&t, r->nsp, table, index, c, r->snap);
	a_at = col_of(&t, column);
	a_id = col_of(&t, id_column);
	collect_init(col, sizeof(TimedId), c->n);
	while (ts_next_entry(&t, &i, &first))
	{
		CfTime		at;
		int64		id;
		TimedId    *p;

		collect_switch(col, &prev, i, first);
		if (!ts_fetch(&t))
			continue;
		at = get_time(&t, a_at);
		id = get_int8(&t, a_id, 0);
		p = collect_row(col, at, id);
		p->at = at;
		p->id = id;
	}
	collect_finish(col, prev);
	ts_close(&t);
}

/* Patient i's TimedId rows of col as a times array and (if ids) an ids array. */
static void
split_times(const Collect *col, int i, const CfTime **times, const int64_t **ids, int *n)
{
	const TimedId *rows = collect_base(col, i);
	CfTime	   *tv;
	int64_t    *iv = NULL;

	*n = col->count[i];
	tv = palloc(sizeof(CfTime) * Max(*n, 1));
	if (ids)
		iv = palloc(sizeof(int64_t) * Max(*n, 1));
	for (int k = 0; k < *n; k++)
	{
		tv[k] = rows[k].at;
		if (iv)
			iv[k] = rows[k].id;
	}
	*times = tv;
	if (ids)
		*ids = iv;
}

static void
read_plans(Reader *r)
{
	CfChunk    *c = r->c;
	TableScan	t;
	Collect		col;
	AttrNumber	a_id,
				a_kind,
				a_start,
				a_end,
				a_eval;
	int			i,
				prev = -1;
	bool		first;

	ts_open(&t, r->nsp, "care_plan", "care_plan_patient", c, r->snap);
	a_id = col_of(&t, "plan_id");
	a_kind = col_of(&t, "kind");
	a_start = col_of(&t, "started_at");
	a_end = col_of(&t, "ended_at");
	a_eval = col_of(&t, "last_evaluated_at");
	collect_init(&col, sizeof(CfPlan), c->n);
	while (ts_next_entry(&t, &i, &first))
	{
		CfTime		start;
		CfPlan	   *p;
		const char *kind;

		collect_switch(&col, &prev, i, first);
		if (!ts_fetch(&t))
			continue;
		start = get_time(&t, a_start);
		p = collect_row(&col, start, get_int8(&t, a_id, 0));
		p->id = get_int8(&t, a_id, 0);
		kind = get_label(&t, a_kind, &r->labels);
		p->kind = (kind != NULL && strcmp(kind, "nutrition") == 0) ?
			CF_PLAN_NUTRITION : CF_PLAN_FALL_PREVENTION;
		p->started_at = start;
		p->ended_at = get_time(&t, a_end);
		p->last_evaluated_at = get_time(&t, a_eval);
	}
	collect_finish(&col, prev);
	for (i = 0; i < c->n; i++)
	{
		c->facts[i].plans = collect_base(&col, i);
		c->facts[i].n_plans = col.count[i];
	}
	ts_close(&t);
}

static void
read_exemptions(Reader *r)
{
	CfChunk    *c = r->c;
	TableScan	t;
	Collect		col;
	AttrNumber	a_id,
				a_scope,
				a_from,
				a_until;
	int			i,
				prev = -1;
	bool		first;

	ts_open(&t, r->nsp, "exemption", "exemption_patient", c, r->snap);
	a_id = col_of(&t, "exemption_id");
	a_scope = col_of(&t, "scope");
	a_from = col_of(&t, "valid_from");
	a_until = col_of(&t, "valid_until");
	collect_init(&col, sizeof(CfExemption), c->n);
	while (ts_next_entry(&t, &i, &first))
	{
		CfExemption *e;

		collect_switch(&col, &prev, i, first);
		if (!ts_fetch(&t))
			continue;
		/* in the order they were recorded */
		e = collect_row(&col, 0, get_int8(&t, a_id, 0));
		e->scope = get_text(&t, a_scope);
		e->valid_from = get_time(&t, a_from);
		e->valid_until = get_time(&t, a_until);
	}
	collect_finish(&col, prev);
	for (i = 0; i < c->n; i++)
	{
		c->facts[i].exemptions = collect_base(&col, i);
		c->facts[i].n_exemptions = col.count[i];
	}
	ts_close(&t);
}

static void
read_open_flags(Reader *r)
{
	CfChunk    *c = r->c;
	TableScan	t;
	Collect		col;
	AttrNumber	a_id,
				a_rule,
				a_from,
				a_due,
				a_episode,
				a_unit,
				a_reason,
				a_severity,
				a_setting,
				a_resolved,
				a_trigger,
				a_details;
	int			i,
				prev = -1;
	bool		first;

	/* the partial index of open flags */
	ts_open(&t, r->nsp, "flag", "flag_one_open", c, r->snap);
	a_id = col_of(&t, "flag_id");
	a_rule = col_of(&t, "rule_id");
	a_from = col_of(&t, "due_from");
	a_due = col_of(&t, "due_at");
	a_episode = col_of(&t, "episode_id");
	a_unit = col_of(&t, "unit_id");
	a_reason = col_of(&t, "reason");
	a_severity = col_of(&t, "severity");
	a_setting = col_of(&t, "setting");
	a_resolved = col_of(&t, "resolved_at");
	a_details = col_of(&t, "details");
	/* 1.3: absent until ALTER EXTENSION careflags UPDATE */
	a_trigger = col_of_opt(&t, "trigger_at");
	c->flag_v13 = a_trigger != InvalidAttrNumber && col_of_opt(&t, "action_id") != InvalidAttrNumber;
	collect_init(&col, sizeof(CfOpenFlag), c->n);
	while (ts_next_entry(&t, &i, &first))
	{
		int64		id;
		CfOpenFlag *o;
		const char *setting;

		collect_switch(&col, &prev, i, first);
		if (!ts_fetch(&t) || get_time(&t, a_resolved) != CF_TIME_NONE)
			continue;
		id = get_int8(&t, a_id, 0);
		o = collect_row(&col, 0, id);
		o->flag_id = id;
		o->rule_id = get_text(&t, a_rule);
		o->due_from = get_time(&t, a_from);
		o->due_at = get_time(&t, a_due);
		o->episode_id = get_int8(&t, a_episode, -1);
		o->unit_id = get_text(&t, a_unit);
		o->reason = get_text(&t, a_reason);
		{
			bool		isnull;

			(void) slot_getattr(t.slot, a_details, &isnull);
			o->has_details = !isnull;
		}
		o->severity = get_int4(&t, a_severity, 0);
		setting = get_label(&t, a_setting, &r->labels);
		o->setting = setting ? pstrdup(setting) : NULL;
		o->trigger_at = a_trigger != InvalidAttrNumber ? get_time(&t, a_trigger) : CF_TIME_NONE;
		o->action_at = CF_TIME_NONE;
	}
	collect_finish(&col, prev);
	for (i = 0; i < c->n; i++)
	{
		c->open[i] = collect_base(&col, i);
		c->n_open[i] = col.count[i];
	}
	ts_close(&t);
}

/*
 * Flags resolved done that name their action fact (1.3), in id order: the
 * reconciliation checks that the fact is still there and still qualifies.
 */
static void
read_done_flags(Reader *r)
{
	CfChunk    *c = r->c;
	TableScan	t;
	Collect		col;
	AttrNumber	a_id,
				a_rule,
				a_from,
				a_due,
				a_episode,
				a_unit,
				a_resolution,
				a_trigger,
				a_table,
				a_action,
				a_action_at;
	int			i,
				prev = -1;
	bool		first;

	c->done = palloc0(sizeof(CfOpenFlag *) * c->n);
	c->n_done = palloc0(sizeof(int) * c->n);
	if (!c->flag_v13)
		return;
	ts_open(&t, r->nsp, "flag", "flag_done_action", c, r->snap);
	a_id = col_of(&t, "flag_id");
	a_rule = col_of(&t, "rule_id");
	a_from = col_of(&t, "due_from");
	a_due = col_of(&t, "due_at");
	a_episode = col_of(&t, "episode_id");
	a_unit = col_of(&t, "unit_id");
	a_resolution = col_of(&t, "resolution");
	a_trigger = col_of(&t, "trigger_at");
	a_table = col_of(&t, "action_table");
	a_action = col_of(&t, "action_id");
	a_action_at = col_of(&t, "action_at");
	collect_init(&col, sizeof(CfOpenFlag), c->n);
	while (ts_next_entry(&t, &i, &first))
	{
		int64		id;
		CfOpenFlag *o;
		char	   *resolution;
		bool		isnull;

		collect_switch(&col, &prev, i, first);
		if (!ts_fetch(&t))
			continue;
		(void) slot_getattr(t.slot, a_action, &isnull);
		if (isnull)
			continue;
		resolution = get_text(&t, a_resolution);
		if (resolution == NULL || strcmp(resolution, "done") != 0)
			continue;
		id = get_int8(&t, a_id, 0);
		o = collect_row(&col, 0, id);
		o->flag_id = id;
		o->rule_id = get_text(&t, a_rule);
		o->due_from = get_time(&t, a_from);
		o->due_at = get_time(&t, a_due);
		o->episode_id = get_int8(&t, a_episode, -1);
		o->unit_id = get_text(&t, a_unit);
		o->trigger_at = get_time(&t, a_trigger);
		o->action_table = get_text(&t, a_table);
		o->action_id = get_int8(&t, a_action, 0);
		o->action_at = get_time(&t, a_action_at);
	}
	collect_finish(&col, prev);
	for (i = 0; i < c->n; i++)
	{
		c->done[i] = collect_base(&col, i);
		c->n_done[i] = col.count[i];
	}
	ts_close(&t);
}

void
cf_chunk_init(CfChunk *c)
{
	c->exists = palloc0(sizeof(bool) * c->n);
	c->has_state = palloc0(sizeof(bool) * c->n);
	c->old_next = palloc(sizeof(CfTime) * c->n);
	c->facts = palloc0(sizeof(CfPatientFacts) * c->n);
	c->open = palloc0(sizeof(CfOpenFlag *) * c->n);
	c->n_open = palloc0(sizeof(int) * c->n);
	c->patients_read = false;
	for (int i = 0; i < c->n; i++)
		c->facts[i].patient_id = c->ids[i];
}

void
cf_read_chunk(CfChunk *c, CfTime now, const CfEvalOps *ops)
{
	Reader		r;
	Collect		reviews,
				falls;

	memset(&r, 0, sizeof(r));
	r.c = c;
	r.nsp = careflags_namespace();
	r.snap = RegisterSnapshot(GetActiveSnapshot());
	r.now = now;
	r.ops = ops;

	read_patients(&r);
	read_episodes(&r);
	read_assessments(&r);
	read_measurements(&r);
	read_medications(&r);
	read_times(&r, "medication_review", "medication_review_patient_time", "reviewed_at", "review_id", &reviews);
	read_plans(&r);
	read_times(&r, "fall", "fall_patient_time", "fell_at", "fall_id", &falls);
	for (int i = 0; i < c->n; i++)
	{
		split_times(&reviews, i, &c->facts[i].reviews, &c->facts[i].review_ids, &c->facts[i].n_reviews);
		split_times(&falls, i, &c->facts[i].falls, NULL, &c->facts[i].n_falls);
	}
	read_exemptions(&r);
	read_open_flags(&r);
	read_done_flags(&r);

	UnregisterSnapshot(r.snap);
}
