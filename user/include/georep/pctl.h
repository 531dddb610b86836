/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Latency percentiles, the one way georep's tools and georepd compute them
 * (georep-lat, georepd's write stages): nearest rank over sorted samples.
 */
#ifndef _GEOREP_PCTL_H
#define _GEOREP_PCTL_H

#include <stddef.h>
#include <stdint.h>

/* sort @n samples ascending */
void georep_sort_u64(uint64_t *v, size_t n);
/*
 * The @pct-th percentile of the @n ascending @v (@n > 0, @pct <= 100):
 * the smallest sample with at least @pct % of them at or below it.
 */
uint64_t georep_nearest_rank(const uint64_t *v, size_t n, unsigned int pct);

#endif
