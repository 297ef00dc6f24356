/*
 * watch.c
 *	  careflags watch: a nurse-station feed.  LISTENs on the channel
 *	  "careflags", where the extension sends only an event id (any login may
 *	  LISTEN) when a flag is raised, falls due, becomes overdue or is
 *	  resolved; reads the events behind the ids it received from
 *	  careflags.my_flag_events, which shows the role the events of its own
 *	  units only (every unit to a role that may read careflags.flag_event),
 *	  with what a nurse needs (rule title, state, deadline, reason), and
 *	  prints one line per event, every value with control characters
 *	  escaped.  Ids of events the role may not see give no line at all.
 *	  When the connection is lost (a server restart) it says so on stderr
 *	  and reconnects, retrying until the server is back.
 *
 *	  The lines are in the reader's language (issue 15): careflags.language
 *	  of the session, role or database (bokmål by default, nynorsk,
 *	  English); the server renders title, state, reason and deadline
 *	  ("12. des. 2026 kl. 10.00").  A server still at careflags 1.2 (no
 *	  careflags.language()) gets the English lines of before.
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

/* The visible events among the ids received, oldest first. */
static const char *Q_EVENTS =
"SELECT e.kind, COALESCE(e.unit_id, '-'), e.patient_id, e.rule_id, COALESCE(e.title, '?'), "
"       COALESCE(e.state, '?'), COALESCE(pg_catalog.to_char(e.due_at, 'YYYY-MM-DD HH24:MI'), '?'), "
"       COALESCE(e.reason, '') "
"FROM careflags.my_flag_events e "
"WHERE e.event_id OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[]) "
"  AND ($2::pg_catalog.text IS NULL OR e.unit_id OPERATOR(pg_catalog.=) $2::pg_catalog.text) "
"ORDER BY e.event_id";

/*
 * The same in the reader's language (careflags 1.3): the rule's title, the
 * state and the reason rendered by careflags, the deadline as a Norwegian
 * date in nb and nn, the event ("ny" for raised, else its state's words)
 * and the language itself.
 */
static const char *Q_EVENTS_LANG =
"SELECT e.kind, COALESCE(e.unit_id, '-'), e.patient_id, e.rule_id, "
"       COALESCE(careflags.rule_title(e.rule_id), e.title, '?'), "
"       COALESCE(careflags.state_text(e.state), '?'), "
"       COALESCE(CASE WHEN careflags.language() OPERATOR(pg_catalog.=) 'en' THEN pg_catalog.to_char(e.due_at, 'YYYY-MM-DD HH24:MI') "
"                ELSE pg_catalog.to_char(e.due_at, 'FMDD') OPERATOR(pg_catalog.||) '. ' "
"                     OPERATOR(pg_catalog.||) (ARRAY['jan.', 'feb.', 'mars', 'apr.', 'mai', 'juni', 'juli', 'aug.', 'sep.', 'okt.', 'nov.', 'des.'])"
"                         [pg_catalog.date_part('month', e.due_at)::pg_catalog.int4] "
"                     OPERATOR(pg_catalog.||) pg_catalog.to_char(e.due_at, ' YYYY \"kl.\" HH24.MI') END, '?'), "
"       COALESCE(careflags.reason_text(e.details, e.reason), ''), "
"       CASE WHEN e.kind OPERATOR(pg_catalog.=) 'raised' AND careflags.language() OPERATOR(pg_catalog.<>) 'en' THEN 'ny' "
"            ELSE careflags.state_text(e.kind) END, "
"       careflags.language() "
"FROM careflags.my_flag_events e "
"WHERE e.event_id OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[]) "
"  AND ($2::pg_catalog.text IS NULL OR e.unit_id OPERATOR(pg_catalog.=) $2::pg_catalog.text) "
"ORDER BY e.event_id";

/* Does the server render in the reader's language (careflags 1.3 objects)? */
static const char *Q_HAS_LANGUAGE =
"SELECT pg_catalog.to_regprocedure('careflags.language()') IS NOT NULL "
"   AND EXISTS (SELECT FROM pg_catalog.pg_attribute a "
"                WHERE a.attrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass('careflags.my_flag_events') "
"                  AND a.attname OPERATOR(pg_catalog.=) 'details' AND NOT a.attisdropped)";

/* The words of a line, per language. */
typedef struct LineWords
{
	const char *lang;
	const char *unit;
	const char *patient;
	const char *due;
} LineWords;

static const LineWords line_words[] = {
	{"nb", "enhet", "pasient", "frist"},
	{"nn", "eining", "pasient", "frist"},
	{"en", "unit", "patient", "due by"}
};

static const LineWords *
words_of(const char *lang)
{
	for (size_t i = 0; i < sizeof(line_words) / sizeof(line_words[0]); i++)
		if (strcmp(line_words[i].lang, lang) == 0)
			return &line_words[i];
	return &line_words[2];
}

/* True when the server renders the lines in the reader's language. */
static bool
renders_language(PGconn *conn)
{
	PGresult   *res = cf_query_soft(conn, Q_HAS_LANGUAGE, 0, NULL);
	bool		yes = res != NULL && PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;

	if (res)
		PQclear(res);
	return yes;
}

/* Event ids received and not yet printed (one batch of notifications). */
#define MAX_BATCH 1000

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
			"One line per event: time, event, unit, patient id, rule, title, state, deadline, reason,\n"
			"in careflags.language (nb bokmål by default, nn nynorsk, en English; set it for the\n"
			"role or database, or e.g. PGOPTIONS='-c careflags.language=en'); --events takes the\n"
			"English event names.\n"
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

/*
 * Connect and LISTEN; NULL when the server cannot be reached.  Says whether
 * the server renders the lines in the reader's language.
 */
static PGconn *
watch_connect(const CfConnOpts *co, bool quiet, bool *in_language)
{
	PGconn	   *conn = cf_connect(co, quiet);
	PGresult   *res;

	if (conn == NULL)
		return NULL;
	/* asked before LISTEN, so that LISTEN stays the session's last query */
	*in_language = renders_language(conn);
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

/*
 * Print the events behind a batch of notified ids that the role may see and
 * the options select; returns how many lines were printed (at most limit,
 * when limit > 0).  Every value is printed escaped (cf_safe).
 */
static long
print_events(PGconn *conn, bool in_language, const char *ids, const char *unit, const char *events, long limit)
{
	char		stamp[32];
	time_t		now = time(NULL);
	const char *params[2] = {ids, unit};
	PGresult   *res;
	long		printed = 0;

	res = cf_query_soft(conn, in_language ? Q_EVENTS_LANG : Q_EVENTS, 2, params);
	if (res == NULL)
		return 0;
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", localtime(&now));
	for (int r = 0; r < PQntuples(res) && (limit <= 0 || printed < limit); r++)
	{
		const LineWords *w = words_of(in_language ? PQgetvalue(res, r, 9) : "en");

		if (!event_wanted(events, PQgetvalue(res, r, 0)))
			continue;
		printf("%s  %-8s %s %-10s %s %-8s %s  \"%s\"  %s, %s %s  %s\n",
			   stamp, cf_safe(PQgetvalue(res, r, in_language ? 8 : 0)),
			   w->unit, cf_safe(PQgetvalue(res, r, 1)),
			   w->patient, cf_safe(PQgetvalue(res, r, 2)), cf_safe(PQgetvalue(res, r, 3)),
			   cf_safe(PQgetvalue(res, r, 4)), cf_safe(PQgetvalue(res, r, 5)),
			   w->due, cf_safe(PQgetvalue(res, r, 6)), cf_safe(PQgetvalue(res, r, 7)));
		printed++;
	}
	PQclear(res);
	fflush(stdout);
	return printed;
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
	bool		in_language;
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

	conn = watch_connect(&co, false, &in_language);
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
			conn = watch_connect(&co, true, &in_language);
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
		/* the ids of this batch, as an array literal: {1,2,3} */
		{
			char		ids[MAX_BATCH * 21 + 3];
			size_t		len = 0;
			int			n = 0;

			ids[len++] = '{';
			while (n < MAX_BATCH && (note = PQnotifies(conn)) != NULL)
			{
				const char *p = note->extra;

				if (*p == '\0' || strspn(p, "0123456789") != strlen(p) || strlen(p) > 19)
					fprintf(stderr, "%s: warning: ignoring a notification that is not a flag event id%s\n",
							cf_progname, *p == '{' ? " (the server's careflags is older than 1.3: ALTER EXTENSION careflags UPDATE)" : "");
				else
				{
					if (n > 0)
						ids[len++] = ',';
					memcpy(ids + len, p, strlen(p));
					len += strlen(p);
					n++;
				}
				PQfreemem(note);
			}
			ids[len++] = '}';
			ids[len] = '\0';
			if (n > 0 && !stop_requested)
				printed += print_events(conn, in_language, ids, unit, events, count > 0 ? count - printed : 0);
			if (count > 0 && printed >= count)
				stop_requested = 1;
		}
	}
	if (conn)
		PQfinish(conn);
	return CF_EXIT_OK;
}
