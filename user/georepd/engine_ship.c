// SPDX-License-Identifier: GPL-2.0
/*
 * Leader side of the replication engine: records the ledger wrote are
 * proposed to the core (engine_pump) and shipped to followers, each APPEND
 * message followed by a RECORDS frame with its entries.
 */
#include <errno.h>
#include <string.h>

#include "engine_internal.h"

/*
 * Read @count whole records from @seq into e->buf (grown as needed).
 * @hint: their payload bytes, if known (an APPEND's), or 0: with it the
 * reads ask for exactly these records, not for all the buffer holds (which
 * would read, and copy, MiBs past a 64 KiB APPEND's records each time).
 * Return: bytes, or -errno.
 */
ssize_t eng_read_records(struct engine *e, uint64_t seq, uint32_t count, size_t hint)
{
	size_t want = hint + GEOREP_RECORD_HDR_SIZE * (size_t)count, have = 0;
	uint32_t got = 0;

	if (!hint && want < ENG_READ_MIN)
		want = ENG_READ_MIN;
	while (got < count) {
		size_t cap = want > have ? want - have : ENG_READ_MIN;
		size_t off = 0;
		struct georep_rec rec;
		const uint8_t *hdr, *payload;
		ssize_t n;

		if (eng_ensure_buf(e, have + cap))
			return -ENOMEM;
		n = e->lg->ops->read(e->lg, seq + got, e->buf + have, cap);
		if (n == -EMSGSIZE) {
			/* the next record is larger than the hint said */
			if (have + cap > ENG_READ_MAX)
				return -EMSGSIZE;
			want = have + 2 * cap;
			continue;
		}
		if (n <= 0)
			return n ? n : -ENODATA;
		/* keep only the records asked for */
		while (got < count && !georep_record_next(e->buf + have, n, &off, &rec, &hdr,
							  &payload, NULL, 0))
			got++;
		have += off;
	}
	return have;
}

/*
 * Whole records from @seq into e->buf, @lim bytes of them at most
 * (ENG_READ_MIN at least) but one record whatever its size: for the work
 * that must stay within a byte budget per turn of the event loop (scrub,
 * Merkle tree, proposing), whatever number of records that is.
 * Return: bytes, or what the ledger's read returns.
 */
ssize_t eng_read_upto(struct engine *e, uint64_t seq, size_t lim)
{
	ssize_t n;

	if (lim < ENG_READ_MIN)
		lim = ENG_READ_MIN;
	for (; lim <= ENG_READ_MAX; lim *= 2) {
		if (eng_ensure_buf(e, lim))
			return -ENOMEM;
		n = e->lg->ops->read(e->lg, seq, e->buf, lim);
		if (n != -EMSGSIZE)
			return n;
	}
	return -EMSGSIZE;
}

/* Tell the core whether APPENDs to @site are still on their way (or wait for a read). */
void eng_note_in_transit(struct engine *e, unsigned int site)
{
	gr_set_in_transit(e->n, e->ids[site], gd_bulk_in_transit(e->d, site) || e->dq[site].n);
}

int eng_send_frame(struct engine *e, unsigned int site, struct gr_frame *f)
{
	return eng_send_frame_lane(e, site, f, gr_frame_lane(f->hdr.type));
}

/* Return: 0 once queued; -ENOLINK when a test partition drops it; gd_send_lane()'s error */
int eng_send_frame_lane(struct engine *e, unsigned int site, struct gr_frame *f,
			enum gr_lane lane)
{
	int ret;

	if (e->drop[site]) {
		e->frames_dropped++;
		return -ENOLINK;
	}
	f->hdr.volume = e->vol->cfg->wire_id;
	ret = gd_send_lane(e->d, site, f, lane);
	if (ret && ret != -ENOTCONN && gd_ratelimit(&e->rl))
		gd_warn("volume %s: send %s to %s: %s", e->name, gr_frame_type_name(f->hdr.type),
			gd_cluster(e->d)->sites[site].name, strerror(-ret));
	return ret;
}

/*
 * A follower's answers carry its own ledger's seqs, for the leader's status
 * (Documentation/wire-protocol.rst); read at most once per tick.
 */
static const struct gr_msg *with_progress(struct engine *e, const struct gr_msg *m,
					  struct gr_msg *copy)
{
	uint64_t now = gr_now_ns();

	if (m->type != GR_MSG_APPEND_RESP && m->type != GR_MSG_HEARTBEAT_RESP)
		return m;
	if (now - e->own_seqs_ns >= ENG_TICK_MS * 1000000ULL) {
		struct gd_ledger_status st;

		if (e->lg->ops->status(e->lg, &st))
			return m;
		e->own_written = st.written_seq;
		e->own_commit = st.commit_seq;
		e->own_applied = st.applied_seq;
		e->own_seqs_ns = now;
	}
	*copy = *m;
	copy->has_progress = true;
	copy->p_written = e->own_written;
	copy->p_commit = e->own_commit;
	copy->p_applied = e->own_applied;
	return copy;
}

/*
 * @m's records from @sb (*@len bytes), when it holds them in the leader's
 * term and the first one is the core's entry (seq and term). Their size
 * is not compared with the core's: a client write that raced a new
 * leader's barrier stands for it in the ledger (eng_leader_appends()).
 * Return: them, or NULL.
 */
static const uint8_t *buffered(struct engine *e, struct gd_shipbuf *sb, const struct gr_msg *m,
			       size_t *len)
{
	struct georep_rec rec;
	struct gr_entry ent;
	const uint8_t *p;

	p = gd_shipbuf_get(sb, m->seq + 1, m->n_entries, len);
	if (p && sb->term == e->term &&
	    !georep_record_decode(p, *len, &rec, NULL, 0) && rec.seq == m->seq + 1 &&
	    !gr_entry_get(e->n, rec.seq, &ent) && ent.term == rec.term)
		return p;
	return NULL;
}

/*
 * The records of @m when they start in the catch-up buffer and go on in
 * the ship buffer, copied into one run (e->xbuf; an APPEND is a bulk frame,
 * tens of KiB). A follower catching up meets the live records there: the
 * catch-up buffer ends where the ship buffer holds the records after it,
 * and reads no further (eng_catchup_ahead(), eng_catchup_want()), so an
 * APPEND across that point was held by neither, waited for a read that
 * never came, and counted as in transit it kept the core from probing
 * again: the follower never caught up (power-cut soak, seed 1936).
 */
static const uint8_t *joined(struct engine *e, const struct gr_msg *m, size_t *len)
{
	uint64_t first = m->seq + 1, mid = e->cb.first + e->cb.n;
	struct gr_msg head, tail;
	const uint8_t *p, *q;
	size_t la, lb;

	if (!gd_shipbuf_holds(&e->cb, first, e->term) || mid <= first ||
	    mid >= first + m->n_entries || !gd_shipbuf_holds(&e->sb, mid, e->term))
		return NULL;
	/* each part checked against the core's entries, as one buffer's */
	head = *m;
	head.n_entries = (uint32_t)(mid - first);
	p = buffered(e, &e->cb, &head, &la);
	tail = *m;
	tail.seq = mid - 1;
	tail.n_entries = m->n_entries - head.n_entries;
	q = p ? buffered(e, &e->sb, &tail, &lb) : NULL;
	if (!q)
		return NULL;
	if (la + lb > e->xcap) {
		uint8_t *x = realloc(e->xbuf, la + lb);

		if (!x)
			return NULL;
		e->xbuf = x;
		e->xcap = la + lb;
	}
	memcpy(e->xbuf, p, la);
	memcpy(e->xbuf + la, q, lb);
	*len = la + lb;
	e->ship_read += la;
	e->ship_buffered += lb;
	e->ship_joined++;
	return e->xbuf;
}

/*
 * Where the pump reads from: past the core's last entry, or that entry
 * itself when it is this term's and the ship buffer does not hold it. That
 * is the barrier a new leader wrote (eng_leader_appends()), or the client
 * write that stands for it: read with the records after it, it is in the
 * ship buffer and the tree like them, and no follower's first APPEND waits
 * for a catch-up read of it, nor the tree for a read of its own. A leader
 * not yet writable reads that one record (its barrier's APPEND waits for
 * it); when that read fails or finds nothing, the term's barrier is left
 * to the catch-up reads, as any record the ship buffer lacks.
 */
uint64_t eng_pump_from(struct engine *e, uint64_t last_seq)
{
	struct gr_entry ent;

	if (!last_seq || e->pump_nobarrier_term == e->term ||
	    gd_shipbuf_holds(&e->sb, last_seq, e->term) ||
	    gr_entry_get(e->n, last_seq, &ent) || ent.term != e->term)
		return last_seq + 1;
	return last_seq;
}

/*
 * An APPEND's records (*@len bytes): from the ship buffer, else from the
 * catch-up buffer (records a follower behind the ship buffer needs, read
 * on the reader thread, engine_catchup.c). Neither holds them: the reader
 * reads them, and the APPEND waits for that read (eng_defer()). The loop
 * never waits for the disk here.
 * Return: them, or NULL; *@cb: they are the catch-up buffer's, valid until
 * it reads on (eng_catchup_ahead()).
 */
static const uint8_t *append_records(struct engine *e, const struct gr_msg *m, size_t *len,
				     bool *cb)
{
	const uint8_t *p = buffered(e, &e->sb, m, len);
	struct gr_status gs;

	if (p) {
		e->ship_buffered += *len;
		return p;
	}
	p = buffered(e, &e->cb, m, len);
	if (p) {
		e->ship_read += *len;
		*cb = true;
		return p;
	}
	p = joined(e, m, len);
	if (p)
		return p;
	/* the pump reads it: the barrier of a new leader */
	gr_status(e->n, &gs);
	if (m->seq + 1 == gs.last_seq && eng_pump_from(e, gs.last_seq) == gs.last_seq)
		engine_pump(e);
	/* the first ones held: the read goes on after them */
	else if (gd_shipbuf_holds(&e->cb, m->seq + 1, e->term))
		eng_catchup_want(e, e->cb.first + e->cb.n);
	else
		eng_catchup_want(e, m->seq + 1);
	return NULL;
}

/*
 * Send @msg to @site now: an APPEND with its RECORDS in one burst.
 * Return: -EAGAIN when the APPEND's records are being read (not sent),
 * else 0 (sent, or dropped: no link, a test partition, an encoding error).
 */
int eng_send_now(struct engine *e, unsigned int site, const struct gr_msg *msg)
{
	struct gr_frame f = { .hdr.type = GR_FT_CONSENSUS };
	const uint8_t *data = NULL;
	const struct gr_msg *m;
	struct gr_msg copy;
	bool with_records, caught_up = false;
	size_t n = 0;
	ssize_t len;
	int sent;

	m = with_progress(e, msg, &copy);
	len = gr_wire_msg_encode(e->fbuf, GR_WIRE_MSG_MAX, m);
	if (len < 0) {
		gd_err("volume %s: cannot encode message type %u: %s", e->name, m->type,
		       strerror(-len));
		return 0;
	}
	f.consensus.data = e->fbuf;
	f.consensus.len = len;
	if (!gd_peer_up(e->d, site))
		return 0;
	/* an APPEND and its RECORDS: one burst, or neither */
	with_records = m->type == GR_MSG_APPEND && m->n_entries;
	if (with_records) {
		data = append_records(e, m, &n, &caught_up);
		if (!data)
			return -EAGAIN;
		gd_send_hold(e->d, site);
	}
	sent = eng_send_frame_lane(e, site, &f, eng_msg_urgent(m->type) ? GD_LANE_URGENT :
				   eng_msg_lane(m->type));
	if (m->type == GR_MSG_APPEND_RESP && e->records_in_ns && !sent) {
		gd_sample(&e->stages.follower, gr_now_ns() - e->records_in_ns);
		e->records_in_ns = 0;
	}
	if (with_records) {
		struct gr_frame rf = { .hdr.type = GR_FT_RECORDS };

		rf.records.count = m->n_entries;
		rf.records.first_seq = m->seq + 1;
		rf.records.data = data;
		rf.records.len = n;
		sent = sent ?: eng_send_frame(e, site, &rf);
		gd_send_push(e->d, site);
		/* after the send: reading on may move the catch-up buffer */
		if (caught_up)
			eng_catchup_ahead(e, m->seq + 1 + m->n_entries);
		e->records_sent += m->n_entries;
		e->bytes_sent += n;
		/* the stage: only what left with its APPEND */
		if (!sent)
			gd_stage_sent(&e->stages, m->seq + 1, m->n_entries, gr_now_ns());
	}
	if (m->type == GR_MSG_RESYNC) {
		struct resync_out *ro = &e->rs_out[site];

		if (!ro->active || ro->seq != m->seq) {
			memset(ro, 0, sizeof(*ro));
			ro->active = true;
			ro->seq = m->seq;
			ro->term = m->log_term;
			gd_info("volume %s: full resync of %s from seq %llu", e->name,
				gd_cluster(e->d)->sites[site].name, (unsigned long long)m->seq);
		}
	}
	return 0;
}

/* the core's message out: after the APPENDs to its site that wait for a read */
void eng_send_msg(struct engine *e, const struct gr_msg *msg)
{
	int site = eng_site_index(e, msg->to);

	if (site < 0)
		return;
	if ((msg->type == GR_MSG_APPEND && e->dq[site].n) || eng_send_now(e, site, msg) == -EAGAIN)
		eng_defer(e, site, msg);
}

/*
 * The leader's own copy of a record counts toward a quorum only once it
 * is durable in its ledger (Documentation/replication.rst, "Shipping
 * before the local write is durable"). A kernel ledger in sealed mode
 * hands records over while their local writes run and says separately
 * how far they are durable; any other ledger reads durable records only.
 * Called for each record this site proposed as leader.
 */
void eng_own_proposed(struct engine *e, uint64_t seq, uint64_t term)
{
	if (term != e->own_term) {
		e->own_term = term;
		e->own_to = 0;
	}
	if (seq > e->own_to)
		e->own_to = seq;
	eng_own_durable(e);
}

/*
 * Tell the core how far this site's own records are durable: after a
 * proposal, on EPOLLPRI and on every tick, in any role (a leader that
 * steps down with records in flight still has them, durable later). The
 * term guards the call: a record the core replaced since has another term.
 */
void eng_own_durable(struct engine *e)
{
	uint64_t durable = e->own_to;
	int ret = -EOPNOTSUPP;

	if (e->lg->ops->durable)
		ret = e->lg->ops->durable(e->lg, &durable);
	if (ret && ret != -EOPNOTSUPP) {
		if (gd_ratelimit(&e->rl))
			gd_warn("volume %s: how far the ledger is durable: %s", e->name,
				strerror(-ret));
		return;
	}
	if (!e->own_to)
		return;
	if (ret == -EOPNOTSUPP || durable > e->own_to)
		durable = e->own_to;
	gr_persisted(e->n, durable, e->own_term);
}

/*
 * Propose the records the reader read into the ship buffer's room (@n
 * bytes at @at). Return: true when the core took every one (read on),
 * false when it is full (a follower's answer or the tick pumps again) or
 * the engine failed.
 */
static bool pump_propose(struct engine *e, const uint8_t *at, size_t n)
{
	uint64_t now = gr_now_ns(), last_seq = 0, last_term = 0;
	const uint8_t *hdr, *payload;
	struct georep_rec rec;
	struct gr_status gs;
	size_t off = 0;
	bool full = false, kept = false;

	gr_status(e->n, &gs);	/* records up to gs.last_seq: in the core */

	while (!georep_record_next(at, n, &off, &rec, &hdr, &payload, NULL, 0)) {
		int64_t s;

		if (rec.term != e->term) {
			engine_fail(e, "ledger record %llu has term %llu, leader term is %llu",
				    (unsigned long long)rec.seq, (unsigned long long)rec.term,
				    (unsigned long long)e->term);
			return false;
		}
		if (rec.seq <= gs.last_seq) {
			/* this term's barrier, in the core already: kept, not proposed */
			gd_shipbuf_keep(&e->sb, GEOREP_RECORD_HDR_SIZE + rec.payload_len);
			eng_mtree_feed(e, &rec, hdr);
			kept = true;
			continue;
		}
		s = gr_propose(e->n, rec.payload_len, now);
		if (s == -EAGAIN || s == -ENOSPC || s == -GR_ENOTLEADER) {
			full = true;
			break;
		}
		if (s < 0 || (uint64_t)s != rec.seq) {
			engine_fail(e, "the core gave seq %lld to ledger record %llu",
				    (long long)s, (unsigned long long)rec.seq);
			return false;
		}
		e->proposed++;
		e->proposed_to = rec.seq;
		gd_stage_read(&e->stages, rec.seq, now);
		gd_shipbuf_keep(&e->sb, GEOREP_RECORD_HDR_SIZE + rec.payload_len);
		eng_mtree_feed(e, &rec, hdr);
		last_seq = rec.seq;
		last_term = rec.term;
	}
	if (last_seq) {
		engine_process(e, NULL);
		eng_own_proposed(e, last_seq, last_term);
		engine_process(e, NULL);
	}
	if (kept && !e->failed)
		eng_deferred_send(e);	/* the barrier's APPENDs */
	return !full && (last_seq || kept) && !e->failed;
}

/* a reader thread's read for the tree and the scrub: what the ledger holds, at once */
ssize_t eng_read_now(void *arg, uint64_t seq, void *buf, size_t cap)
{
	struct engine *e = arg;

	return e->lg->ops->read_wait(e->lg, seq, buf, cap, 0);
}

/* the pump thread's read: new records, or none after a tick */
static ssize_t pump_read(void *ctx, uint64_t seq, void *buf, size_t cap)
{
	struct engine *e = ctx;

	if (e->lg->ops->pump_wait)
		return e->lg->ops->pump_wait(e->lg, seq, buf, cap, ENG_TICK_MS);
	return e->lg->ops->read_wait(e->lg, seq, buf, cap, ENG_TICK_MS);
}

/*
 * The reads that waited for the reader (the tree's, the scrub's, a full
 * resync's, a heal's, a follower's catch-up) take turns on it, so that
 * none starves another: at each engine_pump(), which each one's end calls.
 * The pump has a reader thread of its own (e->prd, the ledger's
 * pump_wait): since December 2026 its reads of records in flight no
 * longer wait behind these reads of durable records, which a stalled log
 * device holds for as long as it stalls (write-path.rst, "Shipping before
 * the local write is durable").
 */
static void side_reads(struct engine *e)
{
	unsigned int i;

	for (i = 0; i < 5 && !gd_reader_busy(&e->rd); i++) {
		switch ((e->rd_turn + i) % 5) {
		case 0:
			if (e->mt_behind)
				eng_mtree_catch_up(e);
			break;
		case 1:
			eng_scrub_wanted(e);
			break;
		case 2:
			eng_resync_wanted(e);
			break;
		case 3:
			eng_heal_serve_wanted(e);
			break;
		default:
			eng_catchup_wanted(e);
			break;
		}
	}
	e->rd_turn++;
}

/* on the loop: the reader read @n bytes of records from @seq into @buf */
static void pump_done(void *arg, uint64_t seq, void *buf, ssize_t n)
{
	struct engine *e = arg;
	struct gr_status gs;

	/* a new term or role since: the ship buffer started over */
	if (e->term != e->pump_term || e->sb.term != e->pump_term ||
	    e->sb.len != e->pump_len || e->role != GR_LEADER) {
		engine_pump(e);
		return;
	}
	if (n == -EMSGSIZE && e->pump_lim < ENG_READ_MAX) {
		e->pump_lim *= 2;	/* one record larger than the batch */
		engine_pump(e);
		return;
	}
	gr_status(e->n, &gs);
	if (n <= 0 && seq <= gs.last_seq) {
		/* the barrier not read: its APPENDs take the catch-up read */
		e->pump_nobarrier_term = e->term;
		eng_deferred_send(e);
	}
	if (n < 0) {
		if (gd_ratelimit(&e->rl))
			gd_warn("volume %s: reading the ledger at %llu: %s", e->name,
				(unsigned long long)seq, strerror(-n));
		return;		/* the tick pumps again */
	}
	e->pump_lim = ENG_PUMP_BATCH;
	if (n && !pump_propose(e, buf, n)) {
		/* the core is full: the pump waits, the others may read */
		if (!e->failed)
			side_reads(e);
		return;
	}
	engine_pump(e);
}

/*
 * Leader: propose the records the ledger wrote past the core's log. The
 * read goes to the pump's reader thread (reader.h), which waits there for new
 * records, a tick at most: a disk that takes seconds to read durable
 * records back no longer holds heartbeats and answers back with it.
 * pump_done() proposes what it read and reads on; a full core stops it
 * until a follower's answer or the tick calls this again.
 */
void engine_pump(struct engine *e)
{
	struct gr_status gs;
	uint64_t from;
	uint8_t *at;

	if (e->failed)
		return;
	side_reads(e);		/* on their own thread: any that waited go */
	if (gd_reader_busy(&e->prd))
		return;
	if (e->role == GR_LEADER) {
		gr_status(e->n, &gs);
		from = eng_pump_from(e, gs.last_seq);
	}
	/* not a leader, or not writable and its barrier read */
	if (e->role != GR_LEADER || (!e->writable && from > gs.last_seq))
		return;
	at = gd_shipbuf_room(&e->sb, from, e->term, e->pump_lim);
	if (!at) {
		if (gd_ratelimit(&e->rl))
			gd_warn("volume %s: no memory to read records into", e->name);
		return;
	}
	e->pump_term = e->term;
	e->pump_len = e->sb.len;
	gd_reader_submit(&e->prd, pump_read, pump_done, e, from, at, e->pump_lim);
}

int eng_pump_start(struct engine *e)
{
	int ret;

	e->pump_lim = ENG_PUMP_BATCH;
	ret = gd_reader_start(&e->rd, gd_loop(e->d));
	return ret ? ret : gd_reader_start(&e->prd, gd_loop(e->d));
}

/* the stream: durability moved (sealed mode), or an error */
void eng_ledger_ready(struct gr_io *io, uint32_t events, void *arg)
{
	struct engine *e = arg;

	if (events & EPOLLPRI) {
		eng_own_durable(e);
		engine_process(e, NULL);
	}
	if (events & ~EPOLLPRI)
		engine_pump(e);
}
