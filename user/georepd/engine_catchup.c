// SPDX-License-Identifier: GPL-2.0
/*
 * Leader: the records a follower behind the ship buffer needs, read on the
 * reader thread into the catch-up buffer (Documentation/replication.rst,
 * "Reading the ledger off the event loop").
 *
 * An APPEND whose records neither buffer holds is not sent: the reader reads
 * them from its first record on (ENG_CATCHUP_READ bytes), and the core sends
 * the APPEND again when the follower refuses the next one (a gap) or a
 * heartbeat round passes without progress. While a follower takes records
 * from this buffer, the next ones are read before it reaches its end, so
 * that a catch-up streams without waiting for the core. It holds one run
 * of records: two followers behind it at different points take turns.
 */
#include <errno.h>
#include <string.h>

#include "engine_internal.h"

/* the reader thread's read: what the ledger holds, at once */
static ssize_t catchup_read(void *arg, uint64_t seq, void *buf, size_t cap)
{
	struct engine *e = arg;

	return e->lg->ops->read_wait(e->lg, seq, buf, cap, 0);
}

/* on the loop: keep the records read from @seq (@n bytes) */
static void catchup_done(void *arg, uint64_t seq, void *buf, ssize_t n)
{
	struct engine *e = arg;
	const uint8_t *hdr, *payload;
	struct georep_rec rec;
	size_t off = 0;

	e->cu.reading = false;
	/* a new term, or the buffer started over: the room is not its own */
	if (e->cu.term != e->term || e->cb.term != e->term || e->cb.len != e->cu.len)
		goto out;
	if (n == -EMSGSIZE && e->cu.lim < ENG_READ_MAX) {
		e->cu.lim *= 2;		/* one record larger than a read */
		e->cu.want = seq;
		goto out;
	}
	if (n < 0) {
		if (gd_ratelimit(&e->rl))
			gd_warn("volume %s: reading records from %llu for a follower: %s",
				e->name, (unsigned long long)seq, strerror(-n));
		goto out;
	}
	e->cu.lim = ENG_CATCHUP_READ;
	while (!georep_record_next(buf, n, &off, &rec, &hdr, &payload, NULL, 0)) {
		if (rec.seq != e->cb.first + e->cb.n)
			break;
		gd_shipbuf_keep(&e->cb, GEOREP_RECORD_HDR_SIZE + rec.payload_len);
	}
	e->cu.reads++;
out:
	engine_pump(e);		/* the reader is free; the pump's end posts the rest */
}

/* read from @seq now, or once the reader is free (eng_catchup_wanted()) */
void eng_catchup_want(struct engine *e, uint64_t seq)
{
	uint8_t *room;

	if (e->role != GR_LEADER)
		return;
	if (e->cu.reading || gd_reader_busy(&e->rd)) {
		e->cu.want = seq;
		return;
	}
	e->cu.want = 0;
	if (!e->cu.lim)
		e->cu.lim = ENG_CATCHUP_READ;
	room = gd_shipbuf_room(&e->cb, seq, e->term, e->cu.lim);
	if (!room)
		return;
	e->cu.term = e->term;
	e->cu.len = e->cb.len;
	e->cu.reading = true;
	gd_reader_submit(&e->rd, catchup_read, catchup_done, e, seq, room, e->cu.lim);
}

/* the reader is free: the read that waited for it */
void eng_catchup_wanted(struct engine *e)
{
	if (e->cu.want && !gd_reader_busy(&e->rd))
		eng_catchup_want(e, e->cu.want);
}

/*
 * A follower took records up to @next - 1 from the catch-up buffer: read
 * on when fewer than ENG_CATCHUP_READ bytes are left after them, unless
 * the ship buffer holds @next (the follower caught up with it).
 */
void eng_catchup_ahead(struct engine *e, uint64_t next)
{
	uint64_t end = e->cb.first + e->cb.n;
	size_t left = 0;
	const uint8_t *p;

	if (e->cu.reading || e->cu.want || (e->sb.n && next >= e->sb.first))
		return;
	if (next < end) {
		p = gd_shipbuf_get(&e->cb, next, (uint32_t)(end - next > UINT32_MAX ?
							  UINT32_MAX : end - next), &left);
		if (!p)
			return;
	}
	if (left < ENG_CATCHUP_READ)
		eng_catchup_want(e, end);
}
