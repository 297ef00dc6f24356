/*-------------------------------------------------------------------------
 *
 * quarantine.c
 *	  Writing careflags.quarantine: the fact table, the source reference,
 *	  the patient, the reason and the row as JSON, with a WARNING to the
 *	  writer.  Written as the extension owner, so the writer needs no rights
 *	  on the quarantine table.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "flags.h"
#include "quarantine.h"
#include "shard.h"

static char *
attr_text(Relation rel, HeapTuple tuple, const char *name)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			attnum = SPI_fnumber(desc, name);

	if (attnum <= 0)
		return NULL;
	return SPI_getvalue(tuple, desc, attnum);
}

static void
insert_quarantine(const char *table, const char *source_system, const char *source_key,
				  const char *patient_id, const char *reason, Datum payload, bool payload_null)
{
	static const char *sql =
		"INSERT INTO careflags.quarantine (fact_table, source_system, source_key, patient_id, reason, payload) "
		"VALUES ($1, $2, $3, $4::pg_catalog.int8, $5, $6)";
	Oid			types[6] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID};
	Datum		values[6];
	char		nulls[6] = "      ";
	CfOwnerContext oc;
	MemoryContext cxt = CurrentMemoryContext;

	values[0] = CStringGetTextDatum(table);
	if (source_system)
		values[1] = CStringGetTextDatum(source_system);
	else
		nulls[1] = 'n';
	if (source_key)
		values[2] = CStringGetTextDatum(source_key);
	else
		nulls[2] = 'n';
	if (patient_id)
		values[3] = CStringGetTextDatum(patient_id);
	else
		nulls[3] = 'n';
	values[4] = CStringGetTextDatum(reason);
	values[5] = payload;
	if (payload_null)
		nulls[5] = 'n';

	cf_enter_owner_context(&oc);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(sql, 6, types, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write careflags.quarantine");
	SPI_finish();
	cf_leave_owner_context(&oc);
	MemoryContextSwitchTo(cxt);
}

void
cf_quarantine_row(Relation rel, HeapTuple tuple, const char *reason)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int64		shardid;
	const char *table = cf_logical_relname(rel, &shardid);
	char	   *source_system = attr_text(rel, tuple, "source_system");
	char	   *source_key = attr_text(rel, tuple, "source_key");
	char	   *patient_id = attr_text(rel, tuple, "patient_id");
	Datum		row = heap_copy_tuple_as_datum(tuple, desc);
	Datum		json;

	json = DirectFunctionCall1(jsonb_in,
							   CStringGetDatum(TextDatumGetCString(
																   DirectFunctionCall1(row_to_json, row))));

	ereport(WARNING,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("careflags: %s fact %s/%s quarantined: %s", table,
					source_system ? source_system : "?", source_key ? source_key : "?", reason),
			 errhint("The record's write went through; see careflags.quarantine. "
					 "Set careflags.strict = on to reject such writes instead.")));
	insert_quarantine(table, source_system, source_key, patient_id, reason, json, false);
}

void
cf_quarantine_evaluation(const char *table, const int64 *ids, int n, const char *reason)
{
	StringInfoData buf;
	Datum		json;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"patient_ids\": [");
	for (int i = 0; i < n && i < 1000; i++)
		appendStringInfo(&buf, "%s" INT64_FORMAT, i ? ", " : "", ids[i]);
	appendStringInfoString(&buf, "]}");
	json = DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));

	ereport(WARNING,
			(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
			 errmsg("careflags: flags of %d patient(s) not updated after a write to %s: %s",
					n, table, reason),
			 errhint("The record's write went through; run careflags.recompute_all() after fixing the cause.")));
	{
		char		pid[32];

		snprintf(pid, sizeof(pid), INT64_FORMAT, ids[0]);
		insert_quarantine("evaluation", NULL, NULL, n == 1 ? pid : NULL,
						  reason, json, false);
	}
}

/*
 * A patient a whole-database pass (recompute_all(), tick()) could not
 * evaluate: quarantined with the reason, the pass goes on with the others.
 * caller names the pass, e.g. "recompute_all".
 */
void
cf_quarantine_pass_failure(const char *caller, int64 patient_id, const char *reason)
{
	char		pid[32];
	char	   *payload;

	snprintf(pid, sizeof(pid), INT64_FORMAT, patient_id);
	payload = psprintf("{\"patient_ids\": [%s], \"pass\": \"%s\"}", pid, caller);

	ereport(WARNING,
			(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
			 errmsg("careflags: %s() could not evaluate patient %s; its flags were not updated: %s",
					caller, pid, reason),
			 errhint("The other patients were evaluated; correct this patient's facts and run careflags.recompute_patient(%s).",
					 pid)));
	insert_quarantine("evaluation", NULL, NULL, pid, reason,
					  DirectFunctionCall1(jsonb_in, CStringGetDatum(payload)), false);
}
