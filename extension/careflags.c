/*-------------------------------------------------------------------------
 *
 * careflags.c
 *	  Module entry: the settings (GUCs) of careflags, its clock, and the
 *	  registration of the background worker when loaded through
 *	  shared_preload_libraries.
 *
 *	  careflags also loads without preloading (the first CREATE EXTENSION or
 *	  function call loads it into a session): flags, triggers, worklist and
 *	  reports work the same.  What needs the postmaster is then absent, as
 *	  with pg_stat_statements: the background worker, its shared memory and
 *	  its settings (careflags.worker_*, careflags.worker_database being a
 *	  PGC_POSTMASTER setting that cannot be defined after startup), and so
 *	  careflags.evaluate_in_worker, which is refused with a hint.
 *	  careflags.preloaded() tells which case this is; the install and update
 *	  scripts (a NOTICE at commit) and `careflags check` say it.
 *
 *	  careflags.frozen_now is superuser-only: it holds the clock still so
 *	  tests can show a flag turning overdue with no write in between; a
 *	  nurse cannot move time.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "careflags.h"
#include "scores.h"
#include "queue.h"
#include "shard.h"
#include "worker.h"

PG_MODULE_MAGIC;

bool		cf_strict = false;
bool		cf_isolate_evaluation = true;
bool		cf_defer_evaluation = false;
bool		cf_evaluate_in_worker = false;
char	   *cf_timezone_name = NULL;
int			cf_worker_interval = 60;
int			cf_worker_queue_delay = 100;
int			cf_relay_interval = 1000;
char	   *cf_worker_database = NULL;
static char *cf_frozen_now_string = NULL;
static TimestampTz *cf_frozen_now = NULL;

/*
 * Whether _PG_init ran while shared_preload_libraries were loaded (in the
 * postmaster; backends inherit it on fork).
 */
static bool cf_preloaded = false;

void		_PG_init(void);

/* Parse careflags.frozen_now once, when it is set. */
static bool
check_frozen_now(char **newval, void **extra, GucSource source)
{
	TimestampTz *volatile ts;

	if (*newval == NULL || (*newval)[0] == '\0')
	{
		*extra = NULL;
		return true;
	}
	ts = (TimestampTz *) malloc(sizeof(TimestampTz));
	if (ts == NULL)
		return false;
	PG_TRY();
	{
		*ts = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
													  CStringGetDatum(*newval),
													  ObjectIdGetDatum(InvalidOid),
													  Int32GetDatum(-1)));
	}
	PG_CATCH();
	{
		FlushErrorState();
		free(ts);
		GUC_check_errdetail("careflags.frozen_now must be a timestamp with time zone, or empty.");
		return false;
	}
	PG_END_TRY();
	*extra = ts;
	return true;
}

static void
assign_frozen_now(const char *newval, void *extra)
{
	cf_frozen_now = (TimestampTz *) extra;
}

static bool
check_timezone_name(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || pg_tzset(*newval) == NULL)
	{
		GUC_check_errdetail("careflags.timezone must be a time zone name known to PostgreSQL, e.g. Europe/Oslo.");
		return false;
	}
	return true;
}

/*
 * careflags.defer_evaluation and careflags.evaluate_in_worker do not work on
 * a Citus cluster (careflags' tables distributed): the row trigger on a
 * shard evaluates at once, on its node, and the coordinator's queue or
 * commit-time evaluation would read its empty tables.  Refuse "on" there,
 * rather than silently doing nothing: an error for SET and ALTER ... SET, a
 * warning and the default for a value already set per role or database.
 * Looked up only inside a transaction (a SET, a session's start).  Not
 * refused to careflags' own functions and its plugins', which run as the
 * extension's owner (SECURITY DEFINER, or the owner context of the nurses'
 * actions: InLocalUserIdChange()) and set careflags.defer_evaluation only to
 * evaluate a batch once at its end; on Citus the shards' row triggers have
 * already evaluated each row, so there it changes nothing they rely on.
 * Nor refused while an extension's script runs (a plugin's CREATE FUNCTION
 * ... SET careflags.defer_evaluation = on is validated then).
 */
static bool
refuse_on_citus(const char *name, bool newval)
{
	/* an extension's script: a plugin's CREATE FUNCTION ... SET being validated */
	if (!newval || creating_extension || !IsTransactionState() || !OidIsValid(MyDatabaseId) ||
		InLocalUserIdChange() || !cf_citus_distributed_catalog())
		return true;
	GUC_check_errcode(ERRCODE_FEATURE_NOT_SUPPORTED);
	GUC_check_errmsg("%s does not work on a Citus cluster", name);
	GUC_check_errdetail("careflags' tables are distributed (careflags.distribute()): the row trigger on each shard evaluates at once, on the node that holds the patient.");
	GUC_check_errhint("Leave it off on Citus; writes are evaluated in the statement.");
	return false;
}

/* careflags.defer_evaluation: refused on Citus (refuse_on_citus). */
static bool
check_defer_evaluation(bool *newval, void **extra, GucSource source)
{
	return refuse_on_citus("careflags.defer_evaluation", *newval);
}

/*
 * careflags.evaluate_in_worker needs the background worker, which exists only
 * when careflags is preloaded: refuse "on" otherwise (an error for SET, a
 * warning and the default for a value set per role or database).
 */
static bool
check_evaluate_in_worker(bool *newval, void **extra, GucSource source)
{
	if (*newval && !cf_preloaded)
	{
		GUC_check_errcode(ERRCODE_FEATURE_NOT_SUPPORTED);
		GUC_check_errdetail("careflags.evaluate_in_worker needs the careflags background worker, which runs only when careflags is in shared_preload_libraries.");
		GUC_check_errhint("Add careflags to shared_preload_libraries, set careflags.worker_database and restart the server; until then writes evaluate in the statement.");
		return false;
	}
	return refuse_on_citus("careflags.evaluate_in_worker", *newval);
}

/* The time careflags reasons with: now(), or careflags.frozen_now. */
TimestampTz
cf_now(void)
{
	if (cf_frozen_now != NULL)
		return *cf_frozen_now;
	return GetCurrentTransactionStartTimestamp();
}

/*
 * Define the settings; with shared_preload_libraries also the worker's
 * settings, its shared memory and the worker itself.
 */
void
_PG_init(void)
{
	cf_preloaded = process_shared_preload_libraries_in_progress;

	DefineCustomBoolVariable("careflags.strict",
							 "Raise an error for a fact careflags cannot accept, instead of quarantining it.",
							 "Off by default: the record's own write goes through and the fact is kept in careflags.quarantine.",
							 &cf_strict, false, PGC_SUSET, 0, NULL, NULL, NULL);

	DefineCustomBoolVariable("careflags.isolate_evaluation",
							 "Run each statement's re-evaluation in a subtransaction, so that a failure is quarantined instead of failing the write.",
							 "A transaction that writes facts in thousands of separate statements may turn it off (SET LOCAL) to avoid subtransaction overflow; facts are validated before they are stored either way.",
							 &cf_isolate_evaluation, true, PGC_USERSET, 0, NULL, NULL, NULL);

	DefineCustomBoolVariable("careflags.defer_evaluation",
							 "Re-evaluate the patients a transaction wrote once, at its commit, instead of after each statement.",
							 "For bulk loads and transactions that write many patients: one evaluation per patient, patients locked in one ascending pass at commit. careflags.evaluate_deferred() evaluates earlier.",
							 &cf_defer_evaluation, false, PGC_USERSET, 0,
							 check_defer_evaluation, NULL, NULL);

	DefineCustomBoolVariable("careflags.evaluate_in_worker",
							 "Leave the re-evaluation of the patients a statement wrote to the background worker, right after the transaction commits.",
							 "For write-heavy record systems: a fact write only queues its patients (careflags.evaluation_queue) and their flags follow a moment after commit. Used only in the database the worker serves and not with careflags.strict; elsewhere the statement evaluates as usual.",
							 &cf_evaluate_in_worker, false, PGC_USERSET, 0,
							 check_evaluate_in_worker, NULL, NULL);

	DefineCustomStringVariable("careflags.timezone",
							   "Time zone of careflags' calendar arithmetic (months, days, dates in reasons).",
							   "The same facts give the same due times whoever writes them, whatever the session's TimeZone.",
							   &cf_timezone_name, "Europe/Oslo", PGC_SUSET, 0,
							   check_timezone_name, NULL, NULL);

	DefineCustomStringVariable("careflags.language",
							   "Language of the texts careflags shows: nb (bokmål), nn (nynorsk) or en (English).",
							   "Set per database, role or session (ALTER DATABASE/ROLE ... SET, SET). Codes, rule ids and SQL names stay English.",
							   &cf_language, "nb", PGC_USERSET, 0,
							   cf_check_language, NULL, NULL);

	DefineCustomStringVariable("careflags.frozen_now",
							   "Holds careflags' clock at this time (for tests); empty means now().",
							   NULL,
							   &cf_frozen_now_string, "", PGC_SUSET, 0,
							   check_frozen_now, assign_frozen_now, NULL);

	cf_scores_define_gucs();
	cf_guard_define_gucs();
	cf_triggers_init();

	/*
	 * Without preloading, stop here: a PGC_POSTMASTER setting cannot be
	 * defined after startup (FATAL), and the worker's settings would mean
	 * nothing.  The prefix is not reserved either, so that worker settings a
	 * postgresql.conf holds for a later restart with careflags preloaded
	 * stay as they are, without a warning in every session.
	 */
	if (!cf_preloaded)
		return;

	DefineCustomIntVariable("careflags.worker_interval",
							"Seconds between the background worker's passes.",
							NULL,
							&cf_worker_interval, 60, 1, 86400, PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("careflags.worker_queue_delay",
							"How long the background worker gathers queued patients after a commit before it evaluates them (careflags.evaluate_in_worker).",
							"Longer: fewer, larger passes (less CPU per patient), flags a little later; 0: a pass per wake-up.",
							&cf_worker_queue_delay, 100, 0, 10000, PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("careflags.relay_interval",
							"How often the background worker of a Citus coordinator relays the flag events the shards recorded as NOTIFY careflags.",
							"Only on a Citus coordinator whose careflags tables are distributed (careflags.distribute()); on one server the worker relays the writers' events in each pass, woken by their commits, and without a worker the writing transaction notifies itself.",
							&cf_relay_interval, 1000, 100, 60000, PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomStringVariable("careflags.worker_database",
							   "Database the background worker serves (where CREATE EXTENSION careflags was run).",
							   "Empty: the worker does nothing.",
							   &cf_worker_database, "", PGC_POSTMASTER, 0,
							   NULL, NULL, NULL);

	MarkGUCPrefixReserved("careflags");
	cf_queue_shmem_init();
	cf_worker_register();
}

/* careflags.clock(): the time careflags reasons with. */
PG_FUNCTION_INFO_V1(careflags_clock);
Datum
careflags_clock(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(cf_now());
}

/*
 * careflags.preloaded(): whether the library was loaded through
 * shared_preload_libraries (the background worker and
 * careflags.evaluate_in_worker need that).
 */
PG_FUNCTION_INFO_V1(careflags_preloaded);
Datum
careflags_preloaded(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(cf_preloaded);
}

/*
 * The notice that careflags is not preloaded, said once when its install or
 * update script ran.  An extension script runs with client_min_messages at
 * WARNING or above, so a NOTICE raised inside it never reaches the DBA: the
 * script only asks for it (careflags.announce_missing_preload()) and it is
 * sent when the transaction commits, under the session's own
 * client_min_messages.
 */
static bool cf_announce_pending = false;

static void
announce_xact_callback(XactEvent event, void *arg)
{
	if (!cf_announce_pending)
		return;
	if (event == XACT_EVENT_PRE_COMMIT)
		ereport(NOTICE,
				(errmsg("careflags is not in shared_preload_libraries: no background worker"),
				 errdetail("Flags, triggers, the worklist and the reports work. Without the worker, flags that change with time alone (a birthday, an exemption ending) wait for the next write or careflags.tick(), no NOTIFY announces flags becoming due, and careflags.evaluate_in_worker cannot be set."),
				 errhint("Add careflags to shared_preload_libraries, set careflags.worker_database to this database and restart the server.")));
	if (event == XACT_EVENT_PRE_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PRE_PREPARE || event == XACT_EVENT_PARALLEL_ABORT)
		cf_announce_pending = false;
}

/*
 * careflags.announce_missing_preload(): when careflags is not preloaded, have
 * the notice sent at commit (once per transaction); returns whether it will.
 */
PG_FUNCTION_INFO_V1(careflags_announce_missing_preload);
Datum
careflags_announce_missing_preload(PG_FUNCTION_ARGS)
{
	static bool registered = false;

	if (cf_preloaded)
		PG_RETURN_BOOL(false);
	if (!registered)
	{
		RegisterXactCallback(announce_xact_callback, NULL);
		registered = true;
	}
	cf_announce_pending = true;
	PG_RETURN_BOOL(true);
}

/* careflags.version(): version of the loaded library. */
PG_FUNCTION_INFO_V1(careflags_version);
Datum
careflags_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(CAREFLAGS_VERSION));
}
