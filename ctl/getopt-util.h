/* getopt_long for subcommands: argv[0] is the command name; errors are ours, not getopt's. */
#pragma once

#include <getopt.h>
#include <stdio.h>

#include "ctl/ctl.h"

/* Restart option parsing for this argv and return the next option as getopt_long does. */
static inline int ctl_getopt(int argc, char **argv, const struct option *options)
{
	static char **current;

	if (current != argv) {
		current = argv;
		optind = 0; /* GNU: reinitialise */
	}
	opterr = 0;
	return getopt_long(argc, argv, "+h", options, NULL);
}

/* After getopt_long returned '?' or ':'. */
static inline int ctl_bad_option(char **argv)
{
	const char *opt = argv[optind - 1] ? argv[optind - 1] : "?";

	if (optopt && opt[0] == '-' && opt[1] == '-')
		return ctl_usage_error(argv[0], "option '%s' needs a value", opt);
	return ctl_usage_error(argv[0], "unknown option '%s'", opt);
}

static inline int ctl_help(const char *text)
{
	fputs(text, stdout);
	return CTL_EXIT_OK;
}
