/*
 * conn.c
 *	  Connecting like psql, running queries, reporting errors.
 *
 *	  Options -h -p -U -d (and --host= ...) override the environment; what is
 *	  not given comes from libpq's defaults: PGHOST, PGPORT, PGUSER,
 *	  PGDATABASE, PGSERVICE and the service file, ~/.pgpass, PGPASSWORD.
 *	  -d may be a conninfo string or a URI (expand_dbname).  A password is
 *	  asked for on the terminal with echo off only when the server wants one
 *	  and none was found (-w: never ask, -W: always ask); it is never printed.
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

/* libpq's message, without its trailing newline. */
void
cf_pq_error(PGconn *conn, const char *what)
{
	const char *msg = conn ? PQerrorMessage(conn) : "";
	size_t		len = strlen(msg);

	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
		len--;
	fprintf(stderr, "%s: error: %s%s%.*s\n", cf_progname, what, len ? ": " : "", (int) len, msg);
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

/*
 * Does argv[*i] name option --longname / -shortname?  Then take its value
 * (from "--name=value", "-xvalue" or the next argument), advance *i past it
 * and return true.  A missing value is a usage error (exits).
 */
bool
cf_opt_value(int argc, char **argv, int *i, const char *longname, char shortname,
			 const char **value)
{
	const char *a = argv[*i];
	size_t		n = strlen(longname);

	if (a[0] == '-' && a[1] == '-' && strncmp(a + 2, longname, n) == 0 &&
		(a[2 + n] == '\0' || a[2 + n] == '='))
	{
		if (a[2 + n] == '=')
		{
			*value = a + 3 + n;
			return true;
		}
	}
	else if (shortname && a[0] == '-' && a[1] == shortname)
	{
		if (a[2] != '\0')
		{
			*value = a + 2;
			return true;
		}
	}
	else
		return false;
	if (*i + 1 >= argc)
	{
		cf_error("option %s needs a value", a);
		exit(CF_EXIT_USAGE);
	}
	(*i)++;
	*value = argv[*i];
	return true;
}

/* Take a connection option at argv[*i]: 1 taken, 0 not a connection option. */
int
cf_conn_option(CfConnOpts *o, int argc, char **argv, int *i)
{
	const char *a = argv[*i];

	if (cf_opt_value(argc, argv, i, "host", 'h', &o->host) ||
		cf_opt_value(argc, argv, i, "port", 'p', &o->port) ||
		cf_opt_value(argc, argv, i, "username", 'U', &o->user) ||
		cf_opt_value(argc, argv, i, "dbname", 'd', &o->dbname))
		return 1;
	if (strcmp(a, "-w") == 0 || strcmp(a, "--no-password") == 0)
	{
		o->prompt = -1;
		return 1;
	}
	if (strcmp(a, "-W") == 0 || strcmp(a, "--password") == 0)
	{
		o->prompt = 1;
		return 1;
	}
	return 0;
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
