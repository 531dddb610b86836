// SPDX-License-Identifier: GPL-2.0
/*
 * Leader: serving a fork heal's HEAL_REQs (engine_heal.c has the replica's
 * side and the algorithm). For each request:
 *
 *  1. the reader thread reads the blocks from the data device;
 *  2. the loop writes a NOOP barrier: a record whose data write could
 *     have raced with those reads now has a lower seq, n;
 *  3. the reader thread scans the records after the fork point up to n
 *     for the last one that writes each block;
 *  4. the loop answers each block: DATA (sealed), or SUPERSEDED by that
 *     record.
 *
 * Until December 2026 all four ran on the loop, and the scan read every
 * record since the fork point for each request: a long fork, or a disk
 * that takes a second per read, held heartbeats. Requests wait in a queue
 * of HEAL_SERVE_QUEUE, one per replica (eng_heal_request()).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

#define HEAL_SCAN_READ	(1U << 20)	/* records per read of the scan, at least one */

static void heal_reply(struct engine *e, unsigned int to, uint64_t fork_seq, uint64_t block,
		       uint32_t status, uint64_t version, uint64_t seq, const uint8_t *data)
{
	struct gr_frame f = { .hdr.type = GR_FT_HEAL };
	int ret;

	f.heal.fork_seq = fork_seq;
	f.heal.block = block;
	f.heal.status = status;
	f.heal.version = version;
	f.heal.seq = seq;
	if (data) {
		/* the replica's kernel writes only what ours sealed */
		f.heal.seal.seq = fork_seq;
		ret = e->lg->ops->data_seal(e->lg, block * GEOREP_BLOCK_SIZE, data,
					    GEOREP_BLOCK_SIZE, &f.heal.seal);
		if (ret) {
			if (gd_ratelimit(&e->rl))
				gd_warn("volume %s: sealing heal block %llu: %s", e->name,
					(unsigned long long)block, strerror(-ret));
			memset(&f.heal.seal, 0, sizeof(f.heal.seal));
			f.heal.status = GR_HEAL_UNAVAILABLE;
			f.heal.version = 0;
			data = NULL;
		}
	}
	f.heal.length = data ? GEOREP_BLOCK_SIZE : 0;
	f.heal.data = data;
	eng_send_frame(e, to, &f);
}

static void heal_unavailable(struct engine *e, const struct heal_serve_req *r)
{
	uint32_t i;

	e->heal_req_unavailable++;
	for (i = 0; i < r->count; i++)
		heal_reply(e, r->from, r->fork_seq, r->blocks[i], GR_HEAL_UNAVAILABLE, 0, 0, NULL);
}

/*
 * The first record the scan for @r must read, or 0 when this leader cannot
 * answer it. That is the record after the fork point, unless the log was
 * released past it: the release waits for every replica's match (engine.c),
 * so a replica that matches up to the tail holds every record released, and
 * its own scan of its log after the fork point sees those (a record of its
 * own that writes X wins over DATA(X), engine_heal.c heal_answer()). Such a
 * replica is answered from the tail on. Until December 2026 a leader that
 * had released past the fork point answered UNAVAILABLE to every request
 * and the heal never ended (seen in the power-cut soak).
 */
static uint64_t heal_scan_from(struct engine *e, const struct heal_serve_req *r,
			       const struct gd_ledger_status *st)
{
	struct gr_progress_info pi;

	if (!st->tail_seq || r->fork_seq + 1 >= st->tail_seq)
		return r->fork_seq + 1;
	if (!e->ids[r->from] || gr_progress(e->n, e->ids[r->from], &pi) ||
	    pi.match + 1 < st->tail_seq)
		return 0;
	return st->tail_seq;
}

/* whether this site may answer @r for the leader's history now */
static bool heal_serving(struct engine *e, struct heal_serve_req *r, struct gd_ledger_status *st)
{
	if (e->role != GR_LEADER || !e->writable || e->lg->ops->status(e->lg, st) ||
	    st->role != GEOREP_ROLE_PRIMARY || r->fork_seq > st->written_seq)
		return false;
	r->scan_from = heal_scan_from(e, r, st);
	return r->scan_from != 0;
}

/* on the reader thread: step 1, the blocks */
static ssize_t heal_read_blocks(void *ctx, uint64_t seq, void *buf, size_t cap)
{
	struct engine *e = ctx;
	const struct heal_serve_req *r = &e->hs.req;
	uint32_t i;
	int ret;

	for (i = 0; i < r->count; i++) {
		ret = e->lg->ops->data_read(e->lg, r->blocks[i] * GEOREP_BLOCK_SIZE,
					    e->hs.data + (size_t)i * GEOREP_BLOCK_SIZE,
					    GEOREP_BLOCK_SIZE);
		if (ret)
			return ret;
	}
	return 0;
}

/* on the reader thread: step 3, the last record up to s->n writing each block */
static ssize_t heal_scan(void *ctx, uint64_t from, void *buf, size_t cap)
{
	struct engine *e = ctx;
	struct heal_serve *s = &e->hs;
	uint64_t seq = from, first, last;
	uint32_t i;

	while (seq <= s->n) {
		ssize_t n = e->lg->ops->read_wait(e->lg, seq, s->rbuf, s->rcap, 0);
		const uint8_t *hdr, *payload;
		struct georep_rec rec;
		size_t off = 0;

		if (n == -EMSGSIZE) {
			void *p = s->rcap < ENG_READ_MAX ? realloc(s->rbuf, 2 * s->rcap) : NULL;

			if (!p)
				return -ENOMEM;
			s->rbuf = p;
			s->rcap *= 2;
			continue;
		}
		if (n <= 0)
			return n ? n : -ENODATA;
		while (seq <= s->n &&
		       !georep_record_next(s->rbuf, n, &off, &rec, &hdr, &payload, NULL, 0)) {
			if (rec.seq != seq)
				return -EIO;
			seq++;
			if (!eng_rec_blocks(&rec, &first, &last))
				continue;
			for (i = 0; i < s->req.count; i++)
				if (s->req.blocks[i] >= first && s->req.blocks[i] <= last)
					s->by[i] = rec.seq;
		}
	}
	return 0;
}

static void heal_serve_next(struct engine *e);

/* on the loop: step 4 */
static void heal_scanned(void *arg, uint64_t seq, void *buf, ssize_t n)
{
	struct engine *e = arg;
	struct heal_serve *s = &e->hs;
	const struct heal_serve_req *r = &s->req;
	struct gd_ledger_status st;
	uint32_t i;

	s->step = HS_IDLE;
	s->reading = false;
	if (n < 0 || !heal_serving(e, &s->req, &st)) {
		if (n < 0 && gd_ratelimit(&e->rl))
			gd_warn("volume %s: heal: reading records %llu to %llu: %s", e->name,
				(unsigned long long)seq, (unsigned long long)s->n, strerror(-n));
		heal_unavailable(e, r);
	} else {
		for (i = 0; i < r->count; i++)
			heal_reply(e, r->from, r->fork_seq, r->blocks[i],
				   s->by[i] ? GR_HEAL_SUPERSEDED : GR_HEAL_DATA, s->n, s->by[i],
				   s->by[i] ? NULL : s->data + (size_t)i * GEOREP_BLOCK_SIZE);
		e->heal_served += r->count;
	}
	engine_pump(e);
	heal_serve_next(e);
}

/* on the loop: step 2, then the scan waits for the reader (eng_heal_serve_wanted()) */
static void heal_blocks_read(void *arg, uint64_t seq, void *buf, ssize_t n)
{
	struct engine *e = arg;
	struct heal_serve *s = &e->hs;
	struct gd_ledger_status st;
	int ret = n < 0 ? (int)n : 0;

	s->reading = false;
	if (!ret && !heal_serving(e, &s->req, &st))
		ret = -EAGAIN;
	if (!ret)
		ret = e->lg->ops->noop(e->lg, &s->n);
	if (ret) {
		if (ret != -EAGAIN && gd_ratelimit(&e->rl))
			gd_warn("volume %s: heal: %s: %s", e->name,
				n < 0 ? "reading blocks" : "barrier", strerror(-ret));
		s->step = HS_IDLE;
		heal_unavailable(e, &s->req);
		engine_pump(e);
		heal_serve_next(e);
		return;
	}
	memset(s->by, 0, sizeof(s->by));
	s->step = HS_SCAN;	/* the pump proposes the barrier first */
	engine_pump(e);
	eng_heal_serve_wanted(e);
}

/* the reader is free: the step that waited for it */
void eng_heal_serve_wanted(struct engine *e)
{
	struct heal_serve *s = &e->hs;

	if (s->step == HS_IDLE || s->reading || gd_reader_busy(&e->rd))
		return;
	s->reading = true;
	if (s->step == HS_SCAN)
		gd_reader_submit(&e->rd, heal_scan, heal_scanned, e, s->req.scan_from,
				 NULL, 0);
	else
		gd_reader_submit(&e->rd, heal_read_blocks, heal_blocks_read, e, 0, NULL, 0);
}

/* Start the next request queued, if none is being served. */
static void heal_serve_next(struct engine *e)
{
	struct heal_serve *s = &e->hs;

	if (s->step != HS_IDLE || !e->hq_n)
		return;
	s->req = e->hq[e->hq_head];
	e->hq_head = (e->hq_head + 1) % HEAL_SERVE_QUEUE;
	e->hq_n--;
	s->step = HS_BLOCKS;
	eng_heal_serve_wanted(e);
}

/* the request of replica @from waiting in the queue, if any */
static struct heal_serve_req *heal_queued(struct engine *e, unsigned int from)
{
	uint32_t i;

	for (i = 0; i < e->hq_n; i++) {
		struct heal_serve_req *q = &e->hq[(e->hq_head + i) % HEAL_SERVE_QUEUE];

		if (q->from == from)
			return q;
	}
	return NULL;
}

/* Leader: a replica's HEAL_REQ; answered once read (above), or UNAVAILABLE now. */
int eng_heal_request(struct engine *e, unsigned int from, const struct gr_heal_req *r)
{
	struct heal_serve_req req = { .from = from, .fork_seq = r->fork_seq, .count = r->count };
	struct heal_serve *s = &e->hs;
	struct gd_ledger_status st;
	struct heal_serve_req *q;
	uint32_t i;

	e->heal_req_in++;
	for (i = 0; i < r->count; i++)
		req.blocks[i] = gr_heal_req_block(r, i);
	if (!s->data)
		s->data = malloc((size_t)GR_HEAL_MAX_BLOCKS * GEOREP_BLOCK_SIZE);
	if (!s->rbuf) {
		s->rbuf = malloc(HEAL_SCAN_READ);
		s->rcap = HEAL_SCAN_READ;
	}
	if (!s->data || !s->rbuf || !heal_serving(e, &req, &st))
		goto out_unavailable;
	for (i = 0; i < r->count; i++)
		if (req.blocks[i] >= st.data_bytes / GEOREP_BLOCK_SIZE)
			goto out_unavailable;
	/*
	 * The replica asks again each ENG_HEAL_RETRY_NS while unanswered, and
	 * takes an answer only for blocks it still asks for: an UNAVAILABLE
	 * now would send them back to pending, and the answer being read
	 * would be dropped. One request per replica, the newest; none
	 * answered while the queue is full (it asks again).
	 */
	if (s->step != HS_IDLE && s->req.from == from && s->req.fork_seq == r->fork_seq) {
		e->heal_req_busy++;
		return 0;
	}
	q = heal_queued(e, from);
	if (!q && e->hq_n == HEAL_SERVE_QUEUE) {
		e->heal_req_busy++;
		return 0;
	}
	if (!q) {
		q = &e->hq[(e->hq_head + e->hq_n) % HEAL_SERVE_QUEUE];
		e->hq_n++;
	}
	*q = req;
	heal_serve_next(e);
	return 0;

out_unavailable:
	heal_unavailable(e, &req);
	return 0;
}
