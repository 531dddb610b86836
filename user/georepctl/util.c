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
