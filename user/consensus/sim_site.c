// SPDX-License-Identifier: GPL-2.0
/*
 * Consensus simulator: a site: ready processing, crash and restart.
 */
#include "sim_internal.h"

/* ---- ready processing ------------------------------------------------- */

void schedule_fsync(struct sim *S, struct site *st)
{
	uint64_t us;

	if (st->fsync_pending || !st->nops)
		return;
	st->fsync_pending = true;
	st->fsync_cover = st->nops;
	us = rr(S, 50, S->disk_max_us);
	if (S->faults && S->stall_pm &&
	    (st->id == S->slow_site || chance(S, S->stall_pm))) {
		us = rr(S, 50, S->stall_max_ms) * 1000;
		trace(S, st, "fsync stalls %llu ms", (unsigned long long)(us / 1000));
	}
	push(S, S->now + us * 1000, EV_FSYNC, st->id - 1, NULL);
}

static void maybe_compact(struct sim *S, struct site *st)
{
	struct gr_status gs;
	uint64_t to;

	gr_status(st->node, &gs);
	if (gs.applied_seq < gs.snap_seq + 96)
		return;
	to = gs.applied_seq - 24;
	if (to > gs.durable_seq)
		return;
	if (gr_compact(st->node, to))
		return;
	st->snap_seq = to;
	st->snap_term = st->vol[to].term;
	st->snap_conf = *gr_conf_committed(st->node);
	st->conf_seq = gs.commit_seq;
	trace(S, st, "compact to %llu", (unsigned long long)to);
}

/* truncation and resync of a ready; true if the configuration may change */
static bool ready_trunc_resync(struct sim *S, struct site *st,
			       const struct gr_ready *rd)
{
	bool conf_touched = false;
	uint64_t q;

	if (rd->trunc_from) {
		conf_touched = true;
		trace(S, st, "truncate %llu..%llu (kept aside)",
		      (unsigned long long)rd->trunc_from,
		      (unsigned long long)rd->trunc_to);
		if (rd->trunc_from <= st->commit_seen)
			fail(S, "site%u truncates committed seq %llu",
			     st->id, (unsigned long long)rd->trunc_from);
		for (q = rd->trunc_from; q <= st->vol_len; q++)
			keep(st, &st->vol[q]);
		S->r->truncations++;
		if (rd->trunc_from <= st->vol_len) {
			struct dop op = { .type = OP_TRUNC,
					  .seq = rd->trunc_from - 1 };

			st->vol_len = rd->trunc_from - 1;
			op_push(st, &op);
		}
	}
	if (rd->resync) {
		struct dop op = { .type = OP_RESET, .seq = rd->resync_seq };

		trace(S, st, "resync from site%u to %llu/%llu",
		      rd->resync_from, (unsigned long long)rd->resync_seq,
		      (unsigned long long)rd->resync_term);
		if (rd->resync_seq > S->canon_len ||
		    S->canon[rd->resync_seq].term != rd->resync_term) {
			fail(S, "resync point %llu/%llu is not committed",
			     (unsigned long long)rd->resync_seq,
			     (unsigned long long)rd->resync_term);
		} else {
			S->r->resyncs++;
			memcpy(&st->vol[1], &S->canon[1],
			       rd->resync_seq * sizeof(struct sent));
			st->vol_len = rd->resync_seq;
			op.e.term = rd->resync_term;
			op.conf = *gr_conf_committed(st->node);
			/* the leader's committed configuration, at its commit */
			op.conf_seq = st->cur ? st->cur->m.commit : rd->resync_seq;
			st->conf_live = op.conf_seq;
			conf_touched = true;
			op_push(st, &op);
		}
	}
	return conf_touched;
}

/* the records a ready writes; true if one is a configuration entry */
static bool ready_appends(struct sim *S, struct site *st,
			  const struct gr_ready *rd)
{
	bool conf_touched = false;
	uint64_t q;

	if (rd->append_from) {
		for (q = rd->append_from; q <= rd->append_to; q++) {
			struct gr_entry ge;
			struct sent e;
			struct dop op = { .type = OP_APPEND, .seq = q };

			if (q != st->vol_len + 1 || q >= MAX_LOG) {
				fail(S, "site%u asked to append %llu after %llu",
				     st->id, (unsigned long long)q,
				     (unsigned long long)st->vol_len);
				break;
			}
			if (st->cur && st->cur->m.type == GR_MSG_APPEND &&
			    q > st->cur->m.seq &&
			    q <= st->cur->m.seq + st->cur->m.n_entries) {
				e = st->cur->se[q - st->cur->m.seq - 1];
			} else {
				gr_entry_get(st->node, q, &ge);
				memset(&e, 0, sizeof(e));
				e.term = ge.term;
				e.bytes = ge.bytes;
				e.kind = ge.kind;
				e.conf_op = ge.conf_op;
				e.conf_site = ge.conf_site;
				e.id = ge.kind == GR_ENTRY_DATA ?
				       st->prop_id[q] : 0;
			}
			st->vol[q] = e;
			st->vol_len = q;
			conf_touched |= e.kind == GR_ENTRY_CONF;
			op.e = e;
			op_push(st, &op);
		}
	}
	return conf_touched;
}

/* the messages of a ready; true if the site crashes half way through */
static bool ready_sends(struct sim *S, struct site *st,
			const struct gr_ready *rd, int cut)
{
	uint32_t i;

	for (i = 0; i < rd->n_msgs; i++) {
		const struct gr_msg *m = &rd->msgs[i];
		struct smsg sm;
		uint32_t k;

		if (cut == 2 && i == rd->n_msgs / 2)
			return true;
		memset(&sm, 0, sizeof(sm));
		sm.m = *m;
		if (m->type == GR_MSG_APPEND) {
			if (m->n_entries > 64 || m->seq + m->n_entries > st->vol_len) {
				fail(S, "site%u sends %llu+%u beyond its log %llu",
				     st->id, (unsigned long long)m->seq,
				     m->n_entries,
				     (unsigned long long)st->vol_len);
				continue;
			}
			if (m->seq + m->n_entries > st->sent_upto)
				st->sent_upto = m->seq + m->n_entries;
			for (k = 0; k < m->n_entries; k++) {
				const struct sent *e = &st->vol[m->seq + 1 + k];

				sm.se[k] = *e;
				sm.ge[k].term = e->term;
				sm.ge[k].bytes = e->bytes;
				sm.ge[k].kind = e->kind;
				sm.ge[k].conf_op = e->conf_op;
				sm.ge[k].conf_site = e->conf_site;
			}
		}
		check_reply(S, st, m);
		if (S->o.trace && m->type != GR_MSG_HEARTBEAT &&
		    m->type != GR_MSG_HEARTBEAT_RESP)
			trace(S, st, "send %s to site%u term %llu seq %llu/%llu n %u commit %llu%s",
			      mname(m->type), m->to,
			      (unsigned long long)m->term,
			      (unsigned long long)m->seq,
			      (unsigned long long)m->log_term, m->n_entries,
			      (unsigned long long)m->commit,
			      m->reject ? " reject" : "");
		net_send(S, st, &sm);
	}
	return false;
}

/* local rule: record what the leader acknowledged */
static void ready_acks(struct sim *S, struct site *st,
		       const struct gr_ready *rd)
{
	uint64_t q;

	for (q = S->acked_upto + 1; q <= rd->ack_seq && q <= st->vol_len; q++) {
		if (st->vol[q].kind != GR_ENTRY_DATA)
			continue;
		if (S->n_acked == S->acked_cap) {
			S->acked_cap = S->acked_cap ? S->acked_cap * 2 : 256;
			S->acked = realloc(S->acked, S->acked_cap * sizeof(*S->acked));
			if (!S->acked)
				abort();
		}
		S->acked[S->n_acked++] = st->vol[q];
	}
	if (rd->ack_seq > S->acked_upto)
		S->acked_upto = rd->ack_seq;
}

void process(struct sim *S, struct site *st)
{
	struct gr_ready *rd = gr_ready_get(st->node);
	int cut = -1;
	bool compact, conf_touched;
	uint32_t xfer = 0;

	/* before anything of this ready leaves: a vote request of the term */
	if ((rd->role == GR_CANDIDATE || rd->role == GR_LEADER) &&
	    rd->term < MAX_TERMS)
		S->campaigned[rd->term] = 1;
	if (S->faults && chance(S, S->crash_mid_pm))
		cut = (int)rr(S, 0, 2);
	if (cut == 0)
		goto crash;
	/* hard state first: written and fsynced before anything else */
	if (rd->hs_changed || rd->hs.commit != st->hs.commit)
		st->hs = rd->hs;

	conf_touched = ready_trunc_resync(S, st, rd);
	conf_touched |= ready_appends(S, st, rd);
	/* the caller's log must agree with the core's */
	{
		struct gr_status gs;

		gr_status(st->node, &gs);
		if (gs.last_seq != st->vol_len ||
		    (gs.last_seq > gs.snap_seq &&
		     gs.last_term != st->vol[st->vol_len].term))
			fail(S, "site%u core log end %llu/%llu != disk %llu",
			     st->id, (unsigned long long)gs.last_seq,
			     (unsigned long long)gs.last_term,
			     (unsigned long long)st->vol_len);
		xfer = gs.transfer_to;
	}
	if (conf_touched && S->o.membership)
		check_conf_log(S, st);
	schedule_fsync(S, st);
	if (cut == 1)
		goto crash;
	if (ready_sends(S, st, rd, cut))
		goto crash;
	if (rd->role_changed) {
		trace(S, st, "role %s term %llu leader %u", rname(rd->role),
		      (unsigned long long)rd->term, rd->leader);
		check_disruption(S, st, rd);
		st->role = rd->role;
		st->term = rd->term;
		check_leader(S, st);
	}
	if (rd->writable_changed) {
		trace(S, st, "%s writes (term %llu)",
		      rd->writable ? "ACCEPTS" : "stops", (unsigned long long)st->term);
		st->writable = rd->writable;
	}
	st->xfer = xfer;	/* for the disruption check of the next ready */
	if (rd->commit_changed) {
		check_commit(S, st, rd->commit_seq);
		gr_applied(st->node, rd->commit_seq);
	}
	if (rd->ack_changed && S->rule == GR_RULE_LOCAL && st->role == GR_LEADER)
		ready_acks(S, st, rd);
	compact = rd->commit_changed;
	gr_ready_done(st->node);
	if (compact)
		maybe_compact(S, st);
	check_flow(S, st);
	return;
crash:
	gr_ready_done(st->node);
	trace(S, st, "crash in the middle of a ready (stage %d)", cut);
	crash(S, st);
}

/* ---- site lifecycle --------------------------------------------------- */

void crash(struct sim *S, struct site *st)
{
	uint64_t sent = st->sent_upto < st->vol_len ? st->sent_upto : st->vol_len;
	uint32_t k, i;

	if (!st->up)
		return;
	k = (uint32_t)rr(S, 0, st->nops);	/* what reached the platter */
	trace(S, st, "CRASH (%u of %u unsynced writes survive)", k, st->nops);
	for (i = 0; i < k; i++)
		op_apply(S, st, &st->ops[i]);
	/* entries it shipped that its disk never had */
	if (sent > st->dur_len) {
		trace(S, st, "lost %llu entries it had sent",
		      (unsigned long long)(sent - st->dur_len));
		S->r->shipped_lost_crashes++;
		S->r->shipped_lost += sent - st->dur_len;
	}
	st->sent_upto = 0;
	st->nops = 0;
	st->fsync_pending = false;
	st->up = false;
	st->epoch++;
	st->writable = false;
	st->role = GR_FOLLOWER;
	gr_node_free(st->node);
	st->node = NULL;
	S->r->crashes++;
	check_durable_quorum(S);
}

void restart(struct sim *S, struct site *st)
{
	struct gr_persisted ps;
	struct gr_entry *ents;
	uint64_t q, n;

	if (st->up)
		return;
	n = st->dur_len > st->snap_seq ? st->dur_len - st->snap_seq : 0;
	ents = calloc(n + 1, sizeof(*ents));
	if (!ents)
		abort();
	for (q = 0; q < n; q++) {
		const struct sent *e = &st->dur[st->snap_seq + 1 + q];

		ents[q].term = e->term;
		ents[q].bytes = e->bytes;
		ents[q].kind = e->kind;
		ents[q].conf_op = e->conf_op;
		ents[q].conf_site = e->conf_site;
	}
	memset(&ps, 0, sizeof(ps));
	ps.hs = st->hs;
	ps.snap_seq = st->snap_seq;
	ps.snap_term = st->snap_term;
	ps.have_conf = st->snap_seq > 0;
	ps.conf = st->snap_conf;
	ps.n_entries = n;
	ps.entries = ents;
	S->cfg.self = st->id;
	S->cfg.seed = S->o.seed * 131 + st->id * 7 + st->epoch;
	st->node = gr_node_new(&S->cfg, &ps, local_ns(S, st));
	free(ents);
	if (!st->node) {
		fail(S, "site%u cannot restart", st->id);
		return;
	}
	memcpy(st->vol, st->dur, (st->dur_len + 1) * sizeof(struct sent));
	st->vol_len = st->dur_len;
	st->up = true;
	st->role = GR_FOLLOWER;
	st->term = st->hs.term;
	st->commit_seen = 0;
	{
		struct gr_status gs;

		gr_status(st->node, &gs);
		st->commit_seen = st->snap_seq;
		check_commit(S, st, gs.commit_seq);
		trace(S, st, "RESTART term %llu vote %u log %llu commit %llu",
		      (unsigned long long)gs.term, gs.vote,
		      (unsigned long long)gs.last_seq,
		      (unsigned long long)gs.commit_seq);
	}
	st->xfer = 0;
	st->conf_live = st->conf_seq;
	if (S->o.membership)
		check_conf_log(S, st);
	st->tickno = (local_ns(S, st) - st->phase) / TICK_NS + 1;
	push(S, tick_real(st, st->tickno), EV_TICK, st->id - 1, NULL);
}
