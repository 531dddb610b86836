// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the georepctl commands.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "georep/keys.h"
#include "georepctl.h"

int grctl_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("georepctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return GRCTL_EXIT_FAIL;
}

int grctl_nl_open(struct georep_nl **nl)
{
	char err[512];

	if (georep_nl_open(nl, err, sizeof(err)))
		return grctl_fail("%s", err);
	return 0;
}

int grctl_nl_fail(struct georep_nl *nl, const char *what, const char *name)
{
	return grctl_fail("%s %s: %s", what, name, georep_nl_error(nl));
}

const char *grctl_key_dir(const char *opt)
{
	const char *env = getenv("GEOREP_KEY_DIR");

	if (opt)
		return opt;
	return env && *env ? env : GEOREP_DEFAULT_KEY_DIR;
}

const char *grctl_dev_dir(void)
{
	const char *env = getenv("GEOREP_DEV_DIR");

	return env && *env ? env : "/dev/georep";
}

const char *grctl_role_name(unsigned int role)
{
	switch (role) {
	case GEOREP_ROLE_PRIMARY:
		return "primary";
	case GEOREP_ROLE_SECONDARY:
		return "secondary";
	}
	return "unknown";
}

const char *grctl_io_state_name(unsigned int state)
{
	switch (state) {
	case GEOREP_IO_RUN:
		return "run";
	case GEOREP_IO_SUSPEND:
		return "suspend";
	case GEOREP_IO_FAIL:
		return "fail";
	}
	return "unknown";
}

const char *grctl_rule_name(unsigned int rule)
{
	switch (rule) {
	case GEOREP_COMMIT_LOCAL:
		return "local";
	case GEOREP_COMMIT_QUORUM:
		return "quorum";
	}
	return "unknown";
}
