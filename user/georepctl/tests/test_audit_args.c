// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of georepctl audit's --lba and --since parsers (audit_args.c):
 * good forms, and bad input refused with a sentence naming the problem.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../georepctl.h"
#include "../cmd_audit.h"
#include "../../lib/tests/grtest.h"

static int test_lba_good(void)
{
	uint64_t a, b;
	char err[256];

	CHECK(!grctl_parse_lba_range("800-807", &a, &b, err, sizeof(err)) && a == 800 && b == 807);
	CHECK(!grctl_parse_lba_range("0-0", &a, &b, err, sizeof(err)) && a == 0 && b == 0);
	CHECK(!grctl_parse_lba_range("42", &a, &b, err, sizeof(err)) && a == 42 && b == 42);
	CHECK(!grctl_parse_lba_range("36028797018963967", &a, &b, err, sizeof(err)) &&
	      a == (UINT64_MAX >> 9));
	return 0;
}

static int test_lba_bad(void)
{
	static const struct { const char *in, *says; } bad[] = {
		{ "", "--lba wants A-B" },
		{ "-", "two decimal sector numbers" },
		{ "8-", "two decimal sector numbers" },
		{ "-8", "two decimal sector numbers" },
		{ "1-2-3", "two decimal sector numbers" },
		{ "a-b", "two decimal sector numbers" },
		{ "0x10-0x20", "two decimal sector numbers" },
		{ " 1-2", "two decimal sector numbers" },
		{ "9-8", "the first sector is after the last" },
		{ "0-36028797018963968", "sector number too large" },
		{ "0-99999999999999999999999999999999999", "number too long" },
	};
	uint64_t a, b;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		CHECK(grctl_parse_lba_range(bad[i].in, &a, &b, err, sizeof(err)) == -EINVAL);
		if (!strstr(err, bad[i].says))
			printf("# \"%s\": %s\n", bad[i].in, err);
		CHECK(strstr(err, bad[i].says));
	}
	CHECK(grctl_parse_lba_range(NULL, &a, &b, err, sizeof(err)) == -EINVAL);
	return 0;
}

static int test_since(void)
{
	static const char *const bad[] = { "", "@", "@-1", "@1.5", "yesterday", "10",
		"10x", "m", "-5m", "2026-12-03 09:50:00", "2026-12-03T09:50:00",
		"2026-13-03T09:50:00Z", "2026-12-03T09:50:00Zjunk", "99999999999d" };
	uint64_t ns;
	char err[256];
	size_t i;

	CHECK(!grctl_parse_since("@1700000000", 0, &ns, err, sizeof(err)) &&
	      ns == 1700000000ULL * 1000000000ULL);
	CHECK(!grctl_parse_since("2023-11-14T22:13:20Z", 0, &ns, err, sizeof(err)) &&
	      ns == 1700000000ULL * 1000000000ULL);
	CHECK(!grctl_parse_since("90s", 1000, &ns, err, sizeof(err)) && ns == 910000000000ULL);
	CHECK(!grctl_parse_since("10m", 1000, &ns, err, sizeof(err)) && ns == 400000000000ULL);
	CHECK(!grctl_parse_since("2h", 86400, &ns, err, sizeof(err)) &&
	      ns == 79200ULL * 1000000000ULL);
	CHECK(!grctl_parse_since("1d", 86400, &ns, err, sizeof(err)) && ns == 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		if (grctl_parse_since(bad[i], 86400, &ns, err, sizeof(err)) != -EINVAL)
			printf("# accepted \"%s\"\n", bad[i]);
		CHECK(grctl_parse_since(bad[i], 86400, &ns, err, sizeof(err)) == -EINVAL);
		CHECK(strstr(err, "--since"));
	}
	return 0;
}

static const struct grtest tests[] = {
	{ "lba_range_good", test_lba_good },
	{ "lba_range_bad_refused_with_reason", test_lba_bad },
	{ "since_forms_and_bad_input", test_since },
};

GRTEST_MAIN(tests)
