/*
 * conn.c
 *	  Connecting like psql, running queries, reporting errors.
 *
 *	  Options -h -p -U -d (and --host= ..., parsed by getopt_long in each
 *	  command with the table CF_CONN_LONG_OPTIONS) override the environment; what is
 *	  not given comes from libpq's defaults: PGHOST, PGPORT, PGUSER,
 *	  PGDATABASE, PGSERVICE and the service file, ~/.pgpass, PGPASSWORD.
 *	  -d may be a conninfo string or a URI (expand_dbname).  A password is
 *	  asked for on the terminal with echo off only when the server wants one
 *	  and none was found (-w: never ask, -W: always ask); it is never printed.
 *	  Each session's search_path is pinned to '' right after connecting.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "careflags.h"

void
cf_error(const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "%s: error: ", cf_progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* libpq's message (it may quote data: control characters escaped), without its trailing newline. */
void
cf_pq_error(PGconn *conn, const char *what)
{
	char	   *msg = cf_safe_dup(conn ? PQerrorMessage(conn) : "", true);
	size_t		len = strlen(msg);

	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
		len--;
	fprintf(stderr, "%s: error: %s%s%.*s\n", cf_progname, what, len ? ": " : "", (int) len, msg);
	free(msg);
}

const char *
cf_conn_help(void)
{
	return
		"  -h, --host=HOST          server host or socket directory (PGHOST)\n"
		"  -p, --port=PORT          server port (PGPORT)\n"
		"  -U, --username=USER      database user (PGUSER)\n"
		"  -d, --dbname=DBNAME      database name, conninfo string or URI (PGDATABASE)\n"
		"  -w, --no-password        never prompt for a password\n"
		"  -W, --password           prompt for a password before connecting\n"
		"  (also PGSERVICE, PGPASSFILE / ~/.pgpass, PGSSLMODE, ... as for psql)\n";
}

/* Take a connection option returned by getopt_long: true when c was one. */
bool
cf_conn_getopt(CfConnOpts *o, int c, const char *arg)
{
	switch (c)
	{
		case 'h':
			o->host = arg;
			return true;
		case 'p':
			o->port = arg;
			return true;
		case 'U':
			o->user = arg;
			return true;
		case 'd':
			o->dbname = arg;
			return true;
		case 'w':
			o->prompt = -1;
			return true;
		case 'W':
			o->prompt = 1;
			return true;
		default:
			return false;
	}
}

/* "careflags CMD --help" or "-?" as the first argument, as PostgreSQL's programs take it. */
bool
cf_wants_help(int argc, char **argv)
{
	return argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-?") == 0);
}

/* After getopt_long has printed what was wrong: the hint, and the usage exit code. */
int
cf_bad_usage(const char *cmd)
{
	fprintf(stderr, "Try \"%s %s --help\" for more information.\n", cf_progname, cmd);
	return CF_EXIT_USAGE;
}

/* Arguments left after the options: none is expected. */
int
cf_extra_args(const char *cmd, int argc, char **argv)
{
	if (optind >= argc)
		return 0;
	cf_error("%s: too many command-line arguments (first is \"%s\")", cmd, argv[optind]);
	return cf_bad_usage(cmd);
}

/* A value as an SQL literal ('...' or NULL), malloc'd; exits when out of memory. */
char *
cf_quote_literal(PGconn *conn, const char *value)
{
	char	   *lit;
	char	   *copy;

	if (value == NULL)
		return strdup("NULL");
	lit = PQescapeLiteral(conn, value, strlen(value));
	if (lit == NULL)
	{
		cf_pq_error(conn, "could not quote a value");
		PQfinish(conn);
		exit(CF_EXIT_USAGE);
	}
	copy = strdup(lit);
	PQfreemem(lit);
	return copy;
}

/* Read a password from the terminal with echo off; NULL if there is none. */
static char *
read_password(const char *user)
{
	FILE	   *tty = fopen("/dev/tty", "r+");
	struct termios old,
				noecho;
	char		buf[1024];
	char	   *result = NULL;
	bool		restored = true;

	if (tty == NULL)
		return NULL;
	fprintf(tty, "Password for user %s: ", user ? user : "(default)");
	fflush(tty);
	if (tcgetattr(fileno(tty), &old) == 0)
	{
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t) ECHO;
		if (tcsetattr(fileno(tty), TCSAFLUSH, &noecho) == 0)
			restored = false;
	}
	if (fgets(buf, sizeof(buf), tty) != NULL)
	{
		buf[strcspn(buf, "\r\n")] = '\0';
		result = strdup(buf);
	}
	if (!restored)
		tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fputc('\n', tty);
	fclose(tty);
	memset(buf, 0, sizeof(buf));
	return result;
}

/*
 * Connect.  On failure: print libpq's message (unless quiet) and return
 * NULL.  The password, if one was typed, is wiped after use.
 */
PGconn *
cf_connect(const CfConnOpts *o, bool quiet)
{
	const char *keys[8];
	const char *vals[8];
	char	   *password = NULL;
	PGconn	   *conn;
	PGresult   *res;
	int			n;

	if (o->prompt == 1)
		password = read_password(o->user);
	for (;;)
	{
		n = 0;
		/* dbname first: a conninfo string in it must not override -h -p -U */
		if (o->dbname)
		{
			keys[n] = "dbname";
			vals[n++] = o->dbname;
		}
		if (o->host)
		{
			keys[n] = "host";
			vals[n++] = o->host;
		}
		if (o->port)
		{
			keys[n] = "port";
			vals[n++] = o->port;
		}
		if (o->user)
		{
			keys[n] = "user";
			vals[n++] = o->user;
		}
		if (password)
		{
			keys[n] = "password";
			vals[n++] = password;
		}
		keys[n] = "fallback_application_name";
		vals[n++] = "careflags";
		keys[n] = NULL;
		vals[n] = NULL;

		conn = PQconnectdbParams(keys, vals, 1);
		if (conn != NULL && PQstatus(conn) == CONNECTION_BAD &&
			PQconnectionNeedsPassword(conn) && password == NULL &&
			o->prompt != -1 && isatty(fileno(stdin)))
		{
			PQfinish(conn);
			password = read_password(o->user);
			if (password != NULL)
				continue;
			conn = NULL;
		}
		break;
	}
	if (password)
	{
		memset(password, 0, strlen(password));
		free(password);
	}
	if (conn == NULL)
	{
		if (!quiet)
			cf_error("could not connect: out of memory or no password given");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK)
	{
		if (!quiet)
			cf_pq_error(conn, "could not connect");
		PQfinish(conn);
		return NULL;
	}

	/*
	 * Nothing on the role's search_path is looked at from here on: a
	 * function or operator planted in a writable schema (public) never runs
	 * with the rights of whoever runs the client.  Every query also names
	 * pg_catalog and careflags itself.
	 */
	res = PQexec(conn, "SELECT pg_catalog.set_config('search_path', '', false)");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		if (!quiet)
			cf_pq_error(conn, "could not set search_path");
		PQclear(res);
		PQfinish(conn);
		return NULL;
	}
	PQclear(res);
	return conn;
}

/* Run a query that returns rows; NULL (and nothing printed) on failure. */
PGresult *
cf_query_soft(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	PGresult   *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);

	if (res != NULL && (PQresultStatus(res) == PGRES_TUPLES_OK ||
						PQresultStatus(res) == PGRES_COMMAND_OK))
		return res;
	PQclear(res);
	return NULL;
}

/* Run a query that returns rows; on failure print the server's error and exit 1. */
PGresult *
cf_query(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	PGresult   *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);

	if (res != NULL && (PQresultStatus(res) == PGRES_TUPLES_OK ||
						PQresultStatus(res) == PGRES_COMMAND_OK))
		return res;
	cf_pq_error(conn, "query failed");
	PQclear(res);
	PQfinish(conn);
	exit(CF_EXIT_FAIL);
}
