/*
 * careflags.h
 *	  Shared declarations of the careflags command-line client.
 *
 * The client is C99 on libpq only.  Every command connects the way psql does
 * (-h -p -U -d, PGHOST, PGSERVICE, ~/.pgpass), prints its result on stdout
 * and its errors on stderr, and never prints a password.  Every session pins
 * search_path to '' right after connecting and every query names its schema
 * (pg_catalog., careflags., OPERATOR(pg_catalog.=)), so objects planted in a
 * schema on the role's search_path never run.  Text from the database is
 * printed with control characters escaped (cf_safe).
 */
#ifndef CAREFLAGS_CLI_H
#define CAREFLAGS_CLI_H

#include <getopt.h>
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

/*
 * Options every command takes (getopt_long), psql's names.  A command's
 * option table starts with CF_CONN_LONG_OPTIONS and its short options with
 * CF_CONN_SHORT_OPTIONS; cf_conn_getopt() takes those.
 */
#define CF_OPT_HELP 0x100
#define CF_CONN_SHORT_OPTIONS "h:p:U:d:wW"
#define CF_CONN_LONG_OPTIONS \
	{"host", required_argument, NULL, 'h'}, \
	{"port", required_argument, NULL, 'p'}, \
	{"username", required_argument, NULL, 'U'}, \
	{"dbname", required_argument, NULL, 'd'}, \
	{"no-password", no_argument, NULL, 'w'}, \
	{"password", no_argument, NULL, 'W'}, \
	{"help", no_argument, NULL, CF_OPT_HELP}

extern const char *cf_progname;

/* conn.c */
extern bool cf_conn_getopt(CfConnOpts *o, int c, const char *arg);
extern bool cf_wants_help(int argc, char **argv);
extern int	cf_bad_usage(const char *cmd);
extern int	cf_extra_args(const char *cmd, int argc, char **argv);
extern const char *cf_conn_help(void);
extern PGconn *cf_connect(const CfConnOpts *o, bool quiet);
extern PGresult *cf_query(PGconn *conn, const char *sql, int nparams, const char *const *params);
extern PGresult *cf_query_soft(PGconn *conn, const char *sql, int nparams, const char *const *params);
extern void cf_error(const char *fmt,...) __attribute__((format(printf, 1, 2)));
extern void cf_pq_error(PGconn *conn, const char *what);
extern char *cf_quote_literal(PGconn *conn, const char *value);

/* output.c */
extern const char *cf_safe(const char *s);
extern char *cf_safe_dup(const char *s, bool keep_newlines);
extern void cf_html_text(FILE *out, const char *s);
extern void cf_print_table(FILE *out, PGresult *res, const char *const *headers, const int *cols,
						   const bool *right, int ncols);
extern bool cf_copy_out(FILE *out, PGconn *conn, const char *sql, bool crlf);

/* commands */
extern int	cf_cmd_report(int argc, char **argv);
extern int	cf_cmd_watch(int argc, char **argv);
extern int	cf_cmd_check(int argc, char **argv);

#endif							/* CAREFLAGS_CLI_H */
