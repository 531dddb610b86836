// SPDX-License-Identifier: GPL-2.0
/*
 * georep consensus core: follower: appends, heartbeats and resyncs from the leader.
 */
#include "core.h"

/* ---- follower -------------------------------------------------------- */

void gr_send_append_resp(struct gr_node *n, uint64_t ctx)
{
	uint64_t match = n->verified < n->durable ? n->verified : n->durable;
	struct gr_msg *m;

	if (!n->leader || n->leader == n->self || !match)
		return;
	m = msg_new(n, GR_MSG_APPEND_RESP, n->leader);
	if (!m)
		return;
	m->seq = match;
	m->ctx = ctx;
}

void gr_heard_leader(struct gr_node *n, uint32_t from)
{
	if (n->role != GR_FOLLOWER || n->leader != from)
		gr_become_follower(n, n->term, from);
	n->last_heard = n->now;
	n->election_elapsed = 0;
}

void gr_leader_alive(struct gr_node *n, uint32_t leader, uint64_t now_ns)
{
	if (now_ns > n->now)
		n->now = now_ns;
	if (n->role == GR_FOLLOWER && leader && n->leader == leader) {
		n->last_heard = n->now;
		n->election_elapsed = 0;
	}
}

void gr_on_append(struct gr_node *n, const struct gr_msg *m)
{
	uint64_t prev = m->seq, prev_term = m->log_term, t, s;
	uint32_t skip = 0, i;
	struct gr_msg *r;

	gr_heard_leader(n, m->from);
	if (prev < n->snap_seq) {
		/* the head is compacted here, hence committed: skip it */
		skip = (uint32_t)(n->snap_seq - prev);
		if (skip > m->n_entries) {
			skip = m->n_entries;
		}
		if (skip) {
			prev += skip;
			prev_term = m->entries[skip - 1].term;
		}
		if (prev < n->snap_seq) {
			gr_send_append_resp(n, m->ctx);
			return;
		}
	}
	if (!term_at(n, prev, &t) || t != prev_term) {
		uint64_t h = prev < n->last ? prev : n->last, ht = 0;

		while (h > n->snap_seq && term_at(n, h, &ht) && ht > prev_term)
			h--;
		term_at(n, h, &ht);
		r = msg_new(n, GR_MSG_APPEND_RESP, m->from);
		if (!r)
			return;
		r->reject = true;
		r->seq = m->seq;
		r->hint_seq = h;
		r->hint_term = ht;
		r->ctx = m->ctx;
		return;
	}
	s = prev;
	for (i = skip; i < m->n_entries; i++) {
		const struct gr_entry *e = &m->entries[i];

		s++;
		if (s <= n->last) {
			if (term_at(n, s, &t) && t == e->term)
				continue;
			if (s <= n->commit)
				return;	/* impossible: committed entry differs */
			gr_log_truncate(n, s);
		}
		if (gr_log_full(n)) {
			s--;
			break;
		}
		gr_log_append(n, e);
		rd_append(n, s, s);
	}
	if (s > n->verified)
		n->verified = s;
	gr_commit_to(n, m->commit < s ? m->commit : s);
	/* a success reply promises durability: defer until persisted */
	n->leader_ctx = m->ctx;
	if (n->durable >= s)
		gr_send_append_resp(n, m->ctx);
}

void gr_on_heartbeat(struct gr_node *n, const struct gr_msg *m)
{
	struct gr_msg *r;
#ifdef GR_BROKEN_PROMISE_APPEND_ONLY
	uint64_t heard = n->last_heard;

	gr_heard_leader(n, m->from);
	n->last_heard = heard;
#else

	gr_heard_leader(n, m->from);
#endif
	/* m->commit <= our match at the leader, which we acked durable and
	 * which no leader of this term truncates: safe even after a restart */
	gr_commit_to(n, m->commit < n->last ? m->commit : n->last);
	r = msg_new(n, GR_MSG_HEARTBEAT_RESP, m->from);
	if (r)
		r->ctx = m->ctx;
}

void gr_on_resync(struct gr_node *n, const struct gr_msg *m)
{
	uint64_t t;

	gr_heard_leader(n, m->from);
	if (term_at(n, m->seq, &t) && t == m->log_term) {
		/* we hold the resync point: it is committed, carry on */
		if (m->seq > n->verified)
			n->verified = m->seq;
		gr_commit_to(n, m->seq);
		n->leader_ctx = m->ctx;
		gr_send_append_resp(n, m->ctx);
		return;
	}
	if (m->seq <= n->commit)
		return;		/* stale */
	/* replace the whole log by the leader's state at m->seq */
	gr_log_truncate(n, n->commit + 1);
	n->rd.append_from = n->rd.append_to = 0;
	n->rd.resync = true;
	n->rd.resync_from = m->from;
	n->rd.resync_seq = m->seq;
	n->rd.resync_term = m->log_term;
	n->snap_seq = m->seq;
	n->snap_term = m->log_term;
	n->last = m->seq;
	n->verified = m->seq;
	n->n_hist = 0;
	n->conf_base = m->conf;
	gr_conf_recompute(n);
	n->leader_ctx = m->ctx;
	gr_commit_to(n, m->seq);
	n->applied = n->applied < n->commit ? n->applied : n->commit;
}
