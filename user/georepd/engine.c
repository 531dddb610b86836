// SPDX-License-Identifier: GPL-2.0
/*
 * The replication engine of one volume: a consensus node over the daemon's
 * transport, driving a ledger backend. Documentation/replication.rst has the
 * design; in short:
 *
 *  - kernel record seq == consensus log index. The primary proposes every
 *    record its ledger writes, in order (the core's seq must equal the
 *    record's: checked), and ships it: a CONSENSUS frame with the core's
 *    APPEND, then a RECORDS frame with its entries;
 *  - followers append the records to their ledger (which checks seq, term,
 *    chain and seal), report them persisted, and the core acknowledges;
 *  - the core's commit index goes to the ledger (set_commit): quorum writes
 *    complete at the primary, followers apply;
 *  - roles: an elected leader makes its ledger primary at once and writes
 *    the barrier the core appended (a NOOP record); a leader that steps down
 *    makes its ledger secondary in the same ready (fencing);
 *  - term and vote are durable (gd_volume_save_state) before anything of a
 *    ready is written or sent;
 *  - a truncated suffix is copied to a fork file first (fork.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_internal.h"
#include "genesis.h"
#include "georep/nl.h"

enum gd_ledger_kind gd_ledger_kind = GD_LEDGER_KERNEL;

const char *eng_role_name(enum gr_role r)
{
	static const char *const names[] = { "follower", "precandidate", "candidate", "leader" };

	return r <= GR_LEADER ? names[r] : "?";
}

int eng_site_index(const struct engine *e, uint32_t id)
{
	const struct gr_cluster *c = gd_cluster(e->d);
	size_t i;

	for (i = 0; i < c->nsites; i++)
		if (e->ids[i] && e->ids[i] == id)
			return i;
	return -1;
}

const char *eng_site_name(const struct engine *e, uint32_t id)
{
	int i = eng_site_index(e, id);

	return i < 0 ? NULL : gd_cluster(e->d)->sites[i].name;
}

/* Stop replicating this volume: something that must never happen did. */
void engine_fail(struct engine *e, const char *fmt, ...)
{
	va_list ap;

	if (e->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(e->fail_reason, sizeof(e->fail_reason), fmt, ap);
	va_end(ap);
	e->failed = true;
	gd_err("volume %s: replication stopped: %s", e->name, e->fail_reason);
	/* fence: whatever happened, this site must not keep accepting writes */
	e->lg->ops->set_role(e->lg, GEOREP_ROLE_SECONDARY, e->term);
	gd_event(e->d, "engine-failed", json_pack("{s:s, s:s}", "volume", e->name,
						   "reason", e->fail_reason));
}

int eng_ensure_buf(struct engine *e, size_t need)
{
	uint8_t *p;

	if (need <= e->bufcap)
		return 0;
	p = realloc(e->buf, need);
	if (!p)
		return -ENOMEM;
	e->buf = p;
	e->bufcap = need;
	return 0;
}

static int save_hs(struct engine *e, const struct gr_hard_state *hs)
{
	struct gd_vstate st = e->vol->state;

	st.term = hs->term;
	st.vote = hs->vote;
	st.commit = hs->commit;
	return gd_volume_save_state(e->d, e->vol, &st);
}

static bool ready_empty(const struct gr_ready *rd)
{
	return !rd->hs_changed && !rd->trunc_from && !rd->resync && !rd->append_from &&
	       !rd->commit_changed && !rd->ack_changed && !rd->role_changed &&
	       !rd->writable_changed && !rd->n_msgs;
}

/* The core asks for a full resync: its data chunks arrive as RESYNC frames. */
static void resync_start(struct engine *e, const struct gr_ready *rd)
{
	int from = eng_site_index(e, rd->resync_from);

	if (e->rs_in.active)
		gd_warn("volume %s: resync point moved from seq %llu to %llu (the leader released its log past it): copy restarted",
			e->name, (unsigned long long)e->rs_in.seq,
			(unsigned long long)rd->resync_seq);
	memset(&e->rs_in, 0, sizeof(e->rs_in));
	e->rs_in.active = from >= 0;
	e->rs_in.from = from;
	e->rs_in.seq = rd->resync_seq;
	e->rs_in.term = rd->resync_term;
	e->rs_in_term = e->term;
	gd_warn("volume %s: behind the retained log: full resync from %s up to seq %llu",
		e->name, from >= 0 ? gd_cluster(e->d)->sites[from].name : "?",
		(unsigned long long)rd->resync_seq);
}

static void writable_changed(struct engine *e, bool writable, uint64_t now)
{
	e->writable = writable;
	if (writable)
		e->writable_since_ns = now;
	gd_info("volume %s: %s", e->name, writable ?
		"writable (primary, lease held)" : "not writable");
	gd_event(e->d, "writable", json_pack("{s:s, s:b}", "volume", e->name,
					     "writable", writable));
}

/* Rebuild the core from the ledger (after a resync): a follower again. */
static int restart_node(struct engine *e)
{
	int ret;

	e->restart_node = false;
	gr_node_free(e->n);
	e->n = NULL;
	ret = eng_node_start(e);
	if (ret)
		engine_fail(e, "cannot rebuild consensus from the ledger: %s", strerror(-ret));
	e->role = GR_FOLLOWER;
	e->leader = 0;
	e->writable = false;
	gd_shipbuf_reset(&e->sb);
	return ret;
}

/* this thread's CPU time, ns */
static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * The core's commit index into the ledger (GEOREP_IOC_COMMIT_SEQ); a
 * leader's timed (stage.c): wall and CPU time.
 */
static void set_commit(struct engine *e, uint64_t seq)
{
	bool leader = e->role == GR_LEADER;
	uint64_t t = gr_now_ns(), cpu = 0;
	int ret;

	if (leader) {
		gd_stage_committed(&e->stages, seq, t);
		cpu = thread_cpu_ns();
	}
	ret = e->lg->ops->set_commit(e->lg, seq);
	if (ret && gd_ratelimit(&e->rl))
		gd_warn("volume %s: set commit %llu: %s", e->name, (unsigned long long)seq,
			strerror(-ret));
	if (leader) {
		gd_sample(&e->stages.set_commit_cpu, thread_cpu_ns() - cpu);
		gd_sample(&e->stages.set_commit, gr_now_ns() - t);
	}
}

/*
 * A follower whose log is full: the records it holds that the leader has
 * committed (the core's commit index, as far as the ledger goes) are
 * committed and applied now, not after the appends that could not be
 * made, so that releasing them makes room. The index is saved too: the
 * core rebuilt from the ledger next starts from the saved one, and could
 * release nothing below it. (Not the ledger's own commit index: after a
 * re-attach the kernel recovers it from its applied seq, which for a
 * deposed primary covers records never committed.)
 */
static void commit_held(struct engine *e)
{
	struct gr_hard_state hs = { .term = e->vol->state.term, .vote = e->vol->state.vote };
	struct gd_ledger_status st;
	struct gr_status gs;

	if (e->rs_in.active)
		return;
	gr_status(e->n, &gs);
	if (e->lg->ops->status(e->lg, &st))
		return;
	hs.commit = gs.commit_seq < st.written_seq ? gs.commit_seq : st.written_seq;
	if (hs.commit > st.commit_seq)
		set_commit(e, hs.commit);
	if (hs.commit > e->vol->state.commit && !save_hs(e, &hs))
		e->commit_saved = hs.commit;
}

/* what a ready's appends tell the core once the ready is done */
struct ready_persist {
	uint64_t seq, term;
	bool own;		/* the leader's own records: once durable */
};

/*
 * A ready's appends: a leader's records are in its ledger already (its
 * barrier no-op is written here), a follower's are appended from @recs.
 */
static int ready_appends(struct engine *e, const struct gr_ready *rd,
			 const struct gr_records *recs, struct ready_persist *ps)
{
	struct gr_entry ent;
	int ret;

	if (e->role != GR_LEADER)
		ret = eng_follower_appends(e, recs, rd->append_from, rd->append_to,
					   &ps->term);
	else
		ret = eng_leader_appends(e, rd->append_from, rd->append_to);
	if (ret)
		return ret;
	ps->seq = rd->append_to;
	ps->own = e->role == GR_LEADER;
	if (ps->own && !gr_entry_get(e->n, ps->seq, &ent))
		ps->term = ent.term;
	return 0;
}

/*
 * Handle every ready until the core has nothing more to say. @recs: the
 * RECORDS batch of the APPEND just stepped (follower), else NULL.
 */
int engine_process(struct engine *e, const struct gr_records *recs)
{
	uint64_t now = gr_now_ns(), commit_later = 0;
	int ret = 0;

	while (!e->failed) {
		struct gr_ready *rd = gr_ready_get(e->n);
		struct ready_persist ps = { 0 };
		struct gr_status gs;
		uint32_t i;

		if (ready_empty(rd)) {
			gr_ready_done(e->n);
			break;
		}
		/* 1. term and vote durable before anything else */
		if (rd->hs_changed && (rd->hs.term != e->vol->state.term ||
				       rd->hs.vote != e->vol->state.vote)) {
			ret = save_hs(e, &rd->hs);
			if (ret) {
				engine_fail(e, "cannot save term/vote: %s", strerror(-ret));
				gr_ready_done(e->n);
				return ret;
			}
			e->commit_saved = rd->hs.commit;
		}
		if (rd->role_changed)
			eng_on_role(e, rd, now);
		if (e->rs_in.active && rd->role_changed &&
		    (rd->leader != e->ids[e->rs_in.from] || rd->term != e->rs_in_term)) {
			/*
			 * The leader copying to us is gone: the core holds a
			 * resync point that will never be installed. Forget it
			 * and rebuild the core from the ledger (as after a crash
			 * before the install); the partial copy is overwritten by
			 * the records replayed or by the next resync.
			 */
			gd_warn("volume %s: resync from %s abandoned (leader changed)", e->name,
				gd_cluster(e->d)->sites[e->rs_in.from].name);
			e->rs_in.active = false;
			e->restart_node = true;
		}
		/* 2. keep, then drop, a conflicting suffix */
		if (rd->trunc_from) {
			ret = eng_fork_and_truncate(e, rd->trunc_from);
			if (ret) {
				engine_fail(e, "truncation from %llu failed: %s",
					    (unsigned long long)rd->trunc_from, strerror(-ret));
				gr_ready_done(e->n);
				return ret;
			}
		}
		/* 3. a full resync: data chunks arrive as RESYNC frames */
		if (rd->resync)
			resync_start(e, rd);
		/* 4. appends */
		if (rd->append_from) {
			ret = ready_appends(e, rd, recs, &ps);
			if (ret) {
				if (ret == -ENOSPC)
					commit_held(e);
				gr_ready_done(e->n);
				if (e->restart_node && !e->failed)
					restart_node(e);
				/* the log was full: release what was applied */
				if (ret == -ENOSPC && !e->failed)
					eng_compact(e, ENG_COMPACT_FORCE);
				return ret;
			}
		}
		/* 5. messages */
		for (i = 0; i < rd->n_msgs; i++)
			eng_send_msg(e, &rd->msgs[i]);
		/*
		 * 6. commit, writability. The leader's commit completes its
		 * writers: at once. A follower's APPEND carries the commit of
		 * the records before it, and the answer to it comes in the
		 * next ready: its commit waits until that answer is out (end
		 * of this call), so that the leader's next commit does not
		 * wait for a netlink round trip here. What the ledger applied
		 * reaches the core when it releases records (eng_compact()).
		 */
		if (rd->commit_changed && !e->rs_in.active) {
			if (e->role == GR_LEADER)
				set_commit(e, rd->commit_seq);
			else
				commit_later = rd->commit_seq;
		}
		if (rd->writable_changed)
			writable_changed(e, rd->writable, now);
		gr_ready_done(e->n);
		gr_status(e->n, &gs);
		e->core_last = gs.last_seq;
		if (ps.own)
			eng_own_proposed(e, ps.seq, ps.term);
		else if (ps.seq)
			gr_persisted(e->n, ps.seq, ps.term);
		recs = NULL;
		if (e->restart_node)
			break;
	}
	if (commit_later && !e->failed && !e->restart_node && !e->rs_in.active)
		set_commit(e, commit_later);
	/*
	 * A follower appends a window's worth of records between two
	 * maintenance passes: release what it applied as it goes, at most
	 * every ENG_FOLLOWER_COMPACT_NS, or a small log fills up (-ENOSPC).
	 */
	if (!e->failed && e->role != GR_LEADER && !e->restart_node &&
	    now - e->last_follower_compact_ns >= ENG_FOLLOWER_COMPACT_NS) {
		e->last_follower_compact_ns = now;
		eng_compact(e, ENG_COMPACT_AUTO);
	}
	if (e->restart_node && !e->failed)
		ret = restart_node(e);
	return ret;
}

/*
 * Release retained records: once every replica holds them (leader), a
 * follower's oldest ones once its log or the core is half full
 * (gd_follower_keep(), retain.c); in batches of ENG_COMPACT_MIN records
 * unless the log is a quarter full; and, when the retained log passes 3/4
 * of the core's capacity or of the log device, or @force (tests, a
 * follower's full log), at the applied seq even though a replica still
 * needs them: that replica then gets a full resync.
 * ENG_COMPACT_EAGER skips the batching and a follower's keep: a new seal
 * key epoch needs the kernel to retire an old one, which it does only
 * once no retained record is sealed with it (kmod/keys.c).
 */
void eng_compact(struct engine *e, enum eng_compact_mode mode)
{
	bool force = mode == ENG_COMPACT_FORCE, eager = mode != ENG_COMPACT_AUTO;
	const struct gr_cluster *c = gd_cluster(e->d);
	struct gd_ledger_status st;
	struct gr_status gs;
	uint64_t keep, applied;
	size_t i, lag = SIZE_MAX;
	bool full;

	if (e->lg->ops->status(e->lg, &st))
		return;
	/* the core learns here what the ledger applied (not in engine_process()) */
	if (!e->rs_in.active)
		gr_applied(e->n, st.applied_seq);
	gr_status(e->n, &gs);
	applied = keep = st.applied_seq < gs.applied_seq ? st.applied_seq : gs.applied_seq;
	if (e->role == GR_LEADER) {
		for (i = 0; i < c->nsites; i++) {
			struct gr_progress_info pi;

			if (!e->ids[i] || i == gd_self(e->d))
				continue;
			if (gr_progress(e->n, e->ids[i], &pi))
				continue;
			if (e->rs_out[i].active && e->rs_out[i].seq < keep) {
				keep = e->rs_out[i].seq;
				lag = i;
			}
			if (pi.match < keep) {
				keep = pi.match;
				lag = i;
			}
		}
	} else if (!eager) {
		keep = gd_follower_keep(&st, keep, e->cfg.log_capacity);
	}
	/*
	 * A full log throttles writers (and blocks a secondary's appends).
	 * Throttled writers resume only below the kernel's low watermark
	 * (70% by default, settable lower): while throttled, everything
	 * applied is released, however few records and whatever a lagging
	 * replica needs, or a log left between the watermark and the
	 * thresholds here (3/4, 1/4) would stay throttled for good.
	 */
	full = gs.last_seq - gs.snap_seq > e->cfg.log_capacity / 4 * 3 ||
	       (st.log_size && st.log_used * 4 > st.log_size * 3) || st.throttled;
	if ((force || full) && keep < applied) {
		/* why a replica needs a full resync: once, when it is pushed out */
		if (e->role == GR_LEADER && lag != SIZE_MAX && !e->rs_out[lag].active &&
		    keep >= gs.snap_seq && gd_ratelimit(&e->rl))
			gd_warn("volume %s: log %s: releasing records up to %llu, %s holds up to %llu "
				"(it will get a full resync)", e->name,
				force ? "released on request" : "full", (unsigned long long)applied - 1,
				c->sites[lag].name, (unsigned long long)keep);
		keep = applied;
	}
	/*
	 * A tree fetching leaves no connected site can give holds the log:
	 * once the log is full, writes matter more, and the tree stops.
	 */
	if (full && e->mf.active && e->mt) {
		eng_mtree_stop(e, "the log filled while the tree waited for leaves %llu..%llu "
			       "(no connected site gave them)", (unsigned long long)e->mf.next,
			       (unsigned long long)e->mf.to);
		e->mf.active = false;
	}
	/* the Merkle tree keeps the leaf of every record the log releases */
	if (keep)
		keep = eng_mtree_release_cap(e, keep - 1) + 1;
	/* and a final checkpoint covers it, unless the log is full or forced */
	if (keep && !force && !full)
		keep = eng_ckpt_release_cap(e, keep - 1) + 1;
	/* the record at the compaction point stays: its term and chain anchor the log */
	if (keep > gs.snap_seq &&
	    (eager || st.throttled || keep > gs.snap_seq + ENG_COMPACT_MIN ||
	     (st.log_size && st.log_used * 4 > st.log_size)) &&
	    !gr_compact(e->n, keep))
		e->lg->ops->release(e->lg, keep - 1);
}

static void maintenance(struct engine *e, uint64_t now)
{
	struct gr_status gs;

	gr_status(e->n, &gs);
	/* commit: persisted lazily (the core caps it at the durable log) */
	if (gs.commit_seq != e->commit_saved && !e->failed) {
		struct gr_hard_state hs = { .term = e->vol->state.term,
					    .vote = e->vol->state.vote,
					    .commit = gs.commit_seq };

		if (!save_hs(e, &hs))
			e->commit_saved = gs.commit_seq;
	}
	eng_compact(e, ENG_COMPACT_AUTO);
	eng_mtree_maint(e);
	e->last_maint_ns = now;
}

static void eng_timer(struct gr_timer *t, void *arg)
{
	struct engine *e = arg;
	uint64_t now = gr_now_ns();
	const struct gr_cluster *c = gd_cluster(e->d);
	struct gr_status gs;
	size_t i;

	if (!e->failed) {
		/* a healing replica never starts an election (engine_heal.c) */
		if (!(e->heal.active || e->diverged_orphan) || e->role == GR_LEADER)
			gr_tick(e->n, now);
		engine_process(e, NULL);
		eng_heal_tick(e, now);
		eng_io_policy(e, now, false);
		eng_switchover_poll(e, now);
		engine_pump(e);
		eng_deferred_send(e);	/* a read the reader could not take yet */
		if (e->mt_follow || e->mt_behind)
			eng_mtree_keep_up(e);
		eng_mleaf_tick(e, now);
		eng_mleaf_serve(e, now);
		eng_scrub_tick(e, now);
		eng_ckpt_tick(e, now);
		eng_key_tick(e, now);
		eng_own_durable(e);
		eng_resync_send(e);
		gr_status(e->n, &gs);
		for (i = 0; i < c->nsites; i++) {
			struct gr_progress_info pi;

			if (!e->ids[i])
				continue;
			if (i == gd_self(e->d) || e->role != GR_LEADER ||
			    (!gr_progress(e->n, e->ids[i], &pi) && pi.match >= gs.last_seq))
				e->caught_up_ns[i] = now;
		}
		if (now - e->last_maint_ns >= ENG_MAINT_MS * 1000000ULL)
			maintenance(e, now);
	}
	gr_timer_arm(t, ENG_TICK_MS);
}

static void eng_on_peer(struct gr_replica *r, unsigned int site, bool up)
{
	struct engine *e = (struct engine *)r;

	e->pending[site] = false;
	if (!up)
		e->rs_out[site].active = false;
	else
		eng_ckpt_peer_up(e, site);
	if (up)
		eng_key_peer_up(e, site);
}

/* the engine of the volume a control request names, or NULL with @err */
struct engine *eng_lookup(struct georepd *d, json_t *req, char *err)
{
	const char *name = json_string_value(json_object_get(req, "volume"));
	size_t i;

	for (i = 0; name && i < d->nvols; i++)
		if (!strcmp(d->vols[i].cfg->name, name) && d->vols[i].replica &&
		    d->vols[i].replica->ops == &engine_ops)
			return (struct engine *)d->vols[i].replica;
	snprintf(err, GR_CTL_ERRLEN, "volume \"%.64s\" has no replication engine at this site",
		 name ?: "");
	return NULL;
}

static void eng_destroy(struct gr_replica *r)
{
	struct engine *e = (struct engine *)r;
	unsigned int i;

	/* first: the readers' reads in flight use the ledger and e->sb */
	gd_reader_stop(&e->prd);
	gd_reader_stop(&e->rd);
	if (e->timer)
		gr_timer_free(e->timer);
	if (e->lio)
		gr_io_del(e->lio);
	gr_node_free(e->n);
	gd_mtree_close(e->mt);
	eng_ckpt_close(e);
	eng_remote_free(e);
	eng_fork_notes_stale(e);
	e->lg->ops->close(e->lg);
	json_decref(e->heal.forks);
	free(e->heal.blk);
	free(e->ents);
	free(e->buf);
	free(e->fbuf);
	free(e->xbuf);
	free(e->mt_rbuf);
	free(e->scrub.rbuf);
	free(e->rsb.buf);
	free(e->rsb.abuf);
	free(e->hs.data);
	free(e->hs.rbuf);
	gd_shipbuf_free(&e->sb);
	gd_shipbuf_free(&e->cb);
	for (i = 0; i < GR_CFG_MAX_SITES; i++)
		free(e->dq[i].q);
	free(e);
}

const struct gr_replica_ops engine_ops = {
	.on_frame = eng_on_frame,
	/* no on_tick: the engine ticks the core on its own 50 ms timer */
	.on_peer = eng_on_peer,
	.status_json = eng_status,
	.switchover = eng_switchover,
	.failover = eng_failover,
	.health = eng_health,
	.destroy = eng_destroy,
};

/* The core's view of what the ledger retains, for gr_node_new(). */
static int load_log(struct engine *e, struct gr_persisted *p, struct gr_entry **entsp)
{
	struct gd_ledger_status st;
	struct gr_entry *ents = NULL;
	uint64_t seq, n = 0;
	int ret;

	ret = e->lg->ops->status(e->lg, &st);
	if (ret)
		return ret;
	if (!st.tail_seq) {
		/* empty log: after a reset, or new */
		p->snap_seq = st.written_seq;
		p->snap_term = st.written_seq ? st.term : 0;
		*entsp = NULL;
		return 0;
	}
	if (st.written_seq - st.tail_seq + 1 > e->cfg.log_capacity)
		return -EFBIG;
	ents = calloc(st.written_seq - st.tail_seq + 1, sizeof(*ents));
	if (!ents)
		return -ENOMEM;
	seq = st.tail_seq;
	while (seq <= st.written_seq) {
		ssize_t len = e->lg->ops->read(e->lg, seq, e->buf, e->bufcap);
		struct georep_rec rec;
		const uint8_t *hdr, *payload;
		size_t off = 0;

		if (len == -EMSGSIZE && !eng_ensure_buf(e, e->bufcap * 2))
			continue;
		if (len <= 0) {
			ret = len ? len : -EIO;
			goto out_free;
		}
		while (!georep_record_next(e->buf, len, &off, &rec, &hdr, &payload, NULL, 0)) {
			if (rec.seq != seq) {
				ret = -EIO;
				goto out_free;
			}
			if (seq == st.tail_seq) {
				p->snap_seq = seq;
				p->snap_term = rec.term;
			} else {
				ents[n].term = rec.term;
				ents[n].bytes = rec.payload_len;
				ents[n].kind = rec.op == GEOREP_OP_NOOP ? GR_ENTRY_NOOP :
					       GR_ENTRY_DATA;
				n++;
			}
			seq++;
		}
	}
	p->n_entries = n;
	p->entries = ents;
	*entsp = ents;
	return 0;

out_free:
	free(ents);
	return ret;
}

/* (Re)create the consensus node from the saved state and the ledger. */
int eng_node_start(struct engine *e)
{
	const struct gd_vstate *vs = &e->vol->state;
	struct gr_persisted p = { 0 };
	struct gr_entry *ents = NULL;
	struct gd_ledger_status st;
	struct gr_conf conf = { 0 };
	const char *env;
	uint32_t i;
	int ret;

	for (i = 0; i < vs->nmembers && i < GR_MAX_SITES; i++) {
		conf.site[conf.n] = vs->members[i].site_id;
		conf.voter[conf.n++] = vs->members[i].voter;
	}
	gr_config_default(&e->cfg, e->self_id, &conf);
	e->cfg.rule = e->vol->cfg->commit_rule == GEOREP_COMMIT_LOCAL ? GR_RULE_LOCAL :
		      GR_RULE_QUORUM;
	e->cfg.tick_ns = ENG_TICK_MS * 1000000ULL;
	e->cfg.election_ticks = ENG_ELECTION_TICKS;
	e->cfg.heartbeat_ticks = ENG_HEARTBEAT_TICKS;
	/* small bulk frames, as many in flight: control waits behind one */
	e->cfg.max_msg_bytes = ENG_BULK_FRAME;
	e->cfg.max_inflight_msgs = GR_MAX_INFLIGHT;
	/* in flight to a peer: a quarter of a log as large as ours, at most */
	if (!e->lg->ops->status(e->lg, &st) && st.log_size &&
	    st.log_size / 4 < e->cfg.max_inflight_bytes)
		e->cfg.max_inflight_bytes = st.log_size / 4 > ENG_BULK_FRAME ?
					    st.log_size / 4 : ENG_BULK_FRAME;
	/* slow labs (qemu TCG) and long-haul links need longer timeouts */
	env = getenv("GEOREPD_ELECTION_MS");
	if (env && strtoul(env, NULL, 10) >= 4 * ENG_TICK_MS) {
		e->cfg.election_ticks = strtoul(env, NULL, 10) / ENG_TICK_MS;
		e->cfg.heartbeat_ticks = e->cfg.election_ticks / 5;
	}
	e->cfg.seed = e->self_id ^ gr_now_ns();
	if (e->vol->cfg->max_uncommitted)
		e->cfg.max_uncommitted_bytes = e->vol->cfg->max_uncommitted;
	p.hs.term = vs->term;
	p.hs.vote = vs->vote;
	p.hs.commit = vs->commit;
	p.have_conf = true;
	p.conf = conf;
	ret = load_log(e, &p, &ents);
	if (ret)
		return ret;
	e->n = gr_node_new(&e->cfg, &p, gr_now_ns());
	free(ents);
	if (!e->n)
		return -EINVAL;
	e->commit_saved = vs->commit;
	e->core_last = p.snap_seq + p.n_entries;
	/* a restarted site is a follower: fence the ledger, then apply what is committed */
	ret = e->lg->ops->status(e->lg, &st);
	if (ret)
		return ret;
	ret = e->lg->ops->set_role(e->lg, GEOREP_ROLE_SECONDARY,
				   st.term > vs->term ? st.term : vs->term);
	if (ret)
		return ret;
	e->term = vs->term;
	if (vs->commit > st.commit_seq)
		e->lg->ops->set_commit(e->lg, vs->commit < st.written_seq ? vs->commit :
				       st.written_seq);
	return 0;
}

/*
 * The kernel volume: "<site>.<volume>" when it exists (several sites sharing
 * one kernel, as in the VM lab of selftests/sites), else "<volume>".
 */
static int kernel_open(struct engine *e, char *err)
{
	char name[GEOREP_NAME_MAX];
	int n = snprintf(name, sizeof(name), "%s.%s",
			 gd_cluster(e->d)->sites[gd_self(e->d)].name, e->name);

	if (n < (int)sizeof(name) &&
	    !gd_ledger_kernel_open(name, e->vol->cfg->commit_rule, &e->lg, err))
		return 0;
	err[0] = 0;
	return gd_ledger_kernel_open(e->name, e->vol->cfg->commit_rule, &e->lg, err);
}

/* is the volume's kernel volume attached here (by either name)? */
static bool kernel_attached(struct georepd *d, const struct gd_volume *vol)
{
	struct georep_vol_status vs;
	char name[GEOREP_NAME_MAX], err[256];
	struct georep_nl *nl;
	bool found;

	if (georep_nl_open(&nl, err, sizeof(err)))
		return true;	/* the engine says why */
	found = !georep_nl_volume_get(nl, vol->cfg->name, &vs);
	if (!found && snprintf(name, sizeof(name), "%s.%s", gd_cluster(d)->sites[gd_self(d)].name,
			       vol->cfg->name) < (int)sizeof(name))
		found = !georep_nl_volume_get(nl, name, &vs);
	georep_nl_close(nl);
	return found;
}

/* a kernel volume not attached yet: georepd attaches or creates it (genesis.c) */
int gd_engine_new(struct georepd *d, struct gd_volume *vol, struct gr_replica **out)
{
	if (gd_ledger_kind == GD_LEDGER_KERNEL && !kernel_attached(d, vol))
		return gd_genesis_new(d, vol, out);
	return gd_engine_attach(d, vol, out);
}

int gd_engine_attach(struct georepd *d, struct gd_volume *vol, struct gr_replica **out)
{
	const struct gr_cluster *c = gd_cluster(d);
	char err[GD_LEDGER_ERRLEN] = "";
	struct engine *e = calloc(1, sizeof(*e));
	struct gd_ledger_status st;
	size_t i;
	uint64_t durable;
	int ret, fd;

	if (!e)
		return -ENOMEM;
	e->r.ops = &engine_ops;
	e->r.d = e->d = d;
	e->r.vol = e->vol = vol;
	e->name = vol->cfg->name;
	e->rl = (struct gd_ratelimit)GD_RATELIMIT_INIT;
	e->rl_full = (struct gd_ratelimit)GD_RATELIMIT_INIT;
	e->log_full_stall_ns = ENG_LOG_FULL_STALL_NS;
	e->self_id = c->sites[gd_self(d)].site_id;
	for (i = 0; i < vol->cfg->nreplicas; i++)
		e->ids[vol->cfg->replicas[i].site] = c->sites[vol->cfg->replicas[i].site].site_id;
	e->ents = calloc(GR_WIRE_MAX_RECORDS, sizeof(*e->ents));
	e->fbuf = malloc(GR_WIRE_MSG_MAX);
	gd_shipbuf_init(&e->sb, ENG_SHIPBUF_MAX);
	gd_shipbuf_init(&e->cb, ENG_SHIPBUF_MAX);
	ret = -ENOMEM;
	if (!e->ents || !e->fbuf || eng_ensure_buf(e, 2U << 20))
		goto out_free;
	if (gd_ledger_kind == GD_LEDGER_MEM)
		ret = gd_ledger_mem_open(gd_statedir_path(d->sd), e->name, e->self_id,
					 ENG_MEM_DATA_BYTES, &e->lg, err);
	else
		ret = kernel_open(e, err);
	if (ret) {
		gd_err("volume %s: ledger: %s", e->name, err[0] ? err : strerror(-ret));
		goto out_free;
	}
	/* the io state a previous run left (the kernel keeps it until detach) */
	if (!e->lg->ops->status(e->lg, &st))
		e->io_state = st.io_state;
	eng_key_load(e);
	ret = eng_node_start(e);
	if (ret) {
		gd_err("volume %s: cannot start consensus: %s", e->name, strerror(-ret));
		goto out_close;
	}
	/* not fatal: the volume replicates without its tree (status says why) */
	eng_mtree_open(e);
	ret = eng_ckpt_open(e);
	if (ret)
		goto out_close;
	ret = eng_heal_load(e);
	if (ret)
		gd_err("volume %s: cannot resume the heal of a fork (%s/%s.heal): %s", e->name,
		       gd_statedir_path(d->sd), e->name, strerror(-ret));
	if (!e->heal.active && !e->lg->ops->status(e->lg, &st) && st.diverged) {
		/* no heal state to resume: an admin must resync or accept the data */
		e->diverged_orphan = true;
		gd_err("volume %s: the ledger is diverged and no heal is pending: this site will not "
		       "become primary (georepctl volume set %s --clear-diverged accepts its data)",
		       e->name, e->name);
	}
	e->timer = gr_timer_new(gd_loop(d), eng_timer, e);
	if (!e->timer) {
		ret = -ENOMEM;
		goto out_close;
	}
	gr_timer_name(e->timer, "a volume's engine tick");
	gr_timer_arm(e->timer, ENG_TICK_MS);
	/* the ledger says on its fd how far it is durable (sealed mode) */
	fd = e->lg->ops->poll_fd(e->lg);
	if (fd >= 0 && e->lg->ops->durable && !e->lg->ops->durable(e->lg, &durable)) {
		e->lio_pri = EPOLLPRI;
		e->lio = gr_io_add(gd_loop(d), fd, e->lio_pri, eng_ledger_ready, e);
		if (!e->lio) {
			ret = -errno;
			goto out_close;
		}
	}
	ret = eng_pump_start(e);
	if (ret)
		goto out_close;
	gd_info("volume %s: consensus engine on the %s ledger, %u members", e->name,
		e->lg->ops->name, e->cfg.conf.n);
	*out = &e->r;
	return 0;

out_close:
	gd_reader_stop(&e->prd);
	gd_reader_stop(&e->rd);
	if (e->lio)
		gr_io_del(e->lio);
	if (e->timer)
		gr_timer_free(e->timer);
	eng_ckpt_close(e);
	if (e->mt)
		gd_mtree_close(e->mt);
	gr_node_free(e->n);
	e->lg->ops->close(e->lg);
out_free:
	free(e->ents);
	free(e->fbuf);
	free(e->xbuf);
	free(e->buf);
	free(e);
	return ret;
}
