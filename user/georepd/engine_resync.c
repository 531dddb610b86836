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

/* Leader: the record at the resync point, first in every pass. */
static bool resync_send_anchor(struct engine *e, size_t site, struct resync_out *ro)
{
	struct gr_frame f = { .hdr.type = GR_FT_RECORDS };
	ssize_t n = eng_read_records(e, ro->seq, 1, 0);

	if (n <= 0) {
		if (gd_ratelimit(&e->rl))
			gd_warn("volume %s: resync of %s: cannot read the record at seq %llu: %s",
				e->name, gd_cluster(e->d)->sites[site].name,
				(unsigned long long)ro->seq, strerror(n ? -n : ENODATA));
		return false;
	}
	f.records.count = 1;
	f.records.first_seq = ro->seq;
	f.records.data = e->buf;
	f.records.len = n;
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

/* Leader: one chunk at ro->off, sealed for the resync point. 0 or -errno. */
static int resync_send_chunk(struct engine *e, size_t site, struct resync_out *ro,
			     uint64_t data_bytes)
{
	struct gr_frame f = { .hdr.type = GR_FT_RESYNC };
	uint32_t len = data_bytes - ro->off < ENG_RESYNC_CHUNK ? data_bytes - ro->off :
								  ENG_RESYNC_CHUNK;
	int ret;

	if (eng_ensure_buf(e, len))
		return -ENOMEM;
	ret = e->lg->ops->data_read(e->lg, ro->off, e->buf, len);
	if (ret)
		return ret;
	f.resync.offset = ro->off;
	f.resync.length = len;
	f.resync.data = e->buf;
	/* the replica's kernel writes only what ours sealed */
	f.resync.seal.seq = ro->seq;
	ret = e->lg->ops->data_seal(e->lg, ro->off, e->buf, len, &f.resync.seal);
	if (ret) {
		if (gd_ratelimit(&e->rl))
			gd_warn("volume %s: sealing resync chunk at %llu: %s", e->name,
				(unsigned long long)ro->off, strerror(-ret));
		return ret;
	}
	gr_wire_sha256(e->buf, len, f.resync.sha256);
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
}

/* Follower: the copy covers the device and the anchor is here: install. */
static void resync_install(struct engine *e)
{
	struct resync_in *ri = &e->rs_in;
	int ret;

	ret = e->lg->ops->reset(e->lg, ri->anchor);
	if (ret) {
		engine_fail(e, "ledger reset to %llu: %s", (unsigned long long)ri->seq,
			    strerror(-ret));
		return;
	}
	ri->active = false;
	e->resyncs_done++;
	eng_mtree_reset(e, ri->seq, ri->chain);
	eng_heal_resynced(e);
	gd_info("volume %s: resync installed at seq %llu", e->name, (unsigned long long)ri->seq);
	gr_persisted(e->n, ri->seq, ri->term);
	engine_process(e, NULL);
}

static bool resync_covered(const struct engine *e)
{
	struct gd_ledger_status st;

	return e->rs_in.started && !e->lg->ops->status(e->lg, &st) &&
	       e->rs_in.copied >= st.data_bytes;
}

/* Follower: the record at the resync point (the leader's first of a pass). */
void eng_resync_anchor(struct engine *e, const struct georep_record *h,
		       const struct georep_rec *rec)
{
	memcpy(e->rs_in.chain, rec->chain_hash, GEOREP_HASH_LEN);
	memcpy(e->rs_in.anchor, h, GEOREP_RECORD_HDR_SIZE);
	e->rs_in.have_anchor = true;
	if (resync_covered(e))
		resync_install(e);
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
		resync_install(e);
	return 0;
}
