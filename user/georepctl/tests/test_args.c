// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for georepctl's argument parsing: numbers, every command's
 * parser, and the dispatcher's exit codes for help and usage errors (none
 * of these reach the kernel).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../georepctl.h"
#include "../../lib/tests/grtest.h"

#define ARGV(...) ((char *[]){ __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ __VA_ARGS__ }) / sizeof(char *)))
#define INIT(p, ...) grctl_parser_init(p, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), NULL)

static int test_parse_u64(void)
{
	static const char *const bad[] = { "", "-1", "+1", " 1", "1 ", "1x",
					   "0x10", "1.0", "1e3" };
	uint64_t v;
	size_t i;

	CHECK(grctl_parse_u64("0", &v) == 0 && v == 0);
	CHECK(grctl_parse_u64("007", &v) == 0 && v == 7);
	CHECK(grctl_parse_u64("18446744073709551615", &v) == 0 && v == UINT64_MAX);
	CHECK(grctl_parse_u64("18446744073709551616", &v) == -ERANGE);
	CHECK(grctl_parse_u64("99999999999999999999999", &v) == -ERANGE);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(grctl_parse_u64(bad[i], &v) == -EINVAL);
	CHECK(grctl_parse_u64(NULL, &v) == -EINVAL);
	return 0;
}

static int test_parse_size(void)
{
	uint64_t v;

	CHECK(grctl_parse_size("4096", &v) == 0 && v == 4096);
	CHECK(grctl_parse_size("4K", &v) == 0 && v == 4096);
	CHECK(grctl_parse_size("3M", &v) == 0 && v == 3ULL << 20);
	CHECK(grctl_parse_size("2G", &v) == 0 && v == 2ULL << 30);
	CHECK(grctl_parse_size("16T", &v) == 0 && v == 16ULL << 40);
	CHECK(grctl_parse_size("0", &v) == 0 && v == 0);
	CHECK(grctl_parse_size("16777216T", &v) == -ERANGE);
	CHECK(grctl_parse_size("K", &v) == -EINVAL);
	CHECK(grctl_parse_size("1k", &v) == -EINVAL);
	CHECK(grctl_parse_size("1KB", &v) == -EINVAL);
	CHECK(grctl_parse_size("-1K", &v) == -EINVAL);
	CHECK(grctl_parse_size("", &v) == -EINVAL);
	return 0;
}

static int test_name_rules(void)
{
	CHECK(georep_name_valid("vol0"));
	CHECK(georep_name_valid("a.b-c_D9"));
	CHECK(georep_name_valid("0123456789012345678901234567890"));	/* 31 */
	CHECK(!georep_name_valid("01234567890123456789012345678901"));	/* 32 */
	CHECK(!georep_name_valid(""));
	CHECK(!georep_name_valid("."));
	CHECK(!georep_name_valid(".."));
	CHECK(!georep_name_valid("a/b"));
	CHECK(!georep_name_valid("a b"));
	CHECK(!georep_name_valid("vol\n"));
	CHECK(!georep_name_valid(NULL));
	return 0;
}

static int test_create_full(void)
{
	struct volume_create_args a;
	struct grctl_parser p;

	INIT(&p, "vol0", "--data", "/dev/loop0", "--log=/dev/loop1", "--format",
	     "--site-id", "4294967295", "--role", "primary", "--term", "5",
	     "--commit-rule", "quorum", "--high-wm", "90", "--low-wm=70",
	     "--max-uncommitted", "64M", "--key-dir", "/tmp/k");
	CHECK(volume_create_parse(&p, &a) == 0);
	CHECK(!strcmp(a.name, "vol0") && !strcmp(a.data, "/dev/loop0"));
	CHECK(!strcmp(a.log, "/dev/loop1") && !strcmp(a.key_dir, "/tmp/k"));
	CHECK(a.req.format);
	CHECK(a.req.has_site_id && a.req.site_id == UINT32_MAX);
	CHECK(a.req.has_role && a.req.role == GEOREP_ROLE_PRIMARY);
	CHECK(a.req.has_term && a.req.term == 5);
	CHECK(a.req.has_commit_rule && a.req.commit_rule == GEOREP_COMMIT_QUORUM);
	CHECK(a.req.has_high_wm && a.req.high_wm == 90);
	CHECK(a.req.has_low_wm && a.req.low_wm == 70);
	CHECK(a.req.has_max_uncommitted && a.req.max_uncommitted == 64ULL << 20);

	INIT(&p, "--data", "d", "--log", "l", "v");	/* name anywhere */
	CHECK(volume_create_parse(&p, &a) == 0 && !strcmp(a.name, "v"));
	CHECK(!a.req.format && !a.req.has_role && !a.req.has_site_id && !a.key_dir);
	CHECK(!a.req.standalone);

	INIT(&p, "v", "--data", "d", "--log", "l", "--format", "--standalone");
	CHECK(volume_create_parse(&p, &a) == 0 && a.req.format && a.req.standalone);
	return 0;
}

/* the parser must fail and its message contain @needle */
#define FAILS(fn, args, needle, ...)					\
	do {								\
		struct grctl_parser p_;					\
		INIT(&p_, __VA_ARGS__);					\
		CHECK(fn(&p_, args) == GRCTL_ARG_ERR);			\
		if (!strstr(p_.err, needle)) {				\
			printf("# '%s' lacks '%s'\n", p_.err, needle);	\
			return 1;					\
		}							\
	} while (0)

static int test_create_errors(void)
{
	struct volume_create_args a;

	FAILS(volume_create_parse, &a, "missing volume name", "--data", "d", "--log", "l");
	FAILS(volume_create_parse, &a, "missing --data", "v", "--log", "l");
	FAILS(volume_create_parse, &a, "missing --log", "v", "--data", "d");
	FAILS(volume_create_parse, &a, "unknown option '--bogus'", "v", "--bogus");
	FAILS(volume_create_parse, &a, "unknown option '--bogus'", "v", "--bogus=3");
	FAILS(volume_create_parse, &a, "unknown option '-x'", "v", "-x");
	FAILS(volume_create_parse, &a, "'--data' needs a value", "v", "--data");
	FAILS(volume_create_parse, &a, "'--format' takes no value", "v", "--format=1");
	FAILS(volume_create_parse, &a, "'--standalone' takes no value", "v", "--standalone=1");
	FAILS(volume_create_parse, &a, "'101' for --high-wm: out of range 1..100",
	      "v", "--data", "d", "--log", "l", "--high-wm", "101");
	FAILS(volume_create_parse, &a, "'0' for --high-wm", "v", "--high-wm", "0");
	FAILS(volume_create_parse, &a, "--role and --term must be given together",
	      "v", "--data", "d", "--log", "l", "--role", "primary");
	FAILS(volume_create_parse, &a, "--high-wm and --low-wm must be given together",
	      "v", "--data", "d", "--log", "l", "--low-wm", "10");
	FAILS(volume_create_parse, &a, "--low-wm 80 must be below --high-wm 80",
	      "v", "--data", "d", "--log", "l", "--high-wm", "80", "--low-wm", "80");
	FAILS(volume_create_parse, &a, "'-1' for --term: not a decimal number",
	      "v", "--term", "-1");
	FAILS(volume_create_parse, &a, "'5x' for --term", "v", "--term", "5x");
	FAILS(volume_create_parse, &a, "'4294967296' for --site-id: out of range",
	      "v", "--site-id", "4294967296");
	FAILS(volume_create_parse, &a, "primary or secondary", "v", "--role", "leader");
	FAILS(volume_create_parse, &a, "local or quorum", "v", "--commit-rule", "sync");
	FAILS(volume_create_parse, &a, "for --max-uncommitted", "v", "--max-uncommitted", "1Q");
	FAILS(volume_create_parse, &a, "unexpected argument 'w'", "v", "w");
	FAILS(volume_create_parse, &a, "invalid volume name 'a/b'", "a/b");
	FAILS(volume_create_parse, &a, "invalid volume name '..'", "..");
	FAILS(volume_create_parse, &a, "invalid volume name",
	      "01234567890123456789012345678901");
	return 0;
}

static int test_help_everywhere(void)
{
	struct volume_create_args c;
	struct volume_set_args s;
	struct ledger_dump_args d;
	struct ledger_verify_args v;
	struct name_seq_args r;
	struct status_args st;
	struct key_rotate_args k;
	struct grctl_parser p;
	const char *name;

	INIT(&p, "vol", "--help");
	CHECK(volume_create_parse(&p, &c) == 1);
	INIT(&p, "-h");
	CHECK(volume_delete_parse(&p, &name) == 1);
	INIT(&p, "--help");
	CHECK(volume_set_parse(&p, &s) == 1);
	INIT(&p, "--help");
	CHECK(ledger_dump_parse(&p, &d) == 1);
	INIT(&p, "--help");
	CHECK(ledger_verify_parse(&p, &v) == 1);
	INIT(&p, "--help");
	CHECK(ledger_release_parse(&p, &r) == 1);
	INIT(&p, "--help");
	CHECK(status_parse(&p, &st) == 1);
	INIT(&p, "--help");
	CHECK(key_rotate_parse(&p, &k) == 1);
	return 0;
}

static int test_volume_set(void)
{
	struct volume_set_args a;
	struct grctl_parser p;

	INIT(&p, "v", "--role", "secondary", "--term", "9", "--commit-seq", "100",
	     "--commit-rule", "local", "--high-wm", "80", "--low-wm", "60",
	     "--max-uncommitted", "0");
	CHECK(volume_set_parse(&p, &a) == 0);
	CHECK(a.req.has_role && a.req.role == GEOREP_ROLE_SECONDARY && a.req.term == 9);
	CHECK(a.req.has_commit_seq && a.req.commit_seq == 100);
	CHECK(a.req.has_commit_rule && a.req.commit_rule == GEOREP_COMMIT_LOCAL);
	CHECK(a.req.has_wm && a.req.high_wm == 80 && a.req.low_wm == 60);
	CHECK(a.req.has_max_uncommitted && a.req.max_uncommitted == 0);

	INIT(&p, "v", "--commit-seq", "7");
	CHECK(volume_set_parse(&p, &a) == 0);
	CHECK(!a.req.has_role && !a.req.has_wm && a.req.commit_seq == 7);

	FAILS(volume_set_parse, &a, "nothing to set", "v");
	FAILS(volume_set_parse, &a, "--role and --term", "v", "--role", "primary");
	FAILS(volume_set_parse, &a, "--role and --term", "v", "--term", "3");
	FAILS(volume_set_parse, &a, "--high-wm and --low-wm", "v", "--high-wm", "90");
	FAILS(volume_set_parse, &a, "must be below", "v", "--high-wm", "50", "--low-wm", "60");
	FAILS(volume_set_parse, &a, "unknown option '--data'", "v", "--data", "x");
	FAILS(volume_set_parse, &a, "missing volume name", "--commit-seq", "1");

	INIT(&p, "v", "--io-state", "suspend");
	CHECK(volume_set_parse(&p, &a) == 0);
	CHECK(a.req.has_io_state && a.req.io_state == GEOREP_IO_SUSPEND &&
	      !a.req.has_role && !a.req.has_commit_seq);
	INIT(&p, "v", "--io-state", "fail");
	CHECK(volume_set_parse(&p, &a) == 0 && a.req.io_state == GEOREP_IO_FAIL);
	INIT(&p, "v", "--io-state", "run");
	CHECK(volume_set_parse(&p, &a) == 0 && a.req.io_state == GEOREP_IO_RUN);
	FAILS(volume_set_parse, &a, "'stop' for --io-state: run, suspend or fail",
	      "v", "--io-state", "stop");
	return 0;
}

static int test_ledger_parsers(void)
{
	struct ledger_verify_args v;
	struct ledger_dump_args d;
	struct name_seq_args r;
	struct grctl_parser p;

	INIT(&p, "v", "--from", "10", "--to", "20", "--json");
	CHECK(ledger_dump_parse(&p, &d) == 0);
	CHECK(d.has_from && d.from == 10 && d.has_to && d.to == 20 && d.json);
	INIT(&p, "v");
	CHECK(ledger_dump_parse(&p, &d) == 0 && !d.has_from && !d.has_to && !d.json);
	FAILS(ledger_dump_parse, &d, "--from 5 is past --to 4", "v", "--from", "5", "--to", "4");
	FAILS(ledger_dump_parse, &d, "'0' for --from: out of range", "v", "--from", "0");
	FAILS(ledger_dump_parse, &d, "'1O' for --to: not a decimal", "v", "--to", "1O");

	INIT(&p, "v", "--key-dir", "/k");
	CHECK(ledger_verify_parse(&p, &v) == 0 && !strcmp(v.key_dir, "/k"));
	FAILS(ledger_verify_parse, &v, "missing volume name", "--key-dir", "/k");
	FAILS(ledger_verify_parse, &v, "unknown option '--json'", "v", "--json");

	INIT(&p, "v", "12");
	CHECK(ledger_release_parse(&p, &r) == 0 && !strcmp(r.name, "v") && r.seq == 12);
	FAILS(ledger_release_parse, &r, "invalid <seq> '12x'", "v", "12x");
	FAILS(ledger_release_parse, &r, "invalid <seq> '0'", "v", "0");
	FAILS(ledger_release_parse, &r, "invalid <seq> '-3'", "v", "--", "-3");
	FAILS(ledger_release_parse, &r, "missing <seq>", "v");
	FAILS(ledger_release_parse, &r, "unexpected argument '3'", "v", "2", "3");
	return 0;
}

static int test_status_key_parsers(void)
{
	struct key_rotate_args k;
	struct status_args s;
	struct grctl_parser p;

	INIT(&p, "--json");
	CHECK(status_parse(&p, &s) == 0 && s.json && !s.name);
	INIT(&p, "vol", "--json");
	CHECK(status_parse(&p, &s) == 0 && s.json && !strcmp(s.name, "vol"));
	FAILS(status_parse, &s, "unexpected argument 'b'", "a", "b");
	FAILS(status_parse, &s, "invalid volume name 'a:b'", "a:b");

	INIT(&p, "vol", "--key-dir=/k");
	CHECK(key_rotate_parse(&p, &k) == 0 && !strcmp(k.key_dir, "/k"));
	FAILS(key_rotate_parse, &k, "missing volume name", "--key-dir", "/k");
	FAILS(key_rotate_parse, &k, "invalid value '' for --key-dir", "v", "--key-dir", "");
	return 0;
}

/* run the dispatcher with stdout/stderr captured into @err */
static int run(char *err, size_t errlen, int argc, char *argv[])
{
	char path[] = "/tmp/georepctl-args-XXXXXX";
	int fd = mkstemp(path), out, errfd, ret;
	ssize_t n;

	if (fd < 0)
		return -1;
	unlink(path);
	fflush(stdout);
	fflush(stderr);
	out = dup(1);
	errfd = dup(2);
	dup2(fd, 1);
	dup2(fd, 2);
	ret = grctl_run(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(out, 1);
	dup2(errfd, 2);
	close(out);
	close(errfd);
	n = pread(fd, err, errlen - 1, 0);
	err[n > 0 ? n : 0] = '\0';
	close(fd);
	return ret;
}

#define RUN(out, ...) run(out, sizeof(out), ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

static int test_dispatch_exit_codes(void)
{
	char out[4096];

	CHECK(RUN(out, "--help") == 0 && strstr(out, "volume") && strstr(out, "ledger"));
	CHECK(RUN(out, "bogus") == 2 && strstr(out, "unknown command 'bogus'"));
	CHECK(RUN(out, "volume") == 2 && strstr(out, "needs a subcommand"));
	CHECK(RUN(out, "volume", "frob") == 2 && strstr(out, "unknown subcommand 'volume frob'"));
	CHECK(RUN(out, "volume", "--help") == 0 && strstr(out, "volume create"));
	CHECK(RUN(out, "volume", "create", "--help") == 0 &&
	      strstr(out, "usage: georepctl volume create") && strstr(out, "--max-uncommitted"));
	CHECK(RUN(out, "volume", "create", "v", "--data", "d", "--log", "l", "--bogus") == 2);
	/* one line naming the argument, then the usage */
	CHECK(!strncmp(out, "georepctl: unknown option '--bogus'\nusage: georepctl volume create", 64));
	CHECK(RUN(out, "volume", "delete") == 2 && strstr(out, "missing volume name"));
	CHECK(RUN(out, "volume", "set", "v", "--term", "1") == 2);
	CHECK(RUN(out, "status", "bad/name") == 2 && strstr(out, "usage: georepctl status"));
	CHECK(RUN(out, "status", "--help") == 0 && strstr(out, "--json"));
	CHECK(RUN(out, "ledger", "release", "v", "1x") == 2);
	CHECK(RUN(out, "ledger", "dump", "--help") == 0);
	CHECK(RUN(out, "ledger", "verify", "--help") == 0);
	CHECK(RUN(out, "ledger", "release", "--help") == 0);
	CHECK(RUN(out, "ledger", "dump", "v", "--from", "-1") == 2 &&
	      strstr(out, "'-1' for --from"));
	CHECK(RUN(out, "key", "rotate", "--help") == 0);
	CHECK(RUN(out, "key", "rotate") == 2);
	CHECK(RUN(out, "key", "--help") == 0 && strstr(out, "key rotate"));
	return 0;
}

static int test_command_table(void)
{
	const struct grctl_cmd *c;
	unsigned int n = 0;

	for (c = grctl_commands; c->name; c++, n++)
		CHECK(c->main && c->summary && *c->summary);
	CHECK(n >= 4);
	return 0;
}

static const struct grtest tests[] = {
	{ "parse_u64_strict", test_parse_u64 },
	{ "parse_size_suffixes", test_parse_size },
	{ "name_rules", test_name_rules },
	{ "volume_create_full", test_create_full },
	{ "volume_create_errors", test_create_errors },
	{ "help_everywhere", test_help_everywhere },
	{ "volume_set", test_volume_set },
	{ "ledger_parsers", test_ledger_parsers },
	{ "status_key_parsers", test_status_key_parsers },
	{ "dispatch_exit_codes", test_dispatch_exit_codes },
	{ "command_table", test_command_table },
};

GRTEST_MAIN(tests)
