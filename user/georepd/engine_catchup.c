// SPDX-License-Identifier: GPL-2.0
/*
 * Leader: the records a follower behind the ship buffer needs, read on the
 * reader thread into the catch-up buffer (Documentation/replication.rst,
 * "Reading the ledger off the event loop").
 *
 * An APPEND whose records neither buffer holds waits in its follower's
 * queue (dq), and the APPENDs after it to that follower wait behind it: the
 * reader reads its records from the first on (ENG_CATCHUP_READ bytes), and
 * the queue is sent as soon as that read is done. The core counts the
 * queue as in transit, so that a heartbeat round does not send the
 * follower back to probing meanwhile. While a follower takes records from
 * this buffer, the next ones are read before it reaches its end, so that a
 * catch-up streams without waiting for the core. It holds one run of
 * records: two followers behind it at different points take turns.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

/* Return: how many records of @buf (@n bytes) the catch-up buffer kept */
static uint32_t catchup_keep(struct engine *e, const uint8_t *buf, size_t n)
{
	const uint8_t *hdr, *payload;
	struct georep_rec rec;
	uint32_t kept = 0;
	size_t off = 0;

	while (!georep_record_next(buf, n, &off, &rec, &hdr, &payload, NULL, 0)) {
		if (rec.seq != e->cb.first + e->cb.n)
			break;
		gd_shipbuf_keep(&e->cb, GEOREP_RECORD_HDR_SIZE + rec.payload_len);
		kept++;
	}
	return kept;
}

/* on the loop: keep the records read from @seq (@n bytes), send what waited */
static void catchup_done(void *arg, uint64_t seq, void *buf, ssize_t n)
{
	struct engine *e = arg;

	e->cu.reading = false;
	/* a new term, or the buffer started over: the room is not its own */
	if (e->cu.term != e->term || e->cb.term != e->term || e->cb.len != e->cu.len)
		goto out;
	if (n == -EMSGSIZE && e->cu.lim < ENG_READ_MAX) {
		e->cu.lim *= 2;		/* one record larger than a read */
		e->cu.want = seq;
		goto out;
	}
	if (n >= 0 && !catchup_keep(e, buf, n))
		n = -ENODATA;
	if (n < 0) {
		if (gd_ratelimit(&e->rl))
			gd_warn("volume %s: reading records from %llu for a follower: %s",
				e->name, (unsigned long long)seq, strerror(-n));
		/* not sent: the core probes those followers again */
		eng_deferred_drop(e);
		goto out;
	}
	e->cu.lim = ENG_CATCHUP_READ;
	e->cu.reads++;
out:
	engine_pump(e);		/* the reader is free: the pump first */
	eng_deferred_send(e);
}

/*
 * Read from @seq now, or once the reader is free (eng_catchup_wanted()):
 * unless a buffer holds it already (another follower's read, the pump's).
 */
void eng_catchup_want(struct engine *e, uint64_t seq)
{
	uint8_t *room;

	if (e->role != GR_LEADER)
		return;
	if (gd_shipbuf_holds(&e->cb, seq, e->term) || gd_shipbuf_holds(&e->sb, seq, e->term)) {
		e->cu.want = 0;
		return;
	}
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
	gd_reader_submit(&e->rd, eng_read_now, catchup_done, e, seq, room, e->cu.lim);
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
 * the ship buffer holds the records after it, or it holds the core's last.
 */
void eng_catchup_ahead(struct engine *e, uint64_t next)
{
	uint64_t end = e->cb.first + e->cb.n;
	struct gr_status gs;
	size_t left = 0;
	const uint8_t *p;

	if (e->cu.reading || e->cu.want || (e->sb.n && end >= e->sb.first))
		return;
	gr_status(e->n, &gs);
	if (end > gs.last_seq)
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

/*
 * Queue @m for @site behind the APPENDs that wait there. The core sends a
 * probe again each heartbeat round: the same APPEND replaces the one
 * queued (a later send time, commit). A full queue drops @m: the follower
 * then refuses the next one (a gap), and the core probes again.
 */
void eng_defer(struct engine *e, unsigned int site, const struct gr_msg *m)
{
	struct eng_deferred *d = &e->dq[site];
	struct gr_msg *q;
	uint32_t i;

	for (i = 0; i < d->n; i++) {
		q = &d->q[(d->head + i) % ENG_DEFER_MAX];
		if (q->seq == m->seq && q->n_entries == m->n_entries && q->term == m->term) {
			*q = *m;
			return;
		}
	}
	if (!d->q)
		d->q = calloc(ENG_DEFER_MAX, sizeof(*d->q));
	if (!d->q || d->n == ENG_DEFER_MAX)
		return;
	d->q[(d->head + d->n) % ENG_DEFER_MAX] = *m;
	d->n++;
	e->appends_deferred++;
}

/* Send what waits, in order, up to an APPEND whose records are still not read. */
void eng_deferred_send(struct engine *e)
{
	size_t site;

	for (site = 0; site < gd_cluster(e->d)->nsites; site++) {
		struct eng_deferred *d = &e->dq[site];

		while (d->n && eng_send_now(e, site, &d->q[d->head]) != -EAGAIN) {
			d->head = (d->head + 1) % ENG_DEFER_MAX;
			d->n--;
		}
	}
}

/* A new term or role, or a read that failed: what waits is not sent. */
void eng_deferred_drop(struct engine *e)
{
	size_t site;

	for (site = 0; site < gd_cluster(e->d)->nsites; site++)
		e->dq[site].n = 0;
}
