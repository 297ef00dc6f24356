/*
 * main.c
 *	  careflags: the command-line client of the careflags extension.
 *
 *	  careflags report   the national quality indicators (table, csv, json, html)
 *	  careflags watch    a nurse-station feed of flags as they are raised or fall due
 *	  careflags check    whether the install is healthy (exit 0) or not (exit 1)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "careflags.h"

const char *cf_progname = "careflags";

static void
usage(FILE *out)
{
	fprintf(out,
			"careflags - quality reports, flag feed and health check for the careflags extension\n"
			"\n"
			"Usage:\n"
			"  careflags report [OPTION]...   print the quality indicators\n"
			"  careflags watch [OPTION]...    print flags as they are raised or fall due\n"
			"  careflags check [OPTION]...    check the install; exit 0 when healthy, 1 when not\n"
			"  careflags COMMAND --help       options of a command\n"
			"  careflags --version\n"
			"\n"
			"Connection options (every command):\n%s"
			"\n"
			"Exit status: 0 success (check: healthy), 1 failure (check: unhealthy),\n"
			"2 bad usage or no connection.\n",
			cf_conn_help());
}

int
main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2)
	{
		usage(stderr);
		return CF_EXIT_USAGE;
	}
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-?") == 0 || strcmp(cmd, "help") == 0)
	{
		usage(stdout);
		return CF_EXIT_OK;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0)
	{
		printf("careflags (client) %s, libpq %d\n", CF_CLI_VERSION, PQlibVersion());
		return CF_EXIT_OK;
	}
	/* getopt_long's messages name the command: "careflags report: unrecognized option" */
	if (strlen(cmd) < 32)
	{
		static char name[64];

		snprintf(name, sizeof(name), "%s %s", cf_progname, cmd);
		argv[1] = name;
	}
	if (strcmp(cmd, "report") == 0)
		return cf_cmd_report(argc - 1, argv + 1);
	if (strcmp(cmd, "watch") == 0)
		return cf_cmd_watch(argc - 1, argv + 1);
	if (strcmp(cmd, "check") == 0)
		return cf_cmd_check(argc - 1, argv + 1);
	cf_error("unknown command \"%s\"", cf_safe(cmd));
	fprintf(stderr, "Try \"careflags --help\".\n");
	return CF_EXIT_USAGE;
}
