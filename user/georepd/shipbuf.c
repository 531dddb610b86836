// SPDX-License-Identifier: GPL-2.0
/* The leader's ship buffer: records read once, shipped to every follower. */
#include <stdlib.h>
#include <string.h>

#include "shipbuf.h"

void gd_shipbuf_init(struct gd_shipbuf *sb, size_t max)
{
	memset(sb, 0, sizeof(*sb));
	sb->max = max;
}

void gd_shipbuf_free(struct gd_shipbuf *sb)
{
	free(sb->buf);
	free(sb->off);
	gd_shipbuf_init(sb, sb->max);
}

void gd_shipbuf_reset(struct gd_shipbuf *sb)
{
	sb->len = 0;
	sb->n = 0;
	sb->first = 0;
	sb->term = 0;
	sb->lost = false;
}

/* Drop the oldest records until @keep bytes or fewer are held. */
static void drop_front(struct gd_shipbuf *sb, size_t keep)
{
	uint32_t k = 0;
	size_t cut;

	while (k < sb->n && sb->len - sb->off[k] > keep)
		k++;
	if (k == sb->n) {
		sb->first += sb->n;
		sb->n = 0;
		sb->len = 0;
		return;
	}
	cut = sb->off[k];
	memmove(sb->buf, sb->buf + cut, sb->len - cut);
	sb->len -= cut;
	sb->n -= k;
	sb->first += k;
	for (uint32_t i = 0; i < sb->n; i++)
		sb->off[i] = sb->off[i + k] - cut;
}

uint8_t *gd_shipbuf_room(struct gd_shipbuf *sb, uint64_t seq, uint64_t term, size_t want)
{
	if (sb->lost || sb->term != term || (sb->n && sb->first + sb->n != seq)) {
		gd_shipbuf_reset(sb);
		sb->term = term;
	}
	if (!sb->n)
		sb->first = seq;
	/* half of max at most stays: a drop is rare, and moves what stays once */
	if (sb->len + want > sb->max)
		drop_front(sb, want >= sb->max / 2 ? 0 : sb->max / 2 - want);
	if (sb->len + want > sb->cap) {
		uint8_t *p = realloc(sb->buf, sb->len + want);

		if (!p)
			return NULL;
		sb->buf = p;
		sb->cap = sb->len + want;
	}
	return sb->buf + sb->len;
}

void gd_shipbuf_keep(struct gd_shipbuf *sb, size_t len)
{
	if (sb->lost)
		return;
	if (sb->n == sb->offcap) {
		uint32_t ncap = sb->offcap ? sb->offcap * 2 : 1024;
		size_t *p = realloc(sb->off, ncap * sizeof(*p));

		if (!p) {
			/* not kept, nor the rest of this room: read again */
			gd_shipbuf_reset(sb);
			sb->lost = true;
			return;
		}
		sb->off = p;
		sb->offcap = ncap;
	}
	sb->off[sb->n++] = sb->len;
	sb->len += len;
}

const uint8_t *gd_shipbuf_get(struct gd_shipbuf *sb, uint64_t seq, uint32_t count,
			      size_t *len)
{
	uint64_t i, j;

	if (!count || !sb->n || seq < sb->first || seq + count > sb->first + sb->n) {
		sb->misses++;
		return NULL;
	}
	i = seq - sb->first;
	j = i + count;
	*len = (j < sb->n ? sb->off[j] : sb->len) - sb->off[i];
	sb->hits++;
	return sb->buf + sb->off[i];
}
