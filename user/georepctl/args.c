// SPDX-License-Identifier: GPL-2.0
/*
 * Argument parsing for georepctl: long options ("--name value" or
 * "--name=value"), "-h"/"--help", "--" to end options, and strict numbers.
 * No global state (unlike getopt), so the unit tests can call it freely.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "georepctl.h"

void grctl_parser_init(struct grctl_parser *p, int argc, char *argv[],
		       const struct grctl_opt *opts)
{
	memset(p, 0, sizeof(*p));
	p->argc = argc;
	p->argv = argv;
	p->opts = opts;
}

int grctl_errf(struct grctl_parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	return GRCTL_ARG_ERR;
}

int grctl_next(struct grctl_parser *p, const char **val)
{
	const struct grctl_opt *o;
	const char *arg, *eq;
	size_t len;

	*val = NULL;
	if (p->i >= p->argc)
		return GRCTL_ARG_END;
	arg = p->argv[p->i++];
	if (p->no_more_opts || arg[0] != '-' || !arg[1]) {
		*val = arg;
		return GRCTL_ARG_POS;
	}
	if (!strcmp(arg, "--")) {
		p->no_more_opts = true;
		return grctl_next(p, val);
	}
	if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
		p->cur = "--help";
		return GRCTL_OPT_HELP;
	}
	if (arg[1] != '-')
		return grctl_errf(p, "unknown option '%s'", arg);

	eq = strchr(arg + 2, '=');
	len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
	for (o = p->opts; o && o->name; o++) {
		if (strlen(o->name) != len || strncmp(o->name, arg + 2, len))
			continue;
		p->cur = o->name;
		if (!o->has_arg) {
			if (eq)
				return grctl_errf(p, "option '--%s' takes no value", o->name);
			return o->id;
		}
		if (eq) {
			*val = eq + 1;
		} else {
			if (p->i >= p->argc)
				return grctl_errf(p, "option '--%s' needs a value", o->name);
			*val = p->argv[p->i++];
		}
		return o->id;
	}
	return grctl_errf(p, "unknown option '%.*s'", (int)len + 2, arg);
}

int grctl_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	const char *c;

	if (!s || !*s)
		return -EINVAL;
	for (c = s; *c; c++) {
		unsigned int d;

		if (*c < '0' || *c > '9')
			return -EINVAL;
		d = (unsigned int)(*c - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int grctl_parse_size(const char *s, uint64_t *out)
{
	static const char suffixes[] = "KMGT";
	char num[32];
	const char *sfx;
	size_t len;
	uint64_t v;
	int shift = 0, ret;

	if (!s || !*s)
		return -EINVAL;
	len = strlen(s);
	sfx = strchr(suffixes, s[len - 1]);
	if (s[len - 1] && sfx) {
		shift = 10 * (int)(sfx - suffixes + 1);
		len--;
	}
	if (!len || len >= sizeof(num))
		return len ? -ERANGE : -EINVAL;
	memcpy(num, s, len);
	num[len] = '\0';
	ret = grctl_parse_u64(num, &v);
	if (ret)
		return ret;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

static int number_error(struct grctl_parser *p, const char *val, int ret,
			uint64_t min, uint64_t max)
{
	if (ret == -ERANGE || ret == 0)
		return grctl_errf(p, "invalid value '%s' for --%s: out of range %llu..%llu",
				  val, p->cur, (unsigned long long)min,
				  (unsigned long long)max);
	return grctl_errf(p, "invalid value '%s' for --%s: not a decimal number",
			  val, p->cur);
}

int grctl_opt_u64(struct grctl_parser *p, const char *val, uint64_t min,
		  uint64_t max, uint64_t *out)
{
	uint64_t v;
	int ret = grctl_parse_u64(val, &v);

	if (ret || v < min || v > max)
		return number_error(p, val, ret, min, max);
	*out = v;
	return 0;
}

int grctl_opt_size(struct grctl_parser *p, const char *val, uint64_t *out)
{
	int ret = grctl_parse_size(val, out);

	if (ret == -ERANGE)
		return grctl_errf(p, "invalid value '%s' for --%s: too large", val, p->cur);
	if (ret)
		return grctl_errf(p, "invalid value '%s' for --%s: not a size (bytes, optional K/M/G/T)",
				  val, p->cur);
	return 0;
}

int grctl_opt_name(struct grctl_parser *p, const char *val, const char **out)
{
	if (!georep_name_valid(val))
		return grctl_errf(p, "invalid volume name '%s': 1 to %d of [a-zA-Z0-9_.-], not '.' or '..'",
				  val, GEOREP_NAME_MAX - 1);
	*out = val;
	return 0;
}

int grctl_opt_dir(struct grctl_parser *p, const char *val, const char **out)
{
	if (!*val)
		return grctl_errf(p, "invalid value '' for --%s", p->cur);
	*out = val;
	return 0;
}

int grctl_take_name(struct grctl_parser *p, const char *val, const char **name)
{
	if (*name)
		return grctl_errf(p, "unexpected argument '%s'", val);
	p->cur = "name";
	if (grctl_opt_name(p, val, name))
		return GRCTL_ARG_ERR;
	return 0;
}

int grctl_next_named(struct grctl_parser *p, const char **val, const char **name)
{
	int id;

	while ((id = grctl_next(p, val)) == GRCTL_ARG_POS) {
		if (grctl_take_name(p, *val, name))
			return GRCTL_ARG_ERR;
	}
	if (id == GRCTL_OPT_HELP)
		return GRCTL_PARSE_HELP;
	return id;
}

int grctl_opt_role(struct grctl_parser *p, const char *val, uint8_t *out)
{
	if (!strcmp(val, "primary"))
		*out = GEOREP_ROLE_PRIMARY;
	else if (!strcmp(val, "secondary"))
		*out = GEOREP_ROLE_SECONDARY;
	else
		return grctl_errf(p, "invalid value '%s' for --%s: primary or secondary",
				  val, p->cur);
	return 0;
}

int grctl_opt_rule(struct grctl_parser *p, const char *val, uint8_t *out)
{
	if (!strcmp(val, "local"))
		*out = GEOREP_COMMIT_LOCAL;
	else if (!strcmp(val, "quorum"))
		*out = GEOREP_COMMIT_QUORUM;
	else
		return grctl_errf(p, "invalid value '%s' for --%s: local or quorum",
				  val, p->cur);
	return 0;
}

int grctl_opt_io_state(struct grctl_parser *p, const char *val, uint8_t *out)
{
	if (!strcmp(val, "run"))
		*out = GEOREP_IO_RUN;
	else if (!strcmp(val, "suspend"))
		*out = GEOREP_IO_SUSPEND;
	else if (!strcmp(val, "fail"))
		*out = GEOREP_IO_FAIL;
	else
		return grctl_errf(p, "invalid value '%s' for --%s: run, suspend or fail",
				  val, p->cur);
	return 0;
}

int grctl_usage_error(const char *usage, const char *msg)
{
	fprintf(stderr, "georepctl: %s\nusage: %s\n", msg, usage);
	return GRCTL_EXIT_USAGE;
}

int grctl_help(const char *usage, const char *help)
{
	printf("usage: %s\n", usage);
	if (help)
		printf("\n%s", help);
	return GRCTL_EXIT_OK;
}

enum { OPT_KEY_DIR = 2 };

static const struct grctl_opt key_dir_opts[] = {
	{ "key-dir", OPT_KEY_DIR, true },
	{ NULL }
};

int grctl_parse_name_key_dir(struct grctl_parser *p, const char **name,
			     const char **key_dir)
{
	const char *val;
	int id;

	p->opts = key_dir_opts;
	while ((id = grctl_next_named(p, &val, name)) > GRCTL_ARG_POS) {
		if (id == OPT_KEY_DIR && grctl_opt_dir(p, val, key_dir))
			return GRCTL_ARG_ERR;
	}
	if (id)
		return id;
	if (!*name)
		return grctl_errf(p, "missing volume name");
	return 0;
}

bool grctl_parsed(const struct grctl_parser *p, int ret, const char *usage,
		  const char *help, int *exit_code)
{
	if (ret == GRCTL_PARSE_HELP)
		*exit_code = grctl_help(usage, help);
	else if (ret)
		*exit_code = grctl_usage_error(usage, p->err);
	return !ret;
}

bool grctl_parsed_open(const struct grctl_parser *p, int ret, const char *usage,
		       const char *help, struct georep_nl **nl, int *exit_code)
{
	if (!grctl_parsed(p, ret, usage, help, exit_code))
		return false;
	if (grctl_nl_open(nl)) {
		*exit_code = GRCTL_EXIT_FAIL;
		return false;
	}
	return true;
}
