/*
 * careflags.h
 *	  Shared declarations of the careflags command-line client.
 *
 * The client is C99 on libpq only.  Every command connects the way psql does
 * (-h -p -U -d, PGHOST, PGSERVICE, ~/.pgpass), prints its result on stdout
 * and its errors on stderr, and never prints a password.
 */
#ifndef CAREFLAGS_CLI_H
#define CAREFLAGS_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "libpq-fe.h"

#define CF_CLI_VERSION "1.0"

/* Exit codes: 0 done (check: healthy), 1 failure (check: unhealthy), 2 usage or connection. */
#define CF_EXIT_OK 0
#define CF_EXIT_FAIL 1
#define CF_EXIT_USAGE 2

/* Connection options, psql's names. */
typedef struct CfConnOpts
{
	const char *host;
	const char *port;
	const char *user;
	const char *dbname;			/* a name, a conninfo string or a URI */
	int			prompt;			/* 0 when needed (on a terminal), -1 never (-w), 1 always (-W) */
} CfConnOpts;

extern const char *cf_progname;

/* conn.c */
extern int	cf_conn_option(CfConnOpts *o, int argc, char **argv, int *i);
extern const char *cf_conn_help(void);
extern PGconn *cf_connect(const CfConnOpts *o, bool quiet);
extern PGresult *cf_query(PGconn *conn, const char *sql, int nparams, const char *const *params);
extern PGresult *cf_query_soft(PGconn *conn, const char *sql, int nparams, const char *const *params);
extern void cf_error(const char *fmt,...) __attribute__((format(printf, 1, 2)));
extern void cf_pq_error(PGconn *conn, const char *what);
extern bool cf_opt_value(int argc, char **argv, int *i, const char *longname, char shortname,
						 const char **value);

/* output.c */
extern void cf_csv_field(FILE *out, const char *s);
extern void cf_json_string(FILE *out, const char *s);
extern void cf_json_value(FILE *out, PGresult *res, int row, int col);
extern void cf_html_text(FILE *out, const char *s);
extern void cf_print_table(FILE *out, PGresult *res, const char *const *headers, const int *cols, int ncols);
extern bool cf_json_get(const char *json, const char *key, char *buf, size_t size);

/* commands */
extern int	cf_cmd_report(int argc, char **argv);
extern int	cf_cmd_watch(int argc, char **argv);
extern int	cf_cmd_check(int argc, char **argv);

#endif							/* CAREFLAGS_CLI_H */
