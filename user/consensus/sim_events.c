// SPDX-License-Identifier: GPL-2.0
/*
 * Consensus simulator: the event heap and the drifting site clocks.
 */
#include "sim_internal.h"

/* ---- event heap ------------------------------------------------------- */

static bool ev_less(const struct ev *a, const struct ev *b)
{
	return a->t < b->t || (a->t == b->t && a->order < b->order);
}

void push(struct sim *S, uint64_t t, uint8_t type, uint32_t site,
	  struct smsg *m)
{
	struct ev e = { .t = t, .order = S->order++, .type = type,
			.site = site, .msg = m };
	uint32_t i;

	if (site < MAXS)
		e.epoch = S->s[site].epoch;
	if (S->nheap == S->heapcap) {
		S->heapcap = S->heapcap ? S->heapcap * 2 : 1024;
		S->heap = realloc(S->heap, S->heapcap * sizeof(*S->heap));
		if (!S->heap)
			abort();
	}
	i = S->nheap++;
	while (i && ev_less(&e, &S->heap[(i - 1) / 2])) {
		S->heap[i] = S->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	S->heap[i] = e;
}

struct ev pop(struct sim *S)
{
	struct ev top = S->heap[0], x = S->heap[--S->nheap];
	uint32_t i = 0;

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= S->nheap)
			break;
		if (c + 1 < S->nheap && ev_less(&S->heap[c + 1], &S->heap[c]))
			c++;
		if (!ev_less(&S->heap[c], &x))
			break;
		S->heap[i] = S->heap[c];
		i = c;
	}
	if (S->nheap)
		S->heap[i] = x;
	return top;
}

/* ---- clocks ----------------------------------------------------------- */

uint64_t local_ns(struct sim *S, struct site *st)
{
	return (uint64_t)((__int128)S->now * (1000000 + st->drift_ppm) /
			  1000000);
}

/* real time of the site's local tick k */
uint64_t tick_real(struct site *st, uint64_t k)
{
	uint64_t l = k * TICK_NS + st->phase;

	return (uint64_t)((__int128)l * 1000000 / (1000000 + st->drift_ppm)) + 1;
}
