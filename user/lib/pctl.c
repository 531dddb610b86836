// SPDX-License-Identifier: GPL-2.0
/*
 * Nearest-rank percentiles (georep/pctl.h).
 */
#include <stdlib.h>

#include "georep/pctl.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void georep_sort_u64(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
}

uint64_t georep_nearest_rank(const uint64_t *v, size_t n, unsigned int pct)
{
	size_t r = ((uint64_t)(pct > 100 ? 100 : pct) * n + 99) / 100;

	return v[r ? r - 1 : 0];
}
