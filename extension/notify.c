/*-------------------------------------------------------------------------
 *
 * notify.c
 *	  Flag events: each raised, resolved, due or overdue flag is recorded in
 *	  the outbox careflags.flag_event, and NOTIFY careflags carries only the
 *	  event's number.  Any login may LISTEN, so the payload tells a stranger
 *	  nothing; readers fetch the event through careflags.my_flag_events,
 *	  which shows each role its own units only.  Delivered at commit,
 *	  dropped on abort, as NOTIFY always is.
 *
 *	  On a Citus worker, in a trigger on a shard (or the node's tick of its
 *	  shards), only the outbox row is written (to the patient's shard of
 *	  careflags.flag_event), with relayed_at NULL: a NOTIFY there would make
 *	  every transaction that writes shards on two workers fail at PREPARE
 *	  TRANSACTION, and would reach only the worker's listeners.  The
 *	  coordinator's background worker relays them (cf_relay_events): every
 *	  careflags.relay_interval it sets relayed_at of the events that have
 *	  none and sends NOTIFY careflags with each one's id, in one transaction,
 *	  so LISTEN careflags on the coordinator hears what it would hear on one
 *	  server.
 *
 *	  On one server the background worker serving the database relays the
 *	  writers' events the same way (in its queue pass, woken at the writer's
 *	  commit): PostgreSQL serialises the commits of every transaction that
 *	  sent a NOTIFY (PreCommit_Notify takes a database-wide lock and holds
 *	  it through the commit's WAL flush), so a NOTIFY in each flag-changing
 *	  record write would queue those writes behind one another; the worker
 *	  sends a pass's events in one transaction.  The worker's own events
 *	  (the tick's due and overdue ones), and a writer's where no worker
 *	  serves the database, are sent by their transaction, relayed_at set
 *	  when the event is written.
 *
 *	  Why a mark on each event, not a high-water mark of event ids: ids are
 *	  taken when an event is written, not when its transaction commits, so a
 *	  transaction that commits after a later one would fall below a mark
 *	  already moved past it, and its events would be lost.  The relay's
 *	  transaction holds both its NOTIFYs and the marks: Citus commits it
 *	  with two-phase commit, the coordinator's own commit (which sends the
 *	  NOTIFYs) being the decision the workers' prepared parts follow, also
 *	  after a crash (Citus' transaction recovery).  So an event is sent once:
 *	  a relay that stops before its commit sent nothing and marked nothing,
 *	  and the next pass (after a restart too) takes the events up again; an
 *	  event whose mark is still in doubt on a worker is waited for, not sent
 *	  again.  Events come in the order of their ids per pass.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "careflags.h"

#include "notify.h"
#include "queue.h"
#include "shard.h"

/*
 * Record one flag event in the outbox and NOTIFY careflags with its number.
 * Called as the extension owner, inside or outside an SPI connection (the
 * caller's SPI result is kept).  On a database whose objects are still 1.2
 * (no outbox until ALTER EXTENSION careflags UPDATE) the 1.2 payload of ids
 * is sent as before.
 */
void
cf_notify(const char *event, int64 flag_id, int64 patient_id,
		  const char *rule_id, const char *unit_id)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	Oid			nsp = get_namespace_oid(CF_SCHEMA, true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid("flag_event", nsp) : InvalidOid;
	StringInfoData buf;
	bool		by_relay = cf_shard_context() != 0;

	initStringInfo(&buf);
	if (OidIsValid(relid))
	{
		/*
		 * 1.3 with the relay: relayed_at set when this transaction sends the
		 * NOTIFY itself; left NULL for the relay (a shard's events for the
		 * coordinator's; a writer's for the worker serving this database)
		 */
		bool		marks = get_attnum(relid, "relayed_at") != InvalidAttrNumber;
		bool		on_shard = cf_shard_context() != 0;
		Oid			types[6] = {TEXTOID, INT8OID, INT8OID, TEXTOID, TEXTOID, BOOLOID};
		Datum		v[6];
		char		nulls[6] = "     ";
		bool		isnull;
		MemoryContext cxt = CurrentMemoryContext;

		v[0] = CStringGetTextDatum(event);
		v[1] = Int64GetDatum(flag_id);
		v[2] = Int64GetDatum(patient_id);
		v[3] = CStringGetTextDatum(rule_id);
		v[4] = unit_id ? CStringGetTextDatum(unit_id) : (Datum) 0;
		if (unit_id == NULL)
			nulls[4] = 'n';
		by_relay = marks && (on_shard || cf_worker_relays_here());
		v[5] = BoolGetDatum(by_relay);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (plans[marks] == NULL)
		{
			SPIPlanPtr	p = SPI_prepare(marks ?
										"INSERT INTO careflags.flag_event (kind, flag_id, patient_id, rule_id, unit_id, relayed_at) "
										"VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 THEN NULL ELSE pg_catalog.now() END) RETURNING event_id" :
										"INSERT INTO careflags.flag_event (kind, flag_id, patient_id, rule_id, unit_id) "
										"VALUES ($1, $2, $3, $4, $5) RETURNING event_id", marks ? 6 : 5, types);

			if (p == NULL || SPI_keepplan(p) != 0)
				elog(ERROR, "careflags: could not prepare the flag event insert");
			plans[marks] = p;
		}
		if (SPI_execute_plan(plans[marks], v, nulls, false, 1) != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
			elog(ERROR, "careflags: could not record the flag event");
		appendStringInfo(&buf, INT64_FORMAT,
						 DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)));
		SPI_finish();
		MemoryContextSwitchTo(cxt);
	}
	else
	{
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
	}
	if (!by_relay)
		Async_Notify("careflags", buf.data);
	else if (cf_shard_context() == 0)
		cf_wake_worker_at_commit();
	pfree(buf.data);
}

/* qsort comparator of event ids */
static int
cmp_event_id(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/*
 * The relay, on a Citus coordinator (the background worker, in its own
 * transaction): mark every event no NOTIFY was sent for yet and NOTIFY
 * careflags with each id, in the order of the ids; returns how many.  The
 * NOTIFYs go out when the caller's transaction commits, with the marks.
 * Does nothing before 1.3's relayed_at (ALTER EXTENSION careflags UPDATE).
 */
int64
cf_relay_events(bool distributed)
{
	Oid			nsp = get_namespace_oid(CF_SCHEMA, true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid("flag_event", nsp) : InvalidOid;
	MemoryContext cxt = CurrentMemoryContext;
	int64	   *ids;
	int64		n;

	if (!OidIsValid(relid) || get_attnum(relid, "relayed_at") == InvalidAttrNumber)
		return 0;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* a read first: most passes find nothing, and a read commits without 2PC */
	if (SPI_execute("SELECT FROM careflags.flag_event WHERE relayed_at IS NULL LIMIT 1", true, 1) != SPI_OK_SELECT)
		elog(ERROR, "careflags: could not read the flag event outbox");
	if (SPI_processed == 0)
	{
		SPI_finish();
		MemoryContextSwitchTo(cxt);
		return 0;
	}
	/*
	 * one connection per node for the marks (Citus commits them with
	 * two-phase commit, a task per shard), not one per shard
	 */
	if (distributed &&
		SPI_execute("SELECT pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true)",
					false, 0) != SPI_OK_SELECT)
		elog(ERROR, "careflags: could not set citus.multi_shard_modify_mode");
	if (SPI_execute("UPDATE careflags.flag_event SET relayed_at = pg_catalog.now() "
					"WHERE relayed_at IS NULL RETURNING event_id", false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "careflags: could not mark the relayed flag events");
	n = (int64) SPI_processed;
	ids = MemoryContextAllocHuge(cxt, sizeof(int64) * Max(n, 1));
	for (int64 i = 0; i < n; i++)
	{
		bool		isnull;

		ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_finish();
	MemoryContextSwitchTo(cxt);
	qsort(ids, n, sizeof(int64), cmp_event_id);
	for (int64 i = 0; i < n; i++)
	{
		char		payload[32];

		snprintf(payload, sizeof(payload), INT64_FORMAT, ids[i]);
		Async_Notify("careflags", payload);
	}
	pfree(ids);
	return n;
}
