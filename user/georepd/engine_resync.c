// SPDX-License-Identifier: GPL-2.0
/*
 * Full resync: a follower behind the leader's retained log gets a copy of
 * the data device, then its ledger is reset to the resync point.
 *
 * The leader copies the device in passes, from offset 0 to the end, each
 * after the anchor (the record at the resync point). The follower takes
 * chunks in a row from wherever it joins a pass, wrapping at the end:
 * once a row covers the device and it holds the anchor, it installs.
 * A follower that lost its place (a restart of the resync at its end, a
 * leader it stopped hearing for a while) picks the copy up where the
 * leader is; one still copying ENG_RESYNC_REPEAT_NS after a pass ended
 * gets another pass, anchor first.
 */
#include <errno.h>
#include <string.h>

#include "engine_internal.h"

/*
 * Leader: the resync's reads, on the reader thread (reader.h): its data
 * ENG_RESYNC_READ bytes at a time, and the anchor record. Until December
 * 2026 each 64 KiB chunk and the anchor were read on the loop, where a
 * slow disk held heartbeats (Documentation/replication.rst, "Full
 * resync"). What was read serves every follower resynced to the same
 * point in this term; the loop seals each chunk as it sends it.
 */
static ssize_t resync_read(void *ctx, uint64_t off, void *buf, size_t cap)
{
	struct engine *e = ctx;
	size_t lim = ENG_READ_MIN;
	ssize_t n;
	int ret;

	if (e->rsb.anchor) {
		/* one record: ask for a little, more only for a larger one */
		while ((n = e->lg->ops->read_wait(e->lg, off, buf, lim, 0)) == -EMSGSIZE &&
		       lim < cap)
			lim *= 2;
		return n;
	}
	ret = e->lg->ops->data_read(e->lg, off, buf, cap);
	return ret ? ret : (ssize_t)cap;
}

/* on the loop: keep the anchor record (the first of @n bytes) */
static int resync_keep_anchor(struct engine *e, uint64_t seq, const uint8_t *buf, ssize_t n)
{
	const uint8_t *hdr, *payload;
	struct georep_rec rec;
	size_t off = 0, len;
	uint8_t *p;

	if (n <= 0)
		return n ? (int)n : -ENODATA;
	if (georep_record_next(buf, n, &off, &rec, &hdr, &payload, NULL, 0) || rec.seq != seq)
		return -EBADMSG;
	len = GEOREP_RECORD_HDR_SIZE + rec.payload_len;
	p = realloc(e->rsb.abuf, len);
	if (!p)
		return -ENOMEM;
	memcpy(p, buf, len);
	e->rsb.abuf = p;
	e->rsb.alen = len;
	e->rsb.aseq = seq;
	e->rsb.aterm = e->rsb.term;
	return 0;
}

/*
 * A resync read failed: say so (the first time, then rate-limited; an error
 * once ENG_RESYNC_FAILS_LOUD failed in a row) and back off, a tick doubled
 * per failure up to ENG_RESYNC_RETRY_MAX_NS. A device that cannot be read
 * keeps its follower behind, not the loop busy: status shows where and why
 * (resync_read_failing), and the copy goes on once a read succeeds.
 */
/* what a resync read reads, for its log lines */
static const char *resync_what(const struct eng_rsbuf *b)
{
	return b->anchor ? "the record at seq" : "the data device at";
}

static void resync_read_failed(struct engine *e, uint64_t at, int err)
{
	struct eng_rsbuf *b = &e->rsb;
	const char *what = resync_what(b);

	if (!b->fails || b->err != err || b->err_anchor != b->anchor)
		b->fail_since_ns = gr_now_ns();
	b->fails++;
	b->read_errors++;
	b->err = err;
	b->err_anchor = b->anchor;
	b->err_at = at;
	b->failed_ns = gr_now_ns();
	if (b->fails == ENG_RESYNC_FAILS_LOUD)
		gd_err("volume %s: resync: cannot read %s %llu: %s, %u times in a row: the follower stays behind until it can be read (retrying every %llu s)",
		       e->name, what, (unsigned long long)at, strerror(-err), b->fails,
		       ENG_RESYNC_RETRY_MAX_NS / 1000000000ULL);
	else if (b->fails == 1 || gd_ratelimit(&e->rl))
		gd_warn("volume %s: resync: cannot read %s %llu: %s", e->name, what,
			(unsigned long long)at, strerror(-err));
}

/* how long after the last failure a resync read is tried again */
static uint64_t resync_retry_ns(const struct eng_rsbuf *b)
{
	uint64_t ns = ENG_TICK_MS * 1000000ULL;
	uint32_t i;

	for (i = 1; i < b->fails && ns < ENG_RESYNC_RETRY_MAX_NS; i++)
		ns *= 2;
	return ns < ENG_RESYNC_RETRY_MAX_NS ? ns : ENG_RESYNC_RETRY_MAX_NS;
}

static void resync_read_done(void *arg, uint64_t off, void *buf, ssize_t n)
{
	struct engine *e = arg;
	struct eng_rsbuf *b = &e->rsb;
	int ret = n < 0 ? (int)n : 0;

	b->reading = false;
	if (b->anchor)
		ret = resync_keep_anchor(e, off, buf, n);
	else if (n >= 0) {
		b->off = off;
		b->len = n;
	}
	if (ret) {
		resync_read_failed(e, off, ret);
	} else {
		if (b->fails)
			gd_info("volume %s: resync: read %s %llu after %u failures",
				e->name, resync_what(b), (unsigned long long)off, b->fails);
		b->fails = 0;
		b->reads++;
	}
	engine_pump(e);		/* the reader is free: the pump first */
	eng_resync_send(e);
}

/* Read for the resync to @seq: the anchor, or data from @off. */
static void resync_want(struct engine *e, uint64_t seq, bool anchor, uint64_t off,
			uint64_t data_bytes)
{
	struct eng_rsbuf *b = &e->rsb;
	size_t len = data_bytes - off < ENG_RESYNC_READ ? data_bytes - off : ENG_RESYNC_READ;

	if (b->reading || (b->fails && gr_now_ns() - b->failed_ns < resync_retry_ns(b)))
		return;
	if (gd_reader_busy(&e->rd)) {
		b->want = true;		/* side_reads(): eng_resync_wanted() */
		return;
	}
	b->want = false;
	if (!b->buf)
		b->buf = malloc(ENG_RESYNC_READ);
	if (!b->buf)
		return;
	b->len = 0;
	b->seq = seq;
	b->term = e->term;
	b->anchor = anchor;
	b->reading = true;
	gd_reader_submit(&e->rd, resync_read, resync_read_done, e, anchor ? seq : off,
			 b->buf, anchor ? ENG_RESYNC_READ : len);
}

/* the reader is free: the resync's read that waited for it */
void eng_resync_wanted(struct engine *e)
{
	if (e->rsb.want && !gd_reader_busy(&e->rd)) {
		e->rsb.want = false;	/* set again if a read is still wanted */
		eng_resync_send(e);
	}
}

/* Leader: the record at the resync point, first in every pass. */
static bool resync_send_anchor(struct engine *e, size_t site, struct resync_out *ro)
{
	struct gr_frame f = { .hdr.type = GR_FT_RECORDS };

	if (!e->rsb.abuf || e->rsb.aseq != ro->seq || e->rsb.aterm != e->term) {
		resync_want(e, ro->seq, true, 0, 0);
		return false;
	}
	f.records.count = 1;
	f.records.first_seq = ro->seq;
	f.records.data = e->rsb.abuf;
	f.records.len = e->rsb.alen;
	eng_send_frame(e, site, &f);
	ro->anchor_sent = true;
	ro->passes++;
	return true;
}

/*
 * Leader: a pass ended. The follower answers with its install; if it is
 * still copying once the lane drained and ENG_RESYNC_REPEAT_NS passed, it
 * lost chunks it needs (or the anchor): start another pass.
 */
static void resync_pass_end(struct engine *e, size_t site, struct resync_out *ro, uint64_t now)
{
	if (!ro->done_ns || gd_bulk_queued(e->d, site)) {
		ro->done_ns = now;
		return;
	}
	if (now - ro->done_ns < ENG_RESYNC_REPEAT_NS)
		return;
	gd_info("volume %s: resync of %s not installed %.1f s after pass %u: copying again",
		e->name, gd_cluster(e->d)->sites[site].name, (now - ro->done_ns) / 1e9,
		ro->passes);
	ro->off = 0;
	ro->anchor_sent = false;
	ro->done_ns = 0;
}

/*
 * Whether another follower resynced to the same point still takes chunks
 * from what was read: a read for @ro then waits, so that two copies do not
 * read each other's data away.
 */
static bool resync_buf_in_use(struct engine *e, const struct resync_out *ro)
{
	const struct eng_rsbuf *b = &e->rsb;
	size_t i;

	for (i = 0; b->len && i < gd_cluster(e->d)->nsites; i++) {
		const struct resync_out *o = &e->rs_out[i];

		if (o != ro && o->active && o->seq == b->seq && o->off >= b->off &&
		    o->off < b->off + b->len)
			return true;
	}
	return false;
}

/*
 * Leader: one chunk at ro->off from what the reader read, sealed for the
 * resync point. 0, -EAGAIN (not read yet, or the lane is full) or -errno.
 */
static int resync_send_chunk(struct engine *e, size_t site, struct resync_out *ro,
			     uint64_t data_bytes)
{
	struct gr_frame f = { .hdr.type = GR_FT_RESYNC };
	uint32_t len = data_bytes - ro->off < ENG_RESYNC_CHUNK ? data_bytes - ro->off :
								  ENG_RESYNC_CHUNK;
	struct eng_rsbuf *b = &e->rsb;
	int ret;

	if (b->reading || b->anchor || b->seq != ro->seq || b->term != e->term ||
	    ro->off < b->off || ro->off + len > b->off + b->len) {
		if (!resync_buf_in_use(e, ro))
			resync_want(e, ro->seq, false, ro->off, data_bytes);
		return -EAGAIN;
	}
	f.resync.offset = ro->off;
	f.resync.length = len;
	f.resync.data = b->buf + (ro->off - b->off);
	/* the replica's kernel writes only what ours sealed */
	f.resync.seal.seq = ro->seq;
	ret = e->lg->ops->data_seal(e->lg, ro->off, f.resync.data, len, &f.resync.seal);
	if (ret) {
		if (gd_ratelimit(&e->rl))
			gd_warn("volume %s: sealing resync chunk at %llu: %s", e->name,
				(unsigned long long)ro->off, strerror(-ret));
		return ret;
	}
	gr_wire_sha256(f.resync.data, len, f.resync.sha256);
	f.hdr.volume = e->vol->cfg->wire_id;
	if (e->drop[site] || gd_send(e->d, site, &f))
		return -EAGAIN;	/* queue full: next tick */
	ro->off += len;
	e->bytes_sent += len;
	return 0;
}

/* Leader: stream the data device to followers being resynced. */
void eng_resync_send(struct engine *e)
{
	const struct gr_cluster *c = gd_cluster(e->d);
	uint64_t t0 = gr_now_ns();
	struct gd_ledger_status st;
	size_t i;
	bool any = false;
	int k;

	if (e->role != GR_LEADER || e->resync_hold || e->lg->ops->status(e->lg, &st))
		return;
	for (i = 0; i < c->nsites; i++) {
		struct resync_out *ro = &e->rs_out[i];
		struct gr_progress_info pi;

		if (!ro->active)
			continue;
		if (gr_progress(e->n, e->ids[i], &pi) || pi.state != GR_PR_RESYNC ||
		    !gd_peer_up(e->d, i)) {
			ro->active = false;
			continue;
		}
		any = true;
		if (ro->off >= st.data_bytes) {
			resync_pass_end(e, i, ro, t0);
			continue;
		}
		if (!ro->anchor_sent && !resync_send_anchor(e, i, ro))
			continue;
		/*
		 * A bounded bulk lane: the copy goes at the link's pace. At
		 * least ENG_RESYNC_MIN_CHUNKS per tick (1 MiB), then while the
		 * loop's budget lasts.
		 */
		for (k = 0; k < ENG_RESYNC_PER_TICK && ro->off < st.data_bytes &&
			    (k < ENG_RESYNC_MIN_CHUNKS ||
			     gr_now_ns() - t0 < ENG_RESYNC_BUDGET_NS) &&
			    gd_bulk_queued(e->d, i) < ENG_RESYNC_QUEUE; k++)
			if (resync_send_chunk(e, i, ro, st.data_bytes))
				break;
	}
	if (!any && !e->rsb.reading)
		e->rsb.fails = 0;	/* no resync left: a new one starts afresh */
}

/* Follower: the copy covers the device and the anchor is here: install. */
static int resync_install(struct engine *e)
{
	struct resync_in *ri = &e->rs_in;
	int ret;

	ret = e->lg->ops->reset(e->lg, ri->anchor);
	/* the sender's fault (eng_peer_refused()): the leader copies again */
	if (ret && eng_refusal(ret)) {
		ri->active = false;
		return eng_peer_refused(e, ri->from, "resync anchor at seq", ri->seq,
					eng_refusal(ret));
	}
	if (ret) {
		engine_fail(e, "ledger reset to %llu: %s", (unsigned long long)ri->seq,
			    strerror(-ret));
		return 0;
	}
	ri->active = false;
	e->resyncs_done++;
	eng_mtree_reset(e, ri->seq, ri->chain);
	eng_heal_resynced(e);
	gd_info("volume %s: resync installed at seq %llu", e->name, (unsigned long long)ri->seq);
	gr_persisted(e->n, ri->seq, ri->term);
	engine_process(e, NULL);
	return 0;
}

static bool resync_covered(const struct engine *e)
{
	struct gd_ledger_status st;

	return e->rs_in.started && !e->lg->ops->status(e->lg, &st) &&
	       e->rs_in.copied >= st.data_bytes;
}

/* Follower: the record at the resync point (the leader's first of a pass). */
int eng_resync_anchor(struct engine *e, const struct georep_record *h,
		      const struct georep_rec *rec)
{
	memcpy(e->rs_in.chain, rec->chain_hash, GEOREP_HASH_LEN);
	memcpy(e->rs_in.anchor, h, GEOREP_RECORD_HDR_SIZE);
	e->rs_in.have_anchor = true;
	if (resync_covered(e))
		return resync_install(e);
	return 0;
}

/*
 * Follower: one chunk of a resync. A chunk that does not continue the row
 * (the leader started a pass, or we joined one) starts a new row there.
 */
int eng_resync_recv(struct engine *e, unsigned int from, const struct gr_frame *f)
{
	struct resync_in *ri = &e->rs_in;
	struct gd_ledger_status st;
	int ret;

	if (!ri->active || ri->from != from || f->resync.seal.seq != ri->seq)
		return 0;	/* a chunk of another resync */
	/* the copy is the leader's traffic: no election while it flows */
	gr_leader_alive(e->n, e->ids[from], gr_now_ns());
	if (e->lg->ops->status(e->lg, &st))
		return 0;
	if (f->resync.offset >= st.data_bytes ||
	    f->resync.length > st.data_bytes - f->resync.offset) {
		gd_warn("volume %s: resync chunk of %u bytes at %llu from %s: past the end of the %llu-byte device",
			e->name, f->resync.length, (unsigned long long)f->resync.offset,
			gd_cluster(e->d)->sites[from].name, (unsigned long long)st.data_bytes);
		return -EPROTO;
	}
	if (!ri->started || f->resync.offset != ri->off) {
		ri->started = true;
		ri->off = f->resync.offset;
		ri->copied = 0;
	}
	ret = e->lg->ops->data_write(e->lg, f->resync.offset, f->resync.data,
				     f->resync.length, &f->resync.seal);
	if (ret && eng_refusal(ret)) {
		ri->active = false;
		return eng_peer_refused(e, from, "resync chunk at byte", f->resync.offset,
					eng_refusal(ret));
	}
	if (ret) {
		engine_fail(e, "resync write at %llu: %s",
			    (unsigned long long)f->resync.offset, strerror(-ret));
		return 0;
	}
	ri->off += f->resync.length;
	ri->copied += f->resync.length;
	if (ri->off >= st.data_bytes)
		ri->off = 0;	/* the rest of the row is the next pass's start */
	if (ri->have_anchor && resync_covered(e))
		return resync_install(e);
	return 0;
}
