/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal KTAP output for the georepd unit tests: each test case is a
 * function; a case fails when any CHECK in it fails.
 */
#ifndef _GEOREPD_TESTS_KTAP_H
#define _GEOREPD_TESTS_KTAP_H

#include <stdio.h>
#include <stdlib.h>

static int ktap_case_failed;
static int ktap_failed;
static int ktap_n;

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		printf("    # %s:%d: CHECK(%s) failed\n", __FILE__,	\
		       __LINE__, #cond);				\
		ktap_case_failed = 1;					\
	}								\
} while (0)

#define CHECK_MSG(cond, ...) do {					\
	if (!(cond)) {							\
		printf("    # %s:%d: ", __FILE__, __LINE__);		\
		printf(__VA_ARGS__);					\
		printf("\n");						\
		ktap_case_failed = 1;					\
	}								\
} while (0)

struct ktap_case {
	const char *name;
	void (*fn)(void);
};

static inline int ktap_run(const struct ktap_case *cases, int n)
{
	int i;

	printf("KTAP version 1\n1..%d\n", n);
	fflush(stdout);
	for (i = 0; i < n; i++) {
		ktap_case_failed = 0;
		cases[i].fn();
		ktap_n++;
		printf("%sok %d %s\n", ktap_case_failed ? "not " : "", i + 1,
		       cases[i].name);
		fflush(stdout);
		if (ktap_case_failed)
			ktap_failed++;
	}
	printf("# %d passed, %d failed\n", n - ktap_failed, ktap_failed);
	return ktap_failed ? 1 : 0;
}

#endif /* _GEOREPD_TESTS_KTAP_H */
