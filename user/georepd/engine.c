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
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "georep/consensus.h"
#include "georep/record.h"
#include "georepd.h"
#include "engine.h"
#include "fork.h"
#include "ledger.h"

#define ENG_TICK_MS		50		/* consensus tick */
#define ENG_ELECTION_TICKS	10		/* 0.5-1 s election timeout */
#define ENG_HEARTBEAT_TICKS	2
#define ENG_MAINT_MS		1000		/* commit save, compaction */
#define ENG_COMPACT_MIN		1024		/* records freed per compaction, at least */
#define ENG_FOLLOWER_KEEP	8192		/* records a follower keeps past applied */
#define ENG_MAX_FORKS		16		/* listed in status */
#define ENG_RESYNC_CHUNK	(1U << 20)
#define ENG_RESYNC_PER_TICK	8		/* chunks sent per tick, at most */
#define ENG_RESYNC_BUDGET_NS	10000000ULL	/* and for 10 ms of the loop at most */
#define ENG_MEM_DATA_BYTES	(64ULL << 20)	/* data device of the mem ledger */

enum gd_ledger_kind gd_ledger_kind = GD_LEDGER_KERNEL;

/* leader side: a full copy of the data device to one follower */
struct resync_out {
	bool active;
	uint64_t seq, term;	/* the core's resync point */
	uint64_t off;		/* next byte to send */
	bool anchor_sent;
};

/* follower side */
struct resync_in {
	bool active;
	uint32_t from;		/* site index */
	uint64_t seq, term;
	uint64_t off;		/* bytes received in order */
	bool have_anchor;
	uint8_t chain[GEOREP_HASH_LEN];
};

struct engine {
	struct gr_replica r;
	struct georepd *d;
	struct gd_volume *vol;
	const char *name;
	struct gr_node *n;
	struct gr_config cfg;
	struct gd_ledger *lg;
	struct gr_timer *timer;
	struct gr_io *lio;
	uint32_t self_id;
	uint32_t ids[GR_CFG_MAX_SITES];		/* site id by site index, 0: no replica */
	/* what the last ready said */
	enum gr_role role;
	uint64_t term;
	uint32_t leader;
	bool writable;
	uint64_t role_since_ns, writable_since_ns;
	uint32_t last_leader;			/* last known leader, 0: none */
	uint64_t core_last;			/* the core's last seq after the last ready */
	/* an APPEND whose RECORDS frame has not arrived yet, per site index */
	bool pending[GR_CFG_MAX_SITES];
	struct gr_msg pending_msg[GR_CFG_MAX_SITES];
	struct gr_entry *ents;
	uint8_t *buf;				/* record reads */
	size_t bufcap;
	uint8_t *fbuf;				/* frame encoding */
	/* durable state */
	uint64_t commit_saved;
	uint64_t last_maint_ns;
	/* tests: partition */
	bool drop[GR_CFG_MAX_SITES];
	/* per site (index): when its match last equalled our last seq */
	uint64_t caught_up_ns[GR_CFG_MAX_SITES];
	struct resync_out rs_out[GR_CFG_MAX_SITES];
	struct resync_in rs_in;
	uint64_t rs_in_term;			/* our term when it started */
	struct gd_fork forks[ENG_MAX_FORKS];
	unsigned int nforks;
	uint64_t forks_total;
	/* counters */
	uint64_t proposed, appended, records_sent, bytes_sent, frames_dropped;
	uint64_t elections_won, resyncs_done;
	bool restart_node;			/* rebuild the core from the ledger */
	bool failed;
	char fail_reason[160];
	struct gd_ratelimit rl;
};

static int engine_process(struct engine *e, const struct gr_records *recs);
static int node_start(struct engine *e);

static const char *role_name(enum gr_role r)
{
	static const char *const names[] = { "follower", "precandidate", "candidate", "leader" };

	return r <= GR_LEADER ? names[r] : "?";
}

static int site_index(const struct engine *e, uint32_t id)
{
	const struct gr_cluster *c = gd_cluster(e->d);
	size_t i;

	for (i = 0; i < c->nsites; i++)
		if (e->ids[i] && e->ids[i] == id)
			return i;
	return -1;
}

static const char *site_name(const struct engine *e, uint32_t id)
{
	int i = site_index(e, id);

	return i < 0 ? NULL : gd_cluster(e->d)->sites[i].name;
}

/* Stop replicating this volume: something that must never happen did. */
static void engine_fail(struct engine *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void engine_fail(struct engine *e, const char *fmt, ...)
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

static int ensure_buf(struct engine *e, size_t need)
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

/*
 * Read @count whole records from @seq into e->buf (grown as needed).
 * Return: bytes, or -errno.
 */
static ssize_t read_records(struct engine *e, uint64_t seq, uint32_t count, size_t hint)
{
	size_t have = 0;
	uint32_t got = 0;

	if (ensure_buf(e, hint + GEOREP_RECORD_HDR_SIZE * (size_t)count + 1))
		return -ENOMEM;
	while (got < count) {
		ssize_t n = e->lg->ops->read(e->lg, seq + got, e->buf + have, e->bufcap - have);
		size_t off = 0;
		struct georep_rec rec;
		const uint8_t *hdr, *payload;

		if (n == -EMSGSIZE) {
			if (ensure_buf(e, e->bufcap * 2))
				return -ENOMEM;
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

static void send_frame(struct engine *e, unsigned int site, struct gr_frame *f)
{
	int ret;

	if (e->drop[site]) {
		e->frames_dropped++;
		return;
	}
	f->hdr.volume = e->vol->cfg->wire_id;
	ret = gd_send(e->d, site, f);
	if (ret && ret != -ENOTCONN && gd_ratelimit(&e->rl))
		gd_warn("volume %s: send %s to %s: %s", e->name, gr_frame_type_name(f->hdr.type),
			gd_cluster(e->d)->sites[site].name, strerror(-ret));
}

static void send_msg(struct engine *e, const struct gr_msg *m)
{
	struct gr_frame f = { .hdr.type = GR_FT_CONSENSUS };
	int site = site_index(e, m->to);
	ssize_t len;

	if (site < 0)
		return;
	len = gr_wire_msg_encode(e->fbuf, GR_WIRE_MSG_FIXED + 8 * GR_MAX_SITES, m);
	if (len < 0) {
		gd_err("volume %s: cannot encode message type %u: %s", e->name, m->type,
		       strerror(-len));
		return;
	}
	f.consensus.data = e->fbuf;
	f.consensus.len = len;
	if (!gd_peer_up(e->d, site))
		return;
	send_frame(e, site, &f);
	if (m->type == GR_MSG_APPEND && m->n_entries) {
		struct gr_frame rf = { .hdr.type = GR_FT_RECORDS };
		ssize_t n = read_records(e, m->seq + 1, m->n_entries, m->bytes);

		if (n < 0) {
			gd_err("volume %s: cannot read records %llu+%u to send: %s", e->name,
			       (unsigned long long)m->seq + 1, m->n_entries, strerror(-n));
			return;
		}
		rf.records.count = m->n_entries;
		rf.records.first_seq = m->seq + 1;
		rf.records.data = e->buf;
		rf.records.len = n;
		send_frame(e, site, &rf);
		e->records_sent += m->n_entries;
		e->bytes_sent += n;
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
}

static int save_hs(struct engine *e, const struct gr_hard_state *hs)
{
	struct gd_vstate st = e->vol->state;

	st.term = hs->term;
	st.vote = hs->vote;
	st.commit = hs->commit;
	return gd_volume_save_state(e->d, e->vol, &st);
}

/* Keep a ledger suffix @from..written in a fork file, then truncate it away. */
static int fork_and_truncate(struct engine *e, uint64_t from)
{
	struct gd_ledger_status st;
	struct gd_fork fk;
	int ret;

	ret = e->lg->ops->status(e->lg, &st);
	if (ret)
		return ret;
	if (from > st.written_seq)
		return 0;
	ret = gd_fork_save(e->lg, gd_statedir_path(e->d->sd), e->name, from,
			   st.written_seq, &fk);
	if (ret) {
		gd_err("volume %s: cannot keep records %llu..%llu in a fork file: %s", e->name,
		       (unsigned long long)from, (unsigned long long)st.written_seq,
		       strerror(-ret));
		return ret;
	}
	ret = e->lg->ops->truncate(e->lg, from - 1);
	if (ret) {
		gd_err("volume %s: truncate after %llu: %s", e->name,
		       (unsigned long long)from - 1, strerror(-ret));
		return ret;
	}
	gd_warn("volume %s: records %llu..%llu (terms %llu..%llu) truncated, kept in %s",
		e->name, (unsigned long long)fk.from, (unsigned long long)fk.to,
		(unsigned long long)fk.term_first, (unsigned long long)fk.term_last, fk.path);
	if (e->nforks == ENG_MAX_FORKS)
		memmove(e->forks, e->forks + 1, sizeof(e->forks[0]) * --e->nforks);
	e->forks[e->nforks++] = fk;
	e->forks_total++;
	gd_event(e->d, "fork", json_pack("{s:s, s:I, s:I, s:s}", "volume", e->name,
					 "from", (json_int_t)fk.from, "to", (json_int_t)fk.to,
					 "path", fk.path));
	return 0;
}

static void on_role(struct engine *e, const struct gr_ready *rd, uint64_t now)
{
	bool was_leader = e->role == GR_LEADER;
	int ret;

	if (rd->role == GR_LEADER && !was_leader) {
		ret = e->lg->ops->set_role(e->lg, GEOREP_ROLE_PRIMARY, rd->term);
		if (ret)
			engine_fail(e, "cannot make the ledger primary in term %llu: %s",
				    (unsigned long long)rd->term, strerror(-ret));
		e->elections_won++;
	} else if (rd->role != GR_LEADER) {
		/* fencing first: a deposed primary stops taking writes now */
		ret = e->lg->ops->set_role(e->lg, GEOREP_ROLE_SECONDARY, rd->term);
		if (ret)
			engine_fail(e, "cannot make the ledger secondary in term %llu: %s",
				    (unsigned long long)rd->term, strerror(-ret));
		if (was_leader) {
			/* records the ledger wrote but the core never saw */
			fork_and_truncate(e, e->core_last + 1);
		}
	}
	if (rd->role != e->role || rd->term != e->term || rd->leader != e->leader) {
		gd_info("volume %s: %s in term %llu, leader %s", e->name, role_name(rd->role),
			(unsigned long long)rd->term,
			rd->leader ? site_name(e, rd->leader) ?: "?" : "unknown");
		gd_event(e->d, "role", json_pack("{s:s, s:s, s:I, s:s?}", "volume", e->name,
						 "role", role_name(rd->role),
						 "term", (json_int_t)rd->term, "leader",
						 rd->leader ? site_name(e, rd->leader) : NULL));
	}
	if (rd->role != e->role)
		e->role_since_ns = now;
	e->role = rd->role;
	e->term = rd->term;
	e->leader = rd->leader;
	if (rd->leader)
		e->last_leader = rd->leader;
}

/* Leader: the core appended entries (its barrier) the ledger must write. */
static int leader_appends(struct engine *e, uint64_t from, uint64_t to)
{
	struct gd_ledger_status st;
	uint64_t seq;
	struct gr_entry ent;
	int ret;

	ret = e->lg->ops->status(e->lg, &st);
	if (ret)
		return ret;
	for (seq = from; seq <= to; seq++) {
		if (seq <= st.written_seq)
			continue;	/* a proposed record: already there */
		if (gr_entry_get(e->n, seq, &ent) || ent.kind != GR_ENTRY_NOOP) {
			engine_fail(e, "core appended entry %llu of kind %u beyond the ledger",
				    (unsigned long long)seq, ent.kind);
			return -EIO;
		}
		ret = e->lg->ops->noop(e->lg, &st.written_seq);
		if (ret) {
			engine_fail(e, "barrier record: %s", strerror(-ret));
			return ret;
		}
		if (st.written_seq < seq) {
			engine_fail(e, "barrier got seq %llu, the core expects %llu",
				    (unsigned long long)st.written_seq, (unsigned long long)seq);
			return -EIO;
		}
		/*
		 * A client write that raced between set_role and noop holds
		 * seq: it stands for the barrier; the NOOP is proposed later.
		 */
	}
	return 0;
}

/* Decode a header of a checked RECORDS batch: it may sit unaligned in the frame. */
static int rec_decode(const struct georep_record *h, struct georep_rec *rec)
{
	struct georep_record copy;

	memcpy(&copy, h, sizeof(copy));
	return georep_record_decode(&copy, sizeof(copy), rec, NULL, 0);
}

/* Follower: append records @from..@to of the RECORDS batch @recs. */
static int follower_appends(struct engine *e, const struct gr_records *recs,
			    uint64_t from, uint64_t to, uint64_t *term)
{
	const struct georep_record *h;
	const uint8_t *payload;
	struct georep_rec rec;
	size_t pos = 0;
	int ret;

	if (!recs || from < recs->first_seq || to >= recs->first_seq + recs->count) {
		engine_fail(e, "core asks to append %llu..%llu without those records",
			    (unsigned long long)from, (unsigned long long)to);
		return -EIO;
	}
	while (gr_records_next(recs, &pos, &h, &payload)) {
		ret = rec_decode(h, &rec);
		if (ret)
			return ret;
		if (rec.seq < from)
			continue;
		if (rec.seq > to)
			break;
		ret = e->lg->ops->append(e->lg, h, GEOREP_RECORD_HDR_SIZE + rec.payload_len);
		if (ret) {
			engine_fail(e, "ledger refused record %llu: %s",
				    (unsigned long long)rec.seq, strerror(-ret));
			return ret;
		}
		*term = rec.term;
		e->appended++;
	}
	return 0;
}

static bool ready_empty(const struct gr_ready *rd)
{
	return !rd->hs_changed && !rd->trunc_from && !rd->resync && !rd->append_from &&
	       !rd->commit_changed && !rd->ack_changed && !rd->role_changed &&
	       !rd->writable_changed && !rd->n_msgs;
}

/*
 * Handle every ready until the core has nothing more to say. @recs: the
 * RECORDS batch of the APPEND just stepped (follower), else NULL.
 */
static int engine_process(struct engine *e, const struct gr_records *recs)
{
	uint64_t now = gr_now_ns();
	int ret = 0;

	while (!e->failed) {
		struct gr_ready *rd = gr_ready_get(e->n);
		uint64_t persist_seq = 0, persist_term = 0, applied = 0;
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
			on_role(e, rd, now);
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
			ret = fork_and_truncate(e, rd->trunc_from);
			if (ret) {
				engine_fail(e, "truncation from %llu failed: %s",
					    (unsigned long long)rd->trunc_from, strerror(-ret));
				gr_ready_done(e->n);
				return ret;
			}
		}
		/* 3. a full resync: data chunks arrive as RESYNC frames */
		if (rd->resync) {
			int from = site_index(e, rd->resync_from);

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
		/* 4. appends */
		if (rd->append_from) {
			if (e->role == GR_LEADER)
				ret = leader_appends(e, rd->append_from, rd->append_to);
			else
				ret = follower_appends(e, recs, rd->append_from, rd->append_to,
						       &persist_term);
			if (ret) {
				gr_ready_done(e->n);
				return ret;
			}
			persist_seq = rd->append_to;
			if (e->role == GR_LEADER) {
				struct gr_entry ent;

				if (!gr_entry_get(e->n, persist_seq, &ent))
					persist_term = ent.term;
			}
		}
		/* 5. messages */
		for (i = 0; i < rd->n_msgs; i++)
			send_msg(e, &rd->msgs[i]);
		/* 6. commit, apply, writability */
		if (rd->commit_changed && !e->rs_in.active) {
			struct gd_ledger_status st;

			ret = e->lg->ops->set_commit(e->lg, rd->commit_seq);
			if (ret && gd_ratelimit(&e->rl))
				gd_warn("volume %s: set commit %llu: %s", e->name,
					(unsigned long long)rd->commit_seq, strerror(-ret));
			if (!e->lg->ops->status(e->lg, &st))
				applied = st.applied_seq;
		}
		if (rd->writable_changed) {
			e->writable = rd->writable;
			if (rd->writable)
				e->writable_since_ns = now;
			gd_info("volume %s: %s", e->name, rd->writable ?
				"writable (primary, lease held)" : "not writable");
			gd_event(e->d, "writable", json_pack("{s:s, s:b}", "volume", e->name,
							     "writable", rd->writable));
		}
		gr_ready_done(e->n);
		gr_status(e->n, &gs);
		e->core_last = gs.last_seq;
		if (persist_seq)
			gr_persisted(e->n, persist_seq, persist_term);
		if (applied)
			gr_applied(e->n, applied);
		recs = NULL;
		if (e->restart_node)
			break;
	}
	if (e->restart_node && !e->failed) {
		e->restart_node = false;
		gr_node_free(e->n);
		e->n = NULL;
		ret = node_start(e);
		if (ret)
			engine_fail(e, "cannot rebuild consensus from the ledger: %s",
				    strerror(-ret));
		e->role = GR_FOLLOWER;
		e->leader = 0;
		e->writable = false;
	}
	return ret;
}

/* Leader: propose every record the ledger wrote past the core's log. */
static void engine_pump(struct engine *e)
{
	uint64_t now = gr_now_ns();
	struct gr_status gs;

	while (!e->failed && e->role == GR_LEADER && e->writable) {
		struct georep_rec rec;
		const uint8_t *hdr, *payload;
		uint64_t last_seq = 0, last_term = 0;
		size_t off = 0;
		ssize_t n;
		bool full = false;

		gr_status(e->n, &gs);
		if (ensure_buf(e, 2U << 20))
			return;
		n = e->lg->ops->read(e->lg, gs.last_seq + 1, e->buf, e->bufcap);
		if (n == -EMSGSIZE && !ensure_buf(e, e->bufcap * 2))
			continue;
		if (n <= 0) {
			if (n < 0 && gd_ratelimit(&e->rl))
				gd_warn("volume %s: reading the ledger at %llu: %s", e->name,
					(unsigned long long)gs.last_seq + 1, strerror(-n));
			return;
		}
		while (!georep_record_next(e->buf, n, &off, &rec, &hdr, &payload, NULL, 0)) {
			int64_t s;

			if (rec.term != e->term) {
				engine_fail(e, "ledger record %llu has term %llu, leader term is %llu",
					    (unsigned long long)rec.seq,
					    (unsigned long long)rec.term,
					    (unsigned long long)e->term);
				return;
			}
			s = gr_propose(e->n, rec.payload_len, now);
			if (s == -EAGAIN || s == -ENOSPC || s == -GR_ENOTLEADER) {
				full = true;
				break;
			}
			if (s < 0 || (uint64_t)s != rec.seq) {
				engine_fail(e, "the core gave seq %lld to ledger record %llu",
					    (long long)s, (unsigned long long)rec.seq);
				return;
			}
			e->proposed++;
			last_seq = rec.seq;
			last_term = rec.term;
		}
		if (last_seq) {
			engine_process(e, NULL);
			/* the ledger's records are durable once readable */
			gr_persisted(e->n, last_seq, last_term);
			engine_process(e, NULL);
		}
		if (full || !last_seq)
			return;
	}
}

static void ledger_ready(struct gr_io *io, uint32_t events, void *arg)
{
	struct engine *e = arg;

	struct gd_ledger_status st;
	struct gr_status gs;

	engine_pump(e);
	/* level-triggered: wait for the next tick while the core cannot take them */
	gr_status(e->n, &gs);
	if (e->role != GR_LEADER || !e->writable || e->lg->ops->status(e->lg, &st) ||
	    st.written_seq != gs.last_seq)
		gr_io_set_events(io, 0);
}

/* Leader: stream the data device to followers being resynced. */
static void resync_send(struct engine *e)
{
	const struct gr_cluster *c = gd_cluster(e->d);
	uint64_t t0 = gr_now_ns();
	struct gd_ledger_status st;
	size_t i;
	int k;

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
			ssize_t n = read_records(e, ro->seq, 1, 0);

			if (n <= 0)
				continue;
			f.records.count = 1;
			f.records.first_seq = ro->seq;
			f.records.data = e->buf;
			f.records.len = n;
			send_frame(e, i, &f);
			ro->anchor_sent = true;
		}
		for (k = 0; k < ENG_RESYNC_PER_TICK && ro->off < st.data_bytes &&
			    gr_now_ns() - t0 < ENG_RESYNC_BUDGET_NS; k++) {
			struct gr_frame f = { .hdr.type = GR_FT_RESYNC };
			uint32_t len = st.data_bytes - ro->off < ENG_RESYNC_CHUNK ?
				       st.data_bytes - ro->off : ENG_RESYNC_CHUNK;

			if (ensure_buf(e, len) ||
			    e->lg->ops->data_read(e->lg, ro->off, e->buf, len))
				break;
			f.resync.offset = ro->off;
			f.resync.length = len;
			f.resync.data = e->buf;
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
static int resync_recv(struct engine *e, unsigned int from, const struct gr_frame *f)
{
	struct resync_in *ri = &e->rs_in;
	struct gd_ledger_status st;
	int ret;

	if (ri->active && ri->from == from && !f->resync.offset)
		ri->off = 0;	/* the leader (re)started the copy */
	if (!ri->active || ri->from != from || f->resync.offset != ri->off)
		return 0;	/* stale or out of order: the leader restarts it */
	ret = e->lg->ops->data_write(e->lg, f->resync.offset, f->resync.data,
				     f->resync.length);
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
	ret = e->lg->ops->reset(e->lg, ri->seq, ri->term, ri->chain);
	if (ret) {
		engine_fail(e, "ledger reset to %llu: %s", (unsigned long long)ri->seq,
			    strerror(-ret));
		return 0;
	}
	ri->active = false;
	e->resyncs_done++;
	gd_info("volume %s: resync installed at seq %llu", e->name, (unsigned long long)ri->seq);
	gr_persisted(e->n, ri->seq, ri->term);
	engine_process(e, NULL);
	return 0;
}

static int eng_on_frame(struct gr_replica *r, unsigned int from, const struct gr_frame *f)
{
	struct engine *e = (struct engine *)r;
	uint64_t now = gr_now_ns();
	char err[GR_WIRE_ERRLEN];
	struct gr_msg m;
	size_t pos = 0;
	uint32_t i = 0;
	const struct georep_record *h;
	const uint8_t *payload;
	struct georep_rec rec;

	if (e->drop[from]) {
		e->frames_dropped++;
		return 0;
	}
	if (e->failed)
		return 0;
	switch (f->hdr.type) {
	case GR_FT_CONSENSUS:
		if (gr_wire_msg_decode(f->consensus.data, f->consensus.len, &m, err))
			return -EPROTO;
		if (m.from != e->ids[from] || m.to != e->self_id)
			return -EPROTO;
		e->pending[from] = false;
		/*
		 * While a resync is being copied the core already holds the
		 * resync point (not durable yet): a repeated RESYNC would make
		 * it acknowledge that point and an APPEND would append after
		 * it. Treat both as lost until the copy is installed.
		 */
		if (e->rs_in.active && (m.type == GR_MSG_RESYNC || m.type == GR_MSG_APPEND))
			return 0;
		if (m.type == GR_MSG_APPEND && m.n_entries) {
			if (m.n_entries > GR_WIRE_MAX_RECORDS)
				return -EPROTO;
			e->pending_msg[from] = m;
			e->pending[from] = true;
			return 0;
		}
		gr_step(e->n, &m, now);
		engine_process(e, NULL);
		engine_pump(e);
		return 0;
	case GR_FT_RECORDS:
		if (e->rs_in.active && e->rs_in.from == from && f->records.count == 1 &&
		    f->records.first_seq == e->rs_in.seq && !e->pending[from]) {
			gr_records_next(&f->records, &pos, &h, &payload);
			if (rec_decode(h, &rec) || rec.term != e->rs_in.term)
				return -EPROTO;
			memcpy(e->rs_in.chain, rec.chain_hash, GEOREP_HASH_LEN);
			e->rs_in.have_anchor = true;
			return 0;
		}
		if (!e->pending[from])
			return 0;	/* its APPEND was lost or superseded */
		m = e->pending_msg[from];
		e->pending[from] = false;
		if (f->records.count != m.n_entries || f->records.first_seq != m.seq + 1)
			return -EPROTO;
		while (gr_records_next(&f->records, &pos, &h, &payload)) {
			if (rec_decode(h, &rec))
				return -EPROTO;
			e->ents[i].term = rec.term;
			e->ents[i].bytes = rec.payload_len;
			e->ents[i].kind = rec.op == GEOREP_OP_NOOP ? GR_ENTRY_NOOP :
					  GR_ENTRY_DATA;
			e->ents[i].conf_op = 0;
			e->ents[i].conf_site = 0;
			i++;
		}
		m.entries = e->ents;
		gr_step(e->n, &m, now);
		engine_process(e, &f->records);
		return 0;
	case GR_FT_RESYNC:
		return resync_recv(e, from, f);
	case GR_FT_ACK:
		return 0;	/* acknowledgements travel as APPEND_RESP */
	default:
		return -EPROTO;
	}
}

/*
 * Release retained records: once every replica holds them (leader), a
 * follower past ENG_FOLLOWER_KEEP (all applied ones once its log is half
 * full); in batches of ENG_COMPACT_MIN records unless the log is a quarter
 * full; and, when the retained log passes 3/4 of the core's capacity or of
 * the log device, or @force (tests), at the applied seq even though a
 * replica still needs them: that replica then gets a full resync.
 */
static void compact(struct engine *e, bool force)
{
	const struct gr_cluster *c = gd_cluster(e->d);
	struct gd_ledger_status st;
	struct gr_status gs;
	uint64_t keep, applied;
	size_t i;

	gr_status(e->n, &gs);
	if (e->lg->ops->status(e->lg, &st))
		return;
	applied = keep = st.applied_seq < gs.applied_seq ? st.applied_seq : gs.applied_seq;
	if (e->role == GR_LEADER) {
		for (i = 0; i < c->nsites; i++) {
			struct gr_progress_info pi;

			if (!e->ids[i] || i == gd_self(e->d))
				continue;
			if (gr_progress(e->n, e->ids[i], &pi))
				continue;
			if (e->rs_out[i].active && e->rs_out[i].seq < keep)
				keep = e->rs_out[i].seq;
			if (pi.match < keep)
				keep = pi.match;
		}
	} else if (!(st.log_size && st.log_used * 2 > st.log_size)) {
		keep = keep > ENG_FOLLOWER_KEEP ? keep - ENG_FOLLOWER_KEEP : 0;
	}
	/* a full log throttles writers (and blocks a secondary's appends) */
	if (force || gs.last_seq - gs.snap_seq > e->cfg.log_capacity / 4 * 3 ||
	    (st.log_size && st.log_used * 4 > st.log_size * 3))
		keep = applied;
	/* the record at the compaction point stays: its term and chain anchor the log */
	if (keep > gs.snap_seq && (force || keep > gs.snap_seq + ENG_COMPACT_MIN ||
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
	compact(e, false);
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
		gr_tick(e->n, now);
		engine_process(e, NULL);
		engine_pump(e);
		if (e->lio && e->role == GR_LEADER && e->writable)
			gr_io_set_events(e->lio, EPOLLIN);
		resync_send(e);
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
}

/* Majority of voters reachable (this site counts)? */
static bool have_quorum(const struct engine *e)
{
	const struct gr_conf *conf = gr_conf_active(e->n);
	unsigned int voters = 0, up = 0, i;

	for (i = 0; i < conf->n; i++) {
		int idx;

		if (!conf->voter[i])
			continue;
		voters++;
		idx = site_index(e, conf->site[i]);
		if (conf->site[i] == e->self_id ||
		    (idx >= 0 && gd_peer_up(e->d, idx) && !e->drop[idx]))
			up++;
	}
	return 2 * up > voters;
}

/*
 * The quorum-loss policy's state: "ok", or, when this site was the last
 * primary it knows of and cannot reach a majority, "suspended: no quorum"
 * (writes wait) or "failing: no quorum" (writes fail with EIO).
 */
static const char *policy_state(const struct engine *e)
{
	if (e->failed)
		return "failed";
	if (e->last_leader != e->self_id || have_quorum(e))
		return "ok";
	return e->vol->cfg->quorum_loss == GR_QLOSS_FAIL ? "failing: no quorum" :
	       "suspended: no quorum";
}

static json_t *eng_status(struct gr_replica *r)
{
	struct engine *e = (struct engine *)r;
	const struct gr_cluster *c = gd_cluster(e->d);
	uint64_t now = gr_now_ns();
	struct gd_ledger_status st = { 0 };
	struct gr_status gs;
	json_t *sites = json_array(), *forks = json_array(), *o;
	size_t i;
	unsigned int k;

	gr_status(e->n, &gs);
	e->lg->ops->status(e->lg, &st);
	for (i = 0; i < c->nsites; i++) {
		struct gr_progress_info pi;
		const struct gd_peer *p = &e->d->peers[i];
		bool self = i == gd_self(e->d);
		json_t *so;

		if (!e->ids[i])
			continue;
		so = json_pack("{s:s, s:I, s:s, s:b}", "site", c->sites[i].name,
			       "site_id", (json_int_t)e->ids[i], "role",
			       e->ids[i] == gs.leader ? "primary" : "secondary",
			       "connected", self || (gd_peer_up(e->d, i) && !e->drop[i]));
		if (!so)
			continue;
		if (self) {
			json_object_set_new(so, "term", json_integer(gs.term));
			json_object_set_new(so, "written_seq", json_integer(st.written_seq));
			json_object_set_new(so, "commit_seq", json_integer(st.commit_seq));
			json_object_set_new(so, "applied_seq", json_integer(st.applied_seq));
		} else if (p->have_rtt) {
			json_object_set_new(so, "rtt_ms", json_real(p->srtt_ms));
		}
		if (gs.role == GR_LEADER && !gr_progress(e->n, e->ids[i], &pi)) {
			uint64_t bytes = 0, s;
			struct gr_entry ent;
			static const char *const prs[] = { "probe", "replicate", "resync" };

			for (s = pi.match + 1; s <= gs.last_seq && s <= pi.match + 100000; s++)
				if (!gr_entry_get(e->n, s, &ent))
					bytes += ent.bytes + GEOREP_RECORD_HDR_SIZE;
			json_object_set_new(so, "match_seq", json_integer(pi.match));
			json_object_set_new(so, "state", json_string(pi.state <= GR_PR_RESYNC ?
								     prs[pi.state] : "?"));
			json_object_set_new(so, "lag_records", json_integer(gs.last_seq - pi.match));
			json_object_set_new(so, "lag_bytes", json_integer(bytes));
			json_object_set_new(so, "lag_s", json_real(pi.match >= gs.last_seq ? 0 :
						(now - e->caught_up_ns[i]) / 1e9));
			json_object_set_new(so, "voter", json_boolean(pi.voter));
		}
		json_array_append_new(sites, so);
	}
	for (k = 0; k < e->nforks; k++)
		json_array_append_new(forks, json_pack("{s:s, s:I, s:I, s:I, s:I}",
						       "path", e->forks[k].path,
						       "from", (json_int_t)e->forks[k].from,
						       "to", (json_int_t)e->forks[k].to,
						       "records", (json_int_t)e->forks[k].records,
						       "bytes", (json_int_t)e->forks[k].bytes));
	o = json_pack("{s:s, s:s, s:s, s:I, s:s?, s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
		      " s:I, s:I, s:o, s:o, s:I}",
		      "engine", "consensus", "ledger", e->lg->ops->name,
		      "role", role_name(gs.role), "term", (json_int_t)gs.term,
		      "leader", gs.leader ? site_name(e, gs.leader) : NULL,
		      "writable", gs.writable, "policy", policy_state(e),
		      "last_seq", (json_int_t)gs.last_seq,
		      "commit_seq", (json_int_t)gs.commit_seq,
		      "written_seq", (json_int_t)st.written_seq,
		      "applied_seq", (json_int_t)st.applied_seq,
		      "tail_seq", (json_int_t)st.tail_seq,
		      "ledger_term", (json_int_t)st.term,
		      "proposed", (json_int_t)e->proposed,
		      "appended", (json_int_t)e->appended,
		      "elections_won", (json_int_t)e->elections_won,
		      "sites", sites, "forks", forks,
		      "forks_total", (json_int_t)e->forks_total);
	if (o) {
		json_object_set_new(o, "ledger_role", json_string(st.role == GEOREP_ROLE_PRIMARY ?
								 "primary" : "secondary"));
		json_object_set_new(o, "frames_dropped", json_integer(e->frames_dropped));
		json_object_set_new(o, "resyncs_done", json_integer(e->resyncs_done));
		if (e->failed)
			json_object_set_new(o, "error", json_string(e->fail_reason));
	}
	return o;
}

static int eng_switchover(struct gr_replica *r, unsigned int to, char *err)
{
	struct engine *e = (struct engine *)r;
	int ret;

	if (e->failed) {
		snprintf(err, GR_CTL_ERRLEN, "replication of %s stopped: %s", e->name,
			 e->fail_reason);
		return -EIO;
	}
	if (to == gd_self(e->d) && e->role == GR_LEADER)
		return 0;
	if (e->role != GR_LEADER) {
		snprintf(err, GR_CTL_ERRLEN, "site %s is not the primary of %s (primary: %s); ask it",
			 gd_cluster(e->d)->sites[gd_self(e->d)].name, e->name,
			 e->leader ? site_name(e, e->leader) : "unknown");
		return -ENOTCONN;
	}
	ret = gr_transfer(e->n, e->ids[to], gr_now_ns());
	if (ret) {
		snprintf(err, GR_CTL_ERRLEN, "transfer to %s refused by the consensus core: %s",
			 gd_cluster(e->d)->sites[to].name, strerror(-ret));
		return ret;
	}
	engine_process(e, NULL);
	return 0;
}

static int eng_failover(struct gr_replica *r, char *err);

static void eng_destroy(struct gr_replica *r)
{
	struct engine *e = (struct engine *)r;

	if (e->timer)
		gr_timer_free(e->timer);
	if (e->lio)
		gr_io_del(e->lio);
	gr_node_free(e->n);
	e->lg->ops->close(e->lg);
	free(e->ents);
	free(e->buf);
	free(e->fbuf);
	free(e);
}

static const struct gr_replica_ops engine_ops = {
	.on_frame = eng_on_frame,
	/* no on_tick: the engine ticks the core on its own 50 ms timer */
	.on_peer = eng_on_peer,
	.status_json = eng_status,
	.switchover = eng_switchover,
	.failover = eng_failover,
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

		if (len == -EMSGSIZE && !ensure_buf(e, e->bufcap * 2))
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
static int node_start(struct engine *e)
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
 * failover --force: make this site the only voter and elect it. The last
 * resort when a majority of the volume's sites is lost for good: records
 * committed only on the lost sites are lost, and the lost sites must not
 * rejoin with their old logs (rebuild them: delete their state and ledger).
 */
static int eng_failover(struct gr_replica *r, char *err)
{
	struct engine *e = (struct engine *)r;
	struct gd_vstate st = e->vol->state;
	uint32_t i;
	int ret;

	if (e->role == GR_LEADER) {
		snprintf(err, GR_CTL_ERRLEN, "site %s already is the primary of %s",
			 gd_cluster(e->d)->sites[gd_self(e->d)].name, e->name);
		return -EALREADY;
	}
	for (i = 0; i < st.nmembers; i++)
		st.members[i].voter = st.members[i].site_id == e->self_id;
	st.term++;
	st.vote = 0;
	ret = gd_volume_save_state(e->d, e->vol, &st);
	if (ret) {
		snprintf(err, GR_CTL_ERRLEN, "cannot save the new membership: %s", strerror(-ret));
		return ret;
	}
	gr_node_free(e->n);
	e->n = NULL;
	ret = node_start(e);
	if (ret) {
		snprintf(err, GR_CTL_ERRLEN, "cannot restart consensus: %s", strerror(-ret));
		engine_fail(e, "forced failover: %s", strerror(-ret));
		return ret;
	}
	gd_warn("volume %s: FORCED FAILOVER: this site is now the only voter (term %llu)",
		e->name, (unsigned long long)st.term);
	gd_event(e->d, "forced-failover", json_pack("{s:s, s:I}", "volume", e->name,
						    "term", (json_int_t)st.term));
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

int gd_engine_new(struct georepd *d, struct gd_volume *vol, struct gr_replica **out)
{
	const struct gr_cluster *c = gd_cluster(d);
	char err[GD_LEDGER_ERRLEN] = "";
	struct engine *e = calloc(1, sizeof(*e));
	size_t i;
	int ret, fd;

	if (!e)
		return -ENOMEM;
	e->r.ops = &engine_ops;
	e->r.d = e->d = d;
	e->r.vol = e->vol = vol;
	e->name = vol->cfg->name;
	e->rl = (struct gd_ratelimit)GD_RATELIMIT_INIT;
	e->self_id = c->sites[gd_self(d)].site_id;
	for (i = 0; i < vol->cfg->nreplicas; i++)
		e->ids[vol->cfg->replicas[i].site] = c->sites[vol->cfg->replicas[i].site].site_id;
	e->ents = calloc(GR_WIRE_MAX_RECORDS, sizeof(*e->ents));
	e->fbuf = malloc(GR_WIRE_MSG_FIXED + 8 * GR_MAX_SITES);
	ret = -ENOMEM;
	if (!e->ents || !e->fbuf || ensure_buf(e, 2U << 20))
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
	ret = node_start(e);
	if (ret) {
		gd_err("volume %s: cannot start consensus: %s", e->name, strerror(-ret));
		goto out_close;
	}
	e->timer = gr_timer_new(gd_loop(d), eng_timer, e);
	if (!e->timer) {
		ret = -ENOMEM;
		goto out_close;
	}
	gr_timer_arm(e->timer, ENG_TICK_MS);
	fd = e->lg->ops->poll_fd(e->lg);
	if (fd >= 0) {
		e->lio = gr_io_add(gd_loop(d), fd, 0, ledger_ready, e);
		if (!e->lio) {
			ret = -errno;
			goto out_close;
		}
	}
	gd_info("volume %s: consensus engine on the %s ledger, %u members", e->name,
		e->lg->ops->name, e->cfg.conf.n);
	*out = &e->r;
	return 0;

out_close:
	if (e->timer)
		gr_timer_free(e->timer);
	gr_node_free(e->n);
	e->lg->ops->close(e->lg);
out_free:
	free(e->ents);
	free(e->fbuf);
	free(e->buf);
	free(e);
	return ret;
}

/* ---- test-only control requests (mem ledger) ---- */

static struct engine *req_engine(struct georepd *d, json_t *req, char *err)
{
	const char *name = json_string_value(json_object_get(req, "volume"));
	size_t i;

	for (i = 0; name && i < d->nvols; i++)
		if (!strcmp(d->vols[i].cfg->name, name) && d->vols[i].replica &&
		    d->vols[i].replica->ops == &engine_ops)
			return (struct engine *)d->vols[i].replica;
	snprintf(err, GR_CTL_ERRLEN, "no engine for volume \"%.64s\"", name ?: "");
	return NULL;
}

static int h_test_write(struct gr_ctl_client *cl, json_t *req, json_t **resp, char *err,
			void *arg)
{
	struct engine *e = req_engine(arg, req, err);
	json_int_t off = 0, blocks = 1, byte = 0;
	uint64_t seq = 0, first = 0;
	uint8_t *buf;
	json_int_t i;
	int ret = 0;

	if (!e)
		return -EINVAL;
	if (json_unpack(req, "{s?I, s?I, s?I}", "offset", &off, "blocks", &blocks,
			"byte", &byte) || blocks < 1 || blocks > 256 || off < 0) {
		snprintf(err, GR_CTL_ERRLEN, "bad offset/blocks/byte");
		return -EINVAL;
	}
	if (!e->lg->ops->client_write) {
		snprintf(err, GR_CTL_ERRLEN, "the %s ledger takes no test writes",
			 e->lg->ops->name);
		return -EOPNOTSUPP;
	}
	/* suspend: the write goes to the ledger and waits for its commit */
	if (strcmp(policy_state(e), "ok") && e->vol->cfg->quorum_loss == GR_QLOSS_FAIL) {
		snprintf(err, GR_CTL_ERRLEN, "%s", policy_state(e));
		return -EIO;
	}
	buf = malloc(GEOREP_BLOCK_SIZE);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < blocks && !ret; i++) {
		memset(buf, (int)(byte + i), GEOREP_BLOCK_SIZE);
		memcpy(buf, &seq, sizeof(seq));
		ret = e->lg->ops->client_write(e->lg, (off + i) * GEOREP_BLOCK_SIZE, buf,
					       GEOREP_BLOCK_SIZE, &seq);
		if (!first)
			first = seq;
	}
	free(buf);
	if (ret) {
		snprintf(err, GR_CTL_ERRLEN, "write: %s", strerror(-ret));
		return ret;
	}
	engine_pump(e);
	*resp = json_pack("{s:I, s:I}", "first_seq", (json_int_t)first, "last_seq",
			  (json_int_t)seq);
	return 0;
}

static int h_test_read(struct gr_ctl_client *cl, json_t *req, json_t **resp, char *err,
		       void *arg)
{
	struct engine *e = req_engine(arg, req, err);
	json_int_t off = 0, len = 0;
	uint8_t sha[GEOREP_HASH_LEN];
	char hex[2 * GEOREP_HASH_LEN + 1];
	uint8_t *buf;
	int ret;

	if (!e)
		return -EINVAL;
	if (json_unpack(req, "{s:I, s:I}", "offset", &off, "length", &len) || off < 0 ||
	    len <= 0 || len > (64 << 20)) {
		snprintf(err, GR_CTL_ERRLEN, "bad offset/length");
		return -EINVAL;
	}
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	ret = e->lg->ops->data_read(e->lg, off, buf, len);
	if (!ret) {
		gr_wire_sha256(buf, len, sha);
		georep_hex(sha, sizeof(sha), hex);
		*resp = json_pack("{s:s}", "sha256", hex);
	} else {
		snprintf(err, GR_CTL_ERRLEN, "read: %s", strerror(-ret));
	}
	free(buf);
	return ret;
}

static int h_test_drop(struct gr_ctl_client *cl, json_t *req, json_t **resp, char *err,
		       void *arg)
{
	struct georepd *d = arg;
	const char *site = NULL;
	int drop = 1, idx;
	size_t i;

	if (json_unpack(req, "{s:s, s?b}", "site", &site, "drop", &drop) ||
	    (idx = gr_cluster_site_index(d->cfg, site)) < 0) {
		snprintf(err, GR_CTL_ERRLEN, "need \"site\" (a site name) and \"drop\"");
		return -EINVAL;
	}
	for (i = 0; i < d->nvols; i++)
		if (d->vols[i].replica && d->vols[i].replica->ops == &engine_ops)
			((struct engine *)d->vols[i].replica)->drop[idx] = drop;
	*resp = json_pack("{s:s, s:b}", "site", site, "drop", drop);
	return 0;
}

static int h_test_compact(struct gr_ctl_client *cl, json_t *req, json_t **resp, char *err,
			  void *arg)
{
	struct engine *e = req_engine(arg, req, err);
	struct gr_status gs;

	if (!e)
		return -EINVAL;
	compact(e, true);
	gr_status(e->n, &gs);
	*resp = json_pack("{s:I}", "snap_seq", (json_int_t)gs.snap_seq);
	return 0;
}

void gd_engine_register_test_cmds(struct georepd *d)
{
	if (gr_ctl_register(d->ctl, "test-compact", h_test_compact, d) ||
	    gr_ctl_register(d->ctl, "test-write", h_test_write, d) ||
	    gr_ctl_register(d->ctl, "test-read", h_test_read, d) ||
	    gr_ctl_register(d->ctl, "test-drop", h_test_drop, d))
		gd_warn("cannot register the test control requests");
}
