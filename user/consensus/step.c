// SPDX-License-Identifier: GPL-2.0
/*
 * georep consensus core: inputs: messages, ticks, proposals, persistence, compaction.
 */
#include "core.h"

/* ---- inputs ---------------------------------------------------------- */

int gr_step(struct gr_node *n, const struct gr_msg *m, uint64_t now_ns)
{
	if (now_ns > n->now)
		n->now = now_ns;
	if (m->to != n->self || m->from == n->self)
		return -EINVAL;
	if (m->type == GR_MSG_APPEND) {
		uint64_t t = m->log_term;
		uint32_t i;

		if (m->n_entries && !m->entries)
			return -EINVAL;
		/* terms never decrease along a log nor exceed the sender's */
		for (i = 0; i < m->n_entries; i++) {
			if (m->entries[i].term < t ||
			    m->entries[i].term > m->term)
				return -EINVAL;
			t = m->entries[i].term;
		}
	}

	if (m->type == GR_MSG_PREVOTE || m->type == GR_MSG_VOTE) {
		gr_on_vote_req(n, m);
		goto out;
	}
	if (m->type == GR_MSG_PREVOTE_RESP) {
		/* a grant carries the proposed term, never a real one: a
		 * late grant must not raise the term; a rejection carries
		 * the voter's own term */
		if (n->role == GR_PRECANDIDATE && m->term == n->term + 1 &&
		    !m->reject)
			gr_on_vote_resp(n, m);
#ifdef GR_BROKEN_STALE_PREVOTE_TERM
		else if (m->term > n->term)
#else
		else if (m->reject && m->term > n->term)
#endif
			gr_become_follower(n, m->term, 0);
		else if (n->role == GR_PRECANDIDATE && m->reject)
			gr_on_vote_resp(n, m);
		goto out;
	}
	if (m->term > n->term) {
		bool from_leader = m->type == GR_MSG_APPEND ||
				   m->type == GR_MSG_HEARTBEAT ||
				   m->type == GR_MSG_RESYNC ||
				   m->type == GR_MSG_TIMEOUT_NOW;

		gr_become_follower(n, m->term, from_leader ? m->from : 0);
	} else if (m->term < n->term) {
		/* tell a stale leader (rejoining after a partition) */
		if (m->type == GR_MSG_APPEND || m->type == GR_MSG_HEARTBEAT) {
			struct gr_msg *r = msg_new(n, GR_MSG_APPEND_RESP,
						   m->from);

			if (r)
				r->reject = true;
		}
		goto out;
	}

	switch (m->type) {
	case GR_MSG_VOTE_RESP:
		if (n->role == GR_CANDIDATE)
			gr_on_vote_resp(n, m);
		break;
	case GR_MSG_APPEND:
		if (n->role != GR_LEADER)
			gr_on_append(n, m);
		break;
	case GR_MSG_HEARTBEAT:
		if (n->role != GR_LEADER)
			gr_on_heartbeat(n, m);
		break;
	case GR_MSG_RESYNC:
		if (n->role != GR_LEADER)
			gr_on_resync(n, m);
		break;
	case GR_MSG_APPEND_RESP:
	case GR_MSG_HEARTBEAT_RESP:
		if (n->role == GR_LEADER)
			gr_leader_on_resp(n, m);
		break;
	case GR_MSG_TIMEOUT_NOW:
		if (n->role != GR_LEADER) {
			gr_heard_leader(n, m->from);
			gr_campaign(n, true);
		}
		break;
	default:
		return -EINVAL;
	}
out:
	set_writable(n);
	return 0;
}

/* step down once a majority has been silent for an election timeout */
static void check_quorum(struct gr_node *n)
{
	uint32_t i, act = 0;

	for (i = 0; i < n->n_pr; i++) {
		struct progress *p = &n->pr[i];

		if (p->active || p->site == n->self) {
			p->active = false;
			p->active_tick = n->ticks;
		}
		if (p->voter && n->ticks - p->active_tick < n->cfg.election_ticks)
			act++;
	}
	if (act < quorum(n))
		gr_become_follower(n, n->term, 0);
}

void gr_tick(struct gr_node *n, uint64_t now_ns)
{
	if (now_ns > n->now)
		n->now = now_ns;
	n->ticks++;
	if (n->role == GR_LEADER) {
		gr_update_lease(n);
		if (++n->heartbeat_elapsed >= n->cfg.heartbeat_ticks) {
			n->heartbeat_elapsed = 0;
			gr_bcast_heartbeat(n);
		}
		if (n->transfer_to &&
		    ++n->transfer_elapsed >= n->cfg.election_ticks) {
			/* transfer failed; after TIMEOUT_NOW the target may
			 * have won with forced votes: never write again in
			 * this term */
			if (n->timeout_now_sent) {
				gr_become_follower(n, n->term, 0);
				goto out;
			}
			n->transfer_to = 0;
		}
		if (n->cfg.check_quorum)
			check_quorum(n);
		if (n->need_bcast && n->role == GR_LEADER)
			gr_bcast_append(n);
	} else if (++n->election_elapsed >= n->rand_timeout) {
		gr_campaign(n, false);
	}
out:
	set_writable(n);
}

int64_t gr_propose(struct gr_node *n, uint32_t bytes, uint64_t now_ns)
{
	struct gr_entry e = { .term = n->term, .bytes = bytes,
			      .kind = GR_ENTRY_DATA };

	if (now_ns > n->now)
		n->now = now_ns;
	if (n->role != GR_LEADER)
		return -GR_ENOTLEADER;
	gr_update_lease(n);
	set_writable(n);
	if (!n->writable)
		return -EAGAIN;
	if (n->uncommitted_bytes &&
	    n->uncommitted_bytes + bytes > n->cfg.max_uncommitted_bytes)
		return -EAGAIN;
	if (gr_log_full(n))
		return -ENOSPC;
	gr_log_append(n, &e);
	rd_append(n, n->last, n->last);
	n->need_bcast = true;
	return (int64_t)n->last;
}

void gr_persisted(struct gr_node *n, uint64_t seq, uint64_t term)
{
	uint64_t t;

#ifdef GR_BROKEN_PERSIST_ANY_TERM
	(void)t;
	if (seq > n->last || seq <= n->durable)
		return;
#else
	if (!term_at(n, seq, &t) || t != term || seq <= n->durable)
		return;
#endif
	n->durable = seq;
	if (n->role == GR_LEADER) {
		struct progress *p = pr_get(n, n->self);

		if (p)
			p->match = seq;
		gr_maybe_commit(n);
		gr_set_ack(n);
		if (n->transfer_to) {
			struct progress *tp = pr_get(n, n->transfer_to);

			if (tp && tp->match == n->last && !n->timeout_now_sent)
				gr_send_timeout_now(n, tp);
		}
	} else if (n->role == GR_FOLLOWER && n->leader) {
		gr_send_append_resp(n, n->leader_ctx);
	}
}

void gr_applied(struct gr_node *n, uint64_t seq)
{
	if (seq > n->commit)
		seq = n->commit;
	if (seq > n->applied)
		n->applied = seq;
}

int gr_compact(struct gr_node *n, uint64_t seq)
{
	uint64_t t;

	if (seq <= n->snap_seq)
		return 0;
	if (seq > n->applied || seq > n->durable)
		return -EINVAL;
	if (!term_at(n, seq, &t))
		return -EINVAL;
	n->snap_seq = seq;
	n->snap_term = t;
	return 0;
}
