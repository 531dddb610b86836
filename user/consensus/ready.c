// SPDX-License-Identifier: GPL-2.0
/*
 * georep consensus core: outputs and queries.
 */
#include "core.h"

/* ---- outputs and queries --------------------------------------------- */

struct gr_ready *gr_ready_get(struct gr_node *n)
{
	struct gr_ready *rd = &n->rd;

	if (n->need_bcast && n->role == GR_LEADER)
		gr_bcast_append(n);
	rd->hs.term = n->term;
	rd->hs.vote = n->vote;
	rd->hs.commit = n->commit < n->durable ? n->commit : n->durable;
#ifdef GR_BROKEN_VOTE_UNSAVED
	if (rd->hs.term != n->hs_saved.term)
#else
	if (rd->hs.term != n->hs_saved.term || rd->hs.vote != n->hs_saved.vote)
#endif
		rd->hs_changed = true;
	if (n->role != n->rd_role || n->term != n->rd_term ||
	    n->leader != n->rd_leader) {
		rd->role_changed = true;
		n->rd_role = n->role;
		n->rd_term = n->term;
		n->rd_leader = n->leader;
	}
	rd->role = n->role;
	rd->term = n->term;
	rd->leader = n->leader;
	rd->writable = n->writable;
	rd->commit_seq = n->commit;
	rd->ack_seq = n->ack;
	return rd;
}

void gr_ready_done(struct gr_node *n)
{
	n->hs_saved = n->rd.hs;
	memset(&n->rd, 0, offsetof(struct gr_ready, msgs));
}

void gr_status(const struct gr_node *n, struct gr_status *st)
{
	memset(st, 0, sizeof(*st));
	st->role = n->role;
	st->term = n->term;
	st->vote = n->vote;
	st->leader = n->leader;
	st->last_seq = n->last;
	st->last_term = last_term(n);
	st->durable_seq = n->durable;
	st->commit_seq = n->commit;
	st->applied_seq = n->applied;
	st->snap_seq = n->snap_seq;
	st->uncommitted_bytes = n->uncommitted_bytes;
	st->writable = n->writable;
	st->lease_until_ns = n->lease_until;
	st->transfer_to = n->transfer_to;
}

const struct gr_conf *gr_conf_active(const struct gr_node *n)
{
	return &n->conf;
}

const struct gr_conf *gr_conf_committed(const struct gr_node *n)
{
	return &n->conf_base;
}

int gr_entry_get(const struct gr_node *n, uint64_t seq, struct gr_entry *e)
{
	if (seq == 0) {
		memset(e, 0, sizeof(*e));
		return 0;
	}
	if (seq <= n->snap_seq || seq > n->last)
		return -ENOENT;
	*e = *ent(n, seq);
	return 0;
}

int gr_progress(const struct gr_node *n, uint32_t site,
		struct gr_progress_info *pi)
{
	uint32_t i;

	for (i = 0; i < n->n_pr; i++) {
		const struct progress *p = &n->pr[i];

		if (p->site != site)
			continue;
		pi->site = site;
		pi->voter = p->voter;
		pi->state = p->state;
		pi->match = site == n->self ? n->durable : p->match;
		pi->next = p->next;
		pi->inflight_msgs = p->infl_count;
		pi->inflight_bytes = p->infl_bytes;
		pi->inflight_records = p->infl_records;
		return 0;
	}
	return -ENOENT;
}

int gr_set_in_transit(struct gr_node *n, uint32_t site, bool busy)
{
	uint32_t i;

	for (i = 0; i < n->n_pr; i++) {
		if (n->pr[i].site == site) {
			n->pr[i].in_transit = busy;
			return 0;
		}
	}
	return -ENOENT;
}
