/*
 * check.c
 *	  careflags check: is this install healthy?  One line per check, then a
 *	  verdict; exit status 0 when healthy, 1 when any check failed, 2 when
 *	  the database could not be reached.
 *
 *	  Checks: the server; careflags installed, library version = extension
 *	  version (and whether an update is pending); the background worker
 *	  connected to this database (a warning when careflags is not preloaded
 *	  at all), and the patients queued for it; the record-system plugins
 *	  (extensions careflags_*) and whether their triggers are enabled;
 *	  careflags.check_consistency() empty; careflags.verify_audit() intact;
 *	  open quarantine entries; with --audit-witness FILE, the audit chains'
 *	  heads against those FILE recorded.  Warnings do not make an install
 *	  unhealthy.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "careflags.h"

typedef struct CheckState
{
	PGconn	   *conn;
	int			failed;
	int			warned;
} CheckState;

static void
check_usage(FILE *out)
{
	fprintf(out,
			"careflags check - is the careflags install in this database healthy?\n"
			"\n"
			"Usage: careflags check [OPTION]...\n"
			"\n"
			"Checks versions, the background worker, plugins, careflags.check_consistency(),\n"
			"the audit chain (careflags.verify_audit()) and the quarantine.\n"
			"\n"
			"Options:\n"
			"      --max-quarantine=N  fail when more than N facts wait in quarantine\n"
			"                          (default: open quarantine entries only warn)\n"
			"      --audit-witness=FILE\n"
			"                          compare the audit chains' heads with those FILE\n"
			"                          recorded (FAIL if a chain was rewritten or cut\n"
			"                          back since), then renew FILE; keep it off the server\n"
			"      --help              show this help\n"
			"\n"
			"Exit status: 0 healthy, 1 unhealthy, 2 bad usage or no connection.\n"
			"\n"
			"Connection options:\n%s",
			cf_conn_help());
}

static void
report(CheckState *st, const char *status, const char *what, const char *fmt,...)
__attribute__((format(printf, 4, 5)));


/*
 * One line of the report: status, what was checked, the message.  The
 * message quotes text from the database (names, server errors): it is
 * printed with control characters escaped.  A new check adds a function
 * calling report() and one line in cf_cmd_check().
 */
static void
report(CheckState *st, const char *status, const char *what, const char *fmt,...)
{
	va_list		ap;
	char	   *msg;
	int			len;

	if (strcmp(status, "FAIL") == 0)
		st->failed++;
	else if (strcmp(status, "warn") == 0)
		st->warned++;
	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	msg = malloc((size_t) (len > 0 ? len : 0) + 1);
	if (msg == NULL)
	{
		cf_error("out of memory");
		exit(CF_EXIT_FAIL);
	}
	va_start(ap, fmt);
	vsnprintf(msg, (size_t) (len > 0 ? len : 0) + 1, fmt, ap);
	va_end(ap);
	printf("%-5s %-12s %s\n", status, what, cf_safe(msg));
	free(msg);
}

/* The server's error of the last query, one line. */
static const char *
last_error(PGconn *conn)
{
	static char buf[512];
	const char *msg = PQerrorMessage(conn);

	snprintf(buf, sizeof(buf), "%s", msg);
	buf[strcspn(buf, "\n")] = '\0';
	if (strncmp(buf, "ERROR:  ", 8) == 0)
		memmove(buf, buf + 8, strlen(buf + 8) + 1);
	return buf;
}

/* Does a function (by regprocedure text) exist? */
static bool
function_exists(PGconn *conn, const char *signature)
{
	const char *p[1] = {signature};
	PGresult   *res = cf_query_soft(conn, "SELECT pg_catalog.to_regprocedure($1::pg_catalog.text) IS NOT NULL", 1, p);
	bool		exists = res && PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';

	PQclear(res);
	return exists;
}

static bool
check_versions(CheckState *st)
{
	PGresult   *res;

	res = cf_query_soft(st->conn,
						"SELECT pg_catalog.current_setting('server_version'), e.extversion, a.default_version "
						"FROM (SELECT 1) AS one "
						"LEFT JOIN pg_catalog.pg_extension AS e ON e.extname OPERATOR(pg_catalog.=) 'careflags' "
						"LEFT JOIN pg_catalog.pg_available_extensions AS a ON a.name OPERATOR(pg_catalog.=) 'careflags'", 0, NULL);
	if (res == NULL)
	{
		report(st, "FAIL", "server", "%s", last_error(st->conn));
		return false;
	}
	report(st, "ok", "server", "PostgreSQL %s, database \"%s\"", PQgetvalue(res, 0, 0), PQdb(st->conn));
	if (PQgetisnull(res, 0, 1))
	{
		report(st, "FAIL", "extension", "careflags is not installed in database \"%s\" (CREATE EXTENSION careflags)",
			   PQdb(st->conn));
		PQclear(res);
		return false;
	}
	{
		char	   *extversion = strdup(PQgetvalue(res, 0, 1));
		char	   *available = strdup(PQgetvalue(res, 0, 2));
		PGresult   *lib = cf_query_soft(st->conn, "SELECT careflags.version()", 0, NULL);

		if (lib == NULL)
			report(st, "FAIL", "extension", "careflags %s installed, but its library does not load: %s",
				   extversion, last_error(st->conn));
		else if (strcmp(PQgetvalue(lib, 0, 0), extversion) != 0)
			report(st, "FAIL", "extension", "careflags %s installed, but the loaded library is %s "
				   "(ALTER EXTENSION careflags UPDATE, or restart after installing the library)",
				   extversion, PQgetvalue(lib, 0, 0));
		else if (available[0] && strcmp(available, extversion) != 0)
			report(st, "warn", "extension", "careflags %s (library %s); version %s is available: "
				   "ALTER EXTENSION careflags UPDATE", extversion, PQgetvalue(lib, 0, 0), available);
		else
			report(st, "ok", "extension", "careflags %s (library %s)", extversion, PQgetvalue(lib, 0, 0));
		PQclear(lib);
		free(extversion);
		free(available);
	}
	PQclear(res);
	return true;
}

/*
 * On a Citus coordinator whose careflags tables are distributed: each worker
 * node's careflags worker re-evaluates the due patients of the shards it
 * holds, so each must run in this database.  Nothing is reported elsewhere.
 */
static void
check_worker_nodes(CheckState *st)
{
	PGresult   *res = cf_query_soft(st->conn,
									"SELECT pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL "
									"AND pg_catalog.to_regclass('pg_catalog.pg_dist_local_group') IS NOT NULL",
									0, NULL);
	bool		citus = res != NULL && PQgetvalue(res, 0, 0)[0] == 't';

	if (res != NULL)
		PQclear(res);
	if (!citus)
		return;
	res = cf_query_soft(st->conn,
						"SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition "
						"               WHERE logicalrelid OPERATOR(pg_catalog.=) 'careflags.patient'::pg_catalog.regclass) "
						"AND (SELECT groupid FROM pg_catalog.pg_dist_local_group) OPERATOR(pg_catalog.=) 0",
						0, NULL);
	citus = res != NULL && PQgetvalue(res, 0, 0)[0] == 't';
	if (res != NULL)
		PQclear(res);
	if (!citus)
		return;
	res = cf_query_soft(st->conn,
						"SELECT pg_catalog.count(*), "
						"       pg_catalog.string_agg(w.nodename OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||) w.nodeport::pg_catalog.text, ', ') "
						"           FILTER (WHERE NOT w.success OR w.result OPERATOR(pg_catalog.=) '0') "
						"FROM pg_catalog.run_command_on_workers("
						"  'SELECT pg_catalog.count(*) FROM pg_catalog.pg_stat_activity "
						"   WHERE backend_type OPERATOR(pg_catalog.=) ''careflags worker'' "
						"     AND datname OPERATOR(pg_catalog.=) pg_catalog.current_database()') AS w",
						0, NULL);
	if (res == NULL)
		report(st, "FAIL", "worker nodes", "could not look: %s", last_error(st->conn));
	else if (!PQgetisnull(res, 0, 1))
		report(st, "FAIL", "worker nodes", "no careflags worker serves this database on %s: the due patients of its "
			   "shards are not re-evaluated as time passes (set careflags.worker_database there and restart)",
			   PQgetvalue(res, 0, 1));
	else
		report(st, "ok", "worker nodes", "a careflags worker on each of the %s Citus worker node(s)",
			   PQgetvalue(res, 0, 0));
	if (res != NULL)
		PQclear(res);
}

static void
check_worker(CheckState *st)
{
	PGresult   *res;

	/* without preloading there is no worker to look for (1.3 on) */
	res = cf_query_soft(st->conn, "SELECT careflags.preloaded()", 0, NULL);
	if (res != NULL && strcmp(PQgetvalue(res, 0, 0), "f") == 0)
	{
		report(st, "warn", "worker", "careflags is not in shared_preload_libraries: no background worker "
			   "(time-driven re-evaluation, NOTIFY of due flags, careflags.evaluate_in_worker); "
			   "add it, set careflags.worker_database = '%s' and restart", PQdb(st->conn));
		PQclear(res);
		return;
	}
	if (res != NULL)
		PQclear(res);

	res = cf_query_soft(st->conn,
						"SELECT pg_catalog.count(*) FILTER (WHERE datname OPERATOR(pg_catalog.=) pg_catalog.current_database()), "
						"       pg_catalog.string_agg(DISTINCT datname::pg_catalog.text, ', ') "
						"           FILTER (WHERE datname OPERATOR(pg_catalog.<>) pg_catalog.current_database()), "
						"       pg_catalog.max(pg_catalog.substr(query, 37)) "
						"           FILTER (WHERE datname OPERATOR(pg_catalog.=) pg_catalog.current_database() "
						"                   AND query OPERATOR(pg_catalog.~~) 'careflags worker: last pass failed: %') "
						"FROM pg_catalog.pg_stat_activity WHERE backend_type OPERATOR(pg_catalog.=) 'careflags worker'",
						0, NULL);
	if (res == NULL)
		report(st, "FAIL", "worker", "could not look: %s", last_error(st->conn));
	else if (atoi(PQgetvalue(res, 0, 0)) > 0 && !PQgetisnull(res, 0, 2))
		report(st, "FAIL", "worker", "background worker running, but its last pass failed: %s",
			   PQgetvalue(res, 0, 2));
	else if (atoi(PQgetvalue(res, 0, 0)) > 0)
		report(st, "ok", "worker", "background worker running (%s process%s)", PQgetvalue(res, 0, 0),
			   atoi(PQgetvalue(res, 0, 0)) == 1 ? "" : "es");
	else if (!PQgetisnull(res, 0, 1))
		report(st, "FAIL", "worker", "no careflags worker serves this database (it serves: %s); "
			   "set careflags.worker_database and restart", PQgetvalue(res, 0, 1));
	else
		report(st, "FAIL", "worker", "no careflags worker is running: is careflags in shared_preload_libraries "
			   "and careflags.worker_database set to \"%s\"?", PQdb(st->conn));
	PQclear(res);

	check_worker_nodes(st);

	/* patients queued for the worker (careflags.evaluate_in_worker; 1.2 on) */
	res = cf_query_soft(st->conn, "SELECT pg_catalog.to_regclass('careflags.evaluation_queue') IS NOT NULL", 0, NULL);
	if (res == NULL || PQgetvalue(res, 0, 0)[0] != 't')
	{
		PQclear(res);
		return;					/* before ALTER EXTENSION careflags UPDATE to 1.2 */
	}
	PQclear(res);
	res = cf_query_soft(st->conn,
						"SELECT pg_catalog.count(*), COALESCE(pg_catalog.sum(pg_catalog.cardinality(patient_ids)), 0), "
						"       COALESCE(pg_catalog.round(EXTRACT(epoch FROM pg_catalog.now() "
						"                OPERATOR(pg_catalog.-) pg_catalog.min(queued_at))), 0) "
						"FROM careflags.evaluation_queue", 0, NULL);
	if (res == NULL)
	{
		report(st, "FAIL", "queue", "could not look: %s", last_error(st->conn));
		return;
	}
	if (atoi(PQgetvalue(res, 0, 0)) == 0)
		report(st, "ok", "queue", "no patients waiting for the worker's evaluation");
	else if (atoi(PQgetvalue(res, 0, 2)) <= 60)
		report(st, "ok", "queue", "%s patients waiting for the worker's evaluation, the oldest for %s s",
			   PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
	else
		report(st, "FAIL", "queue", "%s patients waiting for the worker's evaluation, the oldest for %s s: "
			   "their flags are out of date (is the worker running and keeping up?)",
			   PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
	PQclear(res);
}

static void
check_plugins(CheckState *st)
{
	PGresult   *res = cf_query_soft(st->conn,
									"SELECT e.extname, e.extversion, "
									"       pg_catalog.count(t.oid), pg_catalog.count(t.oid) FILTER (WHERE t.tgenabled OPERATOR(pg_catalog.=) 'D') "
									"FROM pg_catalog.pg_extension AS e "
									"LEFT JOIN pg_catalog.pg_depend AS d "
									"     ON d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass "
									"     AND d.refobjid OPERATOR(pg_catalog.=) e.oid "
									"     AND d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass "
									"     AND d.deptype OPERATOR(pg_catalog.=) 'e' "
									"LEFT JOIN pg_catalog.pg_trigger AS t ON t.tgfoid OPERATOR(pg_catalog.=) d.objid AND NOT t.tgisinternal "
									"WHERE e.extname OPERATOR(pg_catalog.~~) 'careflags\\_%' "
									"GROUP BY e.extname, e.extversion ORDER BY e.extname", 0, NULL);
	int			r;

	if (res == NULL)
	{
		report(st, "FAIL", "plugins", "could not look: %s", last_error(st->conn));
		return;
	}
	if (PQntuples(res) == 0)
		report(st, "ok", "plugins", "none installed (facts are written to careflags' tables directly)");
	for (r = 0; r < PQntuples(res); r++)
	{
		int			triggers = atoi(PQgetvalue(res, r, 2));
		int			disabled = atoi(PQgetvalue(res, r, 3));

		if (disabled > 0)
			report(st, "FAIL", "plugins", "%s %s: %d of %d triggers disabled", PQgetvalue(res, r, 0),
				   PQgetvalue(res, r, 1), disabled, triggers);
		else if (triggers == 0)
			report(st, "warn", "plugins", "%s %s is installed but attached to no table", PQgetvalue(res, r, 0),
				   PQgetvalue(res, r, 1));
		else
			report(st, "ok", "plugins", "%s %s attached (%d trigger%s)", PQgetvalue(res, r, 0),
				   PQgetvalue(res, r, 1), triggers, triggers == 1 ? "" : "s");
	}
	PQclear(res);
}

static void
check_consistency(CheckState *st)
{
	PGresult   *res;

	if (!function_exists(st->conn, "careflags.check_consistency()"))
	{
		report(st, "warn", "consistency", "cannot be checked: careflags.check_consistency() is missing");
		return;
	}
	res = cf_query_soft(st->conn,
						"SELECT pg_catalog.count(*), "
						"       pg_catalog.string_agg(c.patient_id::pg_catalog.text OPERATOR(pg_catalog.||) ' ' "
						"                             OPERATOR(pg_catalog.||) c.rule_id OPERATOR(pg_catalog.||) ': ' "
						"                             OPERATOR(pg_catalog.||) c.difference, '; ') "
						"           FILTER (WHERE c.n OPERATOR(pg_catalog.<=) 3) "
						"FROM (SELECT c.*, pg_catalog.row_number() OVER () AS n FROM careflags.check_consistency() AS c) AS c",
						0, NULL);
	if (res == NULL)
		report(st, "FAIL", "consistency", "check_consistency() failed: %s", last_error(st->conn));
	else if (strcmp(PQgetvalue(res, 0, 0), "0") == 0)
		report(st, "ok", "consistency", "stored flags match the rules (check_consistency() is empty)");
	else
		report(st, "FAIL", "consistency", "%s stored flag(s) differ from the rules, e.g. patient %s",
			   PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
	PQclear(res);
}

static void
check_audit(CheckState *st)
{
	PGresult   *res;

	if (!function_exists(st->conn, "careflags.verify_audit()"))
	{
		report(st, "warn", "audit", "cannot be checked: careflags.verify_audit() is missing");
		return;
	}
	res = cf_query_soft(st->conn, "SELECT intact, checked, first_broken, problem FROM careflags.verify_audit()",
						0, NULL);
	if (res == NULL || PQntuples(res) != 1)
		report(st, "FAIL", "audit", "verify_audit() failed: %s", last_error(st->conn));
	else if (PQgetvalue(res, 0, 0)[0] == 't')
		report(st, "ok", "audit", "audit chain intact (%s entries checked)", PQgetvalue(res, 0, 1));
	else
		report(st, "FAIL", "audit", "audit chain broken at entry %s: %s", PQgetvalue(res, 0, 2),
			   PQgetvalue(res, 0, 3));
	PQclear(res);
}

/*
 * --audit-witness FILE: the heads of the audit chains recorded outside the
 * database.  Each recorded head (chain, last id, rows, hash) must still be a
 * row of the audit with the same hash: a chain rewritten (hashes recomputed),
 * cut back or removed since FILE was written is found.  When every head
 * matches (or FILE does not exist yet), FILE is renewed with today's heads;
 * after a mismatch it is kept as the evidence.
 */
static void
check_audit_witness(CheckState *st, const char *path)
{
	FILE	   *f = fopen(path, "r");
	char		line[512];
	long		compared = 0;
	int			bad = 0;
	PGresult   *res;
	char		tmp[4096];
	FILE	   *out;

	if (!function_exists(st->conn, "careflags.audit_witness()"))
	{
		report(st, "FAIL", "witness", "cannot be kept: careflags.audit_witness() is missing (ALTER EXTENSION careflags UPDATE)");
		if (f)
			fclose(f);
		return;
	}
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
	{
		char		chain[64],
					id[32],
					count[32],
					hash[80];
		const char *params[1];

		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%63s %31s %31s %79s", chain, id, count, hash) != 4 ||
			strspn(id, "0123456789") != strlen(id))
		{
			report(st, "FAIL", "witness", "%s: not a witness line: %s", path, line);
			bad++;
			break;
		}
		compared++;
		params[0] = id;
		res = cf_query_soft(st->conn,
							"SELECT pg_catalog.encode(a.hash, 'hex') FROM careflags.audit a "
							"WHERE a.audit_id OPERATOR(pg_catalog.=) $1::pg_catalog.int8",
							1, params);
		if (res == NULL)
		{
			report(st, "FAIL", "witness", "could not read the audit: %s", last_error(st->conn));
			bad++;
			break;
		}
		if (PQntuples(res) == 0)
		{
			report(st, "FAIL", "witness", "chain %s: row %s (its head of %s rows when %s was written) is gone",
				   chain, id, count, path);
			bad++;
		}
		else if (strcmp(PQgetvalue(res, 0, 0), hash) != 0)
		{
			report(st, "FAIL", "witness", "chain %s: row %s has hash %.16s..., %s recorded %.16s...: the chain was rewritten",
				   chain, id, PQgetvalue(res, 0, 0), path, hash);
			bad++;
		}
		PQclear(res);
	}
	if (f != NULL)
		fclose(f);
	if (bad > 0)
		return;

	res = cf_query_soft(st->conn, "SELECT chain, last_id, row_count, last_hash FROM careflags.audit_witness()",
						0, NULL);
	if (res == NULL)
	{
		report(st, "FAIL", "witness", "could not read the heads: %s", last_error(st->conn));
		return;
	}
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	out = fopen(tmp, "w");
	if (out == NULL)
	{
		report(st, "FAIL", "witness", "cannot write %s", tmp);
		PQclear(res);
		return;
	}
	fprintf(out, "# careflags audit witness: chain last_id row_count sha256\n");
	for (int r = 0; r < PQntuples(res); r++)
		fprintf(out, "%s %s %s %s\n", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1),
				PQgetvalue(res, r, 2), PQgetvalue(res, r, 3));
	if (fclose(out) != 0 || rename(tmp, path) != 0)
		report(st, "FAIL", "witness", "cannot write %s", path);
	else if (f == NULL)
		report(st, "ok", "witness", "%s written: %d chain head(s)", path, PQntuples(res));
	else
		report(st, "ok", "witness", "%ld chain head(s) as %s recorded them; renewed with %d", compared,
			   path, PQntuples(res));
	PQclear(res);
}

static void
check_quarantine(CheckState *st, long max_quarantine)
{
	PGresult   *res = cf_query_soft(st->conn,
									"SELECT pg_catalog.count(*), pg_catalog.min(recorded_at)::pg_catalog.text "
									"FROM careflags.quarantine WHERE resolved_at IS NULL",
									0, NULL);
	long		n;

	if (res == NULL)
	{
		report(st, "FAIL", "quarantine", "could not look: %s", last_error(st->conn));
		return;
	}
	n = atol(PQgetvalue(res, 0, 0));
	if (n == 0)
		report(st, "ok", "quarantine", "empty");
	else if (max_quarantine >= 0 && n > max_quarantine)
		report(st, "FAIL", "quarantine", "%ld fact(s) wait in careflags.quarantine (more than %ld), oldest from %s",
			   n, max_quarantine, PQgetvalue(res, 0, 1));
	else
		report(st, "warn", "quarantine", "%ld fact(s) wait in careflags.quarantine, oldest from %s",
			   n, PQgetvalue(res, 0, 1));
	PQclear(res);
}

/*
 * Options of careflags check.  A new option: a line here (the next value) and
 * a case below.
 */
static const struct option check_options[] = {
	CF_CONN_LONG_OPTIONS,
	{"max-quarantine", required_argument, NULL, 1},
	{"audit-witness", required_argument, NULL, 2},
	{NULL, 0, NULL, 0}
};

int
cf_cmd_check(int argc, char **argv)
{
	const struct option *long_options = check_options;
	CfConnOpts	co = {0};
	CheckState	st = {0};
	const char *maxq_s = NULL;
	const char *witness = NULL;
	long		maxq = -1;
	int			c;

	if (cf_wants_help(argc, argv))
	{
		check_usage(stdout);
		return CF_EXIT_OK;
	}
	while ((c = getopt_long(argc, argv, CF_CONN_SHORT_OPTIONS, long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 1:
				maxq_s = optarg;
				break;
			case 2:
				witness = optarg;
				break;
			case CF_OPT_HELP:
				check_usage(stdout);
				return CF_EXIT_OK;
			default:
				if (!cf_conn_getopt(&co, c, optarg))
					return cf_bad_usage("check");
		}
	}
	if (cf_extra_args("check", argc, argv))
		return CF_EXIT_USAGE;
	if (maxq_s)
	{
		char	   *end;

		maxq = strtol(maxq_s, &end, 10);
		if (*end || maxq < 0)
		{
			cf_error("check: --max-quarantine must be a number, not \"%s\"", cf_safe(maxq_s));
			return CF_EXIT_USAGE;
		}
	}

	st.conn = cf_connect(&co, false);
	if (st.conn == NULL)
		return CF_EXIT_USAGE;
	if (check_versions(&st))
	{
		check_worker(&st);
		check_plugins(&st);
		check_consistency(&st);
		check_audit(&st);
		if (witness)
			check_audit_witness(&st, witness);
		check_quarantine(&st, maxq);
	}
	PQfinish(st.conn);
	if (st.failed)
		printf("careflags check: UNHEALTHY (%d problem%s, %d warning%s)\n", st.failed,
			   st.failed == 1 ? "" : "s", st.warned, st.warned == 1 ? "" : "s");
	else
		printf("careflags check: healthy (%d warning%s)\n", st.warned, st.warned == 1 ? "" : "s");
	fflush(stdout);
	return st.failed ? CF_EXIT_FAIL : CF_EXIT_OK;
}
