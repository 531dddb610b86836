// SPDX-License-Identifier: GPL-2.0
/*
 * Follower side of the replication engine: incoming frames, and the records
 * of an APPEND appended to the ledger before the core acknowledges them.
 */
#include <errno.h>
#include <string.h>

#include "engine_internal.h"
#include "genesis.h"

/* Decode a header of a checked RECORDS batch: it may sit unaligned in the frame. */
static int rec_decode(const struct georep_record *h, struct georep_rec *rec)
{
	struct georep_record copy;

	memcpy(&copy, h, sizeof(copy));
	return georep_record_decode(&copy, sizeof(copy), rec, NULL, 0);
}

/*
 * Why the ledger refused a record (or a resync chunk or anchor), by the
 * errno of its checks; NULL: not a refusal but a failure of this site
 */
const char *eng_refusal(int err)
{
	switch (err) {
	case -EINVAL:
		return "malformed record";
	case -EILSEQ:
		return "not the next seq";
	case -ESTALE:
		return "term out of range";
	case -EBADMSG:
		return "payload, chain or seal does not verify";
	case -ENOKEY:
		return "sealed with a key epoch not installed here";
	default:
		return NULL;
	}
}

/*
 * The ledger refused @what @at (a record, a resync chunk or its anchor)
 * from peer @from, @why (eng_refusal(); Documentation/security.rst,
 * "Replay"): the peer is at fault, not this site. Nothing of it was stored;
 * the core, which may have believed it done, is rebuilt from the ledger,
 * as after a restart, and the connection to that peer is refused
 * (-EPROTO). A replayed or forged record thus costs the sender its
 * connection, never this site its replication.
 */
int eng_peer_refused(struct engine *e, unsigned int from, const char *what,
		     unsigned long long at, const char *why)
{
	e->records_refused++;
	if (gd_ratelimit(&e->rl))
		gd_warn("volume %s: %s %llu from %s refused: %s; consensus rebuilt from the ledger",
			e->name, what, at, gd_cluster(e->d)->sites[from].name, why);
	e->restart_node = true;
	return -EPROTO;
}

/*
 * The log has no room for record @seq (ENOSPC): what arrived came faster
 * than the follower's release (every ENG_FOLLOWER_COMPACT_NS), or records
 * not yet applied fill it. Nothing of it was stored, and the leader is not
 * at fault: the core, which believed the append done, is rebuilt from the
 * ledger (its connections stay), engine_process() applies and releases
 * what the leader committed, and the leader sends the records again from
 * where this log ends. Before December 2026 this stopped the site's
 * replication for good; it still does when nothing was applied over
 * refusals that follow each other for e->log_full_stall_ns (60 s; the
 * data device no longer takes writes, not a leader away meanwhile).
 */
static int log_full(struct engine *e, uint64_t seq)
{
	struct gd_ledger_status st;
	uint64_t now = gr_now_ns();

	if (e->lg->ops->status(e->lg, &st)) {
		engine_fail(e, "ledger refused record %llu: log full, and no status",
			    (unsigned long long)seq);
		return -EIO;
	}
	if (!e->log_full || st.applied_seq != e->log_full_applied ||
	    now - e->log_full_last_ns > ENG_LOG_FULL_GAP_NS) {
		e->log_full_applied = st.applied_seq;
		e->log_full_since_ns = now;
	} else if (now - e->log_full_since_ns > e->log_full_stall_ns) {
		engine_fail(e, "log full at record %llu and nothing applied for %llu ms (applied %llu, written %llu)",
			    (unsigned long long)seq, (unsigned long long)e->log_full_stall_ns / 1000000,
			    (unsigned long long)st.applied_seq,
			    (unsigned long long)st.written_seq);
		return -EIO;
	}
	e->log_full++;
	e->log_full_last_ns = now;
	if (gd_ratelimit(&e->rl_full))
		gd_warn("volume %s: log full at record %llu (%llu of %llu bytes used, applied %llu, written %llu): "
			"releasing what was applied, the leader sends the rest again",
			e->name, (unsigned long long)seq, (unsigned long long)st.log_used,
			(unsigned long long)st.log_size, (unsigned long long)st.applied_seq,
			(unsigned long long)st.written_seq);
	e->restart_node = true;
	return -ENOSPC;
}

/*
 * The bytes of records @from..@to in the RECORDS batch @recs: whole records
 * back to back, seqs first_seq, first_seq + 1... (checked when decoded)
 */
static int append_span(const struct gr_records *recs, uint64_t from, uint64_t to,
		       const uint8_t **start, size_t *len)
{
	const uint8_t *p = recs->data, *end = recs->data + recs->len;
	uint64_t seq;
	size_t n;

	*start = NULL;
	for (seq = recs->first_seq; seq <= to; seq++, p += n) {
		n = georep_record_span(p, end - p);
		if (!n)
			return -EINVAL;
		if (seq == from)
			*start = p;
	}
	*len = *start ? (size_t)(p - *start) : 0;
	return *len ? 0 : -EINVAL;
}

/* the records of @n bytes at @p were appended (and are durable) */
static void appended(struct engine *e, const uint8_t *p, size_t n, uint64_t *term)
{
	const struct georep_record *h;
	struct georep_rec rec;
	size_t len;

	for (; n; p += len, n -= len) {
		h = (const void *)p;
		len = georep_record_span(p, n);
		if (!len || rec_decode(h, &rec))
			break;	/* the batch was decoded whole before: cannot happen */
		*term = rec.term;
		if (rec.seal_epoch > e->kr.seen)
			e->kr.seen = rec.seal_epoch;
		e->appended++;
		eng_mtree_feed(e, &rec, h);
		eng_heal_appended(e, &rec);
	}
}

/*
 * Follower: append records @from..@to of the RECORDS batch @recs, in one
 * ledger call when nothing is refused (one write(2) and one flush for all
 * of them, kmod/append.c). A record sealed with an epoch this site no
 * longer holds gets its key installed again, once, from the key directory.
 */
int eng_follower_appends(struct engine *e, const struct gr_records *recs,
			 uint64_t from, uint64_t to, uint64_t *term)
{
	const uint8_t *p;
	struct georep_rec rec;
	bool retried = false;
	uint64_t t0;
	size_t left;
	ssize_t n;

	if (!recs || from < recs->first_seq || to >= recs->first_seq + recs->count ||
	    append_span(recs, from, to, &p, &left)) {
		engine_fail(e, "core asks to append %llu..%llu without those records",
			    (unsigned long long)from, (unsigned long long)to);
		return -EIO;
	}
	while (left) {
		t0 = gr_now_ns();
		n = e->lg->ops->append(e->lg, p, left);
		e->append_calls++;
		e->append_ns += gr_now_ns() - t0;
		if (n > 0) {
			appended(e, p, n, term);
			p += n;
			left -= n;
			retried = false;
			continue;
		}
		if (rec_decode((const void *)p, &rec))
			return -EIO;
		if (n == -ENOKEY && !retried &&
		    !eng_key_reinstall(e, e->recs_from, rec.seal_epoch, rec.seq)) {
			retried = true;
			continue;
		}
		if (eng_refusal(n))
			return eng_peer_refused(e, e->recs_from, "record", rec.seq,
						eng_refusal(n));
		if (n == -ENOSPC)
			return log_full(e, rec.seq);
		engine_fail(e, "ledger refused record %llu: %s", (unsigned long long)rec.seq,
			    strerror(n ? -n : EIO));
		return n ? n : -EIO;
	}
	return 0;
}

/*
 * A RESYNC from the leader copying to us, at a point past ours: its log no
 * longer holds the record we are copying to, and its chunks now carry the
 * new point's seal. The core takes it as a new resync (nothing of ours is
 * durable yet), and resync_start() restarts the copy from offset 0.
 */
static bool resync_moved(const struct engine *e, unsigned int from, const struct gr_msg *m)
{
	return from == e->rs_in.from && m->term == e->rs_in_term && m->seq > e->rs_in.seq;
}

/* A consensus message: to the core, or held until its RECORDS come. */
static int on_consensus(struct engine *e, unsigned int from, const struct gr_frame *f,
			uint64_t now)
{
	char err[GR_WIRE_ERRLEN];
	struct gr_msg m;

	if (gr_wire_msg_decode(f->consensus.data, f->consensus.len, &m, err)) {
		gd_warn("volume %s: consensus frame from %s refused: %s", e->name,
			eng_site_name(e, e->ids[from]) ?: "?", err);
		return -EPROTO;
	}
	if (m.from != e->ids[from] || m.to != e->self_id) {
		gd_warn("volume %s: consensus frame on %s's link says from %u to %u (this site is %u)",
			e->name, eng_site_name(e, e->ids[from]) ?: "?", m.from, m.to,
			e->self_id);
		return -EPROTO;
	}
	if (m.has_progress) {
		e->peer_seqs[from].valid = true;
		e->peer_seqs[from].written = m.p_written;
		e->peer_seqs[from].commit = m.p_commit;
		e->peer_seqs[from].applied = m.p_applied;
	}
	/*
	 * An APPEND is followed by its RECORDS on the bulk lane; the next
	 * bulk message supersedes it. Control messages (heartbeats, answers)
	 * may come in between: they leave it pending.
	 */
	if (eng_msg_lane(m.type) == GR_LANE_BULK)
		e->pending[from] = false;
	if (m.type == GR_MSG_HEARTBEAT_RESP)
		eng_note_in_transit(e, from);
	/* a healing replica must not lead: a switchover to it fails */
	if (m.type == GR_MSG_TIMEOUT_NOW && (e->heal.active || e->diverged_orphan))
		return 0;
	/*
	 * While a resync is being copied the core already holds the resync
	 * point (not durable yet): a repeated RESYNC would make it
	 * acknowledge that point and an APPEND would append after it. Treat
	 * both as lost until the copy is installed. A RESYNC at a later point
	 * is the leader's log released past ours (a full log): the copy
	 * restarts there.
	 */
	if (e->rs_in.active && (m.type == GR_MSG_APPEND ||
				(m.type == GR_MSG_RESYNC && !resync_moved(e, from, &m))))
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
}

/* RECORDS: a resync's anchor, or the entries of the pending APPEND. */
static int on_records(struct engine *e, unsigned int from, const struct gr_frame *f,
		      uint64_t now)
{
	const struct georep_record *h;
	const uint8_t *payload;
	struct georep_rec rec;
	struct gr_msg m;
	size_t pos = 0;
	uint32_t i = 0;
	int ret;

	if (e->rs_in.active && e->rs_in.from == from && f->records.count == 1 &&
	    f->records.first_seq == e->rs_in.seq && !e->pending[from]) {
		gr_records_next(&f->records, &pos, &h, &payload);
		if (rec_decode(h, &rec) || rec.term != e->rs_in.term)
			return -EPROTO;
		return eng_resync_anchor(e, h, &rec);
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
		e->ents[i].kind = rec.op == GEOREP_OP_NOOP ? GR_ENTRY_NOOP : GR_ENTRY_DATA;
		e->ents[i].conf_op = 0;
		e->ents[i].conf_site = 0;
		i++;
	}
	m.entries = e->ents;
	gr_step(e->n, &m, now);
	e->recs_from = from;
	/*
	 * eng_send_msg() takes the stage sample when the answer goes, inside
	 * engine_process(): a frame that got none (refused, failed, the
	 * answer not sent) leaves no time behind for a later answer
	 */
	e->records_in_ns = m.n_entries ? now : 0;
	ret = engine_process(e, &f->records);
	e->records_in_ns = 0;
	/* a record the ledger refused: the peer's connection goes */
	return ret == -EPROTO ? -EPROTO : 0;
}

int eng_on_frame(struct gr_replica *r, unsigned int from, const struct gr_frame *f)
{
	struct engine *e = (struct engine *)r;

	if (e->drop[from]) {
		e->frames_dropped++;
		return 0;
	}
	if (e->failed)
		return 0;
	switch (f->hdr.type) {
	case GR_FT_CONSENSUS:
		return on_consensus(e, from, f, gr_now_ns());
	case GR_FT_RECORDS:
		return on_records(e, from, f, gr_now_ns());
	case GR_FT_RESYNC:
		return eng_resync_recv(e, from, f);
	case GR_FT_HEAL_REQ:
	case GR_FT_HEAL:
		return eng_heal_frame(e, from, f);
	case GR_FT_ACK:
		return 0;	/* acknowledgements travel as APPEND_RESP */
	case GR_FT_CKPT:
	case GR_FT_CKPT_RESP:
	case GR_FT_CKPT_FINAL:
		return eng_ckpt_frame(e, from, f);
	case GR_FT_KEY:
	case GR_FT_KEY_ACK:
		return eng_key_frame(e, from, f);
	case GR_FT_MLEAF_REQ:
	case GR_FT_MLEAF:
		return eng_mleaf_frame(e, from, f);
	case GR_FT_ROOT_REQ:
	case GR_FT_ROOT:
		return eng_root_frame(e, from, f);
	case GR_FT_NOTE_REQ:
	case GR_FT_NOTE:
		return eng_note_frame(e, from, f);
	case GR_FT_GENESIS_REQ:
		gd_genesis_answer(e->d, e->vol, from);
		return 0;
	case GR_FT_GENESIS:
		return 0;	/* an answer that came late: the replica exists */
	default:
		return -EPROTO;
	}
}
