/*
 * watch.c
 *	  careflags watch: a nurse-station feed.  LISTENs on the channel
 *	  "careflags", where the extension sends {"event", "flag_id",
 *	  "patient_id", "rule_id", "unit_id"} (ids only) when a flag is raised,
 *	  falls due, becomes overdue or is resolved; fetches what a nurse needs
 *	  (rule title, state, deadline, reason) from careflags.flag and prints one
 *	  line per event.  When the connection is lost (a server restart) it says
 *	  so on stderr and reconnects, retrying until the server is back.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "careflags.h"

static volatile sig_atomic_t stop_requested = 0;

static void
on_signal(int signo)
{
	stop_requested = 1;
}

static const char *Q_FLAG =
"SELECT r.title, careflags.flag_state(f.due_from, f.due_at, f.due_soon_window, careflags.clock()), "
"       to_char(f.due_at, 'YYYY-MM-DD HH24:MI'), f.reason, f.unit_id, f.resolution "
"FROM careflags.flag f LEFT JOIN careflags.rule r ON r.rule_id = f.rule_id "
"WHERE f.flag_id = $1::bigint AND ($2::bigint IS NULL OR f.patient_id = $2::bigint)";

static void
watch_usage(FILE *out)
{
	fprintf(out,
			"careflags watch - print flags as they are raised or fall due (a nurse-station feed)\n"
			"\n"
			"Usage: careflags watch [OPTION]...\n"
			"\n"
			"Options:\n"
			"      --unit=UNIT        only flags of this unit (default: every unit you may see)\n"
			"      --events=LIST      comma-separated events to print: raised, due, overdue,\n"
			"                         resolved (default: raised,due,overdue)\n"
			"      --count=N          exit after printing N events\n"
			"      --timeout=SECONDS  exit after this long (0, the default: run until interrupted)\n"
			"      --help             show this help\n"
			"\n"
			"One line per event: time, event, unit, patient id, rule, title, state, deadline, reason.\n"
			"When the server goes away the feed says so on stderr and reconnects by itself.\n"
			"\n"
			"Connection options:\n%s",
			cf_conn_help());
}

/* Is event in the comma-separated list? */
static bool
event_wanted(const char *list, const char *event)
{
	size_t		n = strlen(event);
	const char *p = list;

	while (*p)
	{
		size_t		len = strcspn(p, ",");

		if (len == n && strncmp(p, event, n) == 0)
			return true;
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}

/* Connect and LISTEN; NULL when the server cannot be reached. */
static PGconn *
watch_connect(const CfConnOpts *co, bool quiet)
{
	PGconn	   *conn = cf_connect(co, quiet);
	PGresult   *res;

	if (conn == NULL)
		return NULL;
	res = PQexec(conn, "LISTEN careflags");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		if (!quiet)
			cf_pq_error(conn, "watch: LISTEN failed");
		PQclear(res);
		PQfinish(conn);
		return NULL;
	}
	PQclear(res);
	return conn;
}

/* Print one event; returns true when it was printed. */
static bool
print_event(PGconn *conn, const char *payload, const char *unit, const char *events)
{
	char		event[32],
				flag_id[32],
				patient_id[32],
				rule_id[256],
				unit_id[256];
	char		stamp[32];
	time_t		now = time(NULL);
	const char *params[2];
	PGresult   *res;

	if (!cf_json_get(payload, "event", event, sizeof(event)) ||
		!cf_json_get(payload, "flag_id", flag_id, sizeof(flag_id)))
	{
		fprintf(stderr, "%s: warning: ignoring a notification that is not a flag event: %s\n",
				cf_progname, payload);
		return false;
	}
	if (!cf_json_get(payload, "patient_id", patient_id, sizeof(patient_id)))
		patient_id[0] = '\0';
	if (!cf_json_get(payload, "rule_id", rule_id, sizeof(rule_id)))
		strcpy(rule_id, "?");
	if (!cf_json_get(payload, "unit_id", unit_id, sizeof(unit_id)))
		unit_id[0] = '\0';
	if (!event_wanted(events, event))
		return false;
	if (unit != NULL && strcmp(unit, unit_id) != 0)
		return false;

	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", localtime(&now));
	params[0] = flag_id;
	params[1] = patient_id[0] ? patient_id : NULL;
	res = cf_query_soft(conn, Q_FLAG, 2, params);
	if (res != NULL && PQntuples(res) == 1)
		printf("%s  %-8s unit %-10s patient %-8s %s  \"%s\"  %s, due by %s  %s\n",
			   stamp, event, unit_id[0] ? unit_id : "-", patient_id[0] ? patient_id : "?", rule_id,
			   PQgetvalue(res, 0, 0),
			   PQgetisnull(res, 0, 5) ? PQgetvalue(res, 0, 1) : "resolved",
			   PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3));
	else
		/* not visible to this role, or gone: what the notification says */
		printf("%s  %-8s unit %-10s patient %-8s %s  (flag %s)\n",
			   stamp, event, unit_id[0] ? unit_id : "-", patient_id[0] ? patient_id : "?", rule_id, flag_id);
	PQclear(res);
	fflush(stdout);
	return true;
}

int
cf_cmd_watch(int argc, char **argv)
{
	CfConnOpts	co = {0};
	const char *unit = NULL,
			   *events = "raised,due,overdue",
			   *count_s = NULL,
			   *timeout_s = NULL;
	long		count = 0,
				timeout = 0,
				printed = 0;
	time_t		started = time(NULL);
	PGconn	   *conn;
	struct sigaction sa;
	int			backoff = 1;
	int			i;

	for (i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-?") == 0)
		{
			watch_usage(stdout);
			return CF_EXIT_OK;
		}
		if (cf_conn_option(&co, argc, argv, &i) ||
			cf_opt_value(argc, argv, &i, "unit", 0, &unit) ||
			cf_opt_value(argc, argv, &i, "events", 0, &events) ||
			cf_opt_value(argc, argv, &i, "count", 0, &count_s) ||
			cf_opt_value(argc, argv, &i, "timeout", 0, &timeout_s))
			continue;
		cf_error("watch: unknown option \"%s\"", argv[i]);
		fprintf(stderr, "Try \"careflags watch --help\".\n");
		return CF_EXIT_USAGE;
	}
	if (count_s)
	{
		char	   *end;

		count = strtol(count_s, &end, 10);
		if (*end || count < 1)
		{
			cf_error("watch: --count must be a positive number, not \"%s\"", count_s);
			return CF_EXIT_USAGE;
		}
	}
	if (timeout_s)
	{
		char	   *end;

		timeout = strtol(timeout_s, &end, 10);
		if (*end || timeout < 0)
		{
			cf_error("watch: --timeout must be a number of seconds, not \"%s\"", timeout_s);
			return CF_EXIT_USAGE;
		}
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	conn = watch_connect(&co, false);
	if (conn == NULL)
		return CF_EXIT_USAGE;
	fprintf(stderr, "%s: watching flags%s%s (Ctrl-C to stop)\n", cf_progname,
			unit ? " of unit " : "", unit ? unit : "");

	while (!stop_requested)
	{
		fd_set		rfds;
		struct timeval tv = {1, 0};
		int			sock;
		PGnotify   *note;

		if (timeout > 0 && time(NULL) - started >= timeout)
			break;

		if (conn == NULL)
		{
			/* waiting for the server to come back */
			sleep((unsigned int) backoff);
			if (stop_requested)
				break;
			conn = watch_connect(&co, true);
			if (conn == NULL)
			{
				if (backoff < 10)
					backoff *= 2;
				continue;
			}
			backoff = 1;
			fprintf(stderr, "%s: reconnected; watching again (events while disconnected were not seen)\n",
					cf_progname);
			continue;
		}

		sock = PQsocket(conn);
		FD_ZERO(&rfds);
		FD_SET(sock, &rfds);
		if (select(sock + 1, &rfds, NULL, NULL, &tv) < 0)
		{
			if (errno == EINTR)
				continue;
			cf_error("watch: select() failed: %s", strerror(errno));
			break;
		}
		if (!PQconsumeInput(conn) || PQstatus(conn) != CONNECTION_OK)
		{
			cf_pq_error(conn, "watch: connection lost; reconnecting");
			PQfinish(conn);
			conn = NULL;
			backoff = 1;
			continue;
		}
		while (!stop_requested && (note = PQnotifies(conn)) != NULL)
		{
			if (print_event(conn, note->extra, unit, events))
				printed++;
			PQfreemem(note);
			if (count > 0 && printed >= count)
				stop_requested = 1;
		}
	}
	if (conn)
		PQfinish(conn);
	return CF_EXIT_OK;
}
