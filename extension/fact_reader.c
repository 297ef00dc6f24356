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
 *	  Every table is described once (fact_tables[]: relation, index, the
 *	  index's key columns, what is kept of an entry and of a row) and read
 *	  by one loop (read_table).  A chunk may ask for some tables only
 *	  (CfChunk.tables: what the rules fed by a written table read), and may
 *	  name the relation to read per table (CfChunk.relids: e.g. the Citus
 *	  shard a trigger fired on); its index is then the one of the same
 *	  shape.  careflags.fact_reader_indexes() lists the descriptions, so
 *	  the tests can pin the index shapes the reader relies on.
 *
 *	  Visibility is the active snapshot's, as SPI's read-only queries would
 *	  see; the caller pushes a fresh one after locking the patients.  The
 *	  indexes are found by name in the careflags schema: they are part of the
 *	  install script, and a missing one is reported as such.
 *
 *	  Assessments and measurements are read from their index alone when the
 *	  index INCLUDEs every column the reader takes (1.3's indexes do) and the
 *	  row's heap page is all-visible in the visibility map, as an index-only
 *	  scan reads (ts_from_index): a patient's facts arrive over months, each
 *	  on another heap page, while its index entries lie together.  A page
 *	  written since the last VACUUM (the row just written among them) is
 *	  read from the heap.
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
#include "access/visibilitymap.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "storage/bufmgr.h"
#include "storage/predicate.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/date.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

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
	TupleTableSlot *slot;		/* the current row: heap_slot or index_slot */
	TupleTableSlot *heap_slot;	/* the row fetched from the heap */
	TupleTableSlot *index_slot; /* the row taken from the index tuple */
	Snapshot	snap;
	bool		index_only;		/* the index carries every column the row needs */
	int			n_map;
	AttrNumber	map_heap[INDEX_MAX_KEYS];	/* heap column ... */
	AttrNumber	map_index[INDEX_MAX_KEYS];	/* ... and its column in the index */
	Buffer		vmbuf;			/* visibility map page pinned */
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
 * Begin a chunk's scan of the table heapid through its index indexid (its
 * relation already open in t->index): one range scan over the chunk's ids
 * when that is cheaper (and may_range), else a descent per patient.
 */
static void
ts_begin(TableScan *t, Oid nsp, Oid heapid, Oid indexid, const CfChunk *c, Snapshot snap,
		 bool may_range)
{
	t->heap = table_open(heapid, AccessShareLock);
	if (t->index == NULL)
		t->index = index_open(indexid, AccessShareLock);
	t->c = c;
	t->snap = snap;
	t->vmbuf = InvalidBuffer;
	t->range = may_range && c->n > 1 && range_is_cheaper(t->index, nsp, c);
	t->heap_slot = table_slot_create(t->heap, NULL);
	t->slot = t->heap_slot;
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

/*
 * Open table for a chunk's scan through index (or, when that index is not
 * there, through the one an older install script made, if given), both
 * found by name in the careflags schema.
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
	ts_begin(t, nsp, relation_in_schema(nsp, table, table, false), indexid, c, snap, may_range);
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
	t->slot = t->heap_slot;
	return index_fetch_heap(t->scan, t->heap_slot);
}

/*
 * Take the row of the current entry from the index tuple, without visiting
 * the heap, when the index carries every column the row needs and the
 * entry's heap page is all-visible in the visibility map: then the row it
 * points to is visible to every snapshot, as an index-only scan reasons
 * (nodeIndexonlyscan.c), including the predicate lock on the heap page a
 * serializable transaction needs.  False: the row must be fetched.
 */
static bool
ts_from_index(TableScan *t)
{
	BlockNumber blk;
	TupleTableSlot *s = t->index_slot;

	if (!t->index_only)
		return false;
	blk = ItemPointerGetBlockNumber(&t->scan->xs_heaptid);
	if (!VM_ALL_VISIBLE(t->heap, blk, &t->vmbuf))
		return false;
	PredicateLockPage(t->heap, blk, t->snap);
	ExecClearTuple(s);
	memset(s->tts_isnull, true, sizeof(bool) * s->tts_tupleDescriptor->natts);
	for (int k = 0; k < t->n_map; k++)
	{
		AttrNumber	a = t->map_heap[k] - 1;

		s->tts_values[a] = index_getattr(t->scan->xs_itup, t->map_index[k], t->scan->xs_itupdesc,
										 &s->tts_isnull[a]);
	}
	ExecStoreVirtualTuple(s);
	t->slot = s;
	return true;
}

/*
 * Can rows be taken from t's index (see ts_from_index)?  When every column
 * of names[] (the description's row_columns: every column its row function
 * reads from the slot) is a column of the index that it can return: 1.3's
 * indexes INCLUDE them; an index of an older install script, or a shard's
 * index of another shape, is read through the heap.  The row slot then
 * holds those columns only (the others NULL).
 */
static void
ts_index_only(TableScan *t, const char *const *names)
{
	TupleDesc	td = RelationGetDescr(t->heap);
	int			natts = t->index->rd_index->indnatts;

	t->index_only = false;
	t->n_map = 0;
	if (names == NULL || names[0] == NULL)
		return;
	for (int n = 0; n < 6 && names[n] != NULL; n++)
	{
		AttrNumber	a = InvalidAttrNumber;
		int			k;

		for (int i = 0; i < td->natts; i++)
			if (!TupleDescAttr(td, i)->attisdropped &&
				strcmp(NameStr(TupleDescAttr(td, i)->attname), names[n]) == 0)
				a = TupleDescAttr(td, i)->attnum;
		for (k = 0; k < natts; k++)
			if (a != InvalidAttrNumber && t->index->rd_index->indkey.values[k] == a)
				break;
		if (k == natts || !index_can_return(t->index, k + 1))
			return;
		t->map_heap[t->n_map] = a;
		t->map_index[t->n_map++] = k + 1;
	}
	t->index_slot = MakeSingleTupleTableSlot(td, &TTSOpsVirtual);
	t->index_only = true;
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
	ExecDropSingleTupleTableSlot(t->heap_slot);
	if (t->index_slot != NULL)
		ExecDropSingleTupleTableSlot(t->index_slot);
	if (BufferIsValid(t->vmbuf))
		ReleaseBuffer(t->vmbuf);
	index_close(t->index, NoLock);
	table_close(t->heap, NoLock);
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

/* ---- the description of each table ---- */

/*
 * What a table's reading keeps between its callbacks: column numbers (by
 * the table's own names, resolved once per scan), and per patient what
 * decides which of the later entries are wanted (the measurements).
 */
typedef struct TableState
{
	AttrNumber	a[12];
	bool		flag;			/* table-specific (medications: index has the stop time) */
	CfPatientColumns pcols;
	/* measurements */
	int			n_kinds;
	int			first_kind;
	Oid			kind_oid[16];
	CfMeasurementKind kind[16];
	CfTime		latest[16];		/* per kind, the latest visible one up to now */
	CfTime		from[16];
	bool		done[16];
	int			cur_kind;		/* of the current entry */
	CfTime		cur_at;
	CfTime		cur_stop;
} TableState;

/*
 * One fact table as the reader sees it.  The loop (read_table) opens a scan
 * of the table through the index, and for each index entry of the chunk's
 * patients: `entry` (if any) decides from the index tuple's key columns
 * alone whether the row is wanted (ENTRY_KEEP), not (ENTRY_SKIP), or none
 * of the patient's later entries are (ENTRY_SKIP_PATIENT); the row is then
 * fetched (skipped when not visible) and `row` keeps what the evaluator
 * needs, rows of `row_size` collected per patient and sorted by (time, id);
 * `finish` hands them to the chunk.
 */
typedef enum
{
	ENTRY_KEEP,
	ENTRY_SKIP,
	ENTRY_SKIP_PATIENT
} EntryVerdict;

typedef struct FactTableDesc
{
	const char *table;
	const char *index;
	const char *older_index;	/* the index of an older install script, or NULL */
	const char *keys[4];		/* the index's key columns, the reader relies on them */
	const char *row_columns[6]; /* the columns `row` reads: when the index
								 * carries them all (INCLUDE), rows of
								 * all-visible pages come from the index */
	bool		partial;		/* the index has a WHERE clause */
	bool		may_range;		/* one range scan over a chunk's ids may be cheaper */
	size_t		row_size;
	bool		(*wanted) (Reader *r);	/* NULL: always read */
	void		(*begin) (Reader *r, TableScan *t, TableState *s);
	EntryVerdict (*entry) (Reader *r, TableScan *t, TableState *s, bool first);
	void		(*row) (Reader *r, TableScan *t, TableState *s, Collect *col, int i);
	void		(*finish) (Reader *r, TableState *s, Collect *col);	/* or: */
	bool		into_facts;		/* each patient's rows become an array of CfPatientFacts: */
	size_t		facts_array;	/* offset of its pointer */
	size_t		facts_count;	/* offset of its int count */
} FactTableDesc;

/* The rows of a table that become one array (and count) of CfPatientFacts. */
#define INTO_FACTS(array, count) \
	true, offsetof(CfPatientFacts, array), offsetof(CfPatientFacts, count)

/* Column number of a table by name: error when missing, or optional. */
static AttrNumber
col_named(Relation heap, const char *name, bool missing_ok)
{
	TupleDesc	td = RelationGetDescr(heap);

	for (int i = 0; i < td->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(td, i);

		if (!a->attisdropped && strcmp(NameStr(a->attname), name) == 0)
			return a->attnum;
	}
	if (!missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("careflags: column %s of careflags.%s is missing", name,
						RelationGetRelationName(heap))));
	return InvalidAttrNumber;
}

/* Resolve the columns names[] of t's table into s->a[]. */
static void
columns(TableScan *t, TableState *s, const char *const *names, int n)
{
	for (int k = 0; k < n; k++)
		s->a[k] = col_named(t->heap, names[k], false);
}

/* -- patient -- */

static bool
patient_wanted(Reader *r)
{
	return !r->c->patients_read;
}

static void
patient_begin(Reader *r, TableScan *t, TableState *s)
{
	cf_patient_columns(RelationGetDescr(t->heap), &s->pcols);
}

static void
patient_row(Reader *r, TableScan *t, TableState *s, Collect *col, int i)
{
	cf_chunk_patient_from_slot(r->c, i, t->slot, &s->pcols);
}

static void
patient_finish(Reader *r, TableState *s, Collect *col)
{
	r->c->patients_read = true;
}

/* -- patient_state: the next check, overall and per domain (1.3) -- */

static void
state_begin(Reader *r, TableScan *t, TableState *s)
{
	CfChunk    *c = r->c;

	for (int i = 0; i < c->n; i++)
		c->old_next[i] = CF_TIME_NEVER;
	s->a[0] = col_named(t->heap, "next_check_at", false);
	s->a[1] = col_named(t->heap, "next_check_by_domain", true);
	c->state_v13 = s->a[1] != InvalidAttrNumber;
}

static void
state_row(Reader *r, TableScan *t, TableState *s, Collect *col, int i)
{
	CfChunk    *c = r->c;
	CfTime		tm = get_time(t, s->a[0]);

	c->has_state[i] = true;
	c->old_next[i] = tm == CF_TIME_NONE ? CF_TIME_NEVER : tm;
	if (s->a[1] != InvalidAttrNumber)
	{
		bool		isnull;
		Datum		d = slot_getattr(t->slot, s->a[1], &isnull);

		if (!isnull)
		{
			ArrayType  *arr = DatumGetArrayTypeP(d);
			Datum	   *elems;
			bool	   *nulls;
			int			n;

			deconstruct_array(arr, TIMESTAMPTZOID, sizeof(TimestampTz), FLOAT8PASSBYVAL,
							  TYPALIGN_DOUBLE, &elems, &nulls, &n);
			if (n == CF_DOM_COUNT)
			{
				for (int k = 0; k < CF_DOM_COUNT; k++)
					c->old_next_dom[i * CF_DOM_COUNT + k] = nulls[k] ? CF_TIME_NEVER :
						(CfTime) DatumGetTimestampTz(elems[k]);
				c->has_next_dom[i] = true;
			}
		}
	}
}

/* -- episode -- */

static void
episode_begin(Reader *r, TableScan *t, TableState *s)
{
	static const char *const names[] = {"episode_id", "setting", "unit_id", "started_at", "ended_at"};

	columns(t, s, names, lengthof(names));
}

static void
episode_row(Reader *r, TableScan *t, TableState *s, Collect *col, int i)
{
	int64		id = get_int8(t, s->a[0], 0);
	CfTime		start = get_time(t, s->a[3]);
	CfEpisode  *e = collect_row(col, start, id);
	int			set = cf_setting_from_name(get_label(t, s->a[1], &r->labels));

	e->episode_id = id;
	e->setting = set < 0 ? CF_SET_GP : (CfSetting) set;
	e->unit_id = get_text(t, s->a[2]);
	e->started_at = start;
	e->ended_at = get_time(t, s->a[4]);
}


/* -- assessment -- */

static void
assessment_begin(Reader *r, TableScan *t, TableState *s)
{
	static const char *const names[] = {"assessment_id", "instrument", "assessed_at", "total", "at_risk"};

	columns(t, s, names, lengthof(names));
}

static void
assessment_row(Reader *r, TableScan *t, TableState *s, Collect *col, int i)
{
	int64		id = get_int8(t, s->a[0], 0);
	CfTime		at = get_time(t, s->a[2]);
	CfAssessment *a = collect_row(col, at, id);
	const char *inst = get_label(t, s->a[1], &r->labels);
	int			k = cf_instrument_from_name(inst);
	bool		no_total;

	a->id = id;
	a->instrument = inst;
	a->domain = (k >= 0 && cf_instrument_is_nutrition((CfInstrument) k)) ?
		CF_DOM_NUTRITION : CF_DOM_FALL_RISK;
	a->assessed_at = at;
	a->total = get_numeric(t, s->a[3], &no_total);
	a->scored = !no_total;
	a->at_risk = get_bool(t, s->a[4]);
}


/*
 * -- measurement --
 *
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
measurement_begin(Reader *r, TableScan *t, TableState *s)
{
	Oid			typid;
	CatCList   *list;
	float4		lowest = 0;

	s->a[0] = col_named(t->heap, "measurement_id", false);
	s->a[1] = col_named(t->heap, "value", false);
	typid = TupleDescAttr(RelationGetDescr(t->heap), col_named(t->heap, "kind", false) - 1)->atttypid;
	list = SearchSysCacheList1(ENUMTYPOIDNAME, ObjectIdGetDatum(typid));
	for (int k = 0; k < list->n_members && s->n_kinds < (int) lengthof(s->kind_oid); k++)
	{
		Form_pg_enum e = (Form_pg_enum) GETSTRUCT(&list->members[k]->tuple);
		const char *l = NameStr(e->enumlabel);

		if (s->n_kinds == 0 || e->enumsortorder < lowest)
		{
			lowest = e->enumsortorder;
			s->first_kind = s->n_kinds;
		}
		s->kind_oid[s->n_kinds] = e->oid;
		s->kind[s->n_kinds++] = strcmp(l, "weight") == 0 ? CF_MEAS_WEIGHT :
			strcmp(l, "height") == 0 ? CF_MEAS_HEIGHT :
			strcmp(l, "bmi") == 0 ? CF_MEAS_BMI : CF_MEAS_CALF;
	}
	ReleaseSysCacheList(list);
}

static EntryVerdict
measurement_entry(Reader *r, TableScan *t, TableState *s, bool first)
{
	bool		isnull;
	Oid			oid = DatumGetObjectId(ts_key(t, 2, &isnull));
	CfTime		at = (CfTime) DatumGetTimestampTz(ts_key(t, 3, &isnull));
	int			k = 0;

	if (first)
		for (int j = 0; j < s->n_kinds; j++)
		{
			s->latest[j] = CF_TIME_NONE;
			s->done[j] = false;
		}
	while (k < s->n_kinds && s->kind_oid[k] != oid)
		k++;
	if (k == s->n_kinds)
		return ENTRY_SKIP;
	if (!s->done[k] && at <= r->now)
	{
		if (s->latest[k] != CF_TIME_NONE)
			s->done[k] = s->kind[k] != CF_MEAS_WEIGHT || at < s->from[k];
		else if (s->kind[k] == CF_MEAS_CALF)
			s->done[k] = true;
	}
	if (s->done[k])
		return k == s->first_kind ? ENTRY_SKIP_PATIENT : ENTRY_SKIP;
	s->cur_kind = k;
	s->cur_at = at;
	return ENTRY_KEEP;
}

static void
measurement_row(Reader *r, TableScan *t, TableState *s, Collect *col, int i)
{
	static const CfInterval seven_months = {7, 0, 0};
	int			k = s->cur_kind;
	CfTime		at = s->cur_at;
	CfMeasurement *m;

	if (at <= r->now && s->latest[k] == CF_TIME_NONE)
	{
		s->latest[k] = at;
		s->from[k] = r->ops->add_interval(r->ops->arg, at, &seven_months, -1);
	}
	m = collect_row(col, at, get_int8(t, s->a[0], 0));
	m->kind = s->kind[k];
	m->value = get_numeric(t, s->a[1], NULL);
	m->measured_at = at;
}


/*
 * -- medication --
 *
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
medication_begin(Reader *r, TableScan *t, TableState *s)
{
	static const char *const names[] = {"medication_id", "atc", "code", "name", "started_at",
	"as_needed", "status", "stopped_at"};

	columns(t, s, names, lengthof(names));
	s->flag = t->index->rd_index->indnatts >= 2;
}

static EntryVerdict
medication_entry(Reader *r, TableScan *t, TableState *s, bool first)
{
	s->cur_stop = CF_TIME_NONE;
	if (s->flag)
	{
		bool		isnull;
		Datum		d = ts_key(t, 2, &isnull);

		s->cur_stop = isnull ? CF_TIME_NONE : (CfTime) DatumGetTimestampTz(d);
		if (s->cur_stop != CF_TIME_NONE && s->cur_stop <= r->now)
			return ENTRY_SKIP_PATIENT;
	}
	return ENTRY_KEEP;
}

static void
medication_row(Reader *r, TableScan *t, TableState *s, Collect *col, int i)
{
	CfTime		stop = s->cur_stop;
	CfTime		start;
	const char *status;
	int64		id;
	CfMedication *m;

	if (!s->flag)
	{
		stop = get_time(t, s->a[7]);
		if (stop != CF_TIME_NONE && stop <= r->now)
			return;
	}
	status = get_label(t, s->a[6], &r->labels);
	if (status != NULL &&
		(strcmp(status, "cancelled") == 0 || strcmp(status, "entered_in_error") == 0 ||
		 (stop == CF_TIME_NONE &&
		  (strcmp(status, "stopped") == 0 || strcmp(status, "completed") == 0))))
		return;
	id = get_int8(t, s->a[0], 0);
	start = get_time(t, s->a[4]);
	m = collect_row(col, start, id);
	m->atc = get_text(t, s->a[1]);
	m->key = m->atc;
	if (m->key == NULL)
		m->key = get_text(t, s->a[2]);
	if (m->key == NULL)
		m->key = psprintf("medication/%lld", (long long) id);
	m->name = get_text(t, s->a[3]);
	m->started_at = start;
	m->stopped_at = stop;
	m->as_needed = get_bool(t, s->a[5]);
	m->cancelled = false;
}


/* -- tables of which only a time and the id are read: reviews, falls -- */

typedef struct TimedId
{
	CfTime		at;
	int64		id;
} TimedId;

static void
review_begin(Reader *r, TableScan *t, TableState *s)
{
	static const char *const names[] = {"reviewed_at", "review_id"};

	columns(t, s, names, lengthof(names));
}

static void
fall_begin(Reader *r, TableScan *t, TableState *s)
{
	static const char *const names[] = {"fell_at", "fall_id"};

	columns(t, s, names, lengthof(names));
}

static void
timed_row(Reader *r, TableScan *t, TableState *s, Collect *col, int i)
{
	CfTime		at = get_time(t, s->a[0]);
	int64		id = get_int8(t, s->a[1], 0);
	TimedId    *p = collect_row(col, at, id);

	p->at = at;
	p->id = id;
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
review_finish(Reader *r, TableState *s, Collect *col)
{
	for (int i = 0; i < r->c->n; i++)
	{
		CfPatientFacts *f = &r->c->facts[i];

		split_times(col, i, &f->reviews, &f->review_ids, &f->n_reviews);
	}
}

static void
fall_finish(Reader *r, TableState *s, Collect *col)
{
	for (int i = 0; i < r->c->n; i++)
	{
		CfPatientFacts *f = &r->c->facts[i];

		split_times(col, i, &f->falls, NULL, &f->n_falls);
	}
}

/* -- care_plan -- */

static void
plan_begin(Reader *r, TableScan *t, TableState *s)
{
	static const char *const names[] = {"plan_id", "kind", "started_at", "ended_at", "last_evaluated_at"};

	columns(t, s, names, lengthof(names));
}

static void
plan_row(Reader *r, TableScan *t, TableState *s, Collect *col, int i)
{
	int64		id = get_int8(t, s->a[0], 0);
	CfTime		start = get_time(t, s->a[2]);
	CfPlan	   *p = collect_row(col, start, id);
	const char *kind = get_label(t, s->a[1], &r->labels);

	p->id = id;
	p->kind = (kind != NULL && strcmp(kind, "nutrition") == 0) ?
		CF_PLAN_NUTRITION : CF_PLAN_FALL_PREVENTION;
	p->started_at = start;
	p->ended_at = get_time(t, s->a[3]);
	p->last_evaluated_at = get_time(t, s->a[4]);
}


/* -- exemption (in the order they were recorded) -- */

static void
exemption_begin(Reader *r, TableScan *t, TableState *s)
{
	static const char *const names[] = {"exemption_id", "scope", "valid_from", "valid_until"};

	columns(t, s, names, lengthof(names));
}

static void
exemption_row(Reader *r, TableScan *t, TableState *s, Collect *col, int i)
{
	CfExemption *e = collect_row(col, 0, get_int8(t, s->a[0], 0));

	e->scope = get_text(t, s->a[1]);
	e->valid_from = get_time(t, s->a[2]);
	e->valid_until = get_time(t, s->a[3]);
}


/* -- open flags, through the partial index of open flags -- */

static void
open_flag_begin(Reader *r, TableScan *t, TableState *s)
{
	static const char *const names[] = {"flag_id", "rule_id", "due_from", "due_at", "episode_id",
	"unit_id", "reason", "severity", "setting", "resolved_at", "details"};

	columns(t, s, names, lengthof(names));
	/* 1.3: absent until ALTER EXTENSION careflags UPDATE */
	s->a[11] = col_named(t->heap, "trigger_at", true);
	r->c->flag_v13 = s->a[11] != InvalidAttrNumber &&
		col_named(t->heap, "action_id", true) != InvalidAttrNumber;
}

static void
open_flag_row(Reader *r, TableScan *t, TableState *s, Collect *col, int i)
{
	int64		id;
	CfOpenFlag *o;
	const char *setting;
	bool		isnull;

	if (get_time(t, s->a[9]) != CF_TIME_NONE)
		return;
	id = get_int8(t, s->a[0], 0);
	o = collect_row(col, 0, id);
	o->flag_id = id;
	o->rule_id = get_text(t, s->a[1]);
	o->due_from = get_time(t, s->a[2]);
	o->due_at = get_time(t, s->a[3]);
	o->episode_id = get_int8(t, s->a[4], -1);
	o->unit_id = get_text(t, s->a[5]);
	o->reason = get_text(t, s->a[6]);
	(void) slot_getattr(t->slot, s->a[10], &isnull);
	o->has_details = !isnull;
	o->severity = get_int4(t, s->a[7], 0);
	setting = get_label(t, s->a[8], &r->labels);
	o->setting = setting ? pstrdup(setting) : NULL;
	o->trigger_at = s->a[11] != InvalidAttrNumber ? get_time(t, s->a[11]) : CF_TIME_NONE;
	o->action_at = CF_TIME_NONE;
}

static void
open_flag_finish(Reader *r, TableState *s, Collect *col)
{
	for (int i = 0; i < r->c->n; i++)
	{
		r->c->open[i] = collect_base(col, i);
		r->c->n_open[i] = col->count[i];
	}
}

/*
 * -- flags resolved done that name their action fact (1.3), in id order --
 * the reconciliation checks that the fact is still there and still qualifies.
 */
static bool
done_flag_wanted(Reader *r)
{
	return r->c->flag_v13;
}

static void
done_flag_begin(Reader *r, TableScan *t, TableState *s)
{
	static const char *const names[] = {"flag_id", "rule_id", "due_from", "due_at", "episode_id",
	"unit_id", "resolution", "trigger_at", "action_table", "action_id", "action_at"};

	columns(t, s, names, lengthof(names));
}

static void
done_flag_row(Reader *r, TableScan *t, TableState *s, Collect *col, int i)
{
	int64		id;
	CfOpenFlag *o;
	char	   *resolution;
	bool		isnull;

	(void) slot_getattr(t->slot, s->a[9], &isnull);
	if (isnull)
		return;
	resolution = get_text(t, s->a[6]);
	if (resolution == NULL || strcmp(resolution, "done") != 0)
		return;
	id = get_int8(t, s->a[0], 0);
	o = collect_row(col, 0, id);
	o->flag_id = id;
	o->rule_id = get_text(t, s->a[1]);
	o->due_from = get_time(t, s->a[2]);
	o->due_at = get_time(t, s->a[3]);
	o->episode_id = get_int8(t, s->a[4], -1);
	o->unit_id = get_text(t, s->a[5]);
	o->trigger_at = get_time(t, s->a[7]);
	o->action_table = get_text(t, s->a[8]);
	o->action_id = get_int8(t, s->a[9], 0);
	o->action_at = get_time(t, s->a[10]);
}

static void
done_flag_finish(Reader *r, TableState *s, Collect *col)
{
	for (int i = 0; i < r->c->n; i++)
	{
		r->c->done[i] = collect_base(col, i);
		r->c->n_done[i] = col->count[i];
	}
}

/*
 * The finish of a table described INTO_FACTS: each patient's collected rows
 * become the array and count the description names in its CfPatientFacts.
 */
static void
facts_finish(Reader *r, const FactTableDesc *d, Collect *col)
{
	for (int i = 0; i < r->c->n; i++)
	{
		char	   *f = (char *) &r->c->facts[i];

		*(const void **) (f + d->facts_array) = collect_base(col, i);
		*(int *) (f + d->facts_count) = col->count[i];
	}
}

/*
 * The tables, in the order they are read (the open flags before the done
 * ones: they tell whether the flag table is at 1.3).  The measurement
 * series is long and mostly not wanted: a descent per patient that stops
 * early reads less than one pass over the chunk, hence no range scan.
 */
static const FactTableDesc fact_tables[CF_FT_COUNT] = {
	[CF_FT_PATIENT] = {"patient", "patient_pkey", NULL, {"patient_id"}, {NULL}, false, true, 0,
	patient_wanted, patient_begin, NULL, patient_row, patient_finish},
	[CF_FT_PATIENT_STATE] = {"patient_state", "patient_state_pkey", NULL, {"patient_id"}, {NULL}, false, true, 0,
	NULL, state_begin, NULL, state_row, NULL},
	[CF_FT_EPISODE] = {"episode", "episode_pkey", NULL, {"patient_id", "episode_id"}, {NULL}, false, true,
		sizeof(CfEpisode),
	NULL, episode_begin, NULL, episode_row, NULL, INTO_FACTS(episodes, n_episodes)},
	[CF_FT_ASSESSMENT] = {"assessment", "assessment_patient_time", NULL, {"patient_id", "assessed_at"},
		{"assessment_id", "instrument", "assessed_at", "total", "at_risk"},
		false, true, sizeof(CfAssessment),
	NULL, assessment_begin, NULL, assessment_row, NULL, INTO_FACTS(assessments, n_assessments)},
	[CF_FT_MEASUREMENT] = {"measurement", "measurement_patient_time", NULL,
		{"patient_id", "kind", "measured_at"},
		{"measurement_id", "value"}, false, false, sizeof(CfMeasurement),
	NULL, measurement_begin, measurement_entry, measurement_row, NULL, INTO_FACTS(measurements, n_measurements)},
	[CF_FT_MEDICATION] = {"medication", "medication_patient_stop", "medication_patient",
		{"patient_id", "stopped_at"}, {NULL}, false, true, sizeof(CfMedication),
	NULL, medication_begin, medication_entry, medication_row, NULL, INTO_FACTS(medications, n_medications)},
	[CF_FT_MEDICATION_REVIEW] = {"medication_review", "medication_review_patient_time", NULL,
		{"patient_id", "reviewed_at"}, {NULL}, false, true, sizeof(TimedId),
	NULL, review_begin, NULL, timed_row, review_finish},
	[CF_FT_CARE_PLAN] = {"care_plan", "care_plan_patient", NULL, {"patient_id"}, {NULL}, false, true, sizeof(CfPlan),
	NULL, plan_begin, NULL, plan_row, NULL, INTO_FACTS(plans, n_plans)},
	[CF_FT_FALL] = {"fall", "fall_patient_time", NULL, {"patient_id", "fell_at"}, {NULL}, false, true, sizeof(TimedId),
	NULL, fall_begin, NULL, timed_row, fall_finish},
	[CF_FT_EXEMPTION] = {"exemption", "exemption_patient", NULL, {"patient_id"}, {NULL}, false, true,
		sizeof(CfExemption),
	NULL, exemption_begin, NULL, exemption_row, NULL, INTO_FACTS(exemptions, n_exemptions)},
	[CF_FT_OPEN_FLAG] = {"flag", "flag_one_open", NULL, {"patient_id", "rule_id"}, {NULL}, true, true,
		sizeof(CfOpenFlag),
	NULL, open_flag_begin, NULL, open_flag_row, open_flag_finish},
	[CF_FT_DONE_FLAG] = {"flag", "flag_done_action", NULL, {"patient_id", "flag_id"}, {NULL}, true, true,
		sizeof(CfOpenFlag),
	done_flag_wanted, done_flag_begin, NULL, done_flag_row, done_flag_finish},
};

/* Does the index have exactly the key columns keys[] (of heap), and a predicate iff partial? */
static bool
index_has_shape(Relation heap, Relation index, const FactTableDesc *d)
{
	int			nkeys = 0;
	bool		has_pred;

	while (nkeys < (int) lengthof(d->keys) && d->keys[nkeys] != NULL)
		nkeys++;
	if (index->rd_index->indnkeyatts != nkeys)
		return false;
	for (int k = 0; k < nkeys; k++)
	{
		AttrNumber	a = index->rd_index->indkey.values[k];

		if (a <= 0 || a > RelationGetDescr(heap)->natts ||
			strcmp(NameStr(TupleDescAttr(RelationGetDescr(heap), a - 1)->attname), d->keys[k]) != 0)
			return false;
	}
	has_pred = !heap_attisnull(index->rd_indextuple, Anum_pg_index_indpred, NULL);
	return has_pred == d->partial;
}

/*
 * The index of heap to read table d through, when the caller named the
 * relation (a Citus shard, whose indexes carry the shard's suffix): the one
 * of d's shape whose name starts with d's index name, else any of d's shape.
 */
static Oid
index_of_shape(Relation heap, const FactTableDesc *d)
{
	List	   *indexes = RelationGetIndexList(heap);
	ListCell   *lc;
	Oid			found = InvalidOid;

	foreach(lc, indexes)
	{
		Oid			indexid = lfirst_oid(lc);
		Relation	index = index_open(indexid, AccessShareLock);
		bool		shape = index_has_shape(heap, index, d);
		bool		named = strncmp(RelationGetRelationName(index), d->index, strlen(d->index)) == 0;

		index_close(index, AccessShareLock);
		if (shape && (named || !OidIsValid(found)))
			found = indexid;
		if (shape && named)
			break;
	}
	list_free(indexes);
	if (!OidIsValid(found))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("careflags: relation \"%s\" has no index like careflags.%s",
						RelationGetRelationName(heap), d->index),
				 errhint("careflags reads %s through an index on (%s, ...).", d->table, d->keys[0])));
	return found;
}

/*
 * Open the scan of table ft for the chunk: the relation the caller named
 * (c->relids) or the table of that name in the careflags schema; its index
 * by name, or by shape when the relation was named.
 */
static void
open_table(Reader *r, const FactTableDesc *d, CfFactTable ft, TableScan *t)
{
	CfChunk    *c = r->c;
	Oid			relid = c->relids ? c->relids[ft] : InvalidOid;

	if (!OidIsValid(relid))
	{
		ts_open_either(t, r->nsp, d->table, d->index, d->older_index, c, r->snap, d->may_range);
		return;
	}
	memset(t, 0, sizeof(*t));
	t->heap = table_open(relid, AccessShareLock);
	t->index = index_open(index_of_shape(t->heap, d), AccessShareLock);
	table_close(t->heap, NoLock);
	/* the rest as ts_open_either does, with the index found */
	ts_begin(t, r->nsp, relid, RelationGetRelid(t->index), c, r->snap, d->may_range);
}

/* Read table ft for the chunk: the one loop over every table's description. */
static void
read_table(Reader *r, CfFactTable ft)
{
	const FactTableDesc *d = &fact_tables[ft];
	CfChunk    *c = r->c;
	TableScan	t;
	TableState	s;
	Collect		col;
	int			i,
				prev = -1;
	bool		first;

	if (d->wanted && !d->wanted(r))
		return;
	open_table(r, d, ft, &t);
	memset(&s, 0, sizeof(s));
	ts_index_only(&t, d->row_columns);
	d->begin(r, &t, &s);
	collect_init(&col, Max(d->row_size, 1), c->n);
	while (ts_next_entry(&t, &i, &first))
	{
		collect_switch(&col, &prev, i, first);
		if (d->entry)
		{
			EntryVerdict v = d->entry(r, &t, &s, first);

			if (v == ENTRY_SKIP_PATIENT)
				ts_skip_patient(&t);
			if (v != ENTRY_KEEP)
				continue;
		}
		if (!ts_from_index(&t) && !ts_fetch(&t))
			continue;			/* not visible */
		d->row(r, &t, &s, &col, i);
	}
	collect_finish(&col, prev);
	if (d->finish)
		d->finish(r, &s, &col);
	else if (d->into_facts)
		facts_finish(r, d, &col);
	ts_close(&t);
}

/* ---- the interface ---- */

/* See fact_reader.h. */
void
cf_chunk_init(CfChunk *c)
{
	c->exists = palloc0(sizeof(bool) * c->n);
	c->has_state = palloc0(sizeof(bool) * c->n);
	c->old_next = palloc(sizeof(CfTime) * c->n);
	c->has_next_dom = palloc0(sizeof(bool) * c->n);
	c->old_next_dom = palloc(sizeof(CfTime) * c->n * CF_DOM_COUNT);
	c->facts = palloc0(sizeof(CfPatientFacts) * c->n);
	c->open = palloc0(sizeof(CfOpenFlag *) * c->n);
	c->n_open = palloc0(sizeof(int) * c->n);
	c->done = palloc0(sizeof(CfOpenFlag *) * c->n);
	c->n_done = palloc0(sizeof(int) * c->n);
	c->patients_read = false;
	c->state_v13 = false;
	if (c->tables == 0)
		c->tables = CF_FT_ALL;
	for (int i = 0; i < c->n; i++)
	{
		c->old_next[i] = CF_TIME_NEVER;
		c->facts[i].patient_id = c->ids[i];
	}
}

/* See fact_reader.h. */
void
cf_read_chunk(CfChunk *c, CfTime now, const CfEvalOps *ops)
{
	Reader		r;

	memset(&r, 0, sizeof(r));
	r.c = c;
	r.nsp = careflags_namespace();
	r.snap = RegisterSnapshot(GetActiveSnapshot());
	r.now = now;
	r.ops = ops;

	for (int ft = 0; ft < CF_FT_COUNT; ft++)
		if (c->tables & CF_FT_BIT(ft))
			read_table(&r, (CfFactTable) ft);

	UnregisterSnapshot(r.snap);
}

/* See fact_reader.h. */
const char *
cf_fact_table_name(CfFactTable ft)
{
	return fact_tables[ft].table;
}

/* See fact_reader.h. */
int
cf_fact_table_from_name(const char *name)
{
	for (int ft = 0; ft < CF_FT_COUNT; ft++)
		if (ft != CF_FT_DONE_FLAG && strcmp(fact_tables[ft].table, name) == 0)
			return ft;
	return -1;
}

/*
 * careflags.fact_reader_indexes(): every table the evaluation reads, the
 * index it reads it through and the key columns it relies on (the shape
 * the tests pin), one row per table.
 */
PG_FUNCTION_INFO_V1(careflags_fact_reader_indexes);
Datum
careflags_fact_reader_indexes(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int ft = 0; ft < CF_FT_COUNT; ft++)
	{
		const FactTableDesc *d = &fact_tables[ft];
		Datum		v[4];
		bool		nulls[4] = {false, false, false, false};
		Datum		keys[lengthof(d->keys)];
		int			n = 0;

		while (n < (int) lengthof(d->keys) && d->keys[n] != NULL)
		{
			keys[n] = CStringGetTextDatum(d->keys[n]);
			n++;
		}
		v[0] = CStringGetTextDatum(d->table);
		v[1] = CStringGetTextDatum(d->index);
		v[2] = PointerGetDatum(construct_array(keys, n, TEXTOID, -1, false, TYPALIGN_INT));
		v[3] = BoolGetDatum(d->partial);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, nulls);
	}
	return (Datum) 0;
}
