/*-------------------------------------------------------------------------
 *
 * shard.c
 *	  Which relation to read for a careflags table, on one server and on a
 *	  Citus worker.
 *
 *	  On one server careflags.<table> is read by name.  On Citus,
 *	  careflags.distribute() makes the per-patient tables distributed tables
 *	  co-located by patient_id: on a worker a row trigger fires on a shard
 *	  (careflags.assessment_102081), while careflags.assessment there is an
 *	  empty shell.  The evaluation a row trigger starts must read the
 *	  patient's facts, flags and state, and lock the patient, in the shards
 *	  of the same shard group, which Citus keeps on the same node.
 *
 *	  The trigger sets a shard context (cf_shard_context_enter) from its
 *	  relation; cf_relation_to_read() then maps a logical table (and an index
 *	  of it) to the co-located shard.  Shards are named <table>_<shardid> and
 *	  their indexes <index>_<shardid> (Citus' own naming); the co-located
 *	  shard ids are read once per shard group from pg_dist_shard and
 *	  pg_dist_partition and cached for the session (shard ids do not change
 *	  when shards move; a split makes new ids, thus new entries).
 *
 *	  Without Citus (no pg_dist_shard) or on a plain table, nothing changes:
 *	  cf_logical_relname() is the relation's name and no context is set.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "careflags.h"
#include "shard.h"

/* The co-located shards of one shard group, by logical table name. */
typedef struct ShardGroup
{
	int64		shardid;		/* the shard a trigger fired on */
	int			n;
	char	  **tables;
	int64	   *shardids;
} ShardGroup;

#define MAX_GROUPS 256

static ShardGroup groups[MAX_GROUPS];
static int	n_groups = 0;
static int64 current_shard = 0;

/* Is Citus' shard catalog there (Citus installed in this database)? */
static bool
have_shard_catalog(void)
{
	return OidIsValid(get_relname_relid("pg_dist_shard", PG_CATALOG_NAMESPACE));
}

/* See shard.h. */
const char *
cf_logical_relname(Relation rel, int64 *shardid)
{
	const char *name = RelationGetRelationName(rel);
	const char *us = strrchr(name, '_');
	Oid			nsp;
	char	   *prefix;
	char	   *end;
	int64		id;

	*shardid = 0;
	if (us == NULL || us[1] < '1' || us[1] > '9')
		return name;
	id = strtoi64(us + 1, &end, 10);
	if (*end != '\0' || id <= 0)
		return name;
	nsp = get_namespace_oid(CF_SCHEMA, true);
	if (!OidIsValid(nsp) || RelationGetNamespace(rel) != nsp)
		return name;
	prefix = pnstrdup(name, us - name);
	if (get_rel_relkind(get_relname_relid(prefix, nsp)) != RELKIND_RELATION ||
		!have_shard_catalog())
	{
		pfree(prefix);
		return name;
	}
	*shardid = id;
	return prefix;
}

/* Read the shard group of shardid from Citus' catalog into g. */
static void
load_group(ShardGroup *g, int64 shardid, Oid nsp)
{
	Oid			types[2] = {INT8OID, OIDOID};
	Datum		values[2];
	MemoryContext cxt = CurrentMemoryContext;
	int			n;

	values[0] = Int64GetDatum(shardid);
	values[1] = ObjectIdGetDatum(nsp);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(
							  "SELECT c.relname::pg_catalog.text, s.shardid "
							  "FROM pg_catalog.pg_dist_shard t "
							  "JOIN pg_catalog.pg_dist_partition pt ON pt.logicalrelid OPERATOR(pg_catalog.=) t.logicalrelid "
							  "JOIN pg_catalog.pg_dist_partition ps ON ps.colocationid OPERATOR(pg_catalog.=) pt.colocationid "
							  "JOIN pg_catalog.pg_dist_shard s ON s.logicalrelid OPERATOR(pg_catalog.=) ps.logicalrelid "
							  "AND s.shardminvalue OPERATOR(pg_catalog.=) t.shardminvalue "
							  "JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) s.logicalrelid "
							  "WHERE t.shardid OPERATOR(pg_catalog.=) $1 AND c.relnamespace OPERATOR(pg_catalog.=) $2",
							  2, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "careflags: could not read the shard group of shard " INT64_FORMAT, shardid);
	n = (int) SPI_processed;
	MemoryContextSwitchTo(TopMemoryContext);
	g->tables = palloc(sizeof(char *) * Max(n, 1));
	g->shardids = palloc(sizeof(int64) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		bool		isnull;

		g->tables[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		g->shardids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
	}
	g->n = n;
	g->shardid = shardid;
	MemoryContextSwitchTo(cxt);
	SPI_finish();
	MemoryContextSwitchTo(cxt);
}

/* The cached shard group of shardid, read when first needed. */
static ShardGroup *
shard_group(int64 shardid, Oid nsp)
{
	ShardGroup *g;

	for (int i = 0; i < n_groups; i++)
		if (groups[i].shardid == shardid)
			return &groups[i];
	if (n_groups == MAX_GROUPS)
	{
		/* many shard groups on this node: start the cache afresh */
		for (int i = 0; i < n_groups; i++)
		{
			for (int k = 0; k < groups[i].n; k++)
				pfree(groups[i].tables[k]);
			pfree(groups[i].tables);
			pfree(groups[i].shardids);
		}
		n_groups = 0;
	}
	g = &groups[n_groups];
	load_group(g, shardid, nsp);
	n_groups++;
	return g;
}

/* See shard.h. */
Oid
cf_relation_to_read(Oid nsp, const char *table, const char *index)
{
	ShardGroup *g;
	char		name[NAMEDATALEN * 2];
	Oid			relid;

	if (current_shard == 0)
		return get_relname_relid(index ? index : table, nsp);
	g = shard_group(current_shard, nsp);
	for (int i = 0; i < g->n; i++)
	{
		if (strcmp(g->tables[i], table) != 0)
			continue;
		snprintf(name, sizeof(name), "%s_" INT64_FORMAT, index ? index : table, g->shardids[i]);
		relid = strlen(name) < NAMEDATALEN ? get_relname_relid(name, nsp) : InvalidOid;
		if (!OidIsValid(relid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("careflags: shard %s of careflags.%s is not on this node", name, table),
					 errdetail("The evaluation of a write to shard " INT64_FORMAT " reads the shards co-located with it.",
							   current_shard),
					 errhint("Distribute careflags' tables with careflags.distribute(), which co-locates them by patient.")));
		return relid;
	}
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("careflags.%s is not co-located with shard " INT64_FORMAT, table, current_shard),
			 errhint("Distribute careflags' tables with careflags.distribute(), which co-locates them by patient.")));
	return InvalidOid;			/* keep the compiler quiet */
}

/* See shard.h. */
int64
cf_shard_context_enter(Relation rel)
{
	int64		previous = current_shard;
	int64		shardid;

	(void) cf_logical_relname(rel, &shardid);
	current_shard = shardid;
	return previous;
}

/* See shard.h. */
void
cf_shard_context_leave(int64 previous)
{
	current_shard = previous;
}

/* See shard.h. */
int64
cf_shard_context(void)
{
	return current_shard;
}

/* See shard.h. */
bool
cf_citus_distributed(void)
{
	Oid			nsp = get_namespace_oid(CF_SCHEMA, true);
	Oid			patient = OidIsValid(nsp) ? get_relname_relid("patient", nsp) : InvalidOid;
	Oid			types[1] = {OIDOID};
	Datum		values[1];
	MemoryContext cxt = CurrentMemoryContext;
	bool		distributed;

	if (!OidIsValid(patient) || !have_shard_catalog())
		return false;
	values[0] = ObjectIdGetDatum(patient);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT FROM pg_catalog.pg_dist_partition "
							  "WHERE logicalrelid OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "careflags: could not read pg_dist_partition");
	distributed = SPI_processed > 0;
	SPI_finish();
	MemoryContextSwitchTo(cxt);
	return distributed;
}

/* See shard.h. */
void
cf_refuse_on_citus(const char *what, const char *hint)
{
	if (current_shard != 0 || !cf_citus_distributed())
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("careflags.%s does not work on a Citus cluster yet", what),
			 errdetail("careflags' tables are distributed (careflags.distribute()): here careflags.%s would read "
					   "the empty tables of this node, not the shards, and silently find nothing.", what),
			 errhint("%s", hint)));
}

/* See shard.h. */
char *
cf_shard_query_text(const char *text)
{
	static const char prefix[] = "INSERT INTO careflags.flag (";
	static const char select[] = " SELECT ";
	Oid			nsp;
	Oid			relid;
	const char *rest;
	const char *sel;

	if (current_shard == 0 || strncmp(text, prefix, sizeof(prefix) - 1) != 0)
		return NULL;
	rest = text + sizeof(prefix) - 1;
	sel = strstr(rest, select);
	if (sel == NULL)
		return NULL;
	nsp = get_namespace_oid(CF_SCHEMA, false);
	relid = cf_relation_to_read(nsp, "flag", NULL);

	/*
	 * A shard has no identity default: the id is taken from the node's
	 * sequence (careflags.distribute() gives each node a range of its own).
	 */
	return psprintf("INSERT INTO %s (flag_id, %.*s SELECT pg_catalog.nextval('careflags.flag_flag_id_seq'::pg_catalog.regclass), %s",
					quote_qualified_identifier(CF_SCHEMA, get_rel_name(relid)),
					(int) (sel - rest), rest, sel + sizeof(select) - 1);
}

/* See shard.h. */
Oid
cf_reference_relation(Oid nsp, const char *table)
{
	Oid			relid = get_relname_relid(table, nsp);
	Oid			types[1] = {OIDOID};
	Datum		values[1];
	MemoryContext cxt = CurrentMemoryContext;
	char		method = '\0';
	int64		shardid = 0;
	bool		found;
	char		name[NAMEDATALEN * 2];
	Oid			shard;

	if (!OidIsValid(relid) || !have_shard_catalog())
		return relid;
	values[0] = ObjectIdGetDatum(relid);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT p.partmethod::pg_catalog.text, s.shardid "
							  "FROM pg_catalog.pg_dist_partition p "
							  "LEFT JOIN pg_catalog.pg_dist_shard s ON s.logicalrelid OPERATOR(pg_catalog.=) p.logicalrelid "
							  "WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "careflags: could not read pg_dist_partition");
	found = SPI_processed > 0;
	if (found)
	{
		bool		isnull;
		char	   *m = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);

		method = m ? m[0] : '\0';
		shardid = isnull ? 0 : DatumGetInt64(d);
	}
	SPI_finish();
	MemoryContextSwitchTo(cxt);
	if (!found)
		return relid;			/* not a Citus table: read it as it is */
	if (method != 'n' || shardid == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("careflags.%s is distributed, not a reference table", table),
				 errhint("careflags.distribute() makes it a reference table: distribute careflags' tables with it.")));
	snprintf(name, sizeof(name), "%s_" INT64_FORMAT, table, shardid);
	shard = strlen(name) < NAMEDATALEN ? get_relname_relid(name, nsp) : InvalidOid;
	if (!OidIsValid(shard))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("this node holds no copy of the reference table careflags.%s", table),
				 errdetail("careflags reads careflags.%s on the node it runs on; its copy here would be shard %s.",
						   table, name),
				 errhint("Add the coordinator to the cluster's metadata (citus_set_coordinator_host()) so that reference tables are copied to it.")));
	return shard;
}

/* See shard.h. */
bool
cf_citus_coordinator(void)
{
	return cf_citus_distributed() && cf_citus_local_group() == 0;
}

/* See shard.h. */
void
cf_refuse_on_citus_worker(const char *what, const char *hint)
{
	if (!cf_citus_distributed() || cf_citus_local_group() == 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("careflags.%s runs on the Citus coordinator only", what),
			 errdetail("The audit chain of the nurses' actions is kept on the coordinator; this node is a worker."),
			 errhint("%s", hint)));
}

/* See shard.h. */
bool
cf_citus_distributed_catalog(void)
{
	Oid			nsp = get_namespace_oid(CF_SCHEMA, true);
	Oid			patient = OidIsValid(nsp) ? get_relname_relid("patient", nsp) : InvalidOid;
	Oid			part = get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE);
	AttrNumber	att;
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	bool		found;

	if (!OidIsValid(patient) || !OidIsValid(part))
		return false;
	att = get_attnum(part, "logicalrelid");
	if (att == InvalidAttrNumber)
		return false;
	rel = table_open(part, AccessShareLock);
	ScanKeyInit(&key, att, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(patient));
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 1, &key);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/* See shard.h. */
int
cf_citus_local_group(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			group = -1;

	if (!cf_citus_distributed())
		return -1;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT groupid FROM pg_catalog.pg_dist_local_group", true, 1) != SPI_OK_SELECT)
		elog(ERROR, "careflags: could not read pg_dist_local_group");
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			group = DatumGetInt32(d);
	}
	SPI_finish();
	MemoryContextSwitchTo(cxt);
	return group;
}

/* See shard.h. */
List *
cf_local_shards(const char *table)
{
	Oid			nsp = get_namespace_oid(CF_SCHEMA, false);
	Oid			types[1] = {OIDOID};
	Datum		values[1];
	MemoryContext cxt = CurrentMemoryContext;
	List	   *shards = NIL;

	values[0] = ObjectIdGetDatum(get_relname_relid(table, nsp));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* the active placements in this node's group (a moved shard's old copy is not one) */
	if (SPI_execute_with_args("SELECT pg_catalog.to_regclass(pg_catalog.quote_ident(n.nspname) "
							  "       OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) "
							  "       pg_catalog.quote_ident(c.relname OPERATOR(pg_catalog.||) '_' "
							  "       OPERATOR(pg_catalog.||) s.shardid::pg_catalog.text))::pg_catalog.oid "
							  "FROM pg_catalog.pg_dist_shard s "
							  "JOIN pg_catalog.pg_dist_placement p ON p.shardid OPERATOR(pg_catalog.=) s.shardid "
							  "JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) s.logicalrelid "
							  "JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
							  "WHERE s.logicalrelid OPERATOR(pg_catalog.=) $1 AND p.shardstate OPERATOR(pg_catalog.=) 1 "
							  "  AND p.groupid OPERATOR(pg_catalog.=) (SELECT groupid FROM pg_catalog.pg_dist_local_group) "
							  "ORDER BY s.shardid",
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "careflags: could not list the shards on this node");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
		MemoryContext old;

		if (isnull)
			continue;			/* in the catalog, not (yet) a table here */
		old = MemoryContextSwitchTo(cxt);
		shards = lappend_oid(shards, DatumGetObjectId(d));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	MemoryContextSwitchTo(cxt);
	return shards;
}
