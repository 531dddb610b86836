/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal KTAP output for the georepctl/lib unit tests: each test is a
 * function that returns 0 on success; CHECK() prints the failing
 * expression as a KTAP diagnostic and fails the test.
 */
#ifndef _GEOREP_GRTEST_H
#define _GEOREP_GRTEST_H

#include <stdio.h>

struct grtest {
	const char *name;
	int (*fn)(void);
};

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			printf("# %s:%d: check failed: %s\n", __FILE__,	\
			       __LINE__, #cond);				\
			return 1;					\
		}							\
	} while (0)

static inline int grtest_run(const struct grtest *t, unsigned int nr)
{
	unsigned int i, failed = 0;

	printf("KTAP version 1\n1..%u\n", nr);
	for (i = 0; i < nr; i++) {
		int ret;

		fflush(stdout);
		ret = t[i].fn();
		printf("%sok %u %s\n", ret ? "not " : "", i + 1, t[i].name);
		failed += !!ret;
	}
	printf("# %u passed, %u failed\n", nr - failed, failed);
	return failed ? 1 : 0;
}

#define GRTEST_MAIN(tests)						\
	int main(void)							\
	{								\
		return grtest_run(tests, sizeof(tests) / sizeof(tests[0])); \
	}

#endif /* _GEOREP_GRTEST_H */
