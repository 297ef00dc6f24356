/*-------------------------------------------------------------------------
 *
 * actions.c
 *	  What a nurse does with a flag - acknowledge, snooze, exempt - and the
 *	  same on a row of careflags.actions (acknowledge_action, snooze_action,
 *	  exempt_action): every flag behind the row, one audit entry naming them
 *	  all (detail "row" and "flags").  Each action appends to the audit
 *	  (audit.c).
 *
 *	  Each action first looks the flag up as the caller, through row-level
 *	  security or the nurse's views, so a nurse acts only on flags of her
 *	  units; the writes are then done as the extension owner (the caller has
 *	  no write rights on careflags.flag or careflags.audit).  No SECURITY
 *	  DEFINER function is needed, and the actor recorded is the calling role.
 *	  Before it touches the flag an action takes the patient's action lock in
 *	  share mode (patient_lock.c), which tells record writes to skip the flag
 *	  rows it holds instead of waiting for them.
 *
 *	  On Citus (careflags.distribute()) the actions run on the coordinator:
 *	  the flag is looked up through the nurse's views (which read the
 *	  shards), updated on its shard, and the entry appended to the
 *	  coordinator's chain; on a worker they are refused.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "audit.h"
#include "careflags.h"
#include "shard.h"
#include "flags.h"

typedef struct FlagRow
{
	int64		patient_id;
	char	   *rule_id;
	bool		open;
	Interval   *max_snooze;
	char	   *unit_id;
} FlagRow;

/*
 * Look the flag up as the caller.  A role that may read careflags.flag
 * (careflags_admin, under row-level security) reads it there; a nurse, who
 * has no grant on the table since 1.3, reads careflags.my_flags (the open
 * flags of her units); on 1.2 objects she still reads the table under its
 * row-level security.
 */
static FlagRow
visible_flag(int64 flag_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(flag_id)};
	FlagRow		fr;
	bool		isnull;
	int			ret;
	Oid			nsp = get_namespace_oid(CF_SCHEMA, false);
	Oid			flag_rel = get_relname_relid("flag", nsp);
	bool		own_units = pg_class_aclcheck(flag_rel, GetUserId(), ACL_SELECT) != ACLCHECK_OK &&
		OidIsValid(get_relname_relid("my_flags", nsp));

	/*
	 * (the rule is read per row, not joined: on Citus my_flags reads through
	 * a function, which Citus would otherwise plan with the reference table
	 * rule on another node)
	 */
	ret = SPI_execute_with_args(own_units ?
								"SELECT f.patient_id, f.rule_id, true, "
								"  (SELECT r.max_snooze FROM careflags.rule r WHERE r.rule_id OPERATOR(pg_catalog.=) f.rule_id), "
								"  f.unit_id "
								"FROM (SELECT m.* FROM careflags.my_flags m "
								"      WHERE m.flag_id OPERATOR(pg_catalog.=) $1 OFFSET 0) f" :
								"SELECT f.patient_id, f.rule_id, f.resolved_at IS NULL, r.max_snooze, f.unit_id "
								"FROM careflags.flag f JOIN careflags.rule r "
								"  ON r.rule_id OPERATOR(pg_catalog.=) f.rule_id "
								"WHERE f.flag_id OPERATOR(pg_catalog.=) $1",
								1, types, values, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "careflags: could not read the flag");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("flag " INT64_FORMAT " does not exist or is not on one of your units", flag_id)));
	fr.patient_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	fr.rule_id = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	fr.open = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	fr.max_snooze = DatumGetIntervalP(datumCopy(SPI_getbinval(SPI_tuptable->vals[0],
															  SPI_tuptable->tupdesc, 4, &isnull),
												false, sizeof(Interval)));
	fr.unit_id = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5);
	if (!fr.open)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("flag " INT64_FORMAT " is already resolved", flag_id)));
	return fr;
}

/*
 * After the UPDATE of an open flag: 0 rows means that a record write
 * resolved it while the action waited for its row.
 */
static void
flag_still_open(int64 flag_id)
{
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("flag " INT64_FORMAT " is already resolved", flag_id),
				 errdetail("A write of the record resolved it while this action waited.")));
}

typedef struct ActionContext
{
	int			nestlevel;
	char	   *actor;
	TimestampTz now;
} ActionContext;

static void
begin_action(ActionContext *ac)
{
	/*
	 * On Citus the audit chain (careflags.audit, audit_chain: plain tables,
	 * not distributed) is the coordinator's, and the flag is updated on its
	 * shard through the coordinator: one chain for every action.  A worker
	 * would start a chain of its own.
	 */
	cf_refuse_on_citus_worker("acknowledge(), snooze() and exempt()",
							  "Connect to the coordinator to act on a flag.");
	ac->actor = GetUserNameFromId(GetUserId(), false);
	ac->now = cf_now();
	ac->nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

static void
end_action(ActionContext *ac)
{
	SPI_finish();
	AtEOXact_GUC(true, ac->nestlevel);
}

static char *
json_note(const char *key, const char *value)
{
	StringInfoData b;

	initStringInfo(&b);
	appendStringInfoChar(&b, '{');
	if (value != NULL)
	{
		escape_json(&b, key);
		appendStringInfoString(&b, ": ");
		escape_json(&b, value);
	}
	appendStringInfoChar(&b, '}');
	return b.data;
}

/* ---- the actions, on one flag or on every flag of a row ---- */

/* Acknowledge one open flag (owner context, SPI connected). */
static void
ack_flag(const ActionContext *ac, const FlagRow *fr, int64 flag_id)
{
	Oid			types[4] = {INT8OID, INT8OID, TIMESTAMPTZOID, NAMEOID};
	Datum		v[4] = {Int64GetDatum(fr->patient_id), Int64GetDatum(flag_id),
		TimestampTzGetDatum(ac->now), DirectFunctionCall1(namein, CStringGetDatum(ac->actor))};

	if (SPI_execute_with_args("UPDATE careflags.flag SET acknowledged_at = $3, acknowledged_by = $4 "
							  "WHERE patient_id OPERATOR(pg_catalog.=) $1 AND flag_id OPERATOR(pg_catalog.=) $2 "
							  "  AND resolved_at IS NULL",
							  4, types, v, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "careflags: could not acknowledge");
	flag_still_open(flag_id);
}

/* A snooze time must lie ahead and within the rule's max_snooze. */
static void
check_snooze(const ActionContext *ac, const FlagRow *fr, TimestampTz until)
{
	TimestampTz limit = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
																TimestampTzGetDatum(ac->now),
																IntervalPGetDatum(fr->max_snooze)));

	if (until <= ac->now)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("snooze until %s is not in the future",
						DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(until))))));
	if (until > limit)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rule %s allows snoozing for at most %s", fr->rule_id,
						DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(fr->max_snooze)))),
				 errhint("Snooze until %s at the latest.",
						 DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(limit))))));
}

/* Snooze one open flag (owner context, SPI connected). */
static void
snooze_flag(const FlagRow *fr, int64 flag_id, TimestampTz until)
{
	Oid			types[3] = {INT8OID, INT8OID, TIMESTAMPTZOID};
	Datum		v[3] = {Int64GetDatum(fr->patient_id), Int64GetDatum(flag_id), TimestampTzGetDatum(until)};

	if (SPI_execute_with_args("UPDATE careflags.flag SET snoozed_until = $3 "
							  "WHERE patient_id OPERATOR(pg_catalog.=) $1 AND flag_id OPERATOR(pg_catalog.=) $2 "
							  "  AND resolved_at IS NULL",
							  3, types, v, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "careflags: could not snooze");
	flag_still_open(flag_id);
}

/* 2200-01-01 UTC: the guard's upper bound for the times of facts */
static TimestampTz
exemption_time_limit(void)
{
	return DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum("2200-01-01 00:00+00"),
												   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

/* An exemption's reason: not blank. */
static char *
exemption_reason(text *t)
{
	char	   *reason = cf_bounded_text(t, "reason");

	for (char *p = reason; *p; p++)
		if (!isspace((unsigned char) *p))
			return reason;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("an exemption needs a reason, e.g. \"end-of-life care\"")));
	return NULL;				/* keep the compiler quiet */
}

/* An exemption's end, when given: ahead, and a time careflags can reckon with. */
static void
check_valid_until(const ActionContext *ac, bool given, TimestampTz valid_until)
{
	if (!given)
		return;
	if (valid_until <= ac->now)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("valid_until must be in the future")));
	/* the guard's bound for every time of a fact (guard.c), checked before auditing */
	if (TIMESTAMP_NOT_FINITE(valid_until) || valid_until >= exemption_time_limit())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("valid_until must be before 2200"),
				 errdetail("An exemption's end is a time careflags can reckon with, as every time of a fact."),
				 errhint("Leave valid_until NULL for an exemption without an end.")));
}

/* The audit detail of an exemption: {"reason": ..., "valid_until": ...}. */
static void
exemption_detail(StringInfo d, const char *reason, bool given, TimestampTz valid_until)
{
	appendStringInfoString(d, "\"reason\": ");
	escape_json(d, reason);
	if (given)
		appendStringInfo(d, ", \"valid_until\": \"%s\"",
						 DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(valid_until))));
}

/*
 * Was the flag resolved as exempt by the evaluation of the exemption just
 * recorded?  On Citus the shard's row trigger evaluates the exemption at
 * once (careflags.defer_evaluation does not reach the shards), resolving
 * the flag 'exempt' and writing its event, before the action resolves it.
 */
static bool
exempted_by_evaluation(const FlagRow *fr, int64 flag_id)
{
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		v[2] = {Int64GetDatum(fr->patient_id), Int64GetDatum(flag_id)};

	if (SPI_execute_with_args("SELECT FROM careflags.flag WHERE patient_id OPERATOR(pg_catalog.=) $1 "
							  "AND flag_id OPERATOR(pg_catalog.=) $2 AND resolution OPERATOR(pg_catalog.=) 'exempt'",
							  2, types, v, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "careflags: could not read the exempted flag");
	return SPI_processed == 1;
}

/*
 * Exempt one open flag (owner context, SPI connected): record the exemption
 * fact of its rule under the key given and resolve the flag.  The exemption
 * fact is evaluated at commit (as with careflags.defer_evaluation), not now:
 * evaluating now would lock the patient's row to the end of the nurse's
 * transaction and hold up every write of the record for that patient while
 * she leaves it open.  The flag is resolved here instead, which holds only
 * its own row (writes skip a held flag, reconcile.c).
 */
static void
exempt_flag(const ActionContext *ac, const FlagRow *fr, int64 flag_id, const char *key,
			const char *reason, bool given, TimestampTz valid_until)
{
	(void) set_config_option("careflags.defer_evaluation", "on", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	{
		Oid			types[7] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, NAMEOID};
		Datum		v[7];
		char		nulls[7] = "       ";

		v[0] = Int64GetDatum(fr->patient_id);
		v[1] = CStringGetTextDatum(key);
		v[2] = CStringGetTextDatum(fr->rule_id);
		v[3] = CStringGetTextDatum(reason);
		v[4] = TimestampTzGetDatum(ac->now);
		if (!given)
			nulls[5] = 'n';
		else
			v[5] = TimestampTzGetDatum(valid_until);
		v[6] = DirectFunctionCall1(namein, CStringGetDatum(ac->actor));
		if (SPI_execute_with_args("INSERT INTO careflags.exemption (patient_id, source_system, source_key, scope, "
								  "reason, valid_from, valid_until, recorded_by) "
								  "VALUES ($1, 'careflags', $2, $3, $4, $5, $6, $7)",
								  7, types, v, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "careflags: could not record the exemption");
		/* the guard quarantined it: no exemption, so no action (and no audit row) */
		if (SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the exemption was not accepted"),
					 errdetail("careflags.fact_guard put it in careflags.quarantine (see the warning above).")));
	}
	{
		Oid			types[3] = {INT8OID, INT8OID, TIMESTAMPTZOID};
		Datum		v[3] = {Int64GetDatum(fr->patient_id), Int64GetDatum(flag_id), TimestampTzGetDatum(ac->now)};

		if (SPI_execute_with_args("UPDATE careflags.flag SET resolved_at = $3, resolution = 'exempt' "
								  "WHERE patient_id OPERATOR(pg_catalog.=) $1 AND flag_id OPERATOR(pg_catalog.=) $2 "
								  "  AND resolved_at IS NULL",
								  3, types, v, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "careflags: could not resolve the exempted flag");
		if (SPI_processed == 0 && exempted_by_evaluation(fr, flag_id))
			return;
		flag_still_open(flag_id);
		cf_notify("resolved", flag_id, fr->patient_id, fr->rule_id, fr->unit_id);
	}
}

/* careflags.acknowledge(flag_id, note): the nurse has seen the flag. */
PG_FUNCTION_INFO_V1(careflags_acknowledge);
Datum
careflags_acknowledge(PG_FUNCTION_ARGS)
{
	int64		flag_id;
	char	   *note = PG_ARGISNULL(1) ? NULL : cf_bounded_text(PG_GETARG_TEXT_PP(1), "note");
	ActionContext ac;
	FlagRow		fr;
	CfOwnerContext oc;
	int64		audit_id;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("flag_id must not be NULL")));
	flag_id = PG_GETARG_INT64(0);

	begin_action(&ac);
	fr = visible_flag(flag_id);
	cf_lock_patient_actions(fr.patient_id);
	cf_enter_owner_context(&oc);
	ack_flag(&ac, &fr, flag_id);
	audit_id = cf_audit_append(fr.patient_id, flag_id, "acknowledge", ac.actor, ac.now,
							json_note("note", note));
	cf_leave_owner_context(&oc);
	end_action(&ac);
	PG_RETURN_INT64(audit_id);
}

/* careflags.snooze(flag_id, until, note): hide from the worklist for a while. */
PG_FUNCTION_INFO_V1(careflags_snooze);
Datum
careflags_snooze(PG_FUNCTION_ARGS)
{
	int64		flag_id;
	TimestampTz until;
	char	   *note = PG_ARGISNULL(2) ? NULL : cf_bounded_text(PG_GETARG_TEXT_PP(2), "note");
	ActionContext ac;
	FlagRow		fr;
	CfOwnerContext oc;
	int64		audit_id;
	StringInfoData d;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("flag_id and until must not be NULL")));
	flag_id = PG_GETARG_INT64(0);
	until = PG_GETARG_TIMESTAMPTZ(1);

	begin_action(&ac);
	fr = visible_flag(flag_id);
	cf_lock_patient_actions(fr.patient_id);
	check_snooze(&ac, &fr, until);

	cf_enter_owner_context(&oc);
	snooze_flag(&fr, flag_id, until);
	initStringInfo(&d);
	appendStringInfo(&d, "{\"until\": \"%s\"",
					 DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(until))));
	if (note)
	{
		appendStringInfoString(&d, ", \"note\": ");
		escape_json(&d, note);
	}
	appendStringInfoChar(&d, '}');
	audit_id = cf_audit_append(fr.patient_id, flag_id, "snooze", ac.actor, ac.now, d.data);
	cf_leave_owner_context(&oc);
	end_action(&ac);
	PG_RETURN_INT64(audit_id);
}

/* careflags.exempt(flag_id, reason, valid_until): not relevant for this patient. */
PG_FUNCTION_INFO_V1(careflags_exempt);
Datum
careflags_exempt(PG_FUNCTION_ARGS)
{
	int64		flag_id;
	char	   *reason;
	bool		given = !PG_ARGISNULL(2);
	TimestampTz valid_until = given ? PG_GETARG_TIMESTAMPTZ(2) : 0;
	ActionContext ac;
	FlagRow		fr;
	CfOwnerContext oc;
	int64		audit_id;
	StringInfoData d;
	char		key[96];

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("flag_id and reason must not be NULL")));
	flag_id = PG_GETARG_INT64(0);
	reason = exemption_reason(PG_GETARG_TEXT_PP(1));

	begin_action(&ac);
	check_valid_until(&ac, given, valid_until);
	fr = visible_flag(flag_id);
	cf_lock_patient_actions(fr.patient_id);
	cf_enter_owner_context(&oc);

	initStringInfo(&d);
	appendStringInfoChar(&d, '{');
	exemption_detail(&d, reason, given, valid_until);
	appendStringInfoChar(&d, '}');
	audit_id = cf_audit_append(fr.patient_id, flag_id, "exempt", ac.actor, ac.now, d.data);
	snprintf(key, sizeof(key), "audit/" INT64_FORMAT, audit_id);
	exempt_flag(&ac, &fr, flag_id, key, reason, given, valid_until);
	cf_leave_owner_context(&oc);
	end_action(&ac);
	PG_RETURN_INT64(audit_id);
}

/*
 * An action on a row of careflags.actions (clinical-rules.md §7.18): the
 * flags behind one of the caller's rows, each looked up as the caller
 * (visible_flag), the patient's action lock taken once.  action_flags()
 * raises no_data_found when the caller has no such row.
 */
typedef struct RowFlags
{
	int			n;
	int64	   *ids;
	FlagRow    *rows;
	char	   *ids_json;		/* [1, 2, 3] */
} RowFlags;

static RowFlags
row_flags(int64 patient_id, const char *action)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		v[2] = {Int64GetDatum(patient_id), CStringGetTextDatum(action)};
	RowFlags	rf;
	StringInfoData j;
	bool		isnull;

	if (SPI_execute_with_args("SELECT f FROM pg_catalog.unnest(careflags.action_flags($1, $2)) AS f ORDER BY f",
							  2, types, v, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "careflags: could not read the row's flags");
	rf.n = (int) SPI_processed;
	rf.ids = palloc(sizeof(int64) * Max(rf.n, 1));
	rf.rows = palloc(sizeof(FlagRow) * Max(rf.n, 1));
	for (int i = 0; i < rf.n; i++)
		rf.ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	initStringInfo(&j);
	appendStringInfoChar(&j, '[');
	for (int i = 0; i < rf.n; i++)
	{
		rf.rows[i] = visible_flag(rf.ids[i]);
		if (rf.rows[i].patient_id != patient_id)
			elog(ERROR, "careflags: flag " INT64_FORMAT " of the row is not of patient " INT64_FORMAT,
				 rf.ids[i], patient_id);
		appendStringInfo(&j, "%s" INT64_FORMAT, i > 0 ? ", " : "", rf.ids[i]);
	}
	appendStringInfoChar(&j, ']');
	rf.ids_json = j.data;
	if (rf.n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("no open action \"%s\" for patient " INT64_FORMAT, action, patient_id)));
	cf_lock_patient_actions(patient_id);
	return rf;
}

/* The row's audit detail starts: {"row": "medication_review", "flags": [...] */
static void
row_detail(StringInfo d, const char *action, const RowFlags *rf)
{
	appendStringInfoString(d, "{\"row\": ");
	escape_json(d, action);
	appendStringInfo(d, ", \"flags\": %s", rf->ids_json);
}

/* The arguments every row action has: patient_id and action, not NULL. */
static char *
row_args(FunctionCallInfo fcinfo, int64 *patient_id)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("patient_id and action must not be NULL")));
	*patient_id = PG_GETARG_INT64(0);
	return cf_bounded_text(PG_GETARG_TEXT_PP(1), "action");
}

/*
 * careflags.acknowledge_action(patient_id, action, note): every flag behind
 * the row acknowledged, one audit entry naming them all (its flag_id the
 * first of them).
 */
PG_FUNCTION_INFO_V1(careflags_acknowledge_action);
Datum
careflags_acknowledge_action(PG_FUNCTION_ARGS)
{
	int64		patient_id;
	char	   *action = row_args(fcinfo, &patient_id);
	char	   *note = PG_ARGISNULL(2) ? NULL : cf_bounded_text(PG_GETARG_TEXT_PP(2), "note");
	ActionContext ac;
	RowFlags	rf;
	CfOwnerContext oc;
	StringInfoData d;
	int64		audit_id;

	begin_action(&ac);
	rf = row_flags(patient_id, action);
	cf_enter_owner_context(&oc);
	for (int i = 0; i < rf.n; i++)
		ack_flag(&ac, &rf.rows[i], rf.ids[i]);
	initStringInfo(&d);
	row_detail(&d, action, &rf);
	if (note)
	{
		appendStringInfoString(&d, ", \"note\": ");
		escape_json(&d, note);
	}
	appendStringInfoChar(&d, '}');
	audit_id = cf_audit_append(patient_id, rf.ids[0], "acknowledge", ac.actor, ac.now, d.data);
	cf_leave_owner_context(&oc);
	end_action(&ac);
	PG_RETURN_INT64(audit_id);
}

/* careflags.snooze_action(patient_id, action, until, note): the whole row, one audit entry. */
PG_FUNCTION_INFO_V1(careflags_snooze_action);
Datum
careflags_snooze_action(PG_FUNCTION_ARGS)
{
	int64		patient_id;
	char	   *action = row_args(fcinfo, &patient_id);
	TimestampTz until;
	char	   *note = PG_ARGISNULL(3) ? NULL : cf_bounded_text(PG_GETARG_TEXT_PP(3), "note");
	ActionContext ac;
	RowFlags	rf;
	CfOwnerContext oc;
	StringInfoData d;
	int64		audit_id;

	if (PG_ARGISNULL(2))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("until must not be NULL")));
	until = PG_GETARG_TIMESTAMPTZ(2);

	begin_action(&ac);
	rf = row_flags(patient_id, action);
	/* every rule's max_snooze first: the row is snoozed whole or not at all */
	for (int i = 0; i < rf.n; i++)
		check_snooze(&ac, &rf.rows[i], until);
	cf_enter_owner_context(&oc);
	for (int i = 0; i < rf.n; i++)
		snooze_flag(&rf.rows[i], rf.ids[i], until);
	initStringInfo(&d);
	row_detail(&d, action, &rf);
	appendStringInfo(&d, ", \"until\": \"%s\"",
					 DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(until))));
	if (note)
	{
		appendStringInfoString(&d, ", \"note\": ");
		escape_json(&d, note);
	}
	appendStringInfoChar(&d, '}');
	audit_id = cf_audit_append(patient_id, rf.ids[0], "snooze", ac.actor, ac.now, d.data);
	cf_leave_owner_context(&oc);
	end_action(&ac);
	PG_RETURN_INT64(audit_id);
}

/*
 * careflags.exempt_action(patient_id, action, reason, valid_until): every
 * rule behind the row not relevant for the patient; one audit entry, one
 * exemption per rule (key audit/<audit id>/<flag id>).
 */
PG_FUNCTION_INFO_V1(careflags_exempt_action);
Datum
careflags_exempt_action(PG_FUNCTION_ARGS)
{
	int64		patient_id;
	char	   *action = row_args(fcinfo, &patient_id);
	char	   *reason;
	bool		given = !PG_ARGISNULL(3);
	TimestampTz valid_until = given ? PG_GETARG_TIMESTAMPTZ(3) : 0;
	ActionContext ac;
	RowFlags	rf;
	CfOwnerContext oc;
	StringInfoData d;
	int64		audit_id;

	if (PG_ARGISNULL(2))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("reason must not be NULL")));
	reason = exemption_reason(PG_GETARG_TEXT_PP(2));

	begin_action(&ac);
	check_valid_until(&ac, given, valid_until);
	rf = row_flags(patient_id, action);
	cf_enter_owner_context(&oc);
	initStringInfo(&d);
	row_detail(&d, action, &rf);
	appendStringInfoString(&d, ", ");
	exemption_detail(&d, reason, given, valid_until);
	appendStringInfoChar(&d, '}');
	audit_id = cf_audit_append(patient_id, rf.ids[0], "exempt", ac.actor, ac.now, d.data);
	for (int i = 0; i < rf.n; i++)
	{
		char		key[96];

		snprintf(key, sizeof(key), "audit/" INT64_FORMAT "/" INT64_FORMAT, audit_id, rf.ids[i]);
		exempt_flag(&ac, &rf.rows[i], rf.ids[i], key, reason, given, valid_until);
	}
	cf_leave_owner_context(&oc);
	end_action(&ac);
	PG_RETURN_INT64(audit_id);
}

