/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The careflags background worker.
 *
 *	  Registered in _PG_init only when careflags is in
 *	  shared_preload_libraries.  It connects to careflags.worker_database and
 *	  every careflags.worker_interval seconds runs careflags.tick() in its own
 *	  transaction: patients whose flags change with time (a birthday, an
 *	  exemption ending, a future-dated fact) are re-evaluated, and flags that
 *	  became due or overdue are announced with NOTIFY careflags (an event
 *	  id; the event is in careflags.flag_event), and events older than a
 *	  week are pruned from that outbox.  States are
 *	  derived at read time anyway, so a stopped worker delays notifications
 *	  and time-driven re-evaluation, never what the worklist shows for
 *	  due and overdue.
 *
 *	  It also evaluates the patients that writers with
 *	  careflags.evaluate_in_worker queued (queue.c): writers set its latch
 *	  when they commit, and it empties careflags.evaluation_queue at every
 *	  wake-up, gathering for careflags.worker_queue_delay first, so their
 *	  flags follow within about that time of the commit.  A patient another
 *	  session holds is not waited for: it stays queued and the worker comes
 *	  back to it every second until it is free (queue.c).  In the same
 *	  transaction it sends NOTIFY careflags for the flag events writers
 *	  recorded (notify.c: a writer's commit never waits for the NOTIFY lock).
 *
 *	  Its transactions are read-write by its own choice: a record system's
 *	  database may set default_transaction_read_only = on (GNUmed does), and
 *	  the worker overrides that for its own session only.
 *
 *	  On Citus (careflags.distribute()) every node that holds shards runs
 *	  the worker in the database (careflags.worker_database on every node):
 *	  its tick re-evaluates the due patients of the shards placed on its own
 *	  node (recompute.c, tick_shard), so each node looks after its own
 *	  patients, whether or not the coordinator or the other workers are up,
 *	  and a node that restarts takes up what became due meanwhile
 *	  (patient_state.next_check_at is kept in its shards).  The flags that
 *	  became due or overdue are recorded in the shards' outbox only; the
 *	  coordinator's worker relays the outbox as NOTIFY careflags every
 *	  careflags.relay_interval (notify.c) and prunes it.
 *
 *	  An error in a pass is logged, the transaction aborted and the worker
 *	  goes on with the next pass (no crash loop); the error stays visible as
 *	  the worker's activity in pg_stat_activity ("careflags worker: last
 *	  pass failed: ..."), which `careflags check` reports, until a pass
 *	  succeeds.  SIGHUP reloads the settings; SIGTERM ends the worker
 *	  cleanly.  A FATAL error ends it; the postmaster restarts it after 10
 *	  seconds.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "careflags.h"
#include "flags.h"
#include "notify.h"
#include "queue.h"
#include "shard.h"
#include "worker.h"

PGDLLEXPORT void careflags_worker_main(Datum arg);

/* prefix of the worker's activity after a failed pass (cli/check.c reads it) */
#define CF_WORKER_FAILED "careflags worker: last pass failed: "
#define CF_WORKER_OK "careflags worker: waiting; last pass succeeded"

/* the last failed pass's message, kept until a pass with a tick succeeds */
static char last_failure[1024] = "";

/* a Citus coordinator with careflags distributed: relay the shards' events (set at each tick) */
static bool relay_here = false;

/* how soon the worker comes back to queued patients another session held */
#define HELD_RETRY_MS 1000L

void
cf_worker_register(void)
{
	BackgroundWorker w;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = 10;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "careflags");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "careflags_worker_main");
	snprintf(w.bgw_name, BGW_MAXLEN, "careflags worker");
	snprintf(w.bgw_type, BGW_MAXLEN, "careflags worker");
	RegisterBackgroundWorker(&w);
}

/*
 * Evaluate what writers queued, in one transaction; returns the number of
 * patients held by other sessions (queued again, to come back to).
 */
static int
run_queue(void)
{
	int			held = 0;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "careflags: evaluating the queued patients");
	if (OidIsValid(get_extension_oid("careflags", true)))
	{
		(void) cf_queue_evaluate(&held);
		/* one server: the writers' flag events, in the same transaction */
		if (!relay_here && cf_citus_local_group() < 0)
			(void) cf_relay_events(false);
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	return held;
}

static void
run_tick(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "SELECT careflags.tick()");

	if (OidIsValid(get_extension_oid("careflags", true)))
	{
		int			group;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		/* Citus: -1 on one server, 0 on the coordinator, > 0 on a worker node */
		group = cf_citus_local_group();
		relay_here = (group == 0);

		/*
		 * A patient another session holds is not waited for: its next check
		 * stays due, and the next tick takes it up again.  On Citus the tick
		 * does the shards on this node only.
		 */
		cf_skip_locked_patients = true;
		cf_tick_local_only = true;
		PG_TRY();
		{
			if (SPI_execute("SELECT * FROM careflags.tick()", false, 0) != SPI_OK_SELECT)
				elog(ERROR, "careflags.tick() failed");
		}
		PG_FINALLY();
		{
			cf_skip_locked_patients = false;
			cf_tick_local_only = false;
		}
		PG_END_TRY();

		/* flag events older than a week go (from 1.3 on: the outbox) */
		if (group < 0 && SPI_execute("SELECT pg_catalog.to_regprocedure('careflags.prune_events(interval)') IS NOT NULL",
									 true, 1) == SPI_OK_SELECT && SPI_processed == 1 &&
			strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "t") == 0 &&
			SPI_execute("SELECT careflags.prune_events()", false, 0) != SPI_OK_SELECT)
			elog(ERROR, "careflags.prune_events() failed");

		/*
		 * On Citus the coordinator prunes every shard, in a plain DELETE
		 * (Citus cannot plan prune_events()' counting one), and keeps an
		 * event the relay has not sent yet
		 */
		if (group == 0)
		{
			Oid			types[1] = {TIMESTAMPTZOID};
			Datum		values[1];

			values[0] = TimestampTzGetDatum(TimestampTzPlusMilliseconds(GetCurrentTransactionStartTimestamp(),
																		-(int64) 7 * 24 * 3600 * 1000));
			if (SPI_execute_with_args("DELETE FROM careflags.flag_event "
									  "WHERE happened_at OPERATOR(pg_catalog.<) $1 AND relayed_at IS NOT NULL",
									  1, types, values, NULL, false, 0) != SPI_OK_DELETE)
				elog(ERROR, "careflags: could not prune the flag events");
		}
		SPI_finish();
	}

	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * The relay of a Citus coordinator: the events the shards recorded, as
 * NOTIFY careflags, in one transaction (notify.c).
 */
static void
run_relay(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "careflags: relaying the shards' flag events");
	if (OidIsValid(get_extension_oid("careflags", true)))
		(void) cf_relay_events(true);
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * The worker's own transactions are read-write whatever the database's
 * default_transaction_read_only says (GNUmed sets it on for its clients).
 */
static void
force_read_write(void)
{
	SetConfigOption("default_transaction_read_only", "off",
					PGC_SUSET, PGC_S_OVERRIDE);
}

/*
 * One pass: the queue, the relay (a Citus coordinator) and the tick when
 * they are due.  An error is logged,
 * its transaction aborted, and its message left as the worker's activity
 * for `careflags check`; returns false then.  *held gets the number of
 * queued patients other sessions held (queued again).
 */
static bool
run_pass(TimestampTz *next_tick, TimestampTz *next_relay, MemoryContext pass_cxt, int *held)
{
	volatile bool ticked = false;

	*held = 0;
	MemoryContextSwitchTo(pass_cxt);
	PG_TRY();
	{
		*held = run_queue();
		if (relay_here && GetCurrentTimestamp() >= *next_relay)
		{
			*next_relay = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), (int64) cf_relay_interval);
			run_relay();
		}
		if (GetCurrentTimestamp() >= *next_tick)
		{
			run_tick();
			ticked = true;
			*next_tick = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													 (int64) cf_worker_interval * 1000);
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(pass_cxt);
		edata = CopyErrorData();
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(pass_cxt);

		snprintf(last_failure, sizeof(last_failure), "%s%s (SQLSTATE %s)%s%s",
				 CF_WORKER_FAILED, edata->message ? edata->message : "unknown error",
				 unpack_sql_state(edata->sqlerrcode),
				 edata->context ? "; context: " : "",
				 edata->context ? edata->context : "");
		/*
		 * a failing pass is retried at the next interval, not at once; so is
		 * the relay (a worker node down: one error per interval in the log,
		 * and its events, and the others', are relayed when it is back)
		 */
		*next_tick = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												 (int64) cf_worker_interval * 1000);
		*next_relay = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												  Max((int64) cf_relay_interval, (int64) cf_worker_interval * 1000));
		pgstat_report_activity(STATE_IDLE, last_failure);
		MemoryContextReset(pass_cxt);
		return false;
	}
	PG_END_TRY();
	if (ticked)
		last_failure[0] = '\0';
	pgstat_report_activity(STATE_IDLE, last_failure[0] ? last_failure : CF_WORKER_OK);
	MemoryContextReset(pass_cxt);
	return true;
}

void
careflags_worker_main(Datum arg)
{
	TimestampTz next_tick;
	TimestampTz next_relay;
	MemoryContext pass_cxt;
	int			rc;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	if (cf_worker_database == NULL || cf_worker_database[0] == '\0')
	{
		ereport(LOG,
				(errmsg("careflags worker: careflags.worker_database is not set; the worker stops"),
				 errhint("Set careflags.worker_database to the database where careflags is installed.")));
		proc_exit(0);
	}
	BackgroundWorkerInitializeConnection(cf_worker_database, NULL, 0);
	force_read_write();
	pass_cxt = AllocSetContextCreate(TopMemoryContext, "careflags worker pass",
									 ALLOCSET_DEFAULT_SIZES);
	cf_queue_worker_publish();
	ereport(LOG, (errmsg("careflags worker started in database \"%s\"", cf_worker_database)));

	next_tick = GetCurrentTimestamp();
	next_relay = next_tick;
	for (;;)
	{
		TimestampTz now;
		long		timeout;
		int			held;

		/* first what writers queued (also what was left before a restart) */
		(void) run_pass(&next_tick, &next_relay, pass_cxt, &held);
		now = GetCurrentTimestamp();
		timeout = Max(1L, (long) ((next_tick - now) / 1000));
		/* a Citus coordinator: the next relay may come first */
		if (relay_here)
			timeout = Min(timeout, Max(1L, (long) ((next_relay - now) / 1000)));
		/* patients other sessions held: back to them in a second */
		if (held > 0)
			timeout = Min(timeout, HELD_RETRY_MS);
		rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					   timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();

		/*
		 * A writer committed: gather what more writers queue for a moment,
		 * so that one pass evaluates many patients at the chunked rate
		 * instead of one pass per commit.
		 */
		if ((rc & WL_LATCH_SET) && cf_worker_queue_delay > 0)
		{
			(void) WaitLatch(MyLatch, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 cf_worker_queue_delay, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			force_read_write();
		}
	}
}
