// SPDX-License-Identifier: GPL-2.0
/*
 * Full resync: a follower behind the leader's retained log gets a copy of
 * the data device, then its ledger is reset to the resync point.
 */
#include <errno.h>
#include <string.h>

#include "engine_internal.h"

/* Leader: stream the data device to followers being resynced. */
void eng_resync_send(struct engine *e)
{
	const struct gr_cluster *c = gd_cluster(e->d);
	uint64_t t0 = gr_now_ns();
	struct gd_ledger_status st;
	size_t i;
	int k, ret;

	if (e->role != GR_LEADER || e->lg->ops->status(e->lg, &st))
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
		if (!ro->anchor_sent) {
			/* the record at the resync point: the chain starts from it */
			struct gr_frame f = { .hdr.type = GR_FT_RECORDS };
			ssize_t n = eng_read_records(e, ro->seq, 1, 0);

			if (n <= 0)
				continue;
			f.records.count = 1;
			f.records.first_seq = ro->seq;
			f.records.data = e->buf;
			f.records.len = n;
			eng_send_frame(e, i, &f);
			ro->anchor_sent = true;
		}
		/*
		 * A bounded bulk lane: the copy goes at the link's pace. At
		 * least ENG_RESYNC_MIN_CHUNKS per tick (1 MiB), then while the
		 * loop's budget lasts.
		 */
		for (k = 0; k < ENG_RESYNC_PER_TICK && ro->off < st.data_bytes &&
			    (k < ENG_RESYNC_MIN_CHUNKS ||
			     gr_now_ns() - t0 < ENG_RESYNC_BUDGET_NS) &&
			    gd_bulk_queued(e->d, i) < ENG_RESYNC_QUEUE; k++) {
			struct gr_frame f = { .hdr.type = GR_FT_RESYNC };
			uint32_t len = st.data_bytes - ro->off < ENG_RESYNC_CHUNK ?
				       st.data_bytes - ro->off : ENG_RESYNC_CHUNK;

			if (eng_ensure_buf(e, len) ||
			    e->lg->ops->data_read(e->lg, ro->off, e->buf, len))
				break;
			f.resync.offset = ro->off;
			f.resync.length = len;
			f.resync.data = e->buf;
			/* the replica's kernel writes only what ours sealed */
			f.resync.seal.seq = ro->seq;
			ret = e->lg->ops->data_seal(e->lg, ro->off, e->buf, len,
						    &f.resync.seal);
			if (ret) {
				if (gd_ratelimit(&e->rl))
					gd_warn("volume %s: sealing resync chunk at %llu: %s",
						e->name, (unsigned long long)ro->off,
						strerror(-ret));
				break;
			}
			gr_wire_sha256(e->buf, len, f.resync.sha256);
			f.hdr.volume = e->vol->cfg->wire_id;
			if (e->drop[i] || gd_send(e->d, i, &f))
				break;	/* queue full: next tick */
			ro->off += len;
			e->bytes_sent += len;
		}
	}
}

/* Follower: one chunk of a resync; installs the state after the last one. */
int eng_resync_recv(struct engine *e, unsigned int from, const struct gr_frame *f)
{
	struct resync_in *ri = &e->rs_in;
	struct gd_ledger_status st;
	int ret;

	if (ri->active && ri->from == from && !f->resync.offset)
		ri->off = 0;	/* the leader (re)started the copy */
	if (!ri->active || ri->from != from || f->resync.offset != ri->off)
		return 0;	/* stale or out of order: the leader restarts it */
	if (f->resync.seal.seq != ri->seq)
		return 0;	/* a chunk of another resync */
	ret = e->lg->ops->data_write(e->lg, f->resync.offset, f->resync.data,
				     f->resync.length, &f->resync.seal);
	if (ret) {
		engine_fail(e, "resync write at %llu: %s",
			    (unsigned long long)f->resync.offset, strerror(-ret));
		return 0;
	}
	ri->off += f->resync.length;
	if (e->lg->ops->status(e->lg, &st) || ri->off < st.data_bytes)
		return 0;
	if (!ri->have_anchor) {
		engine_fail(e, "resync complete without the record at seq %llu",
			    (unsigned long long)ri->seq);
		return 0;
	}
	ret = e->lg->ops->reset(e->lg, ri->anchor);
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
