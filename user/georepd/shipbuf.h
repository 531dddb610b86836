/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The records a leader read from its ledger to propose, kept for the
 * APPENDs that ship them (Documentation/replication.rst, "Ship buffer").
 *
 * The leader reads each record once, into this buffer, and every follower's
 * APPEND takes its records from here; only a follower behind what is kept
 * makes the engine read the ledger again. What is held is a run of whole
 * records, seqs @first to @first + @n - 1, written in @term: a leader never
 * rewrites its log within its term, so they stay valid until the term
 * changes, when the buffer starts over.
 */
#ifndef _GEOREPD_SHIPBUF_H
#define _GEOREPD_SHIPBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gd_shipbuf {
	uint8_t *buf;
	size_t len;		/* bytes of the records held */
	size_t cap;		/* of buf */
	size_t max;		/* bytes held at most: older records are dropped */
	uint64_t first;		/* seq of the first record held */
	uint64_t term;
	uint32_t n;		/* records held */
	uint32_t offcap;
	size_t *off;		/* off[i]: where record first + i starts */
	bool lost;		/* a keep failed: none until the next room */
	uint64_t hits, misses;	/* gd_shipbuf_get() */
};

void gd_shipbuf_init(struct gd_shipbuf *sb, size_t max);
void gd_shipbuf_free(struct gd_shipbuf *sb);
void gd_shipbuf_reset(struct gd_shipbuf *sb);

/*
 * Room for @want bytes after the records held, to read record @seq of
 * @term on into: starts over when @seq and @term do not follow what is held,
 * drops the oldest records to stay within max (or to make room for one
 * larger record). Return: the room, or NULL (out of memory).
 */
uint8_t *gd_shipbuf_room(struct gd_shipbuf *sb, uint64_t seq, uint64_t term, size_t want);

/* Keep the record of @len bytes at the start of the room: seq first + n. */
void gd_shipbuf_keep(struct gd_shipbuf *sb, size_t len);

/* Whether record @seq of @term is held. */
static inline bool gd_shipbuf_holds(const struct gd_shipbuf *sb, uint64_t seq, uint64_t term)
{
	return sb->n && sb->term == term && seq >= sb->first && seq < sb->first + sb->n;
}

/*
 * Records @seq to @seq + @count - 1, if all are held: their bytes (@len),
 * contiguous. Return: NULL when one of them is not.
 */
const uint8_t *gd_shipbuf_get(struct gd_shipbuf *sb, uint64_t seq, uint32_t count,
			      size_t *len);

#endif /* _GEOREPD_SHIPBUF_H */
