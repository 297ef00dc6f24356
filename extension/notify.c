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
 *	  On a Citus worker, in a trigger on a shard, only the outbox row is
 *	  written (to the patient's shard of careflags.flag_event): a NOTIFY there
 *	  would make every transaction that writes shards on two workers fail at
 *	  PREPARE TRANSACTION, and would reach only the worker's listeners.  On
 *	  Citus a reader polls careflags.flag_event through the coordinator
 *	  (README: careflags on Citus).
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

#include "careflags.h"

#include "notify.h"
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
	static SPIPlanPtr plan = NULL;
	Oid			nsp = get_namespace_oid(CF_SCHEMA, true);
	StringInfoData buf;

	initStringInfo(&buf);
	if (OidIsValid(nsp) && OidIsValid(get_relname_relid("flag_event", nsp)))
	{
		Oid			types[5] = {TEXTOID, INT8OID, INT8OID, TEXTOID, TEXTOID};
		Datum		v[5];
		char		nulls[5] = "    ";
		bool		isnull;
		MemoryContext cxt = CurrentMemoryContext;

		v[0] = CStringGetTextDatum(event);
		v[1] = Int64GetDatum(flag_id);
		v[2] = Int64GetDatum(patient_id);
		v[3] = CStringGetTextDatum(rule_id);
		v[4] = unit_id ? CStringGetTextDatum(unit_id) : (Datum) 0;
		if (unit_id == NULL)
			nulls[4] = 'n';
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (plan == NULL)
		{
			SPIPlanPtr	p = SPI_prepare("INSERT INTO careflags.flag_event (kind, flag_id, patient_id, rule_id, unit_id) "
										"VALUES ($1, $2, $3, $4, $5) RETURNING event_id", 5, types);

			if (p == NULL || SPI_keepplan(p) != 0)
				elog(ERROR, "careflags: could not prepare the flag event insert");
			plan = p;
		}
		if (SPI_execute_plan(plan, v, nulls, false, 1) != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
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
	if (cf_shard_context() == 0)
		Async_Notify("careflags", buf.data);
	pfree(buf.data);
}
