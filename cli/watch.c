/*
 * watch.c
 *	  careflags watch: a nurse-station feed.  LISTENs on the channel
 *	  "careflags", where the extension sends {"event", "flag_id",
 *	  "patient_id", "rule_id", "unit_id"} (ids only) when a flag is raised,
 *	  falls due, becomes overdue or is resolved; the server parses that JSON
 *	  and returns, in the same query, what a nurse needs (rule title, state,
 *	  deadline, reason) from careflags.flag; one line per event, every value
 *	  printed with control characters escaped.  When the connection is lost (a server restart) it says
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

/*
 * One notification: the server parses its JSON payload ($1) and reads the
 * flag as the connected role (row-level security decides what it sees).
 * Columns: event, flag_id, patient_id, rule_id, unit_id, then title, state,
 * deadline, reason, resolution and whether the flag was visible.
 */
static const char *Q_EVENT =
"SELECT e.event, e.flag_id, e.patient_id, e.rule_id, e.unit_id, "
"       r.title, careflags.flag_state(f.due_from, f.due_at, f.due_soon_window, careflags.clock()), "
"       pg_catalog.to_char(f.due_at, 'YYYY-MM-DD HH24:MI'), f.reason, f.resolution, f.flag_id IS NOT NULL "
"FROM (SELECT j OPERATOR(pg_catalog.->>) 'event' AS event, "
"             (j OPERATOR(pg_catalog.->>) 'flag_id')::pg_catalog.int8 AS flag_id, "
"             (j OPERATOR(pg_catalog.->>) 'patient_id')::pg_catalog.int8 AS patient_id, "
"             j OPERATOR(pg_catalog.->>) 'rule_id' AS rule_id, "
"             j OPERATOR(pg_catalog.->>) 'unit_id' AS unit_id "
"      FROM (SELECT $1::pg_catalog.jsonb AS j) AS p) AS e "
"LEFT JOIN careflags.flag AS f ON f.flag_id OPERATOR(pg_catalog.=) e.flag_id "
"     AND (e.patient_id IS NULL OR f.patient_id OPERATOR(pg_catalog.=) e.patient_id) "
"LEFT JOIN careflags.rule AS r ON r.rule_id OPERATOR(pg_catalog.=) f.rule_id "
"WHERE e.event IS NOT NULL AND e.flag_id IS NOT NULL";

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

/* Print one event; returns true when it was printed.  Every value is printed escaped (cf_safe). */
static bool
print_event(PGconn *conn, const char *payload, const char *unit, const char *events)
{
	char		stamp[32];
	time_t		now = time(NULL);
	const char *params[1] = {payload};
	const char *event,
			   *unit_id,
			   *patient_id,
			   *rule_id;
	PGresult   *res;

	res = cf_query_soft(conn, Q_EVENT, 1, params);
	if (res == NULL || PQntuples(res) != 1)
	{
		fprintf(stderr, "%s: warning: ignoring a notification that is not a flag event: %s\n",
				cf_progname, cf_safe(payload));
		PQclear(res);
		return false;
	}
	event = PQgetvalue(res, 0, 0);
	patient_id = PQgetisnull(res, 0, 2) ? "?" : PQgetvalue(res, 0, 2);
	rule_id = PQgetisnull(res, 0, 3) ? "?" : PQgetvalue(res, 0, 3);
	unit_id = PQgetvalue(res, 0, 4);
	if (!event_wanted(events, event) || (unit != NULL && strcmp(unit, unit_id) != 0))
	{
		PQclear(res);
		return false;
	}

	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", localtime(&now));
	if (PQgetvalue(res, 0, 10)[0] == 't')
		printf("%s  %-8s unit %-10s patient %-8s %s  \"%s\"  %s, due by %s  %s\n",
			   stamp, cf_safe(event), unit_id[0] ? cf_safe(unit_id) : "-", cf_safe(patient_id), cf_safe(rule_id),
			   cf_safe(PQgetvalue(res, 0, 5)),
			   PQgetisnull(res, 0, 9) ? cf_safe(PQgetvalue(res, 0, 6)) : "resolved",
			   cf_safe(PQgetvalue(res, 0, 7)), cf_safe(PQgetvalue(res, 0, 8)));
	else
		/* not visible to this role, or gone: what the notification says */
		printf("%s  %-8s unit %-10s patient %-8s %s  (flag %s)\n",
			   stamp, cf_safe(event), unit_id[0] ? cf_safe(unit_id) : "-", cf_safe(patient_id), cf_safe(rule_id),
			   PQgetvalue(res, 0, 1));
	PQclear(res);
	fflush(stdout);
	return true;
}

int
cf_cmd_watch(int argc, char **argv)
{
	static const struct option long_options[] = {
		CF_CONN_LONG_OPTIONS,
		{"unit", required_argument, NULL, 1},
		{"events", required_argument, NULL, 2},
		{"count", required_argument, NULL, 3},
		{"timeout", required_argument, NULL, 4},
		{NULL, 0, NULL, 0}
	};
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
	int			c;

	if (cf_wants_help(argc, argv))
	{
		watch_usage(stdout);
		return CF_EXIT_OK;
	}
	while ((c = getopt_long(argc, argv, CF_CONN_SHORT_OPTIONS, long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 1:
				unit = optarg;
				break;
			case 2:
				events = optarg;
				break;
			case 3:
				count_s = optarg;
				break;
			case 4:
				timeout_s = optarg;
				break;
			case CF_OPT_HELP:
				watch_usage(stdout);
				return CF_EXIT_OK;
			default:
				if (!cf_conn_getopt(&co, c, optarg))
					return cf_bad_usage("watch");
		}
	}
	if (cf_extra_args("watch", argc, argv))
		return CF_EXIT_USAGE;
	if (count_s)
	{
		char	   *end;

		count = strtol(count_s, &end, 10);
		if (*end || count < 1)
		{
			cf_error("watch: --count must be a positive number, not \"%s\"", cf_safe(count_s));
			return CF_EXIT_USAGE;
		}
	}
	if (timeout_s)
	{
		char	   *end;

		timeout = strtol(timeout_s, &end, 10);
		if (*end || timeout < 0)
		{
			cf_error("watch: --timeout must be a number of seconds, not \"%s\"", cf_safe(timeout_s));
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
			unit ? " of unit " : "", unit ? cf_safe(unit) : "");

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
