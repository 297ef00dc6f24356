/*-------------------------------------------------------------------------
 *
 * shard.h
 *	  Which relation to read for a careflags table: the table itself on one
 *	  server, or on a Citus worker the co-located shard of the shard a
 *	  trigger fired on.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CAREFLAGS_SHARD_H
#define CAREFLAGS_SHARD_H

#include "postgres.h"

#include "nodes/pg_list.h"
#include "utils/relcache.h"

/*
 * The logical careflags table a relation stands for: its own name, or for a
 * Citus shard of careflags.<table> (named <table>_<shardid>) that table's
 * name.  *shardid is set to the shard's id, or 0 for a plain table.
 */
extern const char *cf_logical_relname(Relation rel, int64 *shardid);

/*
 * The relation to read for careflags.<table> (or, when index is not NULL,
 * for that index of it): the table (index) itself, unless a shard context
 * is set (cf_shard_context_enter), then the co-located shard of table (its
 * index) on this node.  InvalidOid when there is none.
 */
extern Oid	cf_relation_to_read(Oid nsp, const char *table, const char *index);

/*
 * Evaluate in the shard group of rel (a trigger's relation): until
 * cf_shard_context_leave(previous), cf_relation_to_read() resolves to the
 * shards co-located with rel when rel is a Citus shard.  Returns the previous
 * context (to restore; contexts nest).
 */
extern int64 cf_shard_context_enter(Relation rel);
extern void cf_shard_context_leave(int64 previous);

/* The shard context in effect (0: none, the tables themselves are read). */
extern int64 cf_shard_context(void);

/*
 * In a shard context, the text of a careflags statement that must name the
 * co-located shard itself (the multi-row flag insert), palloc'd; NULL when
 * the statement runs as written.
 */
extern char *cf_shard_query_text(const char *text);

/*
 * The relation to read for careflags.<table> where the table may be a Citus
 * reference table: the table itself on one server (or when it is no Citus
 * table), else this node's copy of it (the shard <table>_<shardid>; the
 * table of that name here is an empty shell).  Refuses, feature_not_supported,
 * when this node holds no copy or the table is distributed.
 */
extern Oid	cf_reference_relation(Oid nsp, const char *table);

/* Are careflags' tables distributed by Citus in this database? */
extern bool cf_citus_distributed(void);

/*
 * The same, read from pg_dist_partition without SPI (for a setting's check
 * hook, inside a transaction).
 */
extern bool cf_citus_distributed_catalog(void);

/*
 * This node's group in a Citus cluster whose careflags tables are
 * distributed (0: the coordinator), or -1 (one server, or not distributed).
 */
extern int	cf_citus_local_group(void);

/*
 * The shards of careflags.<table> placed on this node (their relation oids,
 * by shard id): what this node's background worker looks after.
 */
extern List *cf_local_shards(const char *table);

/*
 * Refuse (feature_not_supported, with hint) what cannot work on a Citus
 * cluster yet: called at the top of an entry point that would read the
 * empty tables of a node instead of the shards.  Does nothing on one server
 * and inside a shard context.
 */
extern void cf_refuse_on_citus(const char *what, const char *hint);

/* Is this node the coordinator of a Citus cluster careflags is distributed on? */
extern bool cf_citus_coordinator(void);

/*
 * Refuse (feature_not_supported, with hint) on a Citus worker what runs on
 * the coordinator only (the nurse's actions: their audit chain is kept
 * there).  Does nothing on one server and on the coordinator.
 */
extern void cf_refuse_on_citus_worker(const char *what, const char *hint);

#endif							/* CAREFLAGS_SHARD_H */
