// SPDX-License-Identifier: GPL-2.0
/*
 * georepctl config check <file>
 */
#include <stdio.h>

#include "georep/config.h"
#include "georepctl.h"
#include "cmd_config.h"

#define CHECK_USAGE "georepctl config check <file>"
#define CHECK_HELP							\
	"Validate a cluster configuration file (the JSON file georepd reads).\n" \
	"Prints \"ok: N sites, M volumes\", or every problem found, each with\n" \
	"the JSON path of the bad field, and exits 1. georepd refuses to start\n" \
	"with the same messages.\n"

static int check_main(int argc, char *argv[])
{
	const char *file = NULL, *val;
	struct grctl_parser p;
	int id;

	grctl_parser_init(&p, argc - 1, argv + 1, NULL);
	while ((id = grctl_next(&p, &val)) != GRCTL_ARG_END) {
		switch (id) {
		case GRCTL_ARG_ERR:
			return grctl_usage_error(CHECK_USAGE, p.err);
		case GRCTL_OPT_HELP:
			return grctl_help(CHECK_USAGE, CHECK_HELP);
		case GRCTL_ARG_POS:
			if (file) {
				grctl_errf(&p, "unexpected argument '%s'", val);
				return grctl_usage_error(CHECK_USAGE, p.err);
			}
			file = val;
			break;
		}
	}
	if (!file)
		return grctl_usage_error(CHECK_USAGE, "missing configuration file");
	return gr_cluster_check_report(file, "") ? GRCTL_EXIT_FAIL : GRCTL_EXIT_OK;
}

static const struct grctl_sub config_subs[] = {
	{ "check", check_main, CHECK_USAGE },
	{ NULL }
};

int config_main(int argc, char *argv[])
{
	return grctl_dispatch_sub("config", config_subs, argc, argv);
}
