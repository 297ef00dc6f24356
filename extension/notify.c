/*-------------------------------------------------------------------------
 *
 * notify.c
 *	  NOTIFY careflags: one JSON payload per raised or resolved flag, with
 *	  ids only (event, flag, patient, rule, unit), never clinical text.
 *	  Delivered at commit, dropped on abort, as NOTIFY always is.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/async.h"
#include "lib/stringinfo.h"
#include "utils/json.h"

#include "notify.h"

/* Send one flag event on the careflags channel (see notify.h). */
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

