// SPDX-License-Identifier: GPL-2.0
/* What a follower keeps of its log (retain.h). */
#include "retain.h"

/*
 * A follower may lead next and then serve a lagging site from its log, so
 * it keeps what it applied as long as it can: once its log is half full
 * (a full log refuses appends), it releases its oldest records down to a
 * quarter of the log, as far as the average record of the log says; and
 * once it holds half of @capacity records (the consensus core's), down to
 * a quarter of it (a large log of small records would reach the core's
 * 3/4, where everything applied goes, before it is half full).
 *
 * Return: the first record to keep (records before it may go), never past
 * @applied; 0 to release nothing.
 */
uint64_t gd_follower_keep(const struct gd_ledger_status *st, uint64_t applied,
			  uint64_t capacity)
{
	uint64_t held, avg, drop = 0, keep;

	if (!st->tail_seq || st->written_seq < st->tail_seq)
		return 0;
	held = st->written_seq - st->tail_seq + 1;
	if (st->log_size && st->log_used * 2 > st->log_size) {
		avg = st->log_used / held ?: 1;
		drop = (st->log_used - st->log_size / 4 + avg - 1) / avg;
	}
	if (held * 2 > capacity && held - capacity / 4 > drop)
		drop = held - capacity / 4;
	if (!drop)
		return 0;
	keep = st->tail_seq + drop;
	return keep < applied ? keep : applied;
}
