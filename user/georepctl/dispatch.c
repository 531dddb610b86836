// SPDX-License-Identifier: GPL-2.0
/*
 * Top-level dispatch: "georepctl <command> ...", no command means "status".
 */
#include <stdio.h>
#include <string.h>

#include "georepctl.h"

#define TOP_USAGE "georepctl [--help] <command> [<args>]"

static void list_commands(FILE *f)
{
	const struct grctl_cmd *c;

	fprintf(f, "usage: %s\n\ncommands:\n", TOP_USAGE);
	for (c = grctl_commands; c->name; c++)
		fprintf(f, "  %-8s %s\n", c->name, c->summary);
	fprintf(f, "\n'georepctl <command> --help' shows the usage of a command.\n");
}

int grctl_run(int argc, char *argv[])
{
	static char status_cmd[] = "status";
	static char *status_argv[] = { status_cmd, NULL };
	const struct grctl_cmd *c;

	if (argc < 1)
		return status_main(1, status_argv);
	if (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help") ||
	    !strcmp(argv[0], "help")) {
		list_commands(stdout);
		return GRCTL_EXIT_OK;
	}
	for (c = grctl_commands; c->name; c++)
		if (!strcmp(argv[0], c->name))
			return c->main(argc, argv);
	fprintf(stderr, "georepctl: unknown command '%s'\n", argv[0]);
	list_commands(stderr);
	return GRCTL_EXIT_USAGE;
}

static void list_subs(FILE *f, const char *group, const struct grctl_sub *subs)
{
	const struct grctl_sub *s;

	fprintf(f, "usage:\n");
	for (s = subs; s->name; s++)
		fprintf(f, "  %s\n", s->usage);
	fprintf(f, "\n'georepctl %s <subcommand> --help' shows more.\n", group);
}

int grctl_dispatch_sub(const char *group, const struct grctl_sub *subs,
		       int argc, char *argv[])
{
	const struct grctl_sub *s;

	if (argc < 2) {
		fprintf(stderr, "georepctl: '%s' needs a subcommand\n", group);
		list_subs(stderr, group, subs);
		return GRCTL_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		list_subs(stdout, group, subs);
		return GRCTL_EXIT_OK;
	}
	for (s = subs; s->name; s++)
		if (!strcmp(argv[1], s->name))
			return s->fn(argc - 1, argv + 1);
	fprintf(stderr, "georepctl: unknown subcommand '%s %s'\n", group, argv[1]);
	list_subs(stderr, group, subs);
	return GRCTL_EXIT_USAGE;
}
